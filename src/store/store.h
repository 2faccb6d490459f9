// store/store.h - everything Herald keeps, behind one backend object that
// provides an interface per concern: the Directory (domains, users,
// aliases), the Mailboxes (what users keep), the Queue (messages on their
// way) and the Journal (every event). docs/ARCHITECTURE.md "The store".
//
// The backend is chosen once at open(); callers never see which one it is.
// The embedded backend is SQLite in WAL mode plus content-addressed blob
// files; a PostgreSQL backend implements the same interfaces. Nothing in
// these interfaces assumes one host: what the SQLite backend does only
// because it is alone on its data directory is said in sqlite_store.h.
//
// Invariants:
// - A write reported successful is on stable storage (transaction committed
//   with the WAL synced; blob files written, fsynced and renamed first), so an
//   acknowledged message survives a crash at any instant.
// - Concurrent writers are batched into one transaction and one sync (group
//   commit); one failing request does not fail the others in its batch.
// - A message body is stored once however many mailboxes it lands in: the
//   per-recipient header lines (Return-Path, Delivered-To) are kept apart as
//   a short prefix of each mailbox entry.
// - Every lookup is by an index: user by address, mailbox by user and name,
//   message by mailbox and UID.
// - Reads block their caller (the disk, later the network): drivers run
//   them off their I/O threads (server/offload.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/result.h"
#include "store/directory.h"
#include "store/journal.h"
#include "store/mailboxes.h"
#include "store/queue.h"

namespace herald::store {

struct StoreOptions {
  std::filesystem::path data_dir;
  std::uint64_t inline_body_max = 128 * 1024;
  std::vector<std::string> config_domains;  // local domains from the config file
  // Under load, how long a group commit may wait for messages already being
  // received to join it (0 = never waits). See Queue::note_arrivals.
  std::chrono::milliseconds commit_wait{2};
  // Addresses whose lookup_address result is kept in memory (0 = none).
  std::size_t directory_cache = 50000;
  // At open, remove blob files that no message references (what a crash
  // leaves), and, in the embedded backend (one server per data directory),
  // end the leases of queue rows a previous run held. Only for the server:
  // see BlobStore::sweep.
  bool sweep_blobs = false;
  // A blob file younger than this is never swept: its commit may be under
  // way in another process on the same data directory. Tests set 0.
  std::chrono::seconds blob_sweep_min_age{3600};
  Env* env = nullptr;  // the file system for blob files; null = Env::posix()
  // Events not written to the journal at all (journal.skip): the
  // high-volume kinds an operator may not want kept.
  std::vector<JournalEvent> journal_skip;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Directory& directory() = 0;
  virtual Mailboxes& mailboxes() = 0;
  virtual Queue& queue() = 0;
  virtual Journal& journal() = 0;

  // flush - wait until everything submitted so far is committed.
  virtual Status flush() = 0;
};

// open - the backend for these options (the embedded SQLite one for now),
// migrating its schema to the current version.
Result<std::unique_ptr<Store>> open(const StoreOptions& options);

}  // namespace herald::store
