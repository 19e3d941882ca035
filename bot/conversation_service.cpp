#include "bot/conversation_service.h"

#include "storage/json_writer.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <functional>

#include "bot/channels/slack.h"
#include "bot/log.h"
#include "bot/metrics.h"
#include "knowledge/assessment.h"
#include "dialogs/engine.h"

namespace rd {

bool KnowledgeHolder::Reload(std::vector<std::string>* errors) {
  std::lock_guard<std::mutex> one_at_a_time(reload_mu_);
  auto fresh = LoadKnowledge(dir_, errors);
  if (!fresh) {
    for (const auto& e : *errors) Log(LogLevel::kError, {{"event", "knowledge_reload_refused"}, {"error", e}});
    ProcessMetrics().CountReload(false);
    return false;
  }
  const size_t entries = fresh->faq.entries().size();
  Swap(std::move(fresh));
  ProcessMetrics().CountReload(true);
  Log(LogLevel::kInfo, {{"event", "knowledge_reloaded"}, {"faq_entries", entries}});
  return true;
}

using nlohmann::json;

namespace {

void ReplaceAll(std::string* s, const std::string& from, const std::string& to) {
  for (size_t p = s->find(from); p != std::string::npos; p = s->find(from, p + to.size())) s->replace(p, from.size(), to);
}

// Runs `work`, one turn's or one edit's computation. An exception (a bug, or a stored state of a shape
// the code does not expect) fails that turn alone: logged with its text, answered as Status::Internal
// (callers answer 500 without the text), nothing committed, so the conversation stays as it was. The
// thread (loop, committer, worker) goes on.
template <typename Work>
Status Guarded(const char* where, const std::string& conversation_id, Work&& work) {
  std::string what;
  try {
    return work();
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    what = "unknown exception";
  }
  Log(LogLevel::kError, {{"event", "turn_exception"}, {"where", where}, {"conversation_id", conversation_id},
                         {"error", what}});
  return Status::Internal(what);
}

std::string Compact(const Date& d) {
  std::string iso = d.Iso();
  return iso.substr(0, 4) + iso.substr(5, 2) + iso.substr(8, 2);
}

// The bytes a commit adds to its transcript's texts (what ConversationTextBytes counts, near enough).
int64_t TextBytes(const TurnCommit& commit) {
  int64_t n = static_cast<int64_t>(commit.inbound.text.size());
  for (const MessageRecord& r : commit.replies) n += static_cast<int64_t>(r.text.size()) + 32;
  return n;
}

}  // namespace

std::string CharPrefix(const std::string& text, size_t max_chars) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;  // a continuation byte
    if (chars++ == max_chars) return text.substr(0, i);
  }
  return text;
}

size_t CharCount(std::string_view text) {
  size_t chars = 0;
  for (unsigned char c : text) chars += (c & 0xC0) != 0x80;
  return chars;
}

Status ConversationService::CheckConversationRoom(const ConversationRecord& conv, size_t text_bytes) {
  if (conv.last_seq >= options_.max_conversation_messages) {
    return Status::Limit("this conversation has reached its limit of " + std::to_string(options_.max_conversation_messages) +
                         " messages");
  }
  if (conv.text_bytes >= 0 && conv.text_bytes + static_cast<int64_t>(text_bytes) > options_.max_conversation_bytes) {
    return Status::Limit("this conversation has reached its size limit of " +
                         std::to_string(options_.max_conversation_bytes) + " bytes");
  }
  return Status::Ok();
}

Status ConversationService::UploadAllowed(const std::string& id, int64_t size) {
  std::shared_ptr<const ConversationRecord> conv;
  Status st = CurrentRecord(id, &conv);
  if (!st.ok()) return st;
  if (st = CheckConversationRoom(*conv, 0); !st.ok()) return st;
  const int64_t now = clock_->NowUnix();
  int64_t count = 0, bytes_today = 0;
  st = store_->AttachmentUsage(id, now - now % 86400, &count, &bytes_today);
  if (!st.ok()) return st;
  if (count >= options_.max_uploads_per_conversation) {
    return Status::Limit("this conversation has its " + std::to_string(options_.max_uploads_per_conversation) +
                         " files already");
  }
  if (bytes_today + size > options_.max_upload_bytes_per_day) {
    return Status::Limit("today's upload allowance for this conversation (" + std::to_string(options_.max_upload_bytes_per_day) +
                         " bytes) is used up");
  }
  return Status::Ok();
}

std::shared_ptr<const ConversationRecord> ConversationCache::Get(const std::string& id) {
  Shard& sh = ShardFor(id);
  std::lock_guard<std::mutex> l(sh.mu);
  auto it = sh.records.find(id);
  return it == sh.records.end() ? nullptr : it->second;
}

std::shared_ptr<const ConversationRecord> ConversationCache::Take(const std::string& id) {
  Shard& sh = ShardFor(id);
  std::lock_guard<std::mutex> l(sh.mu);
  auto it = sh.records.find(id);
  if (it == sh.records.end()) return nullptr;
  std::shared_ptr<const ConversationRecord> record = std::move(it->second);
  sh.records.erase(it);
  return record;
}

void ConversationCache::Put(std::shared_ptr<const ConversationRecord> record) {
  Shard& sh = ShardFor(record->id);
  std::lock_guard<std::mutex> l(sh.mu);
  if (sh.records.size() >= per_shard_) sh.records.clear();  // crude but bounded; misses just reload
  sh.records[record->id] = std::move(record);
}

void ConversationCache::Erase(const std::string& id) {
  Shard& sh = ShardFor(id);
  std::lock_guard<std::mutex> l(sh.mu);
  sh.records.erase(id);
}

bool ConversationCache::SessionToId(const std::string& session_hash, std::string* id) {
  Shard& sh = ShardFor(session_hash);
  std::lock_guard<std::mutex> l(sh.mu);
  auto it = sh.sessions.find(session_hash);
  if (it == sh.sessions.end()) return false;
  *id = it->second;
  return true;
}

void ConversationCache::PutSession(const std::string& session_hash, const std::string& id) {
  Shard& sh = ShardFor(session_hash);
  std::lock_guard<std::mutex> l(sh.mu);
  if (sh.sessions.size() >= per_shard_) sh.sessions.clear();
  sh.sessions[session_hash] = id;
}

// Ordered by creation (the second, then a counter), then random: conversations active together sit
// together in the store's B-trees keyed by conversation (messages, tickets), so a batch of turns
// touches few pages — with the second alone, the ~2,000 conversations a busy second starts were
// interleaved at random and each turn dirtied its own index page. Ids are not secrets; sessions are.
std::string ConversationService::NewConversationId() {
  char prefix[24];
  std::snprintf(prefix, sizeof prefix, "cv_%08llx%04x", static_cast<unsigned long long>(clock_->NowUnix()) & 0xffffffffULL,
                conversations_created_.fetch_add(1, std::memory_order_relaxed) & 0xffffu);
  return prefix + RandomHex(random_, 6);
}

