// refundbot: the Refund Desk bot and its tools. See `refundbot --help`.
#include <signal.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <algorithm>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "bot/cli.h"
#include "bot/config.h"
#include "bot/conversation_service.h"
#include "bot/http_server.h"
#include "bot/log.h"
#include "bot/outbox.h"
#include "bot/staff_auth.h"
#include "dialogs/dates.h"
#include "dialogs/text.h"
#include "storage/sqlite_store.h"

namespace {

const char kHelp[] = R"(refundbot — the Refund Desk refund assistant

Usage:
  refundbot serve [--config FILE] [--host H] [--port N] [--db FILE] [--knowledge DIR]
                  [--log-level debug|info|warn|error] [--now TIMESTAMP]
      Runs the bot: web chat API (POST /api/chat, GET /api/chat/history), GET /healthz, a demo page
      on GET /, the widget (/widget.js), the staff console (/console) and API (/api/staff/...),
      GET /metrics, and the Slack (/slack/events, /slack/interactivity) and WeCom (/wecom/callback)
      channels when their secrets are set. --port 0 picks a free port. SIGHUP or the reload route
      reloads the knowledge files (an invalid set is refused and the old one kept); SIGTERM/SIGINT stop.
  refundbot chat [--lang zh|en] [--db FILE] [--knowledge DIR] [--now TIMESTAMP]
      The same dialog in a terminal; a script may pipe lines on stdin. A number picks a quick reply.
  refundbot tickets list [--status S] [--json] [--db FILE]
  refundbot tickets show ID [--json] [--db FILE]
  refundbot tickets export [--json] [--db FILE]
      Reads the filed tickets.
  refundbot staff add NAME --password-stdin [--db FILE]
      Creates a staff account; the password (8 characters or more) is read from stdin.
  refundbot staff token NAME [--db FILE]
      Prints a new API token for NAME, accepted as "Authorization: Bearer TOKEN" on /api/staff/...,
      valid for staff_token_days (default 90; its end is printed on stderr).
  refundbot staff disable NAME [--db FILE]
      Disables the account: its password, tokens and sessions stop working (all are revoked).
  refundbot staff enable NAME [--db FILE]
      Enables it again (log in or issue a new token: the old ones stay revoked).
  refundbot staff revoke NAME [--db FILE]
      Revokes every API token and login session of NAME; the account stays.
  refundbot check-knowledge [FILE|DIR ...]
      Validates the knowledge set a file belongs to (messages, vocabulary, policy, FAQ, flow), with file,
      line and field for every problem; exits 1 when there is any.
  refundbot parse-date [--knowledge DIR]
      JSON lines in: {"text", "ref": "YYYY-MM-DD", "lang"}; out: {"date": "YYYY-MM-DD"|null, "dates": [...]}.
  refundbot ask [--knowledge DIR]
      JSON lines in: {"text", "lang"}; out: {"faq_id": id|null, "score": 0..1} — the FAQ entry the bot
      would answer with (null below its confidence threshold).
  refundbot eval claims|dates|faq FILE.jsonl [--json] [--floor PCT] [--max-unfiled N] [--knowledge DIR]
      Measures the understanding on data through the real engine and knowledge: claims (conversations
      walked to a ticket, scored per field), dates ({"text","ref","lang","date"}), faq ({"text","lang",
      "topic"}). Prints per-field and per-language accuracy and every miss (--json for machines); exits 1
      when a language is below PCT % or more than N conversations never reach a ticket.

Options are read in this order, later ones winning: built-in defaults, the config file (see
deploy/refundbot.example.json for every option), environment variables (REFUNDBOT_HOST, REFUNDBOT_PORT,
REFUNDBOT_DB, REFUNDBOT_KNOWLEDGE_DIR, REFUNDBOT_LOG_LEVEL, REFUNDBOT_UTC_OFFSET_MINUTES,
REFUNDBOT_FIXED_NOW, REFUNDBOT_PUBLIC_URL, REFUNDBOT_TLS_CA_FILE; channel secrets SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN,
SLACK_API_BASE, SLACK_BOT_USER_ID, SLACK_STAFF_CHANNEL, WECOM_CORP_ID, WECOM_TOKEN, WECOM_AES_KEY,
WECOM_AGENT_ID, WECOM_SECRET, WECOM_API_BASE, WECOM_ROBOT_WEBHOOK — see deploy/secrets.env.example),
then flags. The security limits (max_message_chars, max_conversation_messages, max_conversation_bytes,
history_page_messages, max_uploads_per_conversation, max_upload_bytes_per_day, rate_limits.*,
refusal_delay_ms, trusted_proxy) are config-file options; README.md "Security limits" lists their defaults.
--now (fixed_now) stops the clock at a UTC timestamp such as
2026-11-27T10:00:00Z — for tests and demos only.
)";

