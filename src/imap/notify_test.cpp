// NOTIFY's event groups (RFC 5465 8): parsed from the command as the
// command reader gives it, and the mailboxes each group names.
#include "imap/notify.h"

#include <gtest/gtest.h>

#include "base/text.h"

namespace herald::imap {
namespace {

// parse - "NOTIFY <args>" through the command reader, names taken as given
// (INBOX in any case as INBOX).
NotifyParse parse(std::string_view args) {
  CommandReader reader;
  reader.feed("N NOTIFY " + std::string(args) + "\r\n");
  EXPECT_EQ(reader.next(), CommandReader::Event::command);
  Command c = reader.take_command();
  return parse_notify(c.args, [](const Value& v, std::string& error) -> std::optional<std::string> {
    if (!v.is_astring()) {
      error = "Invalid mailbox name";
      return std::nullopt;
    }
    return iequals(v.text, "INBOX") ? std::string("INBOX") : v.text;
  });
}

TEST(ImapNotify, NoneAndSetWithStatus) {
  NotifyParse none = parse("NONE");
  ASSERT_TRUE(none.spec);
  EXPECT_TRUE(none.spec->groups.empty());

  NotifyParse set = parse(
      "SET STATUS (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (From)]) MessageExpunge)) "
      "(subtree Lists (MessageNew MessageExpunge FlagChange)) (mailboxes (misc \"a b\") NONE) (personal NONE)");
  ASSERT_TRUE(set.spec) << set.error;
  EXPECT_TRUE(set.spec->status);
  ASSERT_EQ(set.spec->groups.size(), 4u);
  const NotifyGroup* selected = set.spec->selected();
  ASSERT_NE(selected, nullptr);
  EXPECT_EQ(selected->filter, NotifyGroup::Filter::selected);
  EXPECT_TRUE(selected->events.messages);
  EXPECT_FALSE(selected->events.flags);
  ASSERT_TRUE(selected->events.fetch);
  EXPECT_FALSE(selected->events.fetch->sets_seen);
  EXPECT_EQ(set.spec->groups[1].names, std::vector<std::string>{"Lists"});
  EXPECT_TRUE(set.spec->groups[1].events.flags);
  EXPECT_EQ(set.spec->groups[2].names, (std::vector<std::string>{"misc", "a b"}));
  EXPECT_TRUE(set.spec->groups[2].events.none());
}

TEST(ImapNotify, FetchAttributesNeverSetSeen) {
  NotifyParse p = parse("SET (SELECTED-DELAYED (MessageNew (BODY[]) MessageExpunge))");
  ASSERT_TRUE(p.spec) << p.error;
  ASSERT_TRUE(p.spec->groups[0].events.fetch);
  EXPECT_FALSE(p.spec->groups[0].events.fetch->sets_seen);
  EXPECT_EQ(p.spec->groups[0].filter, NotifyGroup::Filter::selected_delayed);
}

TEST(ImapNotify, BadCombinationsAreBad) {
  for (const char* args : {
           "",                                                       // neither NONE nor SET
           "SET",                                                    // no groups
           "SET STATUS",                                             // no groups
           "SET (personal (MessageNew))",                            // without MessageExpunge
           "SET (personal (MessageExpunge))",                        // without MessageNew
           "SET (personal (FlagChange))",                            // without the message events
           "SET (selected (MessageNew MessageExpunge)) (selected-delayed (MessageNew MessageExpunge))",
           "SET (personal (MessageNew (UID) MessageExpunge))",       // fetch-att for another mailbox
           "SET (selected (MailboxName))",                           // not a message event
           "SET (everything (MessageNew MessageExpunge))",           // no such filter
           "SET (subtree (MessageNew MessageExpunge))",              // no names
           "SET (mailboxes INBOX)",                                  // no events
           "SET (personal MessageNew)",                              // events not a list
           "SET personal",                                           // not a group
           "SET (selected (MessageNew (NOSUCHITEM) MessageExpunge))",  // not a fetch-att
       }) {
    NotifyParse p = parse(args);
    EXPECT_FALSE(p.spec) << args;
    EXPECT_TRUE(p.bad) << args;
  }
}

// A command naming more than a bound gets BAD, not a resolve that costs
// groups x names x mailboxes.
TEST(ImapNotify, TooManyGroupsOrNamesAreBad) {
  std::string groups = "SET";
  for (std::size_t i = 0; i <= kMaxNotifyGroups; ++i) groups += " (INBOXES NONE)";
  NotifyParse many_groups = parse(groups);
  EXPECT_FALSE(many_groups.spec);
  EXPECT_EQ(many_groups.error, "Too many event groups");
  std::string names = "SET (MAILBOXES (";
  for (std::size_t i = 0; i <= kMaxNotifyNames; ++i) names += " m" + std::to_string(i);
  names += ") (MessageNew MessageExpunge))";
  NotifyParse many_names = parse(names);
  EXPECT_FALSE(many_names.spec);
  EXPECT_EQ(many_names.error, "Too many mailbox names");
  groups = "SET";
  for (std::size_t i = 0; i < kMaxNotifyGroups; ++i) groups += " (INBOXES NONE)";
  EXPECT_TRUE(parse(groups).spec);  // at the bound: taken
}

TEST(ImapNotify, EventsNotToldAreBadEvent) {
  for (const char* args : {
           "SET (personal (MailboxName))",
           "SET (personal (MessageNew MessageExpunge SubscriptionChange))",
           "SET (selected (MessageNew MessageExpunge AnnotationChange))",
           "SET (inboxes (MessageNew MessageExpunge XNoSuchEvent))",  // an extension's: not known here
       }) {
    NotifyParse p = parse(args);
    EXPECT_FALSE(p.spec) << args;
    EXPECT_FALSE(p.bad) << args;
    EXPECT_EQ(p.error, "[BADEVENT (MessageNew MessageExpunge FlagChange)] Event not supported") << args;
  }
  // Syntax first: a BAD combination in a later group is BAD, not BADEVENT.
  EXPECT_TRUE(parse("SET (personal (MailboxName)) (inboxes (MessageNew))").bad);
}

TEST(ImapNotify, WhichMailboxesEachFilterNames) {
  NotifyParse p = parse(
      "SET (inboxes (MessageNew MessageExpunge)) (subtree Lists (MessageNew MessageExpunge FlagChange)) "
      "(mailboxes misc NONE) (subscribed (MessageNew MessageExpunge)) (personal (MessageNew MessageExpunge))");
  ASSERT_TRUE(p.spec) << p.error;
  const auto& g = p.spec->groups;
  EXPECT_EQ(p.spec->group_for("INBOX", false), &g[0]);
  EXPECT_EQ(p.spec->group_for("Lists", false), &g[1]);
  EXPECT_EQ(p.spec->group_for("Lists/ietf/imap", true), &g[1]);
  EXPECT_EQ(p.spec->group_for("Listserv", false), &g[4]);  // not below Lists: personal
  EXPECT_EQ(p.spec->group_for("misc", true), &g[2]);       // the first group naming it
  EXPECT_EQ(p.spec->group_for("Other Users/bob/Shared", true), &g[3]);
  EXPECT_EQ(p.spec->group_for("Other Users/bob/Shared", false), nullptr);  // not personal
  EXPECT_EQ(p.spec->group_for("Archive", false), &g[4]);
}

}  // namespace
}  // namespace herald::imap
