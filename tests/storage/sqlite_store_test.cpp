#include <catch2/catch.hpp>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "storage/json_writer.h"
#include "storage/sqlite_store.h"

namespace rd {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct TempDb {
  fs::path path;
  TempDb() {
    static int n = 0;
    path = fs::temp_directory_path() / ("rd-store-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".sqlite3");
    Remove();
  }
  ~TempDb() { Remove(); }
  void Remove() {
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path.string() + suffix);
  }
  std::unique_ptr<Store> Open() {
    std::string error;
    auto s = OpenSqliteStore(path.string(), SqliteOptions{}, &error);
    INFO(error);
    REQUIRE(s);
    return s;
  }
  // Raw SQL on the file, as an older version of the program would have written it.
  void Exec(const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(path.string().c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    INFO((error ? error : ""));
    sqlite3_free(error);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
  }
  // Creates the schema as it was at `version`.
  void CreateAtVersion(int version) {
    SqliteOptions old;
    old.migrate_to = version;
    std::string error;
    REQUIRE(OpenSqliteStore(path.string(), old, &error));
  }
  int64_t Count(const std::string& table) { return Number("SELECT count(*) FROM " + table); }
  // The first column of the first row of `sql`, as a number.
  int64_t Number(const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(path.string().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    int64_t n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
  }
};

TurnCommit NewTurn(const std::string& id, const std::string& dedupe = "") {
  TurnCommit t;
  t.create = true;
  t.session_hash = "hash-" + id;
  t.conversation = {id, "web", "", "collecting", "payment_date", json{{"state", "collecting"}}, 0, 0, 100, 100, "", 0};
  t.inbound = {0, "customer", "hello", nullptr, 100};
  t.dedupe_key = dedupe;
  t.response = R"({"replies":[{"text":"hi"}]})";
  t.replies.push_back({0, "bot", "hi", json::array({"a", "b"}), 100});
  return t;
}

TurnCommit NextTurn(const ConversationRecord& c, const std::string& text, const std::string& dedupe = "") {
  TurnCommit t;
  t.conversation = c;
  t.conversation.updated_at = c.updated_at + 1;
  t.inbound = {0, "customer", text, nullptr, c.updated_at + 1};
  t.dedupe_key = dedupe;
  t.response = JsonText(json{{"echo", text}});
  t.replies.push_back({0, "bot", "re: " + text, nullptr, c.updated_at + 1});
  return t;
}

size_t HistorySize(Store& s, const std::string& id) {
  std::vector<MessageRecord> h;
  REQUIRE(s.History(id, 0, 1000, &h).ok());
  return h.size();
}

}  // namespace

TEST_CASE("migrations create the schema once and reopen cleanly", "[storage]") {
  TempDb db;
  { auto s = db.Open(); }
  { auto s = db.Open(); }
  sqlite3* raw = nullptr;
  sqlite3_open(db.path.string().c_str(), &raw);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &st, nullptr);
  sqlite3_step(st);
  CHECK(sqlite3_column_int(st, 0) == SqliteSchemaVersion());
  sqlite3_finalize(st);
  sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, nullptr);
  sqlite3_step(st);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "wal");
  sqlite3_finalize(st);
  // A database from a newer program is refused rather than damaged.
  sqlite3_exec(raw, "PRAGMA user_version=999", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  std::string error;
  CHECK(!OpenSqliteStore(db.path.string(), SqliteOptions{}, &error));
  CHECK(error.find("newer") != std::string::npos);
}

