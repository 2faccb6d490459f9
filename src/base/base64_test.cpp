#include "base/base64.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace herald {
namespace {

// RFC 4648 10.
const std::vector<std::pair<std::string, std::string>> kVectors = {
    {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},       {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

TEST(Base64, Rfc4648Vectors) {
  for (const auto& [plain, encoded] : kVectors) {
    EXPECT_EQ(base64_encode(plain), encoded);
    auto decoded = base64_decode(encoded);
    ASSERT_TRUE(decoded) << encoded;
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(Base64, RoundTripsEveryByteAndLength) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t len = 0; len <= all.size(); ++len) {
    std::string data = all.substr(all.size() - len);
    std::string text = base64_encode(data);
    EXPECT_EQ(text.size(), (len + 2) / 3 * 4);
    EXPECT_EQ(base64_decode(text), data) << len;
  }
}

TEST(Base64, RejectsMalformed) {
  const char* bad[] = {
      "Z", "Zg", "Zg=", "Zm9", "Zm9vY", "Zm9vYg", "Zm9vYg=", "Zm9vYmFyZ",  // length not 4n
      "====", "Z===", "=Zg=", "Zg=a", "Z=g=", "Zg==Zg==", "Zm8=Zm9v",       // misplaced "="
      "Zh==", "Zm9=", "Zg==\n", " Zg==", "Zm 9v", "Zm9v\r\n", "Zm\t9v",      // pad bits, blanks
      "Zm9-", "Zm9_", "Zm9.", "Zm9\x80", "Zm9\xff", "Zm9*",                 // not the alphabet
  };
  for (const char* s : bad) EXPECT_FALSE(base64_decode(s)) << s;
  EXPECT_FALSE(base64_decode(std::string("Zm9\0", 4)));
}

TEST(Base64, RejectsMalformedOfManyLengths) {
  for (std::size_t len = 1; len < 64; ++len) {
    std::string text(len, 'A');
    if (len % 4 != 0) EXPECT_FALSE(base64_decode(text)) << len;
    else EXPECT_EQ(base64_decode(text), std::string(len / 4 * 3, '\0'));
    // "=" anywhere but the last one or two places of the text is an error.
    for (std::size_t pos = 0; pos + 2 < len; ++pos) {
      std::string t = text;
      t[pos] = '=';
      EXPECT_FALSE(base64_decode(t)) << t;
    }
  }
}

// Every single-byte change of a valid text is either rejected or decodes to
// different data whose own encoding is the changed text (one text, one meaning).
TEST(Base64, EverySingleByteCorruption) {
  for (const auto& data : {std::string("f"), std::string("fo"), std::string("foo"), std::string("foobar!"),
                           std::string("\x00\xff\x10\x80", 4)}) {
    const std::string text = base64_encode(data);
    for (std::size_t pos = 0; pos < text.size(); ++pos) {
      for (int c = 0; c < 256; ++c) {
        if (static_cast<char>(c) == text[pos]) continue;
        std::string t = text;
        t[pos] = static_cast<char>(c);
        auto decoded = base64_decode(t);
        if (!decoded) continue;
        EXPECT_NE(*decoded, data) << t;
        EXPECT_EQ(base64_encode(*decoded), t) << pos << " " << c;
      }
    }
  }
}

}  // namespace
}  // namespace herald
