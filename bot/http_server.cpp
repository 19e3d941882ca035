#include "bot/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include "bot/http_json.h"
#include "bot/log.h"
#include "bot/staff_api.h"
#include "dialogs/text.h"

namespace rd {

using nlohmann::json;

namespace {

thread_local int64_t t_request_started = 0;
thread_local std::string t_conversation_id;

int64_t MicrosNow() { return SystemClock()->NowMicros(); }

const char kDemoPage[] = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Refund Desk — demo</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:640px;margin:2rem auto;padding:0 1rem}
#log{border:1px solid #ccc;border-radius:8px;padding:1rem;min-height:300px;white-space:pre-wrap}
.me{color:#0b5;text-align:right}.bot{color:#222}form{display:flex;gap:.5rem;margin-top:.5rem}
input{flex:1;padding:.5rem}button{padding:.5rem 1rem}.qr button{margin:.2rem}</style></head>
<body><h1>Refund Desk</h1><p>Demo of the chat API (the full widget comes with the widget issue).</p>
<div id="log" role="log" aria-live="polite"></div><div class="qr" id="qr"></div>
<form id="f"><input id="t" aria-label="Message" autocomplete="off" placeholder="Type a message…"><button>Send</button></form>
<script>
let session = localStorage.getItem('rd-session') || '';
const log = document.getElementById('log'), qr = document.getElementById('qr');
function add(text, cls){ const d=document.createElement('div'); d.className=cls; d.textContent=text; log.appendChild(d); }
async function send(text){
  add(text,'me'); qr.textContent='';
  const body={text, client_message_id: crypto.randomUUID()}; if(session) body.session=session;
  const r=await fetch('/api/chat',{method:'POST',headers:{'Content-Type':'application/json'},body:JSON.stringify(body)});
  const j=await r.json(); if(!r.ok){ add(j.message||'error','bot'); return; }
  session=j.session; localStorage.setItem('rd-session',session);
  for(const rep of j.replies){ add(rep.text,'bot'); for(const q of rep.quick_replies||[]){ const b=document.createElement('button'); b.textContent=q; b.onclick=()=>send(q); qr.appendChild(b);} }
}
document.getElementById('f').onsubmit=e=>{e.preventDefault(); const t=document.getElementById('t'); if(t.value.trim()){send(t.value); t.value='';}};
</script></body></html>)html";

}  // namespace

HttpServer::HttpServer(const Config& config, ConversationService* service, KnowledgeHolder* knowledge,
                       StaffAuth* staff_auth)
    : config_(config), service_(service), knowledge_(knowledge), staff_auth_(staff_auth),
      server_(std::make_unique<httplib::Server>()) {
  int threads = config_.http_threads;
  // A keep-alive connection holds a worker while it waits; size the pool for the connections held.
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  server_->set_tcp_nodelay(true);
  server_->set_keep_alive_max_count(100000);
  server_->set_keep_alive_timeout(5);
  server_->set_read_timeout(10, 0);
  server_->set_write_timeout(10, 0);
  server_->set_payload_max_length(config_.max_body_bytes);
  // Replaces cpp-httplib's defaults for two reasons. It sets SO_REUSEPORT, so a second server started
  // on a busy port would silently share it and the kernel would split customers between two processes;
  // without it that bind fails. And it listens with a backlog of 5: 32 clients connecting at once
  // overflow that, and SYN-cookie retries add up to a second to a first request — so keep the fd and
  // raise the backlog after binding.
  server_->set_socket_options([this](int fd) {
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);  // restarts reuse TIME_WAIT addresses
    listen_fd_ = fd;
  });
  Routes();
}

HttpServer::~HttpServer() = default;

