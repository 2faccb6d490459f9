#include "imap/listing.h"

#include <algorithm>
#include <atomic>

namespace herald::imap {

namespace {
bool uid_less(const MessageMeta& m, std::uint32_t uid) { return m.uid < uid; }
}  // namespace

Listing::Listing(std::vector<MessageMeta> messages) {
  for (std::size_t i = 0; i < messages.size(); i += kChunk) {
    const auto first = messages.begin() + static_cast<std::ptrdiff_t>(i);
    const auto last = messages.begin() + static_cast<std::ptrdiff_t>(std::min(messages.size(), i + kChunk));
    chunks_.push_back(std::make_shared<Chunk>(std::make_move_iterator(first), std::make_move_iterator(last)));
  }
  recount();
}

const MessageMeta& Listing::operator[](std::size_t i) const {
  const auto c = static_cast<std::size_t>(std::upper_bound(ends_.begin(), ends_.end(), i) - ends_.begin());
  return (*chunks_[c])[i - (c ? ends_[c - 1] : 0)];
}

std::size_t Listing::lower_bound(std::uint32_t uid) const {
  // The first chunk whose last UID is >= uid holds it, if any does.
  auto c = std::lower_bound(chunks_.begin(), chunks_.end(), uid,
                            [](const std::shared_ptr<Chunk>& ch, std::uint32_t u) { return ch->back().uid < u; });
  if (c == chunks_.end()) return size();
  const auto n = static_cast<std::size_t>(c - chunks_.begin());
  const auto in = std::lower_bound((*c)->begin(), (*c)->end(), uid, uid_less);
  return (n ? ends_[n - 1] : 0) + static_cast<std::size_t>(in - (*c)->begin());
}

std::size_t Listing::find(std::uint32_t uid) const {
  const std::size_t i = lower_bound(uid);
  return i < size() && (*this)[i].uid == uid ? i : size();
}

Listing::Chunk& Listing::own(std::size_t c) {
  // Sole owner: no other listing can reach the chunk, so it is changed in
  // place. The fence pairs with the release of the last other owner's
  // reference, so its reads happen before these writes.
  if (chunks_[c].use_count() == 1) {
    std::atomic_thread_fence(std::memory_order_acquire);
  } else {
    chunks_[c] = std::make_shared<Chunk>(*chunks_[c]);
  }
  return *chunks_[c];
}

void Listing::set(std::size_t i, const MessageMeta& meta) {
  const auto c = static_cast<std::size_t>(std::upper_bound(ends_.begin(), ends_.end(), i) - ends_.begin());
  own(c)[i - (c ? ends_[c - 1] : 0)] = meta;
}

void Listing::push_back(const MessageMeta& meta) {
  if (chunks_.empty() || chunks_.back()->size() >= kChunk) {
    chunks_.push_back(std::make_shared<Chunk>());
    chunks_.back()->reserve(kChunk);
    ends_.push_back(ends_.empty() ? 0 : ends_.back());
  }
  own(chunks_.size() - 1).push_back(meta);
  ++ends_.back();
}

void Listing::erase(const std::vector<std::uint32_t>& uids) {
  if (uids.empty() || chunks_.empty()) return;
  bool removed = false;
  auto next = uids.begin();
  for (std::size_t c = 0; c < chunks_.size() && next != uids.end(); ++c) {
    const std::uint32_t last = chunks_[c]->back().uid;
    const auto end = std::upper_bound(next, uids.end(), last);
    // Does the chunk hold any of [next, end)? Only then is it copied.
    const Chunk& ch = *chunks_[c];
    const bool holds = std::any_of(next, end, [&](std::uint32_t u) {
      const auto it = std::lower_bound(ch.begin(), ch.end(), u, uid_less);
      return it != ch.end() && it->uid == u;
    });
    if (holds) {
      std::erase_if(own(c), [&](const MessageMeta& m) { return std::binary_search(next, end, m.uid); });
      removed = true;
    }
    next = end;
  }
  if (!removed) return;
  // An emptied chunk goes; two neighbours that fit in one are joined, so
  // that expunges leave no trail of small chunks.
  std::vector<std::shared_ptr<Chunk>> kept;
  kept.reserve(chunks_.size());
  for (auto& ch : chunks_) {
    if (ch->empty()) continue;
    if (!kept.empty() && kept.back()->size() + ch->size() <= kChunk / 2) {
      auto joined = std::make_shared<Chunk>(*kept.back());
      joined->insert(joined->end(), ch->begin(), ch->end());
      kept.back() = std::move(joined);
      continue;
    }
    kept.push_back(std::move(ch));
  }
  chunks_ = std::move(kept);
  recount();
}

void Listing::recount() {
  ends_.clear();
  std::uint32_t n = 0;
  for (const auto& ch : chunks_) ends_.push_back(n += static_cast<std::uint32_t>(ch->size()));
}

void advance(Listing& listing, const answer::Changes& changes) {
  std::vector<std::uint32_t> expunged = changes.expunged;
  std::sort(expunged.begin(), expunged.end());
  listing.erase(expunged);
  for (const auto& m : changes.changed) {
    if (listing.empty() || m.uid > listing.back().uid) {
      listing.push_back(m);
      continue;
    }
    if (const std::size_t i = listing.find(m.uid); i < listing.size()) listing.set(i, m);
  }
}

}  // namespace herald::imap
