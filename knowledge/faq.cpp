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
      "any", "all", "they", "them", "their", "he", "she", "one", "back"};
  return words;
}

// Function characters split Chinese runs so they make no noise bigrams (退款的期限 -> 退款 | 期限).
bool IsStopChar(std::string_view s, size_t i) {
  static const std::unordered_set<std::string_view> chars = [] {
    std::unordered_set<std::string_view> set;
    static constexpr std::string_view kAll = "的了吗呢吧啊呀么我你您们他她它是在和与及就都也还又很请那这个有";
    for (size_t k = 0; k + 3 <= kAll.size(); k += 3) set.insert(kAll.substr(k, 3));
    return set;
  }();
  return chars.count(s.substr(i, 3)) > 0;
}

// Light English stemming: "refunds", "refunding", "refunded" -> "refund"; "policies" -> "policy".
std::string Stem(const std::string& w) {
  auto ends = [&](std::string_view suffix, size_t min_left) {
    return w.size() >= suffix.size() + min_left && w.compare(w.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends("ies", 3)) return w.substr(0, w.size() - 3).append(1, 'y');
  for (std::string_view suffix : {"ing", "ed", "es", "s"}) {
    if (ends(suffix, 3)) return w.substr(0, w.size() - suffix.size());
  }
  return w;
}

}  // namespace

std::vector<std::string> FaqTerms(std::string_view s) {
  std::vector<std::string> terms;
  for (size_t i = 0; i < s.size();) {
    if (IsAsciiAlnum(s[i])) {
      size_t j = i;
      while (j < s.size() && IsAsciiAlnum(s[j])) ++j;
      std::string w(s.substr(i, j - i));
      if (!StopWords().count(w)) terms.push_back(Stem(std::move(w)));
      i = j;
      continue;
    }
    if (IsHanAt(s, i) && !IsStopChar(s, i)) {
      size_t j = i;
      while (j < s.size() && IsHanAt(s, j) && !IsStopChar(s, j)) j += 3;
      if (j - i == 3) terms.emplace_back(s.substr(i, 3));
      for (size_t k = i; k + 6 <= j; k += 3) terms.emplace_back(s.substr(k, 6));
      i = j;
      continue;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    i += c < 0x80 ? 1 : (c >= 0xF0 ? 4 : (c >= 0xE0 ? 3 : 2));
  }
  return terms;
}

std::vector<std::string> FaqIndex::Terms(std::string_view normalized) const {
  std::vector<std::string> terms = FaqTerms(normalized);
  for (auto& t : terms) {
    auto it = synonyms_.find(t);
    if (it != synonyms_.end()) t = it->second;
  }
  return terms;
}

bool FaqIndex::Load(const json& doc, const std::vector<std::string>& placeholders, std::vector<std::string>* errors) {
  size_t before = errors->size();
  if (doc.is_object() && doc.contains("synonyms")) {
    if (!doc["synonyms"].is_object()) {
      errors->push_back("faq.json: \"synonyms\" must map a word to the word it means");
    } else {
      for (const auto& [word, canonical] : doc["synonyms"].items()) {
        if (!canonical.is_string()) { errors->push_back("faq.json: synonyms." + word + " must be a string"); continue; }
        // Both sides go through the same term rules, so "refunding" and "refund" meet.
        auto from = FaqTerms(NormalizeForParsing(word)), to = FaqTerms(NormalizeForParsing(canonical.get<std::string>()));
        if (from.size() == 1 && to.size() == 1) synonyms_[from[0]] = to[0];
        else errors->push_back("faq.json: synonyms." + word + " must map one word to one word");
      }
    }
  }
  if (!doc.is_object() || !doc.contains("entries") || !doc["entries"].is_array()) {
    errors->push_back("faq.json: must be an object with an \"entries\" list");
    return false;
  }
  std::set<std::string> ids;
  for (size_t i = 0; i < doc["entries"].size(); ++i) {
    const json& e = doc["entries"][i];
    FaqEntry entry;
    entry.id = e.value("id", "");
    std::string where = "faq.json: entry ";
    where += entry.id.empty() ? "number " + std::to_string(i + 1) : entry.id;
    if (entry.id.empty()) { errors->push_back(where + ": \"id\" is missing"); continue; }
    if (!ids.insert(entry.id).second) errors->push_back(where + ": duplicate id");
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
  }
  if (errors->size() != before) return false;
  // Index: one document per entry.
  double total = 0;
  for (uint32_t d = 0; d < entries_.size(); ++d) {
    std::unordered_map<std::string, uint32_t> tf;
    double length = 0;
    for (const auto* list : {&entries_[d].questions_zh, &entries_[d].questions_en}) {
      for (const auto& q : *list) {
        for (auto& t : Terms(NormalizeForParsing(q))) { ++tf[t]; ++length; }
      }
    }
    for (const auto& [term, n] : tf) postings_[term].push_back({d, n});
    doc_length_.push_back(length);
    total += length;
  }
  average_length_ = entries_.empty() ? 1 : std::max(1.0, total / entries_.size());
  return true;
}

std::vector<FaqMatch> FaqIndex::Search(std::string_view question, size_t k) const {
  constexpr double k1 = 1.2, b = 0.75;
  std::vector<std::string> terms = Terms(question);
  std::sort(terms.begin(), terms.end());
  terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
  const double n = static_cast<double>(entries_.size());
  std::vector<double> scores(entries_.size(), 0);
  double best_possible = 0;  // every term matched once in a document of average length
  for (const auto& term : terms) {
    auto it = postings_.find(term);
    double df = it == postings_.end() ? 0 : static_cast<double>(it->second.size());
    double idf = std::log(1 + (n - df + 0.5) / (df + 0.5));
    // A term no entry knows still counts against confidence: the question is about something else.
    best_possible += std::log(1 + (n + 0.5) / 1.5);
    if (it == postings_.end()) continue;
    for (const Posting& p : it->second) {
      double tf = p.tf;
      scores[p.doc] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_length_[p.doc] / average_length_));
    }
  }
  std::vector<FaqMatch> out;
  for (uint32_t d = 0; d < scores.size(); ++d) {
    if (scores[d] <= 0) continue;
    double confidence = best_possible > 0 ? std::min(1.0, scores[d] / best_possible) : 0;
    out.push_back({&entries_[d], scores[d], confidence});
  }
  std::sort(out.begin(), out.end(), [](const FaqMatch& a, const FaqMatch& b) { return a.score > b.score; });
  if (out.size() > k) out.resize(k);
  return out;
}

const FaqEntry* FaqIndex::Find(const std::string& id) const {
  for (const auto& e : entries_) if (e.id == id) return &e;
  return nullptr;
}

}  // namespace rd
