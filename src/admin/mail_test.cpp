// admin/mail_test.cpp - the mail files (admin/mailfiles.h) read and
// written, and a user's mail commands on a scratch store: flags, expunge,
// quota, and a maildir exported and imported again.
#include "admin/mailfiles.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <ctime>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <tuple>

#include "admin/commands.h"
#include "store/scratch_store.h"

namespace herald::admin {
namespace {

using namespace mailfiles;
using Strings = std::vector<std::string>;

TEST(Mailfiles, CrlfMakesEveryLineEndCrlfOnce) {
  EXPECT_EQ(crlf("a\nb\r\nc\n"), "a\r\nb\r\nc\r\n");
  EXPECT_EQ(crlf("\n\n"), "\r\n\r\n");
  EXPECT_EQ(crlf("no end"), "no end");
  EXPECT_EQ(crlf("lone\rcr\n"), "lone\rcr\r\n");
}

TEST(Mailfiles, MaildirInfoGivesFlagsAndKeywords) {
  const Strings table = {"$Label1", "", "Work"};
  auto f = maildir_flags("1700000000.M1P2.host,S=120:2,DFRSTac", table);
  EXPECT_EQ(f.flags, store::kDraft | store::kFlagged | store::kAnswered | store::kSeen | store::kDeleted);
  EXPECT_EQ(f.keywords, (Strings{"$Label1", "Work"}));
  EXPECT_EQ(maildir_flags("1700000000.M1P2.host", table).flags, 0u) << "new/: no info";
  EXPECT_EQ(maildir_flags("x:2,b", table).keywords, Strings{}) << "a letter the table has no name for";
  EXPECT_EQ(maildir_flags("x:2,P", table).flags, 0u) << "passed has no IMAP flag";
  EXPECT_EQ(maildir_base("1700000000.M1P2.host,S=120:2,FS"), "1700000000.M1P2.host,S=120");
  EXPECT_EQ(leading_timestamp("1700000000.M1P2.host:2,S"), 1700000000);
  EXPECT_FALSE(leading_timestamp("msg.1"));
}

TEST(Mailfiles, MaildirInfoIsWrittenInAsciiOrderAndKeywordsGetLetters) {
  Strings table;
  std::size_t dropped = 0;
  EXPECT_EQ(maildir_info(store::kSeen | store::kFlagged, {"Work", "$Label1"}, table, &dropped), ":2,FSab");
  EXPECT_EQ(table, (Strings{"Work", "$Label1"}));
  EXPECT_EQ(maildir_info(0, {"$Label1"}, table, &dropped), ":2,b") << "a keyword keeps its letter";
  for (int i = 0; i < 30; ++i) maildir_info(0, {"k" + std::to_string(i)}, table, &dropped);
  EXPECT_EQ(table.size(), 26u);
  EXPECT_EQ(dropped, 6u);
  EXPECT_EQ(parse_dovecot_keywords(format_dovecot_keywords(table)), table);
  EXPECT_EQ(parse_dovecot_keywords("0 $Forwarded\n2 Work\n27 far\nx bad\n1 bad(atom\n"),
            (Strings{"$Forwarded", "", "Work"}));
}

TEST(Mailfiles, DovecotUidlistNamesTheOrder) {
  auto uids = parse_dovecot_uidlist("3 V1700000000 N4 G0123\n1 :1700000000.a.host\n3 W120 :1600000000.b.host:2,S\n"
                                    "2 1650000000.c.host\n");
  EXPECT_EQ(uids.size(), 3u);
  EXPECT_EQ(uids["1700000000.a.host"], 1);
  EXPECT_EQ(uids["1600000000.b.host"], 3);
  EXPECT_EQ(uids["1650000000.c.host"], 2);
}

TEST(Mailfiles, FolderNamesMapBothWays) {
  EXPECT_EQ(folder_mailbox(".Sub.Folder"), "Sub/Folder");
  EXPECT_EQ(folder_mailbox(".Entw&APw-rfe"), "Entw\xc3\xbcrfe");
  EXPECT_EQ(folder_mailbox(".inbox.x"), "INBOX/x");
  EXPECT_FALSE(folder_mailbox(".."));
  EXPECT_FALSE(folder_mailbox(".a..b"));
  EXPECT_FALSE(folder_mailbox("cur"));
  EXPECT_EQ(mailbox_folder("INBOX"), "");
  EXPECT_EQ(mailbox_folder("Sub/Folder"), ".Sub.Folder");
  EXPECT_EQ(mailbox_folder("Entw\xc3\xbcrfe"), ".Entw&APw-rfe");
  for (const std::string name : {"a.b/c", "R&D", "x/INBOX", "Caf\xc3\xa9/2024.01"})
    EXPECT_EQ(folder_mailbox(mailbox_folder(name)), name) << mailbox_folder(name);
}

TEST(Mailfiles, FromLineDates) {
  EXPECT_EQ(from_line_date("From alice@example.test Sat Jan  3 01:05:34 1996"), 820631134);
  EXPECT_EQ(from_line_date("From alice@example.test Sat Jan 3 01:05:34 1996 +0100"), 820631134 - 3600);
  EXPECT_EQ(from_line_date("From alice@example.test Sat Jan 3 01:05:34 -0800 1996"), 820631134 + 8 * 3600);
  EXPECT_EQ(from_line_date("From MAILER-DAEMON Tue Nov 14 22:13:20 2023"), 1700000000);
  EXPECT_FALSE(from_line_date("From here on, the plan is simple."));
  EXPECT_FALSE(from_line_date("From a Feb 30 00:00:00 2023"));
}

TEST(Mailfiles, MboxMessagesAreSplitUnquotedAndTheirFlagsRead) {
  std::istringstream in(
      "From a@example.test Tue Nov 14 22:13:20 2023\n"
      "Subject: one\n"
      "Status: RO\n"
      "X-Status: AF\n"
      "X-Keywords: $Label1, Work\n"
      "\n"
      ">From the start\n"
      ">>From quoted twice\n"
      "From here on, no separator\n"
      "\n"
      "From b@example.test Wed Nov 15 22:13:20 2023\n"
      "Subject: two\n"
      "X-UID: 7\n"
      "\n"
      "body\n"
      "\n");
  MboxReader reader(in);
  auto one = reader.next();
  ASSERT_TRUE(one);
  EXPECT_EQ(one->body, "Subject: one\r\n\r\nFrom the start\r\n>From quoted twice\r\nFrom here on, no separator\r\n");
  EXPECT_EQ(one->flags, store::kSeen | store::kAnswered | store::kFlagged);
  EXPECT_EQ(one->keywords, (Strings{"$Label1", "Work"}));
  EXPECT_EQ(one->internaldate, 1700000000);
  EXPECT_EQ(one->line, 1u);
  auto two = reader.next();
  ASSERT_TRUE(two);
  EXPECT_EQ(two->body, "Subject: two\r\n\r\nbody\r\n");
  EXPECT_EQ(two->flags, 0u);
  EXPECT_EQ(two->internaldate, 1700000000 + 86400);
  EXPECT_EQ(two->line, 11u);
  EXPECT_FALSE(reader.next());
  EXPECT_TRUE(reader.ok());

  std::istringstream not_mbox("Subject: hi\n\nbody\n");
  MboxReader bad(not_mbox);
  EXPECT_FALSE(bad.next());
  EXPECT_FALSE(bad.ok());
}

TEST(Mailfiles, UwImapFolderDataIsNoMessage) {
  auto m = mbox_message("From MAILER-DAEMON Tue Nov 14 22:13:20 2023",
                        "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
                        "X-IMAP: 1700000000 0000000002\n  $Label1\n\nbody\n");
  EXPECT_TRUE(m.pseudo);
  EXPECT_EQ(m.body.find("X-IMAP"), std::string::npos);
  EXPECT_EQ(m.body.find("$Label1"), std::string::npos) << "its folded line goes with it";
}

// ---- on a store ----------------------------------------------------------

class MailCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_->directory().add_user("alice@example.test", {"h", ""}, 0));
    ASSERT_TRUE(store_->directory().add_user("bob@example.test", {"h", ""}, 0));
    dir_ = store_.dir() / "files";
    std::filesystem::create_directories(dir_);
  }
  std::int64_t user(const std::string& address) { return (*store_->directory().find_user(address))->id; }
  void append(const std::string& mailbox, const std::string& body, std::uint32_t flags, std::int64_t date,
              const std::string& address = "alice@example.test") {
    store::AppendMessage m;
    m.body = body;
    m.flags = flags;
    m.internaldate = date;
    std::promise<Result<store::Appended>> p;
    store_->mailboxes().append_message(user(address), mailbox, std::move(m),
                                       [&p](Result<store::Appended> r) { p.set_value(std::move(r)); });
    ASSERT_TRUE(p.get_future().get());
  }
  void write(const std::filesystem::path& path, const std::string& content) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << content;
  }
  // messages - mailbox -> (body, flags, keywords, internaldate) in UID order.
  using Message = std::tuple<std::string, std::uint32_t, Strings, std::int64_t>;
  std::map<std::string, std::vector<Message>> messages(const std::string& address) {
    std::map<std::string, std::vector<Message>> out;
    const auto id = user(address);
    auto boxes = store_->mailboxes().list_mailboxes(id);
    EXPECT_TRUE(boxes);
    if (!boxes) return out;
    for (const auto& b : *boxes) {
      if (!b.selectable) continue;
      auto& list = out[b.name];
      auto listed = store_->mailboxes().messages(b.id, 0);
      EXPECT_TRUE(listed);
      if (!listed) continue;
      for (const auto& m : *listed)
        list.emplace_back(*store_->mailboxes().read_message(b.id, m.uid), m.flags, m.keywords, m.internaldate);
    }
    return out;
  }

  store::ScratchStore store_{"admin-mail-test"};
  std::filesystem::path dir_;
};

