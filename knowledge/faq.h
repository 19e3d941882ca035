// The FAQ and its retrieval. A question in either language finds the closest entry by BM25 over
// Chinese character bigrams and lightly stemmed English words; one document per entry (all its
// phrasings in both languages). Pure and read-only once built.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace rd {

struct FaqEntry {
  std::string id;
  std::vector<std::string> questions_zh, questions_en;
  std::string answer_zh, answer_en;
};

struct FaqMatch {
  const FaqEntry* entry = nullptr;
  double score = 0;       // ranking score: BM25 relative to the best, plus closest-phrasing similarity
  double confidence = 0;  // 0..1: how much of the question the entry explains
};

class FaqIndex {
 public:
  // Confidence at or above which the bot answers; below it, it says it is not sure.
  static constexpr double kAnswerThreshold = 0.28;

  // Parses faq.json; appends one error per problem ("faq.json: entry X: ...") and returns false on any.
  // `placeholders`: the names an answer may quote.
  bool Load(const nlohmann::json& doc, const std::vector<std::string>& placeholders, std::vector<std::string>* errors);

  // The best `k` entries for `normalized_question`, best first; empty when nothing matches at all.
  std::vector<FaqMatch> Search(std::string_view normalized_question, size_t k = 3) const;

  const std::vector<FaqEntry>& entries() const { return entries_; }
  const FaqEntry* Find(const std::string& id) const;

 private:
  using TermId = uint32_t;
  static constexpr TermId kUnknownTerm = UINT32_MAX;
  struct Posting { uint32_t doc; float tf; };  // tf: question words count 1, answer words less
  static constexpr double kBackgroundWeight = 0.3;
  static constexpr size_t kRerankDepth = 20;     // entries re-ranked by their closest phrasing
  static constexpr double kPhrasingWeight = 1.0;  // of the closest phrasing's similarity, vs BM25 (0..1)

  std::vector<std::string> Terms(std::string_view normalized) const;  // FaqTerms + synonyms
  TermId Intern(const std::string& term);
  TermId IdOf(const std::string& term) const;

  std::unordered_map<std::string, std::string> synonyms_;
  std::unordered_set<std::string> background_;  // terms of faq.json "background_words"
  std::vector<FaqEntry> entries_;
  // The index: terms interned once; per term its postings and its idf (background words weighed
  // down); per entry its phrasings as sorted term ids, for re-ranking.
  // Term -> id: open addressing over a power-of-two table of ids (slot empty = kUnknownTerm), with each
  // term's hash kept beside it. std::unordered_map's node per term and modulo per probe made loading a
  // 10,000-entry file (hundreds of thousands of distinct bigrams) twice as slow.
  std::vector<std::string> terms_;        // id -> term
  std::vector<uint64_t> term_hashes_;     // id -> hash
  std::vector<TermId> slots_;
  size_t FindSlot(std::string_view term, uint64_t hash) const;
  std::vector<Posting> postings_;        // by term: postings_[posting_begin_[t] .. posting_begin_[t + 1])
  std::vector<uint32_t> posting_begin_;
  std::vector<double> idf_;
  std::vector<std::vector<TermId>> phrasings_;               // all phrasings, each sorted
  std::vector<std::pair<uint32_t, uint32_t>> entry_phrasings_;  // entry -> [first, last) in phrasings_
  std::vector<double> doc_length_;
  double average_length_ = 1;
};

// The retrieval terms of a normalized text: Han bigrams (a lone Han character stands alone) and English
// words without stop words, lightly stemmed. Exposed for tests and the benchmark.
std::vector<std::string> FaqTerms(std::string_view normalized);

}  // namespace rd
