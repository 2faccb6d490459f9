// admin/render_test.cpp - rows as the CLI prints them: JSON streamed element
// by element is the array dump(2) would write, valid whatever the values.
#include "admin/render.h"

#include <gtest/gtest.h>

#include <sstream>

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

}  // namespace
}  // namespace herald::admin
