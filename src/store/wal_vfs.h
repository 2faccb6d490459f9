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
// reader ever looks for bytes still in the buffer. Hand-written because no
// library offers it; SQLite's VFS interface exists for such shims.
#pragma once

namespace herald::store {

// wal_vfs_name - registers the VFS on first use (thread-safe) and returns its
// name for sqlite3_open_v2; nullptr (SQLite's default) if it could not be.
const char* wal_vfs_name();

}  // namespace herald::store
