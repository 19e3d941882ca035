// Parser speed on one core: 100,000 customer sentences (half Chinese, half English, built from the
// kinds of sentences customers write), through normalisation + date finding, and through the whole
// understanding step (dates, problems, figures, evidence, contact, intents).
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "dialogs/dates.h"
#include "dialogs/text.h"
#include "dialogs/understanding.h"
#include "knowledge/knowledge.h"

int main(int argc, char** argv) {
  std::vector<std::string> errors;
  auto k = rd::LoadKnowledge(argc > 1 ? argv[1] : "knowledge", &errors);
  if (!k) return 1;
  const std::vector<std::string> templates = {
      "I paid on 2026-11-{d} and it was activated on 2026-11-{e}",
      "we paid on the {d}rd of last month but the line only went live a week later",
      "latency over {n}ms and packet loss {d}% since last monday",
      "Singapore viewers can't connect at all since Nov {d}",
      "paid {d} days ago, activated yesterday, bandwidth only {d} Mbps",
      "我是上个月{d}号付的款，{e}号才开通，这两周东南亚那边一直卡，延迟三四百毫秒",
      "2026年11月{d}日付款，三天后开通，丢包百分之{d}",
      "上周一付的钱，上周五开通的，可用性只有9{d}%",
      "开通是11月{e}号，付款是11月{d}号，带宽只有{d}兆",
      "我有合同和付款凭证，还有监控报告，订单号 LL-{n}"};
  std::vector<std::string> sentences;
  sentences.reserve(100000);
  for (int i = 0; sentences.size() < 100000; ++i) {
    const std::string& t = templates[i % templates.size()];
    std::string out;
    for (size_t p = 0; p < t.size();) {  // fill {d} {e} {n}
      if (t.compare(p, 3, "{d}") == 0) { out += std::to_string(1 + i % 9); p += 3; }
      else if (t.compare(p, 3, "{e}") == 0) { out += std::to_string(10 + i % 15); p += 3; }
      else if (t.compare(p, 3, "{n}") == 0) { out += std::to_string(100 + i % 900); p += 3; }
      else out.push_back(t[p++]);
    }
    sentences.push_back(std::move(out));
  }
  rd::Date today{2026, 11, 27};
  size_t found = 0;
  auto t0 = std::chrono::steady_clock::now();
  rd::DateOptions options;
  options.vocabulary = k->vocab.dates.get();
  for (const auto& s : sentences) found += rd::FindDates(rd::NormalizeForParsing(s), today, options).size();
  double dates_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  size_t problems = 0;
  t0 = std::chrono::steady_clock::now();
  for (const auto& s : sentences) problems += rd::Understand(s, rd::NormalizeForParsing(s), today, k->vocab, "").problems.size();
  double full_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("dates:         %zu sentences in %.3f s = %.0f sentences/s (%zu dates)\n", sentences.size(), dates_s,
              sentences.size() / dates_s, found);
  std::printf("understanding: %zu sentences in %.3f s = %.0f sentences/s (%zu problems)\n", sentences.size(), full_s,
              sentences.size() / full_s, problems);
}