TEST_F(MailCommandsTest, FlagsChangeAndShow) {
  for (int i = 0; i < 4; ++i) append("INBOX", "Subject: x\r\n\r\nx\r\n", 0, 0);
  auto r = flags(*store_, {"alice@example.test", "INBOX", {"1", "3:*"}, FlagsRequest::Change::add,
                            {"\\Seen $Label1", "\\flagged"}});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].uid, 1);
  EXPECT_EQ((*r)[0].flags, (Strings{"\\Seen", "\\Flagged", "$Label1"}));
  r = flags(*store_, {"alice@example.test", "INBOX", {"*"}, FlagsRequest::Change::set, {""}});
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)[0].flags, Strings{});
  r = flags(*store_, {"alice@example.test", "INBOX", {"1:2"}, FlagsRequest::Change::none, {}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].flags, Strings{}) << "2 was not named";
  EXPECT_EQ(flags(*store_, {"alice@example.test", "INBOX", {"9"}, FlagsRequest::Change::add, {"\\Seen"}})
                .error().code,
            Errc::not_found);
  EXPECT_EQ(flags(*store_, {"alice@example.test", "INBOX", {"1"}, FlagsRequest::Change::add, {"\\Recent"}})
                .error().code,
            Errc::invalid);
  EXPECT_EQ(flags(*store_, {"alice@example.test", "Nowhere", {"1"}, FlagsRequest::Change::none, {}}).error().code,
            Errc::not_found);
}

