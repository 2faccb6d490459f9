// admin/mail.cpp - herald mailbox list | create | delete | rename, quota
// get | set, flags, expunge: a user's mail on the store.
#include <algorithm>
#include <chrono>
#include <future>
#include <set>

#include <fmt/format.h>

#include "admin/commands.h"
#include "admin/mailfiles.h"
#include "admin/validate.h"
#include "base/duration.h"
#include "base/text.h"
#include "imap/acl.h"

namespace herald::admin {
namespace {

// selectable_mailbox - the user's mailbox of that name that holds messages.
Result<store::MailboxRecord> selectable_mailbox(store::Store& store, std::int64_t user_id, const std::string& name) {
  auto found = store.mailboxes().find_mailbox(user_id, name);
  if (!found) return found.error();
  if (!*found || !(*found)->selectable)
    return make_error(Errc::not_found, fmt::format("no such mailbox: {}", printable_utf8(name)));
  return std::move(**found);
}

// special_use_of - one of kSpecialUses as it is spelled there, for any case.
Result<std::string> special_use_of(const std::string& use) {
  if (use.empty()) return std::string();
  for (const char* u : kSpecialUses)
    if (iequals(use, u)) return std::string(u);
  return make_error(Errc::invalid, fmt::format("--special-use {}: one of \\All \\Archive \\Drafts \\Flagged \\Junk "
                                               "\\Sent \\Trash",
                                               printable_utf8(use)));
}

bool below(const std::string& name, const std::string& parent) {
  return name.size() > parent.size() && name.starts_with(parent) && name[parent.size()] == store::kHierarchyDelimiter;
}

// select_uids - the UIDs a uid-set names that the mailbox has, ascending.
Result<std::vector<std::int64_t>> select_uids(const std::vector<std::string>& sets,
                                              const std::vector<store::MessageRecord>& messages,
                                              const std::string& mailbox) {
  if (sets.empty()) return make_error(Errc::invalid, "name the messages: UIDs such as 7, 3:9, 5:* or *");
  const std::int64_t highest = messages.empty() ? 0 : messages.back().uid;
  auto from = [&messages](std::int64_t uid) {
    return std::lower_bound(messages.begin(), messages.end(), uid,
                            [](const store::MessageRecord& m, std::int64_t u) { return m.uid < u; });
  };
  auto has = [&](std::int64_t uid) {
    auto it = from(uid);
    return it != messages.end() && it->uid == uid;
  };
  std::set<std::int64_t> out;
  auto number = [&](std::string_view n) -> Result<std::int64_t> {
    if (n == "*") return highest;
    auto v = parse_uint(n);
    if (!v || *v == 0 || *v > 0xffffffffull)
      return make_error(Errc::invalid, fmt::format("{}: not a UID (1 to 4294967295, or *)", printable_utf8(n)));
    return static_cast<std::int64_t>(*v);
  };
  for (const auto& set : sets)
    for (std::string_view item : split(set, ',')) {
      item = trim(item);
      if (item.empty()) continue;
      std::size_t colon = item.find(':');
      if (colon == std::string_view::npos) {
        auto uid = number(item);
        if (!uid) return uid.error();
        if (item == "*" && *uid == 0) continue;  // "*" of an empty mailbox: nothing
        if (!has(*uid))
          return make_error(Errc::not_found, fmt::format("no message with UID {} in {}", *uid, printable_utf8(mailbox)));
        out.insert(*uid);
        continue;
      }
      auto a = number(item.substr(0, colon));
      if (!a) return a.error();
      auto b = number(item.substr(colon + 1));
      if (!b) return b.error();
      const auto [lo, hi] = std::minmax(*a, *b);
      for (auto it = from(lo); it != messages.end() && it->uid <= hi; ++it)
        out.insert(it->uid);
    }
  return std::vector<std::int64_t>(out.begin(), out.end());
}

MessageFlags flags_of(const store::MessageRecord& m) {
  MessageFlags f{m.uid, mailfiles::flag_names(m.flags)};
  f.flags.insert(f.flags.end(), m.keywords.begin(), m.keywords.end());
  return f;
}

}  // namespace

// ---- mailboxes -------------------------------------------------------------

Result<std::vector<MailboxInfo>> mailbox_list(store::Store& store, const std::string& address) {
  auto user = user_of(store, address);
  if (!user) return user.error();
  auto boxes = store.mailboxes().list_mailboxes(user->id);
  if (!boxes) return boxes.error();
  auto subscribed = store.mailboxes().subscriptions(user->id);
  if (!subscribed) return subscribed.error();
  std::vector<MailboxInfo> out;
  out.reserve(boxes->size());
  for (const auto& b : *boxes) {
    MailboxInfo info;
    info.name = b.name;
    info.special_use = b.special_use;
    info.selectable = b.selectable;
    info.subscribed = std::find(subscribed->begin(), subscribed->end(), b.name) != subscribed->end();
    info.uidvalidity = b.uidvalidity;
    info.uidnext = b.uidnext;
    if (b.selectable) {
      auto counts = store.mailboxes().mailbox_counts(b.id);
      if (!counts) return counts.error();
      info.messages = counts->messages;
      info.unseen = counts->unseen;
      info.deleted = counts->deleted;
      info.size = counts->size;
    }
    out.push_back(std::move(info));
  }
  return out;
}

namespace {

// other_users - the refusal of a personal name in IMAP's namespace of other
// users' mailboxes (imap/acl.h).
Error other_users(const std::string& name) {
  return make_error(Errc::invalid, fmt::format("{}: names under \"{}\" are other users' shared mailboxes",
                                               printable(name, 200), imap::kOtherUsers));
}

}  // namespace

Status mailbox_create(store::Store& store, const std::string& address, const std::string& name,
                      const std::string& special_use) {
  auto use = special_use_of(special_use);
  if (!use) return use.error();
  if (imap::in_other_users(name)) return other_users(name);
  auto user = user_of(store, address);
  if (!user) return user.error();
  if (auto st = store.mailboxes().create_mailbox(user->id, name, *use); !st) return st;
  return store.mailboxes().set_subscribed(user->id, store::canonical_mailbox_name(name), true);
}

Status mailbox_delete(store::Store& store, const std::string& address, const std::string& name) {
  auto user = user_of(store, address);
  if (!user) return user.error();
  if (auto st = store.mailboxes().delete_mailbox(user->id, name); !st) return st;
  return store.mailboxes().set_subscribed(user->id, store::canonical_mailbox_name(name), false);
}

Status mailbox_rename(store::Store& store, const std::string& address, const std::string& from, const std::string& to) {
  if (imap::in_other_users(to)) return other_users(to);
  auto user = user_of(store, address);
  if (!user) return user.error();
  const std::string f = store::canonical_mailbox_name(from), t = store::canonical_mailbox_name(to);
  auto subscribed = store.mailboxes().subscriptions(user->id);
  if (!subscribed) return subscribed.error();
  if (auto st = store.mailboxes().rename_mailbox(user->id, from, to); !st) return st;
  if (f == store::kInbox) return store.mailboxes().set_subscribed(user->id, t, true);  // INBOX stays, and its children
  for (const auto& s : *subscribed) {
    if (s != f && !below(s, f)) continue;
    if (auto st = store.mailboxes().set_subscribed(user->id, s, false); !st) return st;
    if (auto st = store.mailboxes().set_subscribed(user->id, t + s.substr(f.size()), true); !st) return st;
  }
  return {};
}

// ---- quota -------------------------------------------------------------------

Result<QuotaInfo> quota_get(store::Store& store, const std::string& address) {
  auto user = user_of(store, address);
  if (!user) return user.error();
  return QuotaInfo{user->address, user->quota_bytes, user->used_bytes};
}

Result<QuotaInfo> quota_set(store::Store& store, const std::string& address, const std::string& size) {
  if (auto st = check_address(address); !st) return st.error();
  if (size.empty()) return make_error(Errc::invalid, "quota: a size such as 500M or 1G, or 0 for none");
  auto quota = parse_quota(size);
  if (!quota) return quota.error();
  if (auto st = store.directory().set_quota(address, *quota); !st) {
    if (st.error().code == Errc::not_found)
      return make_error(Errc::not_found, fmt::format("no such user: {}", to_lower(address)));
    return st.error();
  }
  return quota_get(store, address);
}

// ---- access lists -------------------------------------------------------------

namespace {

// mailbox_of - the user's mailbox of that name (Errc::not_found when none).
Result<std::pair<store::UserRecord, store::MailboxRecord>> mailbox_of(store::Store& store, const std::string& address,
                                                                     const std::string& name) {
  auto user = user_of(store, address);
  if (!user) return user.error();
  auto box = store.mailboxes().find_mailbox(user->id, name);
  if (!box) return box.error();
  if (!*box) return make_error(Errc::not_found, fmt::format("{} has no mailbox {}", user->address, printable(name, 200)));
  return std::make_pair(std::move(*user), std::move(**box));
}

// acl_identifier - "anyone", or an address, in lower case as access lists
// keep them; the owner's own address is refused (their rights are all).
Result<std::string> acl_identifier(const std::string& identifier, const std::string& owner) {
  const std::string id = to_lower(identifier);
  if (id == "anyone") return id;
  if (auto st = check_address(id); !st) return st.error();
  if (id == owner) return make_error(Errc::invalid, "the owner holds every right; their entry cannot be changed");
  return id;
}

}  // namespace

Result<AclInfo> acl_get(store::Store& store, const std::string& address, const std::string& mailbox) {
  auto found = mailbox_of(store, address, mailbox);
  if (!found) return found.error();
  auto acl = store.mailboxes().acl(found->second.id);
  if (!acl) return acl.error();
  return AclInfo{found->first.address, found->second.name, std::move(*acl)};
}

Result<AclInfo> acl_set(store::Store& store, const std::string& address, const std::string& mailbox,
                        const std::string& identifier, const std::string& rights) {
  auto found = mailbox_of(store, address, mailbox);
  if (!found) return found.error();
  auto id = acl_identifier(identifier, found->first.address);
  if (!id) return id.error();
  auto change = imap::parse_rights_change(rights);
  if (!change) return make_error(Errc::invalid, fmt::format("rights are letters of lrswipkxtea, after + or - to add "
                                                            "or remove: not {}", printable(rights, 40)));
  auto st = store.mailboxes().change_acl(found->second.id, *id,
                                         [&change](const std::string& old) { return change->applied_to(old); });
  if (!st) return st.error();
  return acl_get(store, address, mailbox);
}

Result<AclInfo> acl_delete(store::Store& store, const std::string& address, const std::string& mailbox,
                           const std::string& identifier) {
  auto found = mailbox_of(store, address, mailbox);
  if (!found) return found.error();
  auto id = acl_identifier(identifier, found->first.address);
  if (!id) return id.error();
  if (auto st = store.mailboxes().set_acl(found->second.id, *id, ""); !st) return st.error();
  return acl_get(store, address, mailbox);
}

// ---- flags and expunge -------------------------------------------------------

Result<std::vector<MessageFlags>> flags(store::Store& store, const FlagsRequest& request) {
  std::uint32_t bits = 0;
  std::vector<std::string> keywords;
  for (const auto& arg : request.flags) {
    std::string text = arg;
    std::replace(text.begin(), text.end(), ',', ' ');
    for (std::string_view word : split(text, ' ')) {
      if (word.empty()) continue;
      auto bit = mailfiles::parse_flag(word);
      if (!bit)
        return make_error(Errc::invalid, fmt::format("{}: not a flag (\\Seen \\Answered \\Flagged \\Deleted \\Draft) "
                                                     "or keyword",
                                                     printable_utf8(word)));
      if (*bit) bits |= *bit;
      else if (std::find(keywords.begin(), keywords.end(), word) == keywords.end()) keywords.emplace_back(word);
    }
  }
  using Change = FlagsRequest::Change;
  if (request.change == Change::none && !request.flags.empty())
    return make_error(Errc::invalid, "flags given without --add, --remove or --set");
  if ((request.change == Change::add || request.change == Change::remove) && bits == 0 && keywords.empty())
    return make_error(Errc::invalid, "--add and --remove need flags");
  auto user = user_of(store, request.address);
  if (!user) return user.error();
  auto box = selectable_mailbox(store, user->id, request.mailbox);
  if (!box) return box.error();
  auto messages = store.mailboxes().messages(box->id, 0);
  if (!messages) return messages.error();
  auto uids = select_uids(request.uids, *messages, box->name);
  if (!uids) return uids.error();
  if (request.change != Change::none && !uids->empty()) {
    store::Mailboxes::FlagUpdate update;
    update.change = request.change == Change::add      ? store::FlagChange::add
                    : request.change == Change::remove ? store::FlagChange::remove
                                                       : store::FlagChange::replace;
    update.flags = bits;
    update.keywords = keywords;
    std::promise<Status> done;
    store.mailboxes().store_flags(box->id, *uids, std::move(update), [&done](Result<store::Mailboxes::FlagsStored> r) {
      done.set_value(r ? Status() : Status(r.error()));
    });
    if (auto st = done.get_future().get(); !st) return st.error();
    messages = store.mailboxes().messages(box->id, 0);
    if (!messages) return messages.error();
  }
  std::vector<MessageFlags> out;
  for (const auto& m : *messages)
    if (std::binary_search(uids->begin(), uids->end(), m.uid)) out.push_back(flags_of(m));
  return out;
}

Result<std::size_t> expunge(store::Store& store, const ExpungeRequest& request) {
  if (request.before.empty() && !request.deleted)
    return make_error(Errc::invalid, "say which messages: --before D (30d, 12h), --deleted, or both");
  std::optional<std::int64_t> cutoff;
  if (!request.before.empty()) {
    auto d = parse_duration(request.before);
    if (!d) return make_error(Errc::invalid, fmt::format("--before {}: not a duration such as 30d or 12h",
                                                         printable_utf8(request.before)));
    cutoff = std::chrono::duration_cast<std::chrono::seconds>(
                 (std::chrono::system_clock::now() - *d).time_since_epoch()).count();
  }
  auto user = user_of(store, request.address);
  if (!user) return user.error();
  auto box = selectable_mailbox(store, user->id, request.mailbox);
  if (!box) return box.error();
  std::optional<std::vector<std::int64_t>> uids;
  if (cutoff) {
    auto messages = store.mailboxes().messages(box->id, 0);
    if (!messages) return messages.error();
    uids.emplace();
    for (const auto& m : *messages)
      if (m.internaldate < *cutoff) uids->push_back(m.uid);
    if (uids->empty()) return std::size_t{0};
  }
  if (request.deleted) {
    // The \Deleted flags are read in the transaction, as EXPUNGE reads them.
    std::promise<Result<std::vector<std::int64_t>>> done;
    store.mailboxes().expunge_deleted(user->id, box->id, uids, [&done](Result<std::vector<std::int64_t>> r) {
      done.set_value(std::move(r));
    });
    auto removed = done.get_future().get();
    if (!removed) return removed.error();
    return removed->size();
  }
  std::promise<Status> done;
  store.mailboxes().expunge(user->id, box->id, *uids, [&done](Status st) { done.set_value(std::move(st)); });
  if (auto st = done.get_future().get(); !st) return st.error();
  // Counted as gone afterwards (expunge() skips UIDs that went meanwhile).
  auto left = store.mailboxes().messages(box->id, 0);
  if (!left) return left.error();
  std::size_t still = 0;
  for (const auto& m : *left)
    if (std::binary_search(uids->begin(), uids->end(), m.uid)) ++still;
  return uids->size() - still;
}

}  // namespace herald::admin
