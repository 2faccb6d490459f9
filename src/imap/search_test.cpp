#include <gtest/gtest.h>

#include "imap/command.h"
#include "imap/date.h"
#include "imap/search.h"

#include "mime/structure.h"

namespace herald::imap {
namespace {

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t k1Feb1994 = 760060800;

TEST(ImapDateTest, SearchDates) {
  EXPECT_EQ(parse_search_date("1-Feb-1994"), k1Feb1994);
  EXPECT_EQ(parse_search_date("01-feb-1994"), k1Feb1994);
  EXPECT_EQ(parse_search_date("01-FEB-1994"), k1Feb1994);
  EXPECT_EQ(parse_search_date("1-Jan-1970"), 0);
  EXPECT_EQ(parse_search_date("1-Jan-1900"), -2208988800);
  EXPECT_EQ(parse_search_date("31-Dec-9999"), 253402214400);
  // Leap years: every 4th, not every 100th, but every 400th.
  EXPECT_EQ(parse_search_date("29-Feb-2000"), 951782400);
  EXPECT_TRUE(parse_search_date("29-Feb-2024"));
  EXPECT_FALSE(parse_search_date("29-Feb-2023"));
  EXPECT_FALSE(parse_search_date("29-Feb-1900"));
  for (const char* bad : {"31-Feb-1994", "31-Apr-1994", "0-Jan-1994", "32-Jan-1994", "1-Jan-1899", "1-Feb-94",
                          "001-Feb-1994", "1-Febr-1994", "1 Feb 1994", "1-Feb-1994 ", "-Feb-1994", "1-Feb-",
                          "", "1-Xyz-1994", "+1-Feb-1994", "1-Feb-19a4"})
    EXPECT_FALSE(parse_search_date(bad)) << bad;
}

TEST(ImapDateTest, DateTimes) {
  EXPECT_EQ(parse_date_time(" 1-Feb-1994 21:52:25 -0800"), 760168345);
  EXPECT_EQ(parse_date_time("02-Feb-1994 05:52:25 +0000"), 760168345);
  EXPECT_EQ(parse_date_time("2-Feb-1994 07:22:25 +0130"), 760168345);
  EXPECT_EQ(parse_date_time("31-Dec-1969 23:59:59 +0000"), -1);
  for (const char* bad : {"  1-Feb-1994 21:52:25 -0800", " 11-Feb-1994 21:52:25 -0800", "1-Feb-1994 24:00:00 +0000",
                          "1-Feb-1994 21:52 +0000", "1-Feb-1994 21:52:25", "1-Feb-1994 21:52:25 0800",
                          "1-Feb-1994 21:52:25 +0860", "1-Feb-1994 21:52:25 +08000", "30-Feb-1994 21:52:25 +0000",
                          "1-Feb-1994  21:52:25 +0000", ""})
    EXPECT_FALSE(parse_date_time(bad)) << bad;
}

TEST(ImapDateTest, FormatDateTime) {
  EXPECT_EQ(format_date_time(837596665), "17-Jul-1996 09:44:25 +0000");
  EXPECT_EQ(format_date_time(760168345), " 2-Feb-1994 05:52:25 +0000");
  EXPECT_EQ(format_date_time(-1), "31-Dec-1969 23:59:59 +0000");
  EXPECT_EQ(format_date_time(951782400 + 3599), "29-Feb-2000 00:59:59 +0000");
  // Clamped to the four year digits of the grammar.
  EXPECT_EQ(format_date_time(-100000000000), " 1-Jan-1900 00:00:00 +0000");
  EXPECT_EQ(format_date_time(900000000000), "31-Dec-9999 23:59:59 +0000");
  for (std::int64_t t : {0ll, 760168345ll, 1700000000ll, -2208988800ll})
    EXPECT_EQ(parse_date_time(format_date_time(t)), t) << t;
}

TEST(ImapDateTest, DayOf) {
  EXPECT_EQ(day_of(0), 0);
  EXPECT_EQ(day_of(kDay - 1), 0);
  EXPECT_EQ(day_of(-1), -kDay);
  EXPECT_EQ(day_of(760168345), k1Feb1994 + kDay);        // 05:52 UTC on the 2nd
  EXPECT_EQ(day_of(760168345, -480), k1Feb1994);         // 21:52 on the 1st in -0800
  EXPECT_EQ(day_of(k1Feb1994 + 23 * 3600, 60), k1Feb1994 + kDay);
}

TEST(ImapDateTest, MessageDates) {
  auto d = parse_message_date("Tue, 1 Feb 1994 21:52:25 -0800 (PST)");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->seconds, 760168345);
  EXPECT_EQ(d->zone_minutes, -480);
  d = parse_message_date("  01 Feb 1994 21:52:25 PST");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->seconds, 760168345);
  d = parse_message_date("Wednesday,\r\n 2 February 94 05:52 GMT");  // obsolete forms (RFC 5322 4.3)
  ASSERT_TRUE(d);
  EXPECT_EQ(d->seconds, 760168320);
  EXPECT_EQ(d->zone_minutes, 0);
  d = parse_message_date("Feb 2 1994 (a (nested) comment)");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->seconds, k1Feb1994 + kDay);
  d = parse_message_date("2 Feb 1994 05:52:25 X");  // military: as -0000
  ASSERT_TRUE(d);
  EXPECT_EQ(d->seconds, 760168345);
  EXPECT_EQ(parse_message_date("1 Jan 49")->seconds, *parse_search_date("1-Jan-2049"));
  EXPECT_EQ(parse_message_date("1 Jan 103")->seconds, *parse_search_date("1-Jan-2003"));
  for (const char* bad : {"", "32 Jan 1994", "29 Feb 1993", "1 Foo 1994", "1 Feb", "1 Feb 1994 25:00",
                          "yesterday", "1 Feb 1994 12:3x"})
    EXPECT_FALSE(parse_message_date(bad)) << bad;
}

