#include "bot/conversation_service.h"

#include <cstdio>
#include <functional>

#include "bot/log.h"
#include "dialogs/engine.h"

namespace rd {

bool KnowledgeHolder::Reload(std::vector<std::string>* errors) {
  std::lock_guard<std::mutex> one_at_a_time(reload_mu_);
  auto fresh = LoadKnowledge(dir_, errors);
  if (!fresh) {
    for (const auto& e : *errors) Log(LogLevel::kError, {{"event", "knowledge_reload_refused"}, {"error", e}});
    return false;
  }
  const size_t entries = fresh->faq.entries().size();
  Swap(std::move(fresh));
  Log(LogLevel::kInfo, {{"event", "knowledge_reloaded"}, {"faq_entries", entries}});
  return true;
}

using nlohmann::json;

namespace {

void ReplaceAll(std::string* s, const std::string& from, const std::string& to) {
  for (size_t p = s->find(from); p != std::string::npos; p = s->find(from, p + to.size())) s->replace(p, from.size(), to);
}

std::string Compact(const Date& d) {
  std::string iso = d.Iso();
  return iso.substr(0, 4) + iso.substr(5, 2) + iso.substr(8, 2);
}

}  // namespace

std::shared_ptr<const ConversationRecord> ConversationCache::Get(const std::string& id) {
  Shard& sh = ShardFor(id);
  std::lock_guard<std::mutex> l(sh.mu);
  auto it = sh.records.find(id);
  return it == sh.records.end() ? nullptr : it->second;
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

// Time-ordered, then random: conversations active together sit together in the store's B-trees (a
// batch of turns touches few pages), and ids stay unguessable. Ids are not secrets; sessions are.
std::string ConversationService::NewConversationId() {
  char prefix[16];
  std::snprintf(prefix, sizeof prefix, "cv_%08llx", static_cast<unsigned long long>(clock_->NowUnix()) & 0xffffffffULL);
  return prefix + RandomHex(random_, 6);
}

Date ConversationService::Today() { return DateAt(clock_->NowUnix(), options_.utc_offset_minutes); }

std::mutex& ConversationService::LockFor(const std::string& id) {
  return stripes_[std::hash<std::string>{}(id) % stripes_.size()];
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

TurnOutcome ConversationService::HandleWebMessage(const std::string& session, const std::string& text,
                                                  const std::string& client_message_id,
                                                  const std::string& lang_hint) {
  InboundMessage m;
  m.channel = "web";
  m.text = text;
  m.lang_hint = lang_hint;
  if (!session.empty()) {
    Status st = ResolveSessionId(session, &m.conversation_id);
    if (!st.ok()) return {st, json(), false};
    if (!client_message_id.empty()) m.dedupe_key = "web:" + m.conversation_id + ":" + client_message_id;
  } else if (client_message_id.size() >= 16) {
    // Without a session only an unguessable id may replay a first answer (it carries the session).
    m.dedupe_key = "web:new:" + client_message_id;
  }
  TurnOutcome out = HandleMessage(m, session.empty() ? RandomHex(random_, 24) : "");
  if (out.status.ok() && !session.empty()) out.response["session"] = session;
  return out;
}

TurnOutcome ConversationService::HandleMessage(const InboundMessage& m, const std::string& new_session) {
  int64_t started = clock_->NowMicros();
  if (!m.dedupe_key.empty()) {
    json stored;
    if (store_->FindDuplicate(m.dedupe_key, &stored).ok()) return {Status::Ok(), stored, true};
  }
  bool create = m.conversation_id.empty();
  std::string conversation_id = create ? NewConversationId() : m.conversation_id;
  std::unique_lock<std::mutex> lock(LockFor(conversation_id));
  auto knowledge = knowledge_->Get();

  for (int attempt = 0; attempt < 3; ++attempt) {
    ConversationRecord conv;  // the new record; its dialog is written below, never copied from the old
    DialogState state;
    if (create) {
      conv.id = conversation_id;
      conv.channel = m.channel;
      conv.channel_user = m.channel_user;
    } else {
      std::shared_ptr<const ConversationRecord> base = cache_.Get(conversation_id);
      if (!base) {
        auto loaded = std::make_shared<ConversationRecord>();
        Status st = store_->LoadConversation(conversation_id, loaded.get());
        if (!st.ok()) return {st, json(), false};
        base = std::move(loaded);
      }
      state = DialogStateFromJson(base->dialog);
      conv.id = base->id;
      conv.channel = base->channel;
      conv.channel_user = base->channel_user;
      conv.version = base->version;
      conv.last_seq = base->last_seq;
      conv.created_at = base->created_at;
      if (!m.dedupe_key.empty()) {  // a concurrent delivery may have committed while we waited
        json stored;
        if (store_->FindDuplicate(m.dedupe_key, &stored).ok()) return {Status::Ok(), stored, true};
      }
    }
    std::string state_before = create ? std::string(kStart) : state.state;

    DialogContext ctx;
    ctx.knowledge = knowledge.get();
    int64_t now = clock_->NowUnix();
    ctx.now = now;
    ctx.today = DateAt(now, options_.utc_offset_minutes);
    ctx.idle_timeout_seconds = options_.idle_timeout_seconds;
    ctx.default_lang = options_.default_lang;
    if (Lang hint; ParseLang(m.lang_hint, &hint)) ctx.default_lang = hint;
    ctx.channel_identifies_customer = m.channel_identifies_customer;
    if (!create && (!state.ticket_id.empty() || m.text.find("RF-") != std::string::npos ||
                    m.text.find("rf-") != std::string::npos)) {
      store_->TicketStatuses(conversation_id, &ctx.ticket_statuses);
    }

    StepResult result = Step(state, m.text, ctx);

    TurnCommit commit;
    std::optional<std::string> ticket_id;
    for (const Effect& e : result.effects) {
      if (e.kind != Effect::Kind::kFileTicket) continue;
      std::string id;
      Status st = store_->AllocateTicketId(Compact(ctx.today), &id);
      if (!st.ok()) return {st, json(), false};
      ticket_id = id;
      result.state.ticket_id = id;
      json contact = e.claim.value("contact", json::object());
      contact["channel"] = m.channel;
      if (!m.channel_user.empty()) contact["channel_user"] = m.channel_user;
      json ticket = {{"id", id},
                     {"conversation_id", conversation_id},
                     {"channel", m.channel},
                     {"created_at", FormatTimestampUtc(now)},
                     {"status", "open"},
                     {"lang", LangCode(result.state.lang)},
                     {"payment_date", e.claim["payment_date"]},
                     {"activation_date", e.claim["activation_date"]},
                     {"problems", e.claim["problems"]},
                     {"evidence", e.claim["evidence"]},
                     {"contact", contact},
                     {"assessment", e.assessment}};
      commit.ticket = TicketRecord{id, conversation_id, "open", ticket};
    }

    json replies = json::array();
    for (Reply& r : result.replies) {
      if (ticket_id) ReplaceAll(&r.text, kTicketIdPlaceholder, *ticket_id);
      json jr = {{"text", r.text}};
      if (!r.quick_replies.empty()) jr["quick_replies"] = r.quick_replies;
      replies.push_back(jr);
      MessageRecord rec;
      rec.author = "bot";
      rec.text = r.text;
      rec.quick_replies = r.quick_replies.empty() ? json(nullptr) : json(r.quick_replies);
      rec.at = now;
      commit.replies.push_back(std::move(rec));
    }

    const std::string& pending = result.state.pending;
    json response = {{"conversation_id", conversation_id},
                     {"state", result.state.state},
                     {"pending_slot", pending.empty() ? json(nullptr) : json(pending)},
                     {"replies", replies}};
    if (commit.ticket) response["ticket"] = commit.ticket->ticket;
    if (create && !new_session.empty()) response["session"] = new_session;

    conv.state = result.state.state;
    conv.pending_slot = pending;
    conv.dialog = ToJson(result.state);
    conv.updated_at = now;
    commit.conversation = std::move(conv);
    commit.create = create;
    if (create && !new_session.empty()) commit.session_hash = Sha256Hex(new_session);
    commit.inbound = MessageRecord{0, "customer", m.text, json(nullptr), now};
    commit.dedupe_key = m.dedupe_key;
    if (!m.dedupe_key.empty()) commit.response = response;  // kept only where a resend can ask for it

    Status st = store_->CommitTurn(commit);
    if (st.code() == Status::Code::kDuplicate && !m.dedupe_key.empty()) {
      json stored;
      if (store_->FindDuplicate(m.dedupe_key, &stored).ok()) return {Status::Ok(), stored, true};
    }
    if (st.code() == Status::Code::kConflict && !create) {  // another writer moved it on: reload, redo
      cache_.Erase(conversation_id);
      continue;
    }
    if (!st.ok()) {
      cache_.Erase(conversation_id);
      return {st, json(), false};
    }
    auto committed = std::make_shared<ConversationRecord>(std::move(commit.conversation));
    committed->version = create ? 1 : committed->version + 1;
    committed->last_seq += 1 + static_cast<int64_t>(commit.replies.size());
    if (create) committed->created_at = now;
    cache_.Put(committed);
    if (create && !new_session.empty()) cache_.PutSession(commit.session_hash, conversation_id);

    if (LogEnabled(LogLevel::kInfo)) {
      json line = {{"event", "turn"},
                   {"conversation_id", conversation_id},
                   {"channel", m.channel},
                   {"state_before", state_before},
                   {"state_after", result.state.state},
                   {"pending_slot", pending},
                   {"replies", replies.size()},
                   {"latency_ms", (clock_->NowMicros() - started) / 1000.0}};
      if (commit.ticket) line["ticket_id"] = commit.ticket->id;
      if (LogEnabled(LogLevel::kDebug)) line["text"] = m.text;
      Log(LogLevel::kInfo, line);
    }
    return {Status::Ok(), response, false};
  }
  return {Status::Conflict("the conversation kept changing; try again"), json(), false};
}

}  // namespace rd