TEST_F(MailCommandsTest, ExpungeBeforeAndDeleted) {
  const std::int64_t now = std::time(nullptr);
  append("INBOX", "a\r\n", 0, now - 40 * 86400);
  append("INBOX", "b\r\n", store::kDeleted, now - 40 * 86400);
  append("INBOX", "c\r\n", store::kDeleted, now);
  append("INBOX", "d\r\n", 0, now);
  EXPECT_EQ(expunge(*store_, {"alice@example.test", "INBOX", "", false}).error().code, Errc::invalid);
  EXPECT_EQ(*expunge(*store_, {"alice@example.test", "INBOX", "30d", true}), 1u) << "old and deleted: b";
  EXPECT_EQ(*expunge(*store_, {"alice@example.test", "INBOX", "30d", false}), 1u) << "old: a";
  EXPECT_EQ(*expunge(*store_, {"alice@example.test", "INBOX", "", true}), 1u) << "deleted: c";
  EXPECT_EQ(messages("alice@example.test")["INBOX"].size(), 1u);
}

TEST_F(MailCommandsTest, QuotaSetAndGet) {
  append("INBOX", std::string(100, 'x'), 0, 0);
  auto q = quota_set(*store_, "alice@example.test", "1k");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->quota_bytes, 1024u);
  EXPECT_EQ(q->used_bytes, 100u);
  EXPECT_EQ(quota_set(*store_, "alice@example.test", "lots").error().code, Errc::invalid);
  EXPECT_EQ(quota_set(*store_, "nobody@example.test", "1k").error().code, Errc::not_found);
  EXPECT_EQ(quota_set(*store_, "alice@example.test", "0")->quota_bytes, 0u);
}