Date ConversationService::Today() { return DateAt(clock_->NowUnix(), options_.utc_offset_minutes); }

ConversationLock& ConversationService::LockFor(const std::string& id) {
  return stripes_[StripeOf(id)];
}

Status ConversationService::ResolveSessionId(const std::string& session, std::string* id) {
  std::string hash = Sha256Hex(session);
  if (cache_.SessionToId(hash, id)) return Status::Ok();
  ConversationRecord conv;
  Status st = store_->FindConversationBySession(hash, &conv);
  if (!st.ok()) return st;
  cache_.PutSession(hash, conv.id);
  *id = conv.id;
  return Status::Ok();
}

Status ConversationService::CurrentRecord(const std::string& id, std::shared_ptr<const ConversationRecord>* out) {
  *out = cache_.Get(id);
  if (*out) return Status::Ok();
  auto loaded = std::make_shared<ConversationRecord>();
  Status st = store_->LoadConversation(id, loaded.get());
  if (st.ok()) st = store_->ConversationTextBytes(id, &loaded->text_bytes);
  if (st.ok()) *out = std::move(loaded);
  return st;
}

Status ConversationService::ResolveSession(const std::string& session, ConversationRecord* out) {
  std::string hash = Sha256Hex(session);
  std::string id;
  if (cache_.SessionToId(hash, &id)) {
    if (auto cached = cache_.Get(id)) {
      *out = *cached;
      return Status::Ok();
    }
    return store_->LoadConversation(id, out);
  }
  Status st = store_->FindConversationBySession(hash, out);
  if (st.ok()) cache_.PutSession(hash, out->id);
  return st;
}

Status ConversationService::WebInbound(const WebTurnRequest& request, InboundMessage* m, std::string* new_session) {
  m->channel = "web";
  m->text = request.text;
  m->lang_hint = request.lang_hint;
  if (!request.session.empty()) {
    Status st = ResolveSessionId(request.session, &m->conversation_id);
    if (!st.ok()) return st;
    if (!request.client_message_id.empty()) m->dedupe_key = "web:" + m->conversation_id + ":" + request.client_message_id;
  } else {
    // Without a session only an unguessable id may replay a first answer (it carries the session), and
    // only to whoever sent that first message: the key also holds a hash of the sender's address and
    // the text, so someone who learns or guesses an id (or reuses a widget's) gets a conversation of
    // their own, never the first sender's session.
    if (request.client_message_id.size() >= 16) {
      m->dedupe_key = "web:new:" + request.client_message_id + ":" +
                      Sha256Hex(request.client_address + '\n' + request.text).substr(0, 32);
    }
    *new_session = RandomHex(random_, 24);
  }
  return Status::Ok();
}

TurnOutcome ConversationService::HandleWebMessage(const WebTurnRequest& request) {
  InboundMessage m;
  std::string new_session;
  Status st = WebInbound(request, &m, &new_session);
  if (!st.ok()) return TurnOutcome::Of(st);
  TurnOutcome out = HandleMessage(m, new_session);
  if (out.status.ok() && !request.session.empty()) AddSessionToAnswer(request.session, &out);
  return out;
}

TurnOutcome ConversationService::HandleMessage(const InboundMessage& m, const std::string& new_session) {
  const int64_t started = clock_->NowMicros();
  const std::string conversation_id = m.conversation_id.empty() ? NewConversationId() : m.conversation_id;
  std::unique_lock<ConversationLock> lock(LockFor(conversation_id));
  return HandleMessageLocked(m, conversation_id, new_session, started);
}

TurnOutcome ConversationService::HandleMessageLocked(const InboundMessage& m, const std::string& conversation_id,
                                                     const std::string& new_session, int64_t started) {
  // Dedupe has one mechanism: the store's unique key on the inbound message. A resend runs the engine on
  // the state its first delivery left (serialised by the conversation lock), its commit is refused
  // whole, and the first answer is replayed. No read before each turn: resends are rare, that read was
  // ~4 % of a webhook turn.
  const bool create = m.conversation_id.empty();
  for (int attempt = 0; attempt < 3; ++attempt) {
    PreparedTurn turn;
    Status st = Guarded("turn", conversation_id, [&] { return BuildTurn(m, conversation_id, new_session, started, &turn); });
    if (!st.ok()) return TurnOutcome::Of(st);
    st = Guarded("commit", conversation_id, [&] { return store_->CommitTurn(turn.commit); });
    if (st.code() == Status::Code::kConflict && !create) {  // another writer moved it on: reload, redo
      cache_.Erase(conversation_id);
      continue;
    }
    return CompleteTurn(turn, st);
  }
  return TurnOutcome::Of(Status::Conflict("the conversation kept changing; try again"));
}

