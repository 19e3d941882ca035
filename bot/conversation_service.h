// Runs customer turns: load the conversation, let the engine decide, commit everything in one
// transaction, answer. Enforces the invariants of DESIGN.md: one turn one transaction (1), idempotent
// intake by dedupe key (2) and serial turns per conversation (4). Channel adapters (web API, terminal,
// later Slack/WeCom) build an InboundMessage and render the TurnOutcome.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>

#include "bot/env.h"
#include "dialogs/engine.h"
#include "dialogs/text.h"
#include "knowledge/knowledge.h"
#include "storage/store.h"

namespace rd {

// The knowledge in force; Swap() replaces it for turns that start afterwards (turns in flight keep the
// one they started with).
class KnowledgeHolder {
 public:
  explicit KnowledgeHolder(std::shared_ptr<const Knowledge> k, std::string dir = "")
      : k_(std::move(k)), dir_(std::move(dir)) {}
  // Loads the knowledge folder again (SIGHUP, POST /api/staff/knowledge/reload). An invalid set is
  // refused, with one line per problem in `errors`, and the one in force stays. Logs either way.
  bool Reload(std::vector<std::string>* errors);
  std::shared_ptr<const Knowledge> Get() const {
    std::lock_guard<std::mutex> l(mu_);
    return k_;
  }
  void Swap(std::shared_ptr<const Knowledge> k) {
    std::lock_guard<std::mutex> l(mu_);
    k_ = std::move(k);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Knowledge> k_;
  const std::string dir_;
  std::mutex reload_mu_;  // one reload at a time
};

struct ServiceOptions {
  int utc_offset_minutes = 480;
  int64_t idle_timeout_seconds = 7 * 86400;
  Lang default_lang = Lang::kZh;
  // Staff notices (a conversation needs a person, a ticket was filed), through the outbox: a Slack
  // channel and/or a WeCom group robot webhook; empty = none. Links point at public_base_url/console.
  std::string slack_staff_channel;
  std::string wecom_robot_webhook;
  std::string public_base_url = "http://localhost:8080";
  Lang staff_lang = Lang::kZh;
  // Security limits (README.md "Security limits"; bot/config.h has their defaults).
  size_t max_message_chars = 4000;        // the engine reads at most this much of a platform message
  int64_t history_page_messages = 100;    // the staff view's default transcript page
  int64_t max_conversation_messages = 2000;
  int64_t max_conversation_bytes = 2 * 1024 * 1024;
  int64_t max_uploads_per_conversation = 20;
  int64_t max_upload_bytes_per_day = 100 * 1024 * 1024;
};

struct InboundMessage {
  std::string channel;          // web | terminal | slack | wecom
  std::string conversation_id;  // empty: start a new conversation
  std::string channel_user;     // platform identity; empty for the widget
  std::string text;             // valid UTF-8, not empty
  std::string dedupe_key;       // empty: no dedupe
  std::string lang_hint;        // "zh" | "en" | ""
  bool channel_identifies_customer = false;
  // Replies go out through the outbox to the platform (Slack); false: the caller answers in-band (the
  // web API's body, WeCom's passive reply).
  bool replies_via_outbox = false;
  bool store_response = true;  // keep the answer for a resend to replay (false: Slack, answered by the outbox)
  // The caller has no use for the answer's tree: it gets TurnOutcome::response_text (and `replies`)
  // instead (the loop's batches: web chat, Slack, WeCom; building, writing and freeing the tree cost a
  // tenth of a turn).
  bool answer_as_text = false;
};

// A message to the web chat API (POST /api/chat). `session` empty starts a conversation.
struct WebTurnRequest {
  std::string session;
  std::string text;
  std::string client_message_id;  // empty: no dedupe
  std::string lang_hint;          // "zh" | "en" | ""
  // Who sent it (bot/rate_limit.h ClientAddress). A first message's resend is recognised only from the
  // same address with the same text: its answer carries the new session.
  std::string client_address;
};

struct TurnOutcome {
  Status status;          // NotFound: unknown conversation; IoError: storage failed
  nlohmann::json response;  // the API answer: session?, conversation_id, state, pending_slot, replies, ticket?
  bool duplicate = false;   // a replay of an earlier delivery; nothing changed
  std::string response_text;  // instead of `response`, its JSON text, when the message was answer_as_text
  std::string conversation_id;  // of a turn that ran or was replayed
  std::vector<Reply> replies;   // what the bot said, for a channel that formats it itself; empty for a replay

