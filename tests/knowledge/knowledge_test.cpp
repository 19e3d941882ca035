#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>

#include "knowledge/assessment.h"
#include "knowledge/knowledge.h"
#include "tests/dialogs/dialog_harness.h"

namespace rd::test {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A copy of the shipped knowledge in a temporary folder, to break on purpose.
struct KnowledgeCopy {
  fs::path dir;
  KnowledgeCopy() {
    dir = fs::temp_directory_path() / ("rd-knowledge-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(dir);
    fs::copy(RD_KNOWLEDGE_DIR, dir, fs::copy_options::recursive);
  }
  ~KnowledgeCopy() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  void Write(const std::string& file, const std::string& text) { std::ofstream(dir / file) << text; }
  std::vector<std::string> Errors() {
    std::vector<std::string> errors;
    auto k = LoadKnowledge(dir.string(), &errors);
    CHECK((k == nullptr) == !errors.empty());
    return errors;
  }
  static inline int counter = 0;
};

bool Mentions(const std::vector<std::string>& errors, const std::string& what) {
  for (const auto& e : errors) if (e.find(what) != std::string::npos) return true;
  return false;
}

json Claim(const char* paid, const char* activated) {
  return {{"payment_date", paid}, {"activation_date", activated},
          {"problems", json::array({{{"category", "latency"}, {"metrics", {{"latency_ms", 400}}}}})},
          {"evidence", json::array({{{"type", "contract"}}})}};
}

}  // namespace

TEST_CASE("the shipped knowledge loads and every message has both languages", "[knowledge]") {
  auto k = ShippedKnowledge();
  CHECK(k->messages.all().size() > 60);
  for (const auto& [key, texts] : k->messages.all()) {
    INFO(key);
    CHECK(!texts.first.empty());
    CHECK(!texts.second.empty());
  }
  CHECK(k->flow.slots.size() == 6);
  CHECK(k->policy.window_days == 7);
}

TEST_CASE("broken knowledge files are reported with the file and what is wrong", "[knowledge]") {
  {
    KnowledgeCopy c;
    c.Write("policy.json", "{ \"provider_name\": \"X\",\n  \"window\": {\"days\": 7,, } }");
    auto errors = c.Errors();
    CHECK(Mentions(errors, "policy.json:2"));
  }
  {
    // Field errors carry the line of the entry or key they name.
    KnowledgeCopy c;
    std::string faq;
    {
      std::ifstream in(c.dir / "faq.json");
      faq.assign(std::istreambuf_iterator<char>(in), {});
    }
    size_t at = faq.find("{review_days}", faq.find("\"entries\""));  // not the header comment
    REQUIRE(at != std::string::npos);
    faq.replace(at, 13, "{refund_ratio}");
    c.Write("faq.json", faq);
    size_t id_at = faq.rfind("\"id\":", at);
    std::string id = faq.substr(faq.find('"', id_at + 5) + 1, faq.find('"', faq.find('"', id_at + 5) + 1) - faq.find('"', id_at + 5) - 1);
    size_t line = 1 + std::count(faq.begin(), faq.begin() + static_cast<long>(faq.find("\"" + id + "\"")), '\n');
    auto errors = c.Errors();
    CHECK(Mentions(errors, "faq.json:" + std::to_string(line) + ": entry " + id + ": answer."));
    CHECK(Mentions(errors, "unknown placeholder {refund_ratio}"));
  }
  {
    KnowledgeCopy c;
    c.Write("messages.json", R"({"greeting": {"zh": "你好"}})");
    auto errors = c.Errors();
    CHECK(Mentions(errors, "\"greeting\" needs both"));
    CHECK(Mentions(errors, "lacks"));  // the flow names keys the file no longer has
  }
  {
    KnowledgeCopy c;
    c.Write("policy.json", R"({"provider_name": "X", "window": {"days": 0, "starts_at": "activation"},
      "quality_thresholds": {"availability_pct_min": 99, "latency_ms_max": 200, "packet_loss_pct_max": 1},
      "expected_evidence": []})");
    CHECK(Mentions(c.Errors(), "window.days must be greater than 0"));
  }
  {
    KnowledgeCopy c;
    c.Write("flows/refund_claim.json", R"({"id": "x", "slots": [{"name": "a", "kind": "colour", "prompt": "greeting", "retry": "greeting", "label": "greeting"}]})");
    CHECK(Mentions(c.Errors(), "is not one of date, problems, evidence, contact"));
  }
}

