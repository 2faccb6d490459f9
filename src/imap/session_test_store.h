// imap/session_test_store.h - an in-memory mail store for the IMAP session's
// tests and fuzz target: it answers every imap::Request as the driver
// (server/imapd.cpp) answers it from store::Mailboxes (store/mailboxes.h),
// and a driver loop (drive) that answers every Action of a Session.
//
// Semantics kept from the real store: every change to a message takes the
// next MODSEQ of its mailbox; an expunge takes one MODSEQ for all it
// removes and remembers each UID with it; Changes{since} gives the
// messages with a MODSEQ above since, the UIDs expunged above it, and as
// highestmodseq the largest MODSEQ of those messages (never less than
// since); CREATE makes the missing levels above; DELETE of a mailbox with
// children leaves it \Noselect; RENAME takes the children along, RENAME
// INBOX moves its messages; COPY/MOVE copy the source UIDs that exist,
// ascending (RFC 6851); messages keep their MIME structure as delivery
// computes it (mime::structure_of + mime::encode), offsets after a trace
// prefix.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "imap/acl.h"
#include "imap/listing.h"
#include "imap/mailstore.h"
#include "imap/session.h"
#include "mime/structure.h"

namespace herald::imap::fake {

inline constexpr std::int64_t kNow = 1700000000;  // 14-Nov-2023 22:13:20 +0000

struct FakeMessage {
  MessageMeta meta;
  std::string octets;     // prefix + message
  std::string structure;  // mime::encode, offsets after the prefix; "" none kept
  std::uint64_t prefix_size = 0;
};

struct FakeMailbox {
  MailboxInfo info;
  std::vector<FakeMessage> messages;  // by UID
  std::vector<std::pair<std::uint32_t, std::uint64_t>> expunged;  // uid, modseq
};

class FakeStore {
 public:
  std::map<std::string, FakeMailbox> mailboxes;  // by name
  std::set<std::string> subscriptions;
  std::vector<std::string> log;  // the kinds of the requests answered, in order
  std::int64_t next_id = 1;
  std::uint32_t next_uidvalidity = 1000;
  // A failure to give instead of the next answer (StoreError::none: none).
  StoreError fail_next = StoreError::none;
  std::uint64_t quota_limit = 0, quota_used = 0;  // the user's, in octets (0: no limit)
  std::int64_t next_emailid = 100;                 // the stored message of the next delivery
  std::vector<std::uint32_t> unindexed;            // UIDs TextSearch says the index does not hold
  // Annotations by mailbox ("" the server), then by name: one user's view.
  std::map<std::string, std::map<std::string, std::string>> metadata;
  // Access lists by mailbox, then identifier; the user owns every mailbox.
  std::map<std::string, std::map<std::string, std::string>> acls;
  request::Read last_read;                         // what the last Read asked for

  FakeMailbox& create(const std::string& name, const std::string& special_use = "", bool selectable = true) {
    FakeMailbox& m = mailboxes[name];
    m.info.id = next_id++;
    m.info.name = name;
    m.info.special_use = special_use;
    m.info.selectable = selectable;
    m.info.uidvalidity = next_uidvalidity++;
    m.info.uidnext = 1;
    m.info.highestmodseq = 1;
    return m;
  }
  FakeMailbox* by_name(const std::string& name) {
    auto it = mailboxes.find(name);
    return it == mailboxes.end() ? nullptr : &it->second;
  }
  FakeMailbox* by_id(std::int64_t id) {
    for (auto& [name, m] : mailboxes)
      if (m.info.id == id) return &m;
    return nullptr;
  }
  FakeMessage* message(FakeMailbox& mb, std::uint32_t uid) {
    for (auto& m : mb.messages)
      if (m.meta.uid == uid) return &m;
    return nullptr;
  }
  static std::uint64_t next_modseq(FakeMailbox& mb) { return ++mb.info.highestmodseq; }