TEST_CASE("migration 5 keeps every message, its order and its dedupe key", "[storage]") {
  TempDb db;
  db.CreateAtVersion(4);  // messages still clustered by (conversation, seq), one row per message
  db.Exec(R"sql(
INSERT INTO conversations(id, session_hash, channel, state, pending_slot, dialog, version, last_seq, created_at, updated_at)
  VALUES('c1', 'hash-c1', 'web', 'collecting', 'payment_date', '{"state":"collecting"}', 2, 4, 100, 101),
        ('c2', 'hash-c2', 'web', 'collecting', 'payment_date', '{"state":"collecting"}', 1, 2, 100, 100);
INSERT INTO messages(conversation_id, seq, author, text, quick_replies, at, dedupe_key, response) VALUES
  ('c1', 1, 'customer', 'hello', NULL, 100, 'k1', '{"replies":[{"text":"hi"}]}'),
  ('c1', 2, 'bot', 'hi', '["a","b"]', 100, NULL, NULL),
  ('c2', 1, 'customer', 'hello', NULL, 100, NULL, NULL),
  ('c2', 2, 'bot', 'hi', '["a","b"]', 100, NULL, NULL),
  ('c1', 3, 'customer', 'second', NULL, 101, 'k2', '{"echo":"second"}'),
  ('c1', 4, 'bot', 're: second', NULL, 101, NULL, NULL);
)sql");
  auto s = db.Open();
  std::vector<MessageRecord> history;
  REQUIRE(s->History("c1", 0, 100, &history).ok());
  REQUIRE(history.size() == 4);
  CHECK(history[0].text == "hello");
  CHECK(history[1].quick_replies == json::array({"a", "b"}));
  CHECK(history[2].text == "second");
  CHECK(history[3].seq == 4);
  json replay;
  REQUIRE(s->FindDuplicate("k2", &replay).ok());
  CHECK(replay["echo"] == "second");  // (the answers older versions stored always held their replies)
  // The unique keys survived the table rebuild: a resend is refused, a new turn continues the seqs.
  ConversationRecord c1;
  REQUIRE(s->LoadConversation("c1", &c1).ok());
  CHECK(s->CommitTurn(NextTurn(c1, "again", "k2")).code() == Status::Code::kDuplicate);
  REQUIRE(s->CommitTurn(NextTurn(c1, "third")).ok());
  history.clear();
  REQUIRE(s->History("c1", 4, 100, &history).ok());
  REQUIRE(history.size() == 2);
  CHECK(history[0].seq == 5);
  CHECK(history[0].text == "third");
  CHECK(HistorySize(*s, "c1") == 6);
  CHECK(HistorySize(*s, "c2") == 2);
}

TEST_CASE("migration 11: a Slack message's dedupe key leads with its ts; a resend after the upgrade is still caught", "[storage]") {
  TempDb db;
  db.CreateAtVersion(10);
  db.Exec(R"sql(
INSERT INTO conversations(id, channel, channel_user, state, pending_slot, dialog, version, last_seq, created_at, updated_at)
  VALUES('c1', 'slack', 'D1', 'collecting', 'payment_date', '{"state":"collecting"}', 1, 6, 100, 100);
INSERT INTO messages(conversation_id, seq, author, text, at, dedupe_key, response) VALUES
  ('c1', 1, 'customer', 'hello', 100, 'slack:D1:1700000000.000100', '{"first":true}'),
  ('c1', 2, 'customer', 'a file', 100, 'slack:D1:1700000001.000200:file:F1', NULL),
  ('c1', 3, 'customer', 'opened', 100, 'slack:D1:1700000001.000200:file:F1:open', NULL),
  ('c1', 4, 'customer', 'a click', 100, 'slack:action:1700000002.123', NULL),
  ('c1', 5, 'customer', 'web', 100, 'web:c1:m1', NULL),
  ('c1', 6, 'customer', 'odd', 100, 'slack:nocolon', NULL);
)sql");
  auto s = db.Open();
  CHECK(db.Number("SELECT count(*) FROM messages WHERE dedupe_key = 'slack:1700000000.000100:D1'") == 1);
  CHECK(db.Number("SELECT count(*) FROM messages WHERE dedupe_key = 'slack:1700000001.000200:D1:file:F1'") == 1);
  CHECK(db.Number("SELECT count(*) FROM messages WHERE dedupe_key = 'slack:1700000001.000200:D1:file:F1:open'") == 1);
  CHECK(db.Number("SELECT count(*) FROM messages WHERE dedupe_key IN ('slack:action:1700000002.123', 'web:c1:m1', "
                  "'slack:nocolon')") == 3);
  json stored;
  REQUIRE(s->FindDuplicate("slack:1700000000.000100:D1", &stored).ok());
  CHECK(stored["first"] == true);
}

