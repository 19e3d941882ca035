// FAQ retrieval at scale: a generated knowledge set whose faq.json holds 10,000 entries (4 Chinese and
// 4 English phrasings each, plus answers; every entry also says "refund"/"退款", the worst case for
// posting lists) and the lexicon of KNOWLEDGE_DIR's faq.json, loaded the way the server loads it, then 20,000 questions (phrasings with a word
// dropped and filler added, and real customer questions). Prints load time, resident memory and
// per-question latency (p50/p99/max). Targets (issue 4): load ≤ 1 s, ≤ 100 MiB, p99 ≤ 1 ms.
//
//   faq_bench [KNOWLEDGE_DIR] [ENTRIES]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dialogs/text.h"
#include "knowledge/knowledge.h"

namespace {

long ResidentKiB(const char* field) {  // VmRSS / VmHWM from /proc/self/status
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::string(field).size() + 1));
  }
  return -1;
}

std::string Han(uint32_t cp) {  // one CJK ideograph as UTF-8
  std::string s;
  s += static_cast<char>(0xE0 | (cp >> 12));
  s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  s += static_cast<char>(0x80 | (cp & 0x3F));
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  using clock = std::chrono::steady_clock;
  const std::string source = argc > 1 ? argv[1] : "knowledge";
  const int entries = argc > 2 ? std::atoi(argv[2]) : 10000;
  std::mt19937 rng(20261127);

  // Vocabularies: 4,000 English-like words, 2,500 Chinese two-character words.
  const char* syllables[] = {"ka", "lo", "mi", "ten", "ra", "vo", "sen", "tu", "pe", "dar", "qui", "ne", "sol", "ba", "zen", "fi"};
  std::vector<std::string> en_words, zh_words;
  for (int i = 0; i < 4000; ++i) {
    std::string w;
    for (int k = 0; k < 2 + i % 3; ++k) w += syllables[rng() % 16];
    en_words.push_back(w);
  }
  for (int i = 0; i < 2500; ++i) zh_words.push_back(Han(0x4E00 + rng() % 0x4000) + Han(0x4E00 + rng() % 0x4000));
  auto pick = [&](const std::vector<std::string>& v) -> const std::string& { return v[rng() % v.size()]; };

  // The lexicon of the source faq.json (concepts, synonyms, traditional characters, background and
  // context words), so the benchmark pays for reading them as the shipped file does.
  nlohmann::json doc = {{"synonyms", nlohmann::json::object()}, {"entries", nlohmann::json::array()}};
  {
    std::ifstream in(fs::path(source) / "faq.json");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto shipped = nlohmann::json::parse(text, nullptr, false, /*ignore_comments=*/true);
    if (shipped.is_object()) {
      for (const char* key : {"concepts", "synonyms", "traditional", "background_words", "context_words"}) {
        if (shipped.contains(key)) doc[key] = shipped[key];
      }
    }
  }
  std::vector<std::pair<std::string, size_t>> phrasings;  // question, entry index
  for (int e = 0; e < entries; ++e) {
    nlohmann::json zh = nlohmann::json::array(), en = nlohmann::json::array();
    for (int q = 0; q < 4; ++q) {
      std::string z = "退款";
      for (int w = 0; w < 3 + q % 3; ++w) z += pick(zh_words);
      std::string s = "refund";
      for (int w = 0; w < 3 + q % 3; ++w) s += " " + pick(en_words);
      zh.push_back(z);
      en.push_back(s);
      phrasings.push_back({z, static_cast<size_t>(e)});
      phrasings.push_back({s, static_cast<size_t>(e)});
    }
    std::string az, ae;
    for (int w = 0; w < 12; ++w) { az += pick(zh_words); ae += pick(en_words) + " "; }
    doc["entries"].push_back({{"id", "gen." + std::to_string(e)},
                              {"questions", {{"zh", zh}, {"en", en}}},
                              {"answer", {{"zh", az + "{window_days}"}, {"en", ae + "{window_days}"}}}});
  }
  const fs::path dir = fs::temp_directory_path() / ("rd-faq-bench-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::copy(source, dir, fs::copy_options::recursive);
  std::ofstream(dir / "faq.json") << doc.dump();
  const auto faq_bytes = fs::file_size(dir / "faq.json");
  doc = nullptr;

  const long rss_before = ResidentKiB("VmRSS:");
  auto t0 = clock::now();
  std::vector<std::string> errors;
  auto k = rd::LoadKnowledge(dir.string(), &errors);
  const double load_s = std::chrono::duration<double>(clock::now() - t0).count();
  if (getenv("KEEP")) std::printf("kept %s\n", dir.c_str()); else fs::remove_all(dir);
  if (!k) {
    for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
    return 1;
  }
  const long rss_after = ResidentKiB("VmRSS:");

  // Questions: a phrasing with one word dropped and filler around it, as a customer would vary it.
  std::vector<std::pair<std::string, size_t>> questions;
  for (int i = 0; i < 20000; ++i) {
    const auto& [text, entry] = phrasings[rng() % phrasings.size()];
    std::string q = text;
    if (rd::IsHanAt(q, 0)) {
      q = "请问" + q.substr(0, q.size() - 6) + "吗？";
    } else {
      q = "hi, " + q.substr(0, q.rfind(' ')) + " please?";
    }
    questions.push_back({rd::NormalizeForParsing(q), entry});
  }
  std::vector<double> micros;
  micros.reserve(questions.size());
  size_t correct = 0;
  for (const auto& [q, entry] : questions) {
    auto s = clock::now();
    auto m = k->faq.Search(q, 3);
    micros.push_back(std::chrono::duration<double, std::micro>(clock::now() - s).count());
    correct += !m.empty() && m[0].entry == &k->faq.entries()[entry];
  }
  std::sort(micros.begin(), micros.end());
  auto pct = [&](double p) { return micros[std::min(micros.size() - 1, static_cast<size_t>(p * micros.size()))]; };
  std::printf("faq entries: %zu (faq.json %.1f MiB)\n", k->faq.entries().size(), faq_bytes / 1048576.0);
  std::printf("load: %.3f s (target <= 1 s)\n", load_s);
  std::printf("resident: %.1f MiB after load (+%.1f MiB for the knowledge), peak %.1f MiB (target <= 100 MiB)\n",
              rss_after / 1024.0, (rss_after - rss_before) / 1024.0, ResidentKiB("VmHWM:") / 1024.0);
  std::printf("questions: %zu, top-1 = source entry: %.1f %%\n", questions.size(), 100.0 * correct / questions.size());
  std::printf("latency per question: p50 %.1f us, p99 %.1f us, max %.1f us (target p99 <= 1000 us)\n", pct(0.50),
              pct(0.99), micros.back());
  return 0;
}