TEST_F(MailCommandsTest, MailboxCommandsKeepSubscriptions) {
  ASSERT_TRUE(mailbox_create(*store_, "alice@example.test", "Work/Projects", ""));
  EXPECT_EQ(mailbox_create(*store_, "alice@example.test", "Lists", "\\Nope").error().code, Errc::invalid);
  ASSERT_TRUE(mailbox_create(*store_, "alice@example.test", "Old Sent", "\\sent"));
  ASSERT_TRUE(mailbox_rename(*store_, "alice@example.test", "Work", "Job"));
  auto list = mailbox_list(*store_, "alice@example.test");
  ASSERT_TRUE(list);
  std::map<std::string, MailboxInfo> by_name;
  for (const auto& m : *list) by_name[m.name] = m;
  EXPECT_TRUE(by_name.count("Job/Projects") && by_name["Job/Projects"].subscribed);
  EXPECT_EQ(by_name["Old Sent"].special_use, "\\Sent");
  EXPECT_FALSE(by_name.count("Work"));
  ASSERT_TRUE(mailbox_delete(*store_, "alice@example.test", "Job/Projects"));
  auto subs = *store_->mailboxes().subscriptions(user("alice@example.test"));
  EXPECT_EQ(std::count(subs.begin(), subs.end(), "Job/Projects"), 0);
  EXPECT_EQ(mailbox_delete(*store_, "alice@example.test", "INBOX").error().code, Errc::denied);
  EXPECT_EQ(mailbox_list(*store_, "nobody@example.test").error().code, Errc::not_found);
  EXPECT_EQ(mailbox_list(*store_, "not an address").error().code, Errc::invalid);
}

