#include "sasl/exchange.h"

#include <gtest/gtest.h>

#include <string>

#include "base/base64.h"
#include "sasl/scram.h"

namespace herald::sasl {
namespace {

using namespace std::literals;
using Kind = Exchange::Kind;

std::string b64(std::string_view s) { return base64_encode(s); }

TEST(Exchange, PlainInitialResponse) {
  auto x = Exchange::create("plain", {});
  ASSERT_TRUE(x);
  EXPECT_EQ(x->mechanism_name(), "PLAIN");
  auto o = x->start(b64("\0tim\0tanstaaf"sv));
  ASSERT_EQ(o.kind, Kind::check) << o.reason;
  EXPECT_TRUE(x->needs_password_check());
  EXPECT_EQ(x->authcid(), "tim");
  EXPECT_EQ(x->password(), "tanstaaf");
  o = x->password_checked(true);
  EXPECT_EQ(o.kind, Kind::success);
  EXPECT_EQ(x->identity(), "tim");
  EXPECT_EQ(x->password(), "");
}

TEST(Exchange, PlainAfterEmptyChallenge) {
  auto x = Exchange::create("PLAIN", {});
  auto o = x->start(std::nullopt);
  ASSERT_EQ(o.kind, Kind::challenge);
  EXPECT_EQ(o.data, "");  // "334 " / "+ "
  o = x->respond(b64("tim\0tim\0tanstaaf"sv));  // authzid = authcid is fine
  ASSERT_EQ(o.kind, Kind::check);
  EXPECT_EQ(x->password_checked(false).kind, Kind::failed);
}

TEST(Exchange, ProxyAuthorizationRefusedBeforeAnyCheck) {
  auto x = Exchange::create("PLAIN", {});
  auto o = x->start(b64("admin\0tim\0tanstaaf"sv));
  EXPECT_EQ(o.kind, Kind::failed);
  EXPECT_NE(o.reason.find("proxy"), std::string::npos);
  EXPECT_FALSE(x->needs_password_check());
  EXPECT_EQ(x->password_checked(true).kind, Kind::failed);
}

TEST(Exchange, EqualsIsAnEmptyInitialResponse) {
  auto x = Exchange::create("PLAIN", {});
  EXPECT_EQ(x->start("="sv).kind, Kind::malformed);  // an empty PLAIN message is malformed
  auto login = Exchange::create("LOGIN", {});
  EXPECT_EQ(login->start("="sv).kind, Kind::malformed);  // empty username
}

TEST(Exchange, MalformedAndCancelled) {
  for (std::string bad : {"dGlt!", "dGl", " dGlt", "dGlt ", "=="}) {
    auto x = Exchange::create("LOGIN", {});
    ASSERT_EQ(x->start(std::nullopt).kind, Kind::challenge);
    EXPECT_EQ(x->respond(bad).kind, Kind::malformed) << bad;
    EXPECT_EQ(x->respond(b64("tim")).kind, Kind::failed);  // over
  }
  auto x = Exchange::create("PLAIN", {});
  EXPECT_EQ(x->start("not base64"sv).kind, Kind::malformed);
  auto y = Exchange::create("LOGIN", {});
  ASSERT_EQ(y->start(std::nullopt).kind, Kind::challenge);
  EXPECT_EQ(y->respond("*").kind, Kind::cancelled);
  EXPECT_EQ(y->respond("*").kind, Kind::failed);
  auto z = Exchange::create("PLAIN", {});
  EXPECT_EQ(z->start(std::string((kMaxResponse + 2) / 3 * 4 + 4, 'A')).kind, Kind::malformed);
}

TEST(Exchange, LoginChallengesInBase64) {
  auto x = Exchange::create("LOGIN", {});
  auto o = x->start(std::nullopt);
  EXPECT_EQ(o.data, "VXNlcm5hbWU6");  // "Username:"
  o = x->respond(b64("tim"));
  EXPECT_EQ(o.data, "UGFzc3dvcmQ6");  // "Password:"
  o = x->respond(b64("tanstaaf"));
  ASSERT_EQ(o.kind, Kind::check);
  EXPECT_EQ(x->password_checked(true).kind, Kind::success);
  EXPECT_EQ(x->identity(), "tim");
}

// RFC 7677 3 over the wire: server-final goes out as a last challenge.
TEST(Exchange, ScramRfc7677WithFinalAck) {
  for (std::string ack : {"", "*", "eA=="}) {
    Exchange x(std::make_unique<ScramServer>(false, ChannelBinding{}, MechanismOptions{},
                                             "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"));
    EXPECT_EQ(x.mechanism_name(), "SCRAM-SHA-256");
    auto o = x.start(b64("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
    ASSERT_EQ(o.kind, Kind::check) << o.reason;
    EXPECT_FALSE(x.needs_password_check());
    EXPECT_EQ(x.authcid(), "user");
    o = x.credentials(make_scram_credentials("pencil", *base64_decode("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096));
    ASSERT_EQ(o.kind, Kind::challenge);
    EXPECT_EQ(*base64_decode(o.data),
              "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
    o = x.respond(b64("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                      "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));
    ASSERT_EQ(o.kind, Kind::challenge) << o.reason;
    EXPECT_EQ(*base64_decode(o.data), "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    o = x.respond(ack);
    if (ack.empty()) {
      EXPECT_EQ(o.kind, Kind::success);
      EXPECT_EQ(x.identity(), "user");
    } else if (ack == "*") {
      EXPECT_EQ(o.kind, Kind::cancelled);  // the client did not trust our signature
    } else {
      EXPECT_EQ(o.kind, Kind::failed);
    }
  }
}

TEST(Exchange, ScramUnknownUserAndErrorsStayGeneric) {
  auto x = Exchange::create("SCRAM-SHA-256", {});
  ASSERT_EQ(x->start(b64("n,,n=ghost,r=abc")).kind, Kind::check);
  auto o = x->credentials(std::nullopt);
  ASSERT_EQ(o.kind, Kind::challenge);
  std::string nonce = base64_decode(o.data)->substr(2, base64_decode(o.data)->find(',') - 2);
  o = x->respond(b64("c=biws,r=" + nonce + ",p=" + b64(std::string(32, 'x'))));
  EXPECT_EQ(o.kind, Kind::failed);
  EXPECT_EQ(o.data, "");  // no "e=" for SMTP or POP3
  EXPECT_NE(o.reason.find("unknown user"), std::string::npos);

  auto y = Exchange::create("SCRAM-SHA-256", {});
  EXPECT_EQ(y->start(b64("n,a=admin,n=user,r=abc")).kind, Kind::failed);  // proxy authorization
  EXPECT_FALSE(Exchange::create("SCRAM-SHA-256-PLUS", {}));
  EXPECT_TRUE(Exchange::create("SCRAM-SHA-256-PLUS", {"tls-exporter", std::string(32, 'k')}));
  EXPECT_FALSE(Exchange::create("NTLM", {}));
}

TEST(Exchange, OutOfOrder) {
  auto x = Exchange::create("PLAIN", {});
  EXPECT_EQ(x->respond(b64("\0a\0b"sv)).kind, Kind::failed);
  auto y = Exchange::create("PLAIN", {});
  EXPECT_EQ(y->credentials(std::nullopt).kind, Kind::failed);
  auto z = Exchange::create("SCRAM-SHA-256", {});
  ASSERT_EQ(z->start(b64("n,,n=user,r=abc")).kind, Kind::check);
  EXPECT_EQ(z->password_checked(true).kind, Kind::failed);  // SCRAM wants credentials()
}

// A store that cannot be read is not an unknown user: the exchange ends
// with temp_failed (SMTP 454 4.7.0, POP3 [SYS/TEMP]), and nothing more.
TEST(Exchange, TemporaryFailureInsteadOfTheCheck) {
  auto plain = Exchange::create("PLAIN", {});
  ASSERT_EQ(plain->start(b64("\0tim\0tanstaaf"sv)).kind, Kind::check);
  auto o = plain->temp_failure("store: disk I/O error");
  EXPECT_EQ(o.kind, Kind::temp_failed);
  EXPECT_EQ(o.reason, "store: disk I/O error");
  EXPECT_EQ(plain->password(), "") << "the password is wiped at once";
  EXPECT_EQ(plain->password_checked(true).kind, Kind::failed) << "over: no late success";

  auto scram = Exchange::create("SCRAM-SHA-256", {});
  ASSERT_EQ(scram->start(b64("n,,n=user,r=abc")).kind, Kind::check);
  EXPECT_EQ(scram->temp_failure("store down").kind, Kind::temp_failed);
  EXPECT_EQ(scram->respond(b64("c=biws,r=abc,p=xxxx")).kind, Kind::failed);

  auto early = Exchange::create("LOGIN", {});
  ASSERT_EQ(early->start(std::nullopt).kind, Kind::challenge);
  EXPECT_EQ(early->temp_failure("no check was asked for").kind, Kind::failed) << "out of order";
}

}  // namespace
}  // namespace herald::sasl
