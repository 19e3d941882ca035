// Signed-webhook throughput beside the plain web chat API, in one run on one machine. Starts refundbot
// (release build, fresh SQLite file) with Slack and WeCom on and pointed at a fake Slack in a process of
// its own (it answers chat.postMessage, so the outbox really delivers; as cheaply as it can, since the
// real Slack does not share this machine's cores), then drives each entry point with
// the same claim walk, every turn a full durable turn:
//   chat   POST /api/chat (JSON)
//   slack  POST /slack/events, HMAC-SHA256 signed; the replies go out through the outbox
//   wecom  POST /wecom/callback, AES-encrypted XML, SHA1-signed; answered with an encrypted passive reply
// Prints turns/s, p50/p99 and refundbot's CPU time per turn for each mode, and each channel's share of
// the chat figure (target >= 70 %).
// This machine's throughput drifts by a fifth from one run to the next, so the modes take turns for a
// few rounds and the medians are compared (each round's figures are printed too).
//
//   webhook_bench [seconds per mode and round=5] [connections=32] [refundbot=build-release/refundbot] [rounds=3]
//                 [modes=chat,chat-id,slack,wecom]   (one mode alone, e.g. to profile it)
#include <httplib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bot/channels/slack.h"
#include "bot/http_loop.h"
#include "bot/channels/wecom_crypto.h"
#include "storage/json_writer.h"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

const char kSecret[] = "bench-signing-secret";
const char kToken[] = "QDG6eK";
const char kKey[] = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const char kCorp[] = "wx5823bf96d3bd56c7";

// The walk of one claim; channels that know the customer skip the contact question.
const std::vector<std::string> kWebWalk = {"hi, I paid on 2026-11-01", "it was activated on 2026-11-05",
                                           "latency 400ms every evening", "I have the contract", "order 123456", "yes"};
const std::vector<std::string> kChannelWalk = {"hi, I paid on 2026-11-01", "it was activated on 2026-11-05",
                                               "latency 400ms every evening", "I have the contract", "yes"};

struct Figures {
  double turns_per_s = 0, p50_ms = 0, p99_ms = 0;
  long errors = 0;
  double bot_cpu_us = 0;   // refundbot's CPU time per turn (user + system)
  double fake_cpu_us = 0;  // the fake Slack's, per turn
  double outbox_cpu_us = 0;  // of bot_cpu_us: its outbox threads' (delivering the Slack replies)
  double load_cpu_us = 0;    // this process's (the load generator's), per turn
};

// CPU time (utime + stime) in a /proc stat file, in microseconds.
double StatCpuMicros(const std::string& stat_path) {
  std::ifstream in(stat_path);
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  const size_t close = stat.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::atoll(f.c_str());
    if (i == 15) stime = std::atoll(f.c_str());
  }
  return 1e6 * static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU time a process has used so far.
double CpuMicros(pid_t pid) { return StatCpuMicros("/proc/" + std::to_string(pid) + "/stat"); }

// CPU time of the process's threads named `name` (the bot names its threads: rd-outbox, rd-commit, ...).
double ThreadCpuMicros(pid_t pid, const std::string& name) {
  double total = 0;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string n;
    std::getline(comm, n);
    if (n == name) total += StatCpuMicros(task.path() / "stat");
  }
  return total;
}

// WeCom numbers messages with one 64-bit id that grows with time across the whole corp (not a range per
// user): the bench's MsgIds come from one counter too, shared by its connections and rounds.
std::atomic<long long> next_msg_id{7300000000000000000LL};

