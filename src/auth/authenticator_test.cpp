#include "auth/authenticator.h"

#include <gtest/gtest.h>

#include "auth/password.h"
#include "sasl/scram.h"
#include "store/scratch_store.h"

namespace herald::auth {
namespace {

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(store_->directory().add_user("alice@example.test", {*hash_password("right"), ""}, 0)); }
  store::ScratchStore store_{"auth-test"};
};

TEST_F(AuthenticatorTest, UnknownUserAndWrongPasswordLookTheSame) {
  Authenticator a(store_->directory(), AuthLimits{});
  EXPECT_EQ(a.check_password("alice@example.test", "right", "192.0.2.1").verdict, Verdict::ok);
  EXPECT_EQ(a.check_password("alice@example.test", "wrong", "192.0.2.1").verdict, Verdict::bad_credentials);
  EXPECT_EQ(a.check_password("nobody@example.test", "right", "192.0.2.1").verdict, Verdict::bad_credentials);
}

TEST_F(AuthenticatorTest, LockoutPerAddressRefusesEvenTheRightPassword) {
  AuthLimits limits;
  limits.max_failures = 3;
  Authenticator a(store_->directory(), limits);
  for (int i = 0; i < 3; ++i) a.check_password("bob@example.test", "guess", "192.0.2.7");
  EXPECT_EQ(a.check_password("alice@example.test", "right", "192.0.2.7").verdict, Verdict::locked_out);
  // Another address is not affected.
  EXPECT_EQ(a.check_password("alice@example.test", "right", "192.0.2.8").verdict, Verdict::ok);
}

// The lockout tables are bounded (auth.max_tracked): an attacker with more
// addresses than that frees the oldest locks, and memory stays bounded.
TEST_F(AuthenticatorTest, LockoutTablesStayWithinMaxTracked) {
  AuthLimits limits;
  limits.max_failures = 1;
  limits.max_tracked = 4;
  Authenticator a(store_->directory(), limits);
  for (int i = 1; i <= 12; ++i) {
    std::string n = std::to_string(i);
    a.check_password("guess" + n + "@example.test", "guess", "192.0.2." + n);
  }
  EXPECT_EQ(a.check_password("alice@example.test", "right", "192.0.2.12").verdict, Verdict::locked_out)
      << "the newest lock stays";
  EXPECT_EQ(a.check_password("alice@example.test", "right", "192.0.2.1").verdict, Verdict::ok)
      << "the oldest lock was dropped to stay within max_tracked";
}

// auth.user_lockout = true: the old policy, a user under attack refused
// everywhere, which lets anyone lock any account.
TEST_F(AuthenticatorTest, UserLockoutOnRefusesTheUserEverywhere) {
  AuthLimits limits;
  limits.max_failures = 3;
  limits.user_lockout = true;
  Authenticator a(store_->directory(), limits);
  for (int i = 0; i < 3; ++i) a.check_password("alice@example.test", "guess", "192.0.2." + std::to_string(10 + i));
  EXPECT_EQ(a.check_password("alice@example.test", "right", "192.0.2.99").verdict, Verdict::locked_out);
}

// The default: guesses from one address (or many) cannot lock the owner
// out. The user is under attack: refused to the addresses that guessed,
// slowed by user_penalty for the others.
TEST_F(AuthenticatorTest, GuessesCannotLockTheOwnerOut) {
  AuthLimits limits;
  limits.max_failures = 3;
  limits.user_penalty = std::chrono::milliseconds(1234);
  Authenticator a(store_->directory(), limits);
  EXPECT_EQ(a.user_penalty("alice@example.test").count(), 0);
  for (int i = 0; i < 3; ++i) a.check_password("alice@example.test", "guess", "192.0.2.7");
  EXPECT_EQ(a.check_password("alice@example.test", "right", "192.0.2.7").verdict, Verdict::locked_out)
      << "the guessing address stays locked";
  EXPECT_EQ(a.user_penalty("ALICE@example.test").count(), 1234);
  EXPECT_EQ(a.check_password("alice@example.test", "right", "192.0.2.99").verdict, Verdict::ok)
      << "the right password from an address that has not failed";
  EXPECT_EQ(a.user_penalty("alice@example.test").count(), 1234) << "the owner's login does not end the attack";
  EXPECT_EQ(a.user_penalty("bob@example.test").count(), 0);
}

// Many addresses, each below its own limit: once the user is under attack
// each of them is refused for that user, even with the right password.
TEST_F(AuthenticatorTest, GuessesFromManyAddressesAreRefusedForTheUser) {
  AuthLimits limits;
  limits.max_failures = 3;
  Authenticator a(store_->directory(), limits);
  for (int i = 0; i < 3; ++i) a.check_password("alice@example.test", "guess", "192.0.2." + std::to_string(10 + i));
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(a.check_password("alice@example.test", "right", "192.0.2." + std::to_string(10 + i)).verdict,
              Verdict::locked_out)
        << i;
  EXPECT_EQ(a.check_password("alice@example.test", "right", "192.0.2.99").verdict, Verdict::ok);
  // An address that failed once, for another user, is refused too.
  a.check_password("nobody@example.test", "guess", "192.0.2.50");
  EXPECT_EQ(a.check_password("alice@example.test", "right", "192.0.2.50").verdict, Verdict::locked_out);
}

