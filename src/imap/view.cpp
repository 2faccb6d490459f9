#include "imap/view.h"

#include <algorithm>
#include <atomic>
#include <cstdint>

#include <fmt/format.h>

#include "imap/fetch_spec.h"

namespace herald::imap {

void MailboxView::open(MailboxInfo info, std::shared_ptr<const Listing> messages) {
  info_ = std::move(info);
  messages_ = std::move(messages);
  gone_.clear();
  modseq_ = info_.highestmodseq;
  ahead_ = false;
}

std::uint32_t MailboxView::msn_of(std::uint32_t uid) const {
  const std::size_t i = messages_->find(uid);
  return i < messages_->size() ? static_cast<std::uint32_t>(i) + 1 : 0;
}

std::uint32_t MailboxView::unseen_first() const {
  std::uint32_t msn = 0, first = 0;
  messages_->each([&](const MessageMeta& m) {
    ++msn;
    if (!(m.flags & kSeen)) first = msn;
    return first == 0;
  });
  return first;
}

std::vector<std::string> MailboxView::keywords() const {
  std::set<std::string> all;
  messages_->each([&](const MessageMeta& m) {
    all.insert(m.keywords.begin(), m.keywords.end());
    return true;
  });
  return {all.begin(), all.end()};
}

std::shared_ptr<const Listing> MailboxView::shareable() const {
  return gone_.empty() && !ahead_ ? messages_ : nullptr;
}

Listing& MailboxView::edit() {
  if (messages_.use_count() == 1) {
    // Sole owner (see Listing::own): changed in place. Listings are made
    // mutable (std::make_shared<Listing>) and only shared as const.
    std::atomic_thread_fence(std::memory_order_acquire);
  } else {
    messages_ = std::make_shared<Listing>(*messages_);
  }
  return const_cast<Listing&>(*messages_);
}

void MailboxView::ahead() {
  if (ahead_) return;
  ahead_ = true;
  ahead_since_ = modseq_;
}

bool MailboxView::resolve(const SequenceSet& set, bool by_uid, std::vector<std::uint32_t>& msns) const {
  msns.clear();
  const std::uint32_t n = exists();
  // The ranges as [first, last] of sequence numbers, merged before they are
  // expanded: "1:*,1:*,..." costs its ranges, not ranges times messages.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> spans;
  for (const auto& r : set.ranges()) {
    if (!by_uid) {
      std::uint32_t a = r.first == SequenceSet::kStar ? n : r.first;
      std::uint32_t b = r.last == SequenceSet::kStar ? n : r.last;
      if (a > b) std::swap(a, b);
      if (n == 0 && (r.first == SequenceSet::kStar || r.last == SequenceSet::kStar)) continue;  // "1:*" of nothing
      if (b > n || a == 0) return false;
      spans.emplace_back(a, b);
    } else {
      // RFC 9051 6.4.9: "*" is the largest UID; "n:*" with n past it is n.
      const std::uint32_t largest = largest_uid();
      std::uint32_t a = r.first == SequenceSet::kStar ? largest : r.first;
      std::uint32_t b = r.last == SequenceSet::kStar ? largest : r.last;
      if (a > b) std::swap(a, b);
      const std::size_t lo = messages_->lower_bound(a);
      const std::size_t hi = b == UINT32_MAX ? messages_->size() : messages_->lower_bound(b + 1);
      if (lo < hi) spans.emplace_back(static_cast<std::uint32_t>(lo) + 1, static_cast<std::uint32_t>(hi));
    }
  }
  std::sort(spans.begin(), spans.end());
  std::uint32_t next = 1;  // the first number not yet taken
  for (auto [a, b] : spans) {
    for (std::uint32_t i = std::max(a, next); i <= b; ++i) msns.push_back(i);
    next = std::max(next, b + 1);
  }
  return true;
}

void MailboxView::apply(const answer::Changes& changes, bool allow_expunge, const ViewOptions& options,
                        std::string& out) {
  for (auto uid : changes.expunged)
    if (msn_of(uid)) gone_.insert(uid);
  std::uint32_t largest = largest_uid();
  bool added = false;
  for (const auto& m : changes.changed) {
    if (m.uid > largest) {
      edit().push_back(m);  // new: told by EXISTS below
      largest = m.uid;
      added = true;
      continue;
    }
    std::uint32_t msn = msn_of(m.uid);
    if (!msn) continue;
    const MessageMeta& mine = at(msn);
    if (mine == m) continue;
    bool flags_changed = mine.flags != m.flags || mine.keywords != m.keywords;
    bool modseq_changed = mine.modseq != m.modseq;
    edit().set(msn - 1, m);
    if (gone_.count(m.uid)) continue;
    if (options.flags && (flags_changed || (options.condstore && modseq_changed))) {
      out += fmt::format("* {} FETCH (UID {} FLAGS ", msn, m.uid);
      append_flags(out, m.flags, m.keywords);
      if (options.condstore) out += fmt::format(" MODSEQ ({})", m.modseq);
      out += ")\r\n";
    }
  }
  if (allow_expunge && !gone_.empty()) {
    std::vector<std::uint32_t> uids(gone_.begin(), gone_.end());
    remove(uids, options, out);
  }
  // EXISTS after expunges: the count the client ends with (RFC 9051 7.4.1).
  if (added) out += fmt::format("* {} EXISTS\r\n", exists());
  if (changes.highestmodseq > modseq_) modseq_ = changes.highestmodseq;
  // Only the store answers past the MODSEQ the session's own change came
  // after, and its answer was read after that change committed.
  if (ahead_ && modseq_ > ahead_since_) ahead_ = false;
  if (!messages_->empty()) info_.uidnext = std::max(info_.uidnext, largest_uid() + 1);
}

void MailboxView::expunged(const std::vector<std::uint32_t>& uids, const ViewOptions& options, std::string& out) {
  // Expunges of others that were waiting are told with ours.
  std::vector<std::uint32_t> all(gone_.begin(), gone_.end());
  all.insert(all.end(), uids.begin(), uids.end());
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  if (!uids.empty()) ahead();
  remove(all, options, out);
}

void MailboxView::remove(const std::vector<std::uint32_t>& uids, const ViewOptions& options, std::string& out) {
  // The sequence numbers first, then one pass that keeps the rest: no
  // erase per message (an expunge of half a large mailbox stays linear).
  std::vector<std::uint32_t> msns, told;
  for (auto uid : uids) {
    gone_.erase(uid);
    if (std::uint32_t msn = msn_of(uid)) {
      msns.push_back(msn);
      told.push_back(uid);
    }
  }
  std::sort(msns.begin(), msns.end());
  if (!options.qresync) {
    // Highest sequence number first, so that each EXPUNGE's number is right
    // as the client renumbers after each one (RFC 9051 7.5.1).
    for (auto it = msns.rbegin(); it != msns.rend(); ++it) out += fmt::format("* {} EXPUNGE\r\n", *it);
  }
  std::sort(told.begin(), told.end());
  if (!told.empty()) edit().erase(told);
  if (options.qresync && !told.empty()) {
    out += "* VANISHED ";
    append_uid_set(out, told);
    out += "\r\n";
  }
}

void MailboxView::update(const MessageMeta& meta) {
  std::uint32_t msn = msn_of(meta.uid);
  if (!msn || at(msn) == meta) return;
  ahead();
  edit().set(msn - 1, meta);
}

void append_uid_set(std::string& out, const std::vector<std::uint32_t>& uids) {
  for (std::size_t i = 0; i < uids.size();) {
    std::size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
    if (i) out += ',';
    if (j == i) out += fmt::format("{}", uids[i]);
    else out += fmt::format("{}:{}", uids[i], uids[j]);
    i = j + 1;
  }
}

}  // namespace herald::imap
