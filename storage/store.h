// Persistence behind a narrow interface. The SQLite implementation (sqlite_store.h) is the embedded
// default; nothing SQLite-specific leaks out of this header, so another store can serve several bot
// instances later. All methods are thread-safe. Errors are returned as values.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace rd {

class Status {
 public:
  enum class Code { kOk, kNotFound, kDuplicate, kConflict, kIoError, kLimit, kInvalid, kInternal };
  Status() = default;
  static Status Ok() { return Status(); }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status Duplicate(std::string m) { return Status(Code::kDuplicate, std::move(m)); }
  static Status Conflict(std::string m) { return Status(Code::kConflict, std::move(m)); }
  static Status IoError(std::string m) { return Status(Code::kIoError, std::move(m)); }
  // A security limit refused it (README.md "Security limits"); the message says which.
  static Status Limit(std::string m) { return Status(Code::kLimit, std::move(m)); }
  // The request's input is wrong (the message says how); nothing was stored.
  static Status Invalid(std::string m) { return Status(Code::kInvalid, std::move(m)); }
  // A bug met at run time (an exception caught at a thread's edge); the message is for the log only.
  static Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }
  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

struct ConversationRecord {
  std::string id;
  std::string channel;       // web | slack | wecom | terminal
  std::string channel_user;  // the platform's identity of the customer, empty for the widget
  std::string state;
  std::string pending_slot;
  nlohmann::json dialog;     // the engine's DialogState
  int64_t version = 0;       // bumped by every committed turn (optimistic concurrency)
  int64_t last_seq = 0;      // seq of the newest message
  int64_t created_at = 0;
  int64_t updated_at = 0;
  std::string assignee;        // the staff member who has the conversation, empty when none
  int64_t staff_read_seq = 0;  // the newest message staff have read (unread = customer messages after it)
  // Not a column: UTF-8 bytes of the transcript's texts, for max_conversation_bytes. Filled by the
  // service (Store::ConversationTextBytes when it loads a record, then counted turn by turn).
  int64_t text_bytes = -1;     // -1: not known yet
};

// A conversation in the staff queue.
struct ConversationSummary {
  ConversationRecord record;  // without `dialog`'s weight: the list reads what the queue shows
  int64_t unread = 0;         // customer messages after staff_read_seq
};

// Which conversations a queue shows. state: "all", "needs_human" (handoff, nobody assigned), "handoff",
// "bot" (the bot has it: every state but handoff) or one state name.
struct ConversationFilter {
  std::string state = "all";
  int limit = 200;
};

// An evidence file a customer uploaded; the bytes live under the data folder, named by their SHA-256.
struct AttachmentRecord {
  std::string conversation_id;
  std::string sha256;
  std::string name;          // as the customer named it
  std::string content_type;
  int64_t size = 0;
  std::string path;          // where the bytes are
  int64_t created_at = 0;
};

struct MessageRecord {
  int64_t seq = 0;
  std::string author;  // customer | bot | staff | system
  std::string text;
  nlohmann::json quick_replies;  // array or null
  int64_t at = 0;
};

struct TicketRecord {
  std::string id;
  std::string conversation_id;
  std::string status;
  nlohmann::json ticket;  // the ticket JSON of DESIGN.md, status included
};

struct OutboxRecord {
  int64_t id = 0;
  // slack_post (payload: the chat.postMessage body, sent as it is) | slack_message (rows queued before
  // slack_post: {channel, text, thread_ts, quick_replies, date_picker}) | wecom_message | wecom_robot |
  // slack_file | wecom_media
  std::string kind;
  std::string target;           // rows of one target are delivered one at a time, in order
  std::string payload;          // JSON text, kept as it is: the store never parses it
  std::string idempotency_key;  // unique: the same key is never enqueued twice
  int attempts = 0;             // deliveries tried so far (the current one included, once claimed)
};

// A credential a staff member holds: an API token (for scripts; expires after staff_token_days, 0 for
// tokens issued before expiry existed) or a login session (cookie, expires, paired with a CSRF token
// for writes). Stored by the SHA-256 of the secret, never the secret.
struct StaffCredential {
  std::string name;       // the staff member
  std::string kind;       // api | session
  int64_t expires_at = 0; // unix seconds; 0 = never
  std::string csrf_hash;  // session: SHA-256 of its CSRF token
  bool disabled = false;  // read only: the account is disabled (it then authenticates nothing)
};