// args - the arguments of "t SEARCH <keys>" as the command reader parses them.
std::vector<Value> args(std::string_view keys) {
  CommandReader r;
  r.feed("t SEARCH" + (keys.empty() ? "" : " " + std::string(keys)) + "\r\n");
  for (;;) {
    auto e = r.next();
    if (e == CommandReader::Event::continuation) continue;
    EXPECT_EQ(e, CommandReader::Event::command) << keys;
    return e == CommandReader::Event::command ? r.take_command().args : std::vector<Value>{};
  }
}

// describe - a key as text: "(AND k ...)", "(OR a b)", "(NOT k)", NAME with
// its argument.
std::string describe(const SearchKey& k) {
  using K = SearchKey::Kind;
  auto all = [&](std::string s) {
    for (const auto& c : k.keys) s += " " + describe(c);
    return s + ")";
  };
  switch (k.kind) {
    case K::and_: return all("(AND");
    case K::or_: return all("(OR");
    case K::not_: return all("(NOT");
    case K::header: return "HEADER " + k.field + " \"" + k.text + "\"";
    case K::keyword: return "KEYWORD " + k.text;
    case K::unkeyword: return "UNKEYWORD " + k.text;
    case K::bcc: return "BCC \"" + k.text + "\"";
    case K::cc: return "CC \"" + k.text + "\"";
    case K::from: return "FROM \"" + k.text + "\"";
    case K::to: return "TO \"" + k.text + "\"";
    case K::subject: return "SUBJECT \"" + k.text + "\"";
    case K::body: return "BODY \"" + k.text + "\"";
    case K::text: return "TEXT \"" + k.text + "\"";
    case K::before: return "BEFORE " + std::to_string(k.date);
    case K::on: return "ON " + std::to_string(k.date);
    case K::since: return "SINCE " + std::to_string(k.date);
    case K::sentbefore: return "SENTBEFORE " + std::to_string(k.date);
    case K::senton: return "SENTON " + std::to_string(k.date);
    case K::sentsince: return "SENTSINCE " + std::to_string(k.date);
    case K::savedbefore: return "SAVEDBEFORE " + std::to_string(k.date);
    case K::savedon: return "SAVEDON " + std::to_string(k.date);
    case K::savedsince: return "SAVEDSINCE " + std::to_string(k.date);
    case K::larger: return "LARGER " + std::to_string(k.number);
    case K::smaller: return "SMALLER " + std::to_string(k.number);
    case K::modseq: return "MODSEQ " + std::to_string(k.number);
    case K::older: return "OLDER " + std::to_string(k.number);
    case K::younger: return "YOUNGER " + std::to_string(k.number);
    case K::uid:
    case K::sequence_set: {
      std::string s = k.kind == K::uid ? "UID " : "SET ";
      if (k.set.saved()) return s + "$";
      for (const auto& r : k.set.ranges())
        s += std::to_string(r.first) + ":" + std::to_string(r.last) + ",";
      s.pop_back();
      return s;
    }
    case K::all: return "ALL";
    case K::answered: return "ANSWERED";
    case K::deleted: return "DELETED";
    case K::draft: return "DRAFT";
    case K::flagged: return "FLAGGED";
    case K::seen: return "SEEN";
    case K::unanswered: return "UNANSWERED";
    case K::undeleted: return "UNDELETED";
    case K::undraft: return "UNDRAFT";
    case K::unflagged: return "UNFLAGGED";
    case K::unseen: return "UNSEEN";
    case K::new_: return "NEW";
    case K::old: return "OLD";
    case K::recent: return "RECENT";
    case K::savedatesupported: return "SAVEDATESUPPORTED";
  }
  return "?";
}