Status ConversationService::BuildTurn(const InboundMessage& m, const std::string& conversation_id,
                                      const std::string& new_session, int64_t started, PreparedTurn* turn) {
  const bool create = m.conversation_id.empty();
  auto knowledge = knowledge_->Get();
  ConversationRecord conv;  // the new record; its dialog is written below, never copied from the old
  DialogState state;
  std::string assignee_before;  // staff keep the conversation across the customer's turns
  if (create) {
    conv.id = conversation_id;
    conv.channel = m.channel;
    conv.channel_user = m.channel_user;
  } else {
    // The turn holds the conversation's lock, so its record leaves the cache: the commit puts the new
    // one back, and a turn that fails leaves the conversation to be read from the store again. When
    // nobody else holds the old record (the staff API may), its dialog is moved, not copied.
    std::shared_ptr<const ConversationRecord> base = cache_.Take(conversation_id);
    if (!base) {
      if (Status st = CurrentRecord(conversation_id, &base); !st.ok()) return st;
    }
    // A full conversation takes no more: the customer is told (429), staff still see it all.
    if (Status room = CheckConversationRoom(*base, m.text.size()); !room.ok()) {
      cache_.Put(std::move(base));  // untouched: the next turn needs no reload
      return room;
    }
    const bool sole_owner = base.use_count() == 1;
    // A reader that let go of the record did so with a release; its reads happen before our move.
    if (sole_owner) std::atomic_thread_fence(std::memory_order_acquire);
    state = DialogStateFromJson(sole_owner ? std::move(const_cast<ConversationRecord&>(*base).dialog) : base->dialog);
    conv.id = base->id;
    conv.channel = base->channel;
    conv.channel_user = base->channel_user;
    conv.version = base->version;
    conv.last_seq = base->last_seq;
    conv.created_at = base->created_at;
    conv.text_bytes = base->text_bytes;
    assignee_before = base->assignee;
    // A concurrent delivery of the same message that committed while we waited is caught by the
    // store's unique dedupe key at commit (answered from the store then): no second read here.
  }
  turn->started = started;
  turn->channel = m.channel;
  turn->dedupe_key = m.dedupe_key;
  turn->state_before = create ? std::string(kStart) : state.state;
  if (LogEnabled(LogLevel::kDebug)) turn->text = m.text;

  const int64_t now = clock_->NowUnix();
  DialogContext ctx = ContextFor(*knowledge, now, &m);
  if (!create && (!state.ticket_id.empty() || m.text.find("RF-") != std::string::npos ||
                  m.text.find("rf-") != std::string::npos)) {
    store_->TicketStatuses(conversation_id, &ctx.ticket_statuses);
  }

  // The understanding reads at most max_message_chars of a message (the web API refuses longer ones
  // at its intake; a platform message is stored whole, bounded by max_body_bytes).
  StepResult result = Step(std::move(state), CharPrefix(m.text, options_.max_message_chars), ctx);

  TurnCommit& commit = turn->commit;
  std::optional<std::string> ticket_id;
  for (Effect& e : result.effects) {
    if (e.kind == Effect::Kind::kHandOff) turn->handed_off = true;
    if (e.kind != Effect::Kind::kFileTicket) continue;
    TicketRecord ticket;
    Status st = MakeTicket(std::move(e), conv, result.state, ctx, &ticket);
    if (!st.ok()) return st;
    ticket_id = ticket.id;
    result.state.ticket_id = ticket.id;
    commit.ticket = std::move(ticket);
  }

  // The answer, written once as text: the web chat sends it as it is, other callers get its tree
  // (CompleteTurn), a resend replays it from the store. Members in the order a tree writes them, so the
  // text reads the same either way.
  const std::string pending = result.state.pending;  // a copy: the state is moved out below
  JsonWriter answer;
  // The pending slot's kind lets the widget offer its date picker while a date is asked.
  const SlotSpec* pending_spec = knowledge->flow.FindSlot(pending);
  answer.BeginObject().Member("conversation_id", conversation_id).Key("pending_kind");
  if (pending_spec) answer.String(SlotKindName(pending_spec->kind));
  else answer.Null();
  answer.Key("pending_slot");
  if (pending.empty()) answer.Null();
  else answer.String(pending);
  const size_t replies_begin = answer.text().size();
  answer.Key("replies").BeginArray();
  for (Reply& r : result.replies) {
    if (ticket_id) ReplaceAll(&r.text, kTicketIdPlaceholder, *ticket_id);
    answer.BeginObject();
    if (!r.quick_replies.empty()) {
      answer.Key("quick_replies").BeginArray();
      for (const std::string& q : r.quick_replies) answer.String(q);
      answer.EndArray();
    }
    answer.Member("text", r.text).EndObject();
    MessageRecord rec;
    rec.author = r.author;
    rec.text = r.text;
    rec.quick_replies = r.quick_replies.empty() ? json(nullptr) : json(r.quick_replies);
    rec.at = now;
    commit.replies.push_back(std::move(rec));
  }

  answer.EndArray();
  const size_t replies_end = answer.text().size();
  if (create && !new_session.empty()) answer.Member("session", new_session);
  answer.Member("state", result.state.state);
  if (commit.ticket) answer.Key("ticket").Value(commit.ticket->ticket);
  answer.EndObject();
  turn->response = answer.Take();
  turn->replies = std::move(result.replies);
  turn->answer_as_text = m.answer_as_text;

  conv.state = result.state.state;
  conv.assignee = create ? "" : assignee_before;
  conv.pending_slot = pending;
  conv.dialog = ToJson(std::move(result.state));  // the state's last use
  conv.updated_at = now;
  commit.conversation = std::move(conv);
  commit.create = create;
  if (create && !new_session.empty()) commit.session_hash = Sha256Hex(new_session);
  commit.inbound = MessageRecord{0, "customer", m.text, json(nullptr), now};
  commit.dedupe_key = m.dedupe_key;
  if (m.replies_via_outbox) {
    // Keyed by the turn's place in its conversation (ids begin with their creation time, so keys of
    // active conversations sit together in the index); the inbound dedupe key already keeps a
    // retried event from queueing a second reply.
    commit.outbox = ChannelOutbox(commit.conversation, commit.replies, pending,
                                  "reply:" + conversation_id + ":" + std::to_string(commit.conversation.version) + ":");
  }
  for (auto& notice : StaffNotices(commit.conversation, result, commit.ticket, *knowledge, turn->state_before == kHandoff)) {
    commit.outbox.push_back(std::move(notice));
  }
  // Kept only where a resend asks for the answer (the web API, WeCom's passive reply); a Slack retry
  // just needs to know the message was taken.
  if (!m.dedupe_key.empty() && m.store_response) {
    // Stored without its replies (",\"replies\":[…]"): the message row holds them, and a resend's
    // answer gets them back from there (Store::FindDuplicate). A third less to write per turn.
    commit.response = turn->response.substr(0, replies_begin) + turn->response.substr(replies_end);
  }
  return Status::Ok();
}

TurnOutcome ConversationService::CompleteTurn(PreparedTurn& turn, const Status& st) {
  TurnCommit& commit = turn.commit;
  const std::string conversation_id = commit.conversation.id;  // a copy: the record moves into the cache
  if (st.code() == Status::Code::kDuplicate && !turn.dedupe_key.empty()) {
    TurnOutcome replay;
    if (store_->FindDuplicate(turn.dedupe_key, &replay.response).ok()) {
      ProcessMetrics().CountTurn(0, true);
      replay.duplicate = true;
      replay.conversation_id = conversation_id;
      if (turn.answer_as_text) replay.response_text = JsonText(std::exchange(replay.response, json()));
      return replay;
    }
  }
  if (!st.ok()) {
    cache_.Erase(conversation_id);
    return TurnOutcome::Of(st);
  }
  const bool create = commit.create;
  const int64_t now = commit.conversation.updated_at;
  auto committed = std::make_shared<ConversationRecord>(std::move(commit.conversation));
  committed->version = create ? 1 : committed->version + 1;
  committed->last_seq += 1 + static_cast<int64_t>(commit.replies.size());
  if (create) committed->text_bytes = 0;
  if (committed->text_bytes >= 0) committed->text_bytes += TextBytes(commit);
  if (create) committed->created_at = now;
  cache_.Put(committed);
  if (create && !commit.session_hash.empty()) cache_.PutSession(commit.session_hash, conversation_id);

  const int64_t finished = clock_->NowMicros();
  ProcessMetrics().CountTurn((finished - turn.started) / 1e6, false);
  if (commit.ticket) ProcessMetrics().CountTicketFiled();
  if (turn.handed_off) ProcessMetrics().CountHandoff();
  if (LogEnabled(LogLevel::kInfo)) {
    LogLine line(LogLevel::kInfo);
    line.Add("event", "turn").Add("conversation_id", conversation_id).Add("channel", turn.channel)
        .Add("state_before", turn.state_before).Add("state_after", committed->state)
        .Add("pending_slot", committed->pending_slot).Add("replies", commit.replies.size())
        .Add("latency_ms", (finished - turn.started) / 1000.0);
    if (commit.ticket) line.Add("ticket_id", commit.ticket->id);
    if (LogEnabled(LogLevel::kDebug)) line.Add("text", turn.text);
  }
  TurnOutcome out;
  out.conversation_id = conversation_id;
  out.replies = std::move(turn.replies);
  if (turn.answer_as_text) out.response_text = std::move(turn.response);
  else out.response = json::parse(turn.response);
  return out;
}

