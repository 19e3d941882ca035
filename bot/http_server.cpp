#include "bot/http_server.h"

#include <httplib.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>
#include <unordered_map>

#include "bot/channels/slack.h"
#include "bot/channels/wecom.h"
#include "bot/file_types.h"
#include "bot/http_json.h"
#include "bot/http_loop.h"
#include "bot/log.h"
#include "bot/metrics.h"
#include "bot/rate_limit.h"
#include "bot/staff_api.h"
#include "bot/web_assets.h"
#include "dialogs/text.h"
#include "storage/json_writer.h"

namespace rd {

using nlohmann::json;

// cpp-httplib's router without its sockets: the loop hands it whole requests.
class RoutingServer : public httplib::Server {
 public:
  using httplib::Server::process_request;
};

// The flood limits (README.md "Security limits"), shared by the loops' turns and the workers' uploads.
struct HttpLimits {
  explicit HttpLimits(const Config& c)
      : new_conversations(c.rate_new_conversations), messages(c.rate_messages), uploads(c.rate_uploads),
        platform_messages(c.rate_platform_messages), refusals(c.rate_refusals), trusted_proxy(c.trusted_proxy),
        max_message_chars(c.max_message_chars), refusal_delay_ms(c.refusal_delay_ms) {}
  RateLimiter new_conversations, messages, uploads, platform_messages, refusals;  // thread-safe
  const std::string trusted_proxy;
  const size_t max_message_chars;
  const int refusal_delay_ms;
  // How long to hold a refusal to `client` (a key of the refusals bucket): 0 while it has tokens.
  int RefusalDelay(std::string_view client) {
    if (refusal_delay_ms <= 0 || refusals.Take(client, SteadyNowMs()) == 0) return 0;
    ProcessMetrics().CountLimited(Limited::kRefusalHeld);
    return refusal_delay_ms;
  }
};


namespace {

thread_local int64_t t_request_started = 0;
thread_local std::string t_conversation_id;

int64_t MicrosNow() { return SystemClock()->NowMicros(); }

constexpr int kKeepAliveSeconds = 5;



// A request the loop read whole, handed to cpp-httplib's router; the answer is collected for the loop
// to send.
class MemoryStream : public httplib::Stream {
 public:
  MemoryStream(std::string in, std::string ip, int port) : in_(std::move(in)), ip_(std::move(ip)), port_(port) {}
  bool is_readable() const override { return pos_ < in_.size(); }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    size = std::min(size, in_.size() - pos_);
    std::memcpy(ptr, in_.data() + pos_, size);
    pos_ += size;
    return static_cast<ssize_t>(size);
  }
  ssize_t write(const char* ptr, size_t size) override {
    out_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { ip = ip_; port = port_; }
  void get_local_ip_and_port(std::string& ip, int& port) const override { ip.clear(); port = 0; }
  socket_t socket() const override { return INVALID_SOCKET; }
  std::string TakeOutput() { return std::move(out_); }

 private:
  std::string in_;
  size_t pos_ = 0;
  std::string out_;
  std::string ip_;
  int port_;
};

namespace {

// The chat request's members, taken as the parser meets them: no tree is built for a body whose four
// strings are all a turn needs (the tree was 2.6 % of the bot's CPU). Other members are skipped; a
// member given twice counts as its last value, as in a tree.
class ChatRequestReader : public nlohmann::json_sax<json> {
 public:
  struct Member {
    bool given = false;  // present and not null
    bool is_string = false;
    std::string value;
  };
  Member text, session, client_message_id, lang;
  bool is_object = false;

