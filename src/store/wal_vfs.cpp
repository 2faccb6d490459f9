#include "store/wal_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstddef>
#include <new>
#include <string>

namespace herald::store {
namespace {

constexpr const char* kName = "herald-wal";
// A commit larger than this (a batch of big messages) goes out in parts.
constexpr std::size_t kMaxPending = 4u << 20;
// The unix VFS writes at most 128 KiB - 1 octets per call (seekAndWriteFd
// masks the length with 0x1ffff), so the pending bytes go in pieces below it.
constexpr std::size_t kMaxWrite = 120u << 10;

sqlite3_vfs* g_base = nullptr;  // the wrapped VFS (the platform default)
std::size_t g_real_offset = 0;  // where the wrapped file sits inside ours

struct WalFile {
  sqlite3_file base;  // first, so that SQLite's sqlite3_file* is a WalFile*
  sqlite3_file* real = nullptr;
  bool wal = false;
  std::string pending;           // written by SQLite, not yet by us
  sqlite3_int64 pending_at = 0;  // file offset of pending[0]
};

WalFile* wal_file(sqlite3_file* f) { return reinterpret_cast<WalFile*>(f); }
const sqlite3_io_methods* real_methods(WalFile* f) { return f->real->pMethods; }

int flush(WalFile* f) {
  int rc = SQLITE_OK;
  for (std::size_t done = 0; done < f->pending.size() && rc == SQLITE_OK; done += kMaxWrite) {
    std::size_t n = std::min(kMaxWrite, f->pending.size() - done);
    rc = real_methods(f)->xWrite(f->real, f->pending.data() + done, static_cast<int>(n),
                                 f->pending_at + static_cast<sqlite3_int64>(done));
  }
  f->pending.clear();  // on failure too: SQLite abandons the transaction whose frames these were
  return rc;
}

int x_close(sqlite3_file* file) {
  WalFile* f = wal_file(file);
  // Nothing is flushed: every commit was synced, so bytes still pending
  // belong to a transaction that never committed.
  int rc = real_methods(f)->xClose(f->real);
  f->~WalFile();
  return rc;
}

int x_read(sqlite3_file* file, void* out, int n, sqlite3_int64 offset) {
  WalFile* f = wal_file(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f)->xRead(f->real, out, n, offset);
}

int x_write(sqlite3_file* file, const void* data, int n, sqlite3_int64 offset) {
  WalFile* f = wal_file(file);
  if (!f->wal) return real_methods(f)->xWrite(f->real, data, n, offset);
  // Only a write that continues the pending bytes joins them (SQLite may
  // also rewrite a frame of the open transaction in place).
  if (!f->pending.empty() && offset != f->pending_at + static_cast<sqlite3_int64>(f->pending.size())) {
    if (int rc = flush(f); rc != SQLITE_OK) return rc;
  }
  try {
    if (f->pending.empty()) f->pending_at = offset;
    f->pending.append(static_cast<const char*>(data), static_cast<std::size_t>(n));
  } catch (const std::bad_alloc&) {
    if (int rc = flush(f); rc != SQLITE_OK) return rc;
    return real_methods(f)->xWrite(f->real, data, n, offset);
  }
  return f->pending.size() >= kMaxPending ? flush(f) : SQLITE_OK;
}

int x_truncate(sqlite3_file* file, sqlite3_int64 size) {
  WalFile* f = wal_file(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f)->xTruncate(f->real, size);
}

int x_sync(sqlite3_file* file, int flags) {
  WalFile* f = wal_file(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f)->xSync(f->real, flags);
}

int x_file_size(sqlite3_file* file, sqlite3_int64* size) {
  WalFile* f = wal_file(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f)->xFileSize(f->real, size);
}

int x_lock(sqlite3_file* file, int level) {
  WalFile* f = wal_file(file);
  return real_methods(f)->xLock(f->real, level);
}
int x_unlock(sqlite3_file* file, int level) {
  WalFile* f = wal_file(file);
  return real_methods(f)->xUnlock(f->real, level);
}
int x_check_reserved_lock(sqlite3_file* file, int* out) {
  WalFile* f = wal_file(file);
  return real_methods(f)->xCheckReservedLock(f->real, out);
}
int x_file_control(sqlite3_file* file, int op, void* arg) {
  WalFile* f = wal_file(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;  // no file control sees a stale file
  return real_methods(f)->xFileControl(f->real, op, arg);
}
int x_sector_size(sqlite3_file* file) {
  WalFile* f = wal_file(file);
  return real_methods(f)->xSectorSize(f->real);
}
int x_device_characteristics(sqlite3_file* file) {
  WalFile* f = wal_file(file);
  return real_methods(f)->xDeviceCharacteristics(f->real);
}

// Shared memory and memory mapping belong to the database file; they pass
// through when the wrapped file has them.
int x_shm_map(sqlite3_file* file, int page, int size, int extend, void volatile** out) {
  WalFile* f = wal_file(file);
  if (real_methods(f)->iVersion < 2 || !real_methods(f)->xShmMap) return SQLITE_IOERR_SHMMAP;
  return real_methods(f)->xShmMap(f->real, page, size, extend, out);
}
int x_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  WalFile* f = wal_file(file);
  if (real_methods(f)->iVersion < 2 || !real_methods(f)->xShmLock) return SQLITE_IOERR_SHMLOCK;
  return real_methods(f)->xShmLock(f->real, offset, n, flags);
}
void x_shm_barrier(sqlite3_file* file) {
  WalFile* f = wal_file(file);
  if (real_methods(f)->iVersion >= 2 && real_methods(f)->xShmBarrier) real_methods(f)->xShmBarrier(f->real);
}
int x_shm_unmap(sqlite3_file* file, int delete_flag) {
  WalFile* f = wal_file(file);
  if (real_methods(f)->iVersion < 2 || !real_methods(f)->xShmUnmap) return SQLITE_OK;
  return real_methods(f)->xShmUnmap(f->real, delete_flag);
}
int x_fetch(sqlite3_file* file, sqlite3_int64 offset, int n, void** out) {
  WalFile* f = wal_file(file);
  *out = nullptr;  // "no mapping": SQLite reads instead
  if (real_methods(f)->iVersion < 3 || !real_methods(f)->xFetch || f->wal) return SQLITE_OK;
  return real_methods(f)->xFetch(f->real, offset, n, out);
}
int x_unfetch(sqlite3_file* file, sqlite3_int64 offset, void* p) {
  WalFile* f = wal_file(file);
  if (real_methods(f)->iVersion < 3 || !real_methods(f)->xUnfetch || f->wal) return SQLITE_OK;
  return real_methods(f)->xUnfetch(f->real, offset, p);
}

const sqlite3_io_methods kMethods = {
    .iVersion = 3,
    .xClose = x_close,
    .xRead = x_read,
    .xWrite = x_write,
    .xTruncate = x_truncate,
    .xSync = x_sync,
    .xFileSize = x_file_size,
    .xLock = x_lock,
    .xUnlock = x_unlock,
    .xCheckReservedLock = x_check_reserved_lock,
    .xFileControl = x_file_control,
    .xSectorSize = x_sector_size,
    .xDeviceCharacteristics = x_device_characteristics,
    .xShmMap = x_shm_map,
    .xShmLock = x_shm_lock,
    .xShmBarrier = x_shm_barrier,
    .xShmUnmap = x_shm_unmap,
    .xFetch = x_fetch,
    .xUnfetch = x_unfetch,
};

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  auto* f = new (file) WalFile();
  f->base.pMethods = nullptr;
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + g_real_offset);
  f->real->pMethods = nullptr;
  f->wal = (flags & SQLITE_OPEN_WAL) != 0;
  int rc = g_base->xOpen(g_base, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    // The wrapped file wants its xClose when it set pMethods, even on failure.
    if (f->real->pMethods) f->real->pMethods->xClose(f->real);
    f->~WalFile();
    file->pMethods = nullptr;
    return rc;
  }
  f->base.pMethods = &kMethods;
  return SQLITE_OK;
}

