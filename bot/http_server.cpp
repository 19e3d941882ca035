#include "bot/http_server.h"

#include <httplib.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "bot/channels/slack.h"
#include "bot/channels/wecom.h"
#include "bot/http_json.h"
#include "bot/log.h"
#include "bot/metrics.h"
#include "bot/staff_api.h"
#include "bot/web_assets.h"
#include "dialogs/text.h"

namespace rd {

using nlohmann::json;

namespace {

thread_local int64_t t_request_started = 0;
thread_local std::string t_conversation_id;

int64_t MicrosNow() { return SystemClock()->NowMicros(); }


}  // namespace

HttpServer::HttpServer(const Config& config, ConversationService* service, KnowledgeHolder* knowledge,
                       StaffAuth* staff_auth)
    : config_(config), service_(service), knowledge_(knowledge), staff_auth_(staff_auth),
      server_(std::make_unique<httplib::Server>()) {
  uploads_dir_ = config_.uploads_dir.empty()
                     ? (std::filesystem::path(config_.db_path).parent_path() / "uploads").string()
                     : config_.uploads_dir;
  int threads = config_.http_threads;
  // A keep-alive connection holds a worker while it waits; size the pool for the connections held.
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  server_->set_tcp_nodelay(true);
  server_->set_keep_alive_max_count(100000);
  server_->set_keep_alive_timeout(5);
  server_->set_read_timeout(10, 0);
  server_->set_write_timeout(10, 0);
  // Uploads may be larger than any JSON body; JSON routes are held to max_body_bytes before their body
  // is read (pre-routing handler below).
  server_->set_payload_max_length(std::max(config_.max_body_bytes, config_.max_upload_bytes));
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
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    t_request_started = MicrosNow();
    t_conversation_id.clear();
    res.set_header("X-Content-Type-Options", "nosniff");
    if (req.path.rfind("/api/chat", 0) == 0 || req.path.rfind("/api/widget/", 0) == 0) {
      res.set_header("Access-Control-Allow-Origin", "*");
    }
    const size_t limit = req.path == "/api/chat/upload" ? config_.max_upload_bytes : config_.max_body_bytes;
    if (req.get_header_value<uint64_t>("Content-Length") > limit) {
      SendError(res, 413, "body_too_large", "the request body is larger than allowed");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413) SendError(res, 413, "body_too_large", "the request body is larger than allowed");
    else if (res.status == 404) SendError(res, 404, "not_found", "no such route");
    else SendError(res, res.status, "http_error", "the request could not be handled");
  });
  s.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    ProcessMetrics().CountRequest(res.status);
    if (!LogEnabled(LogLevel::kInfo)) return;
    LogLine line(LogLevel::kInfo);
    line.Add("event", "http").Add("method", req.method).Add("route", req.path)  // the path only: query strings may hold a session secret
        .Add("status", res.status).Add("latency_ms", t_request_started ? (MicrosNow() - t_request_started) / 1000.0 : 0.0);
    if (!t_conversation_id.empty()) line.Add("conversation_id", t_conversation_id);
  });

  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { SendJson(res, {{"status", "ok"}}); });

  // Prometheus text. No secrets, no customer data; deploy/nginx.conf keeps it off the public side.
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(ProcessMetrics().Render(knowledge_->Get()->faq.entries().size()), "text/plain; version=0.0.4");
  });

  // The pages and scripts of bot/web/, compiled in. Scripts only from this origin, no inline script:
  // whatever a customer or a knowledge answer says cannot run here. Styles may be inline (the widget
  // styles its shadow root).
  for (const WebAsset& asset : WebAssets()) {
    std::string path(asset.path);
    if (path == "/demo.html") path = "/";
    else if (path == "/console.html") path = "/console";
    s.Get(path, [&asset](const httplib::Request&, httplib::Response& res) {
      res.set_header("Content-Security-Policy",
                     "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                     "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
      res.set_header("Referrer-Policy", "no-referrer");
      res.set_header("Cache-Control", "no-cache");
      if (asset.path == "/widget.js") res.set_header("Access-Control-Allow-Origin", "*");
      res.set_content(std::string(asset.body), std::string(asset.content_type).c_str());
    });
  }

  // The widget runs on the provider's site, another origin: the customer routes answer any origin. They
  // use no cookies (the session travels in the body or the query), so this shares nothing ambient.
  s.Options(R"(/api/(chat|chat/history|chat/upload|widget/labels))", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    res.set_header("Access-Control-Allow-Headers", "Content-Type");
    res.set_header("Access-Control-Max-Age", "86400");
    res.status = 204;
  });

  s.Get("/api/widget/labels", [this](const httplib::Request& req, httplib::Response& res) {
    Lang lang = Lang::kZh;
    if (req.has_param("lang") && !ParseLang(req.get_param_value("lang"), &lang))
      return SendError(res, 400, "bad_lang", "\"lang\" must be \"zh\" or \"en\"");
    auto knowledge = knowledge_->Get();
    json labels = json::object();
    for (const auto& [key, texts] : knowledge->messages.all()) {
      if (key.rfind("widget.", 0) == 0) labels[key] = lang == Lang::kZh ? texts.first : texts.second;
    }
    res.set_header("Cache-Control", "max-age=300");
    SendJson(res, {{"lang", LangCode(lang)}, {"labels", labels}});
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
    // Widgets poll this route: closing the connection after each answer means an idle visitor holds no
    // worker thread between polls (a keep-alive connection would hold one while it waits).
    res.set_header("Connection", "close");
    SendJson(res, {{"conversation_id", conv.id}, {"messages", list}, {"state", conv.state},
                   {"pending_slot", conv.pending_slot.empty() ? json(nullptr) : json(conv.pending_slot)}});
  });

  s.Post("/api/chat/upload", [this](const httplib::Request& req, httplib::Response& res) { Upload(req, res); });

  RegisterStaffRoutes(s, {config_, service_, knowledge_, staff_auth_});
  RegisterSlackRoutes(s, config_.slack, service_);
  std::string error;
  if (!RegisterWeComRoutes(s, config_.wecom, service_, SystemRandom(), &error)) channel_error_ = error;
}

