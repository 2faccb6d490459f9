#include "server/spool.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/ids.h"
#include "base/log.h"
#include "base/text.h"
#include "mime/builder.h"
#include "mime/header.h"
#include "server/offload.h"
#include "server/sender_exit.h"
#include "spool/job.h"
#include "spool/sender.h"
#include "spool/stream.h"

namespace herald::server {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kHeadMax = 64 * 1024;        // a plain message's header section, at most
constexpr std::size_t kTranscriptMax = 64 * 1024;  // of an error file and its report
constexpr std::string_view kSubdirs[] = {"error", "done", "quarantine"};

// Fd - a descriptor owned.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  explicit operator bool() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }

 private:
  int fd_ = -1;
};

// mtime_ns - a file's mtime in nanoseconds; a time past 2262 (a hostile
// touch -d) is held at the largest value instead of overflowing.
std::int64_t mtime_ns(const struct stat& st) {
  constexpr std::int64_t kMaxSeconds = std::numeric_limits<std::int64_t>::max() / 1'000'000'000 - 1;
  if (st.st_mtim.tv_sec > kMaxSeconds) return std::numeric_limits<std::int64_t>::max();
  if (st.st_mtim.tv_sec < 0) return 0;
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

std::string user_name(uid_t uid) {
  struct passwd pw, *found = nullptr;
  char buf[4096];
  if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found) return pw.pw_name;
  return fmt::format("uid{}", uid);
}

std::string_view kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a named pipe";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a regular file";
}

// groups_of - the groups uid is in, primary and supplementary (none when
// uid has no passwd entry).
std::vector<gid_t> groups_of(uid_t uid) {
  struct passwd pw, *found = nullptr;
  char buf[4096];
  if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) != 0 || !found) return {};
  int n = 64;
  std::vector<gid_t> groups(n);
  if (getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) {
    groups.resize(n);  // n is now the number needed
    if (getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) return {};
  }
  groups.resize(n);
  return groups;
}

// Owners - whose files a spool takes: [[spool]] users and groups resolved
// to ids; nobody named means anyone (the directory's permissions decide).
class Owners {
 public:
  static Result<Owners> resolve(const config::Config::Spool& s) {
    Owners o;
    char buf[16384];
    for (const auto& u : s.users) {
      struct passwd pw, *found = nullptr;
      if (getpwnam_r(u.c_str(), &pw, buf, sizeof buf, &found) != 0 || !found)
        return make_error(Errc::invalid, fmt::format("spool {}: users: no such user \"{}\"", s.name, u));
      o.uids_.insert(pw.pw_uid);
    }
    for (const auto& g : s.groups) {
      struct group gr, *found = nullptr;
      if (getgrnam_r(g.c_str(), &gr, buf, sizeof buf, &found) != 0 || !found)
        return make_error(Errc::invalid, fmt::format("spool {}: groups: no such group \"{}\"", s.name, g));
      o.gids_.insert(gr.gr_gid);
    }
    return o;
  }