TEST_CASE("migration 7: a turn's messages share a row; history reads old and new rows alike, from any seq", "[storage]") {
  TempDb db;
  db.CreateAtVersion(6);
  db.Exec(R"sql(
INSERT INTO conversations(id, session_hash, channel, state, pending_slot, dialog, version, last_seq, created_at, updated_at)
  VALUES('c1', 'hash-c1', 'web', 'collecting', 'payment_date', '{"state":"collecting"}', 1, 2, 100, 100);
INSERT INTO messages(conversation_id, seq, author, text, quick_replies, at) VALUES
  ('c1', 1, 'customer', 'hello', NULL, 100), ('c1', 2, 'bot', 'hi', '["a","b"]', 100);
)sql");
  auto s = db.Open();
  ConversationRecord c1;
  REQUIRE(s->LoadConversation("c1", &c1).ok());
  TurnCommit t = NextTurn(c1, "second");
  t.replies.push_back({0, "bot", "anything else?", json::array({"yes", "no"}), c1.updated_at + 1});
  t.replies.push_back({0, "system", "Ana joined", nullptr, c1.updated_at + 5});
  REQUIRE(s->CommitTurn(t).ok());
  REQUIRE(s->LoadConversation("c1", &c1).ok());
  CHECK(c1.last_seq == 6);
  // A turn without a customer message (a staff reply, a notice): its first reply heads the row.
  TurnCommit staff;
  staff.conversation = c1;
  staff.conversation.updated_at = c1.updated_at + 10;
  staff.replies.push_back({0, "staff", "I am checking your line", nullptr, c1.updated_at + 10});
  staff.replies.push_back({0, "system", "Ana left", nullptr, c1.updated_at + 10});
  REQUIRE(s->CommitTurn(staff).ok());
  CHECK(db.Count("messages") == 2 + 1 + 1);  // two old rows, then one row per turn

  std::vector<MessageRecord> h;
  REQUIRE(s->History("c1", 0, 100, &h).ok());
  REQUIRE(h.size() == 8);
  for (size_t i = 0; i < h.size(); ++i) CHECK(h[i].seq == static_cast<int64_t>(i + 1));
  CHECK(h[1].quick_replies == json::array({"a", "b"}));
  CHECK(h[2].author == "customer");
  CHECK(h[2].text == "second");
  CHECK(h[3].text == "re: second");
  CHECK(h[3].quick_replies.is_null());
  CHECK(h[4].quick_replies == json::array({"yes", "no"}));
  CHECK(h[5].author == "system");
  CHECK(h[5].at == c1.updated_at - 1 + 5);  // its own time, not the row's
  CHECK(h[4].at == h[2].at);
  CHECK(h[6].author == "staff");
  CHECK(h[7].text == "Ana left");
  // From inside a row, and with a limit that ends inside one.
  h.clear();
  REQUIRE(s->History("c1", 4, 100, &h).ok());
  REQUIRE(h.size() == 4);
  CHECK(h[0].seq == 5);
  CHECK(h[0].text == "anything else?");
  h.clear();
  REQUIRE(s->History("c1", 1, 3, &h).ok());
  REQUIRE(h.size() == 3);
  CHECK(h[0].seq == 2);
  CHECK(h[2].seq == 4);
  h.clear();
  REQUIRE(s->History("c1", 8, 100, &h).ok());
  CHECK(h.empty());
}