// parsed - the program of "SEARCH <keys>" described, or "BAD text", or
// "NO BADCHARSET".
std::string parsed(std::string_view keys, bool allow_charset = true, SearchLimits limits = {}) {
  auto a = args(keys);
  SearchParse p = parse_search(a, 0, allow_charset, limits);
  if (p.bad_charset) return "NO BADCHARSET";
  if (!p.program) return "BAD " + p.error;
  return describe(p.program->root);
}

TEST(ImapSearchParseTest, EveryKeyKind) {
  const std::string feb = std::to_string(k1Feb1994);
  EXPECT_EQ(parsed("all answered DELETED Draft flagged seen"), "(AND ALL ANSWERED DELETED DRAFT FLAGGED SEEN)");
  EXPECT_EQ(parsed("UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN NEW OLD RECENT SAVEDATESUPPORTED"),
            "(AND UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN NEW OLD RECENT SAVEDATESUPPORTED)");
  EXPECT_EQ(parsed("KEYWORD $Forwarded UNKEYWORD Junk"), "(AND KEYWORD $Forwarded UNKEYWORD Junk)");
  EXPECT_EQ(parsed("BCC a CC \"b c\" FROM {3}\r\nd e TO f SUBJECT \"\" BODY g TEXT h"),
            "(AND BCC \"a\" CC \"b c\" FROM \"d e\" TO \"f\" SUBJECT \"\" BODY \"g\" TEXT \"h\")");
  EXPECT_EQ(parsed("HEADER List-Id \"\""), "HEADER List-Id \"\"");
  EXPECT_EQ(parsed("BEFORE 1-Feb-1994 ON \"01-Feb-1994\" SINCE 1-feb-1994"),
            "(AND BEFORE " + feb + " ON " + feb + " SINCE " + feb + ")");
  EXPECT_EQ(parsed("SENTBEFORE 1-Feb-1994 SENTON 1-Feb-1994 SENTSINCE 1-Feb-1994"),
            "(AND SENTBEFORE " + feb + " SENTON " + feb + " SENTSINCE " + feb + ")");
  EXPECT_EQ(parsed("SAVEDBEFORE 1-Feb-1994 SAVEDON 1-Feb-1994 SAVEDSINCE 1-Feb-1994"),
            "(AND SAVEDBEFORE " + feb + " SAVEDON " + feb + " SAVEDSINCE " + feb + ")");
  EXPECT_EQ(parsed("LARGER 0 SMALLER 9223372036854775807"), "(AND LARGER 0 SMALLER 9223372036854775807)");
  EXPECT_EQ(parsed("OLDER 1 YOUNGER 4294967295"), "(AND OLDER 1 YOUNGER 4294967295)");
  EXPECT_EQ(parsed("MODSEQ 0"), "MODSEQ 0");
  EXPECT_EQ(parsed("MODSEQ \"/flags/\\\\draft\" all 620162338"), "MODSEQ 620162338");
  EXPECT_EQ(parsed("UID 1:*,5 2:4 $ UID $"), "(AND UID 1:0,5:5 SET 2:4 SET $ UID $)");
}

