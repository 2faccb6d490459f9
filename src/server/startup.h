// server/startup.h - what `herald serve` checks and sets up before it opens
// any listener, shared with `herald config check` so that the two cannot
// drift: a configuration the check passes is one serve starts with.
//
// check_environment() needs the world (the file system, OpenSSL) where
// config::load() needs only the text; its errors name the key's file:line
// as the loader's do (config::Config::where).
//
// The descriptor limit: every connection holds a socket, and a message
// being written a file besides, so the usual soft RLIMIT_NOFILE of 1024
// runs out long before max_connections. raise_fd_limit() lifts the soft
// limit to the hard one (as Dovecot's master does); the caller warns when
// even that is below fds_needed().
#pragma once

#include <cstdint>

#include "base/result.h"
#include "config/config.h"
#include "smtp/session.h"

namespace herald::server {

// check_environment - what serve would refuse after loading: the TLS
// settings OpenSSL rejects, certificate and key files that do not load, a
// data_dir that is not a directory and cannot be made one.
Status check_environment(const config::Config& config);

// io_threads - server.threads, or one per core for 0.
unsigned io_threads(const config::Config& config);

// fds_needed - descriptors the configuration may hold at once: two per
// connection of every served listener, each I/O thread's acceptors and
// event descriptors, and a reserve for the store, the log and TLS files.
std::uint64_t fds_needed(const config::Config& config);

struct FdLimit {
  std::uint64_t before = 0;  // the soft limit found
  std::uint64_t soft = 0;    // the soft limit now
  std::uint64_t hard = 0;
};

// raise_fd_limit - RLIMIT_NOFILE's soft limit set to its hard limit
// (RLIM_INFINITY counts as the kernel's nr_open); returns the limits.
FdLimit raise_fd_limit();

// smtp_limits - [smtp] as an smtp::Session's bounds: the listeners' and
// sendmail -bs's.
smtp::SmtpLimits smtp_limits(const config::SmtpConfig& c);

}  // namespace herald::server
