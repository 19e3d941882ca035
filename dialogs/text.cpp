#include "dialogs/text.h"

#include <utf8proc.h>

#include <cstdint>
#include <cstdlib>
#include <unordered_map>

namespace rd {

std::string_view LangCode(Lang lang) { return lang == Lang::kZh ? "zh" : "en"; }

bool ParseLang(std::string_view code, Lang* out) {
  if (code == "zh") { *out = Lang::kZh; return true; }
  if (code == "en") { *out = Lang::kEn; return true; }
  return false;
}

std::string_view Utf8Prefix(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // s[n] continues a sequence
  return s.substr(0, n);
}

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(s.size());
  while (left > 0) {
    if (*p < 0x80) { ++p; --left; continue; }  // fast path for ASCII
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) return false;
    p += n;
    left -= n;
  }
  return true;
}

namespace {

// Ideographic punctuation that NFKC keeps as is but that separates clauses just like its ASCII twin
// (pairs: the character, then its replacement).
constexpr std::string_view kPunctuation[][2] = {
    {"。", "."}, {"、", ","}, {"「", "\""}, {"」", "\""}, {"『", "\""}, {"』", "\""}, {"【", "["}, {"】", "]"},
    {"《", "<"}, {"》", ">"}, {"～", "~"}, {"—", "-"}, {"–", "-"}, {"‘", "'"}, {"’", "'"}, {"“", "\""},
    {"”", "\""}, {"…", "."}};

// Traditional characters folded to simplified where the vocabulary needs them (開通 → 开通, 延遲 → 延迟):
// customers from Hong Kong and Taiwan write the same claims. Pairs of 3-byte UTF-8 sequences.
constexpr const char* kTraditional =
    "開开遲迟丟丢帶带寬宽號号個个週周禮礼證证據据約约發发圖图聯联繫系郵邮連连東东亞亚馬马來来兩两們们後后"
    "這这還还沒没對对錯错啟启動动線线斷断網网際际費费錢钱訂订單单賬账戶户監监測测試试報报記记錄录議议協协"
    "務务質质節节點点區区韓韩歐欧國国臺台灣湾實实時时間间問问題题麼么嗎吗謝谢請请幫帮轉转為为經经過过幾几"
    "從从關关態态進进處处準准確确認认應应該该無无訪访頓顿遠远達达隊队決决絕绝體体驗验碼码傳传輸输據据樣样"
    "讓让說说話话聽听機机構构營营運运戲戏錄录視视頻频層层壞坏穩稳慢慢擊击雲云專专辦办買买賣卖價价貨货倍倍";

uint32_t Key3(std::string_view s, size_t i) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(s[i])) << 16) |
         (static_cast<uint32_t>(static_cast<unsigned char>(s[i + 1])) << 8) | static_cast<unsigned char>(s[i + 2]);
}

// Every 3-byte character the parsers want written otherwise: one hash probe per character.
const std::unordered_map<uint32_t, std::string_view>& FoldMap() {
  static const std::unordered_map<uint32_t, std::string_view> map = [] {
    std::unordered_map<uint32_t, std::string_view> m;
    std::string_view all(kTraditional);
    for (size_t i = 0; i + 6 <= all.size(); i += 6) {
      if (all.substr(i, 3) != all.substr(i + 3, 3)) m[Key3(all, i)] = all.substr(i + 3, 3);
    }
    for (const auto& p : kPunctuation) {
      if (p[0].size() == 3) m[Key3(p[0], 0)] = p[1];
    }
    return m;
  }();
  return map;
}

}  // namespace

std::string NormalizeForParsing(std::string_view text) {
  std::string folded;
  bool ascii = true;
  for (char c : text) if (static_cast<unsigned char>(c) >= 0x80) { ascii = false; break; }
  if (ascii) {
    folded.assign(text);
    for (char& c : folded) if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  } else {
    utf8proc_uint8_t* out = nullptr;
    auto opts = static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT |
                                               UTF8PROC_CASEFOLD | UTF8PROC_IGNORE);
    utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                      static_cast<utf8proc_ssize_t>(text.size()), &out, opts);
    if (n < 0) return std::string();
    folded.assign(reinterpret_cast<char*>(out), static_cast<size_t>(n));
    std::free(out);
  }
  std::string result;
  result.reserve(folded.size());
  bool space = true;  // drops leading white space
  for (size_t i = 0; i < folded.size();) {
    unsigned char c = static_cast<unsigned char>(folded[i]);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      if (!space) result.push_back(' ');
      space = true;
      ++i;
      continue;
    }
    if (c >= 0xE0 && c < 0xF0 && i + 3 <= folded.size()) {
      const auto& fold = FoldMap();
      if (auto it = fold.find(Key3(folded, i)); it != fold.end()) {
        result += it->second;
        i += 3;
        space = false;
        continue;
      }
    }
    space = false;
    result.push_back(folded[i++]);
  }
  while (!result.empty() && result.back() == ' ') result.pop_back();
  return result;
}