TEST(ImapSearchParseTest, NestedOrNotAndParentheses) {
  EXPECT_EQ(parsed("OR SEEN FLAGGED"), "(OR SEEN FLAGGED)");
  EXPECT_EQ(parsed("NOT NOT SEEN"), "(NOT (NOT SEEN))");
  EXPECT_EQ(parsed("OR (SEEN FROM x) NOT OR DRAFT 1:3 DELETED"),
            "(AND (OR (AND SEEN FROM \"x\") (NOT (OR DRAFT SET 1:3))) DELETED)");
  EXPECT_EQ(parsed("((SEEN))"), "SEEN");
  EXPECT_EQ(parsed("OR OR a:b SEEN"), "BAD Unknown search key a:b");
  EXPECT_EQ(parsed("OR SEEN"), "BAD Missing search key");
  EXPECT_EQ(parsed("NOT"), "BAD Missing search key");
  EXPECT_EQ(parsed("()"), "BAD Empty search key list");
}

TEST(ImapSearchParseTest, BoundsRefuseBombs) {
  std::string nots;
  for (int i = 0; i < 32; ++i) nots += "NOT ";
  EXPECT_EQ(parsed(nots + "SEEN").substr(0, 10), "(NOT (NOT ");
  EXPECT_EQ(parsed(nots + "NOT SEEN"), "BAD Search keys nested too deeply");
  std::string ors;
  for (int i = 0; i < 40; ++i) ors += "OR SEEN ";
  EXPECT_EQ(parsed(ors + "SEEN"), "BAD Search keys nested too deeply");
  // Parentheses count as the command reader lets them through.
  EXPECT_EQ(parsed("(((SEEN)))", true, {.max_depth = 2}), "BAD Search keys nested too deeply");
  EXPECT_EQ(parsed("(((SEEN)))", true, {.max_depth = 3}), "SEEN");
  std::string many;
  for (int i = 0; i < 1001; ++i) many += "SEEN ";
  EXPECT_EQ(parsed(many), "BAD Too many search keys");
  many.resize(many.size() - 5);
  EXPECT_EQ(parsed(many).substr(0, 9), "(AND SEEN");
}

