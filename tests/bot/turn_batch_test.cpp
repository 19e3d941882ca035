// TurnBatch (bot/conversation_service.h): the turns (web chat, platform users' messages) an event loop
// gathers in one pass, decided under their conversations' locks and committed together, against the
// real engine and SQLite store.
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

// The answer as a tree, however the turn gave it (the web batch gives its text).
nlohmann::json AnswerOf(const TurnOutcome& out) {
  return out.response_text.empty() ? out.response : nlohmann::json::parse(out.response_text);
}

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
  return AnswerOf(out)["session"];
}

}  // namespace

TEST_CASE("the conversation cache: a turn takes its record out, and a reader holding it keeps it whole", "[batch]") {
  ConversationCache cache;
  auto record = std::make_shared<ConversationRecord>();
  record->id = "cv_1";
  record->dialog = {{"state", "collecting"}, {"slots", {{"payment_date", "2026-11-01"}}}};
  cache.Put(record);
  record.reset();
  std::shared_ptr<const ConversationRecord> reader = cache.Get("cv_1");
  std::shared_ptr<const ConversationRecord> taken = cache.Take("cv_1");
  REQUIRE(taken);
  CHECK(taken.use_count() == 2);  // the reader's: a turn copies the dialog then, it does not move it
  CHECK(cache.Get("cv_1") == nullptr);  // the next reader goes to the store until the commit puts it back
  CHECK(cache.Take("cv_1") == nullptr);
  CHECK(reader->dialog["slots"]["payment_date"] == "2026-11-01");
}

TEST_CASE("a batch answers every turn after one commit, and a second turn of a conversation waits for the next batch", "[batch]") {
  Service env;
  const std::string a = Start(*env.service), b = Start(*env.service);
  TurnBatch batch(env.service.get());
  TurnOutcome answered;
  CHECK(batch.Add({a, "I paid on 2026-11-01", "", ""}, 1, &answered) == TurnBatch::AddResult::kAdded);
  CHECK(batch.Add({b, "I paid on 2026-11-02", "", ""}, 2, &answered) == TurnBatch::AddResult::kAdded);
  CHECK(batch.Add({"", "hello, refund please", "", "en"}, 3, &answered) == TurnBatch::AddResult::kAdded);
  // Same conversation as tag 1: it must see tag 1's result, so it waits.
  CHECK(batch.Add({a, "it was activated on 2026-11-05", "", ""}, 4, &answered) == TurnBatch::AddResult::kBusy);
  CHECK(batch.Add({"no-such-session", "hi", "", ""}, 5, &answered) == TurnBatch::AddResult::kAnswered);
  CHECK(answered.status.code() == Status::Code::kNotFound);

  // Nothing is written before Commit: another reader still sees the first turn only.
  std::vector<MessageRecord> history;
  std::string id_a;
  REQUIRE(env.service->ResolveSessionId(a, &id_a).ok());
  REQUIRE(env.store->History(id_a, 0, 100, &history).ok());
  const size_t before = history.size();

  std::vector<TurnBatch::Answer> answers;
  batch.Commit(&answers);
  REQUIRE(answers.size() == 3);
  CHECK(batch.empty());
  for (auto& ans : answers) {
    INFO(ans.tag);
    REQUIRE(ans.outcome.status.ok());
    CHECK(AnswerOf(ans.outcome)["session"].is_string());
  }
  CHECK(AnswerOf(answers[0].outcome)["pending_slot"] == "activation_date");
  CHECK(AnswerOf(answers[0].outcome)["session"] == a);
  REQUIRE(env.store->History(id_a, 0, 100, &history).ok());
  CHECK(history.size() > before);

  // The waiting turn, in the next batch, continues from the committed state.
  CHECK(batch.Add({a, "it was activated on 2026-11-05", "", ""}, 4, &answered) == TurnBatch::AddResult::kAdded);
  answers.clear();
  batch.Commit(&answers);
  REQUIRE(answers.size() == 1);
  CHECK(AnswerOf(answers[0].outcome)["pending_slot"] == "problems");
}

