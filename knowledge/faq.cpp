#include "knowledge/faq.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_set>

#include "dialogs/text.h"

namespace rd {

using nlohmann::json;

namespace {

const std::unordered_set<std::string_view>& StopWords() {
  static const std::unordered_set<std::string_view> words = {
      "a", "an", "the", "is", "are", "was", "were", "be", "do", "does", "did", "i", "my", "me", "we", "our", "us",
      "you", "your", "to", "of", "for", "in", "on", "at", "and", "or", "it", "its", "this", "that", "there", "with",
      "what", "how", "when", "which", "who", "can", "could", "will", "would", "should", "please", "any", "if", "so",
      "get", "have", "has", "am", "about", "from", "by", "as", "much", "many", "guys", "tell", "know", "want",
      "need", "like", "just", "also", "still", "really", "hi", "hello", "thanks", "thank", "ok", "okay", "some",
      "any", "all", "they", "them", "their", "he", "she", "one", "back", "time"};
  return words;
}

// Function characters split Chinese runs so they make no noise bigrams (退款的期限 -> 退款 | 期限).
bool IsStopChar(std::string_view s, size_t i) {
  static const std::unordered_set<std::string_view> chars = [] {
    std::unordered_set<std::string_view> set;
    static constexpr std::string_view kAll = "的了吗呢吧啊呀么我你您们他她它是和与就都也又很那这个样";
    for (size_t k = 0; k + 3 <= kAll.size(); k += 3) set.insert(kAll.substr(k, 3));
    return set;
  }();
  return chars.count(s.substr(i, 3)) > 0;
}

// Question words that say nothing about the topic (怎么, 什么, 可以 ...).
const std::unordered_set<std::string_view>& StopBigrams() {
  static const std::unordered_set<std::string_view> words = {"怎么", "什么", "可以", "如何", "请问", "能不", "不能",
                                                             "一下", "为什", "还能", "能否", "是否", "哪些", "还是", "现在", "还有", "有没", "在哪", "时候", "比较", "大概",
                                                             "一直", "一般", "应该", "需要", "想要", "我想", "请教"};
  return words;
}

// Light English stemming, so the forms of one word meet: "refunds", "refunding", "refunded" -> "refund";
// "charges", "charged", "charge" -> "charg"; "policies" -> "policy"; "stopped" -> "stop".
std::string Stem(std::string w) {
  auto ends = [&](std::string_view suffix, size_t min_left) {
    return w.size() >= suffix.size() + min_left && w.compare(w.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  auto vowel = [](char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; };
  if (ends("ies", 2)) return w.substr(0, w.size() - 3).append(1, 'y');
  if (ends("sses", 2)) w.resize(w.size() - 2);
  else if (ends("s", 3) && !ends("ss", 2) && !ends("us", 2) && !ends("is", 2)) w.pop_back();
  for (std::string_view suffix : {"ing", "ed"}) {
    if (!ends(suffix, 3)) continue;
    w.resize(w.size() - suffix.size());
    // "stopped" -> "stopp" -> "stop"; but "called" keeps "call".
    if (w.size() > 3 && w.back() == w[w.size() - 2] && !vowel(w.back()) && w.back() != 'l' && w.back() != 's') w.pop_back();
    break;
  }
  if (w.size() > 3 && w.back() == 'e') w.pop_back();
  return w;
}

}  // namespace

// Weight of a word that occurs in an entry's answer rather than in its questions: answers add vocabulary
// ("calendar days", "credit note") but say more than the question they answer.
constexpr double kAnswerWeight = 0.3;

namespace {

// The answer with its placeholders removed ("{window_days}" is not a word a customer writes).
std::string WithoutPlaceholders(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '{') {
      size_t close = text.find('}', i);
      if (close != std::string::npos) { i = close; out += ' '; continue; }
    }
    out += text[i];
  }
  return out;
}

bool RunBoundary(std::string_view s, size_t i) {  // a Han run of FaqTerms cannot go on at byte i
  return i >= s.size() || !IsHanAt(s, i) || IsStopChar(s, i) || (i + 6 <= s.size() && StopBigrams().count(s.substr(i, 6)));
}

// True when the bigram stands alone between boundaries somewhere in `s` (a two-character word such as
// 涨粉), not only straddling two words inside a longer run (天股 in 今天股票).
bool StandsAlone(std::string_view s, std::string_view bigram) {
  for (size_t p = s.find(bigram); p != std::string_view::npos; p = s.find(bigram, p + 1)) {
    bool before = p == 0 || p < 3 || !IsHanAt(s, p - 3) || IsStopChar(s, p - 3);
    if (before && RunBoundary(s, p + bigram.size())) return true;
  }
  return false;
}

}  // namespace

namespace {

uint32_t CharKey(std::string_view s, size_t i) {  // the code point of the 3-byte UTF-8 character at byte i
  return ((static_cast<uint32_t>(static_cast<unsigned char>(s[i])) & 0x0F) << 12) |
         ((static_cast<uint32_t>(static_cast<unsigned char>(s[i + 1])) & 0x3F) << 6) |
         (static_cast<uint32_t>(static_cast<unsigned char>(s[i + 2])) & 0x3F);
}

void AppendChar(uint32_t cp, std::string* out) {  // a code point of U+0800..U+FFFF as UTF-8
  out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
  out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
  out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
}

size_t CharLength(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  return c < 0x80 ? 1 : (c >= 0xF0 ? 4 : (c >= 0xE0 ? 3 : 2));
}

// The concept whose Chinese phrasing starts at byte i, longest first; its byte length in *length.
std::string_view HanConcept(std::string_view s, size_t i, const FaqLexicon& lex, size_t* length) {
  if (i + 3 > s.size() || !lex.han_first.count(CharKey(s, i))) return {};
  for (size_t n : lex.han_lengths) {
    if (i + n > s.size()) continue;
    auto it = lex.han.find(s.substr(i, n));
    if (it != lex.han.end()) { *length = n; return it->second; }
  }
  return {};
}

// Bigrams of one Han run (a lone character stands alone).
void RunTerms(std::string_view s, size_t i, size_t j, std::vector<std::string>* terms) {
  if (j - i == 3) terms->emplace_back(s.substr(i, 3));
  for (size_t k = i; k + 6 <= j; k += 3) terms->emplace_back(s.substr(k, 6));
}

// English words of one phrase (no sentence punctuation between them): concepts longest first, then
// the other words without stop words, stemmed.
void WordTerms(const std::vector<std::pair<std::string, std::string>>& words, const FaqLexicon* lex,
               std::vector<std::string>* terms) {
  std::string key;
  for (size_t k = 0; k < words.size();) {
    size_t matched = 0, longest = 0;
    if (lex) {
      auto first = lex->first_words.find(words[k].second);
      if (first != lex->first_words.end()) longest = std::min(first->second, words.size() - k);
    }
    for (size_t n = longest; n >= 1 && !matched; --n) {
      key = words[k].second;
      for (size_t m = 1; m < n; ++m) key.append(1, ' ').append(words[k + m].second);
      auto it = lex->words.find(key);
      if (it != lex->words.end()) { terms->emplace_back(it->second); matched = n; }
    }
    if (matched) { k += matched; continue; }
    // "getting" is "get": a stop word in any of its forms. A number (a date, an amount, a ticket's) is
    // what the customer fills in, not what the question is about.
    const std::string& w = words[k].first;
    const bool number = std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!number && !StopWords().count(w) && !StopWords().count(words[k].second)) terms->push_back(words[k].second);
    ++k;
  }
}

}  // namespace

