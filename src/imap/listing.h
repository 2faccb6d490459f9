// imap/listing.h - a mailbox's messages in UID order as a value that many
// sessions share: copying one copies a few pointers, and a change copies
// only the chunk it touches (docs/ARCHITECTURE.md "IMAP", the shared
// listing). Pure.
//
// Why chunks: every session with a mailbox selected needs its listing
// (sequence numbers, flags, sizes), 72 octets a message. Kept whole per
// session, 1,000 sessions on a 10,000-message INBOX hold 720 MB; shared,
// they hold one listing, and a delivery or a flag change costs each
// session a copy of one chunk until it takes the shared one again
// (server/mailbox_watch.h).
//
// Thread safety: a Listing object is used by one thread at a time; chunks
// are shared between threads and never changed while shared (a change to
// a chunk someone else holds copies it first).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "imap/mailstore.h"

namespace herald::imap {

class Listing {
 public:
  // Messages per chunk: a change copies at most this many (~36 KiB); a
  // listing holds one pointer per this many messages.
  static constexpr std::size_t kChunk = 512;

  Listing() = default;
  explicit Listing(std::vector<MessageMeta> messages);  // REQUIRES: ascending UIDs

  std::size_t size() const { return ends_.empty() ? 0 : ends_.back(); }
  bool empty() const { return size() == 0; }
  // REQUIRES: i < size(). O(log(size() / kChunk)).
  const MessageMeta& operator[](std::size_t i) const;
  const MessageMeta& back() const { return chunks_.back()->back(); }
  // lower_bound - the index of the first message with a UID >= uid (size() if none).
  std::size_t lower_bound(std::uint32_t uid) const;
  // find - the index of a UID, size() when absent.
  std::size_t find(std::uint32_t uid) const;
  // each - f(message) in order until f returns false; a scan without the
  // look-up operator[] makes per message.
  template <typename F>
  void each(F&& f) const {
    for (const auto& ch : chunks_)
      for (const auto& m : *ch)
        if (!f(m)) return;
  }

  // set - replace message i (its UID stays).
  void set(std::size_t i, const MessageMeta& meta);
  // push_back - REQUIRES: meta.uid above every UID here.
  void push_back(const MessageMeta& meta);
  // erase - the messages with these UIDs (ascending); absent ones are skipped.
  void erase(const std::vector<std::uint32_t>& uids);

 private:
  using Chunk = std::vector<MessageMeta>;
  Chunk& own(std::size_t c);  // chunk c, copied first if shared
  void recount();

  std::vector<std::shared_ptr<Chunk>> chunks_;  // none empty
  std::vector<std::uint32_t> ends_;             // ends_[c]: messages in chunks 0..c
};

// advance - a listing complete up to some MODSEQ brought up to the store's
// changes after it: changed messages replaced, new ones added, expunged
// ones removed.
void advance(Listing& listing, const answer::Changes& changes);

}  // namespace herald::imap
