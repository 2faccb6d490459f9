// imap/notify.cpp - NOTIFY's event groups (imap/notify.h).
#include "imap/notify.h"

#include <fmt/format.h>

#include "base/text.h"
#include "imap/acl.h"

namespace herald::imap {
namespace {

NotifyParse bad(std::string text) {
  NotifyParse p;
  p.error = std::move(text);
  return p;
}

NotifyParse bad_event() {
  NotifyParse p;
  p.bad = false;
  p.error = fmt::format("[BADEVENT ({})] Event not supported", kNotifyEvents);
  return p;
}

std::optional<NotifyGroup::Filter> filter_of(const Value& v) {
  using F = NotifyGroup::Filter;
  static const std::pair<const char*, F> kFilters[] = {
      {"SELECTED", F::selected}, {"SELECTED-DELAYED", F::selected_delayed}, {"INBOXES", F::inboxes},
      {"PERSONAL", F::personal}, {"SUBSCRIBED", F::subscribed},           {"SUBTREE", F::subtree},
      {"MAILBOXES", F::mailboxes},
  };
  if (v.kind != Value::Kind::atom) return std::nullopt;
  for (const auto& [name, f] : kFilters)
    if (v.is_atom(name)) return f;
  return std::nullopt;
}

// Events RFC 5465 5 defines that Herald does not tell (BADEVENT).
bool known_unsupported(const Value& v) {
  for (const char* name : {"ANNOTATIONCHANGE", "MAILBOXNAME", "SUBSCRIPTIONCHANGE", "MAILBOXMETADATACHANGE",
                           "SERVERMETADATACHANGE"})
    if (v.is_atom(name)) return true;
  return false;
}

}  // namespace

bool NotifyGroup::names_mailbox(const std::string& name, bool subscribed) const {
  switch (filter) {
    case Filter::selected:
    case Filter::selected_delayed: return false;
    // Herald delivers into INBOX only (RFC 5465 6: the mailboxes an MDA
    // delivers to).
    case Filter::inboxes: return name == "INBOX";
    case Filter::personal: return !in_other_users(name);
    case Filter::subscribed: return subscribed;
    case Filter::subtree:
      for (const auto& n : names)
        if (name == n || (name.size() > n.size() && name.compare(0, n.size(), n) == 0 && name[n.size()] == '/'))
          return true;
      return false;
    case Filter::mailboxes:
      for (const auto& n : names)
        if (name == n) return true;
      return false;
  }
  return false;
}

const NotifyGroup* NotifySpec::selected() const {
  for (const auto& g : groups)
    if (g.selected()) return &g;
  return nullptr;
}

const NotifyGroup* NotifySpec::group_for(const std::string& name, bool subscribed) const {
  for (const auto& g : groups)
    if (g.names_mailbox(name, subscribed)) return &g;
  return nullptr;
}

NotifyParse parse_notify(const std::vector<Value>& args, const MailboxArg& mailbox) {
  if (args.size() == 1 && args[0].is_atom("NONE")) {
    NotifyParse p;
    p.spec.emplace();
    return p;
  }
  if (args.empty() || !args[0].is_atom("SET")) return bad("NOTIFY takes NONE or SET");
  NotifySpec spec;
  std::size_t i = 1;
  if (i < args.size() && args[i].is_atom("STATUS")) {
    spec.status = true;
    ++i;
  }
  if (i == args.size()) return bad("NOTIFY SET takes event groups");
  if (args.size() - i > kMaxNotifyGroups) return bad("Too many event groups");
  bool unsupported = false;  // said after the syntax is known good: BAD comes first
  std::size_t names = 0;
  for (; i < args.size(); ++i) {
    const Value& g = args[i];
    if (g.kind != Value::Kind::list || g.items.size() < 2) return bad("An event group is (filter events)");
    NotifyGroup group;
    auto filter = filter_of(g.items[0]);
    if (!filter) return bad("Unknown mailbox filter");
    group.filter = *filter;
    std::size_t k = 1;
    if (group.filter == NotifyGroup::Filter::subtree || group.filter == NotifyGroup::Filter::mailboxes) {
      // one-or-more-mailbox: a name, or a list of names (RFC 5465 8).
      const Value& v = g.items[k++];
      std::vector<const Value*> given;
      if (v.kind == Value::Kind::list) {
        for (const auto& n : v.items) given.push_back(&n);
      } else {
        given.push_back(&v);
      }
      if (given.empty()) return bad("SUBTREE and MAILBOXES take mailbox names");
      for (const Value* n : given) {
        std::string error;
        auto name = mailbox(*n, error);
        if (!name) return bad(error);
        if (++names > kMaxNotifyNames) return bad("Too many mailbox names");
        group.names.push_back(std::move(*name));
      }
    }
    if (k + 1 != g.items.size()) return bad("An event group is (filter events)");
    const Value& events = g.items[k];
    if (group.selected()) {
      for (const auto& other : spec.groups)
        if (other.selected()) return bad("SELECTED and SELECTED-DELAYED may be given once");
    }
    if (!events.is_atom("NONE")) {
      if (events.kind != Value::Kind::list || events.items.empty()) return bad("Events are a list or NONE");
      bool message_new = false, expunge = false;
      for (std::size_t e = 0; e < events.items.size(); ++e) {
        const Value& ev = events.items[e];
        if (ev.kind != Value::Kind::atom) return bad("Invalid event");
        if (ev.is_atom("MESSAGENEW")) {
          message_new = true;
          if (e + 1 < events.items.size() && events.items[e + 1].kind == Value::Kind::list) {
            // RFC 5465 5.2: fetch-att only for the selected mailbox.
            if (!group.selected()) return bad("MessageNew takes fetch attributes only for the selected mailbox");
            std::string error;
            std::vector<Value> atts{events.items[++e]};
            auto fetch = parse_fetch(atts, 0, error);
            if (!fetch) return bad(error);
            if (fetch->changed_since || fetch->vanished) return bad("Invalid fetch attributes");
            fetch->sets_seen = false;  // telling of a message does not read it
            group.events.fetch = std::move(*fetch);
          }
        } else if (ev.is_atom("MESSAGEEXPUNGE")) {
          expunge = true;
        } else if (ev.is_atom("FLAGCHANGE")) {
          group.events.flags = true;
        } else if (known_unsupported(ev)) {
          // Only message events for the selected mailbox (RFC 5465 6).
          if (group.selected() && !ev.is_atom("ANNOTATIONCHANGE"))
            return bad("Only message events for the selected mailbox");
          unsupported = true;
        } else {
          unsupported = true;  // an extension's event we do not know (RFC 5465 3.1)
        }
      }
      // RFC 5465 5: MessageNew and MessageExpunge together; FlagChange with both.
      if (message_new != expunge) return bad("MessageNew and MessageExpunge go together");
      if (group.events.flags && !message_new) return bad("FlagChange needs MessageNew and MessageExpunge");
      group.events.messages = message_new;
    }
    spec.groups.push_back(std::move(group));
  }
  if (unsupported) return bad_event();
  NotifyParse p;
  p.spec = std::move(spec);
  return p;
}

}  // namespace herald::imap
