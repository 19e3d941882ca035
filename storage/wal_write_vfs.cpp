#include "storage/wal_write_vfs.h"

#include <sqlite3.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace rd {
namespace {

constexpr int kFrameHeaderSize = 24;       // SQLite's WAL frame header (fileformat2.html#walformat)
// The unix VFS writes at most 128 KiB - 1 in one call (it masks larger lengths), so a larger
// transaction is written in pieces of that size.
constexpr size_t kMaxPending = (128 << 10) - 1;

std::atomic<uint64_t> g_requested{0};
std::atomic<uint64_t> g_issued{0};

// Our part of an open file; the wrapped VFS's file follows it in the same allocation.
struct File {
  sqlite3_file base;   // our methods
  sqlite3_file* real;  // the wrapped VFS's file
  bool wal;
  bool commit_frame_next;  // a commit frame's header is pending: its page ends the transaction
  char* pending;           // WAL bytes not yet written, contiguous from pending_offset
  size_t pending_size;
  size_t pending_capacity;
  sqlite3_int64 pending_offset;
};

constexpr size_t kRealOffset = (sizeof(File) + 15) & ~size_t{15};

// The WAL file this thread has written to and not flushed: a transaction runs on one thread.
thread_local File* t_pending = nullptr;

sqlite3_vfs* Wrapped(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }
File* Of(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
const sqlite3_io_methods* RealMethods(File* f) { return f->real->pMethods; }

int Flush(File* f) {
  if (t_pending == f) t_pending = nullptr;
  if (f->pending_size == 0) return SQLITE_OK;
  const size_t size = f->pending_size;
  f->pending_size = 0;
  g_issued.fetch_add(1, std::memory_order_relaxed);
  return RealMethods(f)->xWrite(f->real, f->pending, static_cast<int>(size), f->pending_offset);
}

void FlushThisThread() {
  if (t_pending != nullptr) Flush(t_pending);  // a write error shows on the WAL's next call
}

// ---- methods shared by every file: forward, flushing a WAL's pending bytes first where they matter

int Close(sqlite3_file* file) {
  File* f = Of(file);
  int rc = f->wal ? Flush(f) : SQLITE_OK;
  std::free(f->pending);
  f->pending = nullptr;
  const int close_rc = RealMethods(f)->xClose(f->real);
  return rc != SQLITE_OK ? rc : close_rc;
}

int Read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  File* f = Of(file);
  if (f->wal) {
    if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  }
  return RealMethods(f)->xRead(f->real, out, amount, offset);
}

int Truncate(sqlite3_file* file, sqlite3_int64 size) {
  File* f = Of(file);
  if (f->wal) {
    if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  }
  return RealMethods(f)->xTruncate(f->real, size);
}

int Sync(sqlite3_file* file, int flags) {
  File* f = Of(file);
  if (f->wal) {
    if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  }
  return RealMethods(f)->xSync(f->real, flags);
}

int FileSize(sqlite3_file* file, sqlite3_int64* size) {
  File* f = Of(file);
  if (f->wal) {
    if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  }
  return RealMethods(f)->xFileSize(f->real, size);
}

int Lock(sqlite3_file* file, int level) { return RealMethods(Of(file))->xLock(Of(file)->real, level); }
int Unlock(sqlite3_file* file, int level) { return RealMethods(Of(file))->xUnlock(Of(file)->real, level); }
int CheckReservedLock(sqlite3_file* file, int* out) {
  return RealMethods(Of(file))->xCheckReservedLock(Of(file)->real, out);
}

int FileControl(sqlite3_file* file, int op, void* arg) {
  File* f = Of(file);
  if (f->wal) {
    if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  }
  return RealMethods(f)->xFileControl(f->real, op, arg);
}

int SectorSize(sqlite3_file* file) { return RealMethods(Of(file))->xSectorSize(Of(file)->real); }
int DeviceCharacteristics(sqlite3_file* file) {
  return RealMethods(Of(file))->xDeviceCharacteristics(Of(file)->real);
}

// The shared-memory calls belong to the main database file; a commit is published through them.
int ShmMap(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  File* f = Of(file);
  if (RealMethods(f)->iVersion < 2) return SQLITE_IOERR;
  return RealMethods(f)->xShmMap(f->real, region, size, extend, out);
}
int ShmLock(sqlite3_file* file, int offset, int n, int flags) {
  FlushThisThread();
  File* f = Of(file);
  if (RealMethods(f)->iVersion < 2) return SQLITE_IOERR;
  return RealMethods(f)->xShmLock(f->real, offset, n, flags);
}
void ShmBarrier(sqlite3_file* file) {
  FlushThisThread();
  File* f = Of(file);
  if (RealMethods(f)->iVersion >= 2) RealMethods(f)->xShmBarrier(f->real);
}
int ShmUnmap(sqlite3_file* file, int delete_flag) {
  File* f = Of(file);
  if (RealMethods(f)->iVersion < 2) return SQLITE_OK;
  return RealMethods(f)->xShmUnmap(f->real, delete_flag);
}
int Fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  File* f = Of(file);
  if (RealMethods(f)->iVersion < 3) { *out = nullptr; return SQLITE_OK; }
  return RealMethods(f)->xFetch(f->real, offset, amount, out);
}
int Unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  File* f = Of(file);
  if (RealMethods(f)->iVersion < 3) return SQLITE_OK;
  return RealMethods(f)->xUnfetch(f->real, offset, page);
}

