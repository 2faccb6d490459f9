// store/wal_vfs.h - an SQLite VFS that writes each WAL commit in one write.
//
// SQLite appends a commit to the WAL as two writes per page (a 24-byte frame
// header, then the page): ~40 pwrite() calls for a group commit of a few
// messages, each a system call with its own page-cache work. This VFS wraps
// the platform's default one and, for WAL files only, gathers contiguous
// writes in memory and hands them to the file in one write before anything
// can observe the file: a sync (so a commit is durable exactly when SQLite
// believes it is), a read, a size query, a truncation or a close. SQLite
// publishes new frames to readers (the wal-index) only after that sync, so no
// reader ever looks for bytes still in the buffer. That holds for
// connections with synchronous = FULL (every WAL commit synced), as the
// store opens them; with NORMAL or OFF a commit would be published unwritten.
// Hand-written because no library offers it; SQLite's VFS interface exists
// for such shims.
#pragma once

struct sqlite3;

namespace herald::store {

// wal_vfs_name - registers the VFS on first use (thread-safe) and returns its
// name for sqlite3_open_v2; nullptr (SQLite's default) if it could not be.
const char* wal_vfs_name();

// discard_unsynced_wal - forget the WAL bytes db's connection has not
// written yet. Call after a ROLLBACK: a rolled-back transaction may have
// spilled frames, and once the write lock is free another writer may put
// its own frames at those offsets. (SQLite's rollback usually reads a page
// back, which writes them while the lock is still held, but nothing
// promises it. A commit needs nothing: it ends with the sync.)
void discard_unsynced_wal(sqlite3* db);

}  // namespace herald::store
