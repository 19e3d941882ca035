// WebTurnBatch (bot/conversation_service.h): the web turns an event loop gathers in one pass, decided
// under their conversations' locks and committed together, against the real engine and SQLite store.
#include <catch2/catch.hpp>
#include <algorithm>
#include <filesystem>
#include <set>
#include <thread>
#include <unistd.h>

#include "bot/conversation_service.h"
#include "storage/sqlite_store.h"

namespace rd {

namespace {

class CountingRandom : public Random {
 public:
  void Fill(unsigned char* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(next_++);
  }

 private:
  unsigned next_ = 1;
};

struct Service {
  Service() {
    path = std::filesystem::temp_directory_path() / ("rd-batch-" + std::to_string(::getpid()) + ".sqlite3");
    Remove();
    std::string error;
    store = OpenSqliteStore(path.string(), SqliteOptions{}, &error);
    REQUIRE(store);
    std::vector<std::string> errors;
    knowledge = std::make_unique<KnowledgeHolder>(LoadKnowledge(RD_KNOWLEDGE_DIR, &errors));
    REQUIRE(errors.empty());
    service = std::make_unique<ConversationService>(store.get(), knowledge.get(), &clock, &random, ServiceOptions{});
  }
  ~Service() {
    service.reset();
    store.reset();
    Remove();
  }
  void Remove() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
  }
  std::filesystem::path path;
  FixedClock clock{1795000000};  // 2026-11-19
  CountingRandom random;
  std::unique_ptr<Store> store;
  std::unique_ptr<KnowledgeHolder> knowledge;
  std::unique_ptr<ConversationService> service;
};

// Starts a conversation outside any batch and returns its session.
std::string Start(ConversationService& s) {
  TurnOutcome out = s.HandleWebMessage({"", "I want a refund", "", "en"});
  REQUIRE(out.status.ok());
  return out.response["session"];
}

}  // namespace

TEST_CASE("a batch answers every turn after one commit, and a second turn of a conversation waits for the next batch", "[batch]") {
  Service env;
  const std::string a = Start(*env.service), b = Start(*env.service);
  WebTurnBatch batch(env.service.get());
  TurnOutcome answered;
  CHECK(batch.Add({a, "I paid on 2026-11-01", "", ""}, 1, &answered) == WebTurnBatch::AddResult::kAdded);
  CHECK(batch.Add({b, "I paid on 2026-11-02", "", ""}, 2, &answered) == WebTurnBatch::AddResult::kAdded);
  CHECK(batch.Add({"", "hello, refund please", "", "en"}, 3, &answered) == WebTurnBatch::AddResult::kAdded);
  // Same conversation as tag 1: it must see tag 1's result, so it waits.
  CHECK(batch.Add({a, "it was activated on 2026-11-05", "", ""}, 4, &answered) == WebTurnBatch::AddResult::kBusy);
  CHECK(batch.Add({"no-such-session", "hi", "", ""}, 5, &answered) == WebTurnBatch::AddResult::kAnswered);
  CHECK(answered.status.code() == Status::Code::kNotFound);

  // Nothing is written before Commit: another reader still sees the first turn only.
  std::vector<MessageRecord> history;
  std::string id_a;
  REQUIRE(env.service->ResolveSessionId(a, &id_a).ok());
  REQUIRE(env.store->History(id_a, 0, 100, &history).ok());
  const size_t before = history.size();

  std::vector<WebTurnBatch::Answer> answers;
  batch.Commit(&answers);
  REQUIRE(answers.size() == 3);
  CHECK(batch.empty());
  for (auto& ans : answers) {
    INFO(ans.tag);
    REQUIRE(ans.outcome.status.ok());
    CHECK(ans.outcome.response["session"].is_string());
  }
  CHECK(answers[0].outcome.response["pending_slot"] == "activation_date");
  CHECK(answers[0].outcome.response["session"] == a);
  REQUIRE(env.store->History(id_a, 0, 100, &history).ok());
  CHECK(history.size() > before);

  // The waiting turn, in the next batch, continues from the committed state.
  CHECK(batch.Add({a, "it was activated on 2026-11-05", "", ""}, 4, &answered) == WebTurnBatch::AddResult::kAdded);
  answers.clear();
  batch.Commit(&answers);
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].outcome.response["pending_slot"] == "problems");
}