  bool null() override { return Scalar(nullptr, false); }
  bool boolean(bool) override { return Scalar(nullptr, true); }
  bool number_integer(number_integer_t) override { return Scalar(nullptr, true); }
  bool number_unsigned(number_unsigned_t) override { return Scalar(nullptr, true); }
  bool number_float(number_float_t, const string_t&) override { return Scalar(nullptr, true); }
  bool string(string_t& s) override { return Scalar(&s, true); }
  bool binary(binary_t&) override { return Scalar(nullptr, true); }
  bool start_object(std::size_t) override { return Open(true); }
  bool start_array(std::size_t) override { return Open(false); }
  bool end_object() override { --depth_; return true; }
  bool end_array() override { --depth_; return true; }
  bool key(string_t& k) override {
    if (depth_ == 1) next_ = k == "text" ? &text : k == "session" ? &session : k == "client_message_id" ? &client_message_id
                          : k == "lang" ? &lang : nullptr;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  // A value at the top level of the object goes to the member its key named (if one of ours).
  bool Scalar(std::string* s, bool given) {
    if (depth_ == 1 && next_) {
      next_->given = given;
      next_->is_string = s != nullptr;
      next_->value = s ? std::move(*s) : std::string();
      next_ = nullptr;
    }
    return true;
  }
  bool Open(bool object) {
    if (depth_ == 0) is_object = object;
    Scalar(nullptr, true);  // an object or array as one of our members: given, not a string
    ++depth_;
    return true;
  }
  int depth_ = 0;
  Member* next_ = nullptr;
};

}  // namespace

namespace {

// 429 with Retry-After, counted in /metrics.
HttpResponse TooMany(int64_t retry_after_seconds, const std::string& what, Limited kind) {
  ProcessMetrics().CountLimited(kind);
  HttpResponse r = JsonError(429, "rate_limited", "too many " + what + " from this client; try again in " +
                                                      std::to_string(retry_after_seconds) + " s");
  r.headers.emplace_back("Retry-After", std::to_string(retry_after_seconds));
  return r;
}

// A conversation that reached a size bound (Status::Limit): 429 without Retry-After — waiting does not help.
HttpResponse ConversationFull(const Status& st) {
  ProcessMetrics().CountLimited(Limited::kConversationFull);
  return JsonError(429, "conversation_full", st.message());
}

}  // namespace

// POST /api/chat's body → the turn it asks for, or the 400 (413 for a text over `max_chars`
// characters) that says what is wrong with it.
std::optional<HttpResponse> ParseChatRequest(std::string_view text_body, size_t max_chars, WebTurnRequest* request) {
  if (!IsValidUtf8(text_body)) return JsonError(400, "invalid_utf8", "the body is not valid UTF-8");
  ChatRequestReader body;
  if (!json::sax_parse(text_body, &body)) return JsonError(400, "malformed_json", "the body is not valid JSON");
  if (!body.is_object) return JsonError(400, "malformed_json", "the body must be a JSON object");
  if (!body.text.is_string) return JsonError(400, "missing_text", "\"text\" (a string) is required");
  request->text = std::move(body.text.value);
  if (Trim(request->text).empty()) return JsonError(400, "empty_text", "\"text\" must not be empty");
  if (CharCount(request->text) > max_chars) {
    // Refused whole, before any understanding: nothing is stored, the widget says why.
    ProcessMetrics().CountLimited(Limited::kMessageTooLong);
    return JsonError(413, "message_too_long", "\"text\" is longer than " + std::to_string(max_chars) + " characters");
  }
  if (body.session.given) {
    if (!body.session.is_string) return JsonError(400, "bad_session", "\"session\" must be a string");
    request->session = std::move(body.session.value);
    if (request->session.empty()) return JsonError(400, "bad_session", "\"session\" must not be empty");
  }
  if (body.client_message_id.given) {
    if (!body.client_message_id.is_string || body.client_message_id.value.size() > 128)
      return JsonError(400, "bad_client_message_id", "\"client_message_id\" must be a string of at most 128 characters");
    request->client_message_id = std::move(body.client_message_id.value);
  }
  if (body.lang.given) {
    Lang l;
    if (!body.lang.is_string || !ParseLang(body.lang.value, &l))
      return JsonError(400, "bad_lang", "\"lang\" must be \"zh\" or \"en\"");
    request->lang_hint = std::move(body.lang.value);
  }
  return std::nullopt;
}

// Customer turns on the event loop: POST /api/chat, and the text messages of POST /slack/events and
// POST /wecom/callback when those channels are on. The loop runs each turn's engine as its request
// arrives (Add); at the end of each pass the pass's turns go to this route's committer thread as one
// batch (one transaction), while the loop goes on reading and deciding the next ones: parsing,
// signature checks, decryption and the engine overlap with SQLite's writes. (Measured: one committer
// per loop; a second split the batches and lost more to smaller transactions than it gained.)
class TurnRoute : public BatchRoute {
 public:
  TurnRoute(ConversationService* service, HttpLimits* limits, const SlackSettings* slack, const WeComCallback* wecom,
            std::function<void()> wake)
      : service_(service), limits_(limits), slack_(slack), wecom_(wecom), filling_(NewBatch()), wake_(std::move(wake)),
        committer_([this] {
          pthread_setname_np(pthread_self(), "rd-commit");
          CommitLoop();
        }) {}

