// Turning one customer message into facts for the claim: dates with their role, problems with figures,
// evidence, contact details and command intents. Pure code; the words it knows come from a Vocabulary
// loaded from knowledge/ (vocabulary.json, countries.json, traditional.json), so operators extend it
// without a rebuild. Thread-safety: a Vocabulary is immutable once parsed; Understand and the other
// functions here only read it and may run on many threads at once. Work per message is linear in its
// length: at most kMaxDatesPerMessage dates and kMaxFiguresPerMessage figures are looked at, and the
// word lists are searched through byte-pair indexes built at load time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dialogs/dates.h"

namespace rd {

// Phrases for one intent. `exact`: the whole message (punctuation and politeness stripped) is one of
// them. `contains`: the phrase anywhere in the message is enough.
struct IntentPhrases {
  std::vector<std::string> exact;
  std::vector<std::string> contains;
};

// The words of a map of lists (problem categories, evidence types, date roles) by their first two bytes,
// so a message is scanned once for all of them. A word ending in '*' is a stem. Lists whose name starts
// with '_' (helper lists such as "_negations") are left out. Built by ParseVocabulary.
struct PhraseIndex {
  struct Entry {
    std::string word;  // without the '*' of a stem
    std::string tag;   // the list it came from
    bool stem = false;
  };
  std::unordered_map<uint16_t, std::vector<Entry>> by_pair;
  std::vector<bool> has_pair = std::vector<bool>(65536, false);  // by_pair's keys, tested before the map
  std::vector<Entry> single_bytes;  // one-byte words, looked up separately
  void Build(const std::map<std::string, std::vector<std::string>>& lists);
};

struct Vocabulary {
  std::map<std::string, IntentPhrases> intents;                 // "yes", "cancel", "human", ...
  std::map<std::string, std::vector<std::string>> date_roles;   // slot name -> cue words
  std::map<std::string, std::vector<std::string>> problems;     // category -> keywords
  std::vector<std::string> unreachable_cues;                    // "can't connect", "连不上"
  std::map<std::string, std::string> regions;                   // spelling -> canonical region name
  // canonical region name -> how specific it is: 0 an area (东南亚, LATAM), 1 a country, 2 a city. The
  // most specific place named is where the problem is seen.
  std::map<std::string, int> region_levels;
  // The spellings of `regions` by their first two bytes (spelling, canonical name): a message is scanned
  // once for places, whatever the size of the gazetteer. Built by ParseRegions.
  std::unordered_map<uint16_t, std::vector<std::pair<std::string, std::string>>> region_index;
  std::vector<bool> region_pairs = std::vector<bool>(65536, false);  // region_index's keys
  std::vector<std::string> based_cues;     // "based in", "我们在": the place after it is where the customer is
  std::vector<std::string> promise_cues;   // "contract says", "宣传的": the figure after it was promised
  std::map<std::string, std::vector<std::string>> evidence;     // evidence type -> keywords
  std::vector<std::string> contact_cues;                        // "order", "订单号" (kind "account")
  // Contact kind -> the labels written before such an identifier: wechat -> "微信", "wechat"; phone ->
  // "电话", "phone"; order -> "订单号", "order"; email -> "邮箱". The identifier after the label is kept.
  std::map<std::string, std::vector<std::string>> contact_labels;
  // The region phone numbers without a country code are read in, per conversation language (zh -> CN).
  std::map<std::string, std::string> phone_regions = {{"zh", "CN"}, {"en", "US"}};
  // Evidence type -> the type a picture of it proves: a screenshot of a chat is communication_records,
  // of a speed test a screenshot. Types not listed become "screenshot" when pictured.
  std::map<std::string, std::string> evidence_pictured;
  std::vector<std::string> jitter_words;                        // "jitter", "抖动"
  std::vector<std::string> fine_cues;                           // "is fine", "正常"
  std::vector<std::string> period_cues;                         // "这两周", "every evening"
  IntentPhrases questions;  // contains: "吗", "?" anywhere; starts: "how", "can i" at the start
  // How to read 05/01/2026 in each language: "month_first", "day_first" or "ask" the customer.
  std::map<std::string, std::string> numeric_dates = {{"en", "month_first"}, {"zh", "ask"}};
  std::vector<std::string> filler;                              // "please", "请" — stripped for `exact`
  std::map<std::string, std::string> evidence_file_types;       // file extension -> evidence type
  std::map<std::string, std::vector<std::string>> billing_models;  // duration | traffic | monthly -> cues
  std::map<std::string, std::string> currencies;  // "元", "usd", "$" -> ISO code; marks a figure as money
  std::vector<std::string> traffic_words;         // "traffic", "流量": "used 40% of the traffic"
  // The date words (knowledge/dates.json), used when the DateOptions given to Understand name none.
  std::shared_ptr<const DateVocabulary> dates;
  PhraseIndex problem_index, evidence_index, role_index;  // of problems, evidence and date_roles
  // Traditional -> simplified Chinese, one 3-byte UTF-8 character for one (knowledge/traditional.json,
  // generated from OpenCC): the understanding folds each message with it, keeping every byte offset.
  std::unordered_map<uint32_t, uint32_t> traditional;
};

// Parses the vocabulary JSON; on a malformed document returns false and says why in `error`.
bool ParseVocabulary(const nlohmann::json& doc, Vocabulary* out, std::string* error);
// Adds places to out->regions: {"areas"|"countries"|"cities": {canonical name: [spellings]}}. Used for
// vocabulary.json's "regions" and for the generated knowledge/countries.json.
bool ParseRegions(const nlohmann::json& doc, Vocabulary* out, std::string* error);
// Adds {"t2s": {"開": "开", ...}} to out->traditional; only pairs of 3-byte characters are accepted.
bool ParseTraditional(const nlohmann::json& doc, Vocabulary* out, std::string* error);

struct DateFact {
  Date date;
  std::string role;  // a slot name from Vocabulary::date_roles, or empty when no cue word is near
  std::optional<Date> alternative;  // the other reading of an ambiguous numeric date (05/01/2026)
  bool about_problem = false;       // no role, in a clause about a problem: when it was seen
};

struct Problem {
  std::string category;     // availability | latency | bandwidth | packet_loss | region_unreachable |
                            // feature_missing | support_missing | other
  std::string description;  // the customer's own words
  nlohmann::json metrics = nlohmann::json::object();  // latency_ms, packet_loss_pct, region, ...
};

// One way to reach the customer: kind email | phone | wechat | line | whatsapp | telegram | order |
// account, and the identifier as the customer wrote it, without its label.
struct ContactId {
  std::string kind;
  std::string value;
};

struct Evidence {
  std::string type;  // contract | payment_receipt | communication_records | test_report | screenshot | other
  std::string description;
};

// Everything one message says. Intent flags are independent: "no, activation was 2026-11-06" is both
// `no` and a date.
struct Understanding {
  std::vector<DateFact> dates;
  std::vector<Problem> problems;
  // Categories the customer takes back or calls fine in this message ("不是带宽问题", "bandwidth is fine"):
  // the dialog drops them from what earlier messages reported.
  std::vector<std::string> retracted_problems;
  std::vector<Evidence> evidence;
  std::optional<std::string> email;
  std::optional<std::string> account;  // order or account number
  std::vector<ContactId> contacts;     // every identifier found, email and account included
  std::vector<std::string> ticket_ids; // RF-YYYYMMDD-NNNN mentioned
  // For the refund estimate: "we paid 3,000 yuan for the monthly plan", "流量用了40%".
  std::optional<std::string> billing_model;  // duration | traffic | monthly
  std::optional<double> amount_paid;
  std::optional<std::string> currency;       // ISO code, when the customer named one
  std::optional<double> traffic_used_pct;
  std::map<std::string, bool> intents; // intent name -> present; "question" when it asks something
  bool Has(const std::string& intent) const {
    auto it = intents.find(intent);
    return it != intents.end() && it->second;
  }
};

// Understand, also saying how many dates it looked at (for the test that the work is bounded).
Understanding UnderstandCounted(std::string_view original, std::string_view normalized, Date today,
                                const Vocabulary& vocab, std::string_view pending_slot,
                                const DateOptions& date_options, std::string_view lang, size_t* dates_considered);

// At most this many dates and this many figures of one message are looked at: the work per message stays
// linear in its length whatever it repeats (a 60 KB message of "5号").
inline constexpr size_t kMaxDatesPerMessage = 16;
inline constexpr size_t kMaxFiguresPerMessage = 16;

// `original` is the customer's text as sent (kept for descriptions), `normalized` its
// NormalizeForParsing form. `pending_slot` lets a bare answer ("123456") count as the asked-for value.
// `lang` ("zh" | "en") picks the default phone region (Vocabulary::phone_regions). Thread-safe: reads
// `vocab` only.
Understanding Understand(std::string_view original, std::string_view normalized, Date today,
                         const Vocabulary& vocab, std::string_view pending_slot,
                         const DateOptions& date_options = {}, std::string_view lang = "");

// The evidence type of an uploaded file: from words in its name ("invoice_oct.pdf", "合同.pdf",
// "speedtest-sg.csv"), else from its extension ("IMG_2041.png" is a screenshot), else "other".
std::string EvidenceTypeForFile(std::string_view file_name, const Vocabulary& vocab);

// Ticket ids in text: RF-YYYYMMDD-NNNN (case-insensitive).
std::vector<std::string> FindTicketIds(std::string_view normalized);

// The date options for a customer writing `lang` ("zh" | "en"): the vocabulary's date words and its
// numeric policy for the language ("ask" takes the language's usual reading). Without date words only
// numeric dates are found.
DateOptions DateOptionsForLang(const Vocabulary& vocab, std::string_view lang);

}  // namespace rd
