#include "imap/view.h"

#include <algorithm>

#include <fmt/format.h>

#include "imap/fetch_spec.h"

namespace herald::imap {

void MailboxView::open(MailboxInfo info, std::vector<MessageMeta> messages) {
  info_ = std::move(info);
  messages_ = std::move(messages);
  gone_.clear();
  modseq_ = info_.highestmodseq;
}

std::uint32_t MailboxView::msn_of(std::uint32_t uid) const {
  auto it = std::lower_bound(messages_.begin(), messages_.end(), uid,
                             [](const MessageMeta& m, std::uint32_t u) { return m.uid < u; });
  if (it == messages_.end() || it->uid != uid) return 0;
  return static_cast<std::uint32_t>(it - messages_.begin()) + 1;
}

std::uint32_t MailboxView::unseen_first() const {
  for (std::size_t i = 0; i < messages_.size(); ++i)
    if (!(messages_[i].flags & kSeen)) return static_cast<std::uint32_t>(i + 1);
  return 0;
}

std::vector<std::string> MailboxView::keywords() const {
  std::set<std::string> all;
  for (const auto& m : messages_) all.insert(m.keywords.begin(), m.keywords.end());
  return {all.begin(), all.end()};
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
      auto lo = std::lower_bound(messages_.begin(), messages_.end(), a,
                                 [](const MessageMeta& m, std::uint32_t u) { return m.uid < u; });
      auto hi = std::upper_bound(messages_.begin(), messages_.end(), b,
                                 [](std::uint32_t u, const MessageMeta& m) { return u < m.uid; });
      if (lo < hi)
        spans.emplace_back(static_cast<std::uint32_t>(lo - messages_.begin()) + 1,
                           static_cast<std::uint32_t>(hi - messages_.begin()));
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
      messages_.push_back(m);  // new: told by EXISTS below
      largest = m.uid;
      added = true;
      continue;
    }
    std::uint32_t msn = msn_of(m.uid);
    if (!msn) continue;
    MessageMeta& mine = at(msn);
    bool flags_changed = mine.flags != m.flags || mine.keywords != m.keywords;
    bool modseq_changed = mine.modseq != m.modseq;
    mine = m;
    if (gone_.count(m.uid)) continue;
    if (flags_changed || (options.condstore && modseq_changed)) {
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
  if (!messages_.empty()) info_.uidnext = std::max(info_.uidnext, largest_uid() + 1);
}

void MailboxView::expunged(const std::vector<std::uint32_t>& uids, const ViewOptions& options, std::string& out) {
  // Expunges of others that were waiting are told with ours.
  std::vector<std::uint32_t> all(gone_.begin(), gone_.end());
  all.insert(all.end(), uids.begin(), uids.end());
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
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
  std::erase_if(messages_, [&](const MessageMeta& m) { return std::binary_search(told.begin(), told.end(), m.uid); });
  if (options.qresync && !told.empty()) {
    out += "* VANISHED ";
    append_uid_set(out, told);
    out += "\r\n";
  }
}

void MailboxView::update(const MessageMeta& meta) {
  if (std::uint32_t msn = msn_of(meta.uid)) at(msn) = meta;
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
