#include "storage/wal_write_vfs.h"

#include <catch2/catch.hpp>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace rd {
namespace {

namespace fs = std::filesystem;

struct TempFile {
  fs::path path;
  explicit TempFile(const std::string& tag) {
    path = fs::temp_directory_path() / ("rd-walvfs-" + tag + "-" + std::to_string(::getpid()) + ".sqlite3");
    Remove();
  }
  ~TempFile() { Remove(); }
  void Remove() {
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path.string() + suffix);
  }
};

// A connection; `vfs` nullptr is SQLite's own, as another program (the sqlite3 shell) would open it.
struct Db {
  sqlite3* db = nullptr;
  Db(const fs::path& path, const char* vfs) {
    REQUIRE(sqlite3_open_v2(path.string().c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs) == SQLITE_OK);
    Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
  }
  ~Db() { sqlite3_close(db); }
  void Exec(const std::string& sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    INFO(sql << ": " << (error ? error : ""));
    sqlite3_free(error);
    REQUIRE(rc == SQLITE_OK);
  }
  int64_t Number(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    const int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
  }
  std::string Text(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    std::string v = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return v;
  }
};

// `rows` rows of 300 bytes each, ids from `first`, in one transaction.
std::string InsertRows(int first, int rows) {
  return "BEGIN; WITH RECURSIVE n(i) AS (SELECT " + std::to_string(first) + " UNION ALL SELECT i + 1 FROM n WHERE i < " +
         std::to_string(first + rows - 1) + ") INSERT INTO t SELECT i, randomblob(300) FROM n; COMMIT;";
}

}  // namespace

TEST_CASE("the WAL VFS writes a commit's frames at once, and other connections see the commit when it returns",
          "[storage]") {
  REQUIRE(WalWriteVfsName() != nullptr);
  TempFile file("commit");
  Db writer(file.path, WalWriteVfsName());
  Db other(file.path, nullptr);
  writer.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB)");
  for (int round = 0; round < 20; ++round) {
    const WalWriteVfsCounts before = WalWriteVfsCounters();
    writer.Exec(InsertRows(round * 40, 40));  // 40 x 300 bytes: a few pages, a frame header and a page each
    const WalWriteVfsCounts after = WalWriteVfsCounters();
    CHECK(after.requested - before.requested >= 6);
    CHECK(after.issued - before.issued == 1);
    CHECK(other.Number("SELECT count(*) FROM t") == (round + 1) * 40);  // no frame missing from the file
  }
  CHECK(other.Text("PRAGMA integrity_check") == "ok");
}

TEST_CASE("the WAL VFS: a transaction larger than the page cache, rolled back and rewritten, leaves a sound file",
          "[storage]") {
  TempFile file("spill");
  {
    Db writer(file.path, WalWriteVfsName());
    writer.Exec("PRAGMA cache_size=10");  // pages spill into the WAL before COMMIT, and are written again
    writer.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB)");
    writer.Exec(InsertRows(0, 5000));  // ~1.5 MiB: more than the file system takes in one write
    writer.Exec("BEGIN; UPDATE t SET body = randomblob(310) WHERE id % 3 = 0; UPDATE t SET body = randomblob(290); ROLLBACK;");
    writer.Exec("BEGIN; UPDATE t SET body = zeroblob(300) WHERE id % 2 = 0; UPDATE t SET body = zeroblob(301) WHERE id % 4 = 0; COMMIT;");
    Db other(file.path, nullptr);
    CHECK(other.Number("SELECT count(*) FROM t") == 5000);
    CHECK(other.Number("SELECT count(*) FROM t WHERE body = zeroblob(301)") == 1250);
    CHECK(other.Number("SELECT count(*) FROM t WHERE length(body) = 300") == 3750);
  }
  Db reopened(file.path, nullptr);  // recovery from the WAL alone: the shared index went with the last close
  CHECK(reopened.Text("PRAGMA integrity_check") == "ok");
  CHECK(reopened.Number("SELECT count(*) FROM t WHERE body = zeroblob(301)") == 1250);
}

TEST_CASE("the WAL VFS: a commit survives the process being killed right after it returns", "[storage]") {
  TempFile file("kill");
  {
    Db setup(file.path, WalWriteVfsName());
    setup.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB)");
  }
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(file.path.string().c_str(), &db, SQLITE_OPEN_READWRITE, WalWriteVfsName()) != SQLITE_OK) _exit(2);
    if (sqlite3_exec(db, "PRAGMA synchronous=NORMAL;", nullptr, nullptr, nullptr) != SQLITE_OK) _exit(2);
    if (sqlite3_exec(db, InsertRows(0, 200).c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) _exit(2);
    raise(SIGKILL);  // no close, no checkpoint: the WAL file holds the commit or nothing does
    _exit(3);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  Db after(file.path, nullptr);
  CHECK(after.Number("SELECT count(*) FROM t") == 200);
  CHECK(after.Text("PRAGMA integrity_check") == "ok");
}

}  // namespace rd