TEST(ImapSearchParseTest, BadKeysAndArguments) {
  EXPECT_EQ(parsed("SEEN FOO"), "BAD Unknown search key FOO");
  EXPECT_EQ(parsed("\"SEEN\""), "BAD Unknown search key SEEN");
  EXPECT_EQ(parsed("{5}\r\nA\tB\x01Z"), "BAD Unknown search key A\\x09B\\x01Z");
  EXPECT_EQ(parsed(std::string(100, 'X')), "BAD Unknown search key " + std::string(40, 'X') + "...");
  EXPECT_EQ(parsed("FROM"), "BAD Missing argument to FROM");
  EXPECT_EQ(parsed("FROM (a)"), "BAD Bad argument to FROM: ");
  EXPECT_EQ(parsed("KEYWORD \"\""), "BAD Bad argument to KEYWORD: ");
  EXPECT_EQ(parsed("HEADER Subject"), "BAD Missing argument to HEADER");
  EXPECT_EQ(parsed("SINCE 31-Feb-1994"), "BAD Bad argument to SINCE: 31-Feb-1994");
  EXPECT_EQ(parsed("LARGER 9223372036854775808"), "BAD Bad argument to LARGER: 9223372036854775808");
  EXPECT_EQ(parsed("LARGER -1"), "BAD Bad argument to LARGER: -1");
  EXPECT_EQ(parsed("LARGER \"5\""), "BAD Bad argument to LARGER: 5");
  EXPECT_EQ(parsed("OLDER 0"), "BAD Bad argument to OLDER: 0");
  EXPECT_EQ(parsed("YOUNGER 4294967296"), "BAD Bad argument to YOUNGER: 4294967296");
  EXPECT_EQ(parsed("MODSEQ \"/flags/\\\\draft\" mine 5"), "BAD Bad argument to MODSEQ: mine");
  EXPECT_EQ(parsed("MODSEQ \"/flags/\\\\draft\" all"), "BAD Missing argument to MODSEQ");
  EXPECT_EQ(parsed("UID 0"), "BAD Bad argument to UID: 0");
  EXPECT_EQ(parsed("1:0"), "BAD Unknown search key 1:0");
  EXPECT_EQ(parsed(""), "BAD Missing search key");
}

TEST(ImapSearchParseTest, Charset) {
  auto program = [](std::string_view keys) { return parse_search(args(keys), 0, true).program; };
  ASSERT_TRUE(program("CHARSET utf-8 SEEN"));
  EXPECT_EQ(program("CHARSET utf-8 SEEN")->charset, "utf-8");
  EXPECT_EQ(program("charset \"US-ASCII\" SEEN")->charset, "US-ASCII");
  EXPECT_EQ(program("SEEN")->charset, "");
  EXPECT_EQ(parsed("CHARSET UTF-8 TEXT x"), "TEXT \"x\"");
  EXPECT_EQ(parsed("CHARSET ISO-8859-1 TEXT x"), "NO BADCHARSET");
  EXPECT_EQ(parsed("CHARSET"), "BAD Missing charset");
  EXPECT_EQ(parsed("CHARSET UTF-8"), "BAD Missing search key");
  EXPECT_EQ(parsed("CHARSET UTF-8 SEEN", false), "BAD Unknown search key CHARSET");
  // from: what precedes the keys is the caller's (RETURN (...) of RFC 9051 6.4.4).
  auto a = args("RETURN (MIN) CHARSET UTF-8 UNSEEN");
  auto p = parse_search(a, 2, true);
  ASSERT_TRUE(p.program);
  EXPECT_EQ(describe(p.program->root), "UNSEEN");
}

TEST(ImapSearchTest, Need) {
  auto need_of = [](std::string_view keys) { return need(parse_search(args(keys), 0, true).program->root); };
  EXPECT_EQ(need_of("SEEN UID 1:* 1:3 LARGER 5 SINCE 1-Feb-1994 MODSEQ 4 KEYWORD x OLDER 5"), SearchNeed::meta);
  EXPECT_EQ(need_of("SEEN FROM x"), SearchNeed::envelope);
  EXPECT_EQ(need_of("NOT SENTON 1-Feb-1994"), SearchNeed::envelope);
  EXPECT_EQ(need_of("OR HEADER X-A b SUBJECT c"), SearchNeed::header);
  EXPECT_EQ(need_of("OR FROM x (SEEN BODY y)"), SearchNeed::text);
  EXPECT_EQ(need_of("TEXT x"), SearchNeed::text);
  EXPECT_EQ(need_indexed(parse_search(args("OR FROM x (SEEN BODY y)"), 0, true).program->root), SearchNeed::envelope);
  EXPECT_FALSE(uses_modseq(parse_search(args("SEEN FROM x"), 0, true).program->root));
  EXPECT_TRUE(uses_modseq(parse_search(args("OR SEEN (NOT MODSEQ 5)"), 0, true).program->root));
}