  static TurnOutcome Of(Status status, nlohmann::json response = nullptr, bool duplicate = false) {
    TurnOutcome out;
    out.status = std::move(status);
    out.response = std::move(response);
    out.duplicate = duplicate;
    return out;
  }
};

// The first `max_chars` characters (code points) of UTF-8 `text`, and how many characters it has.
std::string CharPrefix(const std::string& text, size_t max_chars);
size_t CharCount(std::string_view text);

// Adds "session" to an answer: to the tree, or at the end of its JSON text.
void AddSessionToAnswer(const std::string& session, TurnOutcome* out);

// A conversation's lock. Unlike std::mutex it may be released by another thread than the one that
// took it: an event loop locks the turns of a batch and the thread that commits the batch releases them.
class ConversationLock {
 public:
  void lock() {
    while (held_.exchange(true, std::memory_order_acquire)) held_.wait(true, std::memory_order_relaxed);
  }
  bool try_lock() { return !held_.exchange(true, std::memory_order_acquire); }
  void unlock() {
    held_.store(false, std::memory_order_release);
    held_.notify_one();
  }

 private:
  std::atomic<bool> held_{false};
};

// Recently used conversations, so a turn usually reads nothing from the store. Safe with other writers:
// the store refuses a commit whose version moved on, and the service then drops the entry and reloads.
class ConversationCache {
 public:
  explicit ConversationCache(size_t capacity = 100000) : per_shard_(capacity / kShards + 1) {}
  std::shared_ptr<const ConversationRecord> Get(const std::string& id);
  // Get, and the record leaves the cache: for a turn, which puts its new record back when it commits.
  std::shared_ptr<const ConversationRecord> Take(const std::string& id);
  void Put(std::shared_ptr<const ConversationRecord> record);
  void Erase(const std::string& id);
  bool SessionToId(const std::string& session_hash, std::string* id);
  void PutSession(const std::string& session_hash, const std::string& id);

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, std::shared_ptr<const ConversationRecord>> records;
    std::unordered_map<std::string, std::string> sessions;
  };
  Shard& ShardFor(const std::string& key) { return shards_[std::hash<std::string>{}(key) % kShards]; }
  size_t per_shard_;
  std::array<Shard, kShards> shards_;
};

class ConversationService {
 public:
  ConversationService(Store* store, KnowledgeHolder* knowledge, Clock* clock, Random* random, ServiceOptions options)
      : store_(store), knowledge_(knowledge), clock_(clock), random_(random), options_(options) {}

  // A message from the web chat API. A new conversation's response carries its session secret.
  // NotFound when the session is unknown. (An event loop batches these instead: TurnBatch.)
  TurnOutcome HandleWebMessage(const WebTurnRequest& request);

  // A message from any channel, once the channel has resolved the conversation.
  TurnOutcome HandleMessage(const InboundMessage& message, const std::string& new_session = "");
  // A message from a chat platform (Slack, WeCom): the user's (or thread's) conversation is found, or
  // started, under a lock on the user, so two first messages never open two conversations.
  TurnOutcome HandleChannelMessage(InboundMessage message);
  // A file a platform user sent (Slack file share, WeCom image): recorded as evidence like an upload.
  // `download` (kind slack_file | wecom_media), when set, is queued in the same commit: the outbox
  // fetches the bytes into the uploads folder and RecordDownloadedFile puts them on the claim.
  TurnOutcome HandleChannelFile(const InboundMessage& message, const AttachmentRecord& file,
                                const std::optional<OutboxRecord>& download = std::nullopt);
  // The bytes of evidence `name` arrived (outbox download): its SHA-256, size and path go on the claim
  // (and the ticket, once filed), and staff can open it.
  Status RecordDownloadedFile(const std::string& conversation_id, const std::string& name, const AttachmentRecord& file);

  // The conversation a web session belongs to: its id (cheap, cached), or the whole record.
  Status ResolveSessionId(const std::string& session, std::string* id);
  Status ResolveSession(const std::string& session, ConversationRecord* out);

  Date Today();
  Store* store() { return store_; }