  ~TurnRoute() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    committer_.join();
  }

  // A request whose parsing throws (a bug on input nobody foresaw) is answered 500 alone; the loop
  // thread goes on with the others.
  Taken Add(const HttpRequestView& request, uint64_t tag, HttpResponse* response) override {
    try {
      return Take(request, tag, response);
    } catch (const std::exception& e) {
      Log(LogLevel::kError, {{"event", "request_exception"}, {"route", std::string(request.path)}, {"error", e.what()}});
      *response = JsonError(500, "internal_error", "the request could not be handled");
      return Taken::kAnswered;
    }
  }

  Taken Take(const HttpRequestView& request, uint64_t tag, HttpResponse* response) {
    Waiting w;
    w.tag = tag;
    w.pending.started = MicrosNow();
    if (request.path == "/api/chat") {
      std::optional<HttpResponse> refusal = ParseChatRequest(request.body, limits_->max_message_chars, &w.request);
      w.request.client_address = ClientAddress(request.remote_ip, request.Header("X-Forwarded-For"), limits_->trusted_proxy);
      if (!refusal) refusal = RateLimitWeb(&w.request);
      if (refusal) {
        refusal->delay_ms = limits_->RefusalDelay(w.request.client_address);
        *response = Finish(std::move(*refusal), w.pending, "");
        return Taken::kAnswered;
      }
    } else {
      WebhookIntake intake;
      if (request.path == "/slack/events") {
        w.pending.source = Source::kSlack;
        intake = SlackEventIntake(*slack_, std::string(request.Header("X-Slack-Request-Timestamp")),
                                  std::string(request.Header("X-Slack-Signature")), std::string(request.body),
                                  SystemClock()->NowUnix());
      } else {
        w.pending.source = Source::kWeCom;
        intake = wecom_->Intake(request.Query("msg_signature"), request.Query("timestamp"), request.Query("nonce"),
                                std::string(request.body));
      }
      switch (intake.kind) {
        case WebhookIntake::Kind::kAnswer:
          *response = Finish(std::move(intake.answer), w.pending, "");
          return Taken::kAnswered;
        case WebhookIntake::Kind::kFiles:
          return Taken::kDeclined;  // evidence turns wait on locks and downloads: the router's workers run them
        case WebhookIntake::Kind::kTurn:
          break;
      }
      w.message = std::move(intake.message);
      const std::string user = w.message.channel + ":" + w.message.channel_user;
      if (int64_t wait = limits_->platform_messages.Take(user, SteadyNowMs())) {
        // The platform retries a refused delivery later (Slack, WeCom): nothing is stored now.
        HttpResponse refused = TooMany(wait, "messages", Limited::kPlatformMessage);
        refused.delay_ms = limits_->RefusalDelay(user);
        *response = Finish(std::move(refused), w.pending, "");
        return Taken::kAnswered;
      }
      if (w.pending.source == Source::kWeCom) w.pending.reply_to = w.message.channel_user;
      w.message.answer_as_text = true;  // Slack is acknowledged empty, WeCom's passive reply reads `replies`
    }
    return TryAdd(std::move(w), response) ? Taken::kAnswered : Taken::kKept;
  }

  void Flush(std::vector<std::pair<uint64_t, HttpResponse>>* done) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      committed_.store(false, std::memory_order_relaxed);
      for (auto& answer : finished_) done->push_back(std::move(answer));
      finished_.clear();
    }
    // Turns that found their conversation busy try again, in the order they came: a committed batch
    // has released its locks, and the loop's 1 ms poll retries those held by other threads.
    if (!waiting_.empty()) {
      std::deque<Waiting> retry;
      retry.swap(waiting_);
      for (Waiting& w : retry) {
        HttpResponse response;
        const uint64_t tag = w.tag;
        if (TryAdd(std::move(w), &response)) done->emplace_back(tag, std::move(response));
      }
    }
    if (filling_->batch.empty()) return;
    {
      std::lock_guard<std::mutex> l(mu_);
      queued_.push_back(std::move(filling_));
      if (!spare_.empty()) {
        filling_ = std::move(spare_.back());
        spare_.pop_back();
      }
    }
    if (!filling_) filling_ = NewBatch();
    cv_.notify_one();
  }