std::vector<std::string> FaqTerms(std::string_view s, const FaqLexicon* lex) {
  std::vector<std::string> terms;
  std::vector<std::pair<std::string, std::string>> words;  // the current English phrase: word, stem
  auto flush_words = [&] { WordTerms(words, lex, &terms); words.clear(); };
  size_t run = std::string_view::npos;  // start of the current Han run
  auto flush_run = [&](size_t end) {
    if (run != std::string_view::npos) RunTerms(s, run, end, &terms);
    run = std::string_view::npos;
  };
  for (size_t i = 0; i < s.size();) {
    if (IsAsciiAlnum(s[i])) {
      flush_run(i);
      size_t j = i;
      while (j < s.size() && IsAsciiAlnum(s[j])) ++j;
      std::string w(s.substr(i, j - i));
      words.emplace_back(w, Stem(w));
      i = j;
      continue;
    }
    if (!IsHanAt(s, i)) {
      flush_run(i);
      const char c = s[i];
      if (c != ' ' && c != '-' && c != '\'' && c != '/') flush_words();  // phrases stop at punctuation
      i += CharLength(s, i);
      continue;
    }
    flush_words();
    size_t n = 0;
    std::string_view named = lex ? HanConcept(s, i, *lex, &n) : std::string_view();
    if (!named.empty()) {
      flush_run(i);
      terms.emplace_back(named);
      i += n;
    } else if (IsStopChar(s, i)) {
      flush_run(i);
      i += 3;
    } else if (i + 6 <= s.size() && StopBigrams().count(s.substr(i, 6))) {
      flush_run(i);  // a question word (怎么) splits the run and is no term itself
      i += 6;
    } else {
      if (run == std::string_view::npos) run = i;
      i += 3;
    }
  }
  flush_run(s.size());
  flush_words();
  return terms;
}