TEST(ImapSearchTest, EncodedWords) {
  EXPECT_EQ(decode_encoded_words("=?UTF-8?B?w6l0w6k=?="), "\xc3\xa9t\xc3\xa9");
  EXPECT_EQ(decode_encoded_words("=?utf-8?b?w6l0w6k?="), "\xc3\xa9t\xc3\xa9");  // padding left off
  EXPECT_EQ(decode_encoded_words("=?ISO-8859-1?Q?caf=E9_cr=e8me?="), "caf\xc3\xa9 cr\xc3\xa8me");
  EXPECT_EQ(decode_encoded_words("a =?us-ascii?q?b?= \r\n =?UTF-8*en?Q?c?= d"), "a bc d");  // RFC 2047 6.2
  EXPECT_EQ(decode_encoded_words("=?KOI8-R?B?9MXT1A==?= x"), "=?KOI8-R?B?9MXT1A==?= x");
  EXPECT_EQ(decode_encoded_words("=?utf-8?x?y?= =? =?utf-8?q?z"), "=?utf-8?x?y?= =? =?utf-8?q?z");
  EXPECT_EQ(decode_encoded_words("plain"), "plain");
}

struct Message {
  MessageMeta meta;
  std::string octets;
  std::uint32_t msn = 0;
};

class ImapSearchMatchTest : public testing::Test {
 protected:
  void SetUp() override {
    Message a;
    a.msn = 1;
    a.meta.uid = 10;
    a.meta.flags = kSeen | kFlagged;
    a.meta.keywords = {"$Forwarded", "Work"};
    a.meta.size = 1000;
    a.meta.modseq = 7;
    a.meta.internaldate = k1Feb1994 + 3600;  // 01:00 UTC on 1 Feb 1994
    a.meta.savedate = k1Feb1994 + 5 * kDay;
    a.octets =
        "From: Alice Example <alice@example.org>\r\n"
        "To: Bob <bob@example.net>,\r\n"
        "\tCarol <carol@example.net>\r\n"
        "Subject: =?UTF-8?B?w4ljb2xl?= =?UTF-8?Q?_d=27=C3=A9t=C3=A9?=\r\n"
        "Date: Mon, 31 Jan 1994 20:00:00 -0800\r\n"
        "X-Tag: \r\n"
        "\r\n"
        "Hello Bob,\r\nthe Meeting is at noon.\r\n";
    Message b;
    b.msn = 2;
    b.meta.uid = 20;
    b.meta.flags = kAnswered | kDeleted | kDraft;
    b.meta.size = 50;
    b.meta.modseq = 3;
    b.meta.internaldate = k1Feb1994 + 10 * kDay;
    b.octets =
        "From: bob@example.net\r\n"
        "Subject: Re: the meeting\r\n"
        "Cc: Dave <dave@example.com>\r\n"
        "Date: garbage\r\n"
        "\r\n"
        "Subject: not a header\r\n";
    messages = {a, b};
  }

  // found - the UIDs of the messages the keys match.
  std::vector<std::uint32_t> found(std::string_view keys) {
    auto p = parse_search(args(keys), 0, true);
    EXPECT_TRUE(p.program) << keys << ": " << p.error;
    if (!p.program) return {};
    std::vector<std::uint32_t> out;
    for (const auto& m : messages) {
      SearchInput in;
      in.msn = m.msn;
      in.largest_msn = static_cast<std::uint32_t>(messages.size());
      in.largest_uid = messages.back().meta.uid;
      in.meta = &m.meta;
      SearchNeed n = need(p.program->root);
      std::string_view octets = m.octets;
      std::optional<mime::Envelope> kept;
      if (n == SearchNeed::envelope && kept_envelope) {
        kept = mime::decode_envelope(mime::encode(mime::structure_of(m.octets)));  // as delivery keeps it
        EXPECT_TRUE(kept);
        in.envelope = kept ? &*kept : nullptr;
      } else if (n >= SearchNeed::envelope) {
        in.header = octets.substr(0, octets.find("\r\n\r\n") + 4);
      }
      if (n == SearchNeed::text) in.text = octets;
      in.now = now;
      in.saved_uids = saved;
      if (matches(p.program->root, in)) out.push_back(m.meta.uid);
    }
    return out;
  }