namespace {

// The evidence types a customer may upload: extension -> (content type, how the file must start).
// A name says what a file claims to be; its first bytes say what it is.
struct UploadType { const char* content_type; std::string_view magic; };
const std::map<std::string, UploadType>& UploadTypes() {
  static const std::map<std::string, UploadType> types = {
      {"pdf", {"application/pdf", "%PDF-"}},
      {"png", {"image/png", "\x89PNG\r\n\x1a\n"}},
      {"jpg", {"image/jpeg", "\xff\xd8\xff"}},
      {"jpeg", {"image/jpeg", "\xff\xd8\xff"}},
      {"xlsx", {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", std::string_view("PK\x03\x04", 4)}},
      {"txt", {"text/plain; charset=utf-8", ""}},
      {"csv", {"text/csv; charset=utf-8", ""}},
  };
  return types;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Writes `bytes` to `path` durably (temporary file, fsync, rename), so a file the database names exists
// after a crash.
bool WriteFileDurably(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) { ::close(fd); return false; }
    done += static_cast<size_t>(n);
  }
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok && ::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

void HttpServer::Upload(const httplib::Request& req, httplib::Response& res) {
  if (!req.is_multipart_form_data()) return SendError(res, 400, "not_multipart", "send multipart/form-data with \"session\" and \"file\"");
  const std::string session = req.has_file("session") ? req.get_file_value("session").content : "";
  if (session.empty()) return SendError(res, 400, "bad_session", "the \"session\" field is required");
  if (!req.has_file("file")) return SendError(res, 400, "missing_file", "the \"file\" field is required");
  const httplib::MultipartFormData file = req.get_file_value("file");
  std::string name = file.filename;
  if (size_t slash = name.find_last_of("/\\"); slash != std::string::npos) name = name.substr(slash + 1);
  if (name.empty() || name.size() > 200 || !IsValidUtf8(name))
    return SendError(res, 400, "bad_file_name", "the file needs a name (UTF-8, at most 200 bytes)");
  if (file.content.empty()) return SendError(res, 400, "empty_file", "the file is empty");
  if (file.content.size() > config_.max_upload_bytes) return SendError(res, 413, "body_too_large", "the file is larger than allowed");
  const size_t dot = name.rfind('.');
  auto type = UploadTypes().find(dot == std::string::npos ? "" : Lower(name.substr(dot + 1)));
  if (type == UploadTypes().end())
    return SendError(res, 415, "unsupported_type", "allowed files: pdf, png, jpg, txt, csv, xlsx");
  const UploadType& t = type->second;
  const bool is_text = t.magic.empty();
  if ((is_text && (!IsValidUtf8(file.content) || file.content.find('\0') != std::string::npos)) ||
      (!is_text && file.content.compare(0, t.magic.size(), t.magic) != 0)) {
    return SendError(res, 415, "content_mismatch", "the file's content is not what its name says");
  }
  std::string id;
  Status st = service_->ResolveSessionId(session, &id);
  if (st.code() == Status::Code::kNotFound) return SendError(res, 404, "unknown_session", "no conversation has this session");
  if (!st.ok()) return SendError(res, 503, "unavailable", "storage is unavailable");

  AttachmentRecord a;
  a.sha256 = Sha256Hex(file.content);
  a.name = name;
  a.content_type = t.content_type;
  a.size = static_cast<int64_t>(file.content.size());
  std::error_code ec;
  std::filesystem::create_directories(uploads_dir_, ec);
  a.path = uploads_dir_ + "/" + a.sha256;
  if (!std::filesystem::exists(a.path) && !WriteFileDurably(a.path, file.content)) {
    Log(LogLevel::kError, {{"event", "upload_write_failed"}, {"dir", uploads_dir_}});
    return SendError(res, 503, "unavailable", "the file could not be stored; please send it again");
  }
  TurnOutcome out = service_->HandleWebUpload(session, a);
  if (out.status.code() == Status::Code::kNotFound) return SendError(res, 404, "unknown_session", "no conversation has this session");
  if (!out.status.ok()) return SendError(res, 503, "unavailable", "the file could not be recorded; please send it again");
  t_conversation_id = id;
  SendJson(res, out.response);
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