TEST_F(AuthenticatorTest, CacheRemembersOnlyTheVerifiedPasswordUntilItChanges) {
  AuthLimits limits;
  limits.cache_ttl = std::chrono::minutes(1);
  Authenticator a(store_->directory(), limits);
  EXPECT_EQ(a.check_password("alice@example.test", "right", "192.0.2.1").verdict, Verdict::ok);
  EXPECT_EQ(a.check_password("alice@example.test", "right", "192.0.2.1").verdict, Verdict::ok);  // cached
  EXPECT_EQ(a.check_password("alice@example.test", "Right", "192.0.2.1").verdict, Verdict::bad_credentials);
  // A new password (a new stored hash) must not let the old one in.
  ASSERT_TRUE(store_->directory().set_password("alice@example.test", {*hash_password("new"), ""}));
  EXPECT_EQ(a.check_password("alice@example.test", "right", "192.0.2.1").verdict, Verdict::bad_credentials);
  EXPECT_EQ(a.check_password("alice@example.test", "new", "192.0.2.1").verdict, Verdict::ok);
}

TEST_F(AuthenticatorTest, LockoutWinsOverTheCache) {
  AuthLimits limits;
  limits.max_failures = 2;
  Authenticator a(store_->directory(), limits);
  EXPECT_EQ(a.check_password("alice@example.test", "right", "192.0.2.1").verdict, Verdict::ok);
  for (int i = 0; i < 2; ++i) a.check_password("alice@example.test", "guess", "192.0.2.2");
  EXPECT_EQ(a.check_password("alice@example.test", "right", "192.0.2.2").verdict, Verdict::locked_out);
}

TEST_F(AuthenticatorTest, FailureDelayGrowsAndIsCapped) {
  AuthLimits limits;
  limits.failure_delay = std::chrono::milliseconds(100);
  limits.max_failure_delay = std::chrono::milliseconds(350);
  Authenticator a(store_->directory(), limits);
  EXPECT_EQ(a.failure_delay(0).count(), 0);
  EXPECT_EQ(a.failure_delay(1).count(), 100);
  EXPECT_EQ(a.failure_delay(2).count(), 200);
  EXPECT_EQ(a.failure_delay(3).count(), 350);
  EXPECT_EQ(a.failure_delay(30).count(), 350);
}

// BrokenDirectory - a Directory whose user lookups fail (a locked or
// unreadable database) while `broken`; everything else is the real one's.
class BrokenDirectory final : public store::Directory {
 public:
  explicit BrokenDirectory(store::Directory& real) : real_(real) {}
  bool broken = true;

  Result<std::optional<store::UserRecord>> find_user(const std::string& a) override {
    if (broken) return make_error(Errc::io, "database is locked");
    return real_.find_user(a);
  }
  Status add_domain(const std::string& n) override { return real_.add_domain(n); }
  Status del_domain(const std::string& n) override { return real_.del_domain(n); }
  Result<std::vector<store::DomainRecord>> list_domains(const store::ListQuery& q) override { return real_.list_domains(q); }
  Result<bool> is_local_domain(const std::string& n) override { return real_.is_local_domain(n); }
  Status add_user(const std::string& a, const store::Credentials& c, std::uint64_t q) override {
    return real_.add_user(a, c, q);
  }
  Status del_user(const std::string& a) override { return real_.del_user(a); }
  Status set_password(const std::string& a, const store::Credentials& c) override { return real_.set_password(a, c); }
  Status set_send_as_any(const std::string& a, bool on) override { return real_.set_send_as_any(a, on); }
  Result<std::vector<store::UserRecord>> list_users(const store::ListQuery& q) override { return real_.list_users(q); }
  Result<std::optional<std::string>> first_user() override { return real_.first_user(); }
  Status add_alias(const std::string& a, const std::vector<std::string>& t) override { return real_.add_alias(a, t); }
  Status del_alias(const std::string& a) override { return real_.del_alias(a); }
  Result<std::vector<std::string>> alias_targets(const std::string& a) override { return real_.alias_targets(a); }
  Result<std::vector<store::AliasRecord>> list_aliases(const store::ListQuery& q) override { return real_.list_aliases(q); }
  Result<store::AddressEntry> lookup_address(const std::string& a) override { return real_.lookup_address(a); }
  std::optional<store::AddressEntry> cached_address(const std::string& a) override { return real_.cached_address(a); }

 private:
  store::Directory& real_;
};

// A store that cannot be read is a temporary failure, never an unknown
// user: SCRAM would otherwise go on with a fake salt and answer 535.
TEST_F(AuthenticatorTest, StoreFailureIsNotAnUnknownUser) {
  ASSERT_TRUE(store_->directory().set_password("alice@example.test",
                                               {*hash_password("right"), sasl::encode_scram_credentials(
                                                   sasl::make_scram_credentials("right", "0123456789abcdef", 4096))}));
  BrokenDirectory directory(store_->directory());
  Authenticator a(directory, AuthLimits{});
  auto creds = a.scram_credentials("alice@example.test", "192.0.2.1");
  ASSERT_FALSE(creds.ok());
  EXPECT_EQ(creds.error().code, Errc::io);
  EXPECT_EQ(a.check_password("alice@example.test", "right", "192.0.2.1").verdict, Verdict::temp_fail);

  directory.broken = false;
  auto found = a.scram_credentials("alice@example.test", "192.0.2.1");
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->has_value());
  auto unknown = a.scram_credentials("nobody@example.test", "192.0.2.1");
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->has_value());
}

}  // namespace
}  // namespace herald::auth
