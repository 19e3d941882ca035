// The FAQ and its retrieval. A question in either language finds the closest entry by BM25 over
// Chinese character bigrams and lightly stemmed English words; one document per entry (all its
// phrasings in both languages). Pure and read-only once built.
// What the words mean comes from faq.json, never from code:
//  - "concepts": a concept's phrasings in both languages ("退钱", "退费", "money back", "how long") are
//    one retrieval term, found before Chinese is cut into bigrams and across English words;
//  - "traditional": traditional characters read as their simplified forms (範圍 -> 范围);
//  - "background_words": words that name the domain or the act of asking (退款, refund, 你们, how):
//    they weigh little, and an entry shares at least one other word with a question or does not
//    match it at all (the off-topic guard);
//  - "context_words" and an entry's "in_context_only": an entry whose words are common outside refunds
//    (exchange rates) answers only a question that also has one of these words (退款, paid, fee);
//  - an entry's "topic": the family it answers for (window.payment_vs_activation answers a
//    window.start question); its own id when absent.
#pragma once

#include <nlohmann/json.hpp>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace rd {

struct FaqEntry {
  std::string id;
  std::string topic;  // the family the entry belongs to: faq.json "topic", else the id
  bool in_context_only = false;  // answers only questions that have a context word
  std::vector<std::string> questions_zh, questions_en;
  std::string answer_zh, answer_en;
};

struct FaqMatch {
  const FaqEntry* entry = nullptr;
  double score = 0;       // ranking score: BM25 relative to the best, plus closest-phrasing similarity
  double confidence = 0;  // 0..1: how much of the question the entry explains
};

// A set of the characters of 3-byte UTF-8 (U+0800..U+FFFF, all of Chinese), one bit each: loading
// 10,000 entries asks it about every character of every phrasing.
struct FaqCharSet {
  std::vector<uint64_t> bits = std::vector<uint64_t>(1024);
  void insert(uint32_t cp) { bits[cp >> 6] |= uint64_t{1} << (cp & 63); }
  bool count(uint32_t cp) const { return (bits[cp >> 6] >> (cp & 63)) & 1; }
};

// Concepts: many phrasings, one retrieval term ("#<name>"). Keys point into `storage`.
struct FaqLexicon {
  std::vector<std::unique_ptr<std::string>> storage;
  std::unordered_map<std::string_view, std::string_view> han;    // a Chinese phrasing -> its term
  std::vector<size_t> han_lengths;                               // their byte lengths, longest first
  FaqCharSet han_first;                                          // first characters of those phrasings
  std::unordered_map<std::string_view, std::string_view> words;  // stemmed English words, ' '-joined
  // First word of English phrasings -> the most words a phrasing starting with it has: one probe
  // rules out a word that starts none, as most words do.
  std::unordered_map<std::string_view, size_t> first_words;
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

  // The retrieval terms: characters folded, concepts found, then FaqTerms' rules, then synonyms.
  std::vector<std::string> Terms(std::string_view normalized) const;
  std::string Fold(std::string_view normalized) const;  // traditional characters -> simplified
  bool LoadLexicon(const nlohmann::json& doc, std::vector<std::string>* errors);
  void LoadConcepts(const nlohmann::json& concepts, std::vector<std::string>* errors);
  bool LoadEntry(const nlohmann::json& e, size_t i, const std::vector<std::string>& placeholders,
                 std::set<std::string>* ids, std::vector<std::string>* errors);
  void BuildIndex();
  void Rerank(const std::vector<TermId>& ids, std::vector<FaqMatch>* matches) const;
  bool KnownChar(std::string_view s, size_t i) const;  // a Han character at byte i that some entry uses
  TermId Intern(const std::string& term);
  TermId IdOf(const std::string& term) const;

  std::unordered_map<std::string, std::string> synonyms_;
  FaqLexicon lexicon_;
  std::vector<uint32_t> fold_;  // by code point (3-byte UTF-8 only): its simplified form, 0 = itself; empty: none
  FaqCharSet known_chars_;      // Han characters of the entries' phrasings
  std::unordered_set<std::string> context_;     // terms of faq.json "context_words"
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
// words without stop words, lightly stemmed; with a lexicon, its concepts first. Exposed for tests
// and the benchmark.
std::vector<std::string> FaqTerms(std::string_view normalized, const FaqLexicon* lexicon = nullptr);

}  // namespace rd