  bool HasWaiting() const override { return !waiting_.empty(); }
  bool ShouldFlush() const override { return committed_.load(std::memory_order_acquire); }

 private:
  enum class Source { kWeb, kSlack, kWeCom };
  // What answering a request needs once its turn is committed.
  struct Pending {
    int64_t started = 0;  // µs, when its request was taken, for the log
    Source source = Source::kWeb;
    std::string reply_to;  // WeCom: the user the passive reply is addressed to
  };
  struct Waiting {
    uint64_t tag = 0;
    Pending pending;
    WebTurnRequest request;  // web
    InboundMessage message;  // Slack, WeCom
  };
  struct Batch {
    explicit Batch(ConversationService* service) : batch(service) {}
    TurnBatch batch;
    std::unordered_map<uint64_t, Pending> pending;  // by tag
  };

  std::unique_ptr<Batch> NewBatch() { return std::make_unique<Batch>(service_); }

  // The web chat's buckets for the client's address (turn->client_address): every message, and a
  // message without a session (it opens a conversation).
  std::optional<HttpResponse> RateLimitWeb(WebTurnRequest* turn) {
    const int64_t now = SteadyNowMs();
    if (int64_t wait = limits_->messages.Take(turn->client_address, now)) return TooMany(wait, "messages", Limited::kMessage);
    if (turn->session.empty()) {
      if (int64_t wait = limits_->new_conversations.Take(turn->client_address, now)) {
        return TooMany(wait, "new conversations", Limited::kNewConversation);
      }
    }
    return std::nullopt;
  }

  bool TryAdd(Waiting w, HttpResponse* response) {
    TurnOutcome answered;
    const TurnBatch::AddResult added = w.pending.source == Source::kWeb
                                           ? filling_->batch.Add(w.request, w.tag, &answered)
                                           : filling_->batch.AddChannel(w.message, w.tag, &answered);
    switch (added) {
      case TurnBatch::AddResult::kAdded:
        filling_->pending[w.tag] = std::move(w.pending);
        return false;
      case TurnBatch::AddResult::kBusy:
        waiting_.push_back(std::move(w));
        return false;
      case TurnBatch::AddResult::kAnswered:
        break;
    }
    *response = SafeRender(answered, w.pending);
    return true;
  }

