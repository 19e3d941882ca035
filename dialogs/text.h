// Text utilities shared by the language-understanding code. Pure functions, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rd {

enum class Lang { kZh, kEn };

std::string_view LangCode(Lang lang);        // "zh" | "en"
bool ParseLang(std::string_view code, Lang* out);

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view s);
// The longest prefix of `s` of at most `max_bytes` that does not cut a UTF-8 sequence.
std::string_view Utf8Prefix(std::string_view s, size_t max_bytes);

// The form every parser works on: Unicode NFKC (full-width digits and punctuation become ASCII),
// case-folded, ideographic punctuation mapped to ASCII, runs of white space collapsed to one space.
// Requires valid UTF-8; the customer's original text is kept separately for the ticket.
std::string NormalizeForParsing(std::string_view text);

// The language a message is written in, or `fallback` when it does not say (a bare date, "ok", "2").
// Any Han character means Chinese; two or more Latin words and no Han mean English.
Lang DetectLanguage(std::string_view normalized_text, Lang fallback);

// The conversation's language after one more message, with hysteresis. The language most of the
// message is written in wins (a Han character counts half a word: Chinese words are about two
// characters; addresses, figures and names like "tw_stream" count nothing); a tie, or a message that
// says too little to switch (a date, "ok", one word of the other language), keeps `current`. So "we paid on 2026-10-01 for the 直播 line" stays English and
// "延迟很高 ping 400ms" stays Chinese. An explicit request to switch is the engine's business (an intent).
Lang ConversationLanguage(std::string_view normalized_text, Lang current);

// True when a Han ideograph (U+3400–U+9FFF) starts at byte `i` of UTF-8 text.
bool IsHanAt(std::string_view s, size_t i);

// True for an ASCII letter or digit; used to find word boundaries in normalized text.
inline bool IsAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Finds `word` in `text` at a word boundary when `word` starts/ends with an ASCII letter (so "no" does
// not match "not" or "know"); Chinese words match anywhere. A trailing '*' makes `word` a stem that any
// word continues ("activat*": "activated", "activation"). Returns npos when absent.
size_t FindWord(std::string_view text, std::string_view word, size_t from = 0);

// Rules words out of a search in one text before the search. MayContain(w) is false only when `w` does
// not occur in the text (never a wrong "no"); for a word that does not occur it is rarely true, unless
// the text is long. Also right for any part of the text. The understanding looks for hundreds of
// vocabulary words in each short message: the text's bytes alone let most English words through (a
// sentence has most letters), its byte pairs rule out nearly all of them. One pass over the text.
class SubstringFilter {
 public:
  explicit SubstringFilter(std::string_view text);
  bool MayContain(std::string_view word) const;

 private:
  static size_t PairBit(unsigned char a, unsigned char b) { return (a * 251u + b) & 1023u; }
  uint64_t bytes_[4] = {};            // bit c: byte c occurs
  uint64_t pairs_[16] = {};           // bit PairBit(a, b): the bytes a b occur next to each other
};

std::string Trim(std::string_view s);

// `token` was found in the case-folded text; returns it as the customer wrote it when `original` holds
// it (ASCII case-insensitively): "LL-88123" and "Manila" keep their capitals on the ticket.
std::string AsWritten(std::string_view original, std::string_view token);

}  // namespace rd