void AddSessionToAnswer(const std::string& session, TurnOutcome* out) {
  if (out->response_text.empty()) {
    out->response["session"] = session;
    return;
  }
  std::string member = ",\"session\":";
  AppendJsonString(session, &member);
  out->response_text.insert(out->response_text.size() - 1, member);  // before the closing brace
}

size_t ConversationService::StripeOf(const std::string& id) const {
  return std::hash<std::string>{}(id) % stripes_.size();
}

// The key of a platform user's conversation in the session cache, also what their lock is chosen by.
static std::string ChannelUserKey(const InboundMessage& m) { return "chan:" + m.channel + ":" + m.channel_user; }

size_t ConversationService::ChannelUserStripeOf(const std::string& key) const {
  return std::hash<std::string>{}(key) % channel_user_stripes_.size();
}

TurnBatch::~TurnBatch() {
  for (const Entry& e : entries_) Unlock(e);
}

void TurnBatch::Unlock(const Entry& e) {
  service_->stripes_[e.stripe].unlock();
  if (!e.user_key.empty()) service_->channel_user_stripes_[e.user_stripe].unlock();
}

TurnBatch::AddResult TurnBatch::Add(const WebTurnRequest& request, uint64_t tag, TurnOutcome* answered) {
  const int64_t started = service_->clock_->NowMicros();
  Entry e;
  e.tag = tag;
  e.session = request.session;
  Status st = service_->WebInbound(request, &e.message, &e.new_session);
  if (!st.ok()) {
    *answered = TurnOutcome::Of(st);
    return AddResult::kAnswered;
  }
  e.message.answer_as_text = true;  // the loop sends it as it is
  const std::string conversation_id =
      e.message.conversation_id.empty() ? service_->NewConversationId() : e.message.conversation_id;
  return AddLocked(std::move(e), conversation_id, started, answered);
}

TurnBatch::AddResult TurnBatch::AddChannel(const InboundMessage& message, uint64_t tag, TurnOutcome* answered) {
  const int64_t started = service_->clock_->NowMicros();
  Entry e;
  e.tag = tag;
  e.message = message;
  e.user_key = ChannelUserKey(message);
  e.user_stripe = service_->ChannelUserStripeOf(e.user_key);
  ConversationLock& user_lock = service_->channel_user_stripes_[e.user_stripe];
  if (!user_lock.try_lock()) return AddResult::kBusy;
  // The user's conversation: cached (this process starts every channel conversation, under the lock
  // just taken), else looked up; none yet: this turn starts it.
  if (!service_->cache_.SessionToId(e.user_key, &e.message.conversation_id)) {
    ConversationRecord existing;
    Status st = service_->store_->FindConversationByChannelUser(message.channel, message.channel_user, &existing);
    if (st.ok()) {
      e.message.conversation_id = existing.id;
    } else if (st.code() != Status::Code::kNotFound) {
      user_lock.unlock();
      *answered = TurnOutcome::Of(st);
      return AddResult::kAnswered;
    }
  }
  const std::string conversation_id =
      e.message.conversation_id.empty() ? service_->NewConversationId() : e.message.conversation_id;
  AddResult r = AddLocked(std::move(e), conversation_id, started, answered);
  if (r != AddResult::kAdded) user_lock.unlock();
  return r;
}

TurnBatch::AddResult TurnBatch::AddLocked(Entry e, const std::string& conversation_id, int64_t started,
                                          TurnOutcome* answered) {
  e.stripe = service_->StripeOf(conversation_id);
  // Fails also when this batch holds the stripe already: a second turn of a conversation waits.
  if (!service_->stripes_[e.stripe].try_lock()) return AddResult::kBusy;
  Status st = Guarded("turn", conversation_id, [&] {
    return service_->BuildTurn(e.message, conversation_id, e.new_session, started, &e.turn);
  });
  if (!st.ok()) {
    service_->stripes_[e.stripe].unlock();
    *answered = TurnOutcome::Of(st);
    return AddResult::kAnswered;
  }
  entries_.push_back(std::move(e));
  return AddResult::kAdded;
}

void TurnBatch::Absorb(TurnBatch* other) {
  entries_.reserve(entries_.size() + other->entries_.size());
  for (Entry& e : other->entries_) entries_.push_back(std::move(e));
  other->entries_.clear();
}

void TurnBatch::Commit(std::vector<Answer>* answers) {
  if (entries_.empty()) return;
  std::vector<const TurnCommit*> commits;
  commits.reserve(entries_.size());
  for (const Entry& e : entries_) commits.push_back(&e.turn.commit);
  std::vector<Status> statuses;
  Status thrown = Guarded("commit", "", [&] {
    statuses = service_->store_->CommitTurns(commits);
    return Status::Ok();
  });
  if (!thrown.ok() || statuses.size() != entries_.size()) {
    statuses.assign(entries_.size(), thrown.ok() ? Status::Internal("short commit") : thrown);
  }
  for (size_t i = 0; i < entries_.size(); ++i) {
    Entry& e = entries_[i];
    TurnOutcome out;
    if (statuses[i].code() == Status::Code::kConflict && !e.turn.commit.create) {
      // Another writer (a staff action) moved the conversation on: the turn runs again on its own, as
      // every other channel's turn would — still under the locks this batch holds (waiting for them
      // here could wait for a batch the loop filled meanwhile, which only this thread commits).
      const std::string conversation_id = e.turn.commit.conversation.id;
      service_->cache_.Erase(conversation_id);
      out = service_->HandleMessageLocked(e.message, conversation_id, e.new_session, e.turn.started);
    } else {
      out = service_->CompleteTurn(e.turn, statuses[i]);
    }
    if (out.status.ok() && !e.session.empty()) AddSessionToAnswer(e.session, &out);
    if (!e.user_key.empty() && out.status.ok() && !out.conversation_id.empty()) {
      service_->cache_.PutSession(e.user_key, out.conversation_id);
    }
    answers->push_back({e.tag, std::move(out)});
  }
  for (const Entry& e : entries_) Unlock(e);
  entries_.clear();
}

