// admin/transfer.cpp - herald import maildir | mbox, herald export maildir:
// messages between the store and the files other servers keep
// (admin/mailfiles.h has the formats).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <future>
#include <iterator>
#include <map>
#include <mutex>
#include <system_error>
#include <tuple>

#include <fmt/format.h>

#include "admin/commands.h"
#include "admin/mailfiles.h"
#include "admin/validate.h"
#include "base/text.h"
#include "mime/structure.h"
#include "mime/text.h"

namespace herald::admin {
namespace {

namespace fs = std::filesystem;

// Appends in flight at once: the store's writer batches them into one
// transaction (group commit) instead of one sync each; memory holds at
// most this many messages, or this many octets of them.
constexpr std::size_t kWindow = 64;
constexpr std::uint64_t kWindowOctets = 32ull << 20;

// Appender - messages to the store, a window of them in flight; the report
// is kept under its lock (the store's writer thread completes them).
class Appender {
 public:
  Appender(store::Store& store, std::int64_t user_id, ImportReport& report, const Progress& progress,
           std::size_t total)
      : store_(store), user_id_(user_id), report_(report), progress_(progress), total_(total) {}
  Appender(const Appender&) = delete;
  Appender& operator=(const Appender&) = delete;
  ~Appender() { finish(); }

  // append - one message, its MIME structure and indexed text computed
  // here as IMAP APPEND computes them; `what` names it in a problem.
  void append(const std::string& mailbox, std::string body, std::uint32_t flags, std::vector<std::string> keywords,
              std::int64_t internaldate, std::string what) {
    store::AppendMessage m;
    mime::Stored forms = mime::stored_forms(body);
    m.structure = std::move(forms.structure);
    m.text = std::move(forms.text);
    m.body = std::move(body);
    m.flags = flags;
    m.keywords = std::move(keywords);
    m.internaldate = internaldate;
    const std::uint64_t size = m.body.size();
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return in_flight_ < kWindow && (in_flight_ == 0 || octets_ + size <= kWindowOctets); });
      ++in_flight_;
      octets_ += size;
    }
    store_.mailboxes().append_message(
        user_id_, mailbox, std::move(m),
        [this, mailbox, size, what = std::move(what)](Result<store::Appended> r) {
          std::lock_guard lk(mu_);
          if (r) {
            ++report_.imported;
            report_.octets += size;
            auto it = std::find_if(report_.mailboxes.begin(), report_.mailboxes.end(),
                                   [&](const auto& p) { return p.first == mailbox; });
            if (it == report_.mailboxes.end()) report_.mailboxes.emplace_back(mailbox, 1);
            else ++it->second;
          } else {
            ++report_.failed;
            note(fmt::format("{}: {}", what, r.error().message));
          }
          ++done_;
          --in_flight_;
          octets_ -= size;
          cv_.notify_all();
        });
    show();
  }

  // skip - a file with nothing to import, or that cannot be read.
  void skip(const std::string& what, const std::string& why) {
    {
      std::lock_guard lk(mu_);
      ++report_.skipped;
      ++done_;
      note(fmt::format("{}: {}", what, why));
    }
    show();
  }

  // finish - every append done; the last progress shown.
  void finish() {
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return in_flight_ == 0; });
    }
    show();
  }

 private:
  void note(std::string problem) {
    if (report_.problems.size() < kProblemsKept) report_.problems.push_back(std::move(problem));
  }
  void show() {
    std::size_t done;
    {
      std::lock_guard lk(mu_);
      done = done_;
    }
    if (progress_) progress_(done, total_);
  }

  store::Store& store_;
  const std::int64_t user_id_;
  ImportReport& report_;
  const Progress& progress_;
  const std::size_t total_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t in_flight_ = 0, done_ = 0;
  std::uint64_t octets_ = 0;
};

// Targets - the user's mailboxes an import puts messages into, created
// when missing.
class Targets {
 public:
  Targets(store::Store& store, std::int64_t user_id, ImportReport& report)
      : store_(store), user_id_(user_id), report_(report) {}

  Status load() {
    auto list = store_.mailboxes().list_mailboxes(user_id_);
    if (!list) return list.error();
    existing_ = std::move(*list);
    return {};
  }

