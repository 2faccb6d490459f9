#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "imap/command.h"
#include "imap/sort.h"

namespace herald::imap {
namespace {

constexpr std::int64_t k1Feb1994 = 760060800;

TEST(ImapSortTest, BaseSubjectRfcRules) {
  // (2) trailers, (3) leaders, (4) blobs, (6) the [fwd: ] wrapper.
  EXPECT_EQ(base_subject("Re: hello"), "hello");
  EXPECT_EQ(base_subject("RE: FW: fwd: hello"), "hello");
  EXPECT_EQ(base_subject("Re[2]: hello"), "hello");
  EXPECT_EQ(base_subject("Re [2] : hello"), "hello");
  EXPECT_EQ(base_subject("Fwd:hello"), "hello");
  EXPECT_EQ(base_subject("hello (fwd)"), "hello");
  EXPECT_EQ(base_subject("hello (FWD) (fwd)  "), "hello");
  EXPECT_EQ(base_subject("hello(fwd)"), "hello");
  EXPECT_EQ(base_subject("[list] hello"), "hello");
  EXPECT_EQ(base_subject("[list] Re: [list] Re: hello"), "hello");
  EXPECT_EQ(base_subject("[a][b] [c] hello"), "hello");
  EXPECT_EQ(base_subject("[list]"), "[list]");            // a blob that is all there is stays
  EXPECT_EQ(base_subject("[a] [b]"), "[b]");              // the last one
  EXPECT_EQ(base_subject("Re: [list]"), "[list]");
  EXPECT_EQ(base_subject("[fwd: hello]"), "hello");
  EXPECT_EQ(base_subject("[Fwd: Re: [list] hello (fwd)]"), "hello");
  EXPECT_EQ(base_subject("Re: [fwd: [fwd: hello]] (fwd)"), "hello");
  EXPECT_EQ(base_subject("[fwd: hello] more"), "more");   // a blob, taken for what follows
  EXPECT_EQ(base_subject("[fwd: [x]]"), "[x]");
  // Not leaders: no colon, or letters after the prefix.
  EXPECT_EQ(base_subject("Regarding: hello"), "Regarding: hello");
  EXPECT_EQ(base_subject("Re hello"), "Re hello");
  EXPECT_EQ(base_subject("Fwdx: hello"), "Fwdx: hello");
  EXPECT_EQ(base_subject("hello Re: world"), "hello Re: world");
  EXPECT_EQ(base_subject("[unclosed hello"), "[unclosed hello");
  // (1) white space: tabs and folds as one space; case kept.
  EXPECT_EQ(base_subject("  Re:\tHello \r\n\t  World  "), "Hello World");
  // (1) encoded-words first: their text may hold the leaders.
  EXPECT_EQ(base_subject("=?UTF-8?Q?Re=3A_caf=C3=A9?="), "caf\xc3\xa9");
  EXPECT_EQ(base_subject("Re: =?ISO-8859-1?Q?=E9t=E9?= =?ISO-8859-1?Q?_ok?="), "\xc3\xa9t\xc3\xa9 ok");
  // Nothing left.
  EXPECT_EQ(base_subject(""), "");
  EXPECT_EQ(base_subject("Re:"), "");
  EXPECT_EQ(base_subject("Re: Fwd: (fwd)"), "");
  EXPECT_EQ(base_subject("[fwd:]"), "");
  EXPECT_EQ(base_subject("   "), "");
}

TEST(ImapSortTest, BaseSubjectReplyOrForward) {
  EXPECT_FALSE(extract_base_subject("hello").reply_or_forward);
  EXPECT_FALSE(extract_base_subject("[list] hello").reply_or_forward);
  EXPECT_FALSE(extract_base_subject(" hello ").reply_or_forward);
  EXPECT_TRUE(extract_base_subject("Re: hello").reply_or_forward);
  EXPECT_TRUE(extract_base_subject("[list] fw: hello").reply_or_forward);
  EXPECT_TRUE(extract_base_subject("hello (fwd)").reply_or_forward);
  EXPECT_TRUE(extract_base_subject("[fwd: hello]").reply_or_forward);
}

TEST(ImapSortTest, BaseSubjectOfHostileInputIsQuick) {
  std::string blobs, nested, opens;
  for (int i = 0; i < 50000; ++i) {
    blobs += "[x]";
    nested += "[fwd: ";
    opens += "[";
  }
  EXPECT_EQ(base_subject(blobs), "[x]");
  EXPECT_EQ(base_subject(nested + "a" + std::string(50000, ']')), "a");
  EXPECT_EQ(base_subject(opens), opens);
}

TEST(ImapSortTest, Casemap) {
  EXPECT_EQ(casemap("abcXYZ 09[]"), "ABCXYZ 09[]");
  EXPECT_EQ(casemap("\xc3\xa9t\xc3\xa9"), "\xc3\x89T\xc3\x89");                  // été
  EXPECT_EQ(casemap("\xc3\xbf"), "\xc5\xb8");                                      // ÿ
  EXPECT_EQ(casemap("\xc5\x82\xc5\xba\xc4\xb1\xc5\xbf"), "\xc5\x81\xc5\xb9IS");  // łźıſ
  EXPECT_EQ(casemap("\xcf\x83\xcf\x82\xce\xac"), "\xce\xa3\xce\xa3\xce\x86");      // σςά
  EXPECT_EQ(casemap("\xd0\xb6\xd1\x91"), "\xd0\x96\xd0\x81");                      // жё
  EXPECT_EQ(casemap("\xc3\x9f\xc3\xb7"), "\xc3\x9f\xc3\xb7");                      // ß ÷ have none
  EXPECT_EQ(casemap("\xe2\x82\xac x"), "\xe2\x82\xac X");                          // € as it is
  EXPECT_EQ(casemap("\xff\xc3x"), "\xff\xc3X");                                    // ill-formed octets kept
}

// criteria - SORT's first argument as the command reader parses it.
Value criteria(std::string_view text) {
  CommandReader r;
  r.feed("t SORT " + std::string(text) + " UTF-8 ALL\r\n");
  EXPECT_EQ(r.next(), CommandReader::Event::command) << text;
  auto args = r.take_command().args;
  return args.empty() ? Value{} : args.front();
}

TEST(ImapSortTest, ParseSortCriteria) {
  std::string error;
  Value list = criteria("(REVERSE arrival Subject displayFROM REVERSE DISPLAYTO size cc to from date)");
  auto keys = parse_sort_criteria(list, error);
  ASSERT_TRUE(keys) << error;
  using K = SortKey::Kind;
  std::vector<std::pair<K, bool>> got;
  for (const auto& k : *keys) got.emplace_back(k.kind, k.reverse);
  EXPECT_EQ(got, (std::vector<std::pair<K, bool>>{{K::arrival, true}, {K::subject, false}, {K::displayfrom, false},
                                                   {K::displayto, true}, {K::size, false}, {K::cc, false},
                                                   {K::to, false}, {K::from, false}, {K::date, false}}));
  struct Bad {
    const char* text;
    const char* error;
  };
  for (const Bad& b : {Bad{"()", "Empty sort criteria"}, Bad{"ARRIVAL", "Sort criteria must be a parenthesised list"},
                       Bad{"(REVERSE)", "REVERSE without a sort key"},
                       Bad{"(DATE REVERSE)", "REVERSE without a sort key"},
                       Bad{"(REVERSE REVERSE DATE)", "Unknown sort key REVERSE"},
                       Bad{"(DATE BOGUS)", "Unknown sort key BOGUS"}, Bad{"(\"DATE\")", "Unknown sort key DATE"},
                       Bad{"((DATE))", "Unknown sort key (...)"}, Bad{"(MODSEQ)", "Unknown sort key MODSEQ"}}) {
    error.clear();
    EXPECT_FALSE(parse_sort_criteria(criteria(b.text), error)) << b.text;
    EXPECT_EQ(error, b.error) << b.text;
  }
}

TEST(ImapSortTest, ThreadAlgorithms) {
  EXPECT_EQ(parse_thread_algorithm("references"), ThreadAlgorithm::references);
  EXPECT_EQ(parse_thread_algorithm("OrderedSubject"), ThreadAlgorithm::orderedsubject);
  EXPECT_FALSE(parse_thread_algorithm("REFS"));
  EXPECT_FALSE(parse_thread_algorithm(""));
}

// Mail - a message for sorting: its listing and header section.
struct Mail {
  MessageMeta meta;
  std::string header;
};

class ImapSortMessagesTest : public testing::Test {
 protected:
  void add(std::uint64_t size, std::int64_t internaldate, std::string header) {
    Mail m;
    m.meta.uid = static_cast<std::uint32_t>(mails.size() + 1);
    m.meta.size = size;
    m.meta.internaldate = internaldate;
    m.header = std::move(header) + "\r\n";
    mails.push_back(std::move(m));
  }

