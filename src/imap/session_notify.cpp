// imap/session_notify.cpp - NOTIFY (RFC 5465): the client names mailboxes
// and events; between commands (and in IDLE) the session tells what
// changed - the selected mailbox's new messages, expunges and flags as
// EXISTS/EXPUNGE/FETCH, the others' as STATUS - when the driver wakes it
// (on_idle_wake, docs/ARCHITECTURE.md "IMAP").
#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "imap/session.h"
#include "imap/status.h"

namespace herald::imap {
namespace {

// told_items - the STATUS items a group's events report (RFC 5465 3.1,
// 5.1-5.3): the counts and UIDVALIDITY, UNSEEN for flag changes, and
// HIGHESTMODSEQ whenever CONDSTORE is on.
StatusItems told_items(const NotifyEvents& events, bool condstore) {
  StatusItems items{"MESSAGES", "UIDNEXT", "UIDVALIDITY"};
  if (events.flags) items.push_back("UNSEEN");
  if (condstore) items.push_back("HIGHESTMODSEQ");
  return items;
}

// worth_telling - what changed is among the events asked for.
bool worth_telling(const NotifyEvents& events, const MailboxInfo& was, const MailboxInfo& now) {
  if (events.messages && (was.messages != now.messages || was.uidnext != now.uidnext ||
                          was.uidvalidity != now.uidvalidity))
    return true;
  return events.flags && (was.unseen != now.unseen || was.highestmodseq != now.highestmodseq);
}

}  // namespace

Session::Outcome Session::cmd_notify(Command& c) {
  NotifyParse parsed = parse_notify(c.args, [this](const Value& v, std::string& error) { return mailbox_arg(v, error); });
  if (!parsed.spec) {
    if (parsed.bad) return bad(parsed.error);
    Outcome o;
    o.output = fmt::format("{} NO {}\r\n", tag_, parsed.error);
    return o;
  }
  notify_mailboxes_.clear();
  ++watch_generation_;
  if (parsed.spec->groups.empty()) {  // NOTIFY NONE
    notify_.reset();
    return finish(ok("NOTIFY completed").output, true);
  }
  notify_ = std::move(*parsed.spec);
  return ask(request::List{true}, [this](Answer& a) {
    if (a.error != StoreError::none) {
      notify_.reset();
      return store_failed(a);
    }
    std::string untagged = notify_resolve(std::get<answer::List>(a.value));
    // NOTIFY SET also tells the selected mailbox's changes, as NOOP does.
    return prefixed(std::move(untagged), finish(ok("NOTIFY completed").output, true));
  });
}

// notify_resolve - the mailboxes the groups name, each with its state now
// (the STATUS of NOTIFY SET STATUS, RFC 5465 3.1). A name that does not
// exist is passed over; one the user may see but not read is said to be
// \NoAccess (RFC 5465 6).
std::string Session::notify_resolve(const answer::List& list) {
  std::string out;
  // A mailbox named before keeps what the client was told of it: a change
  // not told yet is still told at the next wake.
  std::map<std::int64_t, NotifyMailbox> before;
  for (auto& m : notify_mailboxes_) before.emplace(m.told.id, std::move(m));
  notify_mailboxes_.clear();
  ++watch_generation_;
  const std::set<std::string> subscribed(list.subscriptions.begin(), list.subscriptions.end());
  for (const auto& m : list.mailboxes) {
    if (!m.selectable) continue;
    const NotifyGroup* group = notify_->group_for(m.name, subscribed.count(m.name) != 0);
    if (!group || group->events.none()) continue;
    if (!m.rights.empty() && !Rights::parse(m.rights).value_or(Rights()).has('r')) {
      out += "* LIST (\\NoAccess) \"/\" " + mailbox_out(m.name) + "\r\n";
      continue;
    }
    NotifyMailbox named{m, group};
    if (auto kept = before.find(m.id); kept != before.end()) {
      named.told = std::move(kept->second.told);
      named.told.name = m.name;  // renamed by this session
      named.own_change = kept->second.own_change;
    }
    notify_mailboxes_.push_back(std::move(named));
    const bool selected = state_ == State::selected && view_.id() == m.id;
    if (notify_->status && !selected)
      out += status_line(mailbox_out(m.name), m, told_items(group->events, view_options_.condstore), 0);
  }
  return out;
}

Session::Outcome Session::notify_refresh(std::string tagged) {
  if (!notify_) {
    Outcome o;
    o.output = std::move(tagged);
    return o;
  }
  // PERSONAL and SUBSCRIBED name other mailboxes now (RFC 5465 6).
  return ask(request::List{true}, [this, tagged = std::move(tagged)](Answer& a) {
    Outcome o;
    if (a.error == StoreError::none && notify_) {
      const bool status = std::exchange(notify_->status, false);  // no STATUS for these
      notify_resolve(std::get<answer::List>(a.value));
      notify_->status = status;
    }
    o.output = tagged;
    return o;
  });
}

void Session::note_own_change(const std::string& mailbox) {
  const std::int64_t selected = state_ == State::selected ? view_.id() : 0;  // told as the selected one
  for (auto& m : notify_mailboxes_)
    if (m.told.name == mailbox && m.told.id != selected) m.own_change = true;
}

bool Session::wants_selected_changes() const {
  if (state_ != State::selected) return false;
  if (idling_) return true;
  const NotifyGroup* selected = notify_ ? notify_->selected() : nullptr;
  return selected && !selected->events.none();
}

std::vector<std::int64_t> Session::watched_mailboxes() const {
  std::vector<std::int64_t> ids;
  ids.reserve(notify_mailboxes_.size());
  for (const auto& m : notify_mailboxes_) ids.push_back(m.told.id);
  return ids;
}

bool Session::waits_for_events() const {
  if (idling_) return true;
  // Only between commands: never inside one, nor with a command's octets
  // read in part.
  return notify_ && reader_.between_commands() && (!notify_mailboxes_.empty() || wants_selected_changes());
}

void Session::on_idle_wake(std::vector<std::int64_t> changed) {
  if (request_ || resume_ || state_ == State::logout) return;
  Outcome o = tell_changes(std::move(changed));
  if (o.request) {
    request_ = std::move(o.request);
    then_ = std::move(o.then);
  }
}

// tell_changes - the selected mailbox's changes (as IDLE tells them; with
// NOTIFY SELECTED-DELAYED, expunges wait for a command that may tell them,
// RFC 5465 6), the new messages' FETCH that MessageNew asked, then the
// other mailboxes' STATUS.
Session::Outcome Session::tell_changes(std::vector<std::int64_t> changed) {
  if (!wants_selected_changes()) return tell_status(std::move(changed));
  return ask(request::Changes{view_.id(), view_.modseq()}, [this, changed = std::move(changed)](Answer& a) mutable {
    if (a.error != StoreError::none || state_ != State::selected) return tell_status(std::move(changed));
    const NotifyGroup* group = notify_ ? notify_->selected() : nullptr;
    const bool allow_expunge = idling_ || !group || group->filter == NotifyGroup::Filter::selected;
    const std::uint32_t largest = view_.largest_uid();
    // Without FlagChange the client hears of no flag change (RFC 5465 5).
    ViewOptions options = view_options_;
    options.flags = idling_ || !group || group->events.flags;
    std::string out;
    view_.apply(std::get<answer::Changes>(a.value), allow_expunge, options, out);
    auto then = [this, changed = std::move(changed)]() mutable { return tell_status(std::move(changed)); };
    if (!group || !group->events.fetch) return prefixed(std::move(out), then());
    std::vector<std::uint32_t> added;
    for (std::uint32_t msn = view_.exists(); msn >= 1 && view_.at(msn).uid > largest; --msn) added.push_back(msn);
    std::reverse(added.begin(), added.end());
    return prefixed(std::move(out), fetch_untagged(*group->events.fetch, std::move(added), std::move(then)));
  });
}

// tell_status - a STATUS for each changed mailbox the groups name, when
// what changed is among its group's events (RFC 5465 5.1-5.3).
Session::Outcome Session::tell_status(std::vector<std::int64_t> changed) {
  request::Statuses r;
  for (auto id : changed) {
    if (state_ == State::selected && view_.id() == id) continue;  // told as the selected mailbox
    for (const auto& m : notify_mailboxes_)
      if (m.told.id == id) r.mailboxes.push_back(m.told.name);
  }
  if (r.mailboxes.empty()) return {};
  std::set<std::string> asked(r.mailboxes.begin(), r.mailboxes.end());
  return ask(std::move(r), [this, asked = std::move(asked)](Answer& a) {
    Outcome o;
    if (a.error != StoreError::none) return o;
    const auto& found = std::get<answer::List>(a.value).mailboxes;
    for (auto& m : notify_mailboxes_) {
      auto now = std::find_if(found.begin(), found.end(), [&m](const MailboxInfo& i) { return i.id == m.told.id; });
      if (now == found.end()) continue;
      // RFC 5465 5: what this session did itself is not told back.
      if (!std::exchange(m.own_change, false) && worth_telling(m.group->events, m.told, *now))
        o.output += status_line(mailbox_out(m.told.name), *now, told_items(m.group->events, view_options_.condstore), 0);
      m.told = *now;
    }
    // One asked for and not found was deleted or renamed by another
    // session (or its rights taken): no longer watched under that name.
    const std::size_t before = notify_mailboxes_.size();
    std::erase_if(notify_mailboxes_, [&](const NotifyMailbox& m) {
      return asked.count(m.told.name) &&
             std::none_of(found.begin(), found.end(), [&m](const MailboxInfo& i) { return i.id == m.told.id; });
    });
    if (notify_mailboxes_.size() != before) ++watch_generation_;
    return o;
  });
}

}  // namespace herald::imap