  // target - the mailbox messages for `name` go to.
  Result<std::string> target(const std::string& wanted) {
    const std::string name = store::canonical_mailbox_name(wanted);
    if (auto it = resolved_.find(name); it != resolved_.end()) return it->second;
    std::string special;
    if (name.find(store::kHierarchyDelimiter) == std::string::npos)
      for (const auto& s : store::kSpecialUseMailboxes)
        if (iequals(name, s.name)) special = s.special_use;
    std::string into;
    for (const auto& m : existing_)
      if (m.selectable && (m.name == name || (!special.empty() && iequals(m.name, name)))) {
        into = m.name;
        if (m.name == name) break;
      }
    if (into.empty()) {
      // A second mailbox of a special use keeps its name but not the use.
      for (const auto& m : existing_)
        if (!special.empty() && m.special_use == special) special.clear();
      if (auto st = store_.mailboxes().create_mailbox(user_id_, name, special); !st) return st.error();
      if (auto st = store_.mailboxes().set_subscribed(user_id_, name, true); !st) return st.error();
      report_.created.push_back(name);
      if (auto st = load(); !st) return st.error();
      into = name;
    }
    resolved_.emplace(name, into);
    return into;
  }

 private:
  store::Store& store_;
  const std::int64_t user_id_;
  ImportReport& report_;
  std::vector<store::MailboxRecord> existing_;
  std::map<std::string, std::string> resolved_;
};

// read_whole - a file's octets; nullopt with why when it cannot be read.
std::optional<std::string> read_whole(const fs::path& path, std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = fmt::format("cannot read it: {}", std::strerror(errno));
    return std::nullopt;
  }
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    why = "cannot read it: read error";
    return std::nullopt;
  }
  return out;
}

std::string read_small(const fs::path& path) {
  std::string why;
  return read_whole(path, why).value_or("");
}

// MaildirFile - one message file of a folder, and what orders it.
struct MaildirFile {
  fs::path path;
  std::string name;
  std::int64_t uid = 0;         // from dovecot-uidlist; 0 = not listed
  std::int64_t timestamp = 0;   // the name's leading one
};

struct Folder {
  fs::path dir;
  std::string mailbox;
  std::vector<std::string> keywords;  // dovecot-keywords: index = letter - 'a'
  std::vector<MaildirFile> files;
};

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

bool is_maildir(const fs::path& p) { return is_dir(p / "cur") || is_dir(p / "new"); }

// scan_folder - the message files of cur/ and new/ (tmp/ holds deliveries
// under way), in the order the folder's dovecot-uidlist gives, then by
// the time in their names.
Folder scan_folder(const fs::path& dir, std::string mailbox) {
  Folder f{dir, std::move(mailbox), mailfiles::parse_dovecot_keywords(read_small(dir / "dovecot-keywords")), {}};
  const auto uids = mailfiles::parse_dovecot_uidlist(read_small(dir / "dovecot-uidlist"));
  for (const char* sub : {"cur", "new"}) {
    std::error_code ec;
    for (fs::directory_iterator it(dir / sub, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.starts_with('.')) continue;
      std::error_code type_ec;
      if (!it->is_regular_file(type_ec)) continue;
      MaildirFile file{it->path(), name, 0, mailfiles::leading_timestamp(name).value_or(0)};
      if (auto u = uids.find(mailfiles::maildir_base(name)); u != uids.end()) file.uid = u->second;
      f.files.push_back(std::move(file));
    }
  }
  std::sort(f.files.begin(), f.files.end(), [](const MaildirFile& a, const MaildirFile& b) {
    return std::tuple(a.uid == 0, a.uid, a.timestamp, a.name) < std::tuple(b.uid == 0, b.uid, b.timestamp, b.name);
  });
  return f;
}

// mtime_of - a file's modification time in unix seconds; 0 when unknown.
std::int64_t mtime_of(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<std::int64_t>(st.st_mtime);
}

Status io_error(const fs::path& path, const char* what, int err) {
  return make_error(Errc::io, fmt::format("{}: cannot {} it: {}", printable_utf8(path.string()), what, std::strerror(err)));
}

}  // namespace