  void CommitLoop() {
    std::vector<TurnBatch::Answer> answers;
    std::vector<std::pair<uint64_t, HttpResponse>> rendered;
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      cv_.wait(l, [this] { return stopping_ || !queued_.empty(); });
      if (queued_.empty()) return;  // stopping, and every batch taken is committed
      // Everything the loop queued meanwhile goes into the same transaction.
      std::unique_ptr<Batch> b = std::move(queued_.front());
      queued_.pop_front();
      for (; !queued_.empty(); queued_.pop_front()) {
        Batch& more = *queued_.front();
        b->batch.Absorb(&more.batch);
        b->pending.merge(more.pending);
        more.pending.clear();
        spare_.push_back(std::move(queued_.front()));
      }
      l.unlock();
      answers.clear();
      b->batch.Commit(&answers);
      for (auto& a : answers) {
        auto it = b->pending.find(a.tag);
        Pending unknown;
        unknown.started = MicrosNow();
        rendered.emplace_back(a.tag, SafeRender(a.outcome, it == b->pending.end() ? unknown : it->second));
      }
      b->pending.clear();
      l.lock();
      for (auto& r : rendered) finished_.push_back(std::move(r));
      rendered.clear();
      spare_.push_back(std::move(b));
      committed_.store(true, std::memory_order_release);
      wake_();
    }
  }

  // Render, and a 500 of its own when that throws: the committer thread never stops on one answer.
  HttpResponse SafeRender(TurnOutcome& out, const Pending& p) const {
    try {
      return Render(out, p);
    } catch (const std::exception& e) {
      Log(LogLevel::kError, {{"event", "render_exception"}, {"error", e.what()}});
      return Finish(JsonError(500, "internal_error", "the message could not be handled"), p, "");
    }
  }

  HttpResponse Render(TurnOutcome& out, const Pending& p) const {
    if (out.status.code() == Status::Code::kLimit) {
      if (p.source == Source::kWeb) return Finish(ConversationFull(out.status), p, "");
      // A platform conversation that is full: acknowledged (a retry would be refused again), not stored.
      ProcessMetrics().CountLimited(Limited::kConversationFull);
      Log(LogLevel::kWarn, {{"event", "conversation_full"}, {"error", out.status.message()}});
      return Finish(HttpResponse{200, "text/plain", "", {}}, p, "");
    }
    if (p.source == Source::kSlack) return Finish(SlackAcknowledgement(InboundMessage{}, out), p, ConversationOf(out));
    if (p.source == Source::kWeCom) {
      InboundMessage to;
      to.channel_user = p.reply_to;
      return Finish(wecom_->Reply(to, out), p, ConversationOf(out));
    }
    if (out.status.code() == Status::Code::kNotFound)
      return Finish(JsonError(404, "unknown_session", "no conversation has this session"), p, "");
    if (out.status.code() == Status::Code::kInternal)  // logged where it was caught, with its text
      return Finish(JsonError(500, "internal_error", "the message could not be handled"), p, "");
    if (!out.status.ok()) {
      Log(LogLevel::kError, {{"event", "turn_failed"}, {"error", out.status.message()}});
      return Finish(JsonError(503, "unavailable", "the message could not be stored; please send it again"), p, "");
    }
    HttpResponse r;
    r.body = out.response_text.empty() ? JsonText(out.response) : std::move(out.response_text);
    return Finish(std::move(r), p, ConversationOf(out));
  }

  static std::string ConversationOf(const TurnOutcome& out) { return out.status.ok() ? out.conversation_id : ""; }

  // The headers every route carries (the widget's also CORS), the request's log line and count.
  static HttpResponse Finish(HttpResponse r, const Pending& p, const std::string& conversation_id) {
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    if (p.source == Source::kWeb) r.headers.emplace_back("Access-Control-Allow-Origin", "*");
    ProcessMetrics().CountRequest(r.status);
    if (LogEnabled(LogLevel::kInfo)) {
      static constexpr const char* kRoutes[] = {"/api/chat", "/slack/events", "/wecom/callback"};
      LogLine line(LogLevel::kInfo);
      line.Add("event", "http").Add("method", "POST").Add("route", kRoutes[static_cast<int>(p.source)])
          .Add("status", r.status).Add("latency_ms", (MicrosNow() - p.started) / 1000.0);
      if (!conversation_id.empty()) line.Add("conversation_id", conversation_id);
    }
    return r;
  }

  ConversationService* service_;
  HttpLimits* limits_;
  const SlackSettings* slack_;   // null: Slack is off (its requests never reach this route)
  const WeComCallback* wecom_;   // null: WeCom is off
  // Loop thread only: the batch being filled and the requests waiting for a busy conversation.
  std::unique_ptr<Batch> filling_;
  std::deque<Waiting> waiting_;
  // Shared with the committer, under mu_.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Batch>> queued_;
  std::vector<std::unique_ptr<Batch>> spare_;
  std::vector<std::pair<uint64_t, HttpResponse>> finished_;
  bool stopping_ = false;
  std::atomic<bool> committed_{false};  // answers are waiting in finished_ (set by the committer)
  std::function<void()> wake_;
  std::thread committer_;  // last: starts once everything it uses exists
};

}  // namespace

