#include <iostream>

#include "bot/cli.h"
#include "bot/config.h"
#include "bot/staff_auth.h"
#include "storage/sqlite_store.h"

namespace rd {

namespace {

constexpr const char kUsage[] =
    "usage: refundbot staff add NAME --password-stdin [--db FILE]\n"
    "       refundbot staff token NAME [--db FILE]\n"
    "       refundbot staff disable NAME [--db FILE]\n"
    "       refundbot staff enable NAME [--db FILE]\n"
    "       refundbot staff revoke NAME [--db FILE]\n";

// 1 for storage failures, 2 for what the operator asked wrong (an unknown name, a bad password).
int Fail(const std::string& verb, const Status& st) {
  std::cerr << "staff " << verb << ": " << st.message() << "\n";
  return st.code() == Status::Code::kIoError ? 1 : 2;
}

int AddStaff(StaffAuth& auth, const std::string& name) {
  // The password comes on stdin, never as an argument (arguments show in `ps` and shell history).
  std::string password;
  std::getline(std::cin, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  Status st = auth.AddStaff(name, password);
  if (!st.ok()) return Fail("add", st);
  std::cout << "staff member " << name << " added\n";
  return 0;
}

int IssueToken(StaffAuth& auth, const std::string& name) {
  std::string token;
  int64_t expires_at = 0;
  Status st = auth.IssueApiToken(name, &token, &expires_at);
  if (!st.ok()) return Fail("token", st);
  std::cout << token << "\n";  // the only time it is shown: the database keeps its hash
  std::cerr << "valid until " << FormatTimestampUtc(expires_at) << "\n";
  return 0;
}

}  // namespace

int RunStaffCommand(const Config& config, const std::vector<std::string>& args) {
  std::string verb, name;
  bool password_stdin = false;
  for (const auto& a : args) {
    if (a == "--password-stdin") password_stdin = true;
    else if (verb.empty()) verb = a;
    else if (name.empty()) name = a;
    else { std::cerr << "staff: unexpected argument " << a << "\n"; return 2; }
  }
  const bool known = verb == "add" || verb == "token" || verb == "disable" || verb == "enable" || verb == "revoke";
  if (!known || name.empty() || (verb == "add" && !password_stdin)) {
    std::cerr << kUsage;
    return 2;
  }
  std::string error;
  auto store = OpenSqliteStore(config.db_path, SqliteOptions{}, &error);
  if (!store) { std::cerr << error << "\n"; return 1; }
  StaffAuth auth(store.get(), SystemClock(), SystemRandom(), config.staff_token_days);
  if (verb == "add") return AddStaff(auth, name);
  if (verb == "token") return IssueToken(auth, name);
  int64_t revoked = 0;
  if (verb == "enable") {
    if (Status st = auth.Enable(name); !st.ok()) return Fail(verb, st);
    std::cout << "staff member " << name << " enabled\n";
    return 0;
  }
  Status st = verb == "disable" ? auth.Disable(name, &revoked) : auth.Revoke(name, &revoked);
  if (!st.ok()) return Fail(verb, st);
  std::cout << "staff member " << name << (verb == "disable" ? " disabled; " : ": ") << revoked
            << " token(s) and session(s) revoked\n";
  return 0;
}

}  // namespace rd