// The VFS-level calls go to the wrapped VFS, with the wrapped VFS as theirs.
int x_delete(sqlite3_vfs*, const char* name, int sync_dir) { return g_base->xDelete(g_base, name, sync_dir); }
int x_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return g_base->xAccess(g_base, name, flags, out);
}
int x_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_base->xFullPathname(g_base, name, n, out);
}
void* x_dl_open(sqlite3_vfs*, const char* name) { return g_base->xDlOpen(g_base, name); }
void x_dl_error(sqlite3_vfs*, int n, char* out) { g_base->xDlError(g_base, n, out); }
void (*x_dl_sym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
  return g_base->xDlSym(g_base, handle, symbol);
}
void x_dl_close(sqlite3_vfs*, void* handle) { g_base->xDlClose(g_base, handle); }
int x_randomness(sqlite3_vfs*, int n, char* out) { return g_base->xRandomness(g_base, n, out); }
int x_sleep(sqlite3_vfs*, int micros) { return g_base->xSleep(g_base, micros); }
int x_current_time(sqlite3_vfs*, double* out) { return g_base->xCurrentTime(g_base, out); }
int x_get_last_error(sqlite3_vfs*, int n, char* out) { return g_base->xGetLastError(g_base, n, out); }
int x_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) { return g_base->xCurrentTimeInt64(g_base, out); }

sqlite3_vfs g_vfs;

// The connection's WAL file, when it is one of ours.
WalFile* wal_of(sqlite3* db) {
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &file) != SQLITE_OK || !file) return nullptr;
  return file->pMethods == &kMethods ? wal_file(file) : nullptr;
}

}  // namespace

void discard_unsynced_wal(sqlite3* db) {
  if (WalFile* f = wal_of(db)) f->pending.clear();
}

const char* wal_vfs_name() {
  static const char* name = [] () -> const char* {
    g_base = sqlite3_vfs_find(nullptr);
    if (!g_base || g_base->iVersion < 2) return nullptr;
    constexpr std::size_t align = alignof(std::max_align_t);
    g_real_offset = (sizeof(WalFile) + align - 1) / align * align;
    g_vfs = sqlite3_vfs{};
    g_vfs.iVersion = 2;
    g_vfs.szOsFile = static_cast<int>(g_real_offset) + g_base->szOsFile;
    g_vfs.mxPathname = g_base->mxPathname;
    g_vfs.zName = kName;
    g_vfs.xOpen = x_open;
    g_vfs.xDelete = x_delete;
    g_vfs.xAccess = x_access;
    g_vfs.xFullPathname = x_full_pathname;
    g_vfs.xDlOpen = x_dl_open;
    g_vfs.xDlError = x_dl_error;
    g_vfs.xDlSym = x_dl_sym;
    g_vfs.xDlClose = x_dl_close;
    g_vfs.xRandomness = x_randomness;
    g_vfs.xSleep = x_sleep;
    g_vfs.xCurrentTime = x_current_time;
    g_vfs.xGetLastError = x_get_last_error;
    g_vfs.xCurrentTimeInt64 = x_current_time_int64;
    return sqlite3_vfs_register(&g_vfs, 0) == SQLITE_OK ? kName : nullptr;
  }();
  return name;
}

}  // namespace herald::store
