// store/sqlite_queue.cpp - the durable commit of incoming messages and the
// queue rows of their recipients, in SQLite. Mail policy (quota, replies,
// retry times) comes with the message: IncomingMessage::rules.
#include <algorithm>
#include <cassert>
#include <map>

#include <fmt/format.h>

#include "store/list_sql.h"
#include "store/sqlite_store.h"

namespace herald::store {
namespace {

// The columns queue_from reads (list_sql.h's queue pages read the same).
constexpr const char* kQueueOne =
    "SELECT q.id, q.queue_id, m.sender, q.recipient, q.original_recipient, q.status, q.attempts, q.created, "
    "q.next_attempt, m.size, q.last_reply, q.message FROM queue q JOIN messages m ON m.id = q.message "
    "WHERE q.queue_id = ? ORDER BY q.id";

QueueRow queue_from(const Stmt& st) {
  QueueRow r;
  r.row = st.i64(0);
  r.queue_id = st.text(1);
  r.sender = st.text(2);
  r.recipient = st.text(3);
  r.original_recipient = st.text(4);
  std::string state = st.text(5);
  auto parsed = parse_recipient_state(state);
  if (!parsed) throw SqliteError(SQLITE_CORRUPT, fmt::format("queue row of {}: unknown status '{}'", r.queue_id, state));
  r.state = *parsed;
  r.attempts = st.i64(6);
  r.created = st.i64(7);
  r.next_attempt = st.i64(8);
  r.size = static_cast<std::uint64_t>(st.i64(9));
  r.last_reply = st.text(10);
  r.message = st.i64(11);
  return r;
}

}  // namespace

void SqliteQueue::commit_message(IncomingMessage msg, std::function<void(Result<CommitResult>)> done) {
  auto m = std::make_shared<IncomingMessage>(std::move(msg));
  auto result = std::make_shared<CommitResult>();
  auto sha = std::make_shared<std::string>();
  auto unlink = std::make_shared<std::vector<std::string>>();  // a body no recipient kept
  // The index text's kept copy, deflated here: on the caller's thread, not the writer's.
  const bool local = std::any_of(m->deliveries.begin(), m->deliveries.end(), [](const Delivery& d) { return d.local; });
  auto packed = std::make_shared<const std::string>(local ? SqliteCore::pack_text(m->text) : std::string());
  std::function<void()> prepare;
  if (m->spool) {
    // A body written as it arrived: only its sync and name are left.
    prepare = [this, m, sha] {
      auto* writer = dynamic_cast<BlobWriter*>(m->spool.get());
      if (writer == nullptr) throw SqliteError(SQLITE_MISUSE, "a body spooled by another store");
      auto named = core_.blobs().commit(*writer);
      if (!named) throw SqliteError(SQLITE_IOERR, named.error().message);
      *sha = std::move(*named);
    };
  } else {
    // A body in memory: a large one goes to its file first.
    prepare = core_.prepare_body(std::shared_ptr<const std::string>(m, &m->body), sha);
  }
  core_.submit(
      std::move(prepare),
      [this, m, result, sha, packed, unlink](Db& db) {
        unlink->clear();  // a second run after a rollback starts afresh
        apply_commit(db, *m, *sha, *packed, *result, *unlink);
      },
      [this, done = std::move(done), result, unlink](Status st) {
        if (st) core_.remove_blobs(std::move(*unlink));
        if (st) done(std::move(*result));
        else done(st.error());
      });
}

Result<std::unique_ptr<BodySpool>> SqliteQueue::spool_body() {
  auto writer = core_.blobs().create();
  if (!writer) return writer.error();
  return std::unique_ptr<BodySpool>(std::move(*writer));
}

void SqliteQueue::apply_commit(Db& db, const IncomingMessage& m, const std::string& sha,
                               const std::string& packed_text, CommitResult& result, std::vector<std::string>& unlink) {
  const std::int64_t now = now_s(), now_milli = now_ms();
  const std::uint64_t size = m.size();
  const std::int64_t message = SqliteCore::insert_message(
      db, {m.queue_id, m.sender, m.message_id, m.client, size, now, m.body, m.eight_bit, m.ret, m.envid, m.structure},
      sha);
  // The index row only for mail that lands in a mailbox (a local copy,
  // perhaps deferred for now); collect_message takes it with the message.
  if (std::any_of(m.deliveries.begin(), m.deliveries.end(), [](const Delivery& d) { return d.local; }))
    SqliteCore::index_text(db, message, m.text, packed_text);
  JournalEntry received{now_milli, JournalEvent::received, m.queue_id, m.message_id, m.sender, "", m.client,
                        size, "", fmt::format("nrcpt={}", m.deliveries.size())};
  received.door = m.door;
  received.identity = m.identity;
  received.subject = m.subject;
  received.recipients = m.recipients;
  received.attachments = m.attachments;
  received.attachment_names = m.attachment_names;
  core_.insert_journal(db, received);

  result.outcomes.clear();
  bool referenced = false;
  for (const auto& d : m.deliveries) {
    // A remote recipient waits in the queue for its first attempt, now.
    LocalVerdict v{RecipientState::pending, "", {}};
    if (d.local) {
      assert(m.rules != nullptr);
      v = deliver_local(db, *m.rules, size, message, d, now);
    }
    if (v.state == RecipientState::pending || v.state == RecipientState::deferred) {
      db.prepare("INSERT INTO queue(message, queue_id, recipient, original_recipient, status, created, "
                 "next_attempt, last_reply, local, notify, orcpt) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
          .bind(1, message).bind(2, m.queue_id).bind(3, d.recipient).bind(4, d.original)
          .bind(5, to_string(v.state)).bind(6, now).bind(7, now + v.retry_after.count()).bind(8, v.reply)
          .bind(9, d.local ? 1 : 0).bind(10, d.notify).bind(11, d.orcpt).run();
    }
    referenced = referenced || v.state != RecipientState::bounced;
    core_.insert_journal(db, {now_milli, event_for(v.state), m.queue_id, m.message_id, m.sender, d.recipient,
                              m.client, size, v.reply, d.original != d.recipient ? "orig_to=" + d.original : ""});
    result.outcomes.push_back({v.state, std::move(v.reply)});
  }
  if (!referenced) SqliteCore::collect_message(db, message, unlink);  // every recipient failed: keep nothing
  if (m.checkpoint) {
    const SpoolFile& f = m.checkpoint->file;
    db.prepare("INSERT INTO spool_checkpoints(spool, device, inode, size, mtime_ns, next) VALUES(?, ?, ?, ?, ?, ?) "
               "ON CONFLICT(spool, device, inode) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
               "next = excluded.next")
        .bind(1, f.spool).bind(2, static_cast<std::int64_t>(f.device)).bind(3, static_cast<std::int64_t>(f.inode))
        .bind(4, static_cast<std::int64_t>(f.size)).bind(5, f.mtime_ns)
        .bind(6, static_cast<std::int64_t>(m.checkpoint->next)).run();
  }
}

Result<std::vector<SpoolCheckpoint>> SqliteQueue::spool_checkpoints(const std::string& spool) {
  return core_.read([&](Db& db) -> Result<std::vector<SpoolCheckpoint>> {
    std::vector<SpoolCheckpoint> out;
    auto st = db.prepare("SELECT device, inode, size, mtime_ns, next FROM spool_checkpoints WHERE spool = ?");
    st.bind(1, spool);
    while (st.step())
      out.push_back({{spool, static_cast<std::uint64_t>(st.i64(0)), static_cast<std::uint64_t>(st.i64(1)),
                      static_cast<std::uint64_t>(st.i64(2)), st.i64(3)},
                     static_cast<std::uint64_t>(st.i64(4))});
    return out;
  });
}

void SqliteQueue::forget_spool_files(std::vector<SpoolFile> files, std::function<void(Status)> done) {
  auto apply = [files = std::move(files)](Db& db) {
    for (const auto& f : files)
      db.prepare("DELETE FROM spool_checkpoints WHERE spool = ? AND device = ? AND inode = ? AND size = ? AND "
                 "mtime_ns = ?")
          .bind(1, f.spool).bind(2, static_cast<std::int64_t>(f.device)).bind(3, static_cast<std::int64_t>(f.inode))
          .bind(4, static_cast<std::int64_t>(f.size)).bind(5, f.mtime_ns).run();
  };
  core_.submit(nullptr, std::move(apply), std::move(done));
}

// deliver_local - append the copy to the recipient's mailbox if the rules
// say so, inside the commit's transaction.
LocalVerdict SqliteQueue::deliver_local(Db& db, const LocalDeliveryRules& rules, std::uint64_t body_size,
                                        std::int64_t message, const Delivery& d, std::int64_t now) {
  const std::uint64_t size = d.prefix.size() + body_size;
  auto u = db.prepare(
      "SELECT u.id, u.quota_bytes, u.used_bytes, mb.id, mb.uidnext, mb.highestmodseq FROM users u "
      "JOIN mailboxes mb ON mb.user_id = u.id AND mb.name = ? WHERE u.address = ?");
  u.bind(1, d.mailbox).bind(2, d.recipient);
  if (!u.step()) return rules.decide(std::nullopt, size);
  const std::int64_t user = u.i64(0), mailbox = u.i64(3), uid = u.i64(4), modseq = u.i64(5) + 1;
  LocalVerdict v = rules.decide(
      MailboxUsage{static_cast<std::uint64_t>(u.i64(1)), static_cast<std::uint64_t>(u.i64(2))}, size);
  if (v.state != RecipientState::delivered) return v;
  db.prepare("UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = ?, messages = messages + 1 WHERE id = ?")
      .bind(1, modseq).bind(2, mailbox).run();
  db.prepare("INSERT INTO mailbox_messages(mailbox_id, uid, message, prefix, size, modseq, internaldate, savedate) "
             "VALUES(?, ?, ?, ?, ?, ?, ?, ?)")
      .bind(1, mailbox).bind(2, uid).bind(3, message).bind(4, d.prefix).bind(5, size).bind(6, modseq)
      .bind(7, now).bind(8, now).run();
  db.prepare("UPDATE users SET used_bytes = used_bytes + ? WHERE id = ?").bind(1, size).bind(2, user).run();
  core_.note_change(mailbox, modseq);
  return v;
}

Result<std::vector<QueueRow>> SqliteQueue::list(const QueueQuery& q) {
  return core_.read([&](Db& db) -> Result<std::vector<QueueRow>> {
    std::vector<QueueRow> out;
    auto st = db.prepare(queue_page_sql(q));
    st.bind(1, q.after);
    if (q.sender) st.bind(2, *q.sender);
    if (q.recipient) st.bind(3, *q.recipient);
    st.bind(4, static_cast<std::int64_t>(q.limit));
    if (q.state) st.bind(5, std::string(to_string(*q.state)));
    if (q.queued_before) st.bind(6, *q.queued_before);
    while (st.step()) out.push_back(queue_from(st));
    return out;
  });
}

Result<std::vector<QueueRow>> SqliteQueue::show(const std::string& queue_id) {
  return core_.read([&](Db& db) -> Result<std::vector<QueueRow>> {
    std::vector<QueueRow> out;
    auto st = db.prepare(kQueueOne);
    st.bind(1, queue_id);
    while (st.step()) out.push_back(queue_from(st));
    return out;
  });
}

Result<std::map<RecipientState, std::uint64_t>> SqliteQueue::counts() {
  return core_.read([&](Db& db) -> Result<std::map<RecipientState, std::uint64_t>> {
    std::map<RecipientState, std::uint64_t> out;
    // queue_due(status, ...) covers it: the index, not the table, is read.
    auto st = db.prepare("SELECT status, count(*) FROM queue GROUP BY status");
    while (st.step())
      if (auto state = parse_recipient_state(st.text(0))) out[*state] = static_cast<std::uint64_t>(st.i64(1));
    return out;
  });
}

Result<std::vector<DueDelivery>> SqliteQueue::due_local(std::int64_t now, std::size_t limit) {
  return core_.read([&](Db& db) -> Result<std::vector<DueDelivery>> {
    std::vector<DueDelivery> out;
    // queue_due(status, next_attempt) serves it.
    auto st = db.prepare(
        "SELECT q.id, q.queue_id, m.sender, q.recipient, q.original_recipient, q.created, q.attempts, m.id, m.size, "
        "q.notify, q.orcpt, m.ret, m.envid FROM queue q JOIN messages m ON m.id = q.message "
        "WHERE q.status = 'deferred' AND q.next_attempt <= ? AND q.local = 1 ORDER BY q.next_attempt LIMIT ?");
    st.bind(1, now).bind(2, static_cast<std::int64_t>(limit));
    while (st.step())
      out.push_back({st.i64(0), st.text(1), st.text(2), st.text(3), st.text(4), st.i64(5), st.i64(6), st.i64(7),
                     static_cast<std::uint64_t>(st.i64(8)), st.text(9), st.text(10), st.text(11), st.text(12)});
    return out;
  });
}

void SqliteQueue::retry_local(std::vector<Retry> retries, const LocalDeliveryRules& rules,
                              std::function<void(Result<std::vector<DeliveryOutcome>>)> done) {
  auto outcomes = std::make_shared<std::vector<DeliveryOutcome>>();
  auto unlink = std::make_shared<std::vector<std::string>>();
  auto apply = [this, &rules, retries = std::move(retries), outcomes, unlink](Db& db) {
    outcomes->clear();  // a second run after a rollback starts afresh
    unlink->clear();
    const std::int64_t now = now_s();
    for (const auto& r : retries) outcomes->push_back(apply_retry(db, r, rules, now, *unlink));
  };
  core_.submit(nullptr, std::move(apply), [this, done = std::move(done), outcomes, unlink](Status st) {
    if (st) core_.remove_blobs(std::move(*unlink));
    if (st) done(std::move(*outcomes));
    else done(st.error());
  });
}

DeliveryOutcome SqliteQueue::apply_retry(Db& db, const Retry& r, const LocalDeliveryRules& rules, std::int64_t now,
                                         std::vector<std::string>& unlink) {
  auto q = db.prepare(
      "SELECT q.message, m.size, q.queue_id, m.message_id, m.sender, m.client, q.original_recipient "
      "FROM queue q JOIN messages m ON m.id = q.message WHERE q.id = ? AND q.status = 'deferred'");
  q.bind(1, r.row);
  if (!q.step()) return {RecipientState::delivered, ""};  // done meanwhile (another process, the operator)
  const std::int64_t message = q.i64(0);
  const auto body_size = static_cast<std::uint64_t>(q.i64(1));
  const std::string queue_id = q.text(2), message_id = q.text(3), sender = q.text(4), client = q.text(5),
                    original = q.text(6);
  LocalVerdict v = deliver_local(db, rules, body_size, message, r.delivery, now);
  if (v.state == RecipientState::deferred) {
    db.prepare("UPDATE queue SET attempts = attempts + 1, next_attempt = ?, last_reply = ? WHERE id = ?")
        .bind(1, now + v.retry_after.count()).bind(2, v.reply).bind(3, r.row).run();
  } else {
    db.prepare("DELETE FROM queue WHERE id = ?").bind(1, r.row).run();
    SqliteCore::collect_message(db, message, unlink);  // the last recipient may be done
  }
  const std::string& rcpt = r.delivery.recipient;
  core_.insert_journal(db, {now_ms(), event_for(v.state), queue_id, message_id, sender, rcpt, client,
                            body_size, v.reply, original != rcpt ? "orig_to=" + original : ""});
  return {v.state, std::move(v.reply)};
}

// ---- Outbound delivery ----

void SqliteQueue::claim_remote(Claim claim, std::function<void(Result<std::vector<ClaimedMessage>>)> done) {
  auto claimed = std::make_shared<std::vector<ClaimedMessage>>();
  auto apply = [claim = std::move(claim), claimed](Db& db) {
    claimed->clear();  // a second run after a rollback starts afresh
    // queue_due(status, next_attempt) finds the due rows; a live lease is
    // skipped. Oldest due first, then grouped by message in row order.
    auto st = db.prepare(
        "UPDATE queue SET lease_owner = ?1, lease_until = ?2 WHERE id IN ("
        "  SELECT id FROM queue WHERE status IN ('pending', 'deferred') AND local = 0 AND next_attempt <= ?3"
        "  AND lease_until <= ?3 ORDER BY next_attempt, id LIMIT ?4) "
        "RETURNING id, message, recipient, original_recipient, attempts, warned, created, notify, orcpt");
    st.bind(1, claim.owner).bind(2, claim.lease_until_s).bind(3, claim.now_s)
        .bind(4, static_cast<std::int64_t>(claim.limit));
    std::map<std::int64_t, std::vector<ClaimedRecipient>> by_message;
    while (st.step())
      by_message[st.i64(1)].push_back(
          {st.i64(0), st.text(2), st.text(3), st.i64(4), st.i64(5) != 0, st.i64(6), st.text(7), st.text(8)});
    for (auto& [message, recipients] : by_message) {
      auto m = db.prepare(
          "SELECT queue_id, sender, message_id, client, received, size, eight_bit, ret, envid FROM messages WHERE id = ?");
      m.bind(1, message);
      if (!m.step()) continue;  // cannot be: a queue row keeps its message
      std::sort(recipients.begin(), recipients.end(),
                [](const ClaimedRecipient& a, const ClaimedRecipient& b) { return a.row < b.row; });
      std::optional<bool> eight_bit;
      if (!m.is_null(6)) eight_bit = m.i64(6) != 0;
      claimed->push_back({message, m.text(0), m.text(1), m.text(2), m.text(3), m.i64(4),
                          static_cast<std::uint64_t>(m.i64(5)), eight_bit, std::move(recipients), m.text(7),
                          m.text(8)});
    }
  };
  core_.submit(nullptr, std::move(apply), [done = std::move(done), claimed](Status st) {
    if (st) done(std::move(*claimed));
    else done(st.error());
  });
}

void SqliteQueue::record_attempts(std::vector<AttemptOutcome> outcomes, std::function<void(Status)> done) {
  auto unlink = std::make_shared<std::vector<std::string>>();
  auto apply = [this, outcomes = std::move(outcomes), unlink](Db& db) {
    unlink->clear();
    const std::int64_t now_milli = now_ms();
    for (const auto& o : outcomes) {
      auto q = db.prepare(
          "SELECT q.message, q.queue_id, m.message_id, m.sender, m.client, m.size, q.recipient, "
          "q.original_recipient FROM queue q JOIN messages m ON m.id = q.message WHERE q.id = ?");
      q.bind(1, o.row);
      if (!q.step()) continue;  // gone meanwhile (the operator deleted it)
      const std::int64_t message = q.i64(0);
      const std::string rcpt = q.text(6), original = q.text(7);
      if (o.state == RecipientState::dead) {
        // Kept, with its message, for the operator (herald deadletter).
        db.prepare("UPDATE queue SET status = 'dead', attempts = attempts + 1, last_reply = ?, lease_owner = '', "
                   "lease_until = 0 WHERE id = ?")
            .bind(1, o.reply).bind(2, o.row).run();
      } else if (o.state == RecipientState::deferred) {
        // A row the operator held meanwhile stays held.
        db.prepare("UPDATE queue SET status = CASE status WHEN 'held' THEN 'held' ELSE 'deferred' END, "
                   "attempts = attempts + 1, next_attempt = ?, last_reply = ?, lease_owner = '', lease_until = 0, "
                   "warned = max(warned, ?) WHERE id = ?")
            .bind(1, o.next_attempt_s).bind(2, o.reply).bind(3, o.warned ? 1 : 0).bind(4, o.row).run();
      } else {
        db.prepare("DELETE FROM queue WHERE id = ?").bind(1, o.row).run();
        SqliteCore::collect_message(db, message, *unlink);  // the last recipient may be done
      }
      std::string detail = o.relay.empty() ? "" : "relay=" + o.relay;
      if (original != rcpt) detail += (detail.empty() ? "" : " ") + std::string("orig_to=") + original;
      const JournalEvent event = o.expired ? JournalEvent::expired : event_for(o.state);
      core_.insert_journal(db, {now_milli, event, q.text(1), q.text(2), q.text(3), rcpt, q.text(4),
                                static_cast<std::uint64_t>(q.i64(5)), o.reply, detail});
    }
  };
  core_.submit(nullptr, std::move(apply), [this, done = std::move(done), unlink](Status st) {
    if (st) core_.remove_blobs(std::move(*unlink));
    done(st);
  });
}

void SqliteQueue::change(QueueAction action, QueueSelection selection, std::function<void(Result<std::size_t>)> done) {
  auto changed = std::make_shared<std::size_t>(0);
  auto unlink = std::make_shared<std::vector<std::string>>();
  auto apply = [this, action, selection = std::move(selection), changed, unlink](Db& db) {
    *changed = 0;
    unlink->clear();
    const std::int64_t now = now_s(), now_milli = now_ms();
    // The rows the selection names, in the states the action applies to.
    std::string where;
    switch (action) {
      case QueueAction::hold: where = "q.status IN ('pending', 'deferred')"; break;
      case QueueAction::release: where = "q.status = 'held'"; break;
      case QueueAction::retry: where = "q.status IN ('pending', 'deferred')"; break;
      case QueueAction::remove: where = "1"; break;
      case QueueAction::resend: where = "q.status = 'dead'"; break;
    }
    if (selection.state) where += fmt::format(" AND q.status = '{}'", to_string(*selection.state));
    if (selection.queued_before) where += fmt::format(" AND q.created <= {}", *selection.queued_before);
    if (!selection.queue_ids.empty()) {
      where += " AND q.queue_id IN (";
      for (std::size_t i = 0; i < selection.queue_ids.size(); ++i) where += i ? ", ?" : "?";
      where += ")";
    }
    if (selection.sender) where += " AND lower(m.sender) = lower(?)";
    if (selection.domain) {
      where += " AND (lower(q.recipient) LIKE '%@' || lower(?) ESCAPE '\\'";
      if (selection.subdomains) where += " OR lower(q.recipient) LIKE '%@%.' || lower(?) ESCAPE '\\'";
      where += ")";
    }
    const std::string sql = "SELECT q.id, q.message, q.queue_id, m.message_id, m.sender, q.recipient, m.client, "
                            "m.size FROM queue q JOIN messages m ON m.id = q.message WHERE " + where + " ORDER BY q.id";
    auto st = db.prepare(sql.c_str());
    int n = 1;
    for (const auto& id : selection.queue_ids) st.bind(n++, id);
    if (selection.sender) st.bind(n++, *selection.sender);
    if (selection.domain) {
      // LIKE's wildcards in a domain match only themselves.
      std::string escaped;
      for (char c : *selection.domain) {
        if (c == '%' || c == '_' || c == '\\') escaped += '\\';
        escaped += c;
      }
      st.bind(n++, escaped);
      if (selection.subdomains) st.bind(n++, escaped);
    }
    struct Row {
      std::int64_t id = 0, message = 0;
      std::string queue_id, message_id, sender, recipient, client;
      std::uint64_t size = 0;
    };
    std::vector<Row> rows;
    while (st.step())
      rows.push_back({st.i64(0), st.i64(1), st.text(2), st.text(3), st.text(4), st.text(5), st.text(6),
                      static_cast<std::uint64_t>(st.i64(7))});
    for (const auto& r : rows) {
      JournalEvent event = JournalEvent::held;
      switch (action) {
        case QueueAction::hold:
          db.prepare("UPDATE queue SET status = 'held' WHERE id = ?").bind(1, r.id).run();
          break;
        case QueueAction::release:
          db.prepare("UPDATE queue SET status = 'deferred', next_attempt = ? WHERE id = ?").bind(1, now).bind(2, r.id).run();
          event = JournalEvent::released;
          break;
        case QueueAction::retry:
          db.prepare("UPDATE queue SET next_attempt = ? WHERE id = ?").bind(1, now).bind(2, r.id).run();
          break;
        case QueueAction::resend:
          // A fresh lifetime (the agent counts it from the row's created).
          // A local row waits as deferred (LocalRetry takes those), a
          // remote one as pending (the agent's claim).
          db.prepare("UPDATE queue SET status = CASE local WHEN 1 THEN 'deferred' ELSE 'pending' END, "
                     "next_attempt = ?1, created = ?1, warned = 0 WHERE id = ?2")
              .bind(1, now).bind(2, r.id).run();
          event = JournalEvent::resent;
          break;
        case QueueAction::remove:
          db.prepare("DELETE FROM queue WHERE id = ?").bind(1, r.id).run();
          SqliteCore::collect_message(db, r.message, *unlink);
          event = JournalEvent::deleted;
          break;
      }
      ++*changed;
      if (action != QueueAction::retry)
        core_.insert_journal(db, {now_milli, event, r.queue_id, r.message_id, r.sender, r.recipient, r.client, r.size,
                                  "", "by the operator"});
    }
  };
  core_.submit(nullptr, std::move(apply), [this, done = std::move(done), changed, unlink](Status st) {
    if (st) core_.remove_blobs(std::move(*unlink));
    if (st) done(*changed);
    else done(st.error());
  });
}

Result<std::string> SqliteQueue::read_body(std::int64_t message, ByteRange range) {
  return core_.read([&](Db& db) -> Result<std::string> {
    auto st = db.prepare("SELECT body, blob_sha, size FROM messages WHERE id = ?");
    st.bind(1, message);
    if (!st.step()) return make_error(Errc::not_found, "no such message");
    if (st.is_null(1)) {
      std::string body = st.text(0);
      if (range.offset >= body.size()) return std::string();
      return body.substr(range.offset, range.length);
    }
    std::string out;
    if (auto read = core_.blobs().append_range(st.text(1), static_cast<std::uint64_t>(st.i64(2)), range, out); !read)
      return read.error();
    return out;
  });
}

}  // namespace herald::store
