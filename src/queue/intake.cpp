#include "queue/intake.h"

#include <iterator>
#include <mutex>

#include <fmt/format.h>

#include "base/log.h"
#include "base/text.h"
#include "mime/text.h"

namespace herald::queue {

// kSpooledText - the text indexed of a body spooled to a file (see submit).
constexpr std::size_t kSpooledText = 64 * 1024;

std::string header_value(std::string_view message, std::string_view name) {
  // Bounded: headers are looked at only within the first 64 KiB.
  std::string_view head = message.substr(0, 64 * 1024);
  std::size_t pos = 0;
  while (pos < head.size()) {
    std::size_t eol = head.find("\r\n", pos);
    if (eol == std::string_view::npos || eol == pos) break;  // end of the header section
    std::string_view line = head.substr(pos, eol - pos);
    if (line.size() > name.size() && line[name.size()] == ':' && iequals(line.substr(0, name.size()), name)) {
      std::string value(line.substr(name.size() + 1));
      // RFC 5322 2.2.3: unfold continuation lines.
      std::size_t next = eol + 2;
      while (next < head.size() && (head[next] == ' ' || head[next] == '\t')) {
        std::size_t e = head.find("\r\n", next);
        if (e == std::string_view::npos) break;
        value += head.substr(next, e - next);
        next = e + 2;
      }
      return std::string(trim(value));
    }
    pos = eol + 2;
  }
  return {};
}

// Intake writes the lines of three Postfix programs (and local's, through
// log_local); their loggers are looked up here once, not in spdlog's
// registry (a mutex and a map) for every line.
struct Intake::Logs {
  std::shared_ptr<spdlog::logger> smtpd = log::get("smtpd");
  std::shared_ptr<spdlog::logger> cleanup = log::get("cleanup");
  std::shared_ptr<spdlog::logger> qmgr = log::get("qmgr");
  std::shared_ptr<spdlog::logger> pickup = log::get("pickup");
  std::shared_ptr<spdlog::logger> account = log::get("account");
};

// NoticeHook - on_delivered's function, called from the writer thread and
// replaced from another: under a lock.
struct Intake::NoticeHook {
  std::mutex mutex;
  std::function<void(DeliveredNotice)> notify;
  void operator()(DeliveredNotice n) {
    std::lock_guard lock(mutex);
    if (notify) notify(std::move(n));
  }
};

Intake::Intake(std::string hostname, store::Queue& queue, LocalDelivery local, BodyLimits limits)
    : hostname_(std::move(hostname)),
      queue_(queue),
      local_(std::move(local)),
      limits_(limits),
      budget_(std::make_shared<BodyBudget>(limits.memory_budget)),
      logs_(std::make_shared<const Logs>()),
      notice_(std::make_shared<NoticeHook>()) {}

void Intake::on_delivered(std::function<void(DeliveredNotice)> notify) {
  std::lock_guard lock(notice_->mutex);
  notice_->notify = std::move(notify);
}

namespace {

// wants_success - RFC 3461 NOTIFY as stored ("SUCCESS,FAILURE") names SUCCESS.
bool wants_success(std::string_view notify) { return notify.find("SUCCESS") != std::string_view::npos; }

// header_section - the message up to the blank line that ends its header.
std::string header_section(std::string_view message) {
  std::size_t end = message.find("\r\n\r\n");
  return std::string(end == std::string_view::npos ? message : message.substr(0, end + 4));
}

}  // namespace

std::string Intake::received_header(const Envelope& env, const std::string& queue_id) const {
  // RFC 5321 4.4 / RFC 5322 3.6.7. "for" only with a single recipient, so a
  // copy does not disclose the other (Bcc) recipients.
  // Built in one buffer: this runs for every message.
  std::string out;
  out.reserve(256);
  auto to = std::back_inserter(out);
  if (env.client_ip.empty()) {
    // Made here (RFC 5321 4.4: "by" alone, as Postfix's bounces have it).
    if (env.pickup) fmt::format_to(to, "Received: by {} (Herald, from userid {}) id {}", hostname_, env.pickup->uid, queue_id);
    else fmt::format_to(to, "Received: by {} (Herald) id {}", hostname_, queue_id);
  } else {
    fmt::format_to(to, "Received: from {} ({} [{}])\r\n", printable(env.helo, 100), env.client_name, env.client_ip);
    if (!env.tls.empty()) fmt::format_to(to, "\t{}\r\n", env.tls);
    fmt::format_to(to, "\tby {} (Herald) with {} id {}", hostname_, env.protocol, queue_id);
  }
  if (env.recipients.size() == 1)
    fmt::format_to(to, "\r\n\tfor <{}>", printable(env.recipients.front().address, 300));
  fmt::format_to(to, "; {}\r\n", rfc5322_date(std::chrono::system_clock::now()));
  return out;
}

std::string door_of(const Envelope& env) {
  if (env.pickup) {
    if (env.pickup->spool != "sendmail") return "spool";
    return env.helo == "herald-send" ? "send" : "sendmail";
  }
  if (env.client_ip.empty()) return "local";
  return env.submission ? "submission" : "smtp";
}

std::string identity_of(const Envelope& env) {
  if (env.pickup) {
    std::string who = fmt::format("uid={}({})", env.pickup->uid, env.pickup->login);
    if (!env.pickup->broadcast.empty()) return who + " " + env.pickup->broadcast;
    if (env.pickup->spool == "sendmail") return who;
    return fmt::format("spool={} file={} {}", env.pickup->spool, env.pickup->file, who);
  }
  if (!env.auth_user.empty()) return env.auth_user;
  if (env.client_ip.empty()) return "";
  return fmt::format("{}[{}]", env.client_name, env.client_ip);
}

Incoming Intake::begin(Envelope envelope) {
  std::string queue_id = ids_.next();
  std::string head = received_header(envelope, queue_id);
  return Incoming(*this, std::make_unique<Envelope>(std::move(envelope)), std::move(queue_id), std::move(head));
}

void Intake::submit(Envelope envelope, std::string_view body, std::function<void(Result<Accepted>)> done,
                    Arrival arrival) {
  Incoming message = begin(std::move(envelope));
  message.append(body);
  submit(std::move(message), std::move(done), std::move(arrival));
}

void Intake::submit(Incoming in, std::function<void(Result<Accepted>)> done, Arrival arrival) {
  if (!in.settled_) in.settle();
  const Envelope& env = *in.envelope_;
  if (!in.error_) {
    logs_->cleanup->warn("{}: queue file write error: {}", in.queue_id_, in.error_.error().message);
    done(in.error_.error());
    return;
  }
  store::IncomingMessage m;
  m.queue_id = in.queue_id_;
  m.sender = env.sender;
  if (!env.client_ip.empty()) m.client = fmt::format("{}[{}]", env.client_name, env.client_ip);
  m.checkpoint = env.checkpoint;
  m.door = door_of(env);
  m.identity = identity_of(env);
  m.subject = in.subject_;
  for (const auto& r : env.recipients) m.recipients += (m.recipients.empty() ? "" : ", ") + r.address;
  {
    // The structure IMAP reads, in the stored message's offsets: the
    // headers submission added were not seen by the parser.
    mime::Part structure = in.structure_.finish();
    if (!in.inserted_.empty()) {
      mime::shift(structure, in.inserted_at_, in.inserted_.size());
      if (structure.envelope) {
        if (structure.envelope->date.empty()) structure.envelope->date = in.inserted_date_;
        if (structure.envelope->message_id.empty()) structure.envelope->message_id = in.message_id_;
      }
    }
    // The words the full-text index keeps, for mail that lands in a
    // mailbox: computed here, off the store's writer; a spooled body's
    // text parts are read back from its file (recently written: the page
    // cache), its first kSpooledText octets of text only: the text waits
    // in memory with the message until its commit, and spooled bodies are
    // those the memory budget keeps out of memory (test_big_bodies).
    bool local = false;
    for (const auto& r : env.recipients)
      for (const auto& t : r.targets) local = local || t.local;
    if (local && in.spool_) {
      store::BodySpool* spool = in.spool_.get();
      mime::ReadRange read = [spool](std::uint64_t offset, std::uint64_t length) -> std::optional<std::string> {
        std::string out;
        if (!spool->read(offset, length, out)) return std::nullopt;
        return out;
      };
      m.text = mime::indexable_text(read, structure, kSpooledText).value_or("");  // unreadable: left unindexed
    } else if (local) {
      m.text = mime::indexable_text(in.held_, structure);
    }
    m.structure = mime::encode(structure);
  }
  m.attachments = static_cast<std::uint32_t>(in.attachments_.count());
  m.attachment_names = in.attachments_.names();
  m.message_id = std::move(in.message_id_);
  m.eight_bit = in.eight_bit_;
  m.ret = env.ret;
  m.envid = env.envid;
  // A sender who asked to hear of local deliveries gets the header back.
  bool notices = false;
  for (const auto& r : env.recipients) notices = notices || wants_success(r.notify);
  std::string head;
  if (notices && !env.sender.empty()) head = header_section(in.spool_ ? in.head_copy_ : in.held_);
  // No copy: the body moves, in memory or in its spool.
  if (in.spool_) m.spool = std::move(in.spool_);
  else m.body = std::move(in.held_);
  for (const auto& r : env.recipients) {
    for (const auto& t : r.targets) {
      bool dup = false;
      for (const auto& d : m.deliveries) dup = dup || d.recipient == t.address;
      if (dup) continue;
      store::Delivery d{t.address, to_lower(r.address), t.local, "", "", r.notify, r.orcpt};
      if (d.local) local_.address(d, m.sender);
      m.deliveries.push_back(std::move(d));
    }
  }
  m.rules = &local_;
  // What the log lines need once the commit is done (m itself is moved).
  struct Trace {
    std::string queue_id, sender, client, message_id, sasl_user;
    std::optional<std::uint32_t> pickup_uid;
    std::string account;  // the accounting record's log line, after the queue id
    struct Recipient {
      std::string recipient, original;
      bool local = false;
      std::string notify, orcpt;
    };
    std::vector<Recipient> deliveries;
    DeliveredNotice notice;  // filled with the deliveries it is about
  };
  auto info = std::make_shared<Trace>();
  info->sasl_user = env.auth_user;
  if (env.pickup) info->pickup_uid = env.pickup->uid;
  {
    // Who sent what (the journal's received row carries the same).
    std::string names;
    for (const auto& n : m.attachment_names) names += fmt::format("{}\"{}\"", names.empty() ? "" : ", ", printable_utf8(n));
    info->account = fmt::format("door={} identity=\"{}\" from=<{}> to=<{}> size={} message-id={} subject=\"{}\" "
                                "attachments={}{}{}",
                                m.door, printable_utf8(m.identity), m.sender, printable_utf8(m.recipients), m.size(),
                                m.message_id, printable_utf8(m.subject), m.attachments, names.empty() ? "" : " ",
                                names);
  }
  info->queue_id = m.queue_id;
  info->sender = m.sender;
  info->client = m.client;
  info->message_id = m.message_id;
  for (const auto& d : m.deliveries) info->deliveries.push_back({d.recipient, d.original, d.local, d.notify, d.orcpt});
  if (!head.empty()) {
    info->notice = DeliveredNotice{m.queue_id, m.sender, m.envid, unix_seconds(std::chrono::system_clock::now()),
                                   m.size(), std::move(head), {}};
  }
  std::uint64_t size = m.size();
  auto arrived = env.arrived;
  // The body's memory is the budget's until the commit is done with it.
  auto share = std::make_shared<BodyShare>(std::move(in.share_));
  queue_.commit_message(std::move(m), [info, size, arrived, share, logs = logs_, notice = notice_,
                                       done = std::move(done)](
                                          Result<store::CommitResult> r) {
    share->release();
    if (!r) {
      logs->cleanup->warn("{}: queue file write error: {}", info->queue_id, r.error().message);
      done(r.error());
      return;
    }
    // The client's answer first: the lines below are not part of the commit.
    done(Accepted{info->queue_id});
    // The Postfix sequence of lines that pflogsumm counts: smtpd client=,
    // cleanup message-id=, qmgr from=, one line per recipient, removed.
    // A message made here (a DSN) has no client line, as Postfix's bounces.
    // Taken from a program: Postfix's pickup line instead of smtpd's.
    if (info->pickup_uid)
      logs->pickup->info("{}: uid={} from=<{}>", info->queue_id, *info->pickup_uid, info->sender);
    else if (!info->client.empty() && info->sasl_user.empty())
      logs->smtpd->info("{}: client={}", info->queue_id, info->client);
    else if (!info->client.empty())
      logs->smtpd->info("{}: client={}, sasl_username={}", info->queue_id, info->client,
                        printable(info->sasl_user, 200));
    logs->cleanup->info("{}: message-id={}", info->queue_id, info->message_id);
    logs->account->info("{}: {}", info->queue_id, info->account);
    logs->qmgr->info("{}: from=<{}>, size={}, nrcpt={} (queue active)", info->queue_id, info->sender, size,
                     info->deliveries.size());
    double delay = std::chrono::duration<double>(std::chrono::steady_clock::now() - arrived).count();
    bool all_done = true;
    for (std::size_t i = 0; i < info->deliveries.size(); ++i) {
      const auto& d = info->deliveries[i];
      const auto& o = r->outcomes[i];
      if (o.state == store::RecipientState::pending) {
        all_done = false;  // waits for outbound delivery: its lines come from there
        continue;
      }
      all_done = all_done && o.state != store::RecipientState::deferred;
      log_local(info->queue_id, d.recipient, d.original, delay, o);
      if (!info->notice.head.empty() && d.local && o.state == store::RecipientState::delivered &&
          wants_success(d.notify))
        info->notice.recipients.push_back({d.recipient, d.original, d.orcpt});
    }
    if (all_done) logs->qmgr->info("{}: removed", info->queue_id);
    if (!info->notice.recipients.empty()) (*notice)(std::move(info->notice));
  });
  arrival.reset();  // after the request is queued, so the writer sees it there
}

}  // namespace herald::queue
