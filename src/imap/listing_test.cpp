// The shared listing (imap/listing.h) and a view's sharing of it
// (imap/view.h): copies see none of each other's changes, whatever the
// chunk boundaries, and a view is shareable only while it is exactly the
// mailbox at its MODSEQ.
#include "imap/listing.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "imap/view.h"

namespace herald::imap {
namespace {

MessageMeta meta(std::uint32_t uid, std::uint64_t modseq = 1) {
  MessageMeta m;
  m.uid = uid;
  m.modseq = modseq;
  m.size = uid * 10;
  return m;
}

// uids - every third UID from 3: gaps, so that lookups between UIDs are tried.
std::vector<MessageMeta> spaced(std::uint32_t n) {
  std::vector<MessageMeta> out;
  for (std::uint32_t i = 1; i <= n; ++i) out.push_back(meta(3 * i));
  return out;
}

std::vector<std::uint32_t> uids_of(const Listing& l) {
  std::vector<std::uint32_t> out;
  for (std::size_t i = 0; i < l.size(); ++i) out.push_back(l[i].uid);
  return out;
}

TEST(ListingTest, IndexesAndFindsAcrossChunks) {
  const std::uint32_t n = 3 * Listing::kChunk + 7;
  Listing l(spaced(n));
  ASSERT_EQ(l.size(), n);
  for (std::uint32_t i = 0; i < n; ++i) {
    ASSERT_EQ(l[i].uid, 3 * (i + 1));
    ASSERT_EQ(l.find(3 * (i + 1)), i);
    ASSERT_EQ(l.find(3 * (i + 1) + 1), l.size());      // between two UIDs
    ASSERT_EQ(l.lower_bound(3 * (i + 1) - 1), i);       // the next one up
  }
  EXPECT_EQ(l.lower_bound(0), 0u);
  EXPECT_EQ(l.lower_bound(3 * n + 1), l.size());
  EXPECT_EQ(l.back().uid, 3 * n);
  EXPECT_TRUE(Listing().empty());
  EXPECT_EQ(Listing().lower_bound(5), 0u);
}

TEST(ListingTest, ACopyKeepsItsMessagesWhenTheOtherChanges) {
  const std::uint32_t n = 2 * Listing::kChunk;
  Listing a(spaced(n));
  Listing b = a;
  MessageMeta changed = meta(3, 9);
  changed.flags = kSeen;
  b.set(0, changed);
  b.push_back(meta(3 * n + 3));
  b.erase({6, 3 * Listing::kChunk + 3});  // one in each chunk
  EXPECT_EQ(a.size(), n);
  EXPECT_EQ(a[0].flags, 0u);
  EXPECT_EQ(a.find(6), 1u);
  EXPECT_EQ(b.size(), n - 1);
  EXPECT_EQ(b[0].flags, kSeen);
  EXPECT_EQ(b.find(6), b.size());
  EXPECT_EQ(b.back().uid, 3 * n + 3);
  // A change to a copy no one else holds stays in it.
  Listing c = b;
  b = Listing();
  c.set(0, meta(3, 10));
  EXPECT_EQ(c[0].modseq, 10u);
}

TEST(ListingTest, PushBackOpensChunksAndEraseJoinsThem) {
  Listing l;
  const std::uint32_t n = 4 * Listing::kChunk;
  for (std::uint32_t uid = 1; uid <= n; ++uid) l.push_back(meta(uid));
  ASSERT_EQ(l.size(), n);
  // Expunge all but every 16th: the chunks left are joined, the order kept.
  std::vector<std::uint32_t> gone, kept;
  for (std::uint32_t uid = 1; uid <= n; ++uid) (uid % 16 ? gone : kept).push_back(uid);
  l.erase(gone);
  EXPECT_EQ(uids_of(l), kept);
  for (std::size_t i = 0; i < kept.size(); ++i) ASSERT_EQ(l.find(kept[i]), i);
  l.erase(kept);
  EXPECT_TRUE(l.empty());
  l.push_back(meta(n + 1));
  EXPECT_EQ(uids_of(l), std::vector<std::uint32_t>{n + 1});
  l.erase({1, 2, n + 5});  // absent UIDs: nothing happens
  EXPECT_EQ(l.size(), 1u);
}

TEST(ListingTest, AdvanceAppliesTheStoresChanges) {
  Listing l(spaced(10));  // UIDs 3..30
  answer::Changes c;
  MessageMeta flagged = meta(9, 5);
  flagged.flags = kFlagged;
  c.changed = {flagged, meta(31, 6), meta(40, 7)};
  c.expunged = {12, 3, 100};  // unsorted, one never seen
  c.highestmodseq = 7;
  advance(l, c);
  EXPECT_EQ(uids_of(l), (std::vector<std::uint32_t>{6, 9, 15, 18, 21, 24, 27, 30, 31, 40}));
  EXPECT_EQ(l[l.find(9)].flags, kFlagged);
}

// A view opened on a listing shares it until it changes; it is shareable
// while nothing is untold and none of its own changes is ahead of its MODSEQ.
TEST(ListingTest, AViewIsShareableOnlyWhenExact) {
  auto listing = std::make_shared<Listing>(spaced(4));  // UIDs 3, 6, 9, 12
  MailboxInfo info;
  info.id = 1;
  info.highestmodseq = 1;
  MailboxView view;
  view.open(info, listing);
  EXPECT_EQ(view.shareable(), listing);

  // Its own STORE: ahead of MODSEQ 1 until the store answers past it.
  MessageMeta seen = meta(6, 2);
  seen.flags = kSeen;
  view.update(seen);
  EXPECT_EQ(view.shareable(), nullptr);
  EXPECT_EQ(listing->find(6), 1u);
  EXPECT_EQ((*listing)[1].flags, 0u);  // the shared one untouched
  std::string out;
  view.apply(answer::Changes{{}, {}, 1}, true, {}, out);  // nothing new (the watch's short cut)
  EXPECT_EQ(view.shareable(), nullptr);
  view.apply(answer::Changes{{seen}, {}, 2}, true, {}, out);
  EXPECT_EQ(out, "");  // its own change is not told again
  ASSERT_NE(view.shareable(), nullptr);

  // Another session's expunge, not yet to be told: not shareable.
  view.apply(answer::Changes{{}, {9}, 3}, false, {}, out);
  EXPECT_EQ(view.shareable(), nullptr);
  EXPECT_EQ(view.exists(), 4u);
  view.apply(answer::Changes{{}, {}, 3}, true, {}, out);
  EXPECT_EQ(out, "* 3 EXPUNGE\r\n");
  ASSERT_NE(view.shareable(), nullptr);

  // Adopting an equal listing keeps every number and flag.
  auto equal = std::make_shared<Listing>(std::vector<MessageMeta>{meta(3), seen, meta(12)});
  view.adopt(equal);
  EXPECT_EQ(view.shareable(), equal);
  EXPECT_EQ(view.msn_of(12), 3u);
  EXPECT_EQ(view.at(2).flags, kSeen);
}

}  // namespace
}  // namespace herald::imap
