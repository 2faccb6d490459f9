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
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>

#include <fmt/format.h>

#include "app/run.h"
#include "base/ids.h"
#include "smtp/address.h"
#include "smtp/session.h"
#include "spool/sendmail.h"

namespace herald::app {
namespace {

[[noreturn]] void die(int code, const std::string& message) {
  std::cerr << "sendmail: fatal: " << printable_utf8(message) << "\n";
  std::exit(code);
}

std::string login_name() {
  struct passwd pw, *found = nullptr;
  char buf[4096];
  if (getpwuid_r(::getuid(), &pw, buf, sizeof buf, &found) == 0 && found) return pw.pw_name;
  return fmt::format("uid{}", ::getuid());
}

// write_all - every octet of data to fd.
bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
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
  std::string a = spool::qualify(address, domain);
  smtp::ParsedPath p = smtp::parse_path("<" + a + ">", false, {}, true);
  if (p.error != smtp::PathError::none || p.mailbox.domain.empty())
    die(EX_DATAERR, fmt::format("{} <{}>: bad address syntax", what, address));
  return a;
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

// smtp_session - -bs: SMTP on standard input and output (as Postfix's
// sendmail -bs, for programs that speak SMTP to a local command). Each
// message taken is left in the maildrop; recipients are checked by the
// daemon, which reports the ones it refuses to the sender.
int smtp_session(const config::Config& c, const spool::SendmailArgs& args, const std::string& domain) {
  smtp::SmtpLimits limits;
  limits.max_message_size = c.smtp.max_message_size;
  limits.max_recipients = c.smtp.max_recipients;
  limits.max_text_line = c.smtp.max_line_length;
  limits.max_errors = c.smtp.max_errors;
  limits.junk_command_limit = c.smtp.junk_command_limit;
  limits.recipient_overshoot_limit = c.smtp.recipient_overshoot_limit;
  smtp::Session session(limits, c.hostname);
  session.set_auth_options(smtp::AuthOptions{});
  std::string body;
  if (!write_all(1, session.greeting())) return EX_IOERR;
  // The session gets a line at a time, as from a client that waits for
  // each reply: a local program may write its whole dialogue at once, which
  // over a socket would be pipelining before EHLO's answer.
  std::string input;
  std::size_t at = 0;
  char buf[65536];
  for (;;) {
    smtp::Step s = session.step();
    body += session.take_body();
    if (!write_all(1, s.output)) return EX_IOERR;
    switch (s.action) {
      case smtp::Action::need_more: {
        std::size_t nl = input.find('\n', at);
        if (nl == std::string::npos) {
          input.erase(0, at);
          at = 0;
          ssize_t n = ::read(0, buf, sizeof buf);
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) return EX_OK;
          input.append(buf, static_cast<std::size_t>(n));
          nl = input.find('\n', at);
          // A line longer than a read waits for its end (the session bounds it).
          if (nl == std::string::npos) {
            session.feed(input);
            input.clear();
            break;
          }
        }
        session.feed(std::string_view(input).substr(at, nl + 1 - at));
        at = nl + 1;
        break;
      }
      case smtp::Action::check_recipient: {
        const smtp::RecipientCheck& check = session.recipient_check();
        session.on_recipient_checked({smtp::RcptStatus::ok, {check.forward_path.str()}});
        break;
      }
      case smtp::Action::check_sender: session.on_sender_checked(smtp::SenderVerdict::allowed); break;
      case smtp::Action::flush_queue: session.on_queue_flushed(std::nullopt); break;
      case smtp::Action::submit: {
        smtp::Transaction& tx = session.transaction();
        spool::Message m{tx.sender(), {}, std::exchange(body, {})};
        for (const auto& r : tx.recipients) m.recipients.push_back(spool::qualify(r.forward_path.str(), domain));
        drop(c, spool::maildrop_stream(m, args, "localhost"));
        session.on_submitted(smtp::SubmitOutcome::queued, "maildrop");
        break;
      }
      case smtp::Action::close:
      case smtp::Action::starttls:
      case smtp::Action::authenticate: return EX_OK;
    }
  }
}

}  // namespace

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
  bool ok = write_all(fd, content) && ::fsync(fd) == 0;
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

int sendmail(const spool::SendmailArgs& args, const config::Config& c) {
  const std::string domain = c.maildrop.sender_domain;
  const std::string login = login_name();
  const std::string sender = args.sender_given ? (args.sender.empty() ? "" : checked(args.sender, domain, "sender"))
                                               : spool::qualify(login, domain);
  switch (args.mode) {
    case spool::SendmailArgs::Mode::smtp: return smtp_session(c, args, domain);
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