TEST_CASE("a batch's locks keep other threads' turns of its conversations waiting until its commit", "[batch]") {
  Service env;
  const std::string a = Start(*env.service);
  TurnBatch batch(env.service.get());
  TurnOutcome answered;
  REQUIRE(batch.Add({a, "I paid on 2026-11-01", "", ""}, 1, &answered) == TurnBatch::AddResult::kAdded);
  std::atomic<bool> done{false};
  std::string pending_after;
  std::thread other([&] {
    TurnOutcome out = env.service->HandleWebMessage({a, "it was activated on 2026-11-05", "", ""});
    pending_after = AnswerOf(out).value("pending_slot", "");
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_FALSE(done);  // waiting for the batch's lock
  std::vector<TurnBatch::Answer> answers;
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
  TurnBatch batch(env.service.get());
  TurnOutcome answered;
  std::vector<TurnBatch::Answer> first, second;
  REQUIRE(batch.Add({a, "I paid on 2026-11-01", "m-1", ""}, 1, &answered) == TurnBatch::AddResult::kAdded);
  batch.Commit(&first);
  REQUIRE(batch.Add({a, "I paid on 2026-11-01", "m-1", ""}, 2, &answered) == TurnBatch::AddResult::kAdded);
  batch.Commit(&second);
  REQUIRE(second.size() == 1);
  CHECK(second[0].outcome.duplicate);
  CHECK(AnswerOf(second[0].outcome)["replies"] == AnswerOf(first[0].outcome)["replies"]);
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
  TurnBatch first(env.service.get()), second(env.service.get());
  TurnOutcome answered;
  REQUIRE(first.Add({a, "I paid on 2026-11-01", "", ""}, 1, &answered) == TurnBatch::AddResult::kAdded);
  REQUIRE(second.Add({b, "I paid on 2026-11-02", "", ""}, 2, &answered) == TurnBatch::AddResult::kAdded);
  first.Absorb(&second);
  CHECK(second.empty());
  CHECK(first.size() == 2);
  // b's lock moved with its turn: b stays busy until the merged batch commits.
  TurnBatch later(env.service.get());
  CHECK(later.Add({b, "it was activated on 2026-11-05", "", ""}, 3, &answered) == TurnBatch::AddResult::kBusy);

  std::vector<TurnBatch::Answer> answers;
  second.Commit(&answers);
  CHECK(answers.empty());
  first.Commit(&answers);
  REQUIRE(answers.size() == 2);
  for (auto& ans : answers) {
    INFO(ans.tag);
    REQUIRE(ans.outcome.status.ok());
    CHECK(AnswerOf(ans.outcome)["pending_slot"] == "activation_date");
  }
  CHECK(AnswerOf(answers[1].outcome)["session"] == b);
  // Both conversations are free again and continue from the committed state.
  CHECK(later.Add({a, "it was activated on 2026-11-05", "", ""}, 4, &answered) == TurnBatch::AddResult::kAdded);
  CHECK(later.Add({b, "it was activated on 2026-11-05", "", ""}, 5, &answered) == TurnBatch::AddResult::kAdded);
  answers.clear();
  later.Commit(&answers);
  REQUIRE(answers.size() == 2);
  for (auto& ans : answers) CHECK(AnswerOf(ans.outcome)["pending_slot"] == "problems");
}

namespace {
InboundMessage WeComText(const std::string& user, const std::string& text, const std::string& msg_id) {
  InboundMessage m;
  m.channel = "wecom";
  m.channel_user = user;
  m.text = text;
  m.dedupe_key = "wecom:" + msg_id;
  m.channel_identifies_customer = true;
  return m;
}

int CustomerMessages(Store& store, const std::string& conversation_id) {
  std::vector<MessageRecord> history;
  REQUIRE(store.History(conversation_id, 0, 1000, &history).ok());
  return static_cast<int>(std::count_if(history.begin(), history.end(), [](const MessageRecord& m) { return m.author == "customer"; }));
}
}  // namespace

TEST_CASE("a platform user's first messages open one conversation: the user's lock holds the next until the commit", "[batch]") {
  Service env;
  TurnBatch batch(env.service.get());
  TurnOutcome answered;
  REQUIRE(batch.AddChannel(WeComText("zhangsan", "我要退款", "1"), 1, &answered) == TurnBatch::AddResult::kAdded);
  // The same user again in this pass: busy (the conversation does not exist yet, only the user's lock says so).
  CHECK(batch.AddChannel(WeComText("zhangsan", "我是2026年11月1日付款的", "2"), 2, &answered) == TurnBatch::AddResult::kBusy);
  // Another user is not held up.
  REQUIRE(batch.AddChannel(WeComText("lisi", "hello, refund please", "3"), 3, &answered) == TurnBatch::AddResult::kAdded);
  // A thread running the same user's message synchronously waits for the batch too.
  std::atomic<bool> done{false};
  std::string other_conversation;
  std::thread other([&] {
    TurnOutcome out = env.service->HandleChannelMessage(WeComText("zhangsan", "服务一直很卡", "4"));
    other_conversation = AnswerOf(out).value("conversation_id", "");
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_FALSE(done);
  std::vector<TurnBatch::Answer> answers;
  std::thread committer([&] { batch.Commit(&answers); });
  committer.join();
  other.join();
  REQUIRE(answers.size() == 2);
  REQUIRE(answers[0].outcome.status.ok());
  const std::string zhangsan = AnswerOf(answers[0].outcome)["conversation_id"];
  CHECK(AnswerOf(answers[1].outcome)["conversation_id"] != zhangsan);
  CHECK(other_conversation == zhangsan);

  TurnBatch later(env.service.get());
  REQUIRE(later.AddChannel(WeComText("zhangsan", "我是2026年11月1日付款的", "2"), 2, &answered) == TurnBatch::AddResult::kAdded);
  // A repeated MsgId in the same batch waits for the next one; in a later batch it is answered from the store.
  CHECK(later.AddChannel(WeComText("zhangsan", "我要退款", "1"), 5, &answered) == TurnBatch::AddResult::kBusy);
  answers.clear();
  later.Commit(&answers);
  REQUIRE(answers.size() == 1);
  CHECK(AnswerOf(answers[0].outcome)["conversation_id"] == zhangsan);
  CHECK_FALSE(answers[0].outcome.duplicate);
  REQUIRE(later.AddChannel(WeComText("zhangsan", "我要退款", "1"), 5, &answered) == TurnBatch::AddResult::kAdded);
  answers.clear();
  later.Commit(&answers);
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].outcome.duplicate);
  CHECK(AnswerOf(answers[0].outcome)["conversation_id"] == zhangsan);
  CHECK(CustomerMessages(*env.store, zhangsan) == 3);  // 我要退款, 服务一直很卡, the payment date: once each
}

TEST_CASE("a platform user's conversation is found in the store after a restart, not opened again", "[batch]") {
  Service env;
  TurnOutcome first = env.service->HandleChannelMessage(WeComText("wangwu", "I want a refund", "10"));
  REQUIRE(first.status.ok());
  // A new service on the same store: nothing cached.
  ConversationService restarted(env.store.get(), env.knowledge.get(), &env.clock, &env.random, ServiceOptions{});
  TurnBatch batch(&restarted);
  TurnOutcome answered;
  REQUIRE(batch.AddChannel(WeComText("wangwu", "I paid on 2026-11-01", "11"), 1, &answered) == TurnBatch::AddResult::kAdded);
  std::vector<TurnBatch::Answer> answers;
  batch.Commit(&answers);
  REQUIRE(answers.size() == 1);
  CHECK(AnswerOf(answers[0].outcome)["conversation_id"] == AnswerOf(first)["conversation_id"]);
  CHECK(AnswerOf(answers[0].outcome)["pending_slot"] == "activation_date");
}

TEST_CASE("a batched turn whose conversation another writer moved on runs again on the new state", "[batch]") {
  Service env;
  const std::string a = Start(*env.service);
  std::string id;
  REQUIRE(env.service->ResolveSessionId(a, &id).ok());
  TurnBatch batch(env.service.get());
  TurnOutcome answered;
  REQUIRE(batch.Add({a, "I paid on 2026-11-01", "", ""}, 1, &answered) == TurnBatch::AddResult::kAdded);
  {
    // Another process (the staff CLI, a second bot) commits on the same file meanwhile: staff take the
    // conversation over.
    std::string error;
    auto other = OpenSqliteStore(env.path.string(), SqliteOptions{}, &error);
    REQUIRE(other);
    TurnCommit staff;
    REQUIRE(other->LoadConversation(id, &staff.conversation).ok());
    staff.conversation.assignee = "alice";
    REQUIRE(other->CommitTurn(staff).ok());
  }
  std::vector<TurnBatch::Answer> answers;
  batch.Commit(&answers);
  REQUIRE(answers.size() == 1);
  REQUIRE(answers[0].outcome.status.ok());
  CHECK(AnswerOf(answers[0].outcome)["session"] == a);
  ConversationRecord now;
  REQUIRE(env.store->LoadConversation(id, &now).ok());
  CHECK(now.assignee == "alice");  // the turn ran on the other writer's state, not over it
  CHECK(now.version == 3);
  CHECK(CustomerMessages(*env.store, id) == 2);
  // Its locks are free again.
  TurnBatch later(env.service.get());
  CHECK(later.Add({a, "it was activated on 2026-11-05", "", ""}, 2, &answered) == TurnBatch::AddResult::kAdded);
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
    ids.push_back(AnswerOf(out)["conversation_id"]);
  }
  INFO(ids[0] << " " << ids[4]);
  CHECK(std::is_sorted(ids.begin(), ids.end()));
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == ids.size());
}

}  // namespace rd
