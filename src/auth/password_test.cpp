#include "auth/password.h"

#include <crypt.h>
#include <gtest/gtest.h>

namespace herald::auth {

TEST(Password, Argon2idRoundTrip) {
  auto h = hash_password("correct horse");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->rfind("$argon2id$", 0), 0u);
  EXPECT_TRUE(verify_password("correct horse", *h));
  EXPECT_FALSE(verify_password("correct horsE", *h));
  EXPECT_NE(*hash_password("correct horse"), *h);  // salted
}

TEST(Password, ImportedSha512CryptAndBcrypt) {
  // Hashes made by libxcrypt, as /etc/shadow and Dovecot would hold them.
  char setting6[] = "$6$saltsaltsalt$";
  std::string sha512 = crypt("s3cret", setting6);
  ASSERT_EQ(sha512.rfind("$6$", 0), 0u);
  EXPECT_TRUE(verify_password("s3cret", sha512));
  EXPECT_FALSE(verify_password("s3cre", sha512));

  std::string bcrypt = crypt("s3cret", "$2y$05$abcdefghijklmnopqrstuu");
  ASSERT_EQ(bcrypt.rfind("$2y$", 0), 0u) << bcrypt;
  EXPECT_TRUE(verify_password("s3cret", bcrypt));
  EXPECT_FALSE(verify_password("wrong", bcrypt));
}

TEST(Password, UnknownSchemesNeverVerify) {
  EXPECT_FALSE(verify_password("x", "x"));
  EXPECT_FALSE(verify_password("", ""));
  EXPECT_FALSE(verify_password("pw", "{PLAIN}pw"));
  EXPECT_FALSE(verify_password("pw", "$1$md5isweak$"));
  EXPECT_FALSE(looks_like_hash("plain"));
  EXPECT_TRUE(looks_like_hash("$6$abc$def"));
}

}  // namespace herald::auth