Result<ImportReport> import_maildir(store::Store& store, const ImportRequest& request, const Progress& progress) {
  auto user = user_of(store, request.address);
  if (!user) return user.error();
  const fs::path root = request.path;
  if (!is_dir(root)) return make_error(Errc::not_found, fmt::format("{}: no such directory", printable_utf8(root.string())));
  if (!is_maildir(root))
    return make_error(Errc::not_found,
                      fmt::format("{}: not a maildir (no cur/ or new/ in it)", printable_utf8(root.string())));
  ImportReport report;
  Targets boxes(store, user->id, report);
  if (auto st = boxes.load(); !st) return st.error();
  // The folders, the root (INBOX) first, then by name: a parent before
  // its children.
  std::vector<Folder> folders;
  folders.push_back(scan_folder(root, store::kInbox));
  std::vector<fs::path> subdirs;
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (it->path().filename().string().starts_with('.') && it->is_directory(type_ec) && is_maildir(it->path()))
      subdirs.push_back(it->path());
  }
  if (ec) return io_error(root, "list", ec.value()).error();
  std::sort(subdirs.begin(), subdirs.end());
  std::size_t total = folders.front().files.size();
  for (const auto& dir : subdirs) {
    auto mailbox = mailfiles::folder_mailbox(dir.filename().string());
    if (!mailbox) {
      ++report.skipped;
      if (report.problems.size() < kProblemsKept)
        report.problems.push_back(fmt::format("{}: not a folder name this store can keep", printable_utf8(dir.string())));
      continue;
    }
    folders.push_back(scan_folder(dir, *mailbox));
    total += folders.back().files.size();
  }
  Appender appender(store, user->id, report, progress, total);
  for (const auto& folder : folders) {
    auto into = boxes.target(folder.mailbox);
    if (!into) {
      appender.finish();
      for (const auto& file : folder.files) appender.skip(file.path.string(), into.error().message);
      continue;
    }
    for (const auto& file : folder.files) {
      std::string why;
      auto content = read_whole(file.path, why);
      if (!content) {
        appender.skip(file.path.string(), why);
        continue;
      }
      if (content->empty()) {
        appender.skip(file.path.string(), "empty");
        continue;
      }
      // new/ holds mail no client has seen: its names have no flags yet.
      auto flags = mailfiles::maildir_flags(file.name, folder.keywords);
      std::int64_t date = mtime_of(file.path);
      if (date <= 0) date = file.timestamp;
      appender.append(*into, mailfiles::crlf(*content), flags.flags, std::move(flags.keywords), date,
                      file.path.string());
    }
  }
  appender.finish();
  return report;
}

Result<ImportReport> import_mbox(store::Store& store, const ImportRequest& request, const Progress& progress) {
  auto user = user_of(store, request.address);
  if (!user) return user.error();
  const fs::path path = request.path;
  if (is_dir(path))
    return make_error(Errc::invalid, fmt::format("{}: a directory, not an mbox file (a maildir: herald import maildir)",
                                                 printable_utf8(path.string())));
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error(path, "read", errno).error();
  ImportReport report;
  Targets boxes(store, user->id, report);
  if (auto st = boxes.load(); !st) return st.error();
  auto into = boxes.target(request.mailbox.empty() ? std::string(store::kInbox) : request.mailbox);
  if (!into) return into.error();
  Appender appender(store, user->id, report, progress, 0);
  mailfiles::MboxReader reader(in);
  while (auto m = reader.next()) {
    if (m->pseudo) continue;  // UW-IMAP's folder data, not mail
    const std::string what = fmt::format("{}:{}", path.string(), m->line);
    if (m->body.empty()) {
      appender.skip(what, "empty message");
      continue;
    }
    appender.append(*into, std::move(m->body), m->flags, std::move(m->keywords), m->internaldate, what);
  }
  appender.finish();
  if (!reader.ok())
    return make_error(Errc::invalid, fmt::format("{}: not an mbox (it does not start with a \"From \" line)",
                                                 printable_utf8(path.string())));
  if (in.bad()) return io_error(path, "read", errno).error();
  // The mailbox named is the import's even when the file held no message.
  if (report.mailboxes.empty()) report.mailboxes.emplace_back(*into, 0);
  return report;
}

// ---- export --------------------------------------------------------------

