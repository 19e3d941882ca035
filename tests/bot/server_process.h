// Starts the real refundbot binary as a child process on a free loopback port, for integration tests.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace rd::test {

namespace fs = std::filesystem;
using nlohmann::json;

// A fresh folder per test, removed afterwards.
struct TempDir {
  fs::path path;
  TempDir() {
    static int n = 0;
    path = fs::temp_directory_path() / ("rd-it-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;  // never throw from a destructor; a server may still be closing its files
    fs::remove_all(path, ignored);
  }
  std::string File(const std::string& name) const { return (path / name).string(); }
};

class ServerProcess {
 public:
  ServerProcess(std::string db, std::vector<std::string> extra = {}, std::string log_file = "")
      : db_(std::move(db)), extra_(std::move(extra)), log_file_(std::move(log_file)) {}
  ~ServerProcess() { Kill(SIGKILL); }

  void Start() {
    int out[2];
    REQUIRE(pipe(out) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      int err = open(log_file_.empty() ? "/dev/null" : log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(err, STDERR_FILENO);
      close(out[0]);
      std::vector<std::string> args = {RD_REFUNDBOT, "serve", "--host", "127.0.0.1", "--port", "0", "--db", db_,
                                       "--knowledge", RD_KNOWLEDGE_DIR, "--now", "2026-11-10T02:00:00Z"};
      args.insert(args.end(), extra_.begin(), extra_.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    std::string seen;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (seen.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out[0], POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      char buf[256];
      ssize_t n = read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      seen.append(buf, static_cast<size_t>(n));
    }
    close(out[0]);
    INFO("server said: " << seen);
    auto colon = seen.rfind(':');
    REQUIRE(seen.rfind("listening on http://127.0.0.1:", 0) == 0);
    port_ = std::stoi(seen.substr(colon + 1));
    REQUIRE(port_ > 0);
  }

  void Kill(int sig) {
    if (pid_ <= 0) return;
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  void Signal(int sig) { if (pid_ > 0) kill(pid_, sig); }
  int port() const { return port_; }
  std::unique_ptr<httplib::Client> Client() const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
    c->set_read_timeout(20, 0);
    return c;
  }

 private:
  std::string db_;
  std::vector<std::string> extra_;
  std::string log_file_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// Every row of every table, as text: equal snapshots mean the database did not change.
inline std::string Snapshot(const std::string& db_path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  std::string out;
  std::vector<std::string> tables;  // every table the schema has now
  sqlite3_stmt* list = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
                             -1, &list, nullptr) == SQLITE_OK);
  while (sqlite3_step(list) == SQLITE_ROW) tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(list, 0)));
  sqlite3_finalize(list);
  REQUIRE(tables.size() >= 5);
  for (const std::string& table : tables) {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, ("SELECT * FROM " + table + " ORDER BY 1, 2").c_str(), -1, &s, nullptr) == SQLITE_OK);
    out += std::string("[") + table + "]\n";
    while (sqlite3_step(s) == SQLITE_ROW) {
      for (int i = 0; i < sqlite3_column_count(s); ++i) {
        const unsigned char* t = sqlite3_column_text(s, i);
        out += (t ? reinterpret_cast<const char*>(t) : "NULL");
        out += "|";
      }
      out += "\n";
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return out;
}

struct CommandRun {
  int code = -1;
  std::string out;  // standard output
};

// Runs a shell command line; returns its exit code and standard output.
inline CommandRun RunCommand(const std::string& command) {
  FILE* p = popen(command.c_str(), "r");
  REQUIRE(p);
  CommandRun run;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) run.out.append(buf, n);
  int status = pclose(p);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

struct ChatReply {
  int status = 0;
  json body;
};

inline ChatReply PostChat(httplib::Client& c, const json& body) {
  auto r = c.Post("/api/chat", body.dump(), "application/json");
  REQUIRE(r);
  ChatReply out{r->status, json::parse(r->body, nullptr, false)};
  return out;
}

inline ChatReply PostRaw(httplib::Client& c, const std::string& body) {
  auto r = c.Post("/api/chat", body, "application/json");
  REQUIRE(r);
  return {r->status, json::parse(r->body, nullptr, false)};
}

}  // namespace rd::test
