#include <iostream>

#include "bot/cli.h"
#include "bot/config.h"
#include "bot/staff_auth.h"
#include "storage/sqlite_store.h"

namespace rd {

int RunStaffCommand(const Config& config, const std::vector<std::string>& args) {
  std::string verb, name;
  bool password_stdin = false;
  for (const auto& a : args) {
    if (a == "--password-stdin") password_stdin = true;
    else if (verb.empty()) verb = a;
    else if (name.empty()) name = a;
    else { std::cerr << "staff: unexpected argument " << a << "\n"; return 2; }
  }
  if ((verb != "add" && verb != "token") || name.empty() || (verb == "add" && !password_stdin)) {
    std::cerr << "usage: refundbot staff add NAME --password-stdin [--db FILE]\n"
                 "       refundbot staff token NAME [--db FILE]\n";
    return 2;
  }
  std::string error;
  auto store = OpenSqliteStore(config.db_path, SqliteOptions{}, &error);
  if (!store) { std::cerr << error << "\n"; return 1; }
  StaffAuth auth(store.get(), SystemClock(), SystemRandom());
  if (verb == "add") {
    // The password comes on stdin, never as an argument (arguments show in `ps` and shell history).
    std::string password;
    std::getline(std::cin, password);
    if (!password.empty() && password.back() == '\r') password.pop_back();
    Status st = auth.AddStaff(name, password);
    if (!st.ok()) { std::cerr << "staff add: " << st.message() << "\n"; return st.code() == Status::Code::kIoError ? 1 : 2; }
    std::cout << "staff member " << name << " added\n";
    return 0;
  }
  std::string token;
  Status st = auth.IssueApiToken(name, &token);
  if (!st.ok()) { std::cerr << "staff token: " << st.message() << "\n"; return st.code() == Status::Code::kIoError ? 1 : 2; }
  std::cout << token << "\n";  // the only time it is shown: the database keeps its hash
  return 0;
}

}  // namespace rd
