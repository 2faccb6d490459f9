// app/run.cpp - the daemon and the store, wired from the configuration;
// passwords and rows between the terminal and the operator commands.
#include "app/run.h"

#include <unistd.h>

#include <filesystem>
#include <algorithm>
#include <fstream>
#include <iostream>
#include <future>
#include <iterator>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "admin/render.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/text.h"
#include "imap/acl.h"
#include "mime/builder.h"
#include "mime/header.h"
#include "queue/alias_expander.h"
#include "queue/intake.h"
#include "net/tls.h"
#include "server/control.h"
#include "server/server.h"
#include "server/startup.h"

namespace herald::app {
namespace {

std::unique_ptr<net::TlsServer> make_tls(const config::Config& c) {
  net::TlsOptions o;
  if (!c.tls_cert.empty()) o.certificates.push_back({c.tls_cert, c.tls_key});
  for (const auto& ck : c.tls_certificates) o.certificates.push_back({ck.cert, ck.key});
  o.self_signed_dir = c.data_dir / "tls";
  o.hostname = c.hostname;
  o.min_version = c.tls_min_version;
  o.ciphers = c.tls_ciphers;
  o.ciphersuites = c.tls_ciphersuites;
  return check(net::TlsServer::create(o));
}

}  // namespace

admin::NewPassword read_new_password(bool from_stdin, const std::string& password, const std::string& hash) {
  int sources = int(from_stdin) + int(!password.empty()) + int(!hash.empty());
  if (sources != 1) fail("give exactly one of --password-stdin, --password, --password-hash", 2);
  if (!hash.empty()) return {admin::NewPassword::Kind::hash, hash};
  if (!from_stdin) return {admin::NewPassword::Kind::plaintext, password};
  std::string pw;
  std::getline(std::cin, pw);
  if (!pw.empty() && pw.back() == '\r') pw.pop_back();
  if (pw.empty()) fail("no password on standard input", 2);
  return {admin::NewPassword::Kind::plaintext, pw};
}

void print_queue_list(store::Store& st, const admin::QueueListRequest& q, bool json) {
  auto end = print_list(st, q, json, admin::queue_list);
  if (!json && end.rows == 0 && q.after.empty() && q.sender.empty() && q.recipient.empty() && q.state_name.empty() &&
      q.older_than.empty())
    std::cout << "Mail queue is empty\n";
}

void print_queue_show(store::Store& st, const std::string& queue_id, bool json) {
  auto rows = check_request(admin::queue_show(st, queue_id));
  admin::RowWriter out(std::cout, json);
  for (const auto& r : rows) out.write(r);
  out.finish();
}

namespace {

// wake_daemon - the running daemon's agent looks at the queue now, its
// suspended next hops too; nothing when no daemon runs (the next start
// does the same).
void wake_daemon(const std::filesystem::path& data_dir) { (void)server::control_request(data_dir, "flush"); }

}  // namespace

void print_queue_change(store::Store& st, store::QueueAction action, const admin::QueueChange& request,
                        const char* done, bool json, const std::filesystem::path& data_dir) {
  // The daemon ends its suspensions before the rows are due (else its next
  // look could suspend them again) and looks at once after.
  const bool due = action == store::QueueAction::retry || action == store::QueueAction::release;
  if (due) wake_daemon(data_dir);
  std::size_t n = check_request(admin::queue_change(st, action, request));
  if (due) wake_daemon(data_dir);
  if (json) std::cout << fmt::format("{{\"changed\": {}}}\n", n);
  else std::cout << fmt::format("{} {} recipient{}\n", done, n, n == 1 ? "" : "s");
}

void print_deadletter_show(store::Store& st, const std::string& queue_id, bool json) {
  auto letter = check_request(admin::deadletter_show(st, queue_id));
  if (json) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& r : letter.rows) rows.push_back(admin::to_json(r));
    std::cout << admin::dump({{"rows", rows}, {"message", letter.message}}) << "\n";
    return;
  }
  for (const auto& r : letter.rows) std::cout << printable_utf8(admin::text_line(r)) << "\n";
  std::cout << "\n";
  std::string_view rest = letter.message;
  while (!rest.empty()) {
    std::size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    if (line.ends_with('\r')) line.remove_suffix(1);
    std::cout << printable_utf8(line) << "\n";
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  }
}

