#include "dialogs/contacts.h"

#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumbermatch.h>
#include <phonenumbers/phonenumbermatcher.h>
#include <phonenumbers/phonenumberutil.h>

#include <algorithm>

#include "dialogs/text.h"

namespace rd {

namespace {

using i18n::phonenumbers::PhoneNumberMatch;
using i18n::phonenumbers::PhoneNumberMatcher;
using i18n::phonenumbers::PhoneNumberUtil;

constexpr size_t kMaxContacts = 4;        // a message names a few ways to reach someone, not hundreds
constexpr size_t kMaxLabelHits = 8;       // occurrences of one label looked at per message
constexpr size_t kMaxPhoneAttempts = 32;  // candidates libphonenumber tries per message

bool Overlaps(const std::vector<Span>& spans, size_t b, size_t e) {
  for (const auto& [sb, se] : spans) if (b < se && sb < e) return true;
  return false;
}

bool HandleChar(char c) { return IsAsciiAlnum(c) || c == '-' || c == '_' || c == '.'; }
bool PhoneChar(char c) { return (c >= '0' && c <= '9') || c == ' ' || c == '-' || c == '(' || c == ')' || c == '.' || c == '+'; }
size_t DigitCount(std::string_view t) { return std::count_if(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }); }

std::optional<Span> FindEmailSpan(std::string_view s, size_t from) {
  for (size_t at = s.find('@', from); at != std::string_view::npos; at = s.find('@', at + 1)) {
    auto local_char = [](char c) { return IsAsciiAlnum(c) || c == '.' || c == '_' || c == '-' || c == '+'; };
    size_t b = at;
    while (b > 0 && local_char(s[b - 1])) --b;
    size_t e = at + 1;
    while (e < s.size() && (IsAsciiAlnum(s[e]) || s[e] == '.' || s[e] == '-')) ++e;
    while (e > at + 1 && s[e - 1] == '.') --e;
    std::string_view domain = s.substr(at + 1, e - at - 1);
    if (b == at || domain.find('.') == std::string_view::npos || domain.front() == '.') continue;
    return Span{b, e};
  }
  return std::nullopt;
}

// Past the label: punctuation, spaces and linking words ("number", "is", "号", "是", "id:").
size_t SkipLinks(std::string_view s, size_t q, const std::vector<std::string>& links, bool* colon) {
  for (bool moved = true; moved;) {
    moved = false;
    while (q < s.size() && !IsAsciiAlnum(s[q]) && s[q] != '+' && s[q] != '(' && static_cast<unsigned char>(s[q]) < 0x80) {
      if (s[q] == ':' || s[q] == '#') *colon = true;
      if (s[q] == '+' || s[q] == '(') break;
      ++q; moved = true;
    }
    for (const auto& link : links) {
      if (s.compare(q, link.size(), link) == 0 &&
          (q + link.size() >= s.size() || !IsAsciiAlnum(link.back()) || !IsAsciiAlnum(s[q + link.size()]))) {
        q += link.size(); moved = true; break;
      }
    }
  }
  return q;
}

// The phone-number run at `q` ("+86 138 0013 8000", "(415) 555-0100"), trimmed; empty with < 7 digits.
Span PhoneRunAt(std::string_view s, size_t q) {
  size_t e = q;
  while (e < s.size() && PhoneChar(s[e])) ++e;
  while (e > q && (s[e - 1] == ' ' || s[e - 1] == '-' || s[e - 1] == '.' || s[e - 1] == '(')) --e;
  if (DigitCount(s.substr(q, e - q)) < 7 || DigitCount(s.substr(q, e - q)) > 15) return {q, q};
  return {q, e};
}

// The identifier after a label of `kind` at `p` (the label `len` bytes long), or an empty span.
Span IdentifierAfter(std::string_view s, size_t p, size_t len, const std::string& kind,
                     const std::vector<std::string>& links) {
  bool colon = false;
  size_t q = SkipLinks(s, p + len, links, &colon);
  if (kind == "phone") return PhoneRunAt(s, q);
  // A messenger reached by phone number: "whatsapp +34 612 345 678", "微信 13988886666".
  if (q < s.size() && (s[q] == '+' || s[q] == '(')) return PhoneRunAt(s, q);
  if (Span run = PhoneRunAt(s, q); run.second > q && DigitCount(s.substr(q, run.second - q)) >= 10) return run;
  size_t e = q;
  while (e < s.size() && HandleChar(s[e])) ++e;
  while (e > q && s[e - 1] == '.') --e;
  std::string_view token = s.substr(q, e - q);
  bool marked = std::any_of(token.begin(), token.end(), [](char c) { return !IsAsciiAlnum(c) || (c >= '0' && c <= '9'); });
  // "the line is down": a bare word after a label is only an identifier after "label:".
  if (token.size() < 3 || token.size() > 64 || (!marked && !colon)) return {q, q};
  return {q, e};
}

void AddLabelled(std::string_view original, std::string_view s, const SubstringFilter& filter, const Vocabulary& vocab,
                 std::vector<ContactId>* out, std::vector<Span>* spans) {
  static const std::vector<std::string> kNoLinks;
  auto links_it = vocab.contact_labels.find("_links");
  const auto& links = links_it == vocab.contact_labels.end() ? kNoLinks : links_it->second;
  struct Hit { size_t label, begin, end; std::string kind; };
  std::vector<Hit> hits;
  for (const auto& [kind, labels] : vocab.contact_labels) {
    if (kind == "_links" || kind == "email") continue;
    for (const auto& label : labels) {
      if (!filter.MayContain(label)) continue;
      size_t n = 0;
      for (size_t p = FindWord(s, label); p != std::string_view::npos && n < kMaxLabelHits; p = FindWord(s, label, p + 1), ++n) {
        Span id = IdentifierAfter(s, p, label.size(), kind, links);
        if (id.first < id.second) hits.push_back({p, id.first, id.second, kind});
      }
    }
  }
  // The nearest label wins an identifier ("微信号" over "号"); identifiers in the order written.
  std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.label > b.label;
  });
  for (const Hit& h : hits) {
    if (out->size() >= kMaxContacts || Overlaps(*spans, h.begin, h.end)) continue;
    out->push_back({h.kind, AsWritten(original, s.substr(h.begin, h.end - h.begin))});
    spans->push_back({std::min(h.label, h.begin), h.end});
  }
}