void HttpServer::Routes() {
  httplib::Server& s = *server_;
  s.set_pre_routing_handler([](const httplib::Request&, httplib::Response& res) {
    t_request_started = MicrosNow();
    t_conversation_id.clear();
    res.set_header("X-Content-Type-Options", "nosniff");
    return httplib::Server::HandlerResponse::Unhandled;
  });
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413) SendError(res, 413, "body_too_large", "the request body is larger than allowed");
    else if (res.status == 404) SendError(res, 404, "not_found", "no such route");
    else SendError(res, res.status, "http_error", "the request could not be handled");
  });
  s.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    if (!LogEnabled(LogLevel::kInfo)) return;
    json line = {{"event", "http"}, {"method", req.method}, {"route", req.path}, {"status", res.status},
                 {"latency_ms", t_request_started ? (MicrosNow() - t_request_started) / 1000.0 : 0.0}};
    if (!t_conversation_id.empty()) line["conversation_id"] = t_conversation_id;
    Log(LogLevel::kInfo, line);  // the path only: query strings may hold a session secret
  });

  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { SendJson(res, {{"status", "ok"}}); });

  s.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline' 'self'");
    res.set_content(kDemoPage, "text/html; charset=utf-8");
  });

  s.Post("/api/chat", [this](const httplib::Request& req, httplib::Response& res) {
    if (!IsValidUtf8(req.body)) return SendError(res, 400, "invalid_utf8", "the body is not valid UTF-8");
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return SendError(res, 400, "malformed_json", "the body is not valid JSON");
    if (!body.is_object()) return SendError(res, 400, "malformed_json", "the body must be a JSON object");
    if (!body.contains("text") || !body["text"].is_string())
      return SendError(res, 400, "missing_text", "\"text\" (a string) is required");
    std::string text = body["text"].get<std::string>();
    if (Trim(text).empty()) return SendError(res, 400, "empty_text", "\"text\" must not be empty");
    std::string session, cmid, lang;
    if (body.contains("session") && !body["session"].is_null()) {
      if (!body["session"].is_string()) return SendError(res, 400, "bad_session", "\"session\" must be a string");
      session = body["session"].get<std::string>();
      if (session.empty()) return SendError(res, 400, "bad_session", "\"session\" must not be empty");
    }
    if (body.contains("client_message_id") && !body["client_message_id"].is_null()) {
      if (!body["client_message_id"].is_string() || body["client_message_id"].get<std::string>().size() > 128)
        return SendError(res, 400, "bad_client_message_id", "\"client_message_id\" must be a string of at most 128 characters");
      cmid = body["client_message_id"].get<std::string>();
    }
    if (body.contains("lang") && !body["lang"].is_null()) {
      Lang l;
      if (!body["lang"].is_string() || !ParseLang(body["lang"].get<std::string>(), &l))
        return SendError(res, 400, "bad_lang", "\"lang\" must be \"zh\" or \"en\"");
      lang = body["lang"].get<std::string>();
    }
    TurnOutcome out = service_->HandleWebMessage(session, text, cmid, lang);
    if (out.status.code() == Status::Code::kNotFound)
      return SendError(res, 404, "unknown_session", "no conversation has this session");
    if (!out.status.ok()) {
      Log(LogLevel::kError, {{"event", "turn_failed"}, {"error", out.status.message()}});
      return SendError(res, 503, "unavailable", "the message could not be stored; please send it again");
    }
    t_conversation_id = out.response.value("conversation_id", "");
    SendJson(res, out.response);
  });

  s.Get("/api/chat/history", [this](const httplib::Request& req, httplib::Response& res) {
    std::string session = req.get_param_value("session");
    if (session.empty()) return SendError(res, 400, "bad_session", "the \"session\" parameter is required");
    int64_t after = 0;
    if (req.has_param("after")) {
      const std::string a = req.get_param_value("after");
      char* end = nullptr;
      long long v = std::strtoll(a.c_str(), &end, 10);
      if (a.empty() || *end != '\0' || v < 0) return SendError(res, 400, "bad_after", "\"after\" must be a whole number ≥ 0");
      after = v;
    }
    ConversationRecord conv;
    Status st = service_->ResolveSession(session, &conv);
    if (st.code() == Status::Code::kNotFound) return SendError(res, 404, "unknown_session", "no conversation has this session");
    if (!st.ok()) return SendError(res, 503, "unavailable", "storage is unavailable");
    std::vector<MessageRecord> messages;
    st = service_->store()->History(conv.id, after, 1000, &messages);
    if (!st.ok()) return SendError(res, 503, "unavailable", "storage is unavailable");
    json list = json::array();
    for (const auto& m : messages) {
      json jm = {{"seq", m.seq}, {"author", m.author}, {"text", m.text}, {"at", FormatTimestampUtc(m.at)}};
      if (m.quick_replies.is_array()) jm["quick_replies"] = m.quick_replies;
      list.push_back(jm);
    }
    t_conversation_id = conv.id;
    SendJson(res, {{"conversation_id", conv.id}, {"messages", list}, {"state", conv.state},
                   {"pending_slot", conv.pending_slot.empty() ? json(nullptr) : json(conv.pending_slot)}});
  });

  RegisterStaffRoutes(s, {config_, service_, knowledge_, staff_auth_});
}

int HttpServer::Bind() {
  int port = config_.port == 0 ? server_->bind_to_any_port(config_.host)
                               : (server_->bind_to_port(config_.host, config_.port) ? config_.port : -1);
  if (port > 0 && listen_fd_ >= 0) ::listen(listen_fd_, 1024);  // Linux: a second listen() resizes the backlog
  return port;
}

bool HttpServer::Serve() { return server_->listen_after_bind(); }

void HttpServer::Stop() { server_->stop(); }

}  // namespace rd