void print_deadletter_change(store::Store& st, store::QueueAction action, const admin::QueueChange& request,
                             const std::filesystem::path& dir, const char* done, bool json) {
  if (action == store::QueueAction::resend) wake_daemon(dir.parent_path());
  std::size_t n = check_request(admin::deadletter_change(st, action, request, dir));
  if (action == store::QueueAction::resend) wake_daemon(dir.parent_path());
  if (json) std::cout << fmt::format("{{\"changed\": {}}}\n", n);
  else std::cout << fmt::format("{} {} dead letter{}\n", done, n, n == 1 ? "" : "s");
}

void print_targets(store::Store& st, const std::filesystem::path& data_dir, bool json) {
  auto counts = check_request(st.queue().counts());
  auto count = [&counts](store::RecipientState s) {
    auto it = counts.find(s);
    return it == counts.end() ? std::uint64_t{0} : it->second;
  };
  auto answer = check_request(server::control_request(data_dir, "targets"));
  nlohmann::json view = nlohmann::json::parse(answer, nullptr, /*allow_exceptions=*/false);
  if (view.is_discarded() || !view.contains("targets")) fail("the daemon's answer is not a targets view: " + answer, 1);
  nlohmann::json queue = {{"pending", count(store::RecipientState::pending)},
                          {"deferred", count(store::RecipientState::deferred)},
                          {"held", count(store::RecipientState::held)},
                          {"dead", count(store::RecipientState::dead)}};
  if (json) {
    view["queue"] = queue;
    std::cout << admin::dump(view) << "\n";
    return;
  }
  // CSSMTP's D,TARGET columns.
  std::cout << fmt::format("{:<40} {:<15} {:<5} {:>10} {:<3} {:>8} {:>8} {:>9}  {}\n", "TARGET", "STATE", "ESMTP",
                           "SIZE", "TLS", "ATTEMPTS", "SENT", "CONNFAIL", "LAST REPLY");
  for (const auto& t : view["targets"])
    std::cout << printable_utf8(fmt::format(
                     "{:<40} {:<15} {:<5} {:>10} {:<3} {:>8} {:>8} {:>9}  {}", t.value("target", ""),
                     t.value("state", ""), t.value("esmtp", false) ? "yes" : "no", t.value("size_limit", 0),
                     t.value("tls", false) ? "yes" : "no", t.value("mail_attempts", 0), t.value("mail_sent", 0),
                     t.value("connect_failures", 0), t.value("last_reply", "")))
              << "\n";
  const auto& totals = view["totals"];
  std::cout << fmt::format("since {}: {} sent, {} retried, {} undeliverable, {} dead letters\n",
                           admin::iso_time(totals.value("since", std::int64_t{0}) * 1000), totals.value("sent", 0),
                           totals.value("retried", 0), totals.value("undeliverable", 0), totals.value("dead_letters", 0));
  std::cout << fmt::format("queue now: {} pending, {} waiting for retry, {} held, {} dead letters kept\n",
                           count(store::RecipientState::pending), count(store::RecipientState::deferred),
                           count(store::RecipientState::held), count(store::RecipientState::dead));
}

std::unique_ptr<store::Store> open_store(const config::Config& c, bool sweep_blobs) {
  store::StoreOptions o;
  o.data_dir = c.data_dir;
  o.inline_body_max = c.inline_body_max;
  o.commit_wait = c.store_commit_wait;
  o.directory_cache = c.store_directory_cache;
  o.config_domains = c.local_domains;
  o.sweep_blobs = sweep_blobs;
  for (const auto& name : c.journal_skip)
    if (auto event = store::parse_journal_event(name)) o.journal_skip.push_back(*event);
  return check(store::open(o));
}

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(fmt::format("{}: cannot read it", path), 1);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