  // allows - uid is named, or a member (primary or supplementary) of a
  // group named. Memberships are read once per uid.
  bool allows(uid_t uid) {
    if (uids_.empty() && gids_.empty()) return true;
    if (uids_.contains(uid)) return true;
    if (gids_.empty()) return false;
    if (auto it = members_.find(uid); it != members_.end()) return it->second;
    if (members_.size() > 10'000) members_.clear();
    bool member = false;
    for (gid_t g : groups_of(uid)) member = member || gids_.contains(g);
    members_[uid] = member;
    return member;
  }

 private:
  std::set<uid_t> uids_;
  std::set<gid_t> gids_;
  std::map<uid_t, bool> members_;
};

// permitted - what uid may do by a file's mode bits (ACLs are not
// consulted): bit is 4 (read) or 1 (search, for a directory), taken from
// the owner's, the group's (primary or supplementary) or others' bits.
bool permitted(uid_t uid, const struct stat& st, unsigned bit) {
  if (uid == 0) return true;
  if (st.st_uid == uid) return (st.st_mode & (bit << 6)) != 0;
  if (st.st_mode & bit) return true;
  if (!(st.st_mode & (bit << 3))) return false;
  const std::vector<gid_t> groups = groups_of(uid);
  return std::find(groups.begin(), groups.end(), st.st_gid) != groups.end();
}

// open_for - path opened for reading on behalf of uid (a send job's
// attachment), or -1: every directory of its real path must be one uid may
// search and the file a regular file uid may read; the file opened is the
// one looked at. The server reads it with its own rights, so it must never
// give a user a file the user could not have read.
int open_for(uid_t uid, const std::string& path) {
  std::error_code ec;
  const std::filesystem::path real = std::filesystem::canonical(path, ec);
  if (ec) return -1;
  struct stat st;
  for (std::filesystem::path dir = real.parent_path();; dir = dir.parent_path()) {
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || !permitted(uid, st, 1)) return -1;
    if (dir == dir.parent_path()) break;
  }
  if (::stat(real.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || !permitted(uid, st, 4)) return -1;
  int fd = ::open(real.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  struct stat opened;
  if (fd >= 0 && (::fstat(fd, &opened) != 0 || opened.st_dev != st.st_dev || opened.st_ino != st.st_ino)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// reply_code - the code of a reply line ("451 4.3.0 ..." -> 451), 0 if none.
int reply_code(std::string_view line) {
  if (line.size() < 3) return 0;
  auto n = parse_uint(line.substr(0, 3));
  return n ? static_cast<int>(*n) : 0;
}

// temporary - a reply that says "not now" for a reason of this server's
// (RFC 3463 4.3.x: the store, the disk, a lookup) rather than of the mail:
// the file waits and is taken again from its checkpoint.
bool temporary(std::string_view line) {
  int code = reply_code(line);
  return code == 421 || (code >= 400 && code < 500 && line.substr(4, 4) == "4.3.");
}

// OwnedUnit - a spool::Unit that outlives the reader's buffer.
struct OwnedUnit {
  spool::Unit::Kind kind;
  std::string text;
  std::uint64_t transaction;
};

// FileText - a spool file's octets. A small file (most are) is read once,
// and that read serves the look at its head and both passes over it; a
// larger one is read a chunk at a time into one buffer.
class FileText {
 public:
  static constexpr std::uint64_t kWholeMax = 256 * 1024;

  FileText(int fd, std::uint64_t size) : fd_(fd), size_(size) {}

  std::uint64_t size() const { return size_; }

  // piece - up to max octets from offset ("" at the end), valid until the
  // next call.
  Result<std::string_view> piece(std::uint64_t offset, std::size_t max = kReadChunk) {
    if (offset >= size_) return std::string_view();
    if (size_ <= kWholeMax) {
      if (whole_.size() != size_) {
        whole_.resize(size_);
        if (Status st = read(0, whole_.data(), size_); !st) return st.error();
      }
      return std::string_view(whole_).substr(offset, max);
    }
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(max, size_ - offset));
    if (buffer_.size() < n) buffer_.resize(n);
    if (Status st = read(offset, buffer_.data(), n); !st) return st.error();
    return std::string_view(buffer_.data(), n);
  }

 private:
  // read - exactly n octets at offset; a file that shrank is an error (it
  // changed after it was looked at, and is taken again).
  Status read(std::uint64_t offset, char* to, std::size_t n) {
    while (n > 0) {
      ssize_t got = ::pread(fd_, to, n, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return make_error(Errc::io, std::strerror(errno));
      if (got == 0) return make_error(Errc::io, "the file shrank while it was read");
      to += got;
      offset += static_cast<std::uint64_t>(got);
      n -= static_cast<std::size_t>(got);
    }
    return {};
  }

  int fd_;
  std::uint64_t size_;
  std::string whole_;
  std::vector<char> buffer_;
};

}  // namespace

struct SpoolAgent::Impl {
  Impl(const SpoolContext& c, const config::Config::Spool& s, asio::io_context& i)
      : ctx(c), spool(s), io(i), wake(i), log(log::get("pickup")) {
    limits = c.limits;
    // A file may hold many transactions, each refused or not; its session
    // is never ended for errors or NOOPs as a client's would be.
    limits.max_errors = 1'000'000'000;
    limits.junk_command_limit = 1'000'000'000;
    // Nor are recipients past smtp.max_recipients refused for now (452
    // 4.5.3): a file cannot send them again later, as a client would. The
    // file's size bounds them.
    limits.max_recipients = std::numeric_limits<std::uint32_t>::max();
    limits.allow_bare_lf = false;  // the reader made every line end CRLF
    if (s.verify_requests) limits.vrfy = smtp::VrfyMode::verify;  // sendmail -bv
  }

  // ---- Watching ----
  asio::awaitable<void> run();
  asio::awaitable<void> watch(Fd inotify);
  asio::awaitable<void> scan_every();
  void scan();
  void enqueue(std::string name, bool renamed);
  // reconsider - a name waiting to settle whose attributes changed (an
  // mtime set after the write, as `touch -d` or an unpacker does): looked
  // at again now, not when its old settle time comes.
  void reconsider(const std::string& name);
  void defer(const std::string& name, Clock::duration wait);
  Status open_directories();
  void prepare_maildrop();
  void forget_stale_checkpoints();

  // ---- Taking a file ----
  struct Conversation;
  // Outcome - done: taken, quarantined or gone; retry: looked at again
  // after scan_interval; waiting: deferred already (a writer's lock).
  enum class Outcome { done, retry, waiting };
  void examine(const std::string& name, bool renamed);
  asio::awaitable<void> take(std::string name);
  asio::awaitable<Outcome> take_open(const std::string& name, Fd fd, const struct stat& st);
  void quarantine(const std::string& name, std::string_view reason, uid_t uid, std::uint64_t size);
  void finish_file(const std::string& name, const store::SpoolFile& id);
  void write_error_file(const std::string& name, const Conversation& c);
  asio::awaitable<void> report(Conversation& c);
  asio::awaitable<void> verification_report(Conversation& c);
  asio::awaitable<void> mail_transcript(Conversation& c, std::vector<std::string> to, std::string subject,
                                        std::string intro);

  const SpoolContext& ctx;
  const config::Config::Spool& spool;
  asio::io_context& io;
  smtp::SmtpLimits limits;
  asio::steady_timer wake;  // the dispatcher waits on it; cancelled when there is work
  std::shared_ptr<spdlog::logger> log;
  std::optional<Owners> owners;
  spool::SenderPolicy policy;
  asio::thread_pool exits{2};  // sender_exit runs here; joined before the io_context goes
  std::map<uid_t, spool::Submitter> submitters;  // looked up once per owner

  const spool::Submitter& submitter(uid_t uid) {
    auto it = submitters.find(uid);
    if (it != submitters.end()) return it->second;
    if (submitters.size() > 10'000) submitters.clear();
    spool::Submitter s{user_name(uid), {}};
    char buf[4096];
    for (gid_t g : groups_of(uid)) {
      struct group gr, *found = nullptr;
      if (getgrgid_r(g, &gr, buf, sizeof buf, &found) == 0 && found) s.groups.emplace_back(gr.gr_name);
    }
    return submitters.emplace(uid, std::move(s)).first->second;
  }
  Fd dir, error_dir, done_dir, quarantine_dir;
  std::deque<std::pair<std::string, bool>> ready;           // names to examine, and whether renamed in
  std::multimap<Clock::time_point, std::string> waiting;    // names to examine again then
  std::set<std::string, std::less<>> known;                 // queued, waiting or being taken
  std::size_t running = 0;
  bool overflowed = false;  // names were left out for want of backlog
  std::set<std::pair<std::uint64_t, std::uint64_t>> taking;  // (device, inode) of the files being taken
  std::set<std::string> replaced;  // names a new file took while the old one was taken
  // The spool's checkpoint rows, mirrored: this agent alone writes them
  // (one daemon per data_dir), so a file's is looked up here rather than
  // read from the store for every file. Keyed by (device, inode).
  std::map<std::pair<std::uint64_t, std::uint64_t>, store::SpoolCheckpoint> checkpoints;
  std::vector<store::SpoolFile> forgotten;  // rows of files gone, deleted in one write

  void note_checkpoint(const store::SpoolCheckpoint& cp) { checkpoints[{cp.file.device, cp.file.inode}] = cp; }
  std::uint64_t checkpoint_of(const store::SpoolFile& f) const {
    auto it = checkpoints.find({f.device, f.inode});
    return it == checkpoints.end() || !(it->second.file == f) ? 0 : it->second.next;
  }
  void forget_now() {
    if (forgotten.empty()) return;
    ctx.queue.forget_spool_files(std::exchange(forgotten, {}), [](Status) {});
  }
};

// Conversation - one file fed to an smtp::Session as a client would.
struct SpoolAgent::Impl::Conversation {
  Conversation(Impl& a, std::string file_name, const struct stat& st, store::SpoolFile file, std::uint64_t from)
      : agent(a), name(std::move(file_name)), uid(st.st_uid), id(std::move(file)), resume(from),
        session(a.limits, a.ctx.config.hostname) {
    smtp::AuthOptions none;  // no TLS, no AUTH from a file
    session.set_auth_options(none);
  }

  // send - a unit as the client sends it, and the replies it gets.
  asio::awaitable<void> send(const OwnedUnit& u) {
    if (stopped()) co_return;
    if (u.transaction < resume && !(u.kind == spool::Unit::Kind::command && greeting_command(u.text))) co_return;
    if (skipping_data) {
      if (u.kind == spool::Unit::Kind::data_end) skipping_data = false;
      co_return;  // DATA was refused: its lines are not commands
    }
    transaction = u.transaction;
    std::string rewritten;
    switch (u.kind) {
      case spool::Unit::Kind::command:
        note("> ", u.text);
        if (u.text.size() > 5 && iequals(u.text.substr(0, 5), "VRFY ")) ++verifies;
        if (is_mail(u.text)) {
          auto checked = sender_allowed(u.text);
          if (!checked) co_return;  // refused here: the session never sees it
          rewritten = std::move(*checked);
        }
        break;
      case spool::Unit::Kind::data:
        data_octets += u.text.size();
        break;
      case spool::Unit::Kind::data_end:
        note("> ", fmt::format("({} octets of message)\r\n", data_octets));
        note("> ", u.text);
        data_octets = 0;
        break;
    }
    session.feed(rewritten.empty() ? std::string_view(u.text) : std::string_view(rewritten));
    co_await drive();
    if (u.kind == spool::Unit::Kind::command && iequals(u.text, "DATA\r\n") && !session.in_message()) {
      // Refused: its text is not commands, and the transaction is ended as
      // a client would end it, so the next MAIL starts afresh.
      skipping_data = true;
      note("> ", "RSET");
      session.feed("RSET\r\n");
      co_await drive();
    }
  }

  bool stopped() const { return closed || temp_failure; }

  static bool is_mail(std::string_view line) { return line.size() > 10 && iequals(line.substr(0, 10), "MAIL FROM:"); }

  // sender_allowed - MAIL under the spool's sender policy (spool/sender.h):
  // the line to send ("" = as it is), or nullopt when it is refused here.
  std::optional<std::string> sender_allowed(std::string_view line) {
    const spool::SenderPolicy& p = agent.policy;
    if (p.mode == spool::SenderMode::any) return std::string();
    std::string_view args = line.substr(10);
    while (!args.empty() && (args.back() == '\n' || args.back() == '\r')) args.remove_suffix(1);
    smtp::ParsedPath path = smtp::parse_path(args, true, {}, true);
    if (path.error != smtp::PathError::none) return std::string();  // the session refuses it
    const std::string sender = path.null_path ? std::string() : path.mailbox.str();
    const spool::Submitter& who = agent.submitter(uid);
    if (spool::may_use(p, who, sender)) return std::string();
    if (p.mode == spool::SenderMode::replace) {
      // The parameters stay; the address becomes the user's own.
      std::size_t close = args.find('>');
      std::string params = close == std::string_view::npos ? "" : std::string(args.substr(close + 1));
      std::string own = spool::own_address(p, who);
      note("  ", fmt::format("(sender <{}> replaced by <{}>: the policy of spool {})", sender, own, agent.spool.name));
      return fmt::format("MAIL FROM:<{}>{}\r\n", own, params);
    }
    refuse_sender("MAIL", sender, fmt::format("553 5.7.1 <{}>: Sender address rejected: not owned by user {}", sender,
                                             who.login));
    return std::nullopt;
  }

  // from_allowed - under verify, each From address must be the user's too
  // (RFC 5322 3.6.2); the header is what take_body() kept of the message.
  bool from_allowed() {
    if (agent.policy.mode != spool::SenderMode::verify) return true;
    const spool::Submitter& who = agent.submitter(uid);
    if (head.size() >= kHeadMax && head.find("\r\n\r\n") == std::string::npos) {
      // A From past what was kept could not be checked: not taken.
      refuse_sender("END-OF-MESSAGE", "", fmt::format("554 5.7.1 The header section is over {} KiB: its From "
                                                       "cannot be verified", kHeadMax / 1024));
      return false;
    }
    for (const auto& value : mime::field_values(head, "From"))
      for (const auto& a : mime::addresses(value))
        if (!spool::may_use(agent.policy, who, a)) {
          refuse_sender("END-OF-MESSAGE", a, fmt::format("554 5.7.1 <{}>: From address rejected: not owned by user {}",
                                                        a, who.login));
          return false;
        }
    return true;
  }

  // exit_allows - the spool's sender_exit asked (server/sender_exit.h);
  // false when the message was refused (the session has its answer).
  asio::awaitable<bool> exit_allows(queue::Incoming& message) {
    ExitRequest req;
    req.user = agent.submitter(uid).login;
    req.uid = uid;
    req.spool = agent.spool.name;
    req.file = name;
    req.sender = message.envelope().sender;
    for (const auto& v : mime::field_values(head, "From"))
      for (auto& a : mime::addresses(v)) req.from.push_back(std::move(a));
    for (const auto& r : message.envelope().recipients) req.recipients.push_back(r.address);
    req.subject = queue::header_value(head, "Subject");
    auto ask = [&req, &spool = agent.spool] { return call_sender_exit(spool.sender_exit, spool.sender_exit_timeout, req); };
    ExitVerdict v = co_await offload(agent.exits, ask);
    switch (v.action) {
      case ExitVerdict::Action::accept: co_return true;
      case ExitVerdict::Action::replace:
        note("  ", fmt::format("(sender <{}> replaced by <{}>: the sender exit)", req.sender, v.sender));
        message.replace_sender(v.sender);
        co_return true;
      case ExitVerdict::Action::reject: {
        std::string reason = v.reason.empty() ? "refused by the sender exit" : printable(v.reason, 200);
        refuse_sender("END-OF-MESSAGE", req.sender, fmt::format("554 5.7.1 {}", reason));
        session.on_submitted(smtp::SubmitOutcome::rejected, reason);
        co_return false;
      }
      case ExitVerdict::Action::failed:
        // Never an accept: the file waits for an exit that works.
        agent.log->error("error: spool {}: {}: sender exit failed: {}", agent.spool.name, printable(name), v.reason);
        session.on_submitted(smtp::SubmitOutcome::temp_fail, "sender exit failed");
        co_return false;
    }
    co_return false;
  }

  void refuse_sender(std::string_view command, const std::string& sender, std::string reply) {
    note("< ", reply);
    refused.insert(transaction);
    agent.log->info("NOQUEUE: reject: {} from {}: {}; from=<{}> proto=SMTP helo=<{}>", command, client(), reply, sender,
                    printable(session.helo_name()));
    agent.ctx.journal.append({0, store::JournalEvent::rejected, "", "", sender, "", client(), 0, std::move(reply),
                              std::string(command)});
  }

  static bool greeting_command(std::string_view line) {
    return line.size() >= 4 && (iequals(line.substr(0, 4), "HELO") || iequals(line.substr(0, 4), "EHLO"));
  }

  // note - a line of the transcript (bounded; the rest only counted).
  void note(std::string_view prefix, std::string_view lines) {
    for (auto line : split(lines, '\n')) {
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) continue;
      if (transcript.size() + line.size() > kTranscriptMax) {
        ++transcript_dropped;
        continue;
      }
      transcript += prefix;
      if (is_printable_ascii(line)) transcript += line;
      else transcript += printable_utf8(line);
      transcript += '\n';
    }
  }

  // drive - step the session until it needs more input, carrying out what
  // it asks on the way.
  asio::awaitable<void> drive() {
    for (;;) {
      session.set_storage_low(agent.ctx.free_space.low());
      smtp::Step s = session.step();
      take_body(s.action);
      note("< ", s.output);
      for (auto line : split(s.output, '\n'))
        if (temporary(line)) temp_failure = true;
      note_rejections();
      switch (s.action) {
        case smtp::Action::need_more: co_return;
        case smtp::Action::check_recipient: {
          const smtp::RecipientCheck& check = session.recipient_check();
          // Blocking (a store read on a cache miss): this is the spool thread.
          Resolution r = resolve_recipient(agent.ctx.recipients, check, /*may_relay=*/true);
          if (r.decision.status == smtp::RcptStatus::ok) targets[to_lower(check.forward_path.str())] = r.targets;
          session.on_recipient_checked(std::move(r.decision));
          break;
        }
        case smtp::Action::check_sender: session.on_sender_checked(smtp::SenderVerdict::allowed); break;
        case smtp::Action::submit: co_await submit(); break;
        case smtp::Action::flush_queue: session.on_queue_flushed(std::nullopt); break;
        case smtp::Action::close:
        case smtp::Action::starttls:
        case smtp::Action::authenticate: closed = true; co_return;
      }
    }
  }

  // take_body - as smtpd's: the octets of the message go to intake's
  // Incoming, which keeps a large body out of memory.
  void take_body(smtp::Action action) {
    if (session.in_message() || action == smtp::Action::submit) {
      if (!incoming) {
        incoming.emplace(agent.ctx.intake.begin(envelope()));
        head.clear();
      }
      std::string octets = session.take_body();
      // The header section, for the From check (bounded: 64 KiB).
      if (head.size() < kHeadMax && head.find("\r\n\r\n") == std::string::npos)
        head.append(octets, 0, std::min(octets.size(), kHeadMax - head.size()));
      incoming->append(octets);
    } else {
      incoming.reset();
    }
  }

  queue::Envelope envelope() {
    queue::Envelope env = transaction_envelope(session, targets);
    env.submission = true;  // RFC 6409 8: a missing Date and Message-ID are added
    env.pickup = queue::Envelope::Pickup{uid, agent.submitter(uid).login, agent.spool.name, name};
    env.checkpoint = store::SpoolCheckpoint{id, transaction + 1};
    if (!env.sender.empty()) last_sender = env.sender;
    return env;
  }

  asio::awaitable<void> submit() {
    queue::Incoming message = std::move(*incoming);
    incoming.reset();
    if (!from_allowed()) {
      session.on_submitted(smtp::SubmitOutcome::rejected, "From address rejected");
      co_return;
    }
    if (!agent.spool.sender_exit.empty() && !co_await exit_allows(message)) co_return;
    auto commit = [&intake = agent.ctx.intake, &message](auto done) { intake.submit(std::move(message), std::move(done)); };
    auto result = co_await on_completion<Result<queue::Accepted>>(commit);
    if (result) {
      ++taken;
      agent.note_checkpoint({id, transaction + 1});
      session.on_submitted(smtp::SubmitOutcome::queued, result->queue_id);
    } else {
      session.on_submitted(smtp::SubmitOutcome::temp_fail, "try again later");
    }
  }

  // note_rejections - Postfix's "NOQUEUE: reject:" line and a journal row
  // for each refusal, as smtpd writes them; the transaction is refused.
  void note_rejections() {
    for (smtp::Rejection& r : session.take_rejections()) {
      if (temporary(r.reply)) continue;  // the file is taken again later: not a refusal
      if (r.command != "VRFY") refused.insert(transaction);  // an answer to -bv, not a refusal
      std::string to = r.recipient.empty() ? std::string() : fmt::format(" to=<{}>", r.recipient);
      agent.log->info("NOQUEUE: reject: {} from {}: {}; from=<{}>{} proto={} helo=<{}>", r.command, client(), r.reply,
                      r.sender, to, session.extended() ? "ESMTP" : "SMTP", printable(session.helo_name()));
      agent.ctx.journal.append({0, store::JournalEvent::rejected, "", "", std::move(r.sender), std::move(r.recipient),
                                client(), 0, std::move(r.reply), std::move(r.command)});
    }
  }

  // refuse - a refusal of the file's own (a plain message without
  // recipients, a send job that does not parse): transcript and count.
  void refuse(std::string_view why) {
    note("< ", fmt::format("554 5.6.0 {}", why));
    refused.insert(transaction);
    agent.log->info("NOQUEUE: reject: {}: 554 5.6.0 {}", client(), why);
    agent.ctx.journal.append({0, store::JournalEvent::rejected, "", "", "", "", client(), 0,
                              fmt::format("554 5.6.0 {}", why), "FILE"});
  }

  std::string client() const { return fmt::format("spool={} file={} uid={}", agent.spool.name, name, uid); }
  std::string owner_address() const { return fmt::format("{}@{}", user_name(uid), agent.spool.sender_domain); }

  Impl& agent;
  const std::string name;
  const uid_t uid;
  const store::SpoolFile id;
  const std::uint64_t resume;  // transactions committed before (the checkpoint)
  smtp::Session session;
  std::uint64_t transaction = 0;  // the one being sent
  std::uint64_t transactions = 0;  // in the file
  std::uint64_t taken = 0;         // committed now
  std::uint64_t data_octets = 0;
  std::uint64_t verifies = 0;  // VRFY commands sent
  bool skipping_data = false;
  bool closed = false;
  bool temp_failure = false;
  std::set<std::uint64_t> refused;
  std::string last_sender;
  std::string transcript;
  std::size_t transcript_dropped = 0;
  std::optional<queue::Incoming> incoming;
  std::string head;  // the message's header section as it came (for from_allowed)
  TargetMap targets;
};

SpoolAgent::SpoolAgent(const SpoolContext& ctx, const config::Config::Spool& spool, asio::io_context& io)
    : impl_(std::make_unique<Impl>(ctx, spool, io)) {}

SpoolAgent::~SpoolAgent() = default;

asio::awaitable<void> SpoolAgent::run() { return impl_->run(); }

Status SpoolAgent::Impl::open_directories() {
  auto open_dir = [](int at, const char* path) {
    return Fd(::openat(at, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  };
  std::error_code ec;
  std::filesystem::create_directories(spool.directory, ec);
  if (spool.name == ctx.config.maildrop.name) prepare_maildrop();
  dir = open_dir(AT_FDCWD, spool.directory.c_str());
  if (!dir)
    return make_error(Errc::io, fmt::format("spool {}: {}: {}", spool.name, spool.directory.string(),
                                            std::strerror(errno)));
  for (std::string_view sub : kSubdirs) {
    std::string s(sub);
    if (::mkdirat(dir.get(), s.c_str(), sub == "quarantine" ? 0700 : 0750) != 0 && errno != EEXIST)
      return make_error(Errc::io, fmt::format("spool {}: cannot make {}/{}: {}", spool.name,
                                              spool.directory.string(), s, std::strerror(errno)));
    Fd fd = open_dir(dir.get(), s.c_str());
    if (!fd)
      return make_error(Errc::io, fmt::format("spool {}: {}/{}: {}", spool.name, spool.directory.string(), s,
                                              std::strerror(errno)));
    // In a directory others write into (the maildrop), one of them could
    // have made it first: only our own, closed to others, is used.
    struct stat own;
    if (::fstat(fd.get(), &own) != 0 || own.st_uid != ::geteuid() || (own.st_mode & 002) != 0)
      return make_error(Errc::denied, fmt::format("spool {}: {}/{} is not this server's own directory (owner uid {}); "
                                                  "remove it and restart", spool.name, spool.directory.string(), s,
                                                  own.st_uid));
    if (spool.name == ctx.config.maildrop.name) (void)::fchmod(fd.get(), 0700);
    (sub == "error" ? error_dir : sub == "done" ? done_dir : quarantine_dir) = std::move(fd);
  }
  return {};
}

// prepare_maildrop - sendmail's maildrop: any local user may create a file
// there (the kernel makes it theirs, which is how the daemon knows who sent
// it), none may list, read or remove another's (mode 1733, sticky, as
// Postfix's world-writable maildrop was). Inside data_dir, data_dir is made
// passable (0711) and everything else in it kept from other users.
void SpoolAgent::Impl::prepare_maildrop() {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (::chmod(spool.directory.c_str(), 01733) != 0)
    log->warn("warning: cannot make {} mode 1733: {}", spool.directory.string(), std::strerror(errno));
  const fs::path data_dir = ctx.config.data_dir;
  if (spool.directory.parent_path().lexically_normal() != data_dir.lexically_normal()) return;
  struct stat st;
  if (::stat(data_dir.c_str(), &st) == 0) (void)::chmod(data_dir.c_str(), (st.st_mode & 0700) | 0711);
  for (const auto& e : fs::directory_iterator(data_dir, ec)) {
    if (e.path().filename() == spool.directory.filename()) continue;
    if (::lstat(e.path().c_str(), &st) == 0 && !S_ISLNK(st.st_mode) && (st.st_mode & 077) != 0)
      (void)::chmod(e.path().c_str(), st.st_mode & 07700);
  }
}

// forget_stale_checkpoints - rows of files no longer here (a crash between
// a file's removal and its row's): dropped at start, before any is taken.
void SpoolAgent::Impl::forget_stale_checkpoints() {
  auto rows = ctx.queue.spool_checkpoints(spool.name);
  if (!rows) {
    log->warn("warning: spool {}: {}", spool.name, rows.error().message);
    return;
  }
  std::set<std::tuple<std::uint64_t, std::uint64_t, std::uint64_t, std::int64_t>> present;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(spool.directory, ec)) {
    struct stat st;
    if (::fstatat(dir.get(), e.path().filename().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
      present.insert({st.st_dev, st.st_ino, static_cast<std::uint64_t>(st.st_size), mtime_ns(st)});
  }
  for (const auto& r : *rows) {
    if (present.contains({r.file.device, r.file.inode, r.file.size, r.file.mtime_ns})) note_checkpoint(r);
    else forgotten.push_back(r.file);
  }
  forget_now();
}

asio::awaitable<void> SpoolAgent::Impl::run() {
  auto o = Owners::resolve(spool);
  if (!o) {
    log->error("error: {}", o.error().message);
    co_return;
  }
  owners = std::move(*o);
  std::vector<std::string> own_domains{spool.sender_domain};
  for (const auto& d : ctx.config.local_domains) own_domains.push_back(d);
  auto p = spool::parse_sender_policy(spool.sender_policy, spool.trusted_users, spool.sender_map, own_domains);
  if (!p) {
    log->error("error: spool {}: {}", spool.name, p.error().message);
    co_return;
  }
  policy = std::move(*p);
  if (auto st = open_directories(); !st) {
    log->error("error: {}", st.error().message);
    co_return;
  }
  forget_stale_checkpoints();
  Fd inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify || ::inotify_add_watch(inotify.get(), spool.directory.c_str(),
                                      IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_ATTRIB | IN_ONLYDIR) < 0)
    log->warn("warning: spool {}: no inotify ({}): the directory is read every {} s", spool.name,
              std::strerror(errno), std::chrono::duration_cast<std::chrono::seconds>(spool.scan_interval).count());
  else
    asio::co_spawn(io, watch(std::move(inotify)), asio::detached);
  log->info("spool {}: taking mail from {}", spool.name, spool.directory.string());
  scan();
  asio::co_spawn(io, scan_every(), asio::detached);
  // The dispatcher: names to examine, as many files taken at once as the
  // spool allows, names waiting to settle looked at again when due.
  for (;;) {
    const auto now = Clock::now();
    while (!waiting.empty() && waiting.begin()->first <= now) {
      ready.emplace_back(std::move(waiting.begin()->second), false);
      waiting.erase(waiting.begin());
    }
    while (running < spool.concurrency && !ready.empty()) {
      auto [name, renamed] = std::move(ready.front());
      ready.pop_front();
      examine(name, renamed);
    }
    if (running == 0 || forgotten.size() >= 256) forget_now();
    if (overflowed && known.size() < spool.backlog / 2) {
      overflowed = false;
      scan();  // the files the backlog had no room for
      continue;
    }
    wake.expires_at(waiting.empty() ? Clock::time_point::max() : waiting.begin()->first);
    std::error_code ec;
    co_await wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (io.stopped()) co_return;
  }
}

asio::awaitable<void> SpoolAgent::Impl::watch(Fd inotify) {
  asio::posix::stream_descriptor in(io, inotify.release());
  alignas(struct inotify_event) char buf[64 * 1024];
  for (;;) {
    std::error_code ec;
    std::size_t n = co_await in.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    for (std::size_t at = 0; at + sizeof(struct inotify_event) <= n;) {
      const auto* e = reinterpret_cast<const struct inotify_event*>(buf + at);
      at += sizeof(struct inotify_event) + e->len;
      if (e->mask & IN_Q_OVERFLOW) {
        scan();  // events were lost: read the directory
        continue;
      }
      if (e->len == 0) continue;
      std::string name(e->name);
      if ((e->mask & IN_ATTRIB) && known.contains(name)) reconsider(name);
      else enqueue(std::move(name), (e->mask & IN_MOVED_TO) != 0);
    }
  }
}

asio::awaitable<void> SpoolAgent::Impl::scan_every() {
  asio::steady_timer t(io);
  for (;;) {
    t.expires_after(spool.scan_interval);
    std::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    scan();
  }
}

void SpoolAgent::Impl::scan() {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(spool.directory, ec))
    enqueue(e.path().filename().string(), false);
  if (ec) log->warn("warning: spool {}: cannot read {}: {}", spool.name, spool.directory.string(), ec.message());
}

void SpoolAgent::Impl::enqueue(std::string name, bool renamed) {
  // Names beginning with "." are a writer's files in the making.
  if (name.empty() || name.front() == '.') return;
  for (auto sub : kSubdirs)
    if (name == sub) return;
  // Memory stays bounded however many files come at once: past the
  // backlog, names are left to a scan once it has halved.
  if (known.size() >= spool.backlog && !known.contains(name)) {
    overflowed = true;
    return;
  }
  if (!known.insert(name).second) return;
  ready.emplace_back(std::move(name), renamed);
  wake.cancel();
}

void SpoolAgent::Impl::reconsider(const std::string& name) {
  // A linear look: attribute changes are rare, the backlog bounded.
  for (auto it = waiting.begin(); it != waiting.end(); ++it) {
    if (it->second != name) continue;
    waiting.erase(it);
    ready.emplace_back(name, false);
    wake.cancel();
    return;
  }
}

void SpoolAgent::Impl::defer(const std::string& name, Clock::duration wait) {
  waiting.emplace(Clock::now() + wait, name);  // stays known
  wake.cancel();
}

// examine - what to do with a name: nothing (gone), quarantine, wait for
// it to settle, or take it.
void SpoolAgent::Impl::examine(const std::string& name, bool renamed) {
  struct stat st;
  if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    known.erase(name);
    return;
  }
  const auto age = std::chrono::system_clock::now().time_since_epoch() - std::chrono::nanoseconds(mtime_ns(st));
  // An mtime in the future tells nothing of a writer (and must not hold a
  // name, and a place in the backlog, for years): such a file is settled.
  const bool settled = renamed || age >= spool.settle_time || age < std::chrono::seconds(-1);
  if (S_ISLNK(st.st_mode)) return quarantine(name, "a symbolic link", st.st_uid, 0);
  if (!S_ISREG(st.st_mode)) return quarantine(name, kind_of(st.st_mode), st.st_uid, 0);
  if (!settled) return defer(name, spool.settle_time - age);
  // An empty file is a writer that has not written yet (created, then
  // locked and written): it waits, and goes to quarantine only when it has
  // stayed empty for a scan interval past its settle time.
  if (st.st_size == 0) {
    if (age < spool.settle_time + spool.scan_interval)
      return defer(name, std::max<Clock::duration>(spool.settle_time, std::chrono::seconds(1)));
    return quarantine(name, "an empty file", st.st_uid, 0);
  }
  // A writer that links a file in and then unlinks its own name has two
  // links for a moment; a settled one is a link to a file kept elsewhere.
  if (st.st_nlink > 1) return quarantine(name, fmt::format("a hard link ({} links)", st.st_nlink), st.st_uid, 0);
  if (!owners->allows(st.st_uid))
    return quarantine(name, fmt::format("its owner {} (uid {}) may not submit here", user_name(st.st_uid), st.st_uid),
                      st.st_uid, 0);
  if (static_cast<std::uint64_t>(st.st_size) > spool.max_file_size)
    return quarantine(name, fmt::format("{} octets, over max_file_size {}", st.st_size, spool.max_file_size),
                      st.st_uid, static_cast<std::uint64_t>(st.st_size));
  ++running;
  asio::co_spawn(io, take(name), asio::detached);
}

void SpoolAgent::Impl::quarantine(const std::string& name, std::string_view reason, uid_t uid, std::uint64_t size) {
  known.erase(name);
  std::string to = name;
  int r = -1;
  for (int n = 1; n < 1000; ++n) {
    r = ::renameat2(dir.get(), name.c_str(), quarantine_dir.get(), to.c_str(), RENAME_NOREPLACE);
    if (r == 0 || errno != EEXIST) break;
    to = fmt::format("{}.{}", name, n);
  }
  if (r != 0) {
    if (errno != ENOENT)
      log->error("error: spool {}: cannot move {} to quarantine/: {}", spool.name, printable(name), std::strerror(errno));
    return;
  }
  std::string client = fmt::format("spool={} file={} uid={}", spool.name, name, uid);
  log->warn("warning: {}/{}: quarantined as quarantine/{}: {}", spool.name, printable(name), printable(to), reason);
  ctx.journal.append({0, store::JournalEvent::quarantined, "", "", "", "", client, size, "", std::string(reason)});
}

asio::awaitable<void> SpoolAgent::Impl::take(std::string name) {
  Outcome outcome = Outcome::done;
  Fd fd(::openat(dir.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  struct stat st{};
  if (!fd && errno == ELOOP) {
    quarantine(name, "a symbolic link", 0, 0);
  } else if (!fd) {
    if (errno != ENOENT) log->warn("warning: spool {}: cannot open {}: {}", spool.name, printable(name), std::strerror(errno));
    outcome = errno == ENOENT ? Outcome::done : Outcome::retry;
  } else if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink > 1) {
    // Replaced between the look and the open: looked at again.
    outcome = Outcome::retry;
  } else {
    outcome = co_await take_open(name, std::move(fd), st);
  }
  --running;
  if (outcome == Outcome::retry) defer(name, spool.scan_interval);
  else if (outcome == Outcome::done) known.erase(name);
  if (outcome == Outcome::done && replaced.erase(name)) enqueue(name, false);  // the new file under it
  wake.cancel();
}

asio::awaitable<SpoolAgent::Impl::Outcome> SpoolAgent::Impl::take_open(const std::string& name, Fd fd,
                                                                       const struct stat& st) {
  // A writer still holding a lock (flock or POSIX) is not done.
  struct flock probe{};
  probe.l_type = F_RDLCK;
  probe.l_whence = SEEK_SET;
  if (::flock(fd.get(), LOCK_SH | LOCK_NB) != 0 ||
      (::fcntl(fd.get(), F_GETLK, &probe) == 0 && probe.l_type != F_UNLCK)) {
    defer(name, spool.settle_time.count() > 0 ? spool.settle_time : std::chrono::milliseconds(1000));
    co_return Outcome::waiting;
  }
  if (st.st_size == 0) {  // emptied or not written yet since examine()
    defer(name, std::chrono::seconds(1));
    co_return Outcome::waiting;
  }
  // Renamed within the spool while it was being taken, a file shows up
  // under a second name: it waits until the first take is done.
  if (taking.contains({st.st_dev, st.st_ino})) {
    defer(name, std::chrono::seconds(1));
    co_return Outcome::waiting;
  }
  struct Taking {
    std::set<std::pair<std::uint64_t, std::uint64_t>>& set;
    std::pair<std::uint64_t, std::uint64_t> key;
    ~Taking() { set.erase(key); }
  } taking_this{taking, {st.st_dev, st.st_ino}};
  taking.insert(taking_this.key);
  const store::SpoolFile id{spool.name, st.st_dev, st.st_ino, static_cast<std::uint64_t>(st.st_size), mtime_ns(st)};
  const std::uint64_t resume = checkpoint_of(id);
  FileText file(fd.get(), static_cast<std::uint64_t>(st.st_size));
  auto head = file.piece(0, 4096);
  if (!head) co_return Outcome::retry;
  const spool::Format format = spool::classify(*head);
  spool::StreamLimits sl;
  sl.max_text_line = 998;
  sl.fold_long_lines = spool.fold_long_lines;
  sl.helo_name = spool.name;
  Conversation c(*this, name, st, id, resume);
  auto executor = co_await asio::this_coro::executor;

  // Feed units from a reader over the file from offset, yielding to the
  // other files between reads.
  std::vector<OwnedUnit> units;
  auto collect = [&units](const spool::Unit& u) { units.push_back({u.kind, std::string(u.text), u.transaction}); };
  auto feed_file = [&](spool::StreamReader& reader, std::uint64_t offset, bool converse) -> asio::awaitable<Status> {
    for (std::uint64_t at = offset; at < file.size();) {
      auto chunk = file.piece(at);
      if (!chunk) co_return chunk.error();
      at += chunk->size();
      units.clear();
      if (Status s = reader.feed(*chunk, collect); !s) co_return s;
      if (converse)
        for (const auto& u : units) co_await c.send(u);
      if (converse && c.stopped()) co_return Status{};
      if (at < file.size()) co_await asio::post(executor, asio::use_awaitable);  // the other files' turn
    }
    units.clear();
    Status s = reader.finish(collect);
    if (converse)
      for (const auto& u : units) co_await c.send(u);
    co_return s;
  };
  auto command = [](std::string text) { return OwnedUnit{spool::Unit::Kind::command, text + "\r\n", 0}; };

  switch (format) {
    case spool::Format::garbage:
      quarantine(name, "not mail (neither an SMTP data stream, a message nor a send job)", st.st_uid,
                 static_cast<std::uint64_t>(st.st_size));
      co_return Outcome::done;
    case spool::Format::data_stream: {
      // First the shape of the whole file: a stream cut off inside DATA or
      // with garbage among its commands is quarantined before any of it is
      // sent.
      spool::StreamReader check(sl);
      if (Status s = co_await feed_file(check, 0, false); !s) {
        quarantine(name, s.error().message, st.st_uid, static_cast<std::uint64_t>(st.st_size));
        co_return Outcome::done;
      }
      c.transactions = check.transactions();
      spool::StreamReader reader(sl);
      if (Status s = co_await feed_file(reader, 0, true); !s) co_return Outcome::retry;  // it changed meanwhile
      break;
    }
    case spool::Format::message:
    case spool::Format::send_job: {
      c.transactions = 1;
      if (c.resume >= 1) break;  // committed before a restart
      std::string text;         // a send job's message, built here
      std::string head_text;    // a plain message's header section (Bcc removed)
      std::uint64_t body_at = 0;
      std::string sender;
      std::vector<std::string> rcpts;
      if (format == spool::Format::message) {
        auto piece = file.piece(0, kHeadMax);
        if (!piece) co_return Outcome::retry;
        const std::string h(*piece);
        std::size_t end = h.find("\n\n");
        std::size_t crlf = h.find("\r\n\r\n");
        std::size_t cut = std::min(end == std::string::npos ? std::string::npos : end + 1,
                                   crlf == std::string::npos ? std::string::npos : crlf + 2);
        if (cut == std::string::npos && h.size() == kHeadMax) {
          c.refuse("the header section is over 64 KiB");
          break;
        }
        if (cut == std::string::npos) cut = h.size();
        std::string_view head_view = std::string_view(h).substr(0, cut);
        for (const char* field : {"To", "Cc", "Bcc"})
          for (const auto& v : mime::field_values(head_view, field))
            for (auto& a : mime::addresses(v)) rcpts.push_back(std::move(a));
        auto from = mime::field_values(head_view, "From");
        auto from_addr = from.empty() ? std::vector<std::string>{} : mime::addresses(from.front());
        sender = from_addr.empty() ? c.owner_address() : from_addr.front();
        head_text = mime::without_fields(head_view, "Bcc");
        body_at = cut;
      } else {
        if (static_cast<std::uint64_t>(st.st_size) > ctx.limits.max_message_size) {
          c.refuse("the send job is larger than smtp.max_message_size");
          break;
        }
        std::string whole;
        for (std::uint64_t at = 0; at < file.size();) {
          auto chunk = file.piece(at);
          if (!chunk) co_return Outcome::retry;
          whole.append(*chunk);
          at += chunk->size();
        }
        auto job = spool::parse_send_job(whole);
        if (!job) {
          c.refuse(fmt::format("send job: {}", job.error().message));
          break;
        }
        mime::Composition m;
        m.from = job->from.empty() ? c.owner_address() : job->from;
        m.to = job->to;
        m.cc = job->cc;
        m.reply_to = job->reply_to;
        m.subject = job->subject;
        m.text = job->text;
        m.headers = job->headers;
        std::uint64_t total = 0;
        std::string problem;
        auto read_named = [&](const std::string& path) -> std::optional<std::string> {
          // Read as the job's owner may: never a file they could not read.
          Fd f(open_for(st.st_uid, path));
          struct stat fs;
          if (!f || ::fstat(f.get(), &fs) != 0) {
            problem = fmt::format("{}: not a file the job's owner may read", path);
            return std::nullopt;
          }
          total += static_cast<std::uint64_t>(fs.st_size);
          if (total > ctx.limits.max_message_size) {
            problem = "the attachments are larger than smtp.max_message_size";
            return std::nullopt;
          }
          std::string content(static_cast<std::size_t>(fs.st_size), '\0');
          ssize_t got = ::pread(f.get(), content.data(), content.size(), 0);
          if (got != static_cast<ssize_t>(content.size())) {
            problem = fmt::format("{}: cannot read it", path);
            return std::nullopt;
          }
          return content;
        };
        if (!job->html.empty()) {
          if (auto h = read_named(job->html)) m.html = std::move(*h);
        }
        for (const auto& path : job->attach) {
          if (!problem.empty()) break;
          if (auto a = read_named(path))
            m.attachments.push_back({std::filesystem::path(path).filename().string(), std::move(*a), ""});
        }
        if (!problem.empty()) {
          c.refuse(fmt::format("send job: {}", problem));
          break;
        }
        const std::string mid = QueueIdGenerator().next();
        m.date = rfc5322_date(std::chrono::system_clock::now());
        m.message_id = fmt::format("<{}.{}@{}>", mid, spool.name, ctx.config.hostname);
        m.boundary_seed = mid;
        auto built = mime::build(m);
        if (!built) {
          c.refuse(fmt::format("send job: {}", built.error().message));
          break;
        }
        text = std::move(*built);
        auto from_addr = mime::addresses(m.from);
        sender = from_addr.empty() ? c.owner_address() : from_addr.front();
        for (auto* list : {&job->to, &job->cc, &job->bcc})
          for (const auto& a : *list) rcpts.push_back(a);
      }
      if (rcpts.empty()) {
        c.refuse("no recipients in To, Cc or Bcc");
        break;
      }
      // The envelope as a client would give it, then the text.
      bool utf8 = smtp::has_8bit(sender);
      for (const auto& r : rcpts) utf8 = utf8 || smtp::has_8bit(r);
      co_await c.send(command(fmt::format("EHLO {}", spool.name)));
      co_await c.send(command(fmt::format("MAIL FROM:<{}> BODY=8BITMIME{}", sender, utf8 ? " SMTPUTF8" : "")));
      for (const auto& r : rcpts) co_await c.send(command(fmt::format("RCPT TO:<{}>", r)));
      co_await c.send(command("DATA"));
      spool::StreamReader reader = spool::StreamReader::message(sl);
      units.clear();
      if (format == spool::Format::send_job) {
        (void)reader.feed(text, collect);
        (void)reader.finish(collect);
        for (const auto& u : units) co_await c.send(u);
      } else {
        (void)reader.feed(head_text, collect);
        for (const auto& u : units) co_await c.send(u);
        if (Status s = co_await feed_file(reader, body_at, true); !s) co_return Outcome::retry;
      }
      break;
    }
  }
  if (c.closed && !c.temp_failure && c.transaction + 1 < c.transactions) {
    // The session ended before the file did: what follows was not sent.
    c.note("< ", fmt::format("(the session ended: transactions {} to {} were not sent)", c.transaction + 2,
                             c.transactions));
    for (std::uint64_t t = c.transaction + 1; t < c.transactions; ++t) c.refused.insert(t);
  }
  if (c.temp_failure) {
    log->info("spool {}: {}: deferred: {} transactions taken; the rest is tried again", spool.name, printable(name),
              c.taken);
    co_return Outcome::retry;
  }
  if (!c.refused.empty()) {
    write_error_file(name, c);
    // The report counts as the unit after the last transaction.
    if (c.resume <= c.transactions && spool.report != "none") co_await report(c);
    if (c.temp_failure) co_return Outcome::retry;
  } else if (spool.verify_requests && c.transactions == 0 && c.verifies > 0 && c.resume == 0) {
    co_await verification_report(c);
    if (c.temp_failure) co_return Outcome::retry;
  }
  log->info("spool {}: {}: {} {}, {} transactions, {} taken, {} refused{}", spool.name, printable(name),
            spool::to_string(format), c.resume > 0 ? fmt::format("resumed after {}", c.resume) : "taken",
            c.transactions, c.taken, c.refused.size(), c.refused.empty() ? "" : "; transcript in error/");
  fd.reset();
  finish_file(name, id);
  co_return Outcome::done;
}

void SpoolAgent::Impl::write_error_file(const std::string& name, const Conversation& c) {
  std::string tmp = "." + name + ".tmp";
  Fd f(::openat(error_dir.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640));
  std::string text = c.transcript;
  if (c.transcript_dropped) text += fmt::format("... and {} more lines\n", c.transcript_dropped);
  bool ok = f && ::write(f.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
  // The writer reads its answers: the file is theirs when we may give it.
  if (ok && ::geteuid() == 0) (void)::fchown(f.get(), c.uid, static_cast<gid_t>(-1));
  f.reset();
  if (ok) ok = ::renameat(error_dir.get(), tmp.c_str(), error_dir.get(), name.c_str()) == 0;
  if (!ok) log->warn("warning: spool {}: cannot write error/{}: {}", spool.name, printable(name), std::strerror(errno));
}

// report - the transcript mailed to the file's last sender and/or the
// administrators (CSSMTP's Report ADMIN), from the null sender so that it
// never loops; committed with the checkpoint after the last transaction,
// so a restart does not send it twice.
asio::awaitable<void> SpoolAgent::Impl::report(Conversation& c) {
  std::vector<std::string> to;
  if (spool.report == "sender" || spool.report == "both") {
    // The last sender taken; at the sendmail door, whoever called it.
    if (!c.last_sender.empty()) to.push_back(c.last_sender);
    else if (spool.name == ctx.config.maildrop.name) to.push_back(spool::own_address(policy, submitter(c.uid)));
  }
  if (spool.report == "administrators" || spool.report == "both")
    for (const auto& a : ctx.config.mail_administrators) to.push_back(a);
  std::string subject = fmt::format("Spool {}: {} of {} transactions in {} refused", spool.name, c.refused.size(),
                                    c.transactions, c.name);
  std::string intro = fmt::format(
      "The file {} in the spool {} ({}) held {} transactions; {} were refused and not sent.\r\n"
      "The others were taken. Each command and the reply it got follow; the same\r\n"
      "transcript is in {}/error/{}.",
      c.name, spool.name, spool.directory.string(), c.transactions, c.refused.size(), spool.directory.string(),
      c.name);
  co_await mail_transcript(c, std::move(to), std::move(subject), std::move(intro));
}

// verification_report - a request of `sendmail -bv` (VRFY lines only): the
// answers mailed to the user who asked, as Postfix's sendmail -bv does.
asio::awaitable<void> SpoolAgent::Impl::verification_report(Conversation& c) {
  std::string intro = fmt::format("The addresses asked about (sendmail -bv, by {}) and the answers:",
                                  submitter(c.uid).login);
  // Named first: GCC 12 cannot pass a literal to a coroutine's parameter.
  std::vector<std::string> to{spool::own_address(policy, submitter(c.uid))};
  std::string subject = "Recipient address verification";
  co_await mail_transcript(c, std::move(to), std::move(subject), std::move(intro));
}

asio::awaitable<void> SpoolAgent::Impl::mail_transcript(Conversation& c, std::vector<std::string> to,
                                                        std::string subject, std::string intro) {
  if (to.empty()) co_return;
  mime::Composition m;
  m.from = fmt::format("Mail Delivery System <MAILER-DAEMON@{}>", ctx.config.hostname);
  m.to = to;
  m.subject = std::move(subject);
  m.text = fmt::format("This is the mail system at host {}.\r\n\r\n{}\r\n\r\n{}", ctx.config.hostname, intro,
                       c.transcript);
  if (c.transcript_dropped) m.text += fmt::format("... and {} more lines\r\n", c.transcript_dropped);
  const std::string mid = QueueIdGenerator().next();
  m.date = rfc5322_date(std::chrono::system_clock::now());
  m.message_id = fmt::format("<{}.report@{}>", mid, ctx.config.hostname);
  m.boundary_seed = mid;
  m.headers.emplace_back("Auto-Submitted", "auto-replied");  // RFC 3834 5
  auto text = mime::build(m);
  if (!text) co_return;
  queue::Envelope env;
  env.pickup = queue::Envelope::Pickup{c.uid, submitter(c.uid).login, spool.name, c.name};
  const store::SpoolCheckpoint checkpoint{c.id, c.transactions + 1};
  env.checkpoint = checkpoint;
  for (const auto& a : to) {
    smtp::ParsedPath p = smtp::parse_path(fmt::format("<{}>", a), false, {}, smtp::has_8bit(a));
    if (p.error != smtp::PathError::none) continue;
    Resolution r = resolve_recipient(ctx.recipients, {p.mailbox, 0}, /*may_relay=*/true);
    if (r.decision.status == smtp::RcptStatus::ok) env.recipients.push_back({a, r.targets, "", ""});
  }
  if (env.recipients.empty()) co_return;
  auto commit = [&intake = ctx.intake, &env, &text](auto done) { intake.submit(std::move(env), *text, std::move(done)); };
  auto result = co_await on_completion<Result<queue::Accepted>>(commit);
  if (result) note_checkpoint(checkpoint);
  if (!result) c.temp_failure = true;
  else log->info("spool {}: {}: report {} to {}", spool.name, printable(c.name), result->queue_id, fmt::join(to, ", "));
}

// finish_file - every transaction is committed: the file goes (or moves to
// done/), then its checkpoint row (a crash between the two leaves a row
// forget_stale_checkpoints drops at the next start).
void SpoolAgent::Impl::finish_file(const std::string& name, const store::SpoolFile& id) {
  // Only the file that was read goes: a writer may have renamed a new one
  // onto the name meanwhile (its event was dropped, the name being known),
  // and that one is looked at next.
  struct stat now{};
  if (::fstatat(dir.get(), name.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 &&
      (static_cast<std::uint64_t>(now.st_dev) != id.device || static_cast<std::uint64_t>(now.st_ino) != id.inode)) {
    replaced.insert(name);
    checkpoints.erase({id.device, id.inode});
    forgotten.push_back(id);
    return;
  }
  int r = spool.keep_done ? ::renameat(dir.get(), name.c_str(), done_dir.get(), name.c_str())
                          : ::unlinkat(dir.get(), name.c_str(), 0);
  if (r != 0 && errno != ENOENT) {
    log->error("error: spool {}: cannot {} {}: {}; it would be taken again", spool.name,
               spool.keep_done ? "move to done/" : "remove", printable(name), std::strerror(errno));
    return;  // its checkpoint stays, so it is not
  }
  checkpoints.erase({id.device, id.inode});
  forgotten.push_back(id);
}

Status check_spools(const config::Config& config) {
  namespace fs = std::filesystem;
  auto check = [&](const config::Config::Spool& s, const std::string& where) -> Status {
    auto bad = [&](const std::string& why) {
      return make_error(Errc::invalid, fmt::format("{}: spool {}: {}: {}", where, s.name, s.directory.string(), why));
    };
    std::error_code ec;
    if (fs::exists(s.directory, ec)) {
      if (!fs::is_directory(s.directory, ec)) return bad("not a directory");
    } else {
      // Made at start: the nearest existing ancestor must take it.
      fs::path p = s.directory.parent_path();
      while (!p.empty() && !fs::exists(p, ec) && p != p.parent_path()) p = p.parent_path();
      if (!fs::is_directory(p, ec) || ::access(p.c_str(), W_OK | X_OK) != 0)
        return bad(fmt::format("cannot be made in {}", p.string()));
    }
    if (auto o = Owners::resolve(s); !o) return make_error(Errc::invalid, fmt::format("{}: {}", where, o.error().message));
    if (auto p = spool::parse_sender_policy(s.sender_policy, s.trusted_users, s.sender_map, {}); !p)
      return make_error(Errc::invalid, fmt::format("{}: spool {}: {}", where, s.name, p.error().message));
    return {};
  };
  const std::string file = config.file.empty() ? "<config>" : config.file.string();
  for (const auto& s : config.spools) {
    if (s.name == config.maildrop.name)
      return make_error(Errc::invalid, fmt::format("{}:{}: spool name \"{}\" is the sendmail door's", file, s.line,
                                                   s.name));
    if (auto st = check(s, fmt::format("{}:{}", file, s.line)); !st) return st;
  }
  if (auto st = check(config.maildrop, config.where("sendmail.maildrop")); !st) return st;
  std::vector<fs::path> dirs{config.maildrop.directory};
  for (const auto& s : config.spools) dirs.push_back(s.directory);
  for (std::size_t i = 0; i < dirs.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (dirs[i].lexically_normal() == dirs[j].lexically_normal())
        return make_error(Errc::invalid, fmt::format("{}: two spools share the directory {}", file, dirs[i].string()));
  return {};
}

}  // namespace herald::server
