#include "storage/sqlite_store.h"

#include <pthread.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "storage/json_writer.h"
#include "storage/wal_write_vfs.h"

namespace rd {

using nlohmann::json;

namespace {

// Numbered migrations: entry i brings the schema to version i + 1. Append only; never edit a shipped one.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE conversations(
  id TEXT PRIMARY KEY,
  session_hash TEXT UNIQUE,
  channel TEXT NOT NULL,
  channel_user TEXT,
  state TEXT NOT NULL,
  pending_slot TEXT,
  dialog TEXT NOT NULL,
  version INTEGER NOT NULL,
  last_seq INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL);
-- state alone: an index on updated_at would be rewritten by every turn.
CREATE INDEX conversations_state ON conversations(state);
CREATE INDEX conversations_channel_user ON conversations(channel, channel_user);
CREATE TABLE messages(
  conversation_id TEXT NOT NULL REFERENCES conversations(id),
  seq INTEGER NOT NULL,
  author TEXT NOT NULL CHECK(author IN ('customer', 'bot', 'staff', 'system')),
  text TEXT NOT NULL,
  quick_replies TEXT,
  at INTEGER NOT NULL,
  dedupe_key TEXT,
  response TEXT,
  PRIMARY KEY(conversation_id, seq)) WITHOUT ROWID;
-- Partial: most messages (bot replies, turns without a client id) have no key and cost no index entry.
CREATE UNIQUE INDEX messages_dedupe ON messages(dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE TABLE tickets(
  id TEXT PRIMARY KEY,
  conversation_id TEXT NOT NULL REFERENCES conversations(id),
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  body TEXT NOT NULL);
CREATE INDEX tickets_conversation ON tickets(conversation_id);
CREATE INDEX tickets_status ON tickets(status, created_at);
CREATE TABLE ticket_counters(day TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE outbox(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  target TEXT NOT NULL,
  payload TEXT NOT NULL,
  idempotency_key TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  result TEXT,
  created_at INTEGER NOT NULL,
  delivered_at INTEGER);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
)sql",
    // 2: staff accounts and their credentials (API tokens, login sessions), secrets stored as hashes.
    R"sql(
CREATE TABLE staff(
  name TEXT PRIMARY KEY,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL);
CREATE TABLE staff_credentials(
  secret_hash TEXT PRIMARY KEY,
  name TEXT NOT NULL REFERENCES staff(name),
  kind TEXT NOT NULL CHECK(kind IN ('api', 'session')),
  expires_at INTEGER NOT NULL,
  csrf_hash TEXT,
  created_at INTEGER NOT NULL);
)sql",
    // 3: handoff (who has a conversation, what staff have read) and uploaded evidence files.
    R"sql(
ALTER TABLE conversations ADD COLUMN assignee TEXT;
ALTER TABLE conversations ADD COLUMN staff_read_seq INTEGER NOT NULL DEFAULT 0;
CREATE TABLE attachments(
  conversation_id TEXT NOT NULL REFERENCES conversations(id),
  sha256 TEXT NOT NULL,
  name TEXT NOT NULL,
  content_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  path TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY(conversation_id, sha256));
)sql",
    // 4: outbox delivery in order per target; the newest conversation of a platform user.
    R"sql(
CREATE INDEX outbox_target ON outbox(target, id) WHERE status IN ('pending', 'sending');
)sql",
    // 5: write locality. Messages were clustered by (conversation, seq), so every turn of every active
    // conversation dirtied its own page (about 10 of the 16 pages a group commit wrote); in arrival order
    // they share the table's last page and a small index. The state index served no query (the queue
    // filters by expressions it cannot use) and cost a page per commit.
    R"sql(
CREATE TABLE messages_by_arrival(
  id INTEGER PRIMARY KEY,
  conversation_id TEXT NOT NULL REFERENCES conversations(id),
  seq INTEGER NOT NULL,
  author TEXT NOT NULL CHECK(author IN ('customer', 'bot', 'staff', 'system')),
  text TEXT NOT NULL,
  quick_replies TEXT,
  at INTEGER NOT NULL,
  dedupe_key TEXT,
  response TEXT);
INSERT INTO messages_by_arrival(conversation_id, seq, author, text, quick_replies, at, dedupe_key, response)
  SELECT conversation_id, seq, author, text, quick_replies, at, dedupe_key, response FROM messages ORDER BY at, conversation_id, seq;
DROP TABLE messages;
ALTER TABLE messages_by_arrival RENAME TO messages;
CREATE UNIQUE INDEX messages_conversation_seq ON messages(conversation_id, seq);
CREATE UNIQUE INDEX messages_dedupe ON messages(dedupe_key) WHERE dedupe_key IS NOT NULL;
DROP INDEX conversations_state;
)sql",
    // 6: the due-rows index holds the rows still to send, not every row ever delivered.
    R"sql(
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE status IN ('pending', 'sending');
)sql",
    // 7: one row per turn. A row holds its first message and, in `more`, the messages of the same turn
    // that follow it (seq + 1, ...) as a JSON array: the bot's replies were two of a turn's three rows
    // and over a third of what the store spent on a turn. Rows written before hold one message each.
    R"sql(
ALTER TABLE messages ADD COLUMN more TEXT;
)sql",
    // 8: platform users only. Web conversations have no channel user, and each one started cost the
    // index a page in the commit that created it.
    R"sql(
DROP INDEX conversations_channel_user;
CREATE INDEX conversations_channel_user ON conversations(channel, channel_user) WHERE channel_user IS NOT NULL;
)sql",
    // 9: a day's ticket count is read from the tickets filed (the counter row only ever equalled their
    // largest number, and writing it cost every filing turn a statement and a page).
    R"sql(
DROP TABLE ticket_counters;
)sql",
    // 10: a platform user's newest conversation straight from the index: without its order the lookup
    // sorted the user's conversations in a temporary b-tree, on every first message since a start.
    R"sql(
DROP INDEX conversations_channel_user;
CREATE INDEX conversations_channel_user ON conversations(channel, channel_user, created_at, id)
  WHERE channel_user IS NOT NULL;
)sql",
    // 11: a Slack message's dedupe key leads with its ts ("slack:{ts}:{channel}", was
    // "slack:{channel}:{ts}"): DM channel ids are random, so every turn put its key at a random place in
    // the dedupe index (a page of its own in the commit); by ts they arrive in order, at the end.
    // Stored keys are rewritten, so a retry of a message taken before the upgrade is still recognised.
    R"sql(
UPDATE messages SET dedupe_key = k.new_key FROM (
  SELECT id,
         'slack:' || CASE WHEN instr(rest, ':') > 0 THEN substr(rest, 1, instr(rest, ':') - 1) ELSE rest END || ':' ||
         channel || CASE WHEN instr(rest, ':') > 0 THEN substr(rest, instr(rest, ':')) ELSE '' END AS new_key
  FROM (SELECT id, substr(key, 1, instr(key, ':') - 1) AS channel, substr(key, instr(key, ':') + 1) AS rest
        FROM (SELECT id, substr(dedupe_key, 7) AS key FROM messages
              WHERE dedupe_key >= 'slack:' AND dedupe_key < 'slack;' AND dedupe_key NOT LIKE 'slack:action:%')
        WHERE instr(key, ':') > 1)
) AS k WHERE messages.id = k.id;
)sql",
    // 12: staff accounts can be disabled; API tokens issued before expiry existed expire 90 days after
    // the upgrade; the WeCom robot key leaves the outbox (a row names its target "wecom_robot", the
    // webhook URL with its key is read from the configuration at delivery).
    R"sql(