namespace {

// Progress - a line on a terminal that says how far a long job is;
// nothing when standard output is not one.
class Progress {
 public:
  explicit Progress(std::string what, bool on = true) : what_(std::move(what)), tty_(on && ::isatty(1) == 1) {}
  void show(std::size_t done, std::size_t total = 0) {
    if (!tty_ || (done % 500 != 0 && done != total)) return;
    draw(done, total);
  }
  // advance - show, for counts that move on by more than one at a time:
  // drawn each time they pass a multiple of 500, and at the total.
  void advance(std::size_t done, std::size_t total = 0) {
    if (!tty_ || (done / 500 == shown_ / 500 && done != total) || done == shown_) return;
    shown_ = done;
    draw(done, total);
  }
  void draw(std::size_t done, std::size_t total) {
    if (total == 0) {
      std::cout << fmt::format("\r{}: {}", what_, done) << std::flush;
      return;
    }
    const std::size_t width = 30, filled = total ? done * width / total : width;
    std::cout << fmt::format("\r{}: [{}{}] {}/{}", what_, std::string(filled, '#'), std::string(width - filled, ' '),
                             done, total)
              << std::flush;
  }
  // end - the last count (a count without a total shows it only here and
  // every 500), and the line ended.
  void end(std::size_t done, std::size_t total = 0) {
    if (!tty_) return;
    if (done % 500 != 0 && total == 0) std::cout << fmt::format("\r{}: {}", what_, done);
    std::cout << "\n" << std::flush;
  }

 private:
  std::string what_;
  bool tty_;
  std::size_t shown_ = 0;
};

// broadcast - herald send --to-all/--to-list: one message, committed by
// this process to the store (the daemon need not run), whose body is stored
// once however many mailboxes it lands in (docs/ARCHITECTURE.md "The
// store"); local copies are delivered in the commit, others queued.
int broadcast(const SendRequest& r, const config::Config& c, const std::string& sender, const std::string& text) {
  if (!r.to_all.empty() && !r.to_list.empty()) fail("give --to-all or --to-list, not both", 2);
  if (!c.log_file.empty()) log::setup(c.log_file, c.log_level, c.hostname);
  else log::setup("", "warning", c.hostname);  // intake's lines would fill the terminal
  auto st = open_store(c);
  std::vector<std::string> rcpts;
  Progress reading("recipients");
  if (!r.to_all.empty()) {
    store::ListQuery q;
    q.domain = to_lower(r.to_all);
    q.limit = 500;
    for (;;) {
      auto page = check(st->directory().list_users(q));
      for (auto& u : page) rcpts.push_back(std::move(u.address));
      reading.show(rcpts.size());
      if (page.size() < q.limit) break;
      q.after = rcpts.back();
    }
  } else {
    std::ifstream in(r.to_list);
    if (!in) fail(fmt::format("{}: cannot read it", r.to_list), 1);
    for (std::string line; std::getline(in, line);) {
      std::string_view a = trim(line);
      if (!a.empty() && a.back() == '\r') a.remove_suffix(1);
      if (a.empty() || a.front() == '#') continue;
      rcpts.push_back(spool::qualify(a, c.maildrop.sender_domain));
    }
  }
  reading.end(rcpts.size());
  for (const auto* list : {&r.to, &r.cc, &r.bcc})
    for (const auto& a : *list) rcpts.push_back(spool::qualify(a, c.maildrop.sender_domain));
  if (rcpts.empty()) fail(r.to_all.empty() ? "no addresses in the list" : "no mailboxes in " + r.to_all, 1);
  queue::AliasExpander expander(st->directory(), {static_cast<int>(c.alias_max_depth), c.alias_max_targets});
  queue::Envelope env;
  env.sender = sender;
  env.helo = "herald-send";
  env.submission = true;
  env.pickup = queue::Envelope::Pickup{static_cast<std::uint32_t>(::getuid()), login_name(), "sendmail", "",
                                       r.to_all.empty() ? "--to-list " + r.to_list : "--to-all " + r.to_all};
  Progress resolving("addressing");
  std::size_t refused = 0;
  for (std::size_t i = 0; i < rcpts.size(); ++i) {
    queue::Expansion e = expander.expand(rcpts[i]);
    if (e.status == queue::ExpansionStatus::ok || e.status == queue::ExpansionStatus::not_local) {
      std::vector<queue::Target> targets = e.status == queue::ExpansionStatus::ok
                                               ? std::move(e.targets)
                                               : std::vector<queue::Target>{{to_lower(rcpts[i]), false}};
      env.recipients.push_back({rcpts[i], std::move(targets), "", ""});
    } else {
      ++refused;
      std::cerr << fmt::format("herald send: <{}>: not delivered (no such mailbox, or its aliases fail)\n",
                               printable_utf8(rcpts[i]));
    }
    resolving.show(i + 1, rcpts.size());
  }
  resolving.end(rcpts.size(), rcpts.size());
  if (env.recipients.empty()) fail("no recipient could be addressed", 1);
  queue::Intake intake(c.hostname, st->queue(),
                       queue::LocalDelivery(std::chrono::duration_cast<std::chrono::seconds>(c.queue_retry_interval)),
                       queue::BodyLimits{c.smtp.body_memory_max, c.smtp.memory_budget});
  const std::size_t count = env.recipients.size();
  if (::isatty(1)) std::cout << fmt::format("committing one message to {} recipients...", count) << std::flush;
  std::promise<Result<queue::Accepted>> done;
  auto accepted = done.get_future();
  intake.submit(std::move(env), text, [&done](Result<queue::Accepted> a) { done.set_value(std::move(a)); });
  auto a = accepted.get();
  if (::isatty(1)) std::cout << "\n";
  if (!a) fail(a.error().message, 1);
  std::cout << fmt::format("queued as {}: {} recipients{}\n", a->queue_id, count,
                           refused ? fmt::format(", {} not addressable", refused) : "");
  return refused ? 1 : 0;
}

}  // namespace

