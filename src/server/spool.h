// server/spool.h - the spool agent: mail that batch jobs write as files
// into the directories of [[spool]] (the JES-spool habit; Postfix's
// maildrop and pickup), taken into the queue through intake like any
// other message (docs/ARCHITECTURE.md "Mail from programs").
//
// Pickup is immediate (inotify: a file renamed in is complete; one closed
// after writing is taken once unchanged for settle_time and not locked),
// with a scan of the directory every scan_interval besides. Each file goes
// through an smtp::Session, as if a client that waits for every reply had
// sent it (spool/stream.h cuts it into what the client would send), so a
// spooled transaction is checked exactly as one over SMTP is.
//
// Never lost, never twice: each message's commit records how many
// transactions of its file are taken (store::SpoolCheckpoint, by device,
// inode, size and mtime); after a crash the file is taken again from
// there. The file goes (or moves to done/) only once all of it is
// committed; a transaction that failed for the moment (the store, a lookup)
// leaves the file for the next scan. A file with refused transactions gets
// its transcript in error/ and a report mailed as the spool's report key
// says. Files that are not mail (links, devices, garbage, a stream cut off
// inside DATA, owners not allowed, over max_file_size) are moved whole to
// quarantine/, with a log line and a journal row.
//
// Threads: every spool's agent runs on the spool thread's io_context; file
// reads and store reads block that thread, never an I/O thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>

#include "config/config.h"
#include "queue/intake.h"
#include "server/free_space.h"
#include "server/recipients.h"
#include "smtp/session.h"
#include "store/journal.h"
#include "store/queue.h"

namespace herald::server {

// SpoolContext - what a spool agent uses; the server owns it all.
struct SpoolContext {
  const config::Config& config;
  queue::Intake& intake;
  store::Queue& queue;
  store::Journal& journal;
  RecipientDirectory recipients;
  const FreeSpace& free_space;
  smtp::SmtpLimits limits;  // [smtp]'s bounds, as a session over a socket has them
};

class SpoolAgent {
 public:
  SpoolAgent(const SpoolContext& ctx, const config::Config::Spool& spool, asio::io_context& io);
  ~SpoolAgent();
  SpoolAgent(const SpoolAgent&) = delete;
  SpoolAgent& operator=(const SpoolAgent&) = delete;

  // run - watch and take files until the io_context stops.
  asio::awaitable<void> run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// check_spools - what `config check` and `serve` verify of each [[spool]]:
// its directory a directory (made when missing), its users and groups
// known to the system. Errors name the [[spool]]'s file:line.
Status check_spools(const config::Config& config);

}  // namespace herald::server