// Everything one turn changes, committed atomically (invariant 1).
struct TurnCommit {
  ConversationRecord conversation;  // the new state; version = the version the turn started from
  bool create = false;              // insert the conversation (first turn)
  std::string session_hash;         // with create: SHA-256 of the session secret
  MessageRecord inbound;            // customer (or staff) message; author empty: none (a staff action)
  std::string dedupe_key;           // empty: no dedupe
  std::string response;             // the API answer's JSON text, replayed for a duplicate; empty: none kept
  std::vector<MessageRecord> replies;
  std::optional<TicketRecord> ticket;         // a new ticket
  std::optional<TicketRecord> ticket_update;  // an existing ticket's new status and body
  std::optional<AttachmentRecord> attachment;
  std::vector<OutboxRecord> outbox;
};

// Where commits hand the outbox rows they queued (bot/outbox.h's worker); see Store::SetOutboxSink.
struct OutboxHandoff {
  std::vector<OutboxRecord> rows;             // committed already claimed: send them now
  std::vector<std::string> blocked_targets;   // a row waits behind an undelivered one of these targets
};
class OutboxSink {
 public:
  virtual ~OutboxSink() = default;
  // Until when (Unix seconds) a row handed now is leased: ClaimOutbox leaves it alone until then.
  virtual int64_t LeaseUntil() = 0;
  // Called on the committing thread right after the commit, under the store's write lock: queue only.
  virtual void Take(OutboxHandoff handoff) = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Status FindConversationBySession(const std::string& session_hash, ConversationRecord* out) = 0;
  virtual Status LoadConversation(const std::string& id, ConversationRecord* out) = 0;
  // The stored response of the turn that carried `dedupe_key`; NotFound when none did.
  virtual Status FindDuplicate(const std::string& dedupe_key, nlohmann::json* response) = 0;
  // Commits the turn. Duplicate: another turn with the same dedupe key committed first (nothing
  // written). Conflict: the conversation's version moved on (nothing written; reload and retry).
  virtual Status CommitTurn(const TurnCommit& turn) = 0;
  // Commits several turns of different conversations together (an event loop's batch); each gets the
  // status CommitTurn would have given it, and a refused turn leaves the others committed.
  virtual std::vector<Status> CommitTurns(const std::vector<const TurnCommit*>& turns) = 0;
  // Messages with seq > after, oldest first, at most `limit`.
  virtual Status History(const std::string& conversation_id, int64_t after, int limit,
                         std::vector<MessageRecord>* out) = 0;
  // Paging backwards: the newest `limit` messages with seq < before, oldest first.
  virtual Status HistoryBefore(const std::string& conversation_id, int64_t before, int limit,
                               std::vector<MessageRecord>* out) = 0;
  // The UTF-8 bytes of a conversation's stored message texts (what max_conversation_bytes bounds).
  virtual Status ConversationTextBytes(const std::string& conversation_id, int64_t* bytes) = 0;
  // A conversation's evidence files: how many, and the bytes of those stored since `since` (Unix s).
  virtual Status AttachmentUsage(const std::string& conversation_id, int64_t since, int64_t* count,
                                 int64_t* bytes_since) = 0;

  // Reserves the next ticket id for `day` (YYYYMMDD): RF-YYYYMMDD-NNNN. Ids are unique among filed
  // tickets: committing a ticket advances the day's durable counter in the same transaction. A turn that
  // fails after reserving leaves a gap; an id reserved but never filed may be handed out again after a
  // restart (nobody has seen it: a turn answers only after its commit).
  virtual Status AllocateTicketId(const std::string& day, std::string* id) = 0;
  virtual Status GetTicket(const std::string& id, TicketRecord* out) = 0;
  // Newest first; `status` empty means all.
  virtual Status ListTickets(const std::string& status, int limit, std::vector<TicketRecord>* out) = 0;
  // Ticket id -> status for the tickets filed in one conversation.
  virtual Status TicketStatuses(const std::string& conversation_id, std::map<std::string, std::string>* out) = 0;

