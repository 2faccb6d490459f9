#include "server/startup.h"

#include "server/spool.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "net/tls.h"
#include "server/listeners.h"
#include "server/outbound.h"

namespace herald::server {
namespace {

// tls_options - [tls] as net::TlsServer::create takes it (app/run.cpp makes
// the same from the same keys).
net::TlsOptions tls_options(const config::Config& c) {
  net::TlsOptions o;
  o.min_version = c.tls_min_version;
  o.ciphers = c.tls_ciphers;
  o.ciphersuites = c.tls_ciphersuites;
  o.hostname = c.hostname;
  return o;
}

Status at(const config::Config& c, std::string_view key, const Error& e) {
  return make_error(e.code, fmt::format("{}: {}: {}", c.where(key), key, e.message));
}

Status check_tls(const config::Config& c) {
  net::TlsOptions o = tls_options(c);
  // The cipher list alone first, so that an error names the key that holds it.
  net::TlsOptions list_only = o;
  list_only.ciphersuites.clear();
  if (auto st = net::check_protocol_settings(list_only); !st) return at(c, "tls.ciphers", st.error());
  if (auto st = net::check_protocol_settings(o); !st) return at(c, "tls.ciphersuites", st.error());
  if (!c.tls_cert.empty())
    if (auto st = net::check_certificate({c.tls_cert, c.tls_key}, o); !st) return at(c, "tls.cert", st.error());
  for (const auto& pair : c.tls_certificates)
    if (auto st = net::check_certificate({pair.cert, pair.key}, o); !st) return at(c, "tls.certificates", st.error());
  return {};
}

// check_data_dir - a directory, or creatable: the nearest existing ancestor
// is a directory we may write into.
Status check_data_dir(const config::Config& c) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir = c.data_dir;
  auto bad = [&](const std::string& why) {
    return make_error(Errc::invalid, fmt::format("{}: server.data_dir: {}: {}", c.where("server.data_dir"),
                                                 c.data_dir.string(), why));
  };
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) return bad("not a directory");
    if (::access(dir.c_str(), W_OK | X_OK) != 0) return bad("not writable");
    return {};
  }
  for (fs::path p = dir.parent_path(); !p.empty(); p = p.parent_path()) {
    if (!fs::exists(p, ec)) {
      if (p == p.parent_path()) break;
      continue;
    }
    if (!fs::is_directory(p, ec)) return bad(fmt::format("cannot be created: {} is not a directory", p.string()));
    if (::access(p.c_str(), W_OK | X_OK) != 0) return bad(fmt::format("cannot be created in {}", p.string()));
    return {};
  }
  return bad("cannot be created");
}

// nr_open - the kernel's ceiling for RLIMIT_NOFILE, for an unlimited hard limit.
std::uint64_t nr_open() {
  std::ifstream in("/proc/sys/fs/nr_open");
  std::uint64_t n = 0;
  if (in >> n && n > 0) return n;
  return 1u << 20;
}

}  // namespace

Status check_environment(const config::Config& config) {
  if (auto st = check_data_dir(config); !st) return st;
  if (auto router = make_router(config); !router) return router.error();
  if (auto client = net::make_client_context(client_tls_options(config)); !client) return client.error();
  if (auto st = check_spools(config); !st) return st;
  return check_tls(config);
}

unsigned io_threads(const config::Config& config) {
  return config.threads ? config.threads : std::max(1u, std::thread::hardware_concurrency());
}

std::uint64_t fds_needed(const config::Config& config) {
  // Per connection: its socket, and a blob file or database read while a
  // message is written or read. Per I/O thread: one acceptor per address,
  // an epoll and an eventfd. The reserve: standard streams, the log, the
  // database with its WAL and shared memory and the pool of read
  // connections, certificates being reloaded, the blocking pool's work.
  constexpr std::uint64_t kPerConnection = 2, kPerThread = 2, kReserve = 128;
  std::uint64_t connections = 0, addresses = 0;
  for (const ListenerKind& kind : listener_kinds()) {
    const config::ListenerConfig& l = kind.section(config);
    if (!kind.serve || l.listen.empty()) continue;
    connections += l.max_connections;
    addresses += l.listen.size();
  }
  // Outbound: a socket per connection. Spools: a file each taken at once
  // (and its directories).
  connections += config.delivery_concurrency;
  for (const auto& s : config.spools) connections += s.concurrency / kPerConnection + 3;
  return kPerConnection * connections + io_threads(config) * (addresses + kPerThread) + kReserve;
}

FdLimit raise_fd_limit() {
  FdLimit out;
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return out;
  auto value = [](rlim_t v) { return v == RLIM_INFINITY ? nr_open() : static_cast<std::uint64_t>(v); };
  out.before = out.soft = value(rl.rlim_cur);
  out.hard = value(rl.rlim_max);
  if (out.soft < out.hard) {
    rl.rlim_cur = static_cast<rlim_t>(out.hard);
    if (::setrlimit(RLIMIT_NOFILE, &rl) == 0) out.soft = out.hard;
  }
  return out;
}

smtp::SmtpLimits smtp_limits(const config::SmtpConfig& c) {
  smtp::SmtpLimits l;
  l.max_message_size = c.max_message_size;
  l.max_recipients = c.max_recipients;
  l.max_text_line = c.max_line_length;
  l.max_errors = c.max_errors;
  l.junk_command_limit = c.junk_command_limit;
  l.recipient_overshoot_limit = c.recipient_overshoot_limit;
  l.allow_bare_lf = c.allow_bare_lf;
  l.vrfy = c.vrfy == "verify"     ? smtp::VrfyMode::verify
           : c.vrfy == "disabled" ? smtp::VrfyMode::disabled
                                  : smtp::VrfyMode::ambiguous;
  return l;
}

}  // namespace herald::server