std::string FaqIndex::Fold(std::string_view s) const {
  if (fold_.empty()) return std::string(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = CharLength(s, i);
    if (n == 3 && i + 3 <= s.size()) {
      if (const uint32_t to = fold_[CharKey(s, i)]; to != 0) { AppendChar(to, &out); i += 3; continue; }
    }
    out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

bool FaqIndex::KnownChar(std::string_view s, size_t i) const {
  return i + 3 <= s.size() && known_chars_.count(CharKey(s, i));
}

std::vector<std::string> FaqIndex::Terms(std::string_view normalized) const {
  std::vector<std::string> terms = FaqTerms(normalized, &lexicon_);
  for (auto& t : terms) {
    auto it = synonyms_.find(t);
    if (it != synonyms_.end()) t = it->second;
  }
  return terms;
}

// faq.json's "concepts": each phrasing, Chinese or English words, to the concept's term "#name".
void FaqIndex::LoadConcepts(const json& doc, std::vector<std::string>* errors) {
  static const json kNone = json::object();
  const json& concepts = doc.is_object() ? doc : kNone;
  if (!doc.is_object()) errors->push_back("faq.json: \"concepts\" must map a name to its phrasings");
  auto clash = [&](const std::string& name, const std::string& form, std::string_view other) {
    errors->push_back("faq.json: concepts." + name + ": \"" + form + "\" reads as a phrasing of " + std::string(other.substr(1)));
  };
  for (const auto& [name, forms] : concepts.items()) {
    if (!forms.is_array()) { errors->push_back("faq.json: concepts." + name + " must be a list of phrasings"); continue; }
    auto* term = lexicon_.storage.emplace_back(std::make_unique<std::string>("#" + name)).get();
    for (const auto& f : forms) {
      const std::string form = f.is_string() ? Fold(NormalizeForParsing(f.get<std::string>())) : std::string();
      auto* key = lexicon_.storage.emplace_back(std::make_unique<std::string>()).get();
      if (!form.empty() && IsHanAt(form, 0)) {
        *key = form;
        if (auto [it, fresh] = lexicon_.han.emplace(*key, *term); !fresh && it->second != *term) clash(name, form, it->second);
        lexicon_.han_first.insert(CharKey(form, 0));
        if (std::find(lexicon_.han_lengths.begin(), lexicon_.han_lengths.end(), form.size()) == lexicon_.han_lengths.end()) lexicon_.han_lengths.push_back(form.size());
        continue;
      }
      bool han = false;
      for (size_t i = 0; i < form.size(); i += CharLength(form, i)) han |= IsHanAt(form, i);
      if (han) { errors->push_back("faq.json: concepts." + name + ": \"" + form + "\" must start with its Chinese"); continue; }
      size_t n = 0, first_end = 0;
      for (size_t i = 0; i < form.size();) {  // the words of the phrasing, stemmed as questions' are
        if (!IsAsciiAlnum(form[i])) { ++i; continue; }
        size_t j = i;
        while (j < form.size() && IsAsciiAlnum(form[j])) ++j;
        if (n++) key->push_back(' ');
        key->append(Stem(form.substr(i, j - i)));
        if (n == 1) first_end = key->size();
        i = j;
      }
      if (n == 0) { errors->push_back("faq.json: concepts." + name + " holds a phrasing with no words"); continue; }
      if (auto [it, fresh] = lexicon_.words.emplace(*key, *term); !fresh && it->second != *term) clash(name, form, it->second);
      size_t& longest = lexicon_.first_words[std::string_view(*key).substr(0, first_end)];
      longest = std::max(longest, n);
    }
  }
  std::sort(lexicon_.han_lengths.rbegin(), lexicon_.han_lengths.rend());
}

// faq.json's "traditional", "concepts", "synonyms" and "background_words".
bool FaqIndex::LoadLexicon(const json& doc, std::vector<std::string>* errors) {
  size_t before = errors->size();
  if (doc.contains("traditional")) {
    const json& t = doc["traditional"];
    std::string all = t.is_string() ? t.get<std::string>() : std::string();
    if (!t.is_string() || !IsValidUtf8(all) || all.size() % 6 != 0) {
      errors->push_back("faq.json: \"traditional\" must be a string of pairs: a traditional character, then its simplified form");
    } else {
      bool three_bytes = true;
      for (size_t i = 0; i < all.size(); i += 3) three_bytes &= (static_cast<unsigned char>(all[i]) & 0xF0) == 0xE0;
      if (!three_bytes) errors->push_back("faq.json: \"traditional\" must hold Chinese characters only");
      fold_.assign(three_bytes && !all.empty() ? 0x10000 : 0, 0);
      for (size_t i = 0; three_bytes && i + 6 <= all.size(); i += 6) fold_[CharKey(all, i)] = CharKey(all, i + 3);
    }
  }
  if (doc.contains("concepts")) LoadConcepts(doc["concepts"], errors);
  if (doc.contains("synonyms")) {
    if (!doc["synonyms"].is_object()) {
      errors->push_back("faq.json: \"synonyms\" must map a word to the word it means");
    } else {
      for (const auto& [word, canonical] : doc["synonyms"].items()) {
        if (!canonical.is_string()) { errors->push_back("faq.json: synonyms." + word + " must be a string"); continue; }
        // Both sides go through the same term rules, so "refunding" and "refund" meet.
        auto from = FaqTerms(Fold(NormalizeForParsing(word)), &lexicon_);
        auto to = FaqTerms(Fold(NormalizeForParsing(canonical.get<std::string>())), &lexicon_);
        if (from.size() == 1 && to.size() == 1) synonyms_[from[0]] = to[0];
        else errors->push_back("faq.json: synonyms." + word + " must map one word to one word");
      }
    }
  }
  if (doc.contains("background_words")) {
    if (!doc["background_words"].is_array()) {
      errors->push_back("faq.json: \"background_words\" must be a list of words");
    } else {
      for (const auto& w : doc["background_words"]) {
        if (!w.is_string()) { errors->push_back("faq.json: background_words must hold strings"); continue; }
        for (auto& t : Terms(Fold(NormalizeForParsing(w.get<std::string>())))) background_.insert(t);
      }
    }
  }
  if (doc.contains("context_words")) {
    if (!doc["context_words"].is_array()) errors->push_back("faq.json: \"context_words\" must be a list of words");
    for (const auto& w : doc["context_words"].is_array() ? doc["context_words"] : json::array()) {
      if (!w.is_string()) { errors->push_back("faq.json: context_words must hold strings"); continue; }
      for (auto& t : Terms(Fold(NormalizeForParsing(w.get<std::string>())))) context_.insert(t);
    }
  }
  return errors->size() == before;
}

bool FaqIndex::LoadEntry(const json& e, size_t i, const std::vector<std::string>& placeholders,
                         std::set<std::string>* ids, std::vector<std::string>* errors) {
  size_t before = errors->size();
  FaqEntry entry;
  entry.id = e.value("id", "");
  std::string where = "faq.json: entry ";
  where += entry.id.empty() ? "number " + std::to_string(i + 1) : entry.id;
  if (entry.id.empty()) { errors->push_back(where + ": \"id\" is missing"); return false; }
  if (!ids->insert(entry.id).second) errors->push_back(where + ": duplicate id");
  if (e.contains("topic") && (!e["topic"].is_string() || e["topic"].get<std::string>().empty())) {
    errors->push_back(where + ": \"topic\" must name the entry's family");
  }
  if (e.contains("in_context_only") && !e["in_context_only"].is_boolean()) errors->push_back(where + ": \"in_context_only\" must be true or false");
  entry.in_context_only = e.value("in_context_only", false) == true;
  entry.topic = e.contains("topic") && e["topic"].is_string() ? e["topic"].get<std::string>() : entry.id;
  if (entry.topic.empty()) entry.topic = entry.id;
  auto list = [&](const char* lang, std::vector<std::string>* out) {
    const json q = e.value("questions", json::object()).value(lang, json::array());
    for (const auto& v : q) if (v.is_string() && !v.get<std::string>().empty()) out->push_back(v.get<std::string>());
    if (out->empty()) errors->push_back(where + ": questions." + lang + " needs at least one phrasing");
  };
  list("zh", &entry.questions_zh);
  list("en", &entry.questions_en);
  const json a = e.value("answer", json::object());
  for (const char* lang : {"zh", "en"}) {
    if (!a.contains(lang) || !a[lang].is_string() || a[lang].get<std::string>().empty()) {
      errors->push_back(where + ": answer." + lang + " is missing");
      continue;
    }
    const std::string text = a[lang].get<std::string>();
    for (size_t p = text.find('{'); p != std::string::npos; p = text.find('{', p + 1)) {
      size_t close = text.find('}', p);
      if (close == std::string::npos) break;
      std::string name = text.substr(p + 1, close - p - 1);
      if (std::find(placeholders.begin(), placeholders.end(), name) == placeholders.end()) {
        errors->push_back(where + ": answer." + lang + " quotes unknown placeholder {" + name + "}");
      }
    }
    (std::string(lang) == "zh" ? entry.answer_zh : entry.answer_en) = text;
  }
  entries_.push_back(std::move(entry));
  return errors->size() == before;
}

bool FaqIndex::Load(const json& doc, const std::vector<std::string>& placeholders, std::vector<std::string>* errors) {
  size_t before = errors->size();
  if (doc.is_object()) LoadLexicon(doc, errors);
  if (!doc.is_object() || !doc.contains("entries") || !doc["entries"].is_array()) {
    errors->push_back("faq.json: must be an object with an \"entries\" list");
    return false;
  }
  std::set<std::string> ids;
  for (size_t i = 0; i < doc["entries"].size(); ++i) LoadEntry(doc["entries"][i], i, placeholders, &ids, errors);
  if (errors->size() != before) return false;
  BuildIndex();
  return true;
}

// One document per entry: its phrasings' terms weigh 1, its answers' kAnswerWeight.
void FaqIndex::BuildIndex() {
  double total = 0;
  std::vector<std::pair<TermId, double>> tf;  // this entry's terms with their weight, merged below
  struct Occurrence { TermId term; uint32_t doc; float tf; };
  std::vector<Occurrence> by_entry;            // every (term, entry), in entry order
  for (uint32_t d = 0; d < entries_.size(); ++d) {
    tf.clear();
    double length = 0;
    const auto first = static_cast<uint32_t>(phrasings_.size());
    for (const auto* list : {&entries_[d].questions_zh, &entries_[d].questions_en}) {
      for (const auto& q : *list) {
        std::vector<TermId> ids;
        const std::string text = Fold(NormalizeForParsing(q));
        for (size_t i = 0; i + 3 <= text.size(); i += CharLength(text, i)) {
          if (IsHanAt(text, i)) known_chars_.insert(CharKey(text, i));
        }
        for (const auto& t : Terms(text)) {
          ids.push_back(Intern(t));
          tf.push_back({ids.back(), 1.0});
          length += 1;
        }
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        phrasings_.push_back(std::move(ids));
      }
    }
    entry_phrasings_.push_back({first, static_cast<uint32_t>(phrasings_.size())});
    for (const auto* answer : {&entries_[d].answer_zh, &entries_[d].answer_en}) {
      for (const auto& t : Terms(Fold(NormalizeForParsing(WithoutPlaceholders(*answer))))) {
        tf.push_back({Intern(t), kAnswerWeight});
        length += kAnswerWeight;
      }
    }
    std::sort(tf.begin(), tf.end());
    for (size_t i = 0; i < tf.size();) {
      double n = 0;
      size_t j = i;
      for (; j < tf.size() && tf[j].first == tf[i].first; ++j) n += tf[j].second;
      by_entry.push_back({tf[i].first, d, static_cast<float>(n)});
      i = j;
    }
    doc_length_.push_back(length);
    total += length;
  }
  average_length_ = entries_.empty() ? 1 : std::max(1.0, total / entries_.size());
  // Postings in one flat array ordered by term (a counting sort; entries stay in order within a term):
  // one allocation instead of one per term, which matters with hundreds of thousands of terms.
  posting_begin_.assign(terms_.size() + 1, 0);
  for (const Occurrence& o : by_entry) ++posting_begin_[o.term + 1];
  for (size_t t = 1; t < posting_begin_.size(); ++t) posting_begin_[t] += posting_begin_[t - 1];
  postings_.resize(by_entry.size());
  {
    std::vector<uint32_t> next(posting_begin_.begin(), posting_begin_.end() - 1);
    for (const Occurrence& o : by_entry) postings_[next[o.term]++] = {o.doc, o.tf};
  }
  by_entry.clear();
  by_entry.shrink_to_fit();
  const double n = static_cast<double>(entries_.size());
  idf_.resize(terms_.size());
  for (TermId id = 0; id < terms_.size(); ++id) {
    const std::string& term = terms_[id];
    // An entry that has the term only in its answer counts as that much of a document: answers
    // mention staff and fees everywhere, which says little about what customers ask.
    double df = 0;
    for (uint32_t i = posting_begin_[id]; i < posting_begin_[id + 1]; ++i) df += std::min(1.0f, postings_[i].tf);
    idf_[id] = std::log(1 + (n - df + 0.5) / (df + 0.5)) * (background_.count(term) ? kBackgroundWeight : 1.0);
  }
}

size_t FaqIndex::FindSlot(std::string_view term, uint64_t hash) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const TermId id = slots_[i];
    if (id == kUnknownTerm || (term_hashes_[id] == hash && terms_[id] == term)) return i;
  }
}

