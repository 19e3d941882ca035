#include <iostream>

#include "bot/cli.h"
#include "bot/config.h"
#include "storage/sqlite_store.h"

namespace rd {

using nlohmann::json;

int RunTicketsCommand(const Config& config, const std::vector<std::string>& args) {
  std::string verb, id, status;
  bool as_json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--json") as_json = true;
    else if (args[i] == "--status" && i + 1 < args.size()) status = args[++i];
    else if (verb.empty()) verb = args[i];
    else if (id.empty()) id = args[i];
    else { std::cerr << "tickets: unexpected argument " << args[i] << "\n"; return 2; }
  }
  if (verb != "list" && verb != "show" && verb != "export") {
    std::cerr << "usage: refundbot tickets list [--status S] [--json] | show ID [--json] | export [--json]\n";
    return 2;
  }
  std::string error;
  auto store = OpenSqliteStore(config.db_path, SqliteOptions{}, &error);
  if (!store) { std::cerr << error << "\n"; return 1; }
  if (verb == "show") {
    if (id.empty()) { std::cerr << "tickets show: a ticket id is required\n"; return 2; }
    TicketRecord t;
    Status st = store->GetTicket(id, &t);
    if (!st.ok()) { std::cerr << "tickets show: " << st.message() << "\n"; return 1; }
    std::cout << (as_json ? t.ticket.dump() : t.ticket.dump(2)) << "\n";
    return 0;
  }
  std::vector<TicketRecord> tickets;
  Status st = store->ListTickets(status, verb == "export" ? 1000000 : 1000, &tickets);
  if (!st.ok()) { std::cerr << st.message() << "\n"; return 1; }
  if (as_json || verb == "export") {
    json all = json::array();
    for (const auto& t : tickets) all.push_back(t.ticket);
    std::cout << all.dump(verb == "export" && !as_json ? 2 : -1) << "\n";
    return 0;
  }
  for (const auto& t : tickets) {
    const json& a = t.ticket.value("assessment", json::object());
    std::cout << t.id << "  " << t.status << "  " << t.ticket.value("created_at", "") << "  "
              << a.value("verdict", "") << "  " << t.conversation_id << "\n";
  }
  if (tickets.empty()) std::cout << "(no tickets)\n";
  return 0;
}

}  // namespace rd