struct Args {
  std::vector<std::string> rest;
  std::string config_file, host, port, db, knowledge, log_level, now, lang;
};

bool ParseArgs(int argc, char** argv, int start, Args* a, std::string* error) {
  for (int i = start; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) { *error = arg + " needs a value"; return false; }
      *out = argv[++i];
      return true;
    };
    bool ok = true;
    if (arg == "--config") ok = value(&a->config_file);
    else if (arg == "--host") ok = value(&a->host);
    else if (arg == "--port") ok = value(&a->port);
    else if (arg == "--db") ok = value(&a->db);
    else if (arg == "--knowledge") ok = value(&a->knowledge);
    else if (arg == "--log-level") ok = value(&a->log_level);
    else if (arg == "--now") ok = value(&a->now);
    else if (arg == "--lang") ok = value(&a->lang);
    else a->rest.push_back(arg);
    if (!ok) return false;
  }
  return true;
}

bool BuildConfig(const Args& a, rd::Config* c, std::string* error) {
  if (!a.config_file.empty() && !rd::LoadConfigFile(a.config_file, c, error)) return false;
  if (!rd::ApplyEnvironment(c, error)) return false;
  if (!a.host.empty()) c->host = a.host;
  if (!a.port.empty()) {
    char* end = nullptr;
    long p = std::strtol(a.port.c_str(), &end, 10);
    if (*end != '\0') { *error = "--port must be a number"; return false; }
    c->port = static_cast<int>(p);
  }
  if (!a.db.empty()) c->db_path = a.db;
  if (!a.knowledge.empty()) c->knowledge_dir = a.knowledge;
  if (!a.log_level.empty()) c->log_level = a.log_level;
  if (!a.now.empty()) c->fixed_now = a.now;
  int64_t ignored;
  if (!c->fixed_now.empty() && !rd::ParseTimestamp(c->fixed_now, &ignored)) {
    *error = "--now / fixed_now must look like 2026-11-27T10:00:00Z";
    return false;
  }
  if (!a.lang.empty() && a.lang != "zh" && a.lang != "en") { *error = "--lang must be zh or en"; return false; }
  return rd::ValidateConfig(*c, error);
}

