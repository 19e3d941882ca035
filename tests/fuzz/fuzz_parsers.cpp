// libFuzzer harness for everything that parses what strangers send, on arbitrary bytes. The first byte
// picks the target (the rest is the input), so one corpus grows for all of them:
//   't'  language understanding: normalisation, dates (both numeric orders, with and without an anchor),
//        problems, evidence, contact and intents, and one engine step (invalid UTF-8 is refused by the
//        API before parsing, so the harness does the same)
//   's'  a Slack Events API body, signed with the test secret so that parsing is reached
//   'w'  a WeCom callback: the input as the decrypted XML (encrypted and signed here), and as the outer body
//   'v'  a staff slot value (JSON): whatever SetSlotByStaff accepts must survive the summary, a filing
//        turn and the assessment; AssessClaim must survive any claim
// An exception that escapes is a crash (the server would fail that turn), as is a slow input (-timeout).
// Build and run: scripts/fuzz.sh (README "Fuzzing").
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>

#include "bot/channels/slack.h"
#include "bot/channels/wecom.h"
#include "bot/env.h"
#include "bot/log.h"
#include "dialogs/dates.h"
#include "dialogs/engine.h"
#include "dialogs/text.h"
#include "dialogs/understanding.h"
#include "knowledge/assessment.h"
#include "knowledge/knowledge.h"

namespace {

const char kSlackSecret[] = "fuzz-signing-secret";
const char kWeComToken[] = "QDG6eK";
const char kWeComKey[] = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const char kCorpId[] = "wx5823bf96d3bd56c7";

std::shared_ptr<const rd::Knowledge> Load() {
  rd::SetLogLevel(rd::LogLevel::kOff);
  std::vector<std::string> errors;
  const char* dir = std::getenv("RD_KNOWLEDGE_DIR");
  auto k = rd::LoadKnowledge(dir ? dir : RD_KNOWLEDGE_DIR, &errors);
  if (!k) __builtin_trap();
  return k;
}

rd::DialogContext Context(const rd::Knowledge& k) {
  rd::DialogContext ctx;
  ctx.knowledge = &k;
  ctx.today = rd::Date{2026, 11, 27};
  return ctx;
}

void Text(const std::string& text, const rd::Knowledge& k) {
  if (!rd::IsValidUtf8(text)) return;
  std::string norm = rd::NormalizeForParsing(text);
  const rd::Date today{2026, 11, 27};
  rd::DateOptions day_first;
  day_first.numeric_order = rd::NumericOrder::kDayFirst;
  day_first.anchor = rd::Date{2026, 1, 31};
  day_first.year_first = true;
  day_first.vocabulary = k.vocab.dates.get();
  rd::DateOptions words;
  words.vocabulary = k.vocab.dates.get();
  for (const auto& m : rd::FindDates(norm, today, words)) {
    if (m.end > norm.size() || m.begin >= m.end) __builtin_trap();
  }
  rd::FindDates(norm, today, day_first);
  rd::FindDates(norm, today);  // no vocabulary: numeric forms only
  rd::Understand(text, norm, today, k.vocab, "contact");
  rd::EvidenceTypeForFile(text, k.vocab);
  rd::DialogState state;
  state.state = "collecting";
  state.pending = "problems";
  rd::Step(state, text, Context(k));
}

void Slack(const std::string& body) {
  static const rd::SlackSettings settings = [] {
    rd::SlackSettings s;
    s.signing_secret = kSlackSecret;
    s.bot_token = "xoxb-fuzz";
    s.bot_user_id = "UBOT";
    return s;
  }();
  const int64_t now = std::time(nullptr);
  const std::string ts = std::to_string(now);
  rd::SlackEventIntake(settings, ts, rd::SlackSignature(kSlackSecret, ts, body), body, now);
}

void WeCom(const std::string& inner) {
  static const auto callback = [] {
    rd::WeComSettings s;
    s.corp_id = kCorpId;
    s.token = kWeComToken;
    s.aes_key = kWeComKey;
    std::string error;
    auto c = rd::WeComCallback::Create(s, rd::SystemRandom(), &error);
    if (!c) __builtin_trap();
    return c;
  }();
  static const auto crypto = [] {
    std::string error;
    return *rd::WeComCrypto::Create(kWeComToken, kWeComKey, kCorpId, &error);
  }();
  const std::string ts = std::to_string(std::time(nullptr)), nonce = "42";
  const std::string enc = crypto.Encrypt(inner, "0123456789abcdef");
  callback->Intake(crypto.Signature(ts, nonce, enc), ts, nonce, "<xml><Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>");
  callback->Intake("x", ts, nonce, inner);  // the outer body itself: refused, never a crash
}

void SlotValue(const std::string& text, const rd::Knowledge& k) {
  const nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
  if (value.is_discarded()) return;
  rd::AssessClaim(value, k.policy, rd::Date{2026, 11, 27});  // any claim at all
  const rd::DialogContext ctx = Context(k);
  for (const rd::SlotSpec& slot : k.flow.slots) {
    rd::DialogState state;
    state.state = "confirming";
    state.lang_known = true;
    std::string error;
    if (!rd::SetSlotByStaff(&state, ctx, slot.name, value, &error)) {
      if (error.empty()) __builtin_trap();  // a refusal always says why
      continue;
    }
    rd::StaffSummary(state, k, rd::Lang::kEn);
    rd::StepResult r = rd::Step(state, "yes", ctx);
    for (const rd::Effect& e : r.effects) {
      if (e.kind == rd::Effect::Kind::kFileTicket) rd::AssessClaim(e.claim, k.policy, ctx.today);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto knowledge = Load();
  if (size == 0) return 0;
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0]) {
    case 's': Slack(input); break;
    case 'w': WeCom(input); break;
    case 'v': SlotValue(input, *knowledge); break;
    default: Text(input, *knowledge); break;
  }
  return 0;
}