  // deliver - a new message as delivery (or another session) adds it.
  std::uint32_t deliver(const std::string& mailbox, const std::string& message, std::uint32_t flags = 0,
                        std::vector<std::string> keywords = {}, std::int64_t internaldate = kNow,
                        const std::string& prefix = "") {
    FakeMailbox& mb = *by_name(mailbox);
    FakeMessage m;
    m.meta.uid = mb.info.uidnext++;
    m.meta.flags = flags;
    m.meta.keywords = std::move(keywords);
    m.meta.modseq = next_modseq(mb);
    m.meta.emailid = ++next_emailid;
    m.meta.internaldate = internaldate;
    m.meta.savedate = kNow;
    m.octets = prefix + message;
    m.meta.size = m.octets.size();
    m.structure = mime::encode(mime::structure_of(message));
    m.prefix_size = prefix.size();
    mb.messages.push_back(std::move(m));
    return mb.messages.back().meta.uid;
  }
  // set_flags - another session's STORE FLAGS.
  void set_flags(const std::string& mailbox, std::uint32_t uid, std::uint32_t flags,
                 std::vector<std::string> keywords = {}) {
    FakeMailbox& mb = *by_name(mailbox);
    FakeMessage* m = message(mb, uid);
    m->meta.flags = flags;
    m->meta.keywords = std::move(keywords);
    m->meta.modseq = next_modseq(mb);
  }
  // expunge - another session's expunge of these UIDs (one MODSEQ).
  void expunge(const std::string& mailbox, const std::vector<std::uint32_t>& uids) { remove(*by_name(mailbox), uids); }

  void remove(FakeMailbox& mb, const std::vector<std::uint32_t>& uids) {
    if (uids.empty()) return;
    std::uint64_t modseq = next_modseq(mb);
    for (auto uid : uids) {
      std::erase_if(mb.messages, [uid](const FakeMessage& m) { return m.meta.uid == uid; });
      mb.expunged.emplace_back(uid, modseq);
    }
  }

  MailboxInfo with_counts(const FakeMailbox& mb) const {
    MailboxInfo i = mb.info;
    i.messages = static_cast<std::uint32_t>(mb.messages.size());
    i.unseen = i.deleted = 0;
    i.size = 0;
    for (const auto& m : mb.messages) {
      if (!(m.meta.flags & kSeen)) ++i.unseen;
      if (m.meta.flags & kDeleted) ++i.deleted;
      i.size += m.meta.size;
    }
    return i;
  }

  bool has_children(const std::string& name) const {
    auto it = mailboxes.lower_bound(name + "/");
    return it != mailboxes.end() && it->first.rfind(name + "/", 0) == 0;
  }
  static bool valid_name(const std::string& n) {
    bool ok = !n.empty() && n.size() <= 1024 && n.front() != '/' && n.back() != '/' &&
              n.find("//") == std::string::npos;
    for (unsigned char c : n) ok = ok && c >= 0x20 && c != 0x7f;
    return ok;
  }
  static std::string canonical(std::string n) {
    std::string first = n.substr(0, n.find('/'));
    std::string upper = first;
    for (auto& c : upper) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
    if (upper == "INBOX") n.replace(0, first.size(), "INBOX");
    return n;
  }

  static Answer error(StoreError e) {
    Answer a;
    a.error = e;
    a.detail = "fake store";
    return a;
  }
  template <typename T>
  static Answer value(T v) {
    Answer a;
    a.value = std::move(v);
    return a;
  }

  Answer answer(const Request& r) {
    log.push_back(kind(r));
    if (fail_next != StoreError::none) return error(std::exchange(fail_next, StoreError::none));
    return std::visit([this](const auto& q) { return on(q); }, r);
  }

  static std::string kind(const Request& r) {
    static const char* kNames[] = {"List",   "Status",  "Open", "Create",     "Delete", "Rename",  "Subscribe",
                                   "Append", "Changes", "Read", "StoreFlags", "Copy",   "Expunge", "Quota",
                                   "TextSearch", "GetMetadata", "SetMetadata", "Acl", "SetAcl", "Statuses"};
    static_assert(std::size(kNames) == std::variant_size_v<Request>);
    return kNames[r.index()];
  }

