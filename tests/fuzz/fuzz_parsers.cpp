// libFuzzer harness for the language-understanding code: normalisation, dates (both numeric orders, with
// and without an anchor), problems, evidence, contact and intents, on arbitrary bytes. Invalid UTF-8 is
// refused by the API before parsing, so the harness does the same; it also runs one engine step.
// Build and run: see README "Fuzzing".
#include <cstddef>
#include <cstdint>
#include <string>

#include "dialogs/dates.h"
#include "dialogs/engine.h"
#include "dialogs/text.h"
#include "dialogs/understanding.h"
#include "knowledge/knowledge.h"

namespace {
std::shared_ptr<const rd::Knowledge> Load() {
  std::vector<std::string> errors;
  const char* dir = std::getenv("RD_KNOWLEDGE_DIR");
  auto k = rd::LoadKnowledge(dir ? dir : RD_KNOWLEDGE_DIR, &errors);
  if (!k) __builtin_trap();
  return k;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto knowledge = Load();
  std::string text(reinterpret_cast<const char*>(data), size);
  if (!rd::IsValidUtf8(text)) return 0;
  std::string norm = rd::NormalizeForParsing(text);
  rd::Date today{2026, 11, 27};
  rd::DateOptions day_first;
  day_first.numeric_order = rd::NumericOrder::kDayFirst;
  day_first.anchor = rd::Date{2026, 1, 31};
  day_first.year_first = true;
  day_first.vocabulary = knowledge->vocab.dates.get();
  rd::DateOptions words;
  words.vocabulary = knowledge->vocab.dates.get();
  for (const auto& m : rd::FindDates(norm, today, words)) {
    if (m.end > norm.size() || m.begin >= m.end) __builtin_trap();
  }
  rd::FindDates(norm, today, day_first);
  rd::FindDates(norm, today);  // no vocabulary: numeric forms only
  rd::Understand(text, norm, today, knowledge->vocab, "contact");
  rd::EvidenceTypeForFile(text, knowledge->vocab);
  rd::DialogContext ctx;
  ctx.knowledge = knowledge.get();
  ctx.today = today;
  rd::DialogState state;
  state.state = "collecting";
  state.pending = "problems";
  rd::Step(state, text, ctx);
  return 0;
}