  std::vector<Message> messages;
  bool kept_envelope = false;  // the envelope keys read the envelope kept at delivery, not the header
  std::int64_t now = k1Feb1994 + 20 * kDay;
  std::vector<std::uint32_t> saved;
};

using U = std::vector<std::uint32_t>;

TEST_F(ImapSearchMatchTest, Flags) {
  EXPECT_EQ(found("ALL"), (U{10, 20}));
  EXPECT_EQ(found("SEEN"), U{10});
  EXPECT_EQ(found("UNSEEN"), U{20});
  EXPECT_EQ(found("FLAGGED"), U{10});
  EXPECT_EQ(found("UNFLAGGED ANSWERED DELETED DRAFT"), U{20});
  EXPECT_EQ(found("UNANSWERED UNDELETED UNDRAFT"), U{10});
  EXPECT_EQ(found("RECENT"), U{});
  EXPECT_EQ(found("NEW"), U{});
  EXPECT_EQ(found("OLD"), (U{10, 20}));
  EXPECT_EQ(found("KEYWORD work"), U{10});
  EXPECT_EQ(found("UNKEYWORD $forwarded"), U{20});
  EXPECT_EQ(found("OR SEEN DRAFT"), (U{10, 20}));
  EXPECT_EQ(found("NOT (SEEN FLAGGED)"), U{20});
}

TEST_F(ImapSearchMatchTest, Headers) {
  EXPECT_EQ(found("FROM alice"), U{10});
  EXPECT_EQ(found("FROM EXAMPLE.NET"), U{20});
  EXPECT_EQ(found("TO carol"), U{10});               // on a folded line
  EXPECT_EQ(found("TO \"net>, carol\""), U{});       // unfolding keeps the tab
  EXPECT_EQ(found("TO \"net>,\tcarol\""), U{10});
  EXPECT_EQ(found("CC dave"), U{20});
  EXPECT_EQ(found("BCC dave"), U{});
  EXPECT_EQ(found("SUBJECT meeting"), U{20});
  // Encoded-words decoded: "École d'été"; non-ASCII compared as octets.
  EXPECT_EQ(found("SUBJECT \"\xc3\x89""cole d'\xc3\xa9t\xc3\xa9\""), U{10});
  EXPECT_EQ(found("SUBJECT \"COLE D'\""), U{10});
  EXPECT_EQ(found("SUBJECT =?UTF-8"), U{});
  EXPECT_EQ(found("HEADER x-tag \"\""), U{10});      // present, even empty
  EXPECT_EQ(found("HEADER Cc \"\""), U{20});
  EXPECT_EQ(found("HEADER subject \"re:\""), U{20});
  EXPECT_EQ(found("HEADER X-Missing \"\""), U{});
  EXPECT_EQ(found("SUBJECT \"\""), (U{10, 20}));
}

// The envelope kept at delivery answers FROM, TO, CC, BCC, SUBJECT and
// SENT* as the header section does.
TEST_F(ImapSearchMatchTest, TheKeptEnvelopeAnswersAsTheHeaderDoes) {
  for (const char* keys : {"FROM alice", "FROM EXAMPLE.NET", "TO carol", "TO \"net>,\tcarol\"", "CC dave",
                           "BCC dave", "SUBJECT meeting", "SUBJECT \"COLE D'\"", "SUBJECT =?UTF-8",
                           "SUBJECT \"\"", "CC \"\"", "SENTON 31-Jan-1994", "SENTBEFORE 1-Feb-1994",
                           "SENTSINCE 1-Jan-1900", "OR FROM bob SUBJECT cole"}) {
    kept_envelope = false;
    const auto from_header = found(keys);
    kept_envelope = true;
    EXPECT_EQ(found(keys), from_header) << keys;
  }
}