  std::vector<SortInput> inputs() const {
    std::vector<SortInput> out;
    for (const auto& m : mails) out.push_back({m.meta.uid, &m.meta, m.header});
    return out;
  }

  std::vector<std::uint32_t> sorted(std::string_view text) {
    std::string error;
    auto keys = parse_sort_criteria(criteria(text), error);
    EXPECT_TRUE(keys) << text << ": " << error;
    return keys ? sort_messages(inputs(), *keys) : std::vector<std::uint32_t>{};
  }

  std::vector<Mail> mails;
};

using U = std::vector<std::uint32_t>;

TEST_F(ImapSortMessagesTest, EachKey) {
  add(300, k1Feb1994 + 30,
      "From: \"Zed Zulu\" <alpha@example.org>\r\n"
      "To: Bob <bob@example.net>, carol@example.net\r\n"
      "Subject: Re: [list] banana\r\n"
      "Date: Tue, 1 Feb 1994 10:00:00 +0100\r\n");  // 09:00 UTC
  add(100, k1Feb1994 + 10,
      "From: =?UTF-8?Q?=C3=A9mile?= <Charlie@example.org>\r\n"
      "To: undisclosed-recipients:;\r\n"
      "Cc: Dave <dave@example.com>\r\n"
      "Subject: apple\r\n"
      "Date: Tue, 1 Feb 1994 08:00:00 -0030\r\n");  // 08:30 UTC
  add(200, k1Feb1994 + 20,
      "From: bravo@example.org\r\n"
      "To: \"\" <ann@example.net>\r\n"
      "Cc: BOB@example.com\r\n"
      "Subject: Cherry\r\n"
      "Date: not a date\r\n");  // the internal date: k1Feb1994 + 20
  add(50, k1Feb1994 + 40, "X-Nothing: here\r\n");

  EXPECT_EQ(sorted("(ARRIVAL)"), (U{2, 3, 1, 4}));
  EXPECT_EQ(sorted("(REVERSE ARRIVAL)"), (U{4, 1, 3, 2}));
  EXPECT_EQ(sorted("(SIZE)"), (U{4, 2, 3, 1}));
  EXPECT_EQ(sorted("(DATE)"), (U{3, 4, 2, 1}));  // 4 without Date: falls back too
  EXPECT_EQ(sorted("(SUBJECT)"), (U{4, 2, 1, 3}));  // "", apple, banana, Cherry
  EXPECT_EQ(sorted("(REVERSE SUBJECT)"), (U{3, 1, 2, 4}));
  EXPECT_EQ(sorted("(FROM)"), (U{4, 1, 3, 2}));  // "", alpha, bravo, Charlie
  EXPECT_EQ(sorted("(TO)"), (U{4, 3, 1, 2}));    // "", ann, bob, the group's name
  EXPECT_EQ(sorted("(CC)"), (U{1, 4, 3, 2}));    // "" twice (input order), BOB, dave
  // RFC 5957: the display name (decoded), else the addr-spec.
  EXPECT_EQ(sorted("(DISPLAYFROM)"), (U{4, 3, 1, 2}));  // "", bravo@..., Zed Zulu, émile
  EXPECT_EQ(sorted("(DISPLAYTO)"), (U{4, 3, 1, 2}));    // "", ann@..., Bob, the group's name
}

TEST_F(ImapSortMessagesTest, TiesGoToTheNextKeyThenToInputOrder) {
  add(10, 5, "Subject: b\r\nFrom: x@y");
  add(20, 5, "Subject: Re: a\r\nFrom: x@y");
  add(10, 5, "Subject: A\r\nFrom: w@y");
  add(20, 5, "Subject: a (fwd)\r\nFrom: x@y");
  add(10, 5, "Subject: B\r\nFrom: x@y");
  EXPECT_EQ(sorted("(SUBJECT)"), (U{2, 3, 4, 1, 5}));
  EXPECT_EQ(sorted("(SUBJECT REVERSE SIZE)"), (U{2, 4, 3, 1, 5}));
  EXPECT_EQ(sorted("(REVERSE SUBJECT)"), (U{1, 5, 2, 3, 4}));  // the input order is not turned
  EXPECT_EQ(sorted("(FROM SUBJECT)"), (U{3, 2, 4, 1, 5}));
  EXPECT_EQ(sorted("(ARRIVAL)"), (U{1, 2, 3, 4, 5}));
  EXPECT_EQ(sorted("(REVERSE ARRIVAL)"), (U{1, 2, 3, 4, 5}));
  EXPECT_EQ(sorted("(SIZE SIZE REVERSE FROM)"), (U{1, 5, 3, 2, 4}));
}

TEST_F(ImapSortMessagesTest, NothingToSort) {
  EXPECT_EQ(sorted("(SUBJECT)"), U{});
  add(1, 1, "");
  EXPECT_EQ(sorted("(DISPLAYTO REVERSE DATE)"), U{1});
}

// threads - the THREAD response's text for the messages.
std::string threads(const std::vector<SortInput>& in, ThreadAlgorithm a) {
  std::string out;
  append_threads(out, thread_messages(in, a));
  return out;
}

TEST(ImapThreadTest, AppendThreadsRfcForms) {
  using N = ThreadNode;
  std::string out;
  // RFC 5256 4's example: (2)(3 6 (4 23)(44 7 96)).
  append_threads(out, {N{2, {}}, N{3, {N{6, {N{4, {N{23, {}}}}, N{44, {N{7, {N{96, {}}}}}}}}}}});
  EXPECT_EQ(out, "(2)(3 6 (4 23)(44 7 96))");
  // A dummy at the top writes its children's lists only.
  out.clear();
  append_threads(out, {N{0, {N{3, {}}, N{5, {}}}}});
  EXPECT_EQ(out, "((3)(5))");
  out.clear();
  append_threads(out, {N{0, {N{3, {N{4, {}}}}, N{5, {N{6, {}}, N{7, {}}}}}}});
  EXPECT_EQ(out, "((3 4)(5 (6)(7)))");
  // Dummies with one child, none, or below the top: spliced or left out.
  out.clear();
  append_threads(out, {N{0, {}}, N{0, {N{8, {}}}}, N{1, {N{0, {N{2, {}}, N{0, {}}}}}},
                       N{9, {N{0, {N{10, {}}, N{11, {}}}}, N{12, {}}}}});
  EXPECT_EQ(out, "(8)(1 2)(9 (10)(11)(12))");
  out.clear();
  append_threads(out, {});
  EXPECT_EQ(out, "");
}

TEST(ImapThreadTest, AppendThreadsRfcResponses) {
  // The ORDEREDSUBJECT and REFERENCES responses of RFC 5256 4, rebuilt
  // from their trees.
  using N = ThreadNode;
  auto leaf = [](std::uint32_t id) { return N{id, {}}; };
  auto with = [](std::uint32_t id, std::vector<N> kids) { return N{id, std::move(kids)}; };
  auto dummy = [](std::vector<N> kids) { return N{0, std::move(kids)}; };
  std::string out;
  append_threads(out, {leaf(166), leaf(167), leaf(168), leaf(169), leaf(172), leaf(170), leaf(171), leaf(173),
                       with(174, {leaf(175), leaf(176), leaf(178), leaf(181), leaf(180)}), leaf(179),
                       with(177, {leaf(183), leaf(182), leaf(188), leaf(184), leaf(185), leaf(186), leaf(187),
                                  leaf(189)}),
                       leaf(190), leaf(191), leaf(192), leaf(193), with(194, {leaf(195)}),
                       with(196, {leaf(197), leaf(198)}), leaf(199), with(200, {leaf(202)}), leaf(201), leaf(203),
                       leaf(204), leaf(205), with(206, {leaf(207)}), leaf(208)});
  EXPECT_EQ(out,
            "(166)(167)(168)(169)(172)(170)(171)(173)(174 (175)(176)(178)(181)(180))(179)(177 (183)(182)(188)(184)"
            "(185)(186)(187)(189))(190)(191)(192)(193)(194 195)(196 (197)(198))(199)(200 202)(201)(203)(204)(205)"
            "(206 207)(208)");
  out.clear();
  append_threads(out, {leaf(166), leaf(167), leaf(168), leaf(169), leaf(172), dummy({leaf(170), leaf(179)}),
                       leaf(171), leaf(173),
                       dummy({leaf(174), leaf(175), leaf(176), leaf(178), leaf(181), leaf(180)}),
                       dummy({leaf(177), leaf(183), leaf(182), leaf(188), leaf(184), leaf(185), leaf(186), leaf(187),
                              leaf(189)}),
                       leaf(190), leaf(191), leaf(192), leaf(193), dummy({leaf(194), leaf(195)}),
                       dummy({leaf(196), leaf(197), leaf(198)}), leaf(199), with(200, {leaf(202)}), leaf(201),
                       leaf(203), leaf(204), with(205, {with(206, {leaf(207)})}), leaf(208)});
  EXPECT_EQ(out,
            "(166)(167)(168)(169)(172)((170)(179))(171)(173)((174)(175)(176)(178)(181)(180))((177)(183)(182)(188)"
            "(184)(185)(186)(187)(189))(190)(191)(192)(193)((194)(195))((196)(197)(198))(199)(200 202)(201)(203)"
            "(204)(205 206 207)(208)");
}

class ImapThreadMessagesTest : public ImapSortMessagesTest {
 protected:
  // mail - a message with a Date: of minute, the other fields as given.
  void mail(int minute, std::string fields) {
    char date[64];
    std::snprintf(date, sizeof date, "Date: Tue, 1 Feb 1994 10:%02d:00 +0000\r\n", minute);
    add(100, k1Feb1994 + 86400 - minute, date + fields);  // internal dates the other way round
  }
  std::string threads(ThreadAlgorithm a) { return imap::threads(inputs(), a); }
};

TEST_F(ImapThreadMessagesTest, OrderedSubject) {
  mail(5, "Subject: Re: lunch\r\n");             // 1
  mail(1, "Subject: lunch\r\n");                 // 2
  mail(3, "Subject: dinner\r\n");                // 3
  mail(2, "Subject: [team] Lunch (fwd)\r\n");    // 4
  mail(9, "Subject: breakfast\r\n");             // 5
  mail(4, "Subject: dinner\r\n");                // 6
  mail(3, "Subject: LUNCH\r\n");                 // 7: the same date as 3, after it
  mail(0, "");                                   // 8: no subject
  mail(7, "Subject: Re:\r\n");                   // 9: nothing left either
  EXPECT_EQ(threads(ThreadAlgorithm::orderedsubject), "(8 9)(2 (4)(7)(1))(3 6)(5)");
}

TEST_F(ImapThreadMessagesTest, ReferencesLinksRepliesAndKeepsMissingParentsAsDummies) {
  mail(0, "Message-ID: <a@x>\r\nSubject: plan\r\n");                                         // 1
  mail(2, "Message-ID: <c@x>\r\nReferences: <a@x> <b@x>\r\nSubject: Re: plan\r\n");           // 2: b is missing
  mail(3, "Message-ID: <d@x>\r\nReferences: <a@x> (b) <b@x>\r\nSubject: Re: plan\r\n");       // 3: b is missing
  mail(4, "Message-ID: <e@x>\r\nIn-Reply-To: <c@x> <d@x>\r\nSubject: Re: plan\r\n");          // 4: under c
  mail(1, "Message-ID: <f@x>\r\nIn-Reply-To: \"his message\" <a@x>\r\nSubject: other\r\n");  // 5
  mail(5, "Message-ID: < g @ x >\r\nReferences: <zz@x>\r\nSubject: orphan\r\n");              // 6: zz is missing
  mail(6, "Message-ID: <h@x>\r\nReferences: <g@x>\r\nIn-Reply-To: <a@x>\r\nSubject: x\r\n");  // 7
  // b is a dummy with two children below a: spliced into a's children.
  // zz is a dummy with one child at the top: replaced by it.
  EXPECT_EQ(threads(ThreadAlgorithm::references), "(1 (5)(2 4)(3))(6 7)");
}

TEST_F(ImapThreadMessagesTest, ReferencesDummyAtTheTopHoldsSiblings) {
  mail(3, "Message-ID: <b@x>\r\nReferences: <gone@x>\r\nSubject: Re: topic\r\n");  // 1
  mail(1, "Message-ID: <c@x>\r\nReferences: <gone@x>\r\nSubject: Re: topic\r\n");  // 2
  mail(2, "Message-ID: <d@x>\r\nReferences: <gone@x> <c@x>\r\nSubject: Re: topic\r\n");  // 3
  mail(0, "Message-ID: <e@x>\r\nSubject: unrelated\r\n");  // 4
  EXPECT_EQ(threads(ThreadAlgorithm::references), "(4)((2 3)(1))");
}

TEST_F(ImapThreadMessagesTest, ReferencesMergesThreadsBySubject) {
  mail(1, "Message-ID: <a@x>\r\nSubject: report\r\n");       // 1
  mail(3, "Message-ID: <b@x>\r\nSubject: Re: report\r\n");   // 2: met after 3: a child of the dummy
  mail(2, "Message-ID: <c@x>\r\nSubject: [list] report\r\n");  // 3: not a reply: a dummy holds 1 and 3
  mail(0, "Message-ID: <d@x>\r\nSubject: news\r\n");          // 4
  mail(5, "Message-ID: <e@x>\r\nSubject: Re: news\r\n");      // 5: below 4
  mail(6, "Message-ID: <f@x>\r\nSubject: Fwd: news\r\n");     // 6: below 4
  mail(4, "Message-ID: <g@x>\r\nSubject: Re: status\r\n");    // 7
  mail(7, "Message-ID: <h@x>\r\nSubject: RE: Status\r\n");    // 8: both replies: a dummy
  mail(8, "Message-ID: <i@x>\r\nSubject: Re:\r\n");           // 9: no subject left: alone
  mail(9, "Message-ID: <j@x>\r\nSubject: Re:\r\n");           // 10
  EXPECT_EQ(threads(ThreadAlgorithm::references), "(4 (5)(6))((1)(3)(2))((7)(8))(9)(10)");
}

TEST_F(ImapThreadMessagesTest, ReferencesMergesDummiesBySubject) {
  // Two threads under missing parents with the same subject: one dummy.
  mail(1, "Message-ID: <a@x>\r\nReferences: <p@x>\r\nSubject: Re: q\r\n");  // 1
  mail(2, "Message-ID: <b@x>\r\nReferences: <p@x>\r\nSubject: Re: q\r\n");  // 2
  mail(3, "Message-ID: <c@x>\r\nReferences: <r@x>\r\nSubject: Re: q\r\n");  // 3
  mail(4, "Message-ID: <d@x>\r\nReferences: <r@x>\r\nSubject: Re: q\r\n");  // 4
  mail(0, "Message-ID: <e@x>\r\nSubject: q\r\n");                           // 5: a message under the dummy
  EXPECT_EQ(threads(ThreadAlgorithm::references), "((5)(1)(2)(3)(4))");
}

TEST_F(ImapThreadMessagesTest, ReferencesSiblingsBySentDateThenInputOrder) {
  mail(0, "Message-ID: <a@x>\r\nSubject: s\r\n");
  mail(5, "Message-ID: <b@x>\r\nReferences: <a@x>\r\n");
  mail(3, "Message-ID: <c@x>\r\nReferences: <a@x>\r\n");
  mail(5, "Message-ID: <d@x>\r\nReferences: <a@x>\r\n");
  add(1, k1Feb1994 + 36000 + 240, "Message-ID: <e@x>\r\nReferences: <a@x>\r\n");  // no Date: 10:04 received
  EXPECT_EQ(threads(ThreadAlgorithm::references), "(1 (3)(5)(2)(4))");
}

TEST_F(ImapThreadMessagesTest, ReferencesDuplicateAndMissingIds) {
  mail(0, "Message-ID: <a@x>\r\nSubject: one\r\n");                       // 1
  mail(1, "Message-ID: <a@x>\r\nSubject: two\r\n");                       // 2: a duplicate: its own
  mail(2, "Message-ID: <b@x>\r\nReferences: <a@x>\r\nSubject: three\r\n");  // 3: below the first
  mail(3, "Message-ID: no-brackets@x\r\nSubject: four\r\n");              // 4
  mail(4, "References: <nonsense> junk\r\nSubject: five\r\n");             // 5: no valid reference
  EXPECT_EQ(threads(ThreadAlgorithm::references), "(1 3)(2)(4)(5)");
}

TEST_F(ImapThreadMessagesTest, ReferencesLoopsAreNotLinked) {
  // 1 and 2 name each other as parent: 2, seen second, stays the root.
  // 3 names itself; 4's references loop and end in itself: no parent.
  mail(0, "Message-ID: <a@x>\r\nReferences: <b@x>\r\nSubject: a\r\n");
  mail(1, "Message-ID: <b@x>\r\nReferences: <a@x>\r\nSubject: b\r\n");
  mail(2, "Message-ID: <c@x>\r\nReferences: <c@x>\r\nSubject: c\r\n");
  mail(3, "Message-ID: <d@x>\r\nReferences: <p@x> <q@x> <p@x> <q@x> <d@x>\r\nSubject: d\r\n");
  std::string out = threads(ThreadAlgorithm::references);
  EXPECT_EQ(out, "(2 1)(3)(4)");
  // Whatever they say, every message is there once.
  auto t = thread_messages(inputs(), ThreadAlgorithm::references);
  std::vector<std::uint32_t> seen;
  std::vector<const ThreadNode*> stack;
  for (const auto& n : t) stack.push_back(&n);
  while (!stack.empty()) {
    const ThreadNode* n = stack.back();
    stack.pop_back();
    if (n->id) seen.push_back(n->id);
    for (const auto& c : n->children) stack.push_back(&c);
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (U{1, 2, 3, 4}));
  // A loop through several messages, closed by the last one.
  mails.clear();
  mail(0, "Message-ID: <a@x>\r\nReferences: <c@x>\r\n");
  mail(1, "Message-ID: <b@x>\r\nReferences: <a@x>\r\n");
  mail(2, "Message-ID: <c@x>\r\nReferences: <a@x> <b@x>\r\n");
  EXPECT_EQ(threads(ThreadAlgorithm::references), "(3 1 2)");
}

TEST_F(ImapThreadMessagesTest, ReferencesAreBoundedAndDeepChainsFlattened) {
  // 100 references: only the last 64 are linked, so the first message
  // named is not this one's ancestor.
  std::string refs = "References:";
  for (int i = 0; i < 100; ++i) refs += " <r" + std::to_string(i) + "@x>";
  mail(0, "Message-ID: <r0@x>\r\nSubject: first\r\n");
  mail(1, "Message-ID: <m@x>\r\n" + refs + "\r\nSubject: second\r\n");
  EXPECT_EQ(threads(ThreadAlgorithm::references), "(1)(2)");

  // A chain of 3000 replies nests 1024 deep, the rest flat below the last.
  mails.clear();
  for (int i = 0; i < 3000; ++i)
    add(1, i, "Message-ID: <" + std::to_string(i) + "@x>\r\n" +
                  (i ? "References: <" + std::to_string(i - 1) + "@x>\r\n" : std::string()) + "Subject: s\r\n");
  auto t = thread_messages(inputs(), ThreadAlgorithm::references);
  ASSERT_EQ(t.size(), 1u);
  const ThreadNode* n = &t.front();
  std::size_t depth = 1;
  while (n->children.size() == 1) {
    n = &n->children.front();
    ++depth;
  }
  EXPECT_LE(depth, 1024u);
  std::size_t total = depth + n->children.size();
  EXPECT_EQ(total, 3000u);
  std::string out;
  append_threads(out, t);
  EXPECT_TRUE(out.starts_with("(1 2 3 ")) << out.substr(0, 40);
  EXPECT_TRUE(out.ends_with("(2999)(3000))")) << out.substr(out.size() - 40);
}

TEST_F(ImapThreadMessagesTest, ReferencesOfAHostileMailboxAreQuick) {
  // Every message names 64 earlier ones, newest first, so that most links
  // asked for would close loops, and itself last but one.
  for (int i = 0; i < 5000; ++i) {
    std::string refs = "References:";
    for (int k = 0; k < 63; ++k) refs += " <" + std::to_string((i * 7 + k * 13) % (i + 1)) + "@x>";
    refs += " <" + std::to_string(i) + "@x> <" + std::to_string(i / 2) + "@x>";
    add(1, i, "Message-ID: <" + std::to_string(i) + "@x>\r\n" + refs + "\r\nSubject: s\r\n");
  }
  auto start = std::chrono::steady_clock::now();
  auto t = thread_messages(inputs(), ThreadAlgorithm::references);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  std::vector<std::uint32_t> seen;
  std::vector<const ThreadNode*> stack;
  for (const auto& n : t) stack.push_back(&n);
  while (!stack.empty()) {
    const ThreadNode* n = stack.back();
    stack.pop_back();
    if (n->id) seen.push_back(n->id);
    for (const auto& c : n->children) stack.push_back(&c);
  }
  std::sort(seen.begin(), seen.end());
  ASSERT_EQ(seen.size(), 5000u);
  for (std::uint32_t i = 0; i < 5000; ++i) ASSERT_EQ(seen[i], i + 1);
}

}  // namespace
}  // namespace herald::imap