HttpServer::HttpServer(const Config& config, ConversationService* service, KnowledgeHolder* knowledge,
                       StaffAuth* staff_auth)
    : config_(config), service_(service), knowledge_(knowledge), staff_auth_(staff_auth),
      server_(std::make_unique<RoutingServer>()), limits_(std::make_unique<HttpLimits>(config)) {
  uploads_dir_ = config_.uploads_dir.empty()
                     ? (std::filesystem::path(config_.db_path).parent_path() / "uploads").string()
                     : config_.uploads_dir;
  // Uploads may be larger than any JSON body; the loop holds each route to its own limit before the
  // body is read (body_limit below).
  server_->set_payload_max_length(std::max(config_.max_body_bytes, config_.max_upload_bytes));
  server_->set_keep_alive_timeout(kKeepAliveSeconds);
  server_->set_keep_alive_max_count(100000);
  if (config_.wecom.enabled()) wecom_ = WeComCallback::Create(config_.wecom, SystemRandom(), &channel_error_);
  Routes();

  HttpLoopOptions options;
  options.host = config_.host;
  options.port = config_.port;
  options.loop_threads = config_.http_loops;
  options.worker_threads = config_.http_threads;
  options.keep_alive_timeout_seconds = kKeepAliveSeconds;
  options.read_timeout_seconds = 10;
  const size_t json_limit = config_.max_body_bytes, upload_limit = config_.max_upload_bytes;
  // A chat message's longest JSON form: every character a 12-byte escaped surrogate pair, plus the
  // other members. A longer body cannot be a message within max_message_chars: refused before it is
  // read or parsed (a flood of them costs the loop nearly nothing).
  const size_t chat_limit = std::min(json_limit, 12 * config_.max_message_chars + 4096);
  options.body_limit = [json_limit, upload_limit, chat_limit](std::string_view path) {
    return path == "/api/chat/upload" ? upload_limit : path == "/api/chat" ? chat_limit : json_limit;
  };
  options.largest_body = std::max(json_limit, upload_limit);
  options.refusal_delay_ms = [limits = limits_.get()](std::string_view peer, const HttpRequestView& request) {
    return limits->RefusalDelay(ClientAddress(peer, request.Header("X-Forwarded-For"), limits->trusted_proxy));
  };
  const bool slack = config_.slack.enabled(), wecom = wecom_ != nullptr;
  options.batched = [slack, wecom](std::string_view method, std::string_view path) {
    return method == "POST" && (path == "/api/chat" || (slack && path == "/slack/events") || (wecom && path == "/wecom/callback"));
  };
  options.make_batch_route = [this, slack](std::function<void()> wake) {
    return std::make_unique<TurnRoute>(service_, limits_.get(), slack ? &config_.slack : nullptr, wecom_.get(), std::move(wake));
  };
  options.handler = [this](std::string raw, const std::string& ip, int port, std::string* response, bool* close) {
    MemoryStream stream(std::move(raw), ip, port);
    bool closed = false;
    server_->process_request(stream, false, closed, nullptr);
    *response = stream.TakeOutput();
    // A route may ask to close (the history poll does), as the client may.
    const std::string_view head = std::string_view(*response).substr(0, response->find("\r\n\r\n"));
    *close = closed || head.find("\r\nConnection: close") != std::string_view::npos;
  };
  loop_ = std::make_unique<HttpLoop>(std::move(options));
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
  // A route that throws: logged (the route and the exception's type and text, never the request's
  // body or query), answered with a plain 500. cpp-httplib's own answer put e.what() in a response
  // header (EXCEPTION_WHAT).
  s.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    Log(LogLevel::kError, {{"event", "route_exception"}, {"route", req.path}, {"error", Utf8Prefix(what, 300)}});
    res.headers.clear();
    res.set_header("X-Content-Type-Options", "nosniff");
    SendError(res, 500, "internal_error", "the request could not be handled");
  });
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413) SendError(res, 413, "body_too_large", "the request body is larger than allowed");
    else if (res.status == 404) SendError(res, 404, "not_found", "no such route");
    else SendError(res, res.status, "http_error", "the request could not be handled");
  });
  // A route that throws fails that request alone: a 500 without the exception's text (cpp-httplib would
  // put it in a header), the text in the log.
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

  s.Get("/api/chat/history", [this](const httplib::Request& req, httplib::Response& res) {
    std::string session = req.get_param_value("session");
    if (session.empty()) return SendError(res, 400, "bad_session", "the \"session\" parameter is required");
    // One page: the messages after seq `after` (oldest first; "has_more" says a newer page waits), or
    // with `before` the newest ones before that seq ("older_before" names the page before it).
    int64_t after = 0, before = 0, limit = config_.history_page_messages;
    if (!PageParam(req, "after", 0, INT64_MAX, &after)) return SendError(res, 400, "bad_after", "\"after\" must be a whole number ≥ 0");
    if (!PageParam(req, "before", 1, INT64_MAX, &before) || !PageParam(req, "limit", 1, 1000, &limit))
      return SendError(res, 400, "bad_page", "\"before\" must be a seq ≥ 1 and \"limit\" 1–1000");
    ConversationRecord conv;
    Status st = service_->ResolveSession(session, &conv);
    if (st.code() == Status::Code::kNotFound) return SendError(res, 404, "unknown_session", "no conversation has this session");
    if (!st.ok()) return SendError(res, 503, "unavailable", "storage is unavailable");
    std::vector<MessageRecord> messages;
    st = before > 0 ? service_->store()->HistoryBefore(conv.id, before, static_cast<int>(limit), &messages)
                    : service_->store()->History(conv.id, after, static_cast<int>(limit), &messages);
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
    const int64_t newest = messages.empty() ? after : messages.back().seq;
    SendJson(res, {{"conversation_id", conv.id}, {"messages", list}, {"state", conv.state},
                   {"pending_slot", conv.pending_slot.empty() ? json(nullptr) : json(conv.pending_slot)},
                   {"has_more", before == 0 && newest < conv.last_seq},
                   {"older_before", !messages.empty() && messages.front().seq > 1 ? json(messages.front().seq) : json(nullptr)}});
  });

  s.Post("/api/chat/upload", [this](const httplib::Request& req, httplib::Response& res) { Upload(req, res); });

  RegisterStaffRoutes(s, {config_, service_, knowledge_, staff_auth_});
  RegisterSlackRoutes(s, config_.slack, service_);
  RegisterWeComRoutes(s, wecom_.get(), service_);
}