TEST_CASE("a batch's locks keep other threads' turns of its conversations waiting until its commit", "[batch]") {
  Service env;
  const std::string a = Start(*env.service);
  WebTurnBatch batch(env.service.get());
  TurnOutcome answered;
  REQUIRE(batch.Add({a, "I paid on 2026-11-01", "", ""}, 1, &answered) == WebTurnBatch::AddResult::kAdded);
  std::atomic<bool> done{false};
  std::string pending_after;
  std::thread other([&] {
    TurnOutcome out = env.service->HandleWebMessage({a, "it was activated on 2026-11-05", "", ""});
    pending_after = out.response.value("pending_slot", "");
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_FALSE(done);  // waiting for the batch's lock
  std::vector<WebTurnBatch::Answer> answers;
  // Committed (and the lock released) by another thread than the one that took it, as the loop's
  // committer does.
  std::thread committer([&] { batch.Commit(&answers); });
  committer.join();
  other.join();
  CHECK(done);
  CHECK(pending_after == "problems");  // it ran on the batch's result: both dates are known
}

TEST_CASE("a resent client_message_id in a later batch replays the first answer", "[batch]") {
  Service env;
  const std::string a = Start(*env.service);
  WebTurnBatch batch(env.service.get());
  TurnOutcome answered;
  std::vector<WebTurnBatch::Answer> first, second;
  REQUIRE(batch.Add({a, "I paid on 2026-11-01", "m-1", ""}, 1, &answered) == WebTurnBatch::AddResult::kAdded);
  batch.Commit(&first);
  REQUIRE(batch.Add({a, "I paid on 2026-11-01", "m-1", ""}, 2, &answered) == WebTurnBatch::AddResult::kAdded);
  batch.Commit(&second);
  REQUIRE(second.size() == 1);
  CHECK(second[0].outcome.duplicate);
  CHECK(second[0].outcome.response["replies"] == first[0].outcome.response["replies"]);
  std::string id;
  REQUIRE(env.service->ResolveSessionId(a, &id).ok());
  std::vector<MessageRecord> history;
  REQUIRE(env.store->History(id, 0, 100, &history).ok());
  int customer = 0;
  for (const auto& m : history) customer += m.author == "customer";
  CHECK(customer == 2);  // the first message and "I paid ..." once
}

TEST_CASE("batches absorbed into one commit answer every turn and release every lock", "[batch]") {
  Service env;
  const std::string a = Start(*env.service), b = Start(*env.service);
  WebTurnBatch first(env.service.get()), second(env.service.get());
  TurnOutcome answered;
  REQUIRE(first.Add({a, "I paid on 2026-11-01", "", ""}, 1, &answered) == WebTurnBatch::AddResult::kAdded);
  REQUIRE(second.Add({b, "I paid on 2026-11-02", "", ""}, 2, &answered) == WebTurnBatch::AddResult::kAdded);
  first.Absorb(&second);
  CHECK(second.empty());
  CHECK(first.size() == 2);
  // b's lock moved with its turn: b stays busy until the merged batch commits.
  WebTurnBatch later(env.service.get());
  CHECK(later.Add({b, "it was activated on 2026-11-05", "", ""}, 3, &answered) == WebTurnBatch::AddResult::kBusy);

  std::vector<WebTurnBatch::Answer> answers;
  second.Commit(&answers);
  CHECK(answers.empty());
  first.Commit(&answers);
  REQUIRE(answers.size() == 2);
  for (auto& ans : answers) {
    INFO(ans.tag);
    REQUIRE(ans.outcome.status.ok());
    CHECK(ans.outcome.response["pending_slot"] == "activation_date");
  }
  CHECK(answers[1].outcome.response["session"] == b);
  // Both conversations are free again and continue from the committed state.
  CHECK(later.Add({a, "it was activated on 2026-11-05", "", ""}, 4, &answered) == WebTurnBatch::AddResult::kAdded);
  CHECK(later.Add({b, "it was activated on 2026-11-05", "", ""}, 5, &answered) == WebTurnBatch::AddResult::kAdded);
  answers.clear();
  later.Commit(&answers);
  REQUIRE(answers.size() == 2);
  for (auto& ans : answers) CHECK(ans.outcome.response["pending_slot"] == "problems");
}

namespace {
// Random bytes that fall: ids must sort by creation regardless of their random part.
class FallingRandom : public Random {
 public:
  void Fill(unsigned char* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(next_--);
  }

 private:
  unsigned next_ = 250;
};
}  // namespace

TEST_CASE("conversation ids sort in the order the conversations were started, within one second too", "[batch]") {
  Service env;
  FallingRandom falling;
  ConversationService service(env.store.get(), env.knowledge.get(), &env.clock, &falling, ServiceOptions{});
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    TurnOutcome out = service.HandleWebMessage({"", "I want a refund", "", "en"});
    REQUIRE(out.status.ok());
    ids.push_back(out.response["conversation_id"]);
  }
  INFO(ids[0] << " " << ids[4]);
  CHECK(std::is_sorted(ids.begin(), ids.end()));
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == ids.size());
}

}  // namespace rd
