// Finding how to reach the customer in one message: emails, phone numbers (international and national
// forms, found and validated with Google's libphonenumber, whose metadata is compiled in: no file is
// read), and labelled identifiers (微信 abc_123, "WeChat: liveops88", 订单号 HX2026, "account #LS-55021").
// Each is kept as written, without its label. Pure code; thread-safe (libphonenumber's PhoneNumberUtil is
// a process-wide immutable singleton).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dialogs/text.h"
#include "dialogs/understanding.h"

namespace rd {

// A byte range [first, second) of the normalized text an identifier (with its label) took up: the
// understanding masks these before looking for evidence and problems ("my wechat is x" is no chat log).
using Span = std::pair<size_t, size_t>;

// `original` is the message as sent, `normalized` its NormalizeForParsing form (`filter` built on it).
// `phone_region` is the
// ISO 3166 code national numbers are read in ("CN", "US"). `contact_pending`: the bot just asked for a
// contact, so a bare identifier or digit run is one. Returns the identifiers in the order found (at most
// a few per message) and appends the spans they took to `spans`.
std::vector<ContactId> FindContacts(std::string_view original, std::string_view normalized,
                                    const SubstringFilter& filter, const Vocabulary& vocab, std::string_view phone_region,
                                    bool contact_pending, std::vector<Span>* spans);

}  // namespace rd