DialogContext ConversationService::ContextFor(const Knowledge& knowledge, int64_t now, const InboundMessage* m) {
  DialogContext ctx;
  ctx.knowledge = &knowledge;
  ctx.now = now;
  ctx.today = DateAt(now, options_.utc_offset_minutes);
  ctx.idle_timeout_seconds = options_.idle_timeout_seconds;
  ctx.default_lang = options_.default_lang;
  if (m) {
    if (Lang hint; ParseLang(m->lang_hint, &hint)) ctx.default_lang = hint;
    ctx.channel_identifies_customer = m->channel_identifies_customer;
  }
  return ctx;
}

Status ConversationService::MakeTicket(Effect e, const ConversationRecord& conv, const DialogState& state,
                                       const DialogContext& ctx, TicketRecord* out) {
  std::string id;
  Status st = store_->AllocateTicketId(Compact(ctx.today), &id);
  if (!st.ok()) return st;
  json& claim = e.claim;  // the effect's last use: its parts move into the ticket
  json contact = claim.contains("contact") ? std::move(claim["contact"]) : json::object();
  contact["channel"] = conv.channel;
  if (!conv.channel_user.empty()) contact["channel_user"] = conv.channel_user;
  json ticket = {{"id", id},
                 {"conversation_id", conv.id},
                 {"channel", conv.channel},
                 {"created_at", FormatTimestampUtc(ctx.now)},
                 {"status", "open"},
                 {"lang", LangCode(state.lang)},
                 {"payment_date", std::move(claim["payment_date"])},
                 {"activation_date", std::move(claim["activation_date"])},
                 {"problems", std::move(claim["problems"])},
                 {"evidence", std::move(claim["evidence"])},
                 {"contact", std::move(contact)},
                 {"assessment", std::move(e.assessment)}};
  for (const char* optional : {"billing_model", "amount_paid", "currency", "traffic_used_pct"}) {
    if (claim.contains(optional)) ticket[optional] = std::move(claim[optional]);
  }
  *out = TicketRecord{id, conv.id, "open", std::move(ticket)};
  return Status::Ok();
}

Status ConversationService::RunStaffEdit(const std::string& conversation_id, const StaffEdit& edit) {
  std::unique_lock<ConversationLock> lock(LockFor(conversation_id));
  auto knowledge = knowledge_->Get();
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::shared_ptr<const ConversationRecord> base;
    if (Status st = CurrentRecord(conversation_id, &base); !st.ok()) return st;
    DialogState state;
    const int64_t now = clock_->NowUnix();
    DialogContext ctx = ContextFor(*knowledge, now, nullptr);
    ctx.channel_identifies_customer = base->channel == "slack" || base->channel == "wecom";
    TurnCommit commit;
    commit.conversation = *base;
    Status st = Guarded("staff_edit", conversation_id, [&] {
      state = DialogStateFromJson(base->dialog);
      Status edited = edit(*base, state, ctx, commit);
      if (edited.ok()) commit.conversation.dialog = ToJson(state);  // throws here, not after the commit
      return edited;
    });
    if (!st.ok()) return st;
    ConversationRecord& conv = commit.conversation;
    conv.state = state.state;
    conv.pending_slot = state.pending;
    conv.updated_at = now;
    for (auto& r : commit.replies) r.at = now;
    if (!commit.inbound.author.empty()) commit.inbound.at = now;
    if (conv.channel == "slack" || conv.channel == "wecom") {
      // What staff (or a status change) say reaches a platform customer in their own chat.
      std::vector<MessageRecord> out;
      if (commit.inbound.author == "staff") out.push_back(commit.inbound);
      for (const auto& r : commit.replies) out.push_back(r);
      if (!commit.inbound.author.empty() && commit.inbound.author != "staff") out.clear();  // the customer's own file
      auto rows = ChannelOutbox(conv, out, state.pending, "staff:" + conv.id + ":" + std::to_string(conv.version) + ":");
      for (auto& r : rows) commit.outbox.push_back(std::move(r));
    }
    st = store_->CommitTurn(commit);
    if (st.code() == Status::Code::kConflict) {  // a customer's turn committed meanwhile: redo on the new state
      cache_.Erase(conversation_id);
      continue;
    }
    if (!st.ok()) {
      cache_.Erase(conversation_id);
      return st;
    }
    if (commit.ticket) ProcessMetrics().CountTicketFiled();
      auto committed = std::make_shared<ConversationRecord>(std::move(commit.conversation));
    committed->version += 1;
    committed->last_seq += (commit.inbound.author.empty() ? 0 : 1) + static_cast<int64_t>(commit.replies.size());
    if (committed->text_bytes >= 0) committed->text_bytes += TextBytes(commit);
    cache_.Put(committed);
    return Status::Ok();
  }
  return Status::Conflict("the conversation kept changing; try again");
}

namespace {

void AddReplies(const StepResult& result, TurnCommit* commit) {
  for (const Reply& r : result.replies) {
    MessageRecord m;
    m.author = r.author;
    m.text = r.text;
    m.quick_replies = r.quick_replies.empty() ? json(nullptr) : json(r.quick_replies);
    commit->replies.push_back(std::move(m));
  }
}

// A file the customer sent (widget upload or platform file) as a turn: the claim takes it as evidence,
// the transcript shows "<name> uploaded" in the customer's language, the engine's replies follow.
StepResult AttachmentTurn(const AttachmentRecord& file, DialogState& state, const DialogContext& ctx, TurnCommit& commit) {
  StepResult r = StepAttachment(state, {file.name, file.sha256, file.content_type, file.size}, ctx);
  state = r.state;
  commit.inbound = MessageRecord{0, "customer",
                                 ctx.knowledge->messages.Render("upload.customer_line", state.lang, {{"name", file.name}}),
                                 json(nullptr), 0};
  AddReplies(r, &commit);
  return r;
}

// Only the staff member who has the conversation acts on it (the API says who has it otherwise).
Status RequireAssignee(const ConversationRecord& conv, const std::string& staff) {
  if (conv.assignee.empty()) return Status::Conflict("take the conversation over first");
  if (conv.assignee != staff) return Status::Conflict("the conversation is with " + conv.assignee);
  return Status::Ok();
}

}  // namespace

