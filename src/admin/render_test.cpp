// admin/render_test.cpp - rows as the CLI prints them: JSON streamed element
// by element is the array dump(2) would write, valid whatever the values.
#include "admin/render.h"

#include <gtest/gtest.h>

#include <sstream>

#include "base/text.h"

namespace herald::admin {
namespace {

std::string streamed(const std::vector<store::AliasRecord>& rows, bool json) {
  std::ostringstream out;
  RowWriter w(out, json);
  for (const auto& r : rows) EXPECT_TRUE(w.write(r));
  w.finish();
  return out.str();
}

TEST(RowWriter, JsonIsWhatDumpingTheWholeArrayGives) {
  std::vector<store::AliasRecord> rows = {
      {"a@example.test", {"x@remote.test"}},
      {"quote\"line\nbreak@example.test", {}},
      {"b@example.test", {"1@r.test", "2@r.test"}},
  };
  for (std::size_t n = 0; n <= rows.size(); ++n) {
    std::vector<store::AliasRecord> some(rows.begin(), rows.begin() + static_cast<long>(n));
    nlohmann::json whole = nlohmann::json::array();
    for (const auto& r : some) whole.push_back(to_json(r));
    std::string text = streamed(some, true);
    EXPECT_EQ(text, whole.dump(2) + "\n") << n << " rows";
    EXPECT_EQ(nlohmann::json::parse(text), whole);
  }
}

TEST(RowWriter, TextIsOneLinePerRow) {
  EXPECT_EQ(streamed({{"a@example.test", {"x@r.test", "y@r.test"}}}, false), "a@example.test: x@r.test, y@r.test\n");
  EXPECT_EQ(streamed({}, false), "");
  EXPECT_EQ(text_line(UserInfo{"u@example.test", 0, 2048, true, false}), "u@example.test  used 2k of unlimited");
  EXPECT_EQ(text_line(store::DomainRecord{"example.test", true}), "example.test  (config)");
  store::QueueRow q;
  q.queue_id = "4F3A9C2B1D7E";
  q.size = 1234;
  q.sender = "s@x";
  q.recipient = "r@y";
  q.last_reply = "451 later";
  EXPECT_EQ(text_line(q), "4F3A9C2B1D7E      1234  pending  <s@x> -> <r@y>  (451 later)");
}

TEST(RowWriter, JournalKeysAreStringsAndTimesIso) {
  store::JournalEntry e;
  e.time_ms = 1'700'000'000'123;
  e.key = (e.time_ms << 16) + 5;
  auto j = to_json(e);
  EXPECT_EQ(j["key"], std::to_string(e.key)) << "beyond 2^53: a string";
  EXPECT_EQ(j["time"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(text_line(e), "2023-11-14T22:13:20.123Z received");
}

// Issue 11 item 6: stored bytes that are not UTF-8 made dump() throw and the
// CLI abort. Every row type: JSON that parses, text without a raw control.
TEST(RowWriter, HostileStoredBytesNeitherThrowNorReachTheTerminal) {
  const std::string bad = "\xff\xfe\x9b" "31m\x1b[2J\x07\x7f\xc2\x9b" "0m\xc3";
  auto check = [&](const auto& row) {
    for (bool json : {true, false}) {
      std::ostringstream out;
      RowWriter w(out, json);
      ASSERT_NO_THROW(EXPECT_TRUE(w.write(row)));
      w.finish();
      std::string text = out.str();
      EXPECT_TRUE(valid_utf8(text)) << printable(text);
      for (unsigned char c : text) EXPECT_TRUE(c == '\n' || c >= 0x20) << printable(text);
      if (json) {
        auto parsed = nlohmann::json::parse(text);
        ASSERT_EQ(parsed.size(), 1u);
        EXPECT_NE(parsed[0].dump().find("\\u001b[2J"), std::string::npos) << "controls escaped by JSON";
        EXPECT_NE(parsed[0].dump(-1, ' ', false).find("\xef\xbf\xbd"), std::string::npos) << "U+FFFD for bad bytes";
      } else {
        EXPECT_EQ(text.find('\x7f'), std::string::npos);
        EXPECT_NE(text.find("\\xff\\xfe\\x9b" "31m\\x1b[2J\\x07\\x7f\\xc2\\x9b" "0m\\xc3"), std::string::npos) << text;
      }
    }
  };
  check(store::DomainRecord{bad, false});
  check(UserInfo{bad, 0, 0, false, false});
  check(store::AliasRecord{bad, {bad}});
  store::QueueRow q;
  q.queue_id = bad;
  q.sender = bad;
  q.recipient = bad;
  q.original_recipient = bad;
  q.last_reply = bad;
  check(q);
  store::JournalEntry e;
  e.queue_id = e.message_id = e.sender = e.recipient = e.client = e.reply = e.detail = bad;
  check(e);
}

}  // namespace
}  // namespace herald::admin