void print_mailbox_list(store::Store& st, const std::string& address, bool json) {
  auto rows = check_request(admin::mailbox_list(st, address));
  if (!json) std::cout << admin::mailbox_header() << "\n";
  admin::RowWriter out(std::cout, json);
  for (const auto& r : rows) out.write(r);
  out.finish();
}

void print_quota(const admin::QuotaInfo& q, bool json) {
  if (json) {
    std::cout << admin::dump(admin::to_json(q)) << "\n";
    return;
  }
  std::cout << printable_utf8(q.address) << "\n";
  if (q.quota_bytes == 0) std::cout << "  limit: unlimited\n";
  else std::cout << fmt::format("  limit: {} ({} octets)\n", admin::human_size(q.quota_bytes), q.quota_bytes);
  std::cout << fmt::format("  used:  {} ({} octets)", admin::human_size(q.used_bytes), q.used_bytes);
  if (q.quota_bytes) std::cout << fmt::format(", {:.1f}%", 100.0 * double(q.used_bytes) / double(q.quota_bytes));
  std::cout << "\n";
}

void print_acl(const admin::AclInfo& acl, bool json) {
  if (json) {
    std::cout << admin::dump(admin::to_json(acl)) << "\n";
    return;
  }
  std::cout << fmt::format("{}  {}  (owner)\n", printable_utf8(acl.owner), imap::Rights::all().str());
  for (const auto& e : acl.entries) std::cout << fmt::format("{}  {}\n", printable_utf8(e.identifier), e.rights);
}

void print_flags(const std::vector<admin::MessageFlags>& rows, bool json) {
  admin::RowWriter out(std::cout, json);
  for (const auto& r : rows) out.write(r);
  out.finish();
}