TEST_CASE("a platform user's conversation is found through the index, which holds no web conversation", "[storage]") {
  TempDb db;
  auto s = db.Open();
  TurnCommit web = NewTurn("c-web");
  TurnCommit slack = NewTurn("c-slack");
  slack.conversation.channel = "slack";
  slack.conversation.channel_user = "D1";
  REQUIRE(s->CommitTurn(web).ok());
  REQUIRE(s->CommitTurn(slack).ok());
  ConversationRecord found;
  REQUIRE(s->FindConversationByChannelUser("slack", "D1", &found).ok());
  CHECK(found.id == "c-slack");
  CHECK(s->FindConversationByChannelUser("slack", "D2", &found).code() == Status::Code::kNotFound);
  // Entries in the index's leaves: the Slack conversation only.
  CHECK(db.Number("SELECT sum(ncell) FROM dbstat WHERE name = 'conversations_channel_user' AND pagetype = 'leaf'") == 1);
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open_v2(db.path.string().c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* plan = nullptr;
  // The lookup's own query: found in the index, newest first, without sorting.
  REQUIRE(sqlite3_prepare_v2(raw, "EXPLAIN QUERY PLAN SELECT id FROM conversations WHERE channel = 'slack' AND channel_user = 'D1' "
                                  "ORDER BY created_at DESC, id DESC LIMIT 1",
                             -1, &plan, nullptr) == SQLITE_OK);
  std::string detail;
  while (sqlite3_step(plan) == SQLITE_ROW) detail += reinterpret_cast<const char*>(sqlite3_column_text(plan, 3));
  sqlite3_finalize(plan);
  sqlite3_close(raw);
  CHECK(detail.find("conversations_channel_user") != std::string::npos);
  CHECK(detail.find("TEMP B-TREE") == std::string::npos);
  // A user's newer conversation is the one found (its id sorts first: the order is by creation).
  TurnCommit newer = NewTurn("c-older-id");
  newer.conversation.channel = "slack";
  newer.conversation.channel_user = "D1";
  newer.conversation.created_at = newer.conversation.updated_at = 200;
  REQUIRE(s->CommitTurn(newer).ok());
  REQUIRE(s->FindConversationByChannelUser("slack", "D1", &found).ok());
  CHECK(found.id == "c-older-id");
}

TEST_CASE("a turn commits the conversation, its messages, ticket and outbox together", "[storage]") {
  TempDb db;
  auto s = db.Open();
  TurnCommit t = NewTurn("c1", "k1");
  t.ticket = TicketRecord{"RF-20261110-0001", "c1", "open", json{{"id", "RF-20261110-0001"}, {"problems", json::array()}}};
  t.outbox.push_back({0, "staff_notice", "slack", json{{"text", "new ticket"}}.dump(), "notice:c1:1"});
  REQUIRE(s->CommitTurn(t).ok());
  ConversationRecord c;
  REQUIRE(s->FindConversationBySession("hash-c1", &c).ok());
  CHECK(c.id == "c1");
  CHECK(c.version == 1);
  CHECK(c.last_seq == 2);
  std::vector<MessageRecord> h;
  REQUIRE(s->History("c1", 0, 100, &h).ok());
  REQUIRE(h.size() == 2);
  CHECK(h[0].author == "customer");
  CHECK(h[1].author == "bot");
  CHECK(h[1].quick_replies == json::array({"a", "b"}));
  TicketRecord tr;
  REQUIRE(s->GetTicket("RF-20261110-0001", &tr).ok());
  CHECK(tr.ticket["status"] == "open");
  CHECK(db.Count("outbox") == 1);

  // A failing turn (a second ticket with the same id) leaves nothing behind.
  TurnCommit bad = NextTurn(c, "again");
  bad.ticket = t.ticket;
  CHECK(!s->CommitTurn(bad).ok());
  CHECK(HistorySize(*s, "c1") == 2);
  ConversationRecord after;
  REQUIRE(s->LoadConversation("c1", &after).ok());
  CHECK(after.version == 1);
}

namespace {
class RecordingSink : public OutboxSink {
 public:
  int64_t LeaseUntil() override { return 5000; }
  void Take(OutboxHandoff handoff) override { takes.push_back(std::move(handoff)); }
  std::vector<OutboxHandoff> takes;
};

OutboxRecord Reply(const std::string& target, const std::string& key) {
  return {0, "slack_post", target, json{{"text", key}}.dump(), key, 0};
}
}  // namespace

TEST_CASE("with an outbox sink, a commit hands over the rows it claims at once; rows behind another wait, in order",
          "[storage][outbox]") {
  TempDb db;
  auto s = db.Open();
  RecordingSink sink;
  s->SetOutboxSink(&sink);
  TurnCommit t = NewTurn("c1");
  t.outbox = {Reply("slack:D1", "r1"), Reply("slack:D1", "r2"), Reply("slack:D2", "r3")};
  REQUIRE(s->CommitTurn(t).ok());
  REQUIRE(sink.takes.size() == 1);
  const OutboxHandoff& h = sink.takes[0];
  REQUIRE(h.rows.size() == 2);  // r2 waits behind r1, of the same target
  CHECK(h.rows[0].idempotency_key == "r1");
  CHECK(h.rows[1].idempotency_key == "r3");
  CHECK(h.rows[0].id > 0);
  CHECK(h.rows[0].attempts == 1);
  CHECK(h.rows[0].payload == R"({"text":"r1"})");
  CHECK(h.blocked_targets == std::vector<std::string>{"slack:D1"});
  CHECK(db.Number("SELECT count(*) FROM outbox WHERE status = 'sending' AND next_attempt_at = 5000") == 2);
  CHECK(db.Number("SELECT count(*) FROM outbox WHERE idempotency_key = 'r2' AND status = 'pending'") == 1);

  // The handed rows are leased: a claim takes neither them nor r2, which waits for r1.
  std::vector<OutboxRecord> claimed;
  REQUIRE(s->ClaimOutbox(200, 260, 16, &claimed).ok());
  CHECK(claimed.empty());
  REQUIRE(s->RecordOutboxOutcomes({{h.rows[0].id, "delivered", json::object(), 0}}, 201).ok());
  REQUIRE(s->ClaimOutbox(202, 260, 16, &claimed).ok());
  REQUIRE(claimed.size() == 1);
  CHECK(claimed[0].idempotency_key == "r2");
  CHECK(claimed[0].attempts == 1);

  // A turn refused whole hands nothing over.
  ConversationRecord c;
  REQUIRE(s->LoadConversation("c1", &c).ok());
  REQUIRE(s->CommitTurn(NextTurn(c, "one", "slack:D3:1")).ok());
  REQUIRE(s->LoadConversation("c1", &c).ok());
  TurnCommit resent = NextTurn(c, "one", "slack:D3:1");
  resent.outbox = {Reply("slack:D3", "r4")};
  CHECK(s->CommitTurn(resent).code() == Status::Code::kDuplicate);
  CHECK(sink.takes.size() == 1);
  CHECK(db.Number("SELECT count(*) FROM outbox WHERE target = 'slack:D3'") == 0);

  // Without a sink every row waits for a claim.
  s->SetOutboxSink(nullptr);
  TurnCommit later = NextTurn(c, "two");
  later.outbox = {Reply("slack:D4", "r5")};
  REQUIRE(s->CommitTurn(later).ok());
  CHECK(sink.takes.size() == 1);
  CHECK(db.Number("SELECT count(*) FROM outbox WHERE idempotency_key = 'r5' AND status = 'pending' AND attempts = 0") == 1);
}

TEST_CASE("dedupe keys and version conflicts", "[storage]") {
  TempDb db;
  auto s = db.Open();
  REQUIRE(s->CommitTurn(NewTurn("c1")).ok());
  ConversationRecord c;
  REQUIRE(s->LoadConversation("c1", &c).ok());
  REQUIRE(s->CommitTurn(NextTurn(c, "one", "web:c1:m1")).ok());
  json stored;
  REQUIRE(s->FindDuplicate("web:c1:m1", &stored).ok());
  CHECK(stored["echo"] == "one");
  CHECK(stored["replies"] == json::array({{{"text", "re: one"}}}));  // restored from the row
  CHECK(s->FindDuplicate("web:c1:m2", &stored).code() == Status::Code::kNotFound);
  // An answer stored with its replies (older versions wrote them all) comes back as it was.
  REQUIRE(s->CommitTurn(NewTurn("c2")).ok());
  ConversationRecord c2;
  REQUIRE(s->LoadConversation("c2", &c2).ok());
  TurnCommit with_replies = NextTurn(c2, "two", "web:c2:m1");
  with_replies.response = R"({"echo":"two","replies":[{"quick_replies":["x"],"text":"as stored"}]})";
  REQUIRE(s->CommitTurn(with_replies).ok());
  REQUIRE(s->FindDuplicate("web:c2:m1", &stored).ok());
  CHECK(stored == json::parse(with_replies.response));

  ConversationRecord now;
  REQUIRE(s->LoadConversation("c1", &now).ok());
  CHECK(s->CommitTurn(NextTurn(now, "dup", "web:c1:m1")).code() == Status::Code::kDuplicate);
  CHECK(s->CommitTurn(NextTurn(c, "stale")).code() == Status::Code::kConflict);  // c is version 1, now 2
  CHECK(HistorySize(*s, "c1") == 4);
}

TEST_CASE("a batch of turns commits together, and a refused turn leaves the others committed", "[storage]") {
  TempDb db;
  auto s = db.Open();
  REQUIRE(s->CommitTurn(NewTurn("c1")).ok());
  ConversationRecord c1;
  REQUIRE(s->LoadConversation("c1", &c1).ok());
  REQUIRE(s->CommitTurn(NextTurn(c1, "first", "web:c1:m1")).ok());

  ConversationRecord c1_v2;
  REQUIRE(s->LoadConversation("c1", &c1_v2).ok());
  TurnCommit fresh = NewTurn("c2");
  TurnCommit resent = NextTurn(c1_v2, "first again", "web:c1:m1");  // its key committed already
  TurnCommit stale = NextTurn(c1, "stale");                           // c1 moved on to version 2
  TurnCommit another = NewTurn("c3", "web:new:0123456789abcdef");
  std::vector<Status> st = s->CommitTurns({&fresh, &resent, &stale, &another});
  REQUIRE(st.size() == 4);
  CHECK(st[0].ok());
  CHECK(st[1].code() == Status::Code::kDuplicate);
  CHECK(st[2].code() == Status::Code::kConflict);
  CHECK(st[3].ok());
  ConversationRecord c2, c3, c1_now;
  CHECK(s->LoadConversation("c2", &c2).ok());
  CHECK(s->LoadConversation("c3", &c3).ok());
  REQUIRE(s->LoadConversation("c1", &c1_now).ok());
  CHECK(c1_now.version == 2);
  // c1's two turns, c2's and c3's first; nothing of the refused
  CHECK(HistorySize(*s, "c1") == 4);
  CHECK(HistorySize(*s, "c2") == 2);
  CHECK(HistorySize(*s, "c3") == 2);
}

TEST_CASE("ticket ids are sequential per day and never reused by a filed ticket", "[storage]") {
  TempDb db;
  std::string id;
  {
    auto s = db.Open();
    REQUIRE(s->AllocateTicketId("20261110", &id).ok());
    CHECK(id == "RF-20261110-0001");
    REQUIRE(s->AllocateTicketId("20261110", &id).ok());
    CHECK(id == "RF-20261110-0002");
    TurnCommit t = NewTurn("c1");
    t.ticket = TicketRecord{id, "c1", "open", json{{"id", id}}};
    REQUIRE(s->CommitTurn(t).ok());
    REQUIRE(s->AllocateTicketId("20261111", &id).ok());
    CHECK(id == "RF-20261111-0001");
    REQUIRE(s->AllocateTicketId("20261110", &id).ok());  // reserved, never filed
    CHECK(id == "RF-20261110-0003");
  }
  // After a restart the count goes on from the last filed ticket of the day.
  auto s = db.Open();
  REQUIRE(s->AllocateTicketId("20261110", &id).ok());
  CHECK(id == "RF-20261110-0003");
  REQUIRE(s->AllocateTicketId("20261111", &id).ok());
  CHECK(id == "RF-20261111-0001");
  // From many threads at once: all distinct.
  std::vector<std::thread> threads;
  std::vector<std::string> ids(40);
  for (int i = 0; i < 40; ++i) threads.emplace_back([&, i] { REQUIRE(s->AllocateTicketId("20261112", &ids[i]).ok()); });
  for (auto& t : threads) t.join();
  std::sort(ids.begin(), ids.end());
  CHECK(std::unique(ids.begin(), ids.end()) == ids.end());
  CHECK(ids.back() == "RF-20261112-0040");
}

TEST_CASE("after a restart a day's ticket numbers count on past 9999", "[storage]") {
  TempDb db;
  {
    auto s = db.Open();
    int n = 0;
    for (const char* id : {"RF-20261110-9999", "RF-20261110-10000", "RF-20261109-20000"}) {
      TurnCommit t = NewTurn("c" + std::to_string(++n));
      t.ticket = TicketRecord{id, t.conversation.id, "open", json{{"id", id}}};
      REQUIRE(s->CommitTurn(t).ok());
    }
  }
  auto s = db.Open();
  std::string id;
  REQUIRE(s->AllocateTicketId("20261110", &id).ok());
  CHECK(id == "RF-20261110-10001");  // by number: as text "…-9999" would come last
  REQUIRE(s->AllocateTicketId("20261111", &id).ok());
  CHECK(id == "RF-20261111-0001");  // another day's numbers do not count
}

TEST_CASE("a ticket number another program filed first is refused as a conflict, then a fresh one is given", "[storage]") {
  TempDb db;
  auto a = db.Open();
  auto b = db.Open();  // a second program on the same file (the terminal chat beside the server)
  std::string id_a, id_b;
  REQUIRE(a->AllocateTicketId("20261110", &id_a).ok());
  REQUIRE(b->AllocateTicketId("20261110", &id_b).ok());
  REQUIRE(id_a == id_b);
  TurnCommit ta = NewTurn("ca");
  ta.ticket = TicketRecord{id_a, "ca", "open", json{{"id", id_a}}};
  REQUIRE(a->CommitTurn(ta).ok());
  std::string id_a2;
  REQUIRE(a->AllocateTicketId("20261110", &id_a2).ok());
  TurnCommit ta2 = NewTurn("ca2");
  ta2.ticket = TicketRecord{id_a2, "ca2", "open", json{{"id", id_a2}}};
  REQUIRE(a->CommitTurn(ta2).ok());
  TurnCommit tb = NewTurn("cb");
  tb.ticket = TicketRecord{id_b, "cb", "open", json{{"id", id_b}}};
  CHECK(b->CommitTurn(tb).code() == Status::Code::kConflict);
  CHECK(db.Count("conversations") == 2);  // the refused turn left nothing behind
  REQUIRE(b->AllocateTicketId("20261110", &id_b).ok());
  CHECK(id_b == "RF-20261110-0003");  // counted on from what was filed, not from b's own count
  tb.ticket = TicketRecord{id_b, "cb", "open", json{{"id", id_b}}};
  REQUIRE(b->CommitTurn(tb).ok());
}

TEST_CASE("ticket listing and statuses", "[storage]") {
  TempDb db;
  auto s = db.Open();
  TurnCommit t = NewTurn("c1");
  t.ticket = TicketRecord{"RF-20261110-0001", "c1", "open", json{{"id", "RF-20261110-0001"}}};
  REQUIRE(s->CommitTurn(t).ok());
  std::vector<TicketRecord> list;
  REQUIRE(s->ListTickets("", 10, &list).ok());
  CHECK(list.size() == 1);
  list.clear();
  REQUIRE(s->ListTickets("approved", 10, &list).ok());
  CHECK(list.empty());
  std::map<std::string, std::string> statuses;
  REQUIRE(s->TicketStatuses("c1", &statuses).ok());
  CHECK(statuses == std::map<std::string, std::string>{{"RF-20261110-0001", "open"}});
  TicketRecord missing;
  CHECK(s->GetTicket("RF-20261110-0099", &missing).code() == Status::Code::kNotFound);
}

}  // namespace rd