Status ConversationService::TakeOver(const std::string& id, const std::string& staff) {
  return RunStaffEdit(id, [&](const ConversationRecord& before, DialogState& state, const DialogContext& ctx,
                              TurnCommit& commit) {
    if (!before.assignee.empty()) {
      return before.assignee == staff ? Status::Duplicate("you have it already")
                                      : Status::Conflict("the conversation is with " + before.assignee);
    }
    StepResult r = ApplyStaffAction(state, {StaffAction::Kind::kTakeOver, staff}, ctx);
    state = r.state;
    AddReplies(r, &commit);
    commit.conversation.assignee = staff;
    return Status::Ok();
  });
}

Status ConversationService::StaffReply(const std::string& id, const std::string& staff, const std::string& text) {
  return RunStaffEdit(id, [&](const ConversationRecord& before, DialogState&, const DialogContext&, TurnCommit& commit) {
    Status st = RequireAssignee(before, staff);
    if (!st.ok()) return st;
    commit.inbound = MessageRecord{0, "staff", text, json(nullptr), 0};
    return Status::Ok();
  });
}

Status ConversationService::HolderAction(const std::string& id, const std::string& staff, const StaffAction& action,
                                         const std::string& assignee_after) {
  return RunStaffEdit(id, [&](const ConversationRecord& before, DialogState& state, const DialogContext& ctx,
                              TurnCommit& commit) {
    Status st = RequireAssignee(before, staff);
    if (!st.ok()) return st;
    StepResult r = ApplyStaffAction(state, action, ctx);
    state = r.state;
    AddReplies(r, &commit);
    commit.conversation.assignee = assignee_after;
    return Status::Ok();
  });
}

Status ConversationService::HandBack(const std::string& id, const std::string& staff) {
  return HolderAction(id, staff, {StaffAction::Kind::kHandBack, staff}, "");
}

Status ConversationService::Transfer(const std::string& id, const std::string& staff, const std::string& to) {
  std::string ignored;
  Status exists = store_->GetStaffPasswordHash(to, &ignored);
  if (exists.code() == Status::Code::kNotFound) return Status::NotFound("no staff member " + to);
  if (!exists.ok()) return exists;
  return HolderAction(id, staff, {StaffAction::Kind::kTransfer, to}, to);
}

Status ConversationService::SetSlot(const std::string& id, const std::string& staff, const std::string& slot,
                                    const json& value) {
  return RunStaffEdit(id, [&](const ConversationRecord& before, DialogState& state, const DialogContext& ctx,
                              TurnCommit&) {
    Status st = RequireAssignee(before, staff);
    if (!st.ok()) return st;
    std::string error;
    if (!SetSlotByStaff(&state, ctx, slot, value, &error)) return Status::Invalid(error);
    return Status::Ok();
  });
}

Status ConversationService::FileByStaff(const std::string& id, const std::string& staff, std::string* ticket_id) {
  return RunStaffEdit(id, [&](const ConversationRecord& before, DialogState& state, const DialogContext& ctx,
                              TurnCommit& commit) {
    Status st = RequireAssignee(before, staff);
    if (!st.ok()) return st;
    if (!state.ticket_id.empty() && (state.resume_state == kFiled || state.state == kFiled)) {
      return Status::Conflict("the claim is filed already as " + state.ticket_id);
    }
    StepResult r = ApplyStaffAction(state, {StaffAction::Kind::kFile, staff}, ctx);
    for (Effect& e : r.effects) {
      if (e.kind != Effect::Kind::kFileTicket) continue;
      TicketRecord ticket;
      st = MakeTicket(std::move(e), before, r.state, ctx, &ticket);
      if (!st.ok()) return st;
      ticket.ticket["filed_by"] = staff;
      r.state.ticket_id = ticket.id;
      *ticket_id = ticket.id;
      for (Reply& reply : r.replies) ReplaceAll(&reply.text, kTicketIdPlaceholder, ticket.id);
      commit.ticket = std::move(ticket);
    }
    state = r.state;
    AddReplies(r, &commit);
    commit.conversation.assignee.clear();  // filed: back to the bot, which answers status questions
    return Status::Ok();
  });
}

Status ConversationService::CloseByStaff(const std::string& id, const std::string& staff) {
  return HolderAction(id, staff, {StaffAction::Kind::kClose, staff}, "");
}

Status ConversationService::ChangeTicketStatus(const std::string& ticket_id, const std::string& staff,
                                               const std::string& status) {
  static const std::map<std::string, std::vector<std::string>> kNext = {
      {"open", {"in_review"}}, {"in_review", {"approved", "rejected"}}, {"approved", {"refunded"}}};
  TicketRecord ticket;
  Status st = store_->GetTicket(ticket_id, &ticket);
  if (!st.ok()) return st;
  return RunStaffEdit(ticket.conversation_id, [&](const ConversationRecord&, DialogState& state,
                                                  const DialogContext& ctx, TurnCommit& commit) {
    TicketRecord current;  // read again under the conversation's lock: two staff may race
    Status read = store_->GetTicket(ticket_id, &current);
    if (!read.ok()) return read;
    auto next = kNext.find(current.status);
    if (next == kNext.end() || std::find(next->second.begin(), next->second.end(), status) == next->second.end()) {
      return Status::Conflict("a ticket that is " + current.status + " cannot become " + status);
    }
    current.status = status;
    current.ticket["status"] = status;
    json history = current.ticket.value("status_history", json::array());
    history.push_back({{"status", status}, {"by", staff}, {"at", FormatTimestampUtc(ctx.now)}});
    current.ticket["status_history"] = history;
    commit.ticket_update = current;
    const Messages& messages = ctx.knowledge->messages;
    MessageRecord notice;
    notice.author = "system";
    notice.text = messages.Render(ctx.knowledge->flow.Key("ticket_status_changed"), state.lang,
                                  {{"ticket_id", ticket_id}, {"status", messages.Render("ticket_status." + status, state.lang)}});
    commit.replies.push_back(std::move(notice));
    return Status::Ok();
  });
}

