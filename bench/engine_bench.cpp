// In-process cost of the dialog engine alone: the 7-turn bench claim through Step(), with the state
// round-tripped through JSON as the service does. No HTTP, no storage. Prints turns/s on one core.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "dialogs/engine.h"
#include "knowledge/knowledge.h"

int main(int argc, char** argv) {
  std::vector<std::string> errors;
  auto k = rd::LoadKnowledge(argc > 1 ? argv[1] : "knowledge", &errors);
  if (!k) { for (auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str()); return 1; }
  const std::vector<std::string> turns = {"I want a refund", "I paid on 2026-11-01", "it was activated on 2026-11-05",
                                          "latency over 300ms and packet loss 5%", "monitoring report attached",
                                          "my email is bench@example.com", "yes"};
  rd::DialogContext ctx;
  ctx.knowledge = k.get();
  ctx.today = rd::Date{2026, 11, 27};
  ctx.now = ctx.today.ToDays() * 86400;
  const int conversations = argc > 2 ? std::atoi(argv[2]) : 20000;
  size_t filed = 0;
  auto start = std::chrono::steady_clock::now();
  for (int c = 0; c < conversations; ++c) {
    std::string stored = rd::ToJson(rd::DialogState{}).dump();
    for (const auto& text : turns) {
      rd::DialogState state = rd::DialogStateFromJson(nlohmann::json::parse(stored));
      rd::StepResult r = rd::Step(state, text, ctx);
      stored = rd::ToJson(r.state).dump();
      filed += r.effects.size();
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double n = double(conversations) * turns.size();
  std::printf("engine: %.0f turns/s on one core (%.1f us/turn), %zu tickets\n", n / secs, 1e6 * secs / n, filed);
}
