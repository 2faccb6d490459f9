// imap/notify.h - NOTIFY (RFC 5465): the event groups a client asks for,
// parsed from the command, and which of its mailboxes each names. Pure;
// the session keeps the groups and tells the events (imap/session.h),
// the driver waits for them (docs/ARCHITECTURE.md "IMAP").
//
// Herald tells the message events: MessageNew, MessageExpunge and
// FlagChange (RFC 5465 5.1-5.3). The mailbox, subscription and metadata
// events are refused with NO [BADEVENT], as RFC 5465 3.1 asks of events a
// server does not support.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imap/command.h"
#include "imap/fetch_spec.h"

namespace herald::imap {

// kNotifyEvents - what BADEVENT lists: the events Herald tells.
inline constexpr std::string_view kNotifyEvents = "MessageNew MessageExpunge FlagChange";

struct NotifyEvents {
  bool messages = false;  // MessageNew and MessageExpunge: always both (RFC 5465 5)
  bool flags = false;     // FlagChange (needs the other two)
  // MessageNew's fetch-att (RFC 5465 5.2): a FETCH of each new message of
  // the selected mailbox, never setting \Seen.
  std::optional<FetchSpec> fetch;
  bool none() const { return !messages && !flags; }
};

// NotifyGroup - one "(filter events)" of NOTIFY SET (RFC 5465 6).
struct NotifyGroup {
  enum class Filter { selected, selected_delayed, inboxes, personal, subscribed, subtree, mailboxes };
  Filter filter = Filter::selected;
  std::vector<std::string> names;  // subtree, mailboxes: as the store keeps them
  NotifyEvents events;             // none(): NONE

  bool selected() const { return filter == Filter::selected || filter == Filter::selected_delayed; }
  // names_mailbox - a mailbox other than the selected one is among those
  // this group names (never for SELECTED: only the selected mailbox).
  bool names_mailbox(const std::string& name, bool subscribed) const;
};

struct NotifySpec {
  bool status = false;  // NOTIFY SET STATUS: a STATUS now for each mailbox named
  std::vector<NotifyGroup> groups;  // empty: NOTIFY NONE

  // selected - the SELECTED or SELECTED-DELAYED group, null when none.
  const NotifyGroup* selected() const;
  // group_for - the first group naming a mailbox that is not the selected
  // one, null when none does.
  const NotifyGroup* group_for(const std::string& name, bool subscribed) const;
};

// NotifyParse - a NOTIFY command, or why not: a BAD (syntax, events that
// may not go together) or a NO [BADEVENT] (an event Herald does not tell).
struct NotifyParse {
  std::optional<NotifySpec> spec;
  bool bad = true;
  std::string error;
};

// MailboxArg - a mailbox argument to the store's form (the session's
// mailbox_arg); nullopt with error when it is not a valid name.
using MailboxArg = std::function<std::optional<std::string>(const Value&, std::string&)>;

// kMaxNotifyGroups, kMaxNotifyNames - bounds of one NOTIFY command.
inline constexpr std::size_t kMaxNotifyGroups = 64;
inline constexpr std::size_t kMaxNotifyNames = 1000;

// parse_notify - "NONE" or "SET [STATUS] group..." (RFC 5465 8).
NotifyParse parse_notify(const std::vector<Value>& args, const MailboxArg& mailbox);

}  // namespace herald::imap