// "my email is kim@example.com", "邮箱 a@b.cn": the label goes with the address, so it names no evidence.
void MaskEmailLabels(std::string_view s, const SubstringFilter& filter, const Vocabulary& vocab, std::vector<Span>* spans) {
  auto labels = vocab.contact_labels.find("email");
  auto links = vocab.contact_labels.find("_links");
  if (labels == vocab.contact_labels.end() || spans->empty()) return;
  static const std::vector<std::string> kNoLinks;
  const size_t emails = spans->size();
  std::vector<size_t> starts;  // where each address itself starts: a label extends only its own address
  for (size_t i = 0; i < emails; ++i) starts.push_back((*spans)[i].first);
  for (const auto& label : labels->second) {
    if (!filter.MayContain(label)) continue;
    size_t n = 0;
    for (size_t p = FindWord(s, label); p != std::string_view::npos && n < kMaxLabelHits; p = FindWord(s, label, p + 1), ++n) {
      bool colon = false;
      size_t q = SkipLinks(s, p + label.size(), links == vocab.contact_labels.end() ? kNoLinks : links->second, &colon);
      for (size_t i = 0; i < emails; ++i) {
        if (starts[i] == q) (*spans)[i].first = std::min((*spans)[i].first, p);
      }
    }
  }
}

// Phone numbers libphonenumber finds in the text outside the spans already taken: valid numbers
// anywhere, merely possible ones when the customer was asked for a contact.
void AddPhones(std::string_view original, std::string_view s, std::string_view region, bool lenient,
               std::vector<ContactId>* out, std::vector<Span>* spans) {
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  const std::string text(s);
  PhoneNumberMatcher matcher(util, text, std::string(region),
                             lenient ? PhoneNumberMatcher::POSSIBLE : PhoneNumberMatcher::VALID, kMaxPhoneAttempts);
  PhoneNumberMatch match;
  size_t from = 0;
  while (out->size() < kMaxContacts && matcher.HasNext() && matcher.Next(&match)) {
    const std::string& raw = match.raw_string();
    size_t b = s.find(raw, from);
    if (b == std::string_view::npos) continue;
    from = b + raw.size();
    if (Overlaps(*spans, b, from)) continue;
    out->push_back({"phone", AsWritten(original, raw)});
    spans->push_back({b, from});
  }
}

// The whole answer, when the bot asked for a contact: "zhao_ops", "ORD-2026-88812", "07700 900123".
void AddBare(std::string_view original, std::string_view s, std::vector<ContactId>* out, std::vector<Span>* spans) {
  std::string core = Trim(s);
  while (!core.empty() && (core.back() == '.' || core.back() == '!')) core.pop_back();
  if (core.empty() || core.size() > 64) return;
  size_t at = s.find(core);
  if (std::all_of(core.begin(), core.end(), PhoneChar) && PhoneRunAt(core, 0).second == core.size()) {
    out->push_back({"phone", AsWritten(original, core)});
  } else if (std::all_of(core.begin(), core.end(), HandleChar) && core.size() >= 3 &&
             std::any_of(core.begin(), core.end(), [](char c) { return !IsAsciiAlnum(c) || (c >= '0' && c <= '9'); })) {
    out->push_back({"account", AsWritten(original, core)});
  } else {
    return;
  }
  spans->push_back({at, at + core.size()});
}

}  // namespace

std::vector<ContactId> FindContacts(std::string_view original, std::string_view s, const SubstringFilter& filter,
                                    const Vocabulary& vocab,
                                    std::string_view phone_region, bool contact_pending, std::vector<Span>* spans) {
  std::vector<ContactId> out;
  for (size_t from = 0; out.size() < kMaxContacts;) {
    auto email = FindEmailSpan(s, from);
    if (!email) break;
    out.push_back({"email", AsWritten(original, s.substr(email->first, email->second - email->first))});
    spans->push_back(*email);
    from = email->second;
  }
  MaskEmailLabels(s, filter, vocab, spans);
  AddLabelled(original, s, filter, vocab, &out, spans);
  if (!phone_region.empty()) AddPhones(original, s, phone_region, false, &out, spans);
  if (out.empty() && contact_pending) {
    if (!phone_region.empty()) AddPhones(original, s, phone_region, true, &out, spans);
    if (out.empty()) AddBare(original, s, &out, spans);
  }
  return out;
}

}  // namespace rd