ALTER TABLE staff ADD COLUMN disabled_at INTEGER;
UPDATE staff_credentials SET expires_at = CAST(strftime('%s', 'now') AS INTEGER) + 90 * 86400
  WHERE kind = 'api' AND expires_at = 0;
CREATE INDEX staff_credentials_name ON staff_credentials(name);
UPDATE outbox SET target = 'wecom_robot' WHERE kind = 'wecom_robot';
)sql",
};

constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

// The columns ReadConversation reads, in its order. A macro so each query stays one string literal:
// prepared statements are cached by the literal's address.
#define RD_SELECT_CONVERSATION                                                                              \
  "SELECT id, channel, channel_user, state, pending_slot, dialog, version, last_seq, created_at, updated_at, " \
  "assignee, staff_read_seq FROM conversations "

// A connection with its prepared statements, reused across calls.
class Connection {
 public:
  ~Connection() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    if (db_) sqlite3_close(db_);
  }

  bool Open(const std::string& path, const SqliteOptions& opt, bool readonly, std::string* error) {
    int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, WalWriteVfsName()) != SQLITE_OK) {
      *error = "cannot open database " + path + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory");
      return false;
    }
    sqlite3_busy_timeout(db_, opt.busy_timeout_ms);
    std::string pragmas = "PRAGMA foreign_keys=ON;";
    if (!readonly) {
      // Checkpoints run on a background thread (see Checkpointer), never inside a customer's turn.
      pragmas += "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=134217728;"
                 // SQLite's default 2 MiB, on purpose: every commit truncates the page cache to the
                 // database size, and that walks the cache's hash table (SQLite 3.40). With 64 MiB the
                 // walk took 8 % of the bot's CPU under load; at 2 MiB 0.4 %. Pages that fall out are
                 // re-read from the OS page cache.
                 "PRAGMA cache_size=-2000;"
                 "PRAGMA synchronous=" + std::string(opt.synchronous == "full" ? "FULL" : "NORMAL") + ";";
    }
    return Exec(pragmas, error);
  }

  bool Exec(const std::string& sql, std::string* error) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
      *error = msg ? msg : "sqlite error";
      sqlite3_free(msg);
      return false;
    }
    return true;
  }

  sqlite3_stmt* Prepare(const char* sql) {
    auto it = cache_.find(sql);
    if (it != cache_.end()) {
      sqlite3_reset(it->second);
      sqlite3_clear_bindings(it->second);
      return it->second;
    }
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) return nullptr;
    cache_[sql] = stmt;
    return stmt;
  }

  sqlite3* db() { return db_; }
  std::string Error() const { return sqlite3_errmsg(db_); }

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;  // keyed by the literal's address
};

void BindText(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
void BindTextOrNull(sqlite3_stmt* s, int i, const std::string& v) {
  if (v.empty()) sqlite3_bind_null(s, i);
  else BindText(s, i, v);
}
std::string ColumnText(sqlite3_stmt* s, int i) {
  const unsigned char* t = sqlite3_column_text(s, i);
  return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(sqlite3_column_bytes(s, i)))
           : std::string();
}

// Resets a statement when it goes out of scope so readers never hold a snapshot open.
struct StmtGuard {
  sqlite3_stmt* s;
  ~StmtGuard() { if (s) sqlite3_reset(s); }
};

class SqliteStore : public Store {
 public:
  SqliteStore(std::string path, SqliteOptions opt) : path_(std::move(path)), opt_(std::move(opt)) {}

  ~SqliteStore() override {
    {
      std::lock_guard<std::mutex> l(checkpoint_mu_);
      stopping_ = true;
    }
    checkpoint_cv_.notify_all();
    if (checkpointer_.joinable()) checkpointer_.join();
  }