TEST_CASE("assessment: window bases and edges with a fixed today", "[assessment]") {
  Policy p;
  p.window_days = 7;
  p.expected_evidence = {"contract", "payment_receipt"};
  // The article's example: paid 1 January, activated 5 January.
  p.window_start = "activation";
  json a = AssessClaim(Claim("2026-01-01", "2026-01-05"), p, Date{2026, 1, 12});
  CHECK(a["window_end"] == "2026-01-12");
  CHECK(a["within_window"] == true);
  CHECK(a["days_left"] == 0);  // last day in
  CHECK(a["verdict"] == "likely_eligible");
  a = AssessClaim(Claim("2026-01-01", "2026-01-05"), p, Date{2026, 1, 13});
  CHECK(a["within_window"] == false);  // first day out
  CHECK(a["days_late"] == 1);
  CHECK(a["verdict"] == "outside_window");

  p.window_start = "payment";
  a = AssessClaim(Claim("2026-01-01", "2026-01-05"), p, Date{2026, 1, 8});
  CHECK(a["window_end"] == "2026-01-08");
  CHECK(a["within_window"] == true);
  CHECK(AssessClaim(Claim("2026-01-01", "2026-01-05"), p, Date{2026, 1, 9})["verdict"] == "outside_window");

  p.window_start = "later_of_both";
  a = AssessClaim(Claim("2026-01-06", "2026-01-05"), p, Date{2026, 1, 10});
  CHECK(a["window_start"] == "2026-01-06");
  CHECK(a["evidence_missing"] == json::array({"payment_receipt"}));
}

TEST_CASE("assessment: grounds and verdicts", "[assessment]") {
  Policy p;
  json claim = Claim("2026-11-01", "2026-11-05");
  claim["problems"] = json::array({{{"category", "latency"}, {"metrics", {{"latency_ms", 150}}}},
                                   {{"category", "packet_loss"}, {"metrics", {{"packet_loss_pct", 0.5}}}},
                                   {{"category", "availability"}, {"metrics", {{"availability_pct", 99.9}}}}});
  json a = AssessClaim(claim, p, Date{2026, 11, 6});
  CHECK(a["grounds"].empty());
  CHECK(a["verdict"] == "needs_review");  // within the window, but no figure beyond the promise
  claim["problems"].push_back({{"category", "region_unreachable"}, {"metrics", {{"region", "Singapore"}}}});
  a = AssessClaim(claim, p, Date{2026, 11, 6});
  REQUIRE(a["grounds"].size() == 1);
  CHECK(a["grounds"][0]["ground"] == "not_delivered_as_agreed");
  CHECK(a["verdict"] == "likely_eligible");
  claim["problems"] = json::array({{{"category", "availability"}, {"metrics", {{"availability_pct", 98}}}}});
  a = AssessClaim(claim, p, Date{2026, 11, 6});
  CHECK(a["grounds"][0]["metric"] == "availability_pct");
  // No activation date: the window falls back to the payment date and says so.
  claim["activation_date"] = nullptr;
  a = AssessClaim(claim, p, Date{2026, 11, 6});
  CHECK(a["window_start_basis"] == "payment");
  CHECK(a["window_end"] == "2026-11-08");
}

TEST_CASE("assessment: the refund estimate per billing model, capped, and the fees kept", "[assessment][estimate]") {
  auto k = ShippedKnowledge();
  Policy p = k->policy;  // monthly 30 days, duration 90 days, traffic by share used; cap 100 %
  json claim = Claim("2026-11-01", "2026-11-05");

  // Nothing known about billing: no estimate, and staff see what is missing.
  json a = AssessClaim(claim, p, Date{2026, 11, 10});
  CHECK(a["estimate"]["refund"].is_null());
  CHECK(a["estimate"]["missing"] == json::array({"billing_model", "amount_paid"}));

  // Monthly: 3000 paid, activated 5 Nov, claimed 17 Nov → 12 of 30 days used.
  claim["billing_model"] = "monthly";
  claim["amount_paid"] = 3000;
  a = AssessClaim(claim, p, Date{2026, 11, 17});
  CHECK(a["estimate"]["days_used"] == 12);
  CHECK(a["estimate"]["refund"].get<double>() == Approx(1800));
  CHECK(a["estimate"]["formula"] == "3000 × (30 − 12) ÷ 30 = 1800");
  CHECK(a["estimate"]["currency"] == "CNY");
  // Used up: nothing left to refund, never a negative amount.
  CHECK(AssessClaim(claim, p, Date{2027, 1, 30})["estimate"]["refund"].get<double>() == 0);

  // Duration: a 90-day term, 10 days used.
  claim["billing_model"] = "duration";
  a = AssessClaim(claim, p, Date{2026, 11, 15});
  CHECK(a["estimate"]["refund"].get<double>() == Approx(2666.67));
  CHECK(a["estimate"]["formula"] == "3000 × (90 − 10) ÷ 90 = 2666.67");

  // Traffic: needs the share used.
  claim["billing_model"] = "traffic";
  a = AssessClaim(claim, p, Date{2026, 11, 15});
  CHECK(a["estimate"]["refund"].is_null());
  CHECK(a["estimate"]["missing"] == json::array({"traffic_used_pct"}));
  claim["traffic_used_pct"] = 40;
  a = AssessClaim(claim, p, Date{2026, 11, 15});
  CHECK(a["estimate"]["refund"].get<double>() == Approx(1800));
  CHECK(a["estimate"]["formula"] == "3000 × (100 − 40) ÷ 100 = 1800");

  // The cap: at most half of the amount, then at most 1000.
  p.refund_cap_ratio = 0.5;
  a = AssessClaim(claim, p, Date{2026, 11, 15});
  CHECK(a["estimate"]["refund"].get<double>() == Approx(1500));
  CHECK(a["estimate"]["formula"].get<std::string>().find("capped at 1500") != std::string::npos);
  p.refund_cap_amount = 1000;
  CHECK(AssessClaim(claim, p, Date{2026, 11, 15})["estimate"]["refund"].get<double>() == Approx(1000));

  // Fees refunded at less than 100 % are listed with their ratio, as the policy file says.
  a = AssessClaim(claim, k->policy, Date{2026, 11, 15});
  CHECK(a["fees_not_refundable"] == json::array({{{"fee", "access_fee"}, {"refund_ratio", 0}},
                                                  {{"fee", "special_feature_fee"}, {"refund_ratio", 0.5}},
                                                  {{"fee", "support_fee"}, {"refund_ratio", 0}}}));
}

