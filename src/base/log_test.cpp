#include "base/log.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "base/text.h"

namespace herald::log {
namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Whatever a call site passes, the file holds printable lines: control
// bytes and malformed UTF-8 escaped, valid UTF-8 kept (issue 11, item 5).
TEST(Log, LinesAreEscapedOnTheWayOut) {
  auto path = std::filesystem::temp_directory_path() / ("herald-log-test-" + std::to_string(::getpid()) + ".log");
  std::filesystem::remove(path);
  setup(path.string(), "info", "mx.example.test");
  get("cleanup")->info("{}: message-id=<{}>", "4F3A9C2B1D7E", "a\x1b]0;owned\x07\x7f\xc2\x9b" "2J@x");
  get("smtpd")->info("from=<{}>", "\xff\xfe\x9b" "31m@example.org");
  get("qmgr")->info("from=<gr\xc3\xa5@gr\xc3\xa5.example>, text \\x41 stays");
  flush();
  std::string text = read_file(path);
  std::filesystem::remove(path);
  setup("", "info", "localhost");  // back to stderr for the other tests

  ASSERT_NE(text.find("herald/cleanup["), std::string::npos) << text;
  EXPECT_NE(text.find("message-id=<a\\x1b]0;owned\\x07\\x7f\\xc2\\x9b" "2J@x>"), std::string::npos) << text;
  EXPECT_NE(text.find("from=<\\xff\\xfe\\x9b" "31m@example.org>"), std::string::npos) << text;
  EXPECT_NE(text.find("from=<gr\xc3\xa5@gr\xc3\xa5.example>, text \\x41 stays"), std::string::npos) << text;
  EXPECT_TRUE(valid_utf8(text));
  for (unsigned char c : text) EXPECT_TRUE(c == '\n' || (c >= 0x20 && c != 0x7f)) << int(c);
}

}  // namespace
}  // namespace herald::log