 private:
  Answer on(const request::List& r) {
    answer::List out;
    for (const auto& [name, mb] : mailboxes) out.mailboxes.push_back(r.counts ? with_counts(mb) : mb.info);
    for (auto& i : out.mailboxes)
      if (!r.counts) i.messages = static_cast<std::uint32_t>(by_name(i.name)->messages.size());
    out.subscriptions.assign(subscriptions.begin(), subscriptions.end());
    return value(std::move(out));
  }
  Answer on(const request::Status& r) {
    FakeMailbox* mb = by_name(canonical(r.mailbox));
    if (!mb) return error(StoreError::nonexistent);
    return value(answer::Mailbox{with_counts(*mb)});
  }
  Answer on(const request::Statuses& r) {
    answer::List out;
    for (const auto& name : r.mailboxes)
      if (FakeMailbox* mb = by_name(canonical(name))) out.mailboxes.push_back(with_counts(*mb));
    return value(std::move(out));
  }
  Answer on(const request::Open& r) {
    FakeMailbox* mb = by_name(canonical(r.mailbox));
    if (!mb || !mb->info.selectable) return error(StoreError::nonexistent);
    answer::Opened out;
    out.info = mb->info;
    std::vector<MessageMeta> listing;
    for (const auto& m : mb->messages) {
      listing.push_back(m.meta);
      out.info.highestmodseq = std::max(out.info.highestmodseq, m.meta.modseq);
    }
    out.info.messages = static_cast<std::uint32_t>(listing.size());
    out.messages = std::make_shared<Listing>(std::move(listing));
    return value(std::move(out));
  }
  Answer on(const request::Create& r) {
    std::string n = canonical(r.mailbox);
    if (!valid_name(n)) return error(StoreError::invalid);
    if (FakeMailbox* mb = by_name(n)) {
      if (mb->info.selectable) return error(StoreError::exists);
      mb->info.selectable = true;
      mb->info.special_use = r.special_use;
      return value(answer::Done{});
    }
    for (std::size_t at = n.find('/'); at != std::string::npos; at = n.find('/', at + 1))
      if (!by_name(n.substr(0, at))) create(n.substr(0, at));
    create(n, r.special_use);
    return value(answer::Done{});
  }
  Answer on(const request::Delete& r) {
    std::string n = canonical(r.mailbox);
    if (n == "INBOX") return error(StoreError::denied);
    FakeMailbox* mb = by_name(n);
    if (!mb) return error(StoreError::nonexistent);
    const bool parent = has_children(n);
    if (parent && !mb->info.selectable) return error(StoreError::denied);
    if (parent) {
      std::vector<std::uint32_t> uids;
      for (const auto& m : mb->messages) uids.push_back(m.meta.uid);
      remove(*mb, uids);
      mb->info.selectable = false;
      mb->info.special_use.clear();
    } else {
      mailboxes.erase(n);
    }
    return value(answer::Done{});
  }
  Answer on(const request::Rename& r) {
    std::string f = canonical(r.from), t = canonical(r.to);
    if (!valid_name(t)) return error(StoreError::invalid);
    if (t == "INBOX" || t.rfind("INBOX/", 0) == 0) return error(StoreError::denied);
    if (t.rfind(f + "/", 0) == 0) return error(StoreError::invalid);
    FakeMailbox* from = by_name(f);
    if (!from) return error(StoreError::nonexistent);
    if (by_name(t) || has_children(t)) return error(StoreError::exists);
    if (f == "INBOX") {
      FakeMailbox& to = create(t);
      FakeMailbox& inbox = *by_name("INBOX");
      to.messages = inbox.messages;
      to.info.uidnext = inbox.info.uidnext;
      std::vector<std::uint32_t> uids;
      for (const auto& m : inbox.messages) uids.push_back(m.meta.uid);
      remove(inbox, uids);
      to.info.highestmodseq = inbox.info.highestmodseq;
      return value(answer::Done{});
    }
    std::vector<std::string> names;
    for (const auto& [name, mb] : mailboxes)
      if (name == f || name.rfind(f + "/", 0) == 0) names.push_back(name);
    for (const auto& name : names) {
      auto node = mailboxes.extract(name);
      node.key() = t + name.substr(f.size());
      node.mapped().info.name = node.key();
      mailboxes.insert(std::move(node));
    }
    return value(answer::Done{});
  }
  Answer on(const request::Subscribe& r) {
    std::string n = canonical(r.mailbox);
    if (!valid_name(n)) return error(StoreError::invalid);
    if (r.subscribe) subscriptions.insert(n);
    else subscriptions.erase(n);
    return value(answer::Done{});
  }
  Answer on(const request::Append& r) {
    FakeMailbox* mb = by_name(canonical(r.mailbox));
    if (!mb || !mb->info.selectable) return error(StoreError::nonexistent);
    answer::Appended out{mb->info.uidvalidity, 0, 0};
    for (const auto& m : r.messages) {
      std::uint32_t uid = deliver(mb->info.name, m.octets, m.flags, m.keywords, m.internaldate ? m.internaldate : kNow);
      if (!out.count++) out.uid = uid;
    }
    return value(out);
  }
  Answer on(const request::Changes& r) {
    answer::Changes out;
    out.highestmodseq = r.since;
    if (!by_id(r.mailbox_id)) return error(StoreError::nonexistent);  // deleted meanwhile
    if (FakeMailbox* mb = by_id(r.mailbox_id)) {
      for (const auto& m : mb->messages)
        if (m.meta.modseq > r.since) {
          out.changed.push_back(m.meta);
          out.highestmodseq = std::max(out.highestmodseq, m.meta.modseq);
        }
      std::vector<std::uint32_t> gone;
      for (const auto& [uid, modseq] : mb->expunged)
        if (modseq > r.since) gone.push_back(uid);
      std::sort(gone.begin(), gone.end());
      gone.erase(std::unique(gone.begin(), gone.end()), gone.end());
      out.expunged = std::move(gone);
      // As Mailboxes::changes_since: one snapshot, so the mailbox's own
      // HIGHESTMODSEQ covers all of it.
      out.highestmodseq = std::max(r.since, mb->info.highestmodseq);
    }
    return value(std::move(out));
  }
  Answer on(const request::Read& r) {
    last_read = r;
    answer::Read out;
    FakeMailbox* mb = by_id(r.mailbox_id);
    std::uint64_t read = 0;
    for (auto uid : r.uids) {
      if (r.max_octets && read >= r.max_octets) break;  // as the store stops
      answer::Message m;
      m.uid = uid;
      const FakeMessage* f = mb ? message(*mb, uid) : nullptr;
      if (!f) {
        out.messages.push_back(std::move(m));
        continue;
      }
      bool octets = r.octets;
      if (r.structure) {
        if (!f->structure.empty()) {
          m.structure = f->structure;
          m.prefix_size = f->prefix_size;
        } else {
          octets = true;
        }
      }
      if (octets) m.octets = f->octets;
      m.found = true;
      read += m.structure.size() + m.octets.size();
      out.messages.push_back(std::move(m));
    }
    return value(std::move(out));
  }
  Answer on(const request::Quota&) { return value(answer::Quota{quota_limit, quota_used}); }
  // The store's rules: the names asked and those below them, by name; a
  // change is all or none, up to max_entries in all.
  Answer on(const request::GetMetadata& r) {
    if (!r.mailbox.empty() && !by_name(canonical(r.mailbox))) return error(StoreError::nonexistent);
    answer::Metadata out;
    for (const auto& [name, value] : metadata[canonical(r.mailbox)])
      for (const auto& asked : r.names)
        if (name == asked || name.starts_with(asked + "/")) {
          out.entries.emplace_back(name, value);
          break;
        }
    return value(std::move(out));
  }
  Answer on(const request::Acl& r) {
    if (!by_name(canonical(r.mailbox))) return error(StoreError::nonexistent);
    answer::Acl out{"alice", "", {}};
    for (const auto& [who, rights] : acls[canonical(r.mailbox)]) out.entries.emplace_back(who, rights);
    return value(std::move(out));
  }
  Answer on(const request::SetAcl& r) {
    if (!by_name(canonical(r.mailbox))) return error(StoreError::nonexistent);
    auto& acl = acls[canonical(r.mailbox)];
    auto change = r.rights ? parse_rights_change(*r.rights) : std::nullopt;
    const std::string now = change ? change->applied_to(acl[r.identifier]) : std::string();
    if (now.empty()) acl.erase(r.identifier);
    else acl[r.identifier] = now;
    return value(answer::Done{});
  }
  Answer on(const request::SetMetadata& r) {
    if (!r.mailbox.empty() && !by_name(canonical(r.mailbox))) return error(StoreError::nonexistent);
    auto after = metadata;
    auto& entries = after[canonical(r.mailbox)];
    for (const auto& [name, value] : r.entries) {
      if (value) entries[name] = *value;
      else entries.erase(name);
    }
    std::size_t held = 0;
    for (const auto& [mailbox, e] : after) held += e.size();
    if (held > r.max_entries) return error(StoreError::over_quota);
    metadata = std::move(after);
    return value(answer::Done{});
  }
  // The index, as a case-insensitive word search of the octets (BODY: after
  // the header section); unindexed: what the test says the index lacks.
  Answer on(const request::TextSearch& r) {
    if (r.query.find_first_not_of(" !?") == std::string::npos) return error(StoreError::invalid);
    answer::TextFound out;
    FakeMailbox* mb = by_id(r.mailbox_id);
    if (!mb) return error(StoreError::nonexistent);
    auto lower = [](std::string t) {
      for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return t;
    };
    for (const auto& m : mb->messages) {
      if (std::find(unindexed.begin(), unindexed.end(), m.meta.uid) != unindexed.end()) {
        out.unindexed.push_back(m.meta.uid);
        continue;
      }
      std::string text = m.octets;
      if (r.body_only) text = text.substr(std::min(text.size(), text.find("\r\n\r\n") + 4));
      if (lower(text).find(lower(r.query)) != std::string::npos) out.matches.push_back(m.meta.uid);
    }
    return value(std::move(out));
  }
  Answer on(const request::StoreFlags& r) {
    answer::Stored out;
    FakeMailbox* mb = by_id(r.mailbox_id);
    if (!mb) return error(StoreError::nonexistent);
    for (auto uid : r.uids) {
      FakeMessage* m = message(*mb, uid);
      if (!m) continue;
      if (r.unchanged_since && m->meta.modseq > *r.unchanged_since) {
        out.modified.push_back(uid);  // RFC 7162 3.1.3
        continue;
      }
      std::uint32_t flags = m->meta.flags;
      std::vector<std::string> keywords = m->meta.keywords;
      switch (r.change) {
        case request::StoreFlags::Change::replace:
          flags = r.flags;
          keywords = r.keywords;
          break;
        case request::StoreFlags::Change::add:
          flags |= r.flags;
          for (const auto& k : r.keywords)
            if (std::find(keywords.begin(), keywords.end(), k) == keywords.end()) keywords.push_back(k);
          break;
        case request::StoreFlags::Change::remove:
          flags &= ~r.flags;
          std::erase_if(keywords, [&](const std::string& k) {
            return std::find(r.keywords.begin(), r.keywords.end(), k) != r.keywords.end();
          });
          break;
      }
      if (flags == m->meta.flags && keywords == m->meta.keywords) continue;  // RFC 7162 3.1.3
      m->meta.flags = flags;
      m->meta.keywords = std::move(keywords);
      m->meta.modseq = next_modseq(*mb);
      out.changed.push_back(m->meta);
    }
    return value(std::move(out));
  }
  Answer on(const request::Copy& r) {
    FakeMailbox* from = by_id(r.mailbox_id);
    FakeMailbox* to = by_name(canonical(r.to));
    if (!from) return error(StoreError::temporary);
    if (!to || !to->info.selectable) return error(StoreError::nonexistent);
    std::vector<std::uint32_t> uids = r.uids;
    std::sort(uids.begin(), uids.end());
    uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
    answer::Copied out;
    out.uidvalidity = to->info.uidvalidity;
    std::vector<FakeMessage> copies;
    for (auto uid : uids) {
      const FakeMessage* m = message(*from, uid);
      if (!m) continue;
      copies.push_back(*m);
      out.from.push_back(uid);
    }
    for (auto& c : copies) {
      c.meta.uid = to->info.uidnext++;
      c.meta.modseq = next_modseq(*to);
      out.to.push_back(c.meta.uid);
      to->messages.push_back(std::move(c));
    }
    if (r.move) remove(*from, out.from);
    return value(std::move(out));
  }
  Answer on(const request::Expunge& r) {
    FakeMailbox* mb = by_id(r.mailbox_id);
    if (!mb) return error(StoreError::nonexistent);
    answer::Expunged out;
    for (const auto& m : mb->messages) {
      if (!(m.meta.flags & kDeleted)) continue;
      if (r.uids && std::find(r.uids->begin(), r.uids->end(), m.meta.uid) == r.uids->end()) continue;
      out.uids.push_back(m.meta.uid);
    }
    remove(*mb, out.uids);
    out.highestmodseq = mb->info.highestmodseq;
    return value(std::move(out));
  }
};

// The test messages: a text message, a multipart/mixed with a text and a
// base64 attachment (kept with a trace prefix, as delivery keeps it), and
// another text message.
inline const std::string kMsg1 =
    "From: Alice <alice@example.test>\r\n"
    "To: bob@example.test\r\n"
    "Subject: Hello\r\n"
    "Date: Mon, 13 Nov 2023 10:00:00 +0000\r\n"
    "Message-ID: <1@example.test>\r\n"
    "\r\n"
    "Hi Bob,\r\n"
    "how are you?\r\n";
inline const std::string kPrefix2 = "Received: from mx.example.test by imap.example.test\r\n";
inline const std::string kMsg2 =
    "From: Carol <carol@example.test>\r\n"
    "To: bob@example.test\r\n"
    "Subject: Report\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    "\r\n"
    "--XX\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "See attached.\r\n"
    "--XX\r\n"
    "Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"a.bin\"\r\n"
    "\r\n"
    "SGVsbG8sIHdvcmxkIQ==\r\n"
    "--XX--\r\n";
inline const std::string kMsg3 =
    "From: Dave <dave@example.test>\r\n"
    "To: bob@example.test\r\n"
    "Subject: Lunch tomorrow\r\n"
    "\r\n"
    "Pizza?\r\n";

// standard_store - INBOX with the three messages (1 \Seen, 2 unseen, 3
// \Flagged), the special-use mailboxes, Work with a child, subscriptions
// (one to a name that does not exist, one to a child whose parent is not).
inline FakeStore standard_store() {
  FakeStore s;
  s.create("INBOX");
  s.create("Sent", "\\Sent");
  s.create("Drafts", "\\Drafts");
  s.create("Trash", "\\Trash");
  s.create("Work");
  s.create("Work/Projects");
  s.deliver("INBOX", kMsg1, kSeen);
  s.deliver("INBOX", kMsg2, 0, {}, kNow, kPrefix2);
  s.deliver("INBOX", kMsg3, kFlagged);
  s.subscriptions = {"INBOX", "Sent", "Work/Projects", "Gone"};
  return s;
}

// DriveOptions - how the fake driver answers what the session asks.
struct DriveOptions {
  std::string user = "alice", password = "secret";
  std::optional<LoginResult> login;  // set: every login gets this
  bool wake_idle = false;            // Action::idle: on_idle_wake() once per IDLE, then wait
};

// Drive - the state of a driver across calls of drive().
struct Drive {
  bool closed = false;
  bool idle = false;      // the last step asked to wait in IDLE
  std::size_t steps = 0;  // step() calls
  std::vector<Action> actions;  // every action returned but need_more and flush
};

// drain - step() until the session waits for input, IDLE or closes,
// answering each action; returns the output.
inline std::string drain(Session& s, FakeStore& store, Drive& d, const DriveOptions& o = {},
                         std::size_t max_steps = 1000000) {
  std::string out;
  d.idle = false;
  bool woke = false;
  while (!d.closed && d.steps < max_steps) {
    Step step = s.step();
    ++d.steps;
    out += step.output;
    if (step.action != Action::need_more && step.action != Action::flush) d.actions.push_back(step.action);
    switch (step.action) {
      case Action::need_more: return out;
      case Action::flush: continue;
      case Action::close: d.closed = true; return out;
      case Action::login: {
        LoginResult r = o.login ? *o.login
                        : (s.sasl_verified() ? s.user() == o.user
                                             : (s.user() == o.user && s.password() == o.password))
                            ? LoginResult::ok
                            : LoginResult::bad_credentials;
        out += s.on_login(r);
        continue;
      }
      case Action::store: out += s.on_store(store.answer(s.request())); continue;
      case Action::sasl_check: {
        sasl::Exchange& e = s.auth_exchange();
        if (e.needs_password_check())
          out += s.on_auth_checked(e.password_checked(e.authcid() == o.user && e.password() == o.password));
        else
          out += s.on_auth_checked(e.credentials(std::nullopt));
        continue;
      }
      case Action::starttls: s.on_tls_started(ImapAuthOptions{}); continue;
      case Action::compress: continue;  // the layer is the connection's: transparent here
      case Action::idle:
        if (o.wake_idle && !woke) {
          woke = true;
          s.on_idle_wake();
          continue;
        }
        d.idle = true;
        return out;
    }
  }
  return out;
}

// run - feed input (whole, or one octet at a time) and answer every action;
// returns what the session wrote.
inline std::string run(Session& s, FakeStore& store, std::string_view input, bool byte_at_a_time,
                       const DriveOptions& o = {}, Drive* drive = nullptr) {
  Drive local;
  Drive& d = drive ? *drive : local;
  std::string out;
  if (!byte_at_a_time || input.empty()) {
    s.feed(input);
    out += drain(s, store, d, o);
  } else {
    for (char c : input) {
      if (d.closed) break;
      s.feed(std::string_view(&c, 1));
      out += drain(s, store, d, o);
    }
  }
  return out;
}

}  // namespace herald::imap::fake