bool IsHanAt(std::string_view s, size_t i) {
  // Han ideographs U+3400–U+9FFF are three bytes with a lead byte 0xE3..0xE9.
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0xE3 || c > 0xE9 || i + 3 > s.size()) return false;
  uint32_t cp = ((c & 0x0F) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3F) << 6) |
                (static_cast<unsigned char>(s[i + 2]) & 0x3F);
  return cp >= 0x3400 && cp <= 0x9FFF;
}

Lang DetectLanguage(std::string_view s, Lang fallback) {
  int latin_words = 0;
  bool in_word = false;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (IsHanAt(s, i)) return Lang::kZh;
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (letter && !in_word) ++latin_words;
    in_word = letter;
  }
  return latin_words >= 2 ? Lang::kEn : fallback;
}

// ---- Conversation language (the dialog engine's; kept apart from DetectLanguage) -------------------

namespace {

// Latin words in one token between spaces and Han characters; none in an address, a figure or a date
// or a name ("kim@example.com", "400ms", "2026-10-01", "wechat:abc123", "tw_stream", "sl.live"): those
// are not written in a language.
int LatinWordsIn(std::string_view token) {
  while (!token.empty() && (token.back() == '.' || token.back() == ',' || token.back() == '!' || token.back() == '?')) {
    token.remove_suffix(1);  // the end of a sentence is not part of a name
  }
  for (char c : token) {
    if (c == '@' || c == '/' || c == ':' || c == '_' || c == '.' || (c >= '0' && c <= '9')) return 0;
  }
  int words = 0;
  bool in_word = false;
  for (char c : token) {
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (letter && !in_word) ++words;
    in_word = letter;
  }
  return words;
}

}  // namespace

Lang ConversationLanguage(std::string_view s, Lang current) {
  int han = 0, latin_words = 0;
  size_t token_begin = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    const bool is_han = i < s.size() && IsHanAt(s, i);
    if (i == s.size() || is_han || s[i] == ' ') {
      latin_words += LatinWordsIn(s.substr(token_begin, i - token_begin));
      if (is_han) {
        ++han;
        i += 2;  // U+3400–U+9FFF are three bytes in UTF-8
      }
      token_begin = i + 1;
    }
  }
  const double zh = han / 2.0, en = latin_words;
  if (zh > en && (current == Lang::kZh || zh >= 2)) return Lang::kZh;
  if (en > zh && latin_words >= 2) return Lang::kEn;
  return current;
}

size_t FindWord(std::string_view text, std::string_view word, size_t from) {
  // A trailing '*' makes the word a stem: "activat*" matches "activated", "activation", "activatd".
  bool stem = !word.empty() && word.back() == '*';
  if (stem) word.remove_suffix(1);
  if (word.empty()) return std::string_view::npos;
  bool check_left = IsAsciiAlnum(word.front());
  bool check_right = !stem && IsAsciiAlnum(word.back());
  for (size_t pos = text.find(word, from); pos != std::string_view::npos;
       pos = text.find(word, pos + 1)) {
    if (check_left && pos > 0 && IsAsciiAlnum(text[pos - 1])) continue;
    size_t end = pos + word.size();
    if (check_right && end < text.size() && IsAsciiAlnum(text[end])) continue;
    return pos;
  }
  return std::string_view::npos;
}

SubstringFilter::SubstringFilter(std::string_view text) {
  unsigned char prev = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    bytes_[c >> 6] |= uint64_t{1} << (c & 63);
    if (i > 0) {
      const size_t bit = PairBit(prev, c);
      pairs_[bit >> 6] |= uint64_t{1} << (bit & 63);
    }
    prev = c;
  }
}

bool SubstringFilter::MayContain(std::string_view word) const {
  if (word.size() > 1 && word.back() == '*') word.remove_suffix(1);  // a stem (FindWord)
  if (word.size() == 1) {
    const auto c = static_cast<unsigned char>(word[0]);
    return (bytes_[c >> 6] >> (c & 63)) & 1;
  }
  for (size_t i = 0; i + 1 < word.size(); ++i) {
    const size_t bit = PairBit(static_cast<unsigned char>(word[i]), static_cast<unsigned char>(word[i + 1]));
    if (!((pairs_[bit >> 6] >> (bit & 63)) & 1)) return false;
  }
  return true;
}

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\n' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\n' || s[e - 1] == '\r')) --e;
  return std::string(s.substr(b, e - b));
}

std::string AsWritten(std::string_view original, std::string_view token) {
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  for (size_t i = 0; i + token.size() <= original.size(); ++i) {
    size_t k = 0;
    while (k < token.size() && lower(original[i + k]) == token[k]) ++k;
    if (k == token.size()) return std::string(original.substr(i, token.size()));
  }
  return std::string(token);
}

}  // namespace rd