namespace {

// by_mailbox - "  NAME  N" lines, the names in one column.
void by_mailbox(const std::vector<std::pair<std::string, std::size_t>>& rows, const char* what) {
  std::size_t width = 0;
  for (const auto& [name, n] : rows) width = std::max(width, printable_utf8(name).size());
  for (const auto& [name, n] : rows)
    std::cout << fmt::format("  {:<{}}  {} {}\n", printable_utf8(name), width, n, what);
}

}  // namespace

void import_mail(store::Store& st, bool mbox, const admin::ImportRequest& request, bool json) {
  Progress progress("importing", !json);
  std::size_t last = 0, last_total = 0;
  auto show = [&](std::size_t done, std::size_t total) {
    last = done;
    last_total = total;
    progress.advance(done, total);
  };
  auto report = check_request(mbox ? admin::import_mbox(st, request, show) : admin::import_maildir(st, request, show));
  progress.end(last, last_total);
  if (json) {
    std::cout << admin::dump(admin::to_json(report)) << "\n";
  } else {
    std::cout << fmt::format("imported {} message{}, {} ({} octets)\n", report.imported,
                             report.imported == 1 ? "" : "s", admin::human_size(report.octets), report.octets);
    by_mailbox(report.mailboxes, "messages");
    if (!report.created.empty()) {
      std::cout << "created:";
      for (const auto& name : report.created) std::cout << " " << printable_utf8(name);
      std::cout << "\n";
    }
    if (report.skipped) std::cout << fmt::format("skipped {} (unreadable or empty)\n", report.skipped);
    if (report.failed) std::cout << fmt::format("failed {}\n", report.failed);
    if (!report.problems.empty()) {
      const std::size_t all = report.skipped + report.failed;
      std::cout << (all > report.problems.size() ? fmt::format("problems (the first {} of {}):\n",
                                                               report.problems.size(), all)
                                                 : std::string("problems:\n"));
      for (const auto& p : report.problems) std::cout << "  " << printable_utf8(p) << "\n";
    }
  }
  if (report.failed)
    fail(fmt::format("{} message{} not imported", report.failed, report.failed == 1 ? "" : "s"), 1);
}

void export_mail(store::Store& st, const std::string& address, const std::filesystem::path& path, bool json) {
  Progress progress("exporting", !json);
  std::size_t last = 0, last_total = 0;
  auto show = [&](std::size_t done, std::size_t total) {
    last = done;
    last_total = total;
    progress.advance(done, total);
  };
  auto report = check_request(admin::export_maildir(st, address, path, show));
  progress.end(last, last_total);
  if (json) {
    std::cout << admin::dump(admin::to_json(report)) << "\n";
    return;
  }
  std::cout << fmt::format("exported {} message{}, {} ({} octets) to {}\n", report.exported,
                           report.exported == 1 ? "" : "s", admin::human_size(report.octets), report.octets,
                           printable_utf8(path.string()));
  by_mailbox(report.mailboxes, "messages");
  if (report.keywords_dropped)
    std::cout << fmt::format("{} keyword{} left out: a maildir folder has letters for 26\n", report.keywords_dropped,
                             report.keywords_dropped == 1 ? "" : "s");
}