FaqIndex::TermId FaqIndex::Intern(const std::string& term) {
  if (slots_.empty()) slots_.assign(1024, kUnknownTerm);
  const uint64_t hash = std::hash<std::string_view>()(term);
  size_t slot = FindSlot(term, hash);
  if (slots_[slot] != kUnknownTerm) return slots_[slot];
  const auto id = static_cast<TermId>(terms_.size());
  terms_.push_back(term);
  term_hashes_.push_back(hash);
  slots_[slot] = id;
  if (terms_.size() * 2 > slots_.size()) {  // keep the table at most half full
    slots_.assign(slots_.size() * 2, kUnknownTerm);
    for (TermId t = 0; t < terms_.size(); ++t) slots_[FindSlot(terms_[t], term_hashes_[t])] = t;
  }
  return id;
}

FaqIndex::TermId FaqIndex::IdOf(const std::string& term) const {
  if (slots_.empty()) return kUnknownTerm;
  return slots_[FindSlot(term, std::hash<std::string_view>()(term))];
}

std::vector<FaqMatch> FaqIndex::Search(std::string_view normalized_question, size_t k) const {
  constexpr double k1 = 1.2, b = 0.75;
  const std::string question = Fold(normalized_question);
  std::vector<std::string> words = Terms(question);
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  const double n = static_cast<double>(entries_.size());
  // Confidence = the share of the question's information the entry explains. A known term weighs its
  // own idf; a term no entry knows weighs the most a term can (the question is about something
  // else), half as much for a Chinese bigram of known characters that may just straddle two words
  // (天股 in 今天股票); a character no entry uses is foreign content (蓝牙), never a straddle.
  const double max_idf = std::log(1 + (n + 0.5) / 1.5);
  double best_possible = 0;
  std::vector<TermId> ids;
  for (const auto& w : words) {
    TermId id = IdOf(w);
    if (id != kUnknownTerm) {
      ids.push_back(id);
      best_possible += idf_[id];
      continue;
    }
    const double weight = background_.count(w) ? kBackgroundWeight : 1.0;
    const bool straddles = IsHanAt(w, 0) && w.size() == 6 && KnownChar(w, 0) && KnownChar(w, 3) &&
                           !StandsAlone(question, w);
    best_possible += weight * (straddles ? 0.5 : 1.0) * max_idf;
  }
  std::sort(ids.begin(), ids.end());
  const bool in_context = std::any_of(words.begin(), words.end(), [&](const std::string& w) { return context_.count(w) > 0; });

  // BM25 over the entries the question's terms reach. Dense arrays, reused by the thread: a map of
  // the reached entries costs more than the scoring itself once a common word reaches thousands.
  thread_local std::vector<double> scores, covered;
  // Per entry the topical words it shares with the question (not background): bit 0 one, bit 1 two or
  // more, bit 2 a concept.
  thread_local std::vector<uint8_t> topical;
  thread_local std::vector<uint32_t> reached;
  scores.assign(entries_.size(), 0);
  covered.assign(entries_.size(), 0);
  topical.assign(entries_.size(), 0);
  reached.clear();
  for (TermId id : ids) {
    const double idf = idf_[id];
    // A lone Chinese character (给, 讲) is too weak a sign to make a match on its own, like a background word.
    const bool background = background_.count(terms_[id]) > 0 || (terms_[id].size() == 3 && IsHanAt(terms_[id], 0));
    for (uint32_t i = posting_begin_[id]; i < posting_begin_[id + 1]; ++i) {
      const Posting& p = postings_[i];
      const double tf = p.tf;
      if (scores[p.doc] == 0) reached.push_back(p.doc);
      scores[p.doc] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_length_[p.doc] / average_length_));
      // Coverage counts a question word once, however often the entry repeats it; a word only its
      // answer holds counts as much as the answer weighs.
      covered[p.doc] += idf * std::min(1.0, tf);
      if (!background) topical[p.doc] |= (topical[p.doc] & 1 ? 3 : 1) | (terms_[id][0] == '#' ? 4 : 0);
    }
  }
  std::vector<FaqMatch> out;
  out.reserve(reached.size());
  for (uint32_t doc : reached) {
    if (scores[doc] <= 0) continue;
    // The off-topic guard: words that only name the domain or the asking ("refund", "how") and lone
    // characters explain nothing on their own, and a match rests on a shared concept or on two shared
    // words: one plain word ("fix" in "how do I fix my printer") is too thin. A guarded entry does not
    // match at all, so it outranks no other.
    const bool guarded = !(topical[doc] & 6) || (entries_[doc].in_context_only && !in_context);
    if (guarded) continue;
    double confidence = best_possible > 0 ? std::min(1.0, covered[doc] / best_possible) : 0;
    out.push_back({&entries_[doc], scores[doc], confidence});
  }
  Rerank(ids, &out);
  if (out.size() > k) out.resize(k);
  return out;
}

