// The SQLite store: one file, WAL mode, schema created by numbered migrations. One writer connection
// (serialised by a mutex: SQLite has a single writer anyway, and its busy-wait would hurt latency) and
// a pool of reader connections, which WAL lets run beside the writer.
#pragma once

#include <memory>
#include <string>

#include "storage/store.h"

namespace rd {

struct SqliteOptions {
  // "normal": a committed turn survives a process crash (the WAL is written before COMMIT returns) but
  // the last turns may be lost on power loss. "full": fsync on every commit, survives power loss too.
  std::string synchronous = "normal";
  int busy_timeout_ms = 5000;
  // Migrate only up to this schema version (0: the newest). For tests of the migrations themselves.
  int migrate_to = 0;
};

// Opens (creating if needed) and migrates the database at `path`. On failure returns nullptr and sets
// `error`.
std::unique_ptr<Store> OpenSqliteStore(const std::string& path, const SqliteOptions& options,
                                       std::string* error);

// The schema version the migrations bring a database to.
int SqliteSchemaVersion();

}  // namespace rd