TEST_F(MailCommandsTest, AMaildirIsImportedWithFoldersFlagsKeywordsAndDates) {
  const auto root = dir_ / "Maildir";
  write(root / "cur" / "1600000000.M1P1.host,S=20:2,S", "Subject: one\n\nbody\n");
  write(root / "new" / "1600000100.M2P1.host", "Subject: two\n\nbody\n");
  write(root / "tmp" / "1600000200.M3P1.host", "Subject: under way\n\n");
  write(root / "cur" / "1600000300.M4P1.host:2,", "");
  write(root / ".Sub.Folder" / "cur" / "1600000400.M5P1.host:2,FRab", "Subject: three\r\n\r\nbody\r\n");
  write(root / ".Sub.Folder" / "dovecot-keywords", "0 $Label1\n1 Work\n");
  write(root / ".sent" / "cur" / "1600000500.M6P1.host:2,S", "Subject: sent\n\n");
  ::mkdir((root / ".Empty").c_str(), 0700);
  ::mkdir((root / ".Empty" / "cur").c_str(), 0700);
  struct timespec times[2] = {{1500000000, 0}, {1500000000, 0}};
  ::utimensat(AT_FDCWD, (root / "cur" / "1600000000.M1P1.host,S=20:2,S").c_str(), times, 0);
  std::vector<std::pair<std::size_t, std::size_t>> progress;
  auto report = import_maildir(*store_, {"alice@example.test", root, ""},
                               [&](std::size_t d, std::size_t t) { progress.emplace_back(d, t); });
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->imported, 4u);
  EXPECT_EQ(report->skipped, 1u) << "the empty file";
  EXPECT_EQ(report->failed, 0u);
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_NE(report->problems[0].find("empty"), std::string::npos);
  EXPECT_EQ(report->created, (Strings{"Empty", "Sub/Folder"}));
  EXPECT_EQ(progress.back(), (std::pair<std::size_t, std::size_t>{5, 5}));
  auto got = messages("alice@example.test");
  ASSERT_EQ(got["INBOX"].size(), 2u);
  EXPECT_EQ(std::get<0>(got["INBOX"][0]), "Subject: one\r\n\r\nbody\r\n");
  EXPECT_EQ(std::get<1>(got["INBOX"][0]), store::kSeen);
  EXPECT_EQ(std::get<3>(got["INBOX"][0]), 1500000000) << "the mtime";
  EXPECT_EQ(std::get<1>(got["INBOX"][1]), 0u);
  ASSERT_EQ(got["Sub/Folder"].size(), 1u);
  EXPECT_EQ(std::get<1>(got["Sub/Folder"][0]), store::kFlagged | store::kAnswered);
  EXPECT_EQ(std::get<2>(got["Sub/Folder"][0]), (Strings{"$Label1", "Work"}));
  EXPECT_EQ(got["Sent"].size(), 1u) << ".sent goes to the user's Sent";
  EXPECT_EQ(got.count("sent"), 0u);
}

TEST_F(MailCommandsTest, AnExportImportsAgainAsItWas) {
  ASSERT_TRUE(mailbox_create(*store_, "alice@example.test", "Work/2024.01", ""));
  append("INBOX", "Subject: b\r\n\r\nsecond by date, first by UID\r\n", store::kSeen, 1700000500);
  append("INBOX", "Subject: a\r\n\r\nfirst\r\n", store::kFlagged | store::kDeleted, 1700000000);
  append("Work/2024.01", "Subject: w\r\n\r\nwork\r\n", store::kAnswered | store::kDraft, 1690000000);
  {
    store::AppendMessage m;
    m.body = "Subject: k\r\n\r\nkeywords\r\n";
    m.keywords = {"$Label1", "Work"};
    m.internaldate = 1680000000;
    std::promise<Result<store::Appended>> p;
    store_->mailboxes().append_message(user("alice@example.test"), "Sent", std::move(m),
                                       [&p](Result<store::Appended> r) { p.set_value(std::move(r)); });
    ASSERT_TRUE(p.get_future().get());
  }
  const auto out = dir_ / "export";
  auto exported = export_maildir(*store_, "alice@example.test", out, nullptr);
  ASSERT_TRUE(exported) << exported.error().message;
  EXPECT_EQ(exported->exported, 4u);
  EXPECT_TRUE(std::filesystem::is_directory(out / ".Work.2024&AC4-01" / "cur"));
  // Again, after a flag change: the same files, one renamed.
  ASSERT_TRUE(flags(*store_, {"alice@example.test", "INBOX", {"1"}, FlagsRequest::Change::add, {"\\Answered"}}));
  ASSERT_TRUE(export_maildir(*store_, "alice@example.test", out, nullptr));
  std::size_t files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(out))
    if (e.path().parent_path().filename() == "cur") ++files;
  EXPECT_EQ(files, 4u);
  auto imported = import_maildir(*store_, {"bob@example.test", out, ""}, nullptr);
  ASSERT_TRUE(imported) << imported.error().message;
  EXPECT_EQ(imported->imported, 4u);
  EXPECT_EQ(imported->failed + imported->skipped, 0u);
  EXPECT_EQ(messages("bob@example.test"), messages("alice@example.test"));
}

}  // namespace
}  // namespace herald::admin