TEST_F(ImapSearchMatchTest, BodyAndText) {
  EXPECT_EQ(found("BODY meeting"), U{10});
  EXPECT_EQ(found("BODY \"not a header\""), U{20});  // after the header section only
  EXPECT_EQ(found("BODY alice"), U{});
  EXPECT_EQ(found("TEXT alice"), U{10});
  EXPECT_EQ(found("TEXT MEETING"), (U{10, 20}));
  EXPECT_EQ(found("TEXT \"\""), (U{10, 20}));
}

TEST_F(ImapSearchMatchTest, Dates) {
  // Message 10 was received at 01:00 UTC on 1 Feb; its Date: says 31 Jan
  // in -0800 (04:00 UTC on 1 Feb): the sent day is the header's own.
  EXPECT_EQ(found("ON 1-Feb-1994"), U{10});
  EXPECT_EQ(found("BEFORE 2-Feb-1994"), U{10});
  EXPECT_EQ(found("SINCE 1-Feb-1994"), (U{10, 20}));
  EXPECT_EQ(found("SINCE 2-Feb-1994"), U{20});
  EXPECT_EQ(found("SENTON 31-Jan-1994"), U{10});
  EXPECT_EQ(found("SENTON 1-Feb-1994"), U{});
  EXPECT_EQ(found("SENTBEFORE 1-Feb-1994"), U{10});
  EXPECT_EQ(found("SENTSINCE 1-Jan-1900"), U{10});  // 20's Date: is unreadable
  EXPECT_EQ(found("SAVEDON 6-Feb-1994"), U{10});
  EXPECT_EQ(found("SAVEDSINCE 1-Jan-1900"), U{10});  // 20 has no save date
  EXPECT_EQ(found("SAVEDBEFORE 6-Feb-1994"), U{});
  EXPECT_EQ(found("SAVEDATESUPPORTED"), U{10});
  // now is 20 days after 1 Feb 00:00; 10 is 20 days less an hour old, 20 10 days.
  EXPECT_EQ(found("OLDER 864000"), U{10});
  EXPECT_EQ(found("YOUNGER 864000"), U{20});  // or equal (RFC 5032)
  EXPECT_EQ(found("OLDER 863999"), (U{10, 20}));
  EXPECT_EQ(found("YOUNGER 4294967295"), (U{10, 20}));
}

TEST_F(ImapSearchMatchTest, SetsSizesAndModseq) {
  EXPECT_EQ(found("UID 11:*"), U{20});
  EXPECT_EQ(found("UID *"), U{20});
  EXPECT_EQ(found("UID 15:5"), U{10});
  EXPECT_EQ(found("*"), U{20});
  EXPECT_EQ(found("1"), U{10});
  EXPECT_EQ(found("1:*"), (U{10, 20}));
  EXPECT_EQ(found("3:*"), U{20});  // "*" is 2: 3:* is 2:3
  EXPECT_EQ(found("$"), U{});
  saved = {20};
  EXPECT_EQ(found("$"), U{20});
  EXPECT_EQ(found("UID $"), U{20});
  EXPECT_EQ(found("LARGER 50"), U{10});
  EXPECT_EQ(found("LARGER 49"), (U{10, 20}));
  EXPECT_EQ(found("SMALLER 1000"), U{20});
  EXPECT_EQ(found("SMALLER 0"), U{});
  EXPECT_EQ(found("MODSEQ 4"), U{10});
  EXPECT_EQ(found("MODSEQ \"/flags/\\\\seen\" shared 3"), (U{10, 20}));
  EXPECT_EQ(found("MODSEQ 8"), U{});
}

}  // namespace
}  // namespace herald::imap