TurnOutcome ConversationService::HandleWebUpload(const std::string& session, const AttachmentRecord& file) {
  std::string id;
  Status st = ResolveSessionId(session, &id);
  if (!st.ok()) return TurnOutcome::Of(st);
  json response;
  st = RunStaffEdit(id, [&](const ConversationRecord& before, DialogState& state, const DialogContext& ctx,
                            TurnCommit& commit) {
    StepResult r = AttachmentTurn(file, state, ctx, commit);
    AttachmentRecord a = file;
    a.conversation_id = before.id;
    commit.attachment = a;
    // Evidence after filing goes onto the ticket too: staff review it with the claim.
    if (state.state == kFiled && !state.ticket_id.empty()) {
      TicketRecord ticket;
      if (store_->GetTicket(state.ticket_id, &ticket).ok()) {
        ticket.ticket["evidence"] = ClaimOf(state)["evidence"];
        commit.ticket_update = ticket;
      }
    }
    json replies = json::array();
    for (const Reply& reply : r.replies) {
      json jr = {{"text", reply.text}};
      if (!reply.quick_replies.empty()) jr["quick_replies"] = reply.quick_replies;
      replies.push_back(jr);
    }
    response = {{"conversation_id", before.id}, {"state", state.state},
                {"pending_slot", state.pending.empty() ? json(nullptr) : json(state.pending)}, {"replies", replies},
                {"attachment", {{"name", file.name}, {"sha256", file.sha256}, {"size", file.size}}}};
    return Status::Ok();
  });
  if (!st.ok()) return TurnOutcome::Of(st);
  response["session"] = session;
  return TurnOutcome::Of(Status::Ok(), std::move(response));
}

Status ConversationService::StaffView(const std::string& id, json* out) {
  return StaffView(id, 0, static_cast<int>(options_.history_page_messages), out);
}

Status ConversationService::StaffView(const std::string& id, int64_t before, int limit, json* out) {
  ConversationRecord conv;
  Status st = store_->LoadConversation(id, &conv);
  if (!st.ok()) return st;
  std::vector<MessageRecord> messages;
  if (limit <= 0) limit = static_cast<int>(options_.history_page_messages);
  st = store_->HistoryBefore(id, before > 0 ? before : conv.last_seq + 1, limit, &messages);
  if (!st.ok()) return st;
  std::map<std::string, std::string> tickets;
  store_->TicketStatuses(id, &tickets);
  auto knowledge = knowledge_->Get();
  DialogState state = DialogStateFromJson(conv.dialog);
  json transcript = json::array();
  int64_t unread = 0;
  for (const auto& m : messages) {
    json jm = {{"seq", m.seq}, {"author", m.author}, {"text", m.text}, {"at", FormatTimestampUtc(m.at)}};
    if (m.quick_replies.is_array()) jm["quick_replies"] = m.quick_replies;
    transcript.push_back(jm);
    unread += m.author == "customer" && m.seq > conv.staff_read_seq;
  }
  json claim = ClaimOf(state);
  json ticket_list = json::array();
  for (const auto& [tid, status] : tickets) ticket_list.push_back({{"id", tid}, {"status", status}});
  *out = {{"id", conv.id},
          {"channel", conv.channel},
          {"state", conv.state},
          {"pending_slot", conv.pending_slot.empty() ? json(nullptr) : json(conv.pending_slot)},
          {"assignee", conv.assignee.empty() ? json(nullptr) : json(conv.assignee)},
          {"needs_human", conv.state == kHandoff && conv.assignee.empty()},
          {"lang", LangCode(state.lang)},
          {"unread", unread},
          {"created_at", FormatTimestampUtc(conv.created_at)},
          {"updated_at", FormatTimestampUtc(conv.updated_at)},
          {"claim", claim},
          {"assessment", AssessClaim(claim, knowledge->policy, Today())},
          {"summary", StaffSummary(state, *knowledge, state.lang)},
          {"tickets", ticket_list},
          {"transcript", transcript},
          // The transcript is one page: the one before it starts below this seq (null: none).
          {"older_before", !messages.empty() && messages.front().seq > 1 ? json(messages.front().seq) : json(nullptr)},
          {"last_seq", conv.last_seq}};
  if (before > 0) return Status::Ok();  // an older page: what is new has not been seen by reading it
  return store_->MarkReadByStaff(id, conv.last_seq);
}

TurnOutcome ConversationService::HandleChannelMessage(InboundMessage m) {
  // The user's conversation: cached (this process starts every channel conversation, under the lock
  // below), else looked up; none yet: this turn starts it. A retried delivery is answered from the
  // store by HandleMessage.
  const std::string user_key = ChannelUserKey(m);
  std::lock_guard<ConversationLock> lock(channel_user_stripes_[ChannelUserStripeOf(user_key)]);
  if (!cache_.SessionToId(user_key, &m.conversation_id)) {
    ConversationRecord existing;
    Status st = store_->FindConversationByChannelUser(m.channel, m.channel_user, &existing);
    if (st.ok()) m.conversation_id = existing.id;
    else if (st.code() != Status::Code::kNotFound) return TurnOutcome::Of(st);
  }
  TurnOutcome out = HandleMessage(m);
  // A replayed Slack delivery has no stored answer (store_response false): nothing to learn from it.
  if (out.status.ok() && out.response.is_object() && out.response.contains("conversation_id")) {
    cache_.PutSession(user_key, out.response["conversation_id"].get<std::string>());
  }
  return out;
}

TurnOutcome ConversationService::HandleChannelFile(const InboundMessage& m, const AttachmentRecord& file,
                                                   const std::optional<OutboxRecord>& download) {
  if (!m.dedupe_key.empty()) {
    json stored;
    if (store_->FindDuplicate(m.dedupe_key, &stored).ok()) return TurnOutcome::Of(Status::Ok(), std::move(stored), true);
  }
  std::string id;
  {
    // The same lock as HandleChannelMessage: a file and a text from a new user open one conversation.
    std::lock_guard<ConversationLock> lock(channel_user_stripes_[ChannelUserStripeOf(ChannelUserKey(m))]);
    ConversationRecord existing;
    Status st = store_->FindConversationByChannelUser(m.channel, m.channel_user, &existing);
    if (st.code() == Status::Code::kNotFound) {
      // A file as the first message: open the conversation with a greeting turn first.
      InboundMessage hello = m;
      hello.text = m.text.empty() ? file.name : m.text;
      hello.dedupe_key = m.dedupe_key.empty() ? "" : m.dedupe_key + ":open";
      TurnOutcome opened = HandleMessage(hello);
      if (!opened.status.ok()) return opened;
      if (opened.response.is_object()) id = opened.response.value("conversation_id", "");
      if (id.empty()) {  // a replayed Slack delivery (no stored answer): the conversation exists by now
        ConversationRecord created;
        Status found = store_->FindConversationByChannelUser(m.channel, m.channel_user, &created);
        if (!found.ok()) return TurnOutcome::Of(found);
        id = created.id;
      }
    } else if (!st.ok()) {
      return TurnOutcome::Of(st);
    } else {
      id = existing.id;
    }
  }
  json response;
  Status st = RunStaffEdit(id, [&](const ConversationRecord& before, DialogState& state, const DialogContext& ctx,
                                   TurnCommit& commit) {
    StepResult r = AttachmentTurn(file, state, ctx, commit);
    commit.dedupe_key = m.dedupe_key;
    if (!file.path.empty()) {
      AttachmentRecord a = file;
      a.conversation_id = before.id;
      commit.attachment = a;
    }
    json replies = json::array();
    for (const Reply& reply : r.replies) replies.push_back({{"text", reply.text}});
    response = {{"conversation_id", before.id}, {"state", state.state}, {"replies", replies}};
    if (!m.dedupe_key.empty()) commit.response = JsonText(response);
    if (m.replies_via_outbox) {
      commit.outbox = ChannelOutbox(before, commit.replies, state.pending, "reply:" + m.dedupe_key + ":");
    }
    if (download) {
      OutboxRecord job = *download;
      json payload = json::parse(job.payload, nullptr, false);
      if (!payload.is_object()) payload = json::object();
      payload["conversation_id"] = before.id;
      payload["name"] = file.name;
      job.payload = payload.dump();
      job.target = "download:" + before.id;
      job.idempotency_key = "download:" + m.dedupe_key;
      commit.outbox.push_back(job);
    }
    return Status::Ok();
  });
  if (st.code() == Status::Code::kDuplicate && !m.dedupe_key.empty()) {
    json stored;
    if (store_->FindDuplicate(m.dedupe_key, &stored).ok()) return TurnOutcome::Of(Status::Ok(), std::move(stored), true);
  }
  if (!st.ok()) return TurnOutcome::Of(st);
  return TurnOutcome::Of(Status::Ok(), std::move(response));
}