// Re-rank the best few by their closest phrasing: BM25 over a whole entry favours entries that
// repeat a word; a phrasing that says nearly what the customer said is the stronger sign
// ("how do I apply?" is process.how_to_apply, though process.channels says "apply" more often).
void FaqIndex::Rerank(const std::vector<TermId>& ids, std::vector<FaqMatch>* matches) const {
  std::vector<FaqMatch>& out = *matches;
  const size_t shortlist = std::min<size_t>(out.size(), kRerankDepth);
  auto by_score = [](const FaqMatch& a, const FaqMatch& b) {
    return a.score != b.score ? a.score > b.score : a.entry < b.entry;  // ties: file order, stable
  };
  std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(shortlist), out.end(), by_score);
  out.resize(shortlist);
  if (out.empty()) return;
  const double top = out.front().score;
  double question_weight = 0;
  for (TermId id : ids) question_weight += idf_[id];
  for (FaqMatch& m : out) {
    double best = 0;
    auto [first, last] = entry_phrasings_[static_cast<size_t>(m.entry - entries_.data())];
    for (uint32_t p = first; p < last; ++p) {
      // Weighted Jaccard of the two term sets (both sorted); the question's unknown terms do not
      // count here, they already lowered the confidence.
      const std::vector<TermId>& phrasing = phrasings_[p];
      double shared = 0, only_phrasing = 0;
      for (size_t i = 0, j = 0; j < phrasing.size();) {
        if (i < ids.size() && ids[i] < phrasing[j]) { ++i; continue; }
        const double w = idf_[phrasing[j]];
        if (i < ids.size() && ids[i] == phrasing[j]) { shared += w; ++i; } else { only_phrasing += w; }
        ++j;
      }
      const double all = question_weight + only_phrasing;
      if (all > 0) best = std::max(best, shared / all);
    }
    m.score = m.score / top + kPhrasingWeight * best;
  }
  std::sort(out.begin(), out.end(), by_score);
}

const FaqEntry* FaqIndex::Find(const std::string& id) const {
  for (const auto& e : entries_) if (e.id == id) return &e;
  return nullptr;
}

}  // namespace rd