  // The staff queue: needs_human first, then the most recently active.
  virtual Status ListConversations(const ConversationFilter& filter, std::vector<ConversationSummary>* out) = 0;
  virtual Status GetAttachment(const std::string& conversation_id, const std::string& sha256, AttachmentRecord* out) = 0;
  // Marks every message up to `seq` as read by staff (does not change the conversation's version).
  virtual Status MarkReadByStaff(const std::string& conversation_id, int64_t seq) = 0;

  // The conversation a chat platform's user (or DM channel, or thread) has: the newest one.
  virtual Status FindConversationByChannelUser(const std::string& channel, const std::string& channel_user,
                                               ConversationRecord* out) = 0;

  // The outbox (invariant 3). Claim: up to `limit` rows that are due, each the oldest undelivered row of
  // its target, leased until `lease_until` (a worker that dies leaves them to be claimed again).
  virtual Status ClaimOutbox(int64_t now, int64_t lease_until, int limit, std::vector<OutboxRecord>* out) = 0;
  // The outcomes of a batch of deliveries, in one transaction: delivered | failed, with what the platform
  // answered (or why it failed), or pending again at next_attempt_at.
  struct OutboxOutcome {
    int64_t id = 0;
    std::string status;            // delivered | failed | pending (try again at next_attempt_at)
    nlohmann::json result;
    int64_t next_attempt_at = 0;
  };
  virtual Status RecordOutboxOutcomes(const std::vector<OutboxOutcome>& outcomes, int64_t now) = 0;
  // Makes rows a dead process had claimed due again (called when the one process serving this store
  // starts: nobody else can be sending them).
  virtual Status ReleaseOutboxClaims(int64_t now) = 0;
  // Rows by status, for tests and operators: pending, sending, delivered, failed.
  virtual Status OutboxCounts(std::map<std::string, int64_t>* out) = 0;
  // With a sink set, the outbox rows a commit queues go out without a claim: a row whose target has
  // nothing else undelivered is inserted already claimed (sending, attempt 1, leased until
  // sink->LeaseUntil()) and handed to the sink once its transaction has committed; a row queued behind
  // another of its target is inserted pending (ClaimOutbox takes it, in order, once the one before it
  // is done) and its target is named to the sink as blocked. Null (the default): every row is pending.
  virtual void SetOutboxSink(OutboxSink* sink) = 0;

  // Staff accounts. `password_hash` is an encoded hash (bot/staff_auth.h), never a password.
  // AddStaff: Duplicate when the name exists. GetStaffPasswordHash: NotFound for an unknown name.
  virtual Status AddStaff(const std::string& name, const std::string& password_hash, int64_t now) = 0;
  virtual Status GetStaffPasswordHash(const std::string& name, std::string* password_hash) = 0;
  virtual Status AddStaffCredential(const std::string& secret_hash, const StaffCredential& credential, int64_t now) = 0;
  // NotFound when no credential has this hash (expiry is the caller's to check: it owns the clock).
  virtual Status FindStaffCredential(const std::string& secret_hash, StaffCredential* out) = 0;
  virtual Status DeleteStaffCredential(const std::string& secret_hash) = 0;
  // NotFound for an unknown name.
  virtual Status GetStaffDisabled(const std::string& name, bool* disabled) = 0;
  // Disables (every credential of `name` deleted in the same transaction, counted in *revoked) or
  // enables an account. NotFound for an unknown name.
  virtual Status SetStaffDisabled(const std::string& name, bool disabled, int64_t now, int64_t* revoked) = 0;
  // Deletes every API token and session of `name`.
  virtual Status DeleteStaffCredentials(const std::string& name, int64_t* deleted) = 0;
  // Deletes credentials whose expires_at (non-zero) is at or before `now`.
  virtual Status PurgeExpiredStaffCredentials(int64_t now, int64_t* deleted) = 0;
  // Deletes delivered outbox rows delivered before `delivered_before` (their payloads hold customer text).
  virtual Status PurgeDeliveredOutbox(int64_t delivered_before, int64_t* deleted) = 0;
};

}  // namespace rd
