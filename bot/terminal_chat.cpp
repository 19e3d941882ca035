#include <unistd.h>

#include <cctype>
#include <iostream>
#include <string>

#include "bot/cli.h"
#include "bot/config.h"
#include "bot/conversation_service.h"
#include "storage/sqlite_store.h"

namespace rd {

namespace {

std::unique_ptr<Clock> MakeClock(const Config& config) {
  int64_t fixed = 0;
  if (!config.fixed_now.empty() && ParseTimestamp(config.fixed_now, &fixed)) return std::make_unique<FixedClock>(fixed);
  return nullptr;
}

}  // namespace

int RunTerminalChat(const Config& config, const std::string& lang) {
  std::vector<std::string> errors;
  auto knowledge = LoadKnowledge(config.knowledge_dir, &errors);
  if (!knowledge) {
    for (const auto& e : errors) std::cerr << e << "\n";
    return 1;
  }
  std::string error;
  SqliteOptions opt;
  opt.synchronous = config.sqlite_synchronous;
  auto store = OpenSqliteStore(config.db_path, opt, &error);
  if (!store) { std::cerr << error << "\n"; return 1; }
  KnowledgeHolder holder(knowledge);
  auto fixed = MakeClock(config);
  ServiceOptions so;
  so.utc_offset_minutes = config.utc_offset_minutes;
  so.idle_timeout_seconds = int64_t{config.idle_timeout_days} * 86400;
  ParseLang(lang.empty() ? config.default_lang : lang, &so.default_lang);
  ConversationService service(store.get(), &holder, fixed ? fixed.get() : SystemClock(), SystemRandom(), so);

  bool interactive = isatty(STDIN_FILENO);
  std::string conversation_id;
  std::vector<std::string> quick;
  std::string line;
  if (interactive) std::cout << "Refund Desk terminal chat. Type a message; Ctrl-D to quit.\n";
  while (true) {
    if (interactive) std::cout << "you> " << std::flush;
    if (!std::getline(std::cin, line)) break;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    // A number picks one of the offered quick replies.
    if (line.size() <= 2 && std::isdigit(static_cast<unsigned char>(line[0]))) {
      size_t n = static_cast<size_t>(std::stoi(line));
      if (n >= 1 && n <= quick.size()) line = quick[n - 1];
    }
    if (!IsValidUtf8(line)) { std::cout << "(that line is not valid UTF-8)\n"; continue; }
    InboundMessage m;
    m.channel = "terminal";
    m.conversation_id = conversation_id;
    m.text = line;
    m.lang_hint = lang;
    TurnOutcome out = service.HandleMessage(m);
    if (!out.status.ok()) { std::cerr << "error: " << out.status.message() << "\n"; return 1; }
    conversation_id = out.response["conversation_id"].get<std::string>();
    quick.clear();
    for (const auto& r : out.response["replies"]) {
      std::cout << "bot> " << r["text"].get<std::string>() << "\n";
      for (const auto& q : r.value("quick_replies", nlohmann::json::array())) {
        quick.push_back(q.get<std::string>());
        std::cout << "     [" << quick.size() << "] " << q.get<std::string>() << "\n";
      }
    }
    if (out.response.contains("ticket")) std::cout << "ticket> " << out.response["ticket"].dump() << "\n";
    std::cout << std::flush;
  }
  return 0;
}

}  // namespace rd