// `round` makes every round's users, event ids and message ids new: a repeat would be answered as a
// resend (deduplicated), not run as a turn.
Figures Run(const std::string& mode, int round, int port, int seconds, int connections) {
  std::atomic<bool> stop{false};
  std::atomic<long> errors{0};
  std::vector<std::vector<double>> latencies(static_cast<size_t>(connections));
  std::vector<std::thread> threads;
  std::string error;
  const rd::WeComCrypto wecom = *rd::WeComCrypto::Create(kToken, kKey, kCorp, &error);
  for (int t = 0; t < connections; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client c("127.0.0.1", port);
      c.set_keep_alive(true);
      c.set_tcp_nodelay(true);
      c.set_read_timeout(30, 0);
      std::string session;
      long conversation = 0, step = 0, msg = 0;
      while (!stop) {
        const auto& walk = mode.rfind("chat", 0) == 0 ? kWebWalk : kChannelWalk;
        if (step == static_cast<long>(walk.size())) { step = 0; ++conversation; session.clear(); }
        const std::string text = walk[static_cast<size_t>(step)];
        const std::string who = mode + "-r" + std::to_string(round) + "-" + std::to_string(t) + "-" + std::to_string(conversation);
        auto started = Clock::now();
        auto send = [&]() -> httplib::Result {
          // Bodies are written straight to text (JsonWriter) in every mode: the load generator shares the
          // cores with the bot, and a tree per request was most of its CPU.
          rd::JsonWriter w;
          if (mode == "chat" || mode == "chat-id") {
            w.BeginObject().Member("text", text).Member("lang", "en");
            if (!session.empty()) w.Member("session", session);
            // What the widget sends: a client_message_id, so a resend is answered from the store.
            if (mode == "chat-id") w.Member("client_message_id", who + "-message-" + std::to_string(msg));
            return c.Post("/api/chat", w.EndObject().Take(), "application/json");
          }
          if (mode == "slack") {
            const std::string ts = std::to_string(std::time(nullptr));
            const std::string body =
                w.BeginObject().Member("type", "event_callback").Member("event_id", "Ev" + who + "-" + std::to_string(msg))
                    .Key("event").BeginObject().Member("type", "message").Member("channel", "D" + who)
                    .Member("channel_type", "im").Member("user", "U" + who).Member("text", text)
                    .Member("ts", std::to_string(1700000000 + msg) + "." + std::to_string(t)).EndObject()
                    .EndObject().Take();
            return c.Post("/slack/events", {{"X-Slack-Request-Timestamp", ts}, {"X-Slack-Signature", rd::SlackSignature(kSecret, ts, body)}},
                          body, "application/json");
          }
          const std::string inner = "<xml><ToUserName><![CDATA[" + std::string(kCorp) + "]]></ToUserName><FromUserName><![CDATA[" +
                                    who + "]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
                                    "<Content><![CDATA[" + text + "]]></Content><MsgId>" +
                                    std::to_string(next_msg_id++) + "</MsgId></xml>";
          const std::string enc = wecom.Encrypt(inner, "0123456789abcdef");
          const std::string nonce = std::to_string(msg);
          const std::string now = std::to_string(std::time(nullptr));  // callbacks older than 5 minutes are refused
          return c.Post(("/wecom/callback?msg_signature=" + wecom.Signature(now, nonce, enc) +
                         "&timestamp=" + now + "&nonce=" + nonce).c_str(),
                        "<xml><Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>", "application/xml");
        };
        httplib::Result r = send();
        if (mode.rfind("chat", 0) == 0 && r && r->status == 200 && session.empty()) session = json::parse(r->body)["session"];
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
        if (!r || r->status != 200) { ++errors; continue; }
        latencies[static_cast<size_t>(t)].push_back(ms);
        ++step;
        ++msg;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& th : threads) th.join();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  Figures f;
  f.errors = errors;
  if (all.empty()) return f;
  f.turns_per_s = static_cast<double>(all.size()) / seconds;
  f.p50_ms = all[all.size() / 2];
  f.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 5;
  const int connections = argc > 2 ? std::atoi(argv[2]) : 32;
  const std::string bot = argc > 3 ? argv[3] : "build-release/refundbot";
  const int rounds = argc > 4 ? std::max(1, std::atoi(argv[4])) : 3;
  signal(SIGPIPE, SIG_IGN);

  // The fake Slack, in a process of its own so that its CPU time is not the bot's nor the load's: it
  // accepts every chat.postMessage and tells how many it took at GET /count. The real Slack runs on
  // other machines, so the fake should cost this one as little as it can: it answers on the bot's own
  // epoll loop (bot/http_loop.h), on the loop thread, without a thread switch per post. Forked before
  // this process starts any thread.
  int fake_out[2];
  if (pipe(fake_out) != 0) return 1;
  const pid_t fake_pid = fork();
  if (fake_pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlives the bench, however it ends
    close(fake_out[0]);
    static std::atomic<long> posted{0};
    struct PostMessage : rd::BatchRoute {
      Taken Add(const rd::HttpRequestView&, uint64_t, rd::HttpResponse* response) override {
        ++posted;
        response->body = R"({"ok": true, "ts": "1.1"})";
        return Taken::kAnswered;
      }
      void Flush(std::vector<std::pair<uint64_t, rd::HttpResponse>>*) override {}
      bool HasWaiting() const override { return false; }
    };
    rd::HttpLoopOptions o;
    o.port = 0;
    o.loop_threads = 1;
    o.worker_threads = 1;
    o.body_limit = [](std::string_view) -> size_t { return 64 * 1024; };
    o.batched = [](std::string_view method, std::string_view path) { return method == "POST" && path == "/api/chat.postMessage"; };
    o.make_batch_route = [](std::function<void()>) { return std::make_unique<PostMessage>(); };
    o.handler = [](std::string, const std::string&, int, std::string* response, bool* close) {
      rd::HttpResponse r;
      r.content_type = "text/plain";
      r.body = std::to_string(posted.load());
      *response = rd::HttpLoop::Serialize(r, false);
      *close = false;
    };
    rd::HttpLoop fake(o);
    std::string error;
    const int fake_port = fake.Bind(&error);
    const std::string port_text = std::to_string(fake_port) + "\n";
    if (fake_port <= 0 || write(fake_out[1], port_text.data(), port_text.size()) < 0) _exit(1);
    close(fake_out[1]);
    fake.Serve();
    _exit(0);
  }
  close(fake_out[1]);
  char fake_buf[32] = {};
  if (read(fake_out[0], fake_buf, sizeof fake_buf - 1) <= 0) { std::fprintf(stderr, "the fake Slack did not start\n"); return 1; }
  const int fake_port = std::atoi(fake_buf);
  httplib::Client fake_client("127.0.0.1", fake_port);
  auto posted = [&]() -> long {
    auto r = fake_client.Get("/count");
    return r && r->status == 200 ? std::atol(r->body.c_str()) : 0;
  };

  const std::string dir = std::filesystem::temp_directory_path() / ("rd-webhook-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  int out[2];
  if (pipe(out) != 0) return 1;
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    setenv("SLACK_SIGNING_SECRET", kSecret, 1);
    setenv("SLACK_BOT_TOKEN", "xoxb-bench", 1);
    setenv("SLACK_API_BASE", ("http://127.0.0.1:" + std::to_string(fake_port) + "/api").c_str(), 1);
    setenv("WECOM_CORP_ID", kCorp, 1);
    setenv("WECOM_TOKEN", kToken, 1);
    setenv("WECOM_AES_KEY", kKey, 1);
    execl(bot.c_str(), bot.c_str(), "serve", "--port", "0", "--db", (dir + "/bench.sqlite3").c_str(), "--knowledge", "knowledge",
          "--log-level", "warn", "--config", "bench/no_rate_limits.json", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  char buf[256];
  ssize_t n = read(out[0], buf, sizeof buf - 1);
  if (n <= 0) { std::fprintf(stderr, "refundbot did not start\n"); return 1; }
  buf[n] = 0;
  const char* colon = std::strrchr(buf, ':');
  const int port = colon ? std::atoi(colon + 1) : 0;

  std::printf("%d rounds of %d s per mode, %d connections, every turn durable (SQLite)\n", rounds, seconds, connections);
  std::vector<std::string> modes;
  {
    std::stringstream list(argc > 5 ? argv[5] : "chat,chat-id,slack,wecom");
    for (std::string m; std::getline(list, m, ',');) {
      if (m != "chat" && m != "chat-id" && m != "slack" && m != "wecom") {
        std::fprintf(stderr, "unknown mode %s (chat, chat-id, slack, wecom)\n", m.c_str());
        return 2;
      }
      modes.push_back(m);
    }
  }
  std::map<std::string, std::vector<Figures>> runs;
  long slack_posted = 0, slack_turns = 0;
  double slack_drain_s = 0;
  for (int round = 1; round <= rounds; ++round) {
    std::printf("round %d:", round);
    for (const std::string& mode : modes) {
      const long posted_before = posted();
      const double bot_cpu_before = CpuMicros(pid), fake_cpu_before = CpuMicros(fake_pid),
                   outbox_cpu_before = ThreadCpuMicros(pid, "rd-outbox"), load_cpu_before = CpuMicros(getpid());
      Figures f = Run(mode, round, port, seconds, connections);
      std::printf("  %s %.0f", mode.c_str(), f.turns_per_s);
      std::fflush(stdout);
      const long turns = static_cast<long>(f.turns_per_s * seconds);
      if (mode == "slack") {
        // Every Slack turn queued one reply; the next mode starts once the outbox has delivered them (and
        // the CPU figures include delivering them).
        auto start = Clock::now();
        while (posted() - posted_before < turns && Clock::now() - start < std::chrono::seconds(120)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        slack_turns += turns;
        slack_posted += posted() - posted_before;
        slack_drain_s = std::max(slack_drain_s, std::chrono::duration<double>(Clock::now() - start).count());
      }
      if (turns > 0) {
        f.bot_cpu_us = (CpuMicros(pid) - bot_cpu_before) / static_cast<double>(turns);
        f.fake_cpu_us = (CpuMicros(fake_pid) - fake_cpu_before) / static_cast<double>(turns);
        f.outbox_cpu_us = (ThreadCpuMicros(pid, "rd-outbox") - outbox_cpu_before) / static_cast<double>(turns);
        f.load_cpu_us = (CpuMicros(getpid()) - load_cpu_before) / static_cast<double>(turns);
      }
      runs[mode].push_back(f);
    }
    std::printf("\n");
  }
  // The median round's figures; errors summed over every round (a single one counts).
  auto median = [&](const std::string& mode) {
    std::vector<Figures> v = runs[mode];
    if (v.empty()) return Figures{};
    std::sort(v.begin(), v.end(), [](const Figures& a, const Figures& b) { return a.turns_per_s < b.turns_per_s; });
    Figures m = v[v.size() / 2];
    m.errors = 0;
    for (const Figures& f : v) m.errors += f.errors;
    return m;
  };
  const Figures chat = median("chat");
  const Figures chat_id = median("chat-id");
  std::printf("medians (and refundbot's CPU time per turn; it drifts with the machine too, so compare modes within a run):\n");
  std::printf("chat   POST /api/chat            %8.0f turns/s  p50 %6.2f ms  p99 %6.2f ms  errors %ld  bot %4.0f us/turn\n",
              chat.turns_per_s, chat.p50_ms, chat.p99_ms, chat.errors, chat.bot_cpu_us);
  std::printf("chat   … with client_message_id  %5.0f turns/s  p50 %6.2f ms  p99 %6.2f ms  errors %ld  bot %4.0f us/turn"
              "  (the widget's form)\n",
              chat_id.turns_per_s, chat_id.p50_ms, chat_id.p99_ms, chat_id.errors, chat_id.bot_cpu_us);
  for (const char* mode : {"slack", "wecom"}) {
    const Figures f = median(mode);
    std::printf("%-6s %-22s %8.0f turns/s  p50 %6.2f ms  p99 %6.2f ms  errors %ld  bot %4.0f us/turn"
                "  = %3.0f %% of chat, %3.0f %% of chat with id\n",
                mode, std::string(mode) == "slack" ? "POST /slack/events" : "POST /wecom/callback", f.turns_per_s, f.p50_ms,
                f.p99_ms, f.errors, f.bot_cpu_us, chat.turns_per_s > 0 ? 100 * f.turns_per_s / chat.turns_per_s : 0,
                chat_id.turns_per_s > 0 ? 100 * f.turns_per_s / chat_id.turns_per_s : 0);
  }
  const Figures slack = median("slack");
  std::printf("the load generator (this process, on the same cores) per turn: chat %.0f us, with id %.0f, slack %.0f, wecom %.0f\n",
              chat.load_cpu_us, chat_id.load_cpu_us, slack.load_cpu_us, median("wecom").load_cpu_us);
  std::printf("of the bot's CPU per Slack turn, its outbox threads (delivering the reply: claim, chat.postMessage, "
              "record) %.0f us, the rest (signature, event, turn) %.0f us\n",
              slack.outbox_cpu_us, slack.bot_cpu_us - slack.outbox_cpu_us);
  std::printf("the fake Slack (its own process, on the same cores): %.0f us of CPU per Slack turn\n", slack.fake_cpu_us);
  std::printf("slack outbox: %ld of %ld replies delivered, the last %.1f s after its round\n", slack_posted, slack_turns,
              slack_drain_s);
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  kill(fake_pid, SIGTERM);
  waitpid(fake_pid, nullptr, 0);
  std::filesystem::remove_all(dir);
  return 0;
}
