// imap/view.h - the selected mailbox as one session sees it: its messages
// in message sequence number order, their flags, and the changes the store
// reported that the client has not been told yet. Pure.
//
// Invariants (RFC 9051 7.5.1, 5.5):
// - Sequence numbers change only when the client is told, by EXPUNGE (or
//   VANISHED, RFC 7162 3.2.10), and only when it may be: never during
//   FETCH, STORE or SEARCH by sequence number. Until then an expunged
//   message keeps its number and is marked gone.
// - New messages are told with EXISTS; their UIDs are above every UID the
//   view has.
// - A flag change is told once (FETCH FLAGS), whoever made it.
//
// The messages are a Listing (imap/listing.h) that sessions share: while
// the view is exactly the mailbox at its MODSEQ (nothing untold, none of
// this session's own changes ahead of it), shareable() hands it out and
// adopt() takes an equal one another session made, so that sessions on
// one mailbox hold one listing between them.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "imap/listing.h"
#include "imap/mailstore.h"
#include "imap/sequence.h"

namespace herald::imap {

struct ViewOptions {
  bool condstore = false;  // MODSEQ in FETCH responses (RFC 7162 3.1.4)
  bool qresync = false;    // VANISHED instead of EXPUNGE (RFC 7162 3.2.10)
  bool flags = true;       // FETCH FLAGS for flags changed (not under NOTIFY without FlagChange, RFC 5465 5)
};

class MailboxView {
 public:
  // open - REQUIRES: messages not null, complete up to info.highestmodseq.
  void open(MailboxInfo info, std::shared_ptr<const Listing> messages);

  const MailboxInfo& info() const { return info_; }
  std::int64_t id() const { return info_.id; }
  std::uint32_t exists() const { return static_cast<std::uint32_t>(messages_->size()); }
  // at - by sequence number, 1-based. REQUIRES: 1 <= msn <= exists().
  const MessageMeta& at(std::uint32_t msn) const { return (*messages_)[msn - 1]; }
  // msn_of - the sequence number of a UID, 0 when the view has none.
  std::uint32_t msn_of(std::uint32_t uid) const;
  std::uint32_t largest_uid() const { return messages_->empty() ? 0 : messages_->back().uid; }
  std::uint32_t unseen_first() const;  // RFC 3501 [UNSEEN n]; 0: none
  bool gone(std::uint32_t uid) const { return gone_.count(uid) != 0; }
  // keywords - every keyword in use, for the FLAGS response.
  std::vector<std::string> keywords() const;

  // resolve - the sequence numbers a set names, ascending, each once. By
  // UID, numbers without a message are skipped (RFC 9051 6.4.9); by
  // sequence number, a number past exists() makes it invalid (false).
  bool resolve(const SequenceSet& set, bool by_uid, std::vector<std::uint32_t>& msns) const;

  // apply - what the store reported since the view's MODSEQ: untagged
  // responses for it appended to out. allow_expunge: the client may be
  // told of expunges now; otherwise they wait.
  void apply(const answer::Changes& changes, bool allow_expunge, const ViewOptions& options, std::string& out);
  // expunged - this session's own EXPUNGE or MOVE: removed and told now.
  void expunged(const std::vector<std::uint32_t>& uids, const ViewOptions& options, std::string& out);
  // update - a message this session's STORE changed.
  void update(const MessageMeta& meta);
  // modseq - the MODSEQ the view is complete up to.
  std::uint64_t modseq() const { return modseq_; }

  // shareable - the listing when it is exactly the mailbox at modseq(),
  // else null.
  std::shared_ptr<const Listing> shareable() const;
  // adopt - an equal listing in place of the view's own. REQUIRES: made
  // from the store's state at modseq(), while shareable() is not null.
  void adopt(std::shared_ptr<const Listing> listing) { messages_ = std::move(listing); }

 private:
  void remove(const std::vector<std::uint32_t>& uids, const ViewOptions& options, std::string& out);
  Listing& edit();  // the listing, copied first if another holds it
  void ahead();     // the session's own change went in past modseq_

  MailboxInfo info_;
  std::shared_ptr<const Listing> messages_ = std::make_shared<Listing>();  // by UID = by sequence number
  std::set<std::uint32_t> gone_;  // expunged, not yet told
  std::uint64_t modseq_ = 0;
  // The session's own STORE or EXPUNGE changed the listing past modseq_
  // (at ahead_since_); the next store answer past that MODSEQ covers it.
  bool ahead_ = false;
  std::uint64_t ahead_since_ = 0;
};

// append_uid_set - "1:3,7" for ascending UIDs (RFC 9051 9 sequence-set).
void append_uid_set(std::string& out, const std::vector<std::uint32_t>& uids);

}  // namespace herald::imap