namespace rd {

TEST_CASE("history pages backwards from any seq, also inside a turn's row; text bytes and attachment usage", "[storage][limits]") {
  TempDb db;
  auto s = db.Open();
  REQUIRE(s->CommitTurn(NewTurn("c1")).ok());  // seq 1 hello, 2 hi
  ConversationRecord c1;
  for (int i = 0; i < 3; ++i) {  // seq 3-4, 5-6, 7-8: one row each
    REQUIRE(s->LoadConversation("c1", &c1).ok());
    REQUIRE(s->CommitTurn(NextTurn(c1, "turn " + std::to_string(i))).ok());
  }
  auto seqs = [&](int64_t before, int limit) {
    std::vector<MessageRecord> page;
    REQUIRE(s->HistoryBefore("c1", before, limit, &page).ok());
    std::vector<int64_t> out;
    for (const auto& m : page) out.push_back(m.seq);
    return out;
  };
  CHECK(seqs(9, 3) == std::vector<int64_t>{6, 7, 8});  // newest first picked, oldest first answered
  CHECK(seqs(8, 3) == std::vector<int64_t>{5, 6, 7});  // `before` inside a row: its head, not its tail
  CHECK(seqs(6, 100) == std::vector<int64_t>{1, 2, 3, 4, 5});
  CHECK(seqs(2, 10) == std::vector<int64_t>{1});
  CHECK(seqs(1, 10).empty());
  std::vector<MessageRecord> page;
  REQUIRE(s->HistoryBefore("c1", 9, 2, &page).ok());
  CHECK(page[0].text == "turn 2");
  CHECK(page[1].text == "re: turn 2");

  int64_t bytes = 0;
  REQUIRE(s->ConversationTextBytes("c1", &bytes).ok());
  CHECK(bytes >= static_cast<int64_t>(std::string("hellohiturn 0re: turn 0turn 1re: turn 1turn 2re: turn 2").size()));
  REQUIRE(s->ConversationTextBytes("nobody", &bytes).ok());
  CHECK(bytes == 0);

  REQUIRE(s->LoadConversation("c1", &c1).ok());
  TurnCommit upload = NextTurn(c1, "file");
  upload.attachment = AttachmentRecord{"c1", std::string(64, 'a'), "a.pdf", "application/pdf", 1000, "/tmp/a", 0};
  REQUIRE(s->CommitTurn(upload).ok());
  int64_t count = 0, today = 0;
  REQUIRE(s->AttachmentUsage("c1", 0, &count, &today).ok());
  CHECK(count == 1);
  CHECK(today == 1000);
  REQUIRE(s->AttachmentUsage("c1", c1.updated_at + 100, &count, &today).ok());  // stored before `since`
  CHECK(count == 1);
  CHECK(today == 0);
}

}  // namespace rd