  // Staff actions (the staff API), each committed like a turn under the conversation's lock; what the
  // customer is told lands in their transcript. NotFound: no such conversation. Conflict: another staff
  // member has it (the message says who), or the action does not fit the conversation's state.
  Status TakeOver(const std::string& conversation_id, const std::string& staff);
  Status StaffReply(const std::string& conversation_id, const std::string& staff, const std::string& text);
  Status HandBack(const std::string& conversation_id, const std::string& staff);
  Status Transfer(const std::string& conversation_id, const std::string& staff, const std::string& to);
  // A claim field staff set (validated by its slot kind); kept when the claim resumes.
  Status SetSlot(const std::string& conversation_id, const std::string& staff, const std::string& slot,
                 const nlohmann::json& value);
  // Files the claim as it stands (`*ticket_id` set) or closes the conversation without one.
  Status FileByStaff(const std::string& conversation_id, const std::string& staff, std::string* ticket_id);
  Status CloseByStaff(const std::string& conversation_id, const std::string& staff);
  // open → in_review → approved | rejected; approved → refunded. The customer is told each change.
  Status ChangeTicketStatus(const std::string& ticket_id, const std::string& staff, const std::string& status);
  // An evidence file the customer uploaded: stored by the caller under the data folder; recorded on the
  // claim (type from its name) and in the transcript, and the claim moves on as after a message.
  TurnOutcome HandleWebUpload(const std::string& session, const AttachmentRecord& file);

  // The conversation as staff see it: record, dialog state, the claim, summary and one page of the
  // transcript — the newest `limit` (≤ 0: history_page_messages) messages (before == 0), or those
  // before seq `before`; the page
  // carries "older_before" (pass it as `before` for the page before it) or null at the first message.
  // Viewing the newest page marks the conversation read.
  Status StaffView(const std::string& conversation_id, int64_t before, int limit, nlohmann::json* out);
  // The newest page, of history_page_messages.
  Status StaffView(const std::string& conversation_id, nlohmann::json* out);

  // Limit (the message says which) when the conversation has its max_uploads_per_conversation files, or
  // `size` more bytes would pass max_upload_bytes_per_day today (UTC), or its transcript is full.
  Status UploadAllowed(const std::string& conversation_id, int64_t size);

 private:
  friend class TurnBatch;

  // A turn the engine has decided and nothing has written yet.
  struct PreparedTurn {
    TurnCommit commit;
    std::string response;  // the answer's JSON text
    bool answer_as_text = false;
    std::vector<Reply> replies;
    std::string channel;
    std::string dedupe_key;
    std::string state_before;
    std::string text;  // for the debug log only
    bool handed_off = false;
    int64_t started = 0;  // µs, for the turn's latency
  };
  // The conversation as it stands: cached, else read from the store.
  Status CurrentRecord(const std::string& id, std::shared_ptr<const ConversationRecord>* out);
  // The web message as a channel-neutral one; a new conversation gets its session secret here.
  Status WebInbound(const WebTurnRequest& request, InboundMessage* m, std::string* new_session);
  // Runs the engine on the conversation (cached or loaded) and builds the commit and the answer; the
  // caller holds the conversation's lock.
  Status BuildTurn(const InboundMessage& m, const std::string& conversation_id, const std::string& new_session,
                   int64_t started, PreparedTurn* turn);
  // After the commit (status `st`, never Conflict): replays a duplicate's first answer, or caches the
  // new record, counts and logs the turn and returns its answer. Still under the conversation's lock.
  TurnOutcome CompleteTurn(PreparedTurn& turn, const Status& st);
  size_t StripeOf(const std::string& id) const;
  // HandleMessage for a caller that holds the conversation's lock already.
  TurnOutcome HandleMessageLocked(const InboundMessage& message, const std::string& conversation_id,
                                  const std::string& new_session, int64_t started);

  // Runs `edit` on the current record and state of a conversation and commits what it put in `commit`
  // (replies, ticket, ...), retrying when a turn committed meanwhile.
  using StaffEdit = std::function<Status(const ConversationRecord& before, DialogState& state,
                                         const DialogContext& ctx, TurnCommit& commit)>;
  Status RunStaffEdit(const std::string& conversation_id, const StaffEdit& edit);
  // An engine staff action by the staff member who holds the conversation; it is then held by
  // `assignee_after` ("" = back to the bot).
  Status HolderAction(const std::string& conversation_id, const std::string& staff, const StaffAction& action,
                      const std::string& assignee_after);
  DialogContext ContextFor(const Knowledge& knowledge, int64_t now, const InboundMessage* message);
  // The ticket for a kFileTicket effect (allocates its id); the effect's claim moves into it.
  Status MakeTicket(Effect effect, const ConversationRecord& conv, const DialogState& state,
                    const DialogContext& ctx, TicketRecord* out);