namespace {

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
  const std::string client = ClientAddress(req.remote_addr, req.get_header_value("X-Forwarded-For"), limits_->trusted_proxy);
  if (int64_t wait = limits_->uploads.Take(client, SteadyNowMs())) return SendResponse(res, TooMany(wait, "uploads", Limited::kUpload));
  if (!req.is_multipart_form_data()) return SendError(res, 400, "not_multipart", "send multipart/form-data with \"session\" and \"file\"");
  const std::string session = req.has_file("session") ? req.get_file_value("session").content : "";
  if (session.empty()) return SendError(res, 400, "bad_session", "the \"session\" field is required");
  if (!req.has_file("file")) return SendError(res, 400, "missing_file", "the \"file\" field is required");
  const httplib::MultipartFormData file = req.get_file_value("file");
  std::string name = file.filename;
  if (size_t slash = name.find_last_of("/\\"); slash != std::string::npos) name = name.substr(slash + 1);
  if (name.empty() || name.size() > 200 || !IsValidUtf8(name))
    return SendError(res, 400, "bad_file_name", "the file needs a name (UTF-8, at most 200 bytes)");
  name = CleanFileName(name);  // no control or bidi characters in what the console shows
  if (file.content.empty()) return SendError(res, 400, "empty_file", "the file is empty");
  if (file.content.size() > config_.max_upload_bytes) return SendError(res, 413, "body_too_large", "the file is larger than allowed");
  const FileTypeCheck t = CheckFileType(name, file.content);
  if (!t.error.empty()) return SendError(res, 415, t.error, t.message);
  std::string id;
  Status st = service_->ResolveSessionId(session, &id);
  if (st.code() == Status::Code::kNotFound) return SendError(res, 404, "unknown_session", "no conversation has this session");
  if (!st.ok()) return SendError(res, 503, "unavailable", "storage is unavailable");
  // Before anything is written: a refused file leaves nothing in the uploads folder.
  st = service_->UploadAllowed(id, static_cast<int64_t>(file.content.size()));
  if (st.code() == Status::Code::kLimit) {
    ProcessMetrics().CountLimited(Limited::kUploadQuota);
    return SendError(res, 429, "upload_limit", st.message());
  }
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
  if (out.status.code() == Status::Code::kLimit) return SendResponse(res, ConversationFull(out.status));
  if (out.status.code() == Status::Code::kNotFound) return SendError(res, 404, "unknown_session", "no conversation has this session");
  if (!out.status.ok()) return SendError(res, 503, "unavailable", "the file could not be recorded; please send it again");
  t_conversation_id = id;
  SendJson(res, out.response);
}

int HttpServer::Bind() {
  std::string error;
  int port = loop_->Bind(&error);
  if (port < 0) Log(LogLevel::kError, {{"event", "listen_failed"}, {"error", error}});
  return port;
}

bool HttpServer::Serve() { return loop_->Serve(); }

void HttpServer::Stop() { loop_->Stop(); }

}  // namespace rd
