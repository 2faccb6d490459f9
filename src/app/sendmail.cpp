// app/sendmail.cpp - the sendmail door (spool/sendmail.h): `herald
// sendmail ...`, or herald called as sendmail or mailq. The message is
// left in the maildrop as a file the calling user owns; the daemon takes it
// now or when it starts, and knows who sent it from the file's owner
// (docs/ARCHITECTURE.md "Mail from programs"). Exit codes are sysexits.h's,
// as every sendmail's.
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <functional>
#include <random>

#include <fmt/format.h>

#include "app/run.h"
#include "base/env.h"
#include "base/ids.h"
#include "smtp/address.h"
#include "spool/sendmail.h"

namespace herald::app {
namespace {

[[noreturn]] void die(int code, const std::string& message) {
  std::cerr << "sendmail: fatal: " << printable_utf8(message) << "\n";
  std::exit(code);
}


// drop - a maildrop file, or the end of the call with its sysexits.h code.
void drop(const config::Config& c, std::string_view content) {
  Status st = to_maildrop(c, content);
  if (st) return;
  int code = st.error().code == Errc::not_found ? EX_UNAVAILABLE
             : st.error().code == Errc::denied  ? EX_CANTCREAT
                                                : EX_TEMPFAIL;
  die(code, st.error().message);
}

// checked - an address as the daemon will read it; a bad one ends the call
// (EX_DATAERR) rather than come back as a bounce.
std::string checked(const std::string& address, const std::string& domain, const char* what) {
  // The mailbox as parsed, never the text given: nothing after it (an
  // SMTP parameter, a line break) reaches the maildrop file.
  std::string a = spool::qualify(address, domain);
  smtp::ParsedPath p = smtp::parse_path("<" + a + ">", false, {}, true);
  if (p.error != smtp::PathError::none || p.mailbox.domain.empty() || !p.params.empty() ||
      a.find_first_of("\r\n<>") != std::string::npos)
    die(EX_DATAERR, fmt::format("{} <{}>: bad address syntax", what, address));
  return p.mailbox.str();
}

std::string read_stdin(std::uint64_t max) {
  std::string in;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die(EX_IOERR, fmt::format("reading the message: {}", std::strerror(errno)));
    if (n == 0) return in;
    in.append(buf, static_cast<std::size_t>(n));
    if (in.size() > max) die(EX_DATAERR, fmt::format("the message is larger than smtp.max_message_size ({})", max));
  }
}

}  // namespace

std::string login_name() {
  struct passwd pw, *found = nullptr;
  char buf[4096];
  if (getpwuid_r(::getuid(), &pw, buf, sizeof buf, &found) == 0 && found) return pw.pw_name;
  return fmt::format("uid{}", ::getuid());
}

Status to_maildrop(const config::Config& c, std::string_view content) {
  const std::filesystem::path& dir = c.maildrop.directory;
  if (::access(dir.c_str(), F_OK) != 0 && ::geteuid() == 0) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    ::chmod(dir.c_str(), 01733);
  }
  std::random_device rd;
  const std::string id = fmt::format("{}.{}.{:08x}", QueueIdGenerator().next(), ::getpid(), rd());
  const std::string tmp = (dir / ("." + id)).string(), name = (dir / id).string();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    int e = errno;
    return make_error(e == ENOENT ? Errc::not_found : e == EACCES ? Errc::denied : Errc::io,
                      fmt::format("{}: cannot create a file there: {}{}", dir.string(), std::strerror(e),
                                  e == ENOENT ? " (has herald serve run once?)" : ""));
  }
  bool ok = write_fd(fd, content) && ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), name.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return make_error(Errc::io, fmt::format("{}: cannot write the message: {}", dir.string(), std::strerror(e)));
  }
  // The directory too, where the caller may open it (root and the daemon's
  // user; others may not list the maildrop).
  int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d >= 0) {
    ::fsync(d);
    ::close(d);
  }
  return {};
}

std::string own_address(const config::Config& c) { return spool::qualify(login_name(), c.maildrop.sender_domain); }

std::string default_config_path() {
  if (const char* env = std::getenv("HERALD_CONFIG"); env && *env) return env;
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec && exe.parent_path().filename() == "sbin") {
    const std::filesystem::path prefix = exe.parent_path().parent_path();
    return ((prefix == "/usr" ? std::filesystem::path("/etc") : prefix / "etc") / "herald" / "herald.toml").string();
  }
  return "etc/herald.toml";
}

int sendmail_main(std::string_view program, const std::vector<std::string>& words, const SendmailHooks& hooks) {
  auto args = spool::parse_sendmail_args(program, words);
  if (!args) {
    std::cerr << "sendmail: fatal: " << printable_utf8(args.error().message) << "\n";
    return EX_USAGE;
  }
  const std::string path = args->config.empty() ? default_config_path() : args->config;
  using Mode = spool::SendmailArgs::Mode;
  if (args->mode == Mode::list || args->mode == Mode::flush)
    return hooks.queue_command({"herald", "queue", args->mode == Mode::list ? "list" : "flush", "--config", path});
  auto c = config::load(path);
  if (!c) {
    std::cerr << "sendmail: fatal: " << printable_utf8(c.error().message) << "\n";
    return EX_CONFIG;
  }
  if (args->mode == Mode::smtp) return hooks.smtp_session(*args, *c);
  return sendmail(*args, *c);
}

int sendmail(const spool::SendmailArgs& args, const config::Config& c) {
  const std::string domain = c.maildrop.sender_domain;
  const std::string login = login_name();
  const std::string sender = args.sender_given ? (args.sender.empty() ? "" : checked(args.sender, domain, "sender"))
                                               : spool::qualify(login, domain);
  switch (args.mode) {
    case spool::SendmailArgs::Mode::verify: {
      if (args.recipients.empty()) die(EX_USAGE, "-bv: name the recipients to verify");
      std::vector<std::string> rcpts;
      for (const auto& r : args.recipients) rcpts.push_back(checked(r, domain, "recipient"));
      drop(c, spool::verify_stream(rcpts, "localhost"));
      std::cout << fmt::format("Mail Delivery Status Report will be mailed to <{}>.\n", spool::qualify(login, domain));
      return EX_OK;
    }
    default: break;
  }
  std::string input = read_stdin(c.smtp.max_message_size);
  auto m = spool::read_message(args, input, sender);
  if (!m) die(EX_USAGE, m.error().message);
  for (auto& r : m->recipients) r = checked(r, domain, "recipient");
  drop(c, spool::maildrop_stream(*m, args, "localhost"));
  return EX_OK;
}

}  // namespace herald::app