  ConversationLock& LockFor(const std::string& conversation_id);
  std::string NewConversationId();

  // Outbox rows that carry `replies` (and a staff message) to the conversation's platform, if it has
  // one; keys start with `key_prefix`, so a retried commit never queues them twice.
  std::vector<OutboxRecord> ChannelOutbox(const ConversationRecord& conv, const std::vector<MessageRecord>& replies,
                                          const std::string& pending_slot, const std::string& key_prefix);
  // Notices to staff channels for what this turn did (handoff, filed ticket).
  // A handoff is announced once while the conversation waits: not again when it was in handoff already
  // (`was_waiting`), however often the customer asks for a person.
  std::vector<OutboxRecord> StaffNotices(const ConversationRecord& conv, const StepResult& result,
                                         const std::optional<TicketRecord>& ticket, const Knowledge& knowledge,
                                         bool was_waiting);
  // Limit when a customer message of `text_bytes` would take `conv` past its message or byte bound.
  Status CheckConversationRoom(const ConversationRecord& conv, size_t text_bytes);
  size_t ChannelUserStripeOf(const std::string& key) const;

  // Platform users' locks by hash (a batch holds them until its commit, like the conversations').
  std::array<ConversationLock, 4096> channel_user_stripes_;
  Store* store_;
  KnowledgeHolder* knowledge_;
  Clock* clock_;
  Random* random_;
  std::atomic<uint32_t> conversations_created_{0};  // orders ids created within one second
  ServiceOptions options_;
  // Conversation locks by hash. Many, so that an event loop's batch (TurnBatch) rarely finds two of
  // its turns on one stripe (the second then waits for the next batch).
  std::array<ConversationLock, 4096> stripes_;
  ConversationCache cache_;
};

// The customer turns one event-loop thread gathered in one pass over its ready connections, committed
// together: Add() decides a web chat turn and AddChannel() a platform user's text message (Slack,
// WeCom) under their conversation's lock (the engine runs, nothing is written); Commit() writes every
// added turn in one group commit, then answers each. Nothing is acknowledged before its commit, as with
// HandleWebMessage / HandleChannelMessage. A turn whose conversation is busy — its lock (or, for a
// platform user, the user's lock) held by another thread, or by a turn already in this batch — is
// refused (kBusy) and belongs in a later batch, which keeps one conversation's turns in order without
// the loop ever waiting for a lock.
class TurnBatch {
 public:
  explicit TurnBatch(ConversationService* service) : service_(service) {}
  TurnBatch(const TurnBatch&) = delete;
  TurnBatch& operator=(const TurnBatch&) = delete;
  ~TurnBatch();

  enum class AddResult { kAdded, kAnswered, kBusy };
  // kAnswered: `*answered` holds the outcome already (an unknown session, a storage error).
  AddResult Add(const WebTurnRequest& request, uint64_t tag, TurnOutcome* answered);
  // A platform user's text message (channel and channel_user set, conversation_id empty): their
  // conversation is found, or started by this turn, under the user's lock, held until the commit, so
  // two first messages never open two conversations. A resent message (same dedupe key) is answered
  // from the store at commit and changes nothing.
  AddResult AddChannel(const InboundMessage& message, uint64_t tag, TurnOutcome* answered);
  bool empty() const { return entries_.empty(); }
  struct Answer {
    uint64_t tag;
    TurnOutcome outcome;
  };
  // Commits every added turn and appends its answer; the batch is empty afterwards. May run on another
  // thread than Add (one at a time): it releases the conversations' locks.
  void Commit(std::vector<Answer>* answers);
  // Moves `other`'s turns (and their locks) into this batch, to be committed in the same transaction;
  // `other` is empty afterwards. A committer that finds several batches waiting writes them as one:
  // a commit's fixed cost (its WAL pages, the COMMIT itself) is then shared by more turns.
  void Absorb(TurnBatch* other);
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    uint64_t tag = 0;
    std::string session;  // echoed in the answer
    std::string new_session;
    InboundMessage message;
    ConversationService::PreparedTurn turn;
    size_t stripe = 0;
    std::string user_key;  // a platform user's: the session cache learns their conversation at commit
    size_t user_stripe = 0;
  };
  AddResult AddLocked(Entry e, const std::string& conversation_id, int64_t started, TurnOutcome* answered);
  void Unlock(const Entry& e);
  ConversationService* service_;
  std::vector<Entry> entries_;
};

}  // namespace rd
