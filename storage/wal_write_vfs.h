// A SQLite VFS that writes a transaction's WAL frames with one pwrite instead of two per page.
//
// SQLite appends each WAL frame as two writes, its 24-byte header and then the page, so a commit of
// 20 pages costs 40 system calls, each with the file system's per-call work (ext4's write_begin and
// write_end on the ~3 page-cache pages an unaligned frame touches): 9 % of the bot's CPU under chat
// load, 4.6 % with this VFS. It wraps the platform's default one and, for WAL files only, gathers
// contiguous writes in memory; they reach the file before anyone can see the commit:
//  - when the commit frame's page arrives (its header carries the database size), so a failed write
//    fails the COMMIT;
//  - as a safety net, when SQLite publishes the commit in the shared WAL index: it calls xShmBarrier
//    between the two copies of the index header; the calling thread's pending frames are written there,
//    before the copy readers check (a reader seeing only one copy changed retries), so a reader on
//    another connection or process never reads a frame that is not in the file yet;
//  - and on every other use of the WAL file (read, size, sync, truncate, close) and any WAL lock change.
// Durability is unchanged: the commit call returns after the write, as before ("normal": the page
// cache holds it, a process crash loses nothing; "full": xSync writes, then syncs).
// Main database files, journals and temporary files pass straight through.
#pragma once

#include <cstdint>

namespace rd {

// The VFS's name for sqlite3_open_v2, registered on first use (thread-safe, not as the default VFS).
// nullptr when SQLite has no default VFS to wrap.
const char* WalWriteVfsName();

// What the VFS did since the process started: WAL writes SQLite asked for, and writes the file got.
struct WalWriteVfsCounts {
  uint64_t requested = 0;
  uint64_t issued = 0;
};
WalWriteVfsCounts WalWriteVfsCounters();

}  // namespace rd