TEST_CASE("date vocabulary errors name dates.json and what is wrong", "[knowledge][dates]") {
  auto broken = [](const std::function<void(json&)>& edit) {
    KnowledgeCopy c;
    std::ifstream in(c.dir / "dates.json");
    json doc = json::parse(in, nullptr, true, /*ignore_comments=*/true);
    edit(doc);
    c.Write("dates.json", doc.dump(2));
    return c.Errors();
  };
  auto errors = broken([](json& d) { d["words"].erase("month_name"); });
  CHECK(Mentions(errors, "dates.json"));
  CHECK(Mentions(errors, "words.month_name is missing"));
  errors = broken([](json& d) { d["words"]["month_name"]["smarch"] = 13; });
  CHECK(Mentions(errors, "\"smarch\" needs a whole number from 1 to 12"));
  errors = broken([](json& d) { d["holidays"][0]["kind"] = "weekly"; });
  CHECK(Mentions(errors, "holiday 0: kind must be fixed, nth_weekday or lunar"));
  errors = broken([](json& d) { d["holidays"][0]["month"] = 2; d["holidays"][0]["day"] = 30; });
  CHECK(Mentions(errors, "holiday 0: month, day, weekday or nth out of range"));
  errors = broken([](json& d) { d["lunar"]["years"][3] = "fffff"; });
  CHECK(Mentions(errors, "lunar.years: fffff is no year"));
  CHECK(broken([](json&) {}).empty());
}

TEST_CASE("policy errors: fee ratios, caps and billing models", "[knowledge]") {
  auto policy_with = [](const std::string& extra) {
    return R"({"provider_name": "X", "window": {"days": 7, "starts_at": "activation"},
      "quality_thresholds": {"availability_pct_min": 99, "latency_ms_max": 200, "packet_loss_pct_max": 1},
      "expected_evidence": [],
)" + extra + "}";
  };
  {
    KnowledgeCopy c;
    c.Write("policy.json", policy_with(R"("fees": {"support_fee": {"refund_ratio": 1.5}})"));
    auto errors = c.Errors();
    CHECK(Mentions(errors, "policy.json:4: fee \"support_fee\": refund_ratio must be between 0 and 1"));
  }
  {
    KnowledgeCopy c;
    c.Write("policy.json", policy_with(R"("fees": {"access_fee": {"refund_ratio": -0.1}}, "refund_cap": {"max_ratio_of_paid": 2})"));
    auto errors = c.Errors();
    CHECK(Mentions(errors, "fee \"access_fee\": refund_ratio must be between 0 and 1"));
    CHECK(Mentions(errors, "refund_cap.max_ratio_of_paid must be between 0 and 1"));
  }
  {
    KnowledgeCopy c;
    c.Write("policy.json", policy_with(R"("billing_models": {"monthly": {"prorate": "unused_days"}, "yearly": {"prorate": "magic"}})"));
    auto errors = c.Errors();
    CHECK(Mentions(errors, "billing model \"monthly\": term_days must be greater than 0"));
    CHECK(Mentions(errors, "billing model \"yearly\" is not one of duration, traffic, monthly"));
    CHECK(Mentions(errors, "prorate must be unused_days or unused_traffic"));
  }
  {
    KnowledgeCopy c;
    c.Write("policy.json", policy_with(R"("fees": {"setup_fee": {"refund_ratio": 0}})"));
    CHECK(Mentions(c.Errors(), "fee \"setup_fee\" has no message fee.setup_fee"));
  }
}

TEST_CASE("FAQ answers quote the fees and billing terms of the loaded policy", "[faq][knowledge]") {
  auto k = ShippedKnowledge();
  json en = k->PolicyParams(Lang::kEn), zh = k->PolicyParams(Lang::kZh);
  CHECK(en["fees_not_refundable"] == "access fee, support fee");
  CHECK(en["fees_partly_refundable"] == "special-feature fee (50% refunded)");
  CHECK(zh["fees_not_refundable"] == "接入费、技术支持费");
  CHECK(en["monthly_term_days"] == "30");
  CHECK(en["refund_cap_pct"] == "100");
}

}  // namespace rd::test