int Serve(const rd::Config& config) {
  rd::LogLevel level;
  if (!rd::ParseLogLevel(config.log_level, &level)) { std::cerr << "unknown log level " << config.log_level << "\n"; return 2; }
  rd::SetLogLevel(level);
  // Signals go to one thread that waits for them; block them before any other thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::vector<std::string> errors;
  auto knowledge = rd::LoadKnowledge(config.knowledge_dir, &errors);
  if (!knowledge) {
    for (const auto& e : errors) rd::Log(rd::LogLevel::kError, {{"event", "knowledge_invalid"}, {"error", e}});
    std::cerr << "refusing to start: the knowledge files in " << config.knowledge_dir << " are invalid\n";
    return 1;
  }
  std::string error;
  rd::SqliteOptions opt;
  opt.synchronous = config.sqlite_synchronous;
  auto store = rd::OpenSqliteStore(config.db_path, opt, &error);
  if (!store) { std::cerr << error << "\n"; return 1; }

  std::unique_ptr<rd::Clock> fixed;
  if (int64_t t; !config.fixed_now.empty() && rd::ParseTimestamp(config.fixed_now, &t)) fixed = std::make_unique<rd::FixedClock>(t);
  rd::KnowledgeHolder holder(knowledge, config.knowledge_dir);
  rd::ServiceOptions so;
  so.utc_offset_minutes = config.utc_offset_minutes;
  so.idle_timeout_seconds = int64_t{config.idle_timeout_days} * 86400;
  rd::ParseLang(config.default_lang, &so.default_lang);
  so.staff_lang = so.default_lang;
  so.public_base_url = config.public_base_url;
  if (config.slack.enabled()) so.slack_staff_channel = config.slack.staff_channel;
  so.wecom_robot_webhook = config.wecom.robot_webhook;
  so.max_message_chars = config.max_message_chars;
  so.max_conversation_messages = config.max_conversation_messages;
  so.max_conversation_bytes = static_cast<int64_t>(config.max_conversation_bytes);
  so.history_page_messages = config.history_page_messages;
  so.max_uploads_per_conversation = config.max_uploads_per_conversation;
  so.max_upload_bytes_per_day = static_cast<int64_t>(config.max_upload_bytes_per_day);
  rd::ConversationService service(store.get(), &holder, fixed ? fixed.get() : rd::SystemClock(), rd::SystemRandom(), so);
  rd::StaffAuth staff_auth(store.get(), fixed ? fixed.get() : rd::SystemClock(), rd::SystemRandom(), config.staff_token_days);
  if (int64_t purged = 0; staff_auth.PurgeExpired(&purged).ok() && purged > 0) {
    rd::Log(rd::LogLevel::kInfo, {{"event", "staff_credentials_purged"}, {"count", purged}});
  }
  rd::HttpServer server(config, &service, &holder, &staff_auth);
  if (!server.channel_error().empty()) { std::cerr << "refusing to start: " << server.channel_error() << "\n"; return 1; }
  rd::OutboxOptions outbox_options;
  outbox_options.workers = config.outbox_workers;
  outbox_options.uploads_dir = server.uploads_dir();
  outbox_options.max_download_bytes = config.max_upload_bytes;
  outbox_options.tls_ca_file = config.tls_ca_file;
  outbox_options.retention_seconds = int64_t{config.outbox_retention_days} * 86400;
  rd::OutboxWorker outbox(store.get(), config.slack, config.wecom, outbox_options,
                          [&service](const std::string& id, const std::string& name, const rd::AttachmentRecord& file) {
                            return service.RecordDownloadedFile(id, name, file);
                          });
  outbox.Start();
  int port = server.Bind();
  if (port < 0) {
    std::cerr << "cannot listen on " << config.host << ":" << config.port
              << " (is another refundbot already running there?)\n";
    return 1;
  }

  std::thread signal_thread([&] {
    while (true) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (sig == SIGHUP) {
        std::vector<std::string> ignored;
        holder.Reload(&ignored);  // logs what it did
        continue;
      }
      rd::Log(rd::LogLevel::kInfo, {{"event", "stopping"}, {"signal", sig}});
      server.Stop();
      return;
    }
  });
  rd::Log(rd::LogLevel::kInfo, {{"event", "listening"}, {"host", config.host}, {"port", port}, {"db", config.db_path},
                                {"schema_version", rd::SqliteSchemaVersion()}, {"slack", config.slack.enabled()},
                                {"wecom", config.wecom.enabled()}});
  std::cout << "listening on http://" << config.host << ":" << port << std::endl;
  bool ok = server.Serve();
  if (!ok) {
    pthread_kill(signal_thread.native_handle(), SIGTERM);
  }
  signal_thread.join();
  outbox.Stop();
  return ok ? 0 : 1;
}

// `refundbot ask`: JSON lines {"text", "lang"} in, {"faq_id": id|null, "score": confidence} out.
int Ask(const rd::Config& config) {
  std::vector<std::string> errors;
  auto knowledge = rd::LoadKnowledge(config.knowledge_dir, &errors);
  if (!knowledge) {
    for (const auto& e : errors) std::cerr << e << "\n";
    return 1;
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    nlohmann::json in = nlohmann::json::parse(line, nullptr, false);
    nlohmann::json out = {{"faq_id", nullptr}, {"score", 0}};
    if (in.is_discarded() || !in.is_object() || !in.contains("text") || !in["text"].is_string() ||
        !rd::IsValidUtf8(in["text"].get<std::string>())) {
      out["error"] = "each line must be a JSON object with a \"text\" string";
    } else {
      auto matches = knowledge->faq.Search(rd::NormalizeForParsing(in["text"].get<std::string>()), 1);
      if (!matches.empty()) {
        out["score"] = std::round(matches[0].confidence * 1000) / 1000;
        if (matches[0].confidence >= rd::FaqIndex::kAnswerThreshold) out["faq_id"] = matches[0].entry->id;
      }
    }
    std::cout << out.dump() << "\n" << std::flush;
  }
  return 0;
}