  bool Init(std::string* error) {
    if (!writer_.Open(path_, opt_, false, error)) return false;
    if (!Migrate(error)) return false;
    if (!checkpoint_conn_.Open(path_, opt_, false, error)) return false;
    sqlite3_wal_hook(writer_.db(), &SqliteStore::OnWalCommit, this);
    checkpointer_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "rd-checkpoint");
      CheckpointLoop();
    });
    return true;
  }

  Status FindConversationBySession(const std::string& hash, ConversationRecord* out) override {
    return WithReader([&](Connection& c) {
      return ReadConversation(c, RD_SELECT_CONVERSATION "WHERE session_hash = ?", {hash}, out);
    });
  }

  Status LoadConversation(const std::string& id, ConversationRecord* out) override {
    return WithReader([&](Connection& c) {
      return ReadConversation(c, RD_SELECT_CONVERSATION "WHERE id = ?", {id}, out);
    });
  }

  Status FindDuplicate(const std::string& key, json* response) override {
    return WithReader([&](Connection& c) -> Status {
      sqlite3_stmt* s = c.Prepare("SELECT response, more, at FROM messages WHERE dedupe_key = ?");
      if (!s) return Status::IoError(c.Error());
      StmtGuard g{s};
      BindText(s, 1, key);
      int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) return Status::NotFound("no message with that key");
      if (rc != SQLITE_ROW) return Status::IoError(c.Error());
      *response = json::parse(ColumnText(s, 0), nullptr, false);
      if (response->is_object() && !response->contains("replies")) {
        // Stored without them: the replies are the row's messages after the customer's.
        json replies = json::array();
        const json more = json::parse(ColumnText(s, 1), nullptr, false);
        if (more.is_array()) {
          for (const json& j : more) {
            MessageRecord m = FollowingMessage(j, 0, sqlite3_column_int64(s, 2));
            json reply = {{"text", m.text}};
            if (m.quick_replies.is_array() && !m.quick_replies.empty()) reply["quick_replies"] = m.quick_replies;
            replies.push_back(std::move(reply));
          }
        }
        (*response)["replies"] = std::move(replies);
      }
      return Status::Ok();
    });
  }

  // Group commit, as LevelDB's writers do: each write (a turn, the outbox worker's claim or outcomes)
  // joins a queue; the write at its head leads, takes everything queued and commits it as one
  // transaction, then wakes exactly the writes it committed and the next head. Waking only those (not
  // every waiter) keeps context switches at about one per write; the outbox's bookkeeping rides in the
  // customers' transactions instead of taking the writer from them. Every write still returns only
  // after its own data is committed.
  Status CommitTurn(const TurnCommit& t) override {
    return GroupCommit([&] { return WriteTurn(t); });
  }

  std::vector<Status> CommitTurns(const std::vector<const TurnCommit*>& turns) override {
    std::vector<std::function<Status()>> writes;
    writes.reserve(turns.size());
    for (const TurnCommit* t : turns) writes.emplace_back([this, t] { return WriteTurn(*t); });
    return GroupCommitAll(writes);
  }

  // `write` runs inside the batch's transaction, possibly twice (see CommitBatch): it must start over
  // each time it runs.
  Status GroupCommit(const std::function<Status()>& write) {
    return GroupCommitAll({write})[0];
  }

  // Several writes join the queue together (under one lock, so no batch splits them) and wait as one.
  std::vector<Status> GroupCommitAll(const std::vector<std::function<Status()>>& writes) {
    std::vector<PendingWrite> mine(writes.size());
    for (size_t i = 0; i < writes.size(); ++i) mine[i].write = &writes[i];
    PendingWrite& first = mine.front();
    std::unique_lock<std::mutex> lock(queue_mu_);
    for (PendingWrite& p : mine) queue_.push_back(&p);
    while (!first.done && &first != queue_.front()) first.cv.wait(lock);
    if (!first.done) {
      std::vector<PendingWrite*> batch(queue_.begin(), queue_.end());
      lock.unlock();
      CommitBatch(batch);
      lock.lock();
      for (size_t i = 0; i < batch.size(); ++i) queue_.pop_front();
      for (PendingWrite* p : batch) {
        p->done = true;
        if (p != &first) p->cv.notify_one();  // only the first of a group waits
      }
      if (!queue_.empty()) queue_.front()->cv.notify_one();
    }
    std::vector<Status> statuses;
    statuses.reserve(mine.size());
    for (PendingWrite& p : mine) statuses.push_back(std::move(p.status));
    return statuses;
  }

  // Rows are turns (migration 7): a row before `after` may hold messages past it, so rows are chosen by
  // where they end, then split into messages.
  Status History(const std::string& id, int64_t after, int limit, std::vector<MessageRecord>* out) override {
    return WithReader([&](Connection& c) -> Status {
      sqlite3_stmt* s = c.Prepare(
          "SELECT seq, author, text, quick_replies, at, more FROM messages "
          "WHERE conversation_id = ?1 AND seq + coalesce(json_array_length(more), 0) > ?2 ORDER BY seq LIMIT ?3");
      if (!s) return Status::IoError(c.Error());
      StmtGuard g{s};
      BindText(s, 1, id);
      sqlite3_bind_int64(s, 2, after);
      sqlite3_bind_int(s, 3, limit);  // a row holds at least one message
      const size_t wanted = out->size() + static_cast<size_t>(std::max(limit, 0));
      int rc = SQLITE_DONE;
      while (out->size() < wanted && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        MessageRecord head;
        head.seq = sqlite3_column_int64(s, 0);
        head.author = ColumnText(s, 1);
        head.text = ColumnText(s, 2);
        std::string qr = ColumnText(s, 3);
        head.quick_replies = qr.empty() ? json(nullptr) : json::parse(qr, nullptr, false);
        head.at = sqlite3_column_int64(s, 4);
        const std::string more_text = ColumnText(s, 5);
        const json more = more_text.empty() ? json::array() : json::parse(more_text, nullptr, false);
        const int64_t seq = head.seq;
        if (seq > after) out->push_back(head);
        if (!more.is_array()) continue;
        for (size_t i = 0; i < more.size() && out->size() < wanted; ++i) {
          if (seq + 1 + static_cast<int64_t>(i) <= after) continue;
          out->push_back(FollowingMessage(more[i], seq + 1 + static_cast<int64_t>(i), head.at));
        }
      }
      return rc == SQLITE_DONE || rc == SQLITE_ROW ? Status::Ok() : Status::IoError(c.Error());
    });
  }

  // A message of a row's `more`: {"author", "text", "quick_replies"?, "at"? (when not the row's)}.
  // Rows are turns: the rows that start before `before`, newest first, until `limit` messages are had.
  Status HistoryBefore(const std::string& id, int64_t before, int limit, std::vector<MessageRecord>* out) override {
    return WithReader([&](Connection& c) -> Status {
      sqlite3_stmt* s = c.Prepare(
          "SELECT seq, author, text, quick_replies, at, more FROM messages "
          "WHERE conversation_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3");
      if (!s) return Status::IoError(c.Error());
      StmtGuard g{s};
      BindText(s, 1, id);
      sqlite3_bind_int64(s, 2, before);
      sqlite3_bind_int(s, 3, limit);  // a row holds at least one message
      std::vector<std::vector<MessageRecord>> rows;  // newest row first
      size_t have = 0;
      int rc = SQLITE_DONE;
      while (have < static_cast<size_t>(std::max(limit, 0)) && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        std::vector<MessageRecord> row;
        MessageRecord head;
        head.seq = sqlite3_column_int64(s, 0);
        head.author = ColumnText(s, 1);
        head.text = ColumnText(s, 2);
        std::string qr = ColumnText(s, 3);
        head.quick_replies = qr.empty() ? json(nullptr) : json::parse(qr, nullptr, false);
        head.at = sqlite3_column_int64(s, 4);
        const std::string more_text = ColumnText(s, 5);
        const json more = more_text.empty() ? json::array() : json::parse(more_text, nullptr, false);
        const int64_t seq = head.seq;
        row.push_back(std::move(head));
        for (size_t i = 0; more.is_array() && i < more.size(); ++i) {
          if (seq + 1 + static_cast<int64_t>(i) >= before) break;
          row.push_back(FollowingMessage(more[i], seq + 1 + static_cast<int64_t>(i), row.front().at));
        }
        have += row.size();
        rows.push_back(std::move(row));
      }
      if (rc != SQLITE_DONE && rc != SQLITE_ROW) return Status::IoError(c.Error());
      std::vector<MessageRecord> page;
      for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
        for (auto& m : *it) page.push_back(std::move(m));
      }
      const size_t drop = page.size() > static_cast<size_t>(std::max(limit, 0)) ? page.size() - limit : 0;
      for (size_t i = drop; i < page.size(); ++i) out->push_back(std::move(page[i]));
      return Status::Ok();
    });
  }

  Status ConversationTextBytes(const std::string& id, int64_t* bytes) override {
    return WithReader([&](Connection& c) -> Status {
      sqlite3_stmt* s = c.Prepare(
          "SELECT coalesce(sum(length(CAST(text AS BLOB)) + coalesce(length(CAST(more AS BLOB)), 0)), 0) "
          "FROM messages WHERE conversation_id = ?");
      if (!s) return Status::IoError(c.Error());
      StmtGuard g{s};
      BindText(s, 1, id);
      if (sqlite3_step(s) != SQLITE_ROW) return Status::IoError(c.Error());
      *bytes = sqlite3_column_int64(s, 0);
      return Status::Ok();
    });
  }

  Status AttachmentUsage(const std::string& id, int64_t since, int64_t* count, int64_t* bytes_since) override {
    return WithReader([&](Connection& c) -> Status {
      sqlite3_stmt* s = c.Prepare(
          "SELECT count(*), coalesce(sum(CASE WHEN created_at >= ?2 THEN size ELSE 0 END), 0) "
          "FROM attachments WHERE conversation_id = ?1");
      if (!s) return Status::IoError(c.Error());
      StmtGuard g{s};
      BindText(s, 1, id);
      sqlite3_bind_int64(s, 2, since);
      if (sqlite3_step(s) != SQLITE_ROW) return Status::IoError(c.Error());
      *count = sqlite3_column_int64(s, 0);
      *bytes_since = sqlite3_column_int64(s, 1);
      return Status::Ok();
    });
  }

  static MessageRecord FollowingMessage(const json& j, int64_t seq, int64_t row_at) {
    MessageRecord m;
    m.seq = seq;
    if (!j.is_object()) return m;
    m.author = j.value("author", "bot");
    m.text = j.value("text", "");
    auto qr = j.find("quick_replies");
    m.quick_replies = qr != j.end() && qr->is_array() ? *qr : json(nullptr);
    m.at = j.value("at", row_at);
    return m;
  }

  // The `more` column: the messages after a row's first, written straight to text.
  static std::string MoreOf(std::vector<MessageRecord>::const_iterator begin,
                            std::vector<MessageRecord>::const_iterator end, int64_t row_at) {
    if (begin == end) return "";
    JsonWriter w;
    w.BeginArray();
    for (auto it = begin; it != end; ++it) {
      w.BeginObject().Member("author", it->author).Member("text", it->text);
      if (it->quick_replies.is_array() && !it->quick_replies.empty()) w.Key("quick_replies").Value(it->quick_replies);
      if (it->at != row_at) w.Member("at", it->at);
      w.EndObject();
    }
    w.EndArray();
    return w.Take();
  }

  // From a counter in memory, loaded per day from the largest number filed that day (the tickets'
  // primary key, a range scan once a day): no commit of its own, and filing writes nothing extra.
  Status AllocateTicketId(const std::string& day, std::string* id) override {
    std::lock_guard<std::mutex> lock(ticket_mu_);
    auto it = ticket_last_.find(day);
    if (it == ticket_last_.end()) {
      int64_t last = 0;
      Status st = WithReader([&](Connection& c) -> Status {
        // As numbers: "RF-…-10000" sorts before "RF-…-9999" as text.
        sqlite3_stmt* s = c.Prepare("SELECT max(CAST(substr(id, 13) AS INTEGER)) FROM tickets WHERE id > ?1 AND id < ?2");
        if (!s) return Status::IoError(c.Error());
        StmtGuard g{s};
        BindText(s, 1, "RF-" + day + "-");
        BindText(s, 2, "RF-" + day + ".");  // '.' follows '-': every id of the day lies between
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) last = sqlite3_column_int64(s, 0);
        return rc == SQLITE_ROW || rc == SQLITE_DONE ? Status::Ok() : Status::IoError(c.Error());
      });
      if (!st.ok()) return st;
      it = ticket_last_.emplace(day, last).first;
    }
    char buf[40];
    std::snprintf(buf, sizeof buf, "RF-%s-%04lld", day.c_str(), static_cast<long long>(++it->second));
    *id = buf;
    return Status::Ok();
  }

  Status GetTicket(const std::string& id, TicketRecord* out) override {
    return WithReader([&](Connection& c) -> Status {
      sqlite3_stmt* s = c.Prepare("SELECT id, conversation_id, status, body FROM tickets WHERE id = ?");
      if (!s) return Status::IoError(c.Error());
      StmtGuard g{s};
      BindText(s, 1, id);
      int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) return Status::NotFound("no ticket " + id);
      if (rc != SQLITE_ROW) return Status::IoError(c.Error());
      *out = TicketFromRow(s);
      return Status::Ok();
    });
  }

  Status ListTickets(const std::string& status, int limit, std::vector<TicketRecord>* out) override {
    return WithReader([&](Connection& c) -> Status {
      sqlite3_stmt* s = c.Prepare("SELECT id, conversation_id, status, body FROM tickets "
                                  "WHERE (?1 = '' OR status = ?1) ORDER BY created_at DESC, id DESC LIMIT ?2");
      if (!s) return Status::IoError(c.Error());
      StmtGuard g{s};
      BindText(s, 1, status);
      sqlite3_bind_int(s, 2, limit);
      int rc;
      while ((rc = sqlite3_step(s)) == SQLITE_ROW) out->push_back(TicketFromRow(s));
      return rc == SQLITE_DONE ? Status::Ok() : Status::IoError(c.Error());
    });
  }

  Status TicketStatuses(const std::string& conversation_id, std::map<std::string, std::string>* out) override {
    return WithReader([&](Connection& c) -> Status {
      sqlite3_stmt* s = c.Prepare("SELECT id, status FROM tickets WHERE conversation_id = ?");
      if (!s) return Status::IoError(c.Error());
      StmtGuard g{s};
      BindText(s, 1, conversation_id);
      int rc;
      while ((rc = sqlite3_step(s)) == SQLITE_ROW) (*out)[ColumnText(s, 0)] = ColumnText(s, 1);
      return rc == SQLITE_DONE ? Status::Ok() : Status::IoError(c.Error());
    });
  }

  Status ListConversations(const ConversationFilter& f, std::vector<ConversationSummary>* out) override {
    return WithReader([&](Connection& c) -> Status {
      sqlite3_stmt* s = c.Prepare(
          "SELECT id, channel, channel_user, state, pending_slot, '{}', version, last_seq, created_at, updated_at, "
          "assignee, staff_read_seq, "
          "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.seq > c.staff_read_seq "
          " AND m.author = 'customer') AS unread "
          "FROM conversations c WHERE "
          "(?1 = 'all' OR (?1 = 'needs_human' AND state = 'handoff' AND assignee IS NULL) OR "
          " (?1 = 'bot' AND state <> 'handoff') OR state = ?1) "
          "ORDER BY (state = 'handoff' AND assignee IS NULL) DESC, updated_at DESC, id DESC LIMIT ?2");
      if (!s) return Status::IoError(c.Error());
      StmtGuard g{s};
      BindText(s, 1, f.state);
      sqlite3_bind_int(s, 2, f.limit);
      int rc;
      while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ConversationSummary sum;
        ConversationRecord& r = sum.record;
        r.id = ColumnText(s, 0);
        r.channel = ColumnText(s, 1);
        r.channel_user = ColumnText(s, 2);
        r.state = ColumnText(s, 3);
        r.pending_slot = ColumnText(s, 4);
        r.version = sqlite3_column_int64(s, 6);
        r.last_seq = sqlite3_column_int64(s, 7);
        r.created_at = sqlite3_column_int64(s, 8);
        r.updated_at = sqlite3_column_int64(s, 9);
        r.assignee = ColumnText(s, 10);
        r.staff_read_seq = sqlite3_column_int64(s, 11);
        sum.unread = sqlite3_column_int64(s, 12);
        out->push_back(std::move(sum));
      }
      return rc == SQLITE_DONE ? Status::Ok() : Status::IoError(c.Error());
    });
  }

  Status GetAttachment(const std::string& conversation_id, const std::string& sha256, AttachmentRecord* out) override {
    return WithReader([&](Connection& c) -> Status {
      sqlite3_stmt* s = c.Prepare("SELECT name, content_type, size, path, created_at FROM attachments "
                                  "WHERE conversation_id = ? AND sha256 = ?");
      if (!s) return Status::IoError(c.Error());
      StmtGuard g{s};
      BindText(s, 1, conversation_id);
      BindText(s, 2, sha256);
      int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) return Status::NotFound("no such attachment");
      if (rc != SQLITE_ROW) return Status::IoError(c.Error());
      *out = {conversation_id, sha256, ColumnText(s, 0), ColumnText(s, 1), sqlite3_column_int64(s, 2),
              ColumnText(s, 3), sqlite3_column_int64(s, 4)};
      return Status::Ok();
    });
  }

  Status MarkReadByStaff(const std::string& conversation_id, int64_t seq) override {
    return WriteOne("UPDATE conversations SET staff_read_seq = max(staff_read_seq, ?) WHERE id = ?", [&](sqlite3_stmt* s) {
      sqlite3_bind_int64(s, 1, seq);
      BindText(s, 2, conversation_id);
    }, "");
  }

  Status FindConversationByChannelUser(const std::string& channel, const std::string& channel_user,
                                       ConversationRecord* out) override {
    return WithReader([&](Connection& c) {
      return ReadConversation(c, RD_SELECT_CONVERSATION "WHERE channel = ? AND channel_user = ? "
                                 "ORDER BY created_at DESC, id DESC LIMIT 1", {channel, channel_user}, out);
    });
  }

  Status ClaimOutbox(int64_t now, int64_t lease_until, int limit, std::vector<OutboxRecord>* out) override {
    std::vector<OutboxRecord> claimed;
    Status st = GroupCommit([&]() -> Status {
      claimed.clear();
      sqlite3_stmt* s = writer_.Prepare(
          "UPDATE outbox SET status = 'sending', next_attempt_at = ?2, attempts = attempts + 1 WHERE id IN ("
          " SELECT o.id FROM outbox o WHERE o.status IN ('pending', 'sending') AND o.next_attempt_at <= ?1"
          " AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.target = o.target AND e.status IN ('pending', 'sending')"
          "                 AND e.id < o.id)"
          " LIMIT ?3) "
          "RETURNING id, kind, target, payload, idempotency_key, attempts");
      if (!s) return Status::IoError(writer_.Error());
      StmtGuard g{s};
      sqlite3_bind_int64(s, 1, now);
      sqlite3_bind_int64(s, 2, lease_until);
      sqlite3_bind_int(s, 3, limit);
      int rc;
      while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        OutboxRecord r;
        r.id = sqlite3_column_int64(s, 0);
        r.kind = ColumnText(s, 1);
        r.target = ColumnText(s, 2);
        r.payload = ColumnText(s, 3);
        r.idempotency_key = ColumnText(s, 4);
        r.attempts = sqlite3_column_int(s, 5);
        claimed.push_back(std::move(r));
      }
      return rc == SQLITE_DONE ? Status::Ok() : Status::IoError(writer_.Error());
    });
    if (st.ok()) for (auto& r : claimed) out->push_back(std::move(r));
    return st;
  }

  Status RecordOutboxOutcomes(const std::vector<OutboxOutcome>& outcomes, int64_t now) override {
    return GroupCommit([&]() -> Status {
      for (const OutboxOutcome& o : outcomes) {
        sqlite3_stmt* s = writer_.Prepare(
            "UPDATE outbox SET status = ?1, result = CASE WHEN ?1 = 'pending' THEN result ELSE ?2 END, "
            "last_error = CASE WHEN ?1 = 'delivered' THEN last_error ELSE ?2 END, "
            "next_attempt_at = CASE WHEN ?1 = 'pending' THEN ?3 ELSE next_attempt_at END, "
            "delivered_at = CASE WHEN ?1 = 'pending' THEN NULL ELSE ?4 END WHERE id = ?5");
        if (!s) return Status::IoError(writer_.Error());
        BindText(s, 1, o.status);
        BindText(s, 2, JsonText(o.result));
        sqlite3_bind_int64(s, 3, o.next_attempt_at);
        sqlite3_bind_int64(s, 4, now);
        sqlite3_bind_int64(s, 5, o.id);
        Status st = Step(s);
        if (!st.ok()) return st;
      }
      return Status::Ok();
    });
  }

  Status ReleaseOutboxClaims(int64_t now) override {
    return WriteOne("UPDATE outbox SET status = 'pending', next_attempt_at = ? WHERE status = 'sending'",
                    [&](sqlite3_stmt* s) { sqlite3_bind_int64(s, 1, now); }, "");
  }

  Status OutboxCounts(std::map<std::string, int64_t>* out) override {
    return WithReader([&](Connection& c) -> Status {
      sqlite3_stmt* s = c.Prepare("SELECT status, count(*) FROM outbox GROUP BY status");
      if (!s) return Status::IoError(c.Error());
      StmtGuard g{s};
      int rc;
      while ((rc = sqlite3_step(s)) == SQLITE_ROW) (*out)[ColumnText(s, 0)] = sqlite3_column_int64(s, 1);
      return rc == SQLITE_DONE ? Status::Ok() : Status::IoError(c.Error());
    });
  }

  void SetOutboxSink(OutboxSink* sink) override {
    std::lock_guard<std::mutex> lock(write_mu_);
    outbox_sink_ = sink;
  }


  Status AddStaff(const std::string& name, const std::string& password_hash, int64_t now) override {
    return WriteOne("INSERT INTO staff(name, password_hash, created_at) VALUES(?, ?, ?)", [&](sqlite3_stmt* s) {
      BindText(s, 1, name);
      BindText(s, 2, password_hash);
      sqlite3_bind_int64(s, 3, now);
    }, "staff member " + name + " exists already");
  }

  Status GetStaffPasswordHash(const std::string& name, std::string* password_hash) override {
    return WithReader([&](Connection& c) -> Status {
      sqlite3_stmt* s = c.Prepare("SELECT password_hash FROM staff WHERE name = ?");
      if (!s) return Status::IoError(c.Error());
      StmtGuard g{s};
      BindText(s, 1, name);
      int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) return Status::NotFound("no staff member " + name);
      if (rc != SQLITE_ROW) return Status::IoError(c.Error());
      *password_hash = ColumnText(s, 0);
      return Status::Ok();
    });
  }

  Status AddStaffCredential(const std::string& secret_hash, const StaffCredential& cred, int64_t now) override {
    return WriteOne("INSERT INTO staff_credentials(secret_hash, name, kind, expires_at, csrf_hash, created_at) "
                    "VALUES(?, ?, ?, ?, ?, ?)", [&](sqlite3_stmt* s) {
      BindText(s, 1, secret_hash);
      BindText(s, 2, cred.name);
      BindText(s, 3, cred.kind);
      sqlite3_bind_int64(s, 4, cred.expires_at);
      BindTextOrNull(s, 5, cred.csrf_hash);
      sqlite3_bind_int64(s, 6, now);
    }, "credential exists already");
  }

  Status FindStaffCredential(const std::string& secret_hash, StaffCredential* out) override {
    return WithReader([&](Connection& c) -> Status {
      sqlite3_stmt* s = c.Prepare("SELECT c.name, c.kind, c.expires_at, c.csrf_hash, s.disabled_at IS NOT NULL "
                                  "FROM staff_credentials c JOIN staff s ON s.name = c.name WHERE c.secret_hash = ?");
      if (!s) return Status::IoError(c.Error());
      StmtGuard g{s};
      BindText(s, 1, secret_hash);
      int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) return Status::NotFound("no such credential");
      if (rc != SQLITE_ROW) return Status::IoError(c.Error());
      out->name = ColumnText(s, 0);
      out->kind = ColumnText(s, 1);
      out->expires_at = sqlite3_column_int64(s, 2);
      out->csrf_hash = ColumnText(s, 3);
      out->disabled = sqlite3_column_int(s, 4) != 0;
      return Status::Ok();
    });
  }

  Status DeleteStaffCredential(const std::string& secret_hash) override {
    return WriteOne("DELETE FROM staff_credentials WHERE secret_hash = ?",
                    [&](sqlite3_stmt* s) { BindText(s, 1, secret_hash); }, "");
  }

  // --- staff credentials' lifetime and the outbox's retention (issue 18) ---------------------------
  Status GetStaffDisabled(const std::string& name, bool* disabled) override {
    return WithReader([&](Connection& c) -> Status {
      sqlite3_stmt* s = c.Prepare("SELECT disabled_at IS NOT NULL FROM staff WHERE name = ?");
      if (!s) return Status::IoError(c.Error());
      StmtGuard g{s};
      BindText(s, 1, name);
      int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) return Status::NotFound("no staff member " + name);
      if (rc != SQLITE_ROW) return Status::IoError(c.Error());
      *disabled = sqlite3_column_int(s, 0) != 0;
      return Status::Ok();
    });
  }

  Status SetStaffDisabled(const std::string& name, bool disabled, int64_t now, int64_t* revoked) override {
    std::lock_guard<std::mutex> lock(write_mu_);
    if (Status st = ExecWriter("BEGIN IMMEDIATE"); !st.ok()) return st;
    int64_t changed = 0;
    Status st = StepWriter(disabled ? "UPDATE staff SET disabled_at = ?2 WHERE name = ?1"
                                    : "UPDATE staff SET disabled_at = NULL WHERE name = ?1",
                           [&](sqlite3_stmt* s) {
                             BindText(s, 1, name);
                             if (disabled) sqlite3_bind_int64(s, 2, now);
                           }, &changed);
    if (st.ok() && changed == 0) st = Status::NotFound("no staff member " + name);
    *revoked = 0;
    if (st.ok() && disabled) {  // a disabled account holds no token and no session
      st = StepWriter("DELETE FROM staff_credentials WHERE name = ?1", [&](sqlite3_stmt* s) { BindText(s, 1, name); }, revoked);
    }
    if (!st.ok()) {
      ExecWriter("ROLLBACK");
      return st;
    }
    return ExecWriter("COMMIT");
  }

  Status DeleteStaffCredentials(const std::string& name, int64_t* deleted) override {
    std::lock_guard<std::mutex> lock(write_mu_);
    return StepWriter("DELETE FROM staff_credentials WHERE name = ?1", [&](sqlite3_stmt* s) { BindText(s, 1, name); }, deleted);
  }

  Status PurgeExpiredStaffCredentials(int64_t now, int64_t* deleted) override {
    std::lock_guard<std::mutex> lock(write_mu_);
    return StepWriter("DELETE FROM staff_credentials WHERE expires_at != 0 AND expires_at <= ?1",
                      [&](sqlite3_stmt* s) { sqlite3_bind_int64(s, 1, now); }, deleted);
  }

  Status PurgeDeliveredOutbox(int64_t delivered_before, int64_t* deleted) override {
    std::lock_guard<std::mutex> lock(write_mu_);
    return StepWriter("DELETE FROM outbox WHERE status = 'delivered' AND delivered_at < ?1",
                      [&](sqlite3_stmt* s) { sqlite3_bind_int64(s, 1, delivered_before); }, deleted);
  }

 private:
  // On the writer, write_mu_ held: one statement (in the open transaction, else autocommit); `changed`
  // gets the rows it changed.
  template <typename Bind>
  Status StepWriter(const char* sql, Bind&& bind, int64_t* changed) {
    sqlite3_stmt* s = writer_.Prepare(sql);
    if (!s) return Status::IoError(writer_.Error());
    StmtGuard g{s};
    bind(s);
    if (sqlite3_step(s) != SQLITE_DONE) return Status::IoError(writer_.Error());
    *changed = sqlite3_changes(writer_.db());
    return Status::Ok();
  }
  Status ExecWriter(const char* sql) {
    int64_t ignored = 0;
    return StepWriter(sql, [](sqlite3_stmt*) {}, &ignored);
  }

  // One autocommit statement on the writer (staff accounts and credentials: rare, outside any turn).
  template <typename Bind>
  Status WriteOne(const char* sql, Bind&& bind, const std::string& duplicate_message) {
    std::lock_guard<std::mutex> lock(write_mu_);
    sqlite3_stmt* s = writer_.Prepare(sql);
    if (!s) return Status::IoError(writer_.Error());
    StmtGuard g{s};
    bind(s);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_CONSTRAINT && !duplicate_message.empty()) return Status::Duplicate(duplicate_message);
    return rc == SQLITE_DONE ? Status::Ok() : Status::IoError(writer_.Error());
  }

  bool Migrate(std::string* error) {
    sqlite3_stmt* s = writer_.Prepare("PRAGMA user_version");
    if (!s || sqlite3_step(s) != SQLITE_ROW) { *error = writer_.Error(); return false; }
    int version = sqlite3_column_int(s, 0);
    sqlite3_reset(s);
    if (version > kSchemaVersion) {
      *error = "database schema version " + std::to_string(version) + " is newer than this program (" +
               std::to_string(kSchemaVersion) + ")";
      return false;
    }
    const int target = opt_.migrate_to > 0 ? std::min(opt_.migrate_to, kSchemaVersion) : kSchemaVersion;
    for (int v = version; v < target; ++v) {
      std::string sql = std::string("BEGIN IMMEDIATE;") + kMigrations[v] + "PRAGMA user_version=" +
                        std::to_string(v + 1) + "; COMMIT;";
      if (!writer_.Exec(sql, error)) {
        std::string ignored;
        writer_.Exec("ROLLBACK", &ignored);
        *error = "migration " + std::to_string(v + 1) + " failed: " + *error;
        return false;
      }
    }
    return true;
  }

  template <typename F>
  Status WithReader(F&& f) {
    std::unique_ptr<Connection> c;
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (!readers_.empty()) {
        c = std::move(readers_.back());
        readers_.pop_back();
      }
    }
    if (!c) {
      c = std::make_unique<Connection>();
      std::string error;
      if (!c->Open(path_, opt_, true, &error)) return Status::IoError(error);
    }
    Status st = f(*c);
    std::lock_guard<std::mutex> lock(pool_mu_);
    readers_.push_back(std::move(c));
    return st;
  }

  // `sql` is RD_SELECT_CONVERSATION followed by a WHERE clause with one ? per key.
  static Status ReadConversation(Connection& c, const char* sql, std::initializer_list<std::string> keys,
                                 ConversationRecord* out) {
    sqlite3_stmt* s = c.Prepare(sql);
    if (!s) return Status::IoError(c.Error());
    StmtGuard g{s};
    int i = 0;
    for (const auto& key : keys) BindText(s, ++i, key);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return Status::NotFound("no such conversation");
    if (rc != SQLITE_ROW) return Status::IoError(c.Error());
    out->id = ColumnText(s, 0);
    out->channel = ColumnText(s, 1);
    out->channel_user = ColumnText(s, 2);
    out->state = ColumnText(s, 3);
    out->pending_slot = ColumnText(s, 4);
    out->dialog = json::parse(ColumnText(s, 5), nullptr, false);
    out->version = sqlite3_column_int64(s, 6);
    out->last_seq = sqlite3_column_int64(s, 7);
    out->created_at = sqlite3_column_int64(s, 8);
    out->updated_at = sqlite3_column_int64(s, 9);
    out->assignee = ColumnText(s, 10);
    out->staff_read_seq = sqlite3_column_int64(s, 11);
    return Status::Ok();
  }

  static TicketRecord TicketFromRow(sqlite3_stmt* s) {
    TicketRecord t;
    t.id = ColumnText(s, 0);
    t.conversation_id = ColumnText(s, 1);
    t.status = ColumnText(s, 2);
    t.ticket = json::parse(ColumnText(s, 3), nullptr, false);
    t.ticket["status"] = t.status;
    return t;
  }

  struct PendingWrite {
    const std::function<Status()>* write = nullptr;
    Status status;
    bool done = false;
    std::condition_variable cv;
  };

  // Optimistic first: the whole batch in one transaction with no per-turn savepoints (they cost as much
  // as a small turn). Only when a turn fails — a dedupe race, a version conflict — is the batch rolled
  // back and replayed with one SAVEPOINT per turn, so the failing turn alone is refused.
  void CommitBatch(const std::vector<PendingWrite*>& batch) {
    std::lock_guard<std::mutex> lock(write_mu_);
    bool all_ok = RunBatch(batch, /*isolate=*/false);
    if (!all_ok) RunBatch(batch, /*isolate=*/true);
  }

  // Returns false when, without isolation, some turn failed (nothing was committed then).
  bool RunBatch(const std::vector<PendingWrite*>& batch, bool isolate) {
    std::string error;
    handoff_ = OutboxHandoff{};
    if (outbox_sink_) handoff_lease_until_ = outbox_sink_->LeaseUntil();
    if (!ExecCached("BEGIN IMMEDIATE", &error)) {
      for (PendingWrite* p : batch) p->status = Status::IoError(error);
      return true;
    }
    for (PendingWrite* p : batch) {
      if (isolate && !ExecCached("SAVEPOINT turn", &error)) { p->status = Status::IoError(error); continue; }
      const size_t handed = handoff_.rows.size(), blocked = handoff_.blocked_targets.size();
      p->status = RunWrite(*p->write);
      if (!isolate && !p->status.ok()) {
        ExecCached("ROLLBACK", &error);
        return false;
      }
      if (isolate) {
        if (!p->status.ok()) {
          ExecCached("ROLLBACK TO turn", &error);
          handoff_.rows.resize(handed);
          handoff_.blocked_targets.resize(blocked);
        }
        ExecCached("RELEASE turn", &error);
      }
    }
    if (!ExecCached("COMMIT", &error)) {
      std::string ignored;
      ExecCached("ROLLBACK", &ignored);
      for (PendingWrite* p : batch) if (p->status.ok()) p->status = Status::IoError(error);
      return true;
    }
    if (outbox_sink_ && (!handoff_.rows.empty() || !handoff_.blocked_targets.empty())) {
      outbox_sink_->Take(std::move(handoff_));
    }
    return true;
  }

  // A write that throws (a bug: nlohmann converts and throws where a type slips) fails its own turn; the
  // caller logs the error. Let through, it would leave the transaction open and the batch's waiters
  // asleep, and every later write of the process would hang (seen once: a test's server never stopped).
  static Status RunWrite(const std::function<Status()>& write) {
    try {
      return write();
    } catch (const std::exception& e) {
      return Status::IoError(std::string("the write failed: ") + e.what());
    }
  }

  bool ExecCached(const char* sql, std::string* error) {
    sqlite3_stmt* s = writer_.Prepare(sql);
    if (!s) { *error = writer_.Error(); return false; }
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) { *error = writer_.Error(); return false; }
    return true;
  }

  // Called by SQLite after each commit with the WAL's size in pages; wakes the checkpointer when the
  // WAL has grown enough to be worth copying back (else it runs once a second). A hot page rewritten by
  // many commits is copied once per checkpoint, so rarer checkpoints copy less: at 1,000 pages under load
  // they ran every few dozen commits and took 11 % of the bot's CPU, at 10,000 (40 MB) about 2 %. At
  // 16k turns/s 10,000 pages filled three times a second; at 30,000 (120 MB, about the one-second
  // timer) the bot spent ~8 % less CPU per turn, p99 unchanged (bench/run.sh, alternating runs).
  static int OnWalCommit(void* self, sqlite3*, const char*, int pages) {
    auto* store = static_cast<SqliteStore*>(self);
    if (pages >= 30000) store->checkpoint_cv_.notify_one();
    return SQLITE_OK;
  }

  void CheckpointLoop() {
    std::unique_lock<std::mutex> lock(checkpoint_mu_);
    while (!stopping_) {
      checkpoint_cv_.wait_for(lock, std::chrono::seconds(1));
      if (stopping_) break;
      lock.unlock();
      // PASSIVE never blocks writers or readers; what it cannot copy now it copies next time.
      sqlite3_wal_checkpoint_v2(checkpoint_conn_.db(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      lock.lock();
    }
  }

  Status Step(sqlite3_stmt* s) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return Status::Ok();
    if (rc == SQLITE_CONSTRAINT) return Status::Duplicate(writer_.Error());
    return Status::IoError(writer_.Error());
  }

  // A row: `m` at `seq`, and `more` (messages of the same turn, following it) when not empty.
  Status InsertMessage(const std::string& conv, const MessageRecord& m, int64_t seq, const std::string& dedupe,
                       const std::string& response, const std::string& more) {
    sqlite3_stmt* s = writer_.Prepare(
        "INSERT INTO messages(conversation_id, seq, author, text, quick_replies, at, dedupe_key, response, more) "
        "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!s) return Status::IoError(writer_.Error());
    BindText(s, 1, conv);
    sqlite3_bind_int64(s, 2, seq);
    BindText(s, 3, m.author);
    BindText(s, 4, m.text);
    if (m.quick_replies.is_array() && !m.quick_replies.empty()) BindText(s, 5, JsonText(m.quick_replies));
    sqlite3_bind_int64(s, 6, m.at);
    BindTextOrNull(s, 7, dedupe);
    if (!response.empty()) BindText(s, 8, response);
    if (!more.empty()) BindText(s, 9, more);
    return Step(s);
  }

  Status WriteTurn(const TurnCommit& t) {
    const ConversationRecord& c = t.conversation;
    int64_t seq = c.last_seq;
    const bool has_inbound = !t.inbound.author.empty();
    int64_t final_seq = seq + (has_inbound ? 1 : 0) + static_cast<int64_t>(t.replies.size());
    if (t.create) {
      sqlite3_stmt* s = writer_.Prepare(
          "INSERT INTO conversations(id, session_hash, channel, channel_user, state, pending_slot, dialog, "
          "version, last_seq, created_at, updated_at, assignee) VALUES(?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)");
      if (!s) return Status::IoError(writer_.Error());
      BindText(s, 1, c.id);
      BindTextOrNull(s, 2, t.session_hash);
      BindText(s, 3, c.channel);
      BindTextOrNull(s, 4, c.channel_user);
      BindText(s, 5, c.state);
      BindTextOrNull(s, 6, c.pending_slot);
      BindText(s, 7, JsonText(c.dialog));
      sqlite3_bind_int64(s, 8, final_seq);
      sqlite3_bind_int64(s, 9, c.updated_at);
      sqlite3_bind_int64(s, 10, c.updated_at);
      BindTextOrNull(s, 11, c.assignee);
      Status st = Step(s);
      if (!st.ok()) return st;
    } else {
      sqlite3_stmt* s = writer_.Prepare(
          "UPDATE conversations SET state = ?, pending_slot = ?, dialog = ?, version = version + 1, "
          "last_seq = ?, updated_at = ?, assignee = ? WHERE id = ? AND version = ?");
      if (!s) return Status::IoError(writer_.Error());
      BindText(s, 1, c.state);
      BindTextOrNull(s, 2, c.pending_slot);
      BindText(s, 3, JsonText(c.dialog));
      sqlite3_bind_int64(s, 4, final_seq);
      sqlite3_bind_int64(s, 5, c.updated_at);
      BindTextOrNull(s, 6, c.assignee);
      BindText(s, 7, c.id);
      sqlite3_bind_int64(s, 8, c.version);
      Status st = Step(s);
      if (!st.ok()) return st;
      if (sqlite3_changes(writer_.db()) != 1) return Status::Conflict("conversation changed meanwhile");
    }
    Status st;
    if (has_inbound) {
      st = InsertMessage(c.id, t.inbound, seq + 1, t.dedupe_key, t.response,
                         MoreOf(t.replies.begin(), t.replies.end(), t.inbound.at));
    } else if (!t.replies.empty()) {
      st = InsertMessage(c.id, t.replies.front(), seq + 1, "", "",
                         MoreOf(t.replies.begin() + 1, t.replies.end(), t.replies.front().at));
    }
    if (!st.ok()) return st;
    if (t.ticket) {
      sqlite3_stmt* s = writer_.Prepare(
          "INSERT INTO tickets(id, conversation_id, status, created_at, updated_at, body) VALUES(?, ?, ?, ?, ?, ?)");
      if (!s) return Status::IoError(writer_.Error());
      BindText(s, 1, t.ticket->id);
      BindText(s, 2, t.ticket->conversation_id);
      BindText(s, 3, t.ticket->status);
      sqlite3_bind_int64(s, 4, c.updated_at);
      sqlite3_bind_int64(s, 5, c.updated_at);
      BindText(s, 6, JsonText(t.ticket->ticket));
      st = Step(s);
      const std::string& tid = t.ticket->id;
      if (st.code() == Status::Code::kDuplicate && tid.size() > 12) {
        // Another process filed this number (a second program on the same file): forget this day's
        // count, so the next reservation reads the durable one, and let the caller redo the turn.
        std::lock_guard<std::mutex> l(ticket_mu_);
        ticket_last_.erase(tid.substr(3, 8));
        return Status::Conflict("ticket id " + tid + " is taken");
      }
      if (!st.ok()) return Status::IoError("ticket insert failed: " + st.message());
    }
    if (t.ticket_update) {
      sqlite3_stmt* s = writer_.Prepare("UPDATE tickets SET status = ?, body = ?, updated_at = ? WHERE id = ?");
      if (!s) return Status::IoError(writer_.Error());
      BindText(s, 1, t.ticket_update->status);
      BindText(s, 2, JsonText(t.ticket_update->ticket));
      sqlite3_bind_int64(s, 3, c.updated_at);
      BindText(s, 4, t.ticket_update->id);
      st = Step(s);
      if (!st.ok()) return st;
      if (sqlite3_changes(writer_.db()) != 1) return Status::NotFound("no ticket " + t.ticket_update->id);
    }
    if (t.attachment) {
      const AttachmentRecord& a = *t.attachment;
      sqlite3_stmt* s = writer_.Prepare(
          "INSERT INTO attachments(conversation_id, sha256, name, content_type, size, path, created_at) "
          "VALUES(?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
      if (!s) return Status::IoError(writer_.Error());
      BindText(s, 1, c.id);
      BindText(s, 2, a.sha256);
      BindText(s, 3, a.name);
      BindText(s, 4, a.content_type);
      sqlite3_bind_int64(s, 5, a.size);
      BindText(s, 6, a.path);
      sqlite3_bind_int64(s, 7, c.updated_at);
      st = Step(s);
      if (!st.ok()) return st;
    }
    for (const auto& o : t.outbox) {
      // Claimed at once (see SetOutboxSink) when a sink takes it and nothing of its target is undelivered.
      // Two plain statements: one INSERT ... SELECT reading the outbox it writes made SQLite build a
      // temporary table for every row (and RETURNING another), twice the cost of these.
      bool free = false;
      if (outbox_sink_ != nullptr) {
        sqlite3_stmt* busy = writer_.Prepare(
            "SELECT EXISTS(SELECT 1 FROM outbox WHERE target = ? AND status IN ('pending', 'sending'))");
        if (!busy) return Status::IoError(writer_.Error());
        StmtGuard bg{busy};
        BindText(busy, 1, o.target);
        if (sqlite3_step(busy) != SQLITE_ROW) return Status::IoError(writer_.Error());
        free = sqlite3_column_int(busy, 0) == 0;
      }
      sqlite3_stmt* s = writer_.Prepare(
          "INSERT INTO outbox(kind, target, payload, idempotency_key, status, attempts, next_attempt_at, created_at) "
          "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(idempotency_key) DO NOTHING");
      if (!s) return Status::IoError(writer_.Error());
      BindText(s, 1, o.kind);
      BindText(s, 2, o.target);
      BindText(s, 3, o.payload);
      BindText(s, 4, o.idempotency_key);
      sqlite3_bind_text(s, 5, free ? "sending" : "pending", -1, SQLITE_STATIC);
      sqlite3_bind_int(s, 6, free ? 1 : 0);
      sqlite3_bind_int64(s, 7, free ? handoff_lease_until_ : c.updated_at);
      sqlite3_bind_int64(s, 8, c.updated_at);
      st = Step(s);
      if (!st.ok()) return st;
      if (sqlite3_changes(writer_.db()) == 0) continue;  // enqueued before: never twice
      if (free) {
        OutboxRecord handed = o;
        handed.id = sqlite3_last_insert_rowid(writer_.db());
        handed.attempts = 1;
        handoff_.rows.push_back(std::move(handed));
      } else if (outbox_sink_) {
        handoff_.blocked_targets.push_back(o.target);
      }
    }
    return Status::Ok();
  }

  std::string path_;
  SqliteOptions opt_;
  std::mutex ticket_mu_;
  std::unordered_map<std::string, int64_t> ticket_last_;  // day -> last ticket number handed out
  std::mutex write_mu_;  // guards writer_: batches and ticket-id reservations; and the three below
  OutboxSink* outbox_sink_ = nullptr;
  int64_t handoff_lease_until_ = 0;  // the running transaction's lease for the rows it claims at once
  OutboxHandoff handoff_;            // what the running transaction hands the sink once committed
  Connection writer_;
  std::mutex queue_mu_;
  std::deque<PendingWrite*> queue_;
  Connection checkpoint_conn_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool stopping_ = false;
  std::thread checkpointer_;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Connection>> readers_;
};

}  // namespace

int SqliteSchemaVersion() { return kSchemaVersion; }

std::unique_ptr<Store> OpenSqliteStore(const std::string& path, const SqliteOptions& options, std::string* error) {
  auto store = std::make_unique<SqliteStore>(path, options);
  if (!store->Init(error)) return nullptr;
  return store;
}

}  // namespace rd