Status ConversationService::RecordDownloadedFile(const std::string& id, const std::string& name,
                                                const AttachmentRecord& file) {
  return RunStaffEdit(id, [&](const ConversationRecord& before, DialogState& state, const DialogContext&,
                              TurnCommit& commit) {
    bool found = false;
    for (auto& [slot, value] : state.slots.items()) {
      if (!value.is_array()) continue;
      for (auto& e : value) {
        if (!e.is_object() || !e.contains("attachment") || e["attachment"].value("name", "") != name ||
            !e["attachment"].value("sha256", "").empty()) {
          continue;
        }
        e["attachment"]["sha256"] = file.sha256;
        e["attachment"]["size"] = file.size;
        e["attachment"]["content_type"] = file.content_type;
        found = true;
        break;
      }
      if (found) break;
    }
    if (!found) return Status::NotFound("no evidence named " + name + " waits for its file");
    AttachmentRecord a = file;
    a.conversation_id = before.id;
    commit.attachment = a;
    if (!state.ticket_id.empty()) {
      TicketRecord ticket;
      if (store_->GetTicket(state.ticket_id, &ticket).ok()) {
        ticket.ticket["evidence"] = ClaimOf(state)["evidence"];
        commit.ticket_update = ticket;
      }
    }
    return Status::Ok();
  });
}

std::vector<OutboxRecord> ConversationService::ChannelOutbox(const ConversationRecord& conv,
                                                             const std::vector<MessageRecord>& replies,
                                                             const std::string& pending_slot,
                                                             const std::string& key_prefix) {
  // What one turn says goes out as one platform message: one post, in order, and a third of the rows.
  if (replies.empty() || (conv.channel != "slack" && conv.channel != "wecom")) return {};
  std::string text;
  std::vector<std::string> quick;  // the last message's choices
  for (const MessageRecord& r : replies) {
    text += (text.empty() ? "" : "\n\n") + r.text;
    quick.clear();
    if (r.quick_replies.is_array()) {
      for (const auto& q : r.quick_replies) if (q.is_string()) quick.push_back(q.get<std::string>());
    }
  }
  OutboxRecord o;
  o.idempotency_key = key_prefix + "0";
  if (conv.channel == "slack") {
    // channel_user is the DM channel, or "channel/thread_ts" for a thread in a shared channel.
    const size_t slash = conv.channel_user.find('/');
    const std::string_view key = conv.channel_user;
    const bool date_question = pending_slot == "payment_date" || pending_slot == "activation_date";
    o.kind = "slack_post";
    o.target = "slack:" + conv.channel_user;
    o.payload = SlackPostBody(key.substr(0, slash), slash == std::string::npos ? std::string_view() : key.substr(slash + 1),
                              text, quick, date_question && replies.back().author == "bot");
  } else {
    // WeCom text messages have no buttons: the choices are listed to type back.
    for (const auto& q : quick) text += "\n· " + q;
    o.kind = "wecom_message";
    o.target = "wecom:" + conv.channel_user;
    o.payload = json{{"touser", conv.channel_user}, {"text", text}}.dump();
  }
  return {o};
}

std::vector<OutboxRecord> ConversationService::StaffNotices(const ConversationRecord& conv, const StepResult& result,
                                                            const std::optional<TicketRecord>& ticket,
                                                            const Knowledge& knowledge, bool was_waiting) {
  std::vector<OutboxRecord> rows;
  if (options_.slack_staff_channel.empty() && options_.wecom_robot_webhook.empty()) return rows;
  std::vector<std::pair<std::string, std::string>> notices;  // key, text
  const std::string link = options_.public_base_url + "/console#" + conv.id;
  for (const Effect& e : result.effects) {
    if (e.kind != Effect::Kind::kHandOff || was_waiting) continue;
    notices.push_back({"handoff:" + conv.id + ":" + std::to_string(conv.version),
                       knowledge.messages.Render("notice.handoff", options_.staff_lang,
                                                 {{"conversation_id", conv.id}, {"channel", conv.channel}, {"link", link}})});
  }
  if (ticket) {
    notices.push_back({"ticket:" + ticket->id,
                       knowledge.messages.Render("notice.ticket_filed", options_.staff_lang,
                                                 {{"ticket_id", ticket->id}, {"channel", conv.channel}, {"link", link},
                                                  {"verdict", ticket->ticket["assessment"].value("verdict", "")}})});
  }
  for (const auto& [key, text] : notices) {
    if (!options_.slack_staff_channel.empty()) {
      rows.push_back({0, "slack_post", "slack:" + options_.slack_staff_channel,
                      SlackPostBody(options_.slack_staff_channel, "", text, {}, false), "notice:slack:" + key, 0});
    }
    if (!options_.wecom_robot_webhook.empty()) {
      // The target names the robot; its webhook URL (the key is a secret) is read from the configuration
      // at delivery, never copied into the row.
      rows.push_back({0, "wecom_robot", "wecom_robot", json{{"text", text}}.dump(), "notice:wecom:" + key, 0});
    }
  }
  return rows;
}

}  // namespace rd