namespace {

// write_message - content to path through a name in tmp/ (maildir's
// rule: a file appears in cur/ whole).
Status write_message(const fs::path& tmp, const fs::path& path, std::string_view content) {
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return io_error(tmp, "create", errno);
  std::size_t at = 0;
  while (at < content.size()) {
    ssize_t n = ::write(fd, content.data() + at, content.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return io_error(tmp, "write", err);
    }
    at += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) return io_error(tmp, "write", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return io_error(path, "rename", errno);
  return {};
}

Status set_mtime(const fs::path& path, std::int64_t mtime) {
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(mtime);
  times[0].tv_nsec = times[1].tv_nsec = 0;
  if (::utimensat(AT_FDCWD, path.c_str(), times, 0) != 0) return io_error(path, "date", errno);
  return {};
}

Status write_small(const fs::path& dir, const std::string& name, const std::string& content) {
  return write_message(dir / "tmp" / ("." + name), dir / name, content);
}

Status make_dirs(const fs::path& dir) {
  std::error_code ec;
  for (const char* sub : {"cur", "new", "tmp"}) {
    fs::create_directories(dir / sub, ec);
    if (ec) return io_error(dir / sub, "create", ec.value());
  }
  return {};
}

}  // namespace

Result<ExportReport> export_maildir(store::Store& store, const std::string& address, const fs::path& path,
                                    const Progress& progress) {
  auto user = user_of(store, address);
  if (!user) return user.error();
  auto boxes = store.mailboxes().list_mailboxes(user->id);
  if (!boxes) return boxes.error();
  std::error_code ec;
  if (fs::exists(path, ec) && !is_dir(path))
    return make_error(Errc::invalid, fmt::format("{}: exists and is not a directory", printable_utf8(path.string())));
  // INBOX first: the root, which the folders are in.
  std::stable_sort(boxes->begin(), boxes->end(), [](const store::MailboxRecord& a, const store::MailboxRecord& b) {
    return (a.name == store::kInbox) > (b.name == store::kInbox);
  });
  std::size_t total = 0;
  for (const auto& b : *boxes)
    if (b.selectable) total += b.messages;
  ExportReport report;
  std::size_t done = 0;
  if (progress) progress(0, total);
  for (const auto& box : *boxes) {
    if (!box.selectable) continue;
    const fs::path dir = path / mailfiles::mailbox_folder(box.name);
    if (auto st = make_dirs(dir); !st) return st.error();
    if (dir != path)
      if (auto st = write_small(dir, "maildirfolder", ""); !st) return st.error();
    // What an earlier export left: the same names (but the flags) again.
    std::map<std::string, fs::path, std::less<>> earlier;
    for (const char* sub : {"cur", "new"})
      for (fs::directory_iterator it(dir / sub, ec), end; !ec && it != end; it.increment(ec))
        earlier.emplace(std::string(mailfiles::maildir_base(it->path().filename().string())), it->path());
    auto keywords = mailfiles::parse_dovecot_keywords(read_small(dir / "dovecot-keywords"));
    auto messages = store.mailboxes().messages(box.id, 0);
    if (!messages) return messages.error();
    std::string uidlist = fmt::format("3 V{} N{}\n", box.uidvalidity, box.uidnext);
    std::size_t written = 0;
    for (const auto& m : *messages) {
      const std::string base =
          fmt::format("{}.H{}V{}.herald,S={},W={}", m.internaldate, m.uid, box.uidvalidity, m.size, m.size);
      const std::string name =
          base + mailfiles::maildir_info(m.flags, m.keywords, keywords, &report.keywords_dropped);
      const fs::path target = dir / "cur" / name;
      if (auto it = earlier.find(base); it != earlier.end()) {
        if (it->second != target && ::rename(it->second.c_str(), target.c_str()) != 0)
          return io_error(it->second, "rename", errno).error();
      } else {
        auto content = store.mailboxes().read_message(box.id, m.uid);
        if (!content) return content.error();
        if (auto st = write_message(dir / "tmp" / name, target, *content); !st) return st.error();
      }
      if (auto st = set_mtime(target, m.internaldate); !st) return st.error();
      uidlist += fmt::format("{} :{}\n", m.uid, base);
      ++written;
      report.octets += m.size;
      if (progress) progress(++done, total);
    }
    if (!keywords.empty())
      if (auto st = write_small(dir, "dovecot-keywords", mailfiles::format_dovecot_keywords(keywords)); !st)
        return st.error();
    if (auto st = write_small(dir, "dovecot-uidlist", uidlist); !st) return st.error();
    report.mailboxes.emplace_back(box.name, written);
    report.exported += written;
  }
  return report;
}

}  // namespace herald::admin
