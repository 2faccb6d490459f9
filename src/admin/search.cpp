// admin/search.cpp - herald search: a user's mail by its words, from the
// full-text index IMAP's SEARCH TEXT reads (Mailboxes::search_text).
#include <algorithm>

#include <fmt/format.h>

#include "admin/commands.h"
#include "admin/validate.h"
#include "base/text.h"
#include "mime/header.h"
#include "mime/structure.h"

namespace herald::admin {
namespace {

// Where a message's From and Subject are looked for when it has no
// structure kept (stored before schema 11): its first octets.
constexpr std::uint64_t kHeaderRead = 64 * 1024;

// describe - From and Subject of a message found, decoded.
Status describe(store::Store& store, std::int64_t mailbox_id, SearchHit& hit) {
  auto kept = store.mailboxes().message_structure(mailbox_id, hit.uid);
  if (!kept) return kept.error();
  if (*kept) {
    if (auto part = mime::decode((*kept)->encoded); part && part->envelope) {
      hit.from = mime::decode_encoded_words(part->envelope->from);
      hit.subject = mime::decode_encoded_words(part->envelope->subject);
      return {};
    }
  }
  auto head = store.mailboxes().read_message(mailbox_id, hit.uid, {0, kHeaderRead});
  if (!head) return head.error();
  auto first = [&](const char* name) {
    auto values = mime::field_values(*head, name);
    return values.empty() ? std::string() : mime::decode_encoded_words(values.front());
  };
  hit.from = first("From");
  hit.subject = first("Subject");
  return {};
}

}  // namespace

Result<SearchEnd> search(store::Store& store, const SearchRequest& request, const Sink<SearchHit>& row) {
  auto user = user_of(store, request.address);
  if (!user) return user.error();
  auto boxes = store.mailboxes().list_mailboxes(user->id);
  if (!boxes) return boxes.error();
  std::vector<store::MailboxRecord> searched;
  if (request.mailbox.empty()) {
    for (auto& b : *boxes)
      if (b.selectable) searched.push_back(std::move(b));
    std::sort(searched.begin(), searched.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  } else {
    const std::string name = store::canonical_mailbox_name(request.mailbox);
    for (auto& b : *boxes)
      if (b.selectable && b.name == name) searched.push_back(std::move(b));
    if (searched.empty())
      return make_error(Errc::not_found, fmt::format("no such mailbox: {}", printable_utf8(request.mailbox)));
  }
  SearchEnd end;
  for (const auto& box : searched) {
    auto found = store.mailboxes().search_text(box.id, request.query, /*body_only=*/false);
    if (!found) return found.error();
    end.unindexed += found->unindexed.size();
    if (found->matches.empty()) continue;
    // Internal dates from one listing of the mailbox (UID order).
    auto listed = store.mailboxes().messages(box.id, 0);
    if (!listed) return listed.error();
    for (auto uid : found->matches) {
      SearchHit hit;
      hit.mailbox = box.name;
      hit.uid = uid;
      auto it = std::lower_bound(listed->begin(), listed->end(), uid,
                                 [](const store::MessageRecord& m, std::int64_t u) { return m.uid < u; });
      if (it == listed->end() || it->uid != uid) continue;  // expunged since the search
      hit.internaldate = it->internaldate;
      if (auto st = describe(store, box.id, hit); !st) {
        if (st.error().code == Errc::not_found) continue;  // expunged meanwhile
        return st.error();
      }
      ++end.hits;
      if (!row(hit)) return end;
    }
  }
  return end;
}

}  // namespace herald::admin