// `refundbot check-knowledge [FILE|DIR ...]`: a file names the knowledge set it belongs to (its folder,
// or the folder above flows/), because the files refer to each other and are checked together.
int CheckKnowledge(const std::vector<std::string>& rest, const rd::Config& config) {
  std::vector<std::string> dirs;
  for (size_t i = 1; i < rest.size(); ++i) {
    std::filesystem::path p(rest[i]);
    if (!std::filesystem::is_directory(p)) {
      p = p.parent_path();
      if (p.filename() == "flows") p = p.parent_path();
      if (p.empty()) p = ".";
    }
    if (std::find(dirs.begin(), dirs.end(), p.string()) == dirs.end()) dirs.push_back(p.string());
  }
  if (dirs.empty()) dirs.push_back(config.knowledge_dir);
  int code = 0;
  for (const auto& dir : dirs) {
    std::vector<std::string> errors;
    auto k = rd::LoadKnowledge(dir, &errors);
    for (const auto& e : errors) std::cout << e << "\n";
    if (!k) { code = 1; continue; }
    std::cout << dir << ": ok (" << k->messages.all().size() << " messages, " << k->faq.entries().size()
              << " FAQ entries, " << k->flow.slots.size() << " slots)\n";
  }
  return code;
}

int ParseDates(const rd::Config& config) {
  std::vector<std::string> errors;
  auto knowledge = rd::LoadKnowledge(config.knowledge_dir, &errors);
  if (!knowledge) {  // without the date words only numeric dates would be found: refuse, say why
    for (const auto& e : errors) std::cerr << e << "\n";
    return 1;
  }
  const rd::Vocabulary* vocab = &knowledge->vocab;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    nlohmann::json in = nlohmann::json::parse(line, nullptr, false);
    nlohmann::json out;
    if (in.is_discarded() || !in.is_object() || !in.contains("text") || !in["text"].is_string()) {
      out = {{"error", "each line must be a JSON object with a \"text\" string"}, {"date", nullptr}, {"dates", nlohmann::json::array()}};
    } else {
      auto ref = rd::Date::FromIso(in.value("ref", ""));
      if (!ref) ref = rd::DateAt(rd::SystemClock()->NowUnix(), 480);
      std::string text = in["text"].get<std::string>();
      if (!rd::IsValidUtf8(text)) text.clear();
      rd::DateOptions options = vocab ? rd::DateOptionsForLang(*vocab, in.value("lang", "en")) : rd::DateOptions{};
      auto found = rd::FindDates(rd::NormalizeForParsing(text), *ref, options);
      nlohmann::json dates = nlohmann::json::array();
      for (const auto& m : found) dates.push_back(m.date.Iso());
      out = {{"date", found.empty() ? nlohmann::json(nullptr) : dates[0]}, {"dates", dates}};
    }
    std::cout << out.dump() << "\n" << std::flush;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    std::cout << kHelp;
    return argc < 2 ? 2 : 0;
  }
  std::string command = argv[1];
  Args args;
  std::string error;
  rd::Config config;
  if (!ParseArgs(argc, argv, 2, &args, &error) || !BuildConfig(args, &config, &error)) {
    std::cerr << "refundbot " << command << ": " << error << "\n";
    return 2;
  }
  args.rest.insert(args.rest.begin(), command);
  if (command == "serve") return Serve(config);
  if (command == "chat") {
    rd::LogLevel level = rd::LogLevel::kWarn;  // the terminal is for the dialog; turn lines only on request
    if (!args.log_level.empty() && !rd::ParseLogLevel(config.log_level, &level)) {
      std::cerr << "refundbot chat: unknown log level " << config.log_level << "\n";
      return 2;
    }
    rd::SetLogLevel(level);
    return rd::RunTerminalChat(config, args.lang);
  }
  if (command == "tickets") return rd::RunTicketsCommand(config, std::vector<std::string>(args.rest.begin() + 1, args.rest.end()));
  if (command == "staff") return rd::RunStaffCommand(config, std::vector<std::string>(args.rest.begin() + 1, args.rest.end()));
  if (command == "check-knowledge") return CheckKnowledge(args.rest, config);
  if (command == "parse-date") return ParseDates(config);
  if (command == "ask") return Ask(config);
  if (command == "eval") return rd::RunEvalCommand(config, std::vector<std::string>(args.rest.begin() + 1, args.rest.end()));
  std::cerr << "refundbot: unknown command \"" << command << "\" (see refundbot --help)\n";
  return 2;
}
