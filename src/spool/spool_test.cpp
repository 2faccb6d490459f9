#include <gtest/gtest.h>

#include "spool/job.h"
#include "spool/sender.h"
#include "spool/stream.h"

namespace herald::spool {
namespace {

TEST(SpoolFormatTest, ClassifiedByTheirFirstLines) {
  EXPECT_EQ(classify("HELO batch\r\nMAIL FROM:<a@x>\r\n"), Format::data_stream);
  EXPECT_EQ(classify("\nehlo\n"), Format::data_stream);
  EXPECT_EQ(classify("MAIL FROM:<a@x>\n"), Format::data_stream);
  EXPECT_EQ(classify("From: a@x\nTo: b@y\nSubject: s\n\nBody: not a statement here\n"), Format::message);
  EXPECT_EQ(classify("From: a@x\nTo: b@y\nAttach: /tmp/f\nBody:\ntext\n"), Format::send_job);
  EXPECT_EQ(classify("To: b@y\nbody: hello\n"), Format::send_job);
  EXPECT_EQ(classify(std::string("\x7f" "ELF\x02\x01", 6)), Format::garbage);
  EXPECT_EQ(classify(std::string("HELO\0x", 6)), Format::garbage);
  EXPECT_EQ(classify("just some text\n"), Format::garbage);
  EXPECT_EQ(classify(""), Format::garbage);
}

struct Seen {
  std::vector<std::string> commands;
  std::vector<std::string> messages;  // each DATA section's text, as sent (still stuffed)
  std::vector<std::uint64_t> transactions;  // of each command
  std::string current;
  StreamReader::Sink sink() {
    return [this](const Unit& u) {
      switch (u.kind) {
        case Unit::Kind::command:
          commands.emplace_back(u.text);
          transactions.push_back(u.transaction);
          break;
        case Unit::Kind::data: current += u.text; break;
        case Unit::Kind::data_end: messages.push_back(std::exchange(current, {})); break;
      }
    };
  }
};

// read - the stream fed whole, or one octet at a time: the same units.
Status read(std::string_view file, Seen& seen, StreamLimits limits = {}, bool bytewise = false) {
  StreamReader r(limits);
  auto sink = seen.sink();
  if (!bytewise) {
    if (Status s = r.feed(file, sink); !s) return s;
  } else {
    for (char c : file)
      if (Status s = r.feed(std::string_view(&c, 1), sink); !s) return s;
  }
  return r.finish(sink);
}

TEST(SpoolStreamTest, TransactionsOfAnOldStream) {
  // RFC 821 habits: bare HELO, LF line ends, no QUIT, a stuffed dot.
  std::string file =
      "HELO\nMAIL FROM:<a@x.test>\nRCPT TO:<b@y.test>\nDATA\nSubject: one\n\n..dot\nbody\n.\n"
      "MAIL FROM:<c@x.test>\nRCPT TO:<d@y.test>\nDATA\nSubject: two\n\nsecond\n.\nQUIT\n";
  for (bool bytewise : {false, true}) {
    Seen s;
    ASSERT_TRUE(read(file, s, {.helo_name = "batch"}, bytewise));
    EXPECT_EQ(s.commands, (std::vector<std::string>{"HELO batch\r\n", "MAIL FROM:<a@x.test>\r\n",
                                                    "RCPT TO:<b@y.test>\r\n", "DATA\r\n", "MAIL FROM:<c@x.test>\r\n",
                                                    "RCPT TO:<d@y.test>\r\n", "DATA\r\n"}));
    EXPECT_EQ(s.transactions, (std::vector<std::uint64_t>{0, 0, 0, 0, 1, 1, 1}));
    EXPECT_EQ(s.messages, (std::vector<std::string>{"Subject: one\r\n\r\n..dot\r\nbody\r\n",
                                                    "Subject: two\r\n\r\nsecond\r\n"}));
  }
}

TEST(SpoolStreamTest, AStreamWithoutHeloGetsOne) {
  Seen s;
  ASSERT_TRUE(read("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nx\r\n.\r\n", s, {.helo_name = "pay"}));
  EXPECT_EQ(s.commands.front(), "HELO pay\r\n");
}

TEST(SpoolStreamTest, WhatIsNotAStreamIsRefused) {
  Seen s;
  for (bool bytewise : {false, true}) {
    EXPECT_FALSE(read("HELO a\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\ncut off here\r\n", s, {}, bytewise));
    EXPECT_FALSE(read("HELO a\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\ncut off\r\n..\r\n", s, {}, bytewise));
    EXPECT_FALSE(read(std::string("HELO a\r\nMAIL \x01\x02 FROM\r\n"), s, {}, bytewise));
    EXPECT_FALSE(read("HELO a\r\nBDAT 10 LAST\r\n0123456789", s, {}, bytewise));
    EXPECT_FALSE(read("HELO a\r\nSTARTTLS\r\n", s, {}, bytewise));
    EXPECT_FALSE(read("HELO a\r\nDATA now\r\n", s, {}, bytewise));
    EXPECT_FALSE(read("HELO a\r\n" + std::string(600, 'x'), s, {}, bytewise));
  }
}

// RFC 5322 2.1.1: lines over 998 octets are folded - a header line at
// white space as a continuation, a body line where it must, a piece that
// would start with "." stuffed - however the octets come.
TEST(SpoolStreamTest, LongLinesAreFolded) {
  std::string subject = "Subject: " + std::string(600, 'a') + " " + std::string(600, 'b');
  std::string body = std::string(998, 'x') + "." + std::string(10, 'y');
  std::string file = "HELO a\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n" + subject + "\r\n\r\n" + body + "\r\n.\r\n";
  for (bool bytewise : {false, true}) {
    Seen s;
    ASSERT_TRUE(read(file, s, {}, bytewise));
    ASSERT_EQ(s.messages.size(), 1u);
    EXPECT_EQ(s.messages[0], "Subject: " + std::string(600, 'a') + "\r\n " + std::string(600, 'b') + "\r\n\r\n" +
                                 std::string(998, 'x') + "\r\n.." + std::string(10, 'y') + "\r\n");
  }
  Seen kept;
  StreamLimits refuse;
  refuse.fold_long_lines = false;
  ASSERT_TRUE(read(file, kept, refuse, true));
  EXPECT_EQ(kept.messages[0], subject + "\r\n\r\n" + body + "\r\n");  // the session refuses it
}

// message(): a plain message's lines are stuffed here and its end ends it.
TEST(SpoolStreamTest, AMessageIsStuffedAndEnded) {
  for (bool bytewise : {false, true}) {
    Seen s;
    StreamReader r = StreamReader::message({});
    auto sink = s.sink();
    std::string text = "Subject: s\n\n.\n.hidden\nlast";
    if (bytewise) {
      for (char c : text) ASSERT_TRUE(r.feed(std::string_view(&c, 1), sink));
    } else {
      ASSERT_TRUE(r.feed(text, sink));
    }
    ASSERT_TRUE(r.finish(sink));
    EXPECT_EQ(s.messages, std::vector<std::string>{"Subject: s\r\n\r\n..\r\n..hidden\r\nlast\r\n"});
    EXPECT_EQ(r.transactions(), 1u);
  }
}

TEST(SpoolJobTest, StatementsAndBody) {
  auto job = parse_send_job(
      "From: Pay <pay@x.test>\nTO: a@y.test, B <b@y.test>\ncc: c@y.test\nBcc: d@y.test\nSubject: March\n"
      "Header: X-Job: PAY0310\nAttach: /data/r.pdf\nAttach: /data/s.csv\nHtml: /data/s.html\nBody: Dear all,\n"
      "see attached.\n\nFrom: not a statement\n");
  ASSERT_TRUE(job) << job.error().message;
  EXPECT_EQ(job->from, "Pay <pay@x.test>");
  EXPECT_EQ(job->to, (std::vector<std::string>{"a@y.test", "b@y.test"}));
  EXPECT_EQ(job->cc, std::vector<std::string>{"c@y.test"});
  EXPECT_EQ(job->bcc, std::vector<std::string>{"d@y.test"});
  EXPECT_EQ(job->subject, "March");
  EXPECT_EQ(job->headers, (std::vector<std::pair<std::string, std::string>>{{"X-Job", "PAY0310"}}));
  EXPECT_EQ(job->attach, (std::vector<std::string>{"/data/r.pdf", "/data/s.csv"}));
  EXPECT_EQ(job->html, "/data/s.html");
  EXPECT_EQ(job->text, "Dear all,\r\nsee attached.\r\n\r\nFrom: not a statement\r\n");
}

TEST(SpoolJobTest, MistakesNameTheirLine) {
  auto unknown = parse_send_job("To: a@y.test\nColour: blue\nBody:\n");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("line 2"), std::string::npos);
  EXPECT_FALSE(parse_send_job("To: a@y.test\njust words\n"));
  EXPECT_FALSE(parse_send_job("Subject: nobody\nBody:\nhi\n"));
  EXPECT_FALSE(parse_send_job("To: a@y.test\nHeader: no colon\nBody:\n"));
}

TEST(SpoolSenderTest, VerifyAllowsOwnMappedAndTrusted) {
  auto p = parse_sender_policy("verify", {"root"}, {"pay:payroll@corp.test", "@ops:@alerts.test"},
                               {"host.test", "corp.test"});
  ASSERT_TRUE(p) << p.error().message;
  Submitter pay{"pay", {"pay", "staff"}}, op{"olga", {"olga", "ops"}}, root{"root", {"root"}};
  EXPECT_TRUE(may_use(*p, pay, "pay@host.test"));
  EXPECT_TRUE(may_use(*p, pay, "PAY@Corp.Test"));
  EXPECT_TRUE(may_use(*p, pay, "payroll@corp.test"));
  EXPECT_FALSE(may_use(*p, pay, "ceo@corp.test"));
  EXPECT_FALSE(may_use(*p, pay, "pay@elsewhere.test"));
  EXPECT_FALSE(may_use(*p, pay, ""));  // the null sender
  EXPECT_TRUE(may_use(*p, op, "anything@alerts.test"));
  EXPECT_FALSE(may_use(*p, op, "olga@alerts.test.evil"));
  EXPECT_TRUE(may_use(*p, root, "ceo@corp.test"));
  EXPECT_TRUE(may_use(*p, root, ""));
  EXPECT_EQ(own_address(*p, pay), "pay@host.test");
  auto any = parse_sender_policy("any", {}, {}, {"host.test"});
  EXPECT_TRUE(may_use(*any, pay, "ceo@corp.test"));
}

TEST(SpoolSenderTest, BadMapEntriesAreRefused) {
  for (const char* bad : {"pay", "pay:", ":a@b.test", "pay:nodomain", "@:a@b.test", "pay:a@b.test, c@d.test", "pay:a@"})
    EXPECT_FALSE(parse_sender_policy("verify", {}, {bad}, {})) << bad;
}

}  // namespace
}  // namespace herald::spool