int PassWrite(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  return RealMethods(Of(file))->xWrite(Of(file)->real, data, amount, offset);
}

// The WAL: appends gather in `pending`; a commit frame's page, a gap, or the size cap writes them.
int WalWrite(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  File* f = Of(file);
  g_requested.fetch_add(1, std::memory_order_relaxed);
  const size_t n = static_cast<size_t>(amount);
  const sqlite3_int64 pending_end = f->pending_offset + static_cast<sqlite3_int64>(f->pending_size);
  if (f->pending_size > 0 && offset >= f->pending_offset && offset + amount <= pending_end) {
    // A frame of this transaction written again (SQLite overwrites a page it already appended).
    std::memcpy(f->pending + (offset - f->pending_offset), data, n);
    return SQLITE_OK;
  }
  if (f->pending_size > 0 && (offset != pending_end || f->pending_size + n > kMaxPending)) {
    if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  }
  if (f->pending_size == 0) f->pending_offset = offset;
  if (f->pending_size + n > f->pending_capacity) {
    size_t capacity = f->pending_capacity ? f->pending_capacity : 32 * 1024;
    while (capacity < f->pending_size + n) capacity *= 2;
    char* grown = static_cast<char*>(std::realloc(f->pending, capacity));
    if (grown == nullptr) return SQLITE_IOERR_NOMEM;
    f->pending = grown;
    f->pending_capacity = capacity;
  }
  std::memcpy(f->pending + f->pending_size, data, n);
  f->pending_size += n;
  t_pending = f;
  if (amount == kFrameHeaderSize) {
    // Bytes 4-7 of a frame header: the database size after a commit, 0 in other frames.
    const unsigned char* h = static_cast<const unsigned char*>(data);
    f->commit_frame_next = (h[4] | h[5] | h[6] | h[7]) != 0;
    return SQLITE_OK;
  }
  if (f->commit_frame_next) {
    // The transaction's last page: written now, so a failure fails the COMMIT.
    f->commit_frame_next = false;
    return Flush(f);
  }
  return SQLITE_OK;
}

const sqlite3_io_methods kPassMethods = {
    3,         Close,    Read,     PassWrite, Truncate, Sync,    FileSize,   Lock,
    Unlock,    CheckReservedLock,  FileControl,         SectorSize,        DeviceCharacteristics,
    ShmMap,    ShmLock,  ShmBarrier,          ShmUnmap, Fetch,   Unfetch,
};

const sqlite3_io_methods kWalMethods = {
    3,         Close,    Read,     WalWrite,  Truncate, Sync,    FileSize,   Lock,
    Unlock,    CheckReservedLock,  FileControl,         SectorSize,        DeviceCharacteristics,
    ShmMap,    ShmLock,  ShmBarrier,          ShmUnmap, Fetch,   Unfetch,
};

int Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  File* f = Of(file);
  std::memset(f, 0, sizeof(File));
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealOffset);
  const int rc = Wrapped(vfs)->xOpen(Wrapped(vfs), name, f->real, flags, out_flags);
  if (f->real->pMethods == nullptr) {
    f->base.pMethods = nullptr;  // SQLite closes only files with methods
    return rc;
  }
  f->wal = (flags & SQLITE_OPEN_WAL) != 0;
  f->base.pMethods = f->wal ? &kWalMethods : &kPassMethods;
  return rc;
}

// The rest of the VFS is the wrapped one's.
int Delete(sqlite3_vfs* v, const char* name, int sync) { return Wrapped(v)->xDelete(Wrapped(v), name, sync); }
int Access(sqlite3_vfs* v, const char* name, int flags, int* out) {
  return Wrapped(v)->xAccess(Wrapped(v), name, flags, out);
}
int FullPathname(sqlite3_vfs* v, const char* name, int n, char* out) {
  return Wrapped(v)->xFullPathname(Wrapped(v), name, n, out);
}
void* DlOpen(sqlite3_vfs* v, const char* name) { return Wrapped(v)->xDlOpen(Wrapped(v), name); }
void DlError(sqlite3_vfs* v, int n, char* out) { Wrapped(v)->xDlError(Wrapped(v), n, out); }
void (*DlSym(sqlite3_vfs* v, void* handle, const char* symbol))(void) {
  return Wrapped(v)->xDlSym(Wrapped(v), handle, symbol);
}
void DlClose(sqlite3_vfs* v, void* handle) { Wrapped(v)->xDlClose(Wrapped(v), handle); }
int Randomness(sqlite3_vfs* v, int n, char* out) { return Wrapped(v)->xRandomness(Wrapped(v), n, out); }
int Sleep(sqlite3_vfs* v, int micros) { return Wrapped(v)->xSleep(Wrapped(v), micros); }
int CurrentTime(sqlite3_vfs* v, double* out) { return Wrapped(v)->xCurrentTime(Wrapped(v), out); }
int GetLastError(sqlite3_vfs* v, int n, char* out) { return Wrapped(v)->xGetLastError(Wrapped(v), n, out); }
int CurrentTimeInt64(sqlite3_vfs* v, sqlite3_int64* out) {
  return Wrapped(v)->xCurrentTimeInt64(Wrapped(v), out);
}

sqlite3_vfs g_vfs;
const char* g_vfs_name = nullptr;

void Register() {
  sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
  if (real == nullptr || real->iVersion < 2) return;
  g_vfs = sqlite3_vfs{};
  g_vfs.iVersion = 2;  // the system-call overrides (version 3) are for SQLite's own tests
  g_vfs.szOsFile = static_cast<int>(kRealOffset) + real->szOsFile;
  g_vfs.mxPathname = real->mxPathname;
  g_vfs.zName = "rd-wal-write";
  g_vfs.pAppData = real;
  g_vfs.xOpen = Open;
  g_vfs.xDelete = Delete;
  g_vfs.xAccess = Access;
  g_vfs.xFullPathname = FullPathname;
  g_vfs.xDlOpen = DlOpen;
  g_vfs.xDlError = DlError;
  g_vfs.xDlSym = DlSym;
  g_vfs.xDlClose = DlClose;
  g_vfs.xRandomness = Randomness;
  g_vfs.xSleep = Sleep;
  g_vfs.xCurrentTime = CurrentTime;
  g_vfs.xGetLastError = GetLastError;
  g_vfs.xCurrentTimeInt64 = CurrentTimeInt64;
  if (sqlite3_vfs_register(&g_vfs, 0) == SQLITE_OK) g_vfs_name = g_vfs.zName;
}

}  // namespace

const char* WalWriteVfsName() {
  static std::once_flag once;
  std::call_once(once, Register);
  return g_vfs_name;
}

WalWriteVfsCounts WalWriteVfsCounters() {
  return {g_requested.load(std::memory_order_relaxed), g_issued.load(std::memory_order_relaxed)};
}

}  // namespace rd