int send(const SendRequest& r) {
  if (!r.body.empty() && !r.body_file.empty()) fail("give --body or --body-file, not both", 2);
  std::optional<config::Config> c;
  if (!r.print) c = check(config::load(r.config_path));
  mime::Composition m;
  m.from = r.from.empty() && c ? own_address(*c) : r.from;
  if (m.from.empty()) fail("--print needs --from", 2);
  m.to = r.to;
  m.cc = r.cc;
  m.reply_to = r.reply_to;
  m.subject = r.subject;
  if (!r.body_file.empty()) m.text = read_file(r.body_file);
  else if (!r.body.empty()) m.text = r.body;
  else m.text = std::string(std::istreambuf_iterator<char>(std::cin), {});
  if (!r.html_file.empty()) m.html = read_file(r.html_file);
  for (const auto& path : r.attach)
    m.attachments.push_back({std::filesystem::path(path).filename().string(), read_file(path), ""});
  for (const auto& h : r.headers) {
    std::size_t colon = h.find(':');
    if (colon == std::string::npos) fail(fmt::format("--header {}: write \"Name: value\"", h), 2);
    m.headers.emplace_back(std::string(trim(std::string_view(h).substr(0, colon))),
                           std::string(trim(std::string_view(h).substr(colon + 1))));
  }
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  const std::string id = QueueIdGenerator().next();
  m.date = rfc5322_date(std::chrono::system_clock::now());
  m.message_id = fmt::format("<{}@{}>", id, c ? c->hostname : std::string(host));
  m.boundary_seed = id;
  auto message = mime::build(m);
  if (!message) fail(message.error().message, 2);
  if (r.print) {
    std::cout << *message;
    return std::cout.flush() ? 0 : 1;
  }
  auto from = mime::addresses(m.from);
  if (from.size() != 1) fail(fmt::format("--from {}: one address", m.from), 2);
  const std::string sender = spool::qualify(from.front(), c->maildrop.sender_domain);
  if (!r.to_all.empty() || !r.to_list.empty()) return broadcast(r, *c, sender, *message);
  // Submitted as sendmail submits: the daemon checks the sender against
  // the calling user (sendmail.sender_policy).
  spool::Message drop{sender, {}, std::move(*message)};
  for (const auto* list : {&r.to, &r.cc, &r.bcc})
    for (const auto& a : *list) drop.recipients.push_back(spool::qualify(a, c->maildrop.sender_domain));
  if (drop.recipients.empty()) fail("no recipients: --to, --cc or --bcc", 2);
  check(to_maildrop(*c, spool::maildrop_stream(drop, {}, "herald-send")));  // the door "send"
  std::cout << fmt::format("sent from <{}> to {} recipients\n", drop.sender, drop.recipients.size());
  return 0;
}

int serve(const std::string& path) {
  config::Config c = check(config::load(path));
  check(server::check_environment(c));  // the same checks as `herald config check`
  log::setup(c.log_file, c.log_level, c.hostname);
  // Dovecot's master does the same: the soft limit of 1024 is for select(),
  // which Herald does not use; running out of descriptors under load fails
  // accepts and message writes alike.
  auto fds = server::raise_fd_limit();
  if (auto need = server::fds_needed(c); fds.soft < need)
    log::get("master")->warn(
        "warning: open file limit {} (hard limit {}) is below the {} that the configured max_connections need; "
        "raise the hard limit (ulimit -Hn, systemd LimitNOFILE=) or lower max_connections",
        fds.soft, fds.hard, need);
  else if (fds.soft != fds.before)
    log::get("master")->info("open file limit raised from {} to {}", fds.before, fds.soft);
  // Another daemon on this data_dir: refused before the store is opened
  // (opening it for serving empties blobs/tmp, that daemon's bodies).
  if (server::control_request(c.data_dir, "status"))
    fail(fmt::format("{}: another herald serves this data_dir", server::control_path(c.data_dir).string()), 1);
  auto st = open_store(c, true);
  auto tls = make_tls(c);
  std::vector<std::string> certs = tls->describe();
  server::Server server(c, *st, std::move(tls));
  check(server.start());
  std::cout << fmt::format("herald {} serving {} (data in {})\n", HERALD_VERSION, c.hostname, c.data_dir.string());
  for (const auto& l : server.listening()) std::cout << "  listening: " << l << "\n";
  for (const auto& d : certs) std::cout << "  certificate: " << d << "\n";
  std::cout << fmt::format("add a user:  build/herald user add alice@{} --password-stdin --config {}\n",
                           c.local_domains.empty() ? "example.test" : c.local_domains.front(), path);
  std::cout.flush();
  server.run();
  log::get("master")->info("stopped");
  log::flush();
  return 0;
}

}  // namespace herald::app
