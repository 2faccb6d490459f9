#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <string>
#include <vector>

#include "base/base64.h"
#include "sasl/mechanism.h"
#include "sasl/scram.h"

namespace herald::sasl {
namespace {

using namespace std::literals;

std::string b64d(std::string_view s) {
  auto d = base64_decode(s);
  EXPECT_TRUE(d) << s;
  return d.value_or("");
}

std::string hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string sha(std::string_view data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

// attr - the value of "k=" in a SCRAM message.
std::string attr(std::string_view msg, char k) {
  for (std::size_t pos = 0; pos < msg.size();) {
    std::size_t end = msg.find(',', pos);
    if (end == std::string_view::npos) end = msg.size();
    if (end - pos >= 2 && msg[pos] == k && msg[pos + 1] == '=') return std::string(msg.substr(pos + 2, end - pos - 2));
    pos = end + 1;
  }
  return {};
}

// A SCRAM-SHA-256 client written from RFC 5802 3, independent of the server.
struct TestClient {
  std::string username = "user";
  std::string password = "pencil";
  std::string cnonce = "rOprNGfwEbeRWgbNEkqO";
  std::string gs2 = "n,,";
  std::string cb_data;  // appended to gs2 in c= (for "p=")
  std::string bare;
  std::string expected_verifier;

  std::string first() {
    std::string escaped;
    for (char c : username) escaped += c == ',' ? "=2C"s : c == '=' ? "=3D"s : std::string(1, c);
    bare = "n=" + escaped + ",r=" + cnonce;
    return gs2 + bare;
  }
  std::string final(std::string_view server_first) {
    std::string salt = b64d(attr(server_first, 's'));
    int iterations = std::stoi(attr(server_first, 'i'));
    unsigned char salted[32];
    PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                      reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()), iterations,
                      EVP_sha256(), 32, salted);
    std::string salted_password(reinterpret_cast<const char*>(salted), 32);
    std::string without_proof = "c=" + base64_encode(gs2 + cb_data) + ",r=" + attr(server_first, 'r');
    std::string auth = bare + "," + std::string(server_first) + "," + without_proof;
    std::string client_key = hmac(salted_password, "Client Key");
    std::string signature = hmac(sha(client_key), auth);
    std::string proof = client_key;
    for (std::size_t i = 0; i < proof.size(); ++i) proof[i] = static_cast<char>(proof[i] ^ signature[i]);
    expected_verifier = "v=" + base64_encode(hmac(hmac(salted_password, "Server Key"), auth));
    return without_proof + ",p=" + base64_encode(proof);
  }
};

const std::string kRfcSalt = "W22ZaJ0SNY7soEsUEjb6gQ==";
const std::string kRfcServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

const ScramCredentials& pencil() {
  static const ScramCredentials c = make_scram_credentials("pencil", b64d(kRfcSalt), 4096);
  return c;
}

ChannelBinding exporter() { return {"tls-exporter", std::string(32, '\x5a')}; }

// run_scram - a whole exchange with TestClient; the last step.
Step run_scram(ScramServer& server, TestClient& client, std::optional<ScramCredentials> creds = pencil()) {
  Step s = server.start(client.first());
  if (s.status != Status::need_credentials) return s;
  s = server.credentials(std::move(creds));
  if (s.status != Status::challenge) return s;
  return server.step(client.final(s.server_data));
}

// --- SCRAM-SHA-256 ---------------------------------------------------------

// RFC 7677 3, byte for byte.
TEST(Scram, Rfc7677Vector) {
  ScramServer server(false, {}, {}, kRfcServerNonce);
  EXPECT_EQ(server.name(), "SCRAM-SHA-256");
  Step s = server.start("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"sv);
  ASSERT_EQ(s.status, Status::need_credentials) << s.reason;
  EXPECT_EQ(server.authcid(), "user");
  EXPECT_EQ(server.authzid(), "");
  s = server.credentials(pencil());
  ASSERT_EQ(s.status, Status::challenge) << s.reason;
  EXPECT_EQ(s.server_data,
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  s = server.step(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
      "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  ASSERT_EQ(s.status, Status::success) << s.reason;
  EXPECT_EQ(s.server_data, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  // Done: nothing more is accepted.
  EXPECT_EQ(server.step("").status, Status::failure);
}

TEST(Scram, TestClientMatchesVectorAndEmptyChallengeFirst) {
  ScramServer server(false, {}, {}, kRfcServerNonce);
  Step s = server.start(std::nullopt);
  ASSERT_EQ(s.status, Status::challenge);
  EXPECT_EQ(s.server_data, "");
  TestClient client;
  s = server.step(client.first());
  ASSERT_EQ(s.status, Status::need_credentials);
  s = server.credentials(pencil());
  ASSERT_EQ(s.status, Status::challenge);
  std::string final = client.final(s.server_data);
  EXPECT_EQ(final, "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                   "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  s = server.step(final);
  ASSERT_EQ(s.status, Status::success) << s.reason;
  EXPECT_EQ(s.server_data, client.expected_verifier);
}

TEST(Scram, RandomServerNonceFromFactory) {
  auto m = make_mechanism("scram-sha-256", {});
  ASSERT_TRUE(m);
  EXPECT_EQ(m->name(), "SCRAM-SHA-256");
  TestClient client;
  ASSERT_EQ(m->start(client.first()).status, Status::need_credentials);
  Step s = m->credentials(pencil());
  ASSERT_EQ(s.status, Status::challenge);
  std::string nonce = attr(s.server_data, 'r');
  ASSERT_EQ(nonce.substr(0, client.cnonce.size()), client.cnonce);
  EXPECT_EQ(nonce.size(), client.cnonce.size() + 32);  // 24 random octets in base64
  s = m->step(client.final(s.server_data));
  EXPECT_EQ(s.status, Status::success) << s.reason;
  EXPECT_EQ(s.server_data, client.expected_verifier);
}

TEST(Scram, WrongPasswordFailsWithInvalidProof) {
  ScramServer server(false, {}, {}, kRfcServerNonce);
  TestClient client;
  client.password = "pencil2";
  Step s = run_scram(server, client);
  EXPECT_EQ(s.status, Status::failure);
  EXPECT_EQ(s.server_data, "e=invalid-proof");
  EXPECT_NE(s.reason.find("wrong password"), std::string::npos);
}

TEST(Scram, UnknownUserFailsOnlyAtTheEnd) {
  MechanismOptions options;
  options.fake_salt_secret = "server secret";
  auto server_first = [&](const std::string& name) {
    ScramServer server(false, {}, options, kRfcServerNonce);
    TestClient client;
    client.username = name;
    EXPECT_EQ(server.start(client.first()).status, Status::need_credentials);
    Step s = server.credentials(std::nullopt);
    EXPECT_EQ(s.status, Status::challenge);
    s.server_data += "|" + server.step(client.final(s.server_data)).server_data;
    return s.server_data;
  };
  std::string a1 = server_first("nobody"), a2 = server_first("nobody"), b = server_first("someone");
  EXPECT_EQ(a1, a2);  // the same fake salt every time, like a real user
  EXPECT_NE(attr(a1, 's'), attr(b, 's'));
  EXPECT_EQ(b64d(attr(a1, 's')).size(), 16u);
  EXPECT_EQ(attr(a1.substr(0, a1.find('|')), 'i'), "4096");
  EXPECT_NE(a1.find("|e=invalid-proof"), std::string::npos);  // the wrong-password answer

  ScramServer server(false, {}, {}, kRfcServerNonce);
  TestClient client;
  Step s = run_scram(server, client, std::nullopt);
  EXPECT_EQ(s.status, Status::failure);
  EXPECT_EQ(s.server_data, "e=invalid-proof");
  EXPECT_NE(s.reason.find("unknown user"), std::string::npos);
}

TEST(Scram, UnusableStoredCredentialsFailLikeUnknownUser) {
  ScramCredentials broken = pencil();
  broken.stored_key.pop_back();
  ScramServer server(false, {}, {}, kRfcServerNonce);
  TestClient client;
  Step s = run_scram(server, client, broken);
  EXPECT_EQ(s.status, Status::failure);
  EXPECT_EQ(s.server_data, "e=invalid-proof");
}

TEST(Scram, UsernameEscapesAndAuthzid) {
  ScramServer server(false, {}, {}, kRfcServerNonce);
  TestClient client;
  client.username = "a,b=c";
  client.gs2 = "n,a=boss=2Cin=3Dchief,";
  Step s = run_scram(server, client);
  EXPECT_EQ(s.status, Status::success) << s.reason;
  EXPECT_EQ(server.authcid(), "a,b=c");
  EXPECT_EQ(server.authzid(), "boss,in=chief");
}

TEST(Scram, MalformedClientFirst) {
  const std::vector<std::string> bad = {
      "",
      "n,,",
      "n",
      "n,",
      "x,,n=user,r=abc",
      "p,,n=user,r=abc",
      "n,,r=abc,n=user",           // wrong order
      "n,,n=user",                  // no nonce
      "n,,n=user,r=",               // empty nonce
      "n,,n=,r=abc",                // empty user
      "n,,n=us=2cer,r=abc",         // lowercase escape
      "n,,n=us=er,r=abc",           // bare "="
      "n,,n=us\ter,r=abc",          // control character
      "n,,n=\xff,r=abc",            // not UTF-8
      "n,,n=user,r=a\x7f",          // nonce not printable
      "n,,n=user,r=abc,",           // empty extension
      "n,,n=user,r=abc,1=x",        // extension name not ALPHA
      "n,b=x,n=user,r=abc",         // authzid without a=
      "n,a=,n=user,r=abc",          // empty authzid
      "n,,n=user,r=abc\0"s,
      "n,,n=" + std::string(256, 'u') + ",r=abc",
      "n,,n=user,r=" + std::string(kMaxResponse, 'r'),
      "F,n,,n=user,r=abc",          // GS2 non-standard flag
  };
  for (const auto& m : bad) {
    ScramServer server(false, {}, {}, kRfcServerNonce);
    Step s = server.start(std::string_view(m));
    EXPECT_EQ(s.status, Status::failure) << m;
    EXPECT_EQ(s.server_data.substr(0, 2), "e=") << m;
    EXPECT_EQ(server.step("x").status, Status::failure);
  }
  ScramServer server(false, {}, {}, kRfcServerNonce);
  EXPECT_EQ(server.start("n,,m=x,n=user,r=abc"sv).server_data, "e=extensions-not-supported");
  ScramServer ok(false, {}, {}, kRfcServerNonce);
  EXPECT_EQ(ok.start("n,,n=user,r=abc,x=ignored"sv).status, Status::need_credentials);
}

TEST(Scram, MalformedClientFinal) {
  auto final_for = [](auto edit) {
    ScramServer server(false, {}, {}, kRfcServerNonce);
    TestClient client;
    EXPECT_EQ(server.start(client.first()).status, Status::need_credentials);
    Step s = server.credentials(pencil());
    std::string final = client.final(s.server_data);
    edit(final);
    return server.step(final);
  };
  EXPECT_EQ(final_for([](std::string&) {}).status, Status::success);
  const std::string nonce = "rOprNGfwEbeRWgbNEkqO" + kRfcServerNonce;
  const std::vector<std::string> bad = {
      "",
      "c=biws,r=" + nonce,                                           // no proof
      "c=biws,r=" + nonce + ",p=",                                   // empty proof
      "c=biws,r=" + nonce + ",p=AAAA",                               // short proof
      "c=biws,r=" + nonce + ",p=" + std::string(43, 'A') + "=x",     // not base64
      "r=" + nonce + ",c=biws,p=" + base64_encode(std::string(32, 'x')),
      "c=biws,r=" + nonce + "x,p=" + base64_encode(std::string(32, 'x')),  // nonce mismatch
      "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=" + base64_encode(std::string(32, 'x')),
      "c=biws=,r=" + nonce + ",p=" + base64_encode(std::string(32, 'x')),
      "c=eSws,r=" + nonce + ",p=" + base64_encode(std::string(32, 'x')),  // "y,," is not our header
      "c=biws,r=" + nonce + ",,p=" + base64_encode(std::string(32, 'x')),
      "c=biws,r=" + nonce + ",p=" + base64_encode(std::string(32, 'x')) + ",x=after",
      "c=biws,r=" + nonce + ",p=" + std::string(kMaxResponse, 'A'),
  };
  for (const auto& m : bad) {
    Step s = final_for([&](std::string& f) { f = m; });
    EXPECT_EQ(s.status, Status::failure) << m;
    EXPECT_EQ(s.server_data.substr(0, 2), "e=") << m;
  }
  // One flipped bit anywhere in the proof fails.
  Step s = final_for([](std::string& f) { f[f.size() - 5] ^= 1; });
  EXPECT_EQ(s.status, Status::failure);
}

TEST(Scram, OutOfOrderCallsFail) {
  ScramServer a(false, {}, {}, kRfcServerNonce);
  EXPECT_EQ(a.step("n,,n=user,r=abc").status, Status::failure);
  ScramServer b(false, {}, {}, kRfcServerNonce);
  EXPECT_EQ(b.credentials(pencil()).status, Status::failure);
  ScramServer c(false, {}, {}, kRfcServerNonce);
  ASSERT_EQ(c.start("n,,n=user,r=abc"sv).status, Status::need_credentials);
  EXPECT_EQ(c.step("c=biws").status, Status::failure);  // credentials() skipped
  EXPECT_EQ(c.credentials(pencil()).status, Status::failure);
  ScramServer d(false, {}, {}, kRfcServerNonce);
  EXPECT_EQ(d.password_checked(true).status, Status::failure);
  EXPECT_EQ(d.start(std::nullopt).status, Status::challenge);
  EXPECT_EQ(d.start(std::nullopt).status, Status::failure);
}

// --- channel binding -------------------------------------------------------

TEST(ScramPlus, MatchingBindingSucceeds) {
  for (std::string type : {"tls-exporter", "tls-server-end-point", "tls-unique"}) {
    ChannelBinding cb{type, "binding data for " + type};
    auto m = make_mechanism("Scram-Sha-256-Plus", cb);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->name(), "SCRAM-SHA-256-PLUS");
    ScramServer server(true, cb, {}, kRfcServerNonce);
    TestClient client;
    client.gs2 = "p=" + type + ",,";
    client.cb_data = cb.data;
    Step s = run_scram(server, client);
    EXPECT_EQ(s.status, Status::success) << type << " " << s.reason;
    EXPECT_EQ(s.server_data, client.expected_verifier);
  }
}

TEST(ScramPlus, MismatchedBindingDataFails) {
  ScramServer server(true, exporter(), {}, kRfcServerNonce);
  TestClient client;
  client.gs2 = "p=tls-exporter,,";
  client.cb_data = std::string(32, '\x5b');  // the client sees another TLS channel: a MITM
  Step s = run_scram(server, client);
  EXPECT_EQ(s.status, Status::failure);
  EXPECT_EQ(s.server_data, "e=channel-bindings-dont-match");
}

TEST(ScramPlus, BindingDataOmittedFails) {
  ScramServer server(true, exporter(), {}, kRfcServerNonce);
  TestClient client;
  client.gs2 = "p=tls-exporter,,";
  Step s = run_scram(server, client);
  EXPECT_EQ(s.server_data, "e=channel-bindings-dont-match");
}

TEST(ScramPlus, OtherBindingTypeFails) {
  ScramServer server(true, exporter(), {}, kRfcServerNonce);
  TestClient client;
  client.gs2 = "p=tls-unique,,";
  Step s = server.start(client.first());
  EXPECT_EQ(s.status, Status::failure);
  EXPECT_EQ(s.server_data, "e=unsupported-channel-binding-type");
}

TEST(ScramPlus, PlusWithoutBindingFlagFails) {
  for (std::string gs2 : {"n,,", "y,,"}) {
    ScramServer server(true, exporter(), {}, kRfcServerNonce);
    TestClient client;
    client.gs2 = gs2;
    EXPECT_EQ(server.start(client.first()).status, Status::failure) << gs2;
  }
}

TEST(ScramPlus, DowngradeIsRefused) {
  // RFC 5802 6: "y" = the client could bind but did not see -PLUS offered.
  // When we do offer it, someone removed it on the way: fail.
  ScramServer server(false, exporter(), {}, kRfcServerNonce);
  TestClient client;
  client.gs2 = "y,,";
  Step s = server.start(client.first());
  EXPECT_EQ(s.status, Status::failure);
  EXPECT_EQ(s.server_data, "e=server-does-support-channel-binding");

  // Without binding data on our side, "y" is honest and fine (c=eSws).
  ScramServer plain(false, {}, {}, kRfcServerNonce);
  TestClient honest;
  honest.gs2 = "y,,";
  EXPECT_EQ(run_scram(plain, honest).status, Status::success);

  // "n" is fine either way; "p" needs -PLUS.
  ScramServer n(false, exporter(), {}, kRfcServerNonce);
  TestClient nclient;
  EXPECT_EQ(run_scram(n, nclient).status, Status::success);
  ScramServer p(false, exporter(), {}, kRfcServerNonce);
  TestClient pclient;
  pclient.gs2 = "p=tls-exporter,,";
  EXPECT_EQ(p.start(pclient.first()).server_data, "e=channel-binding-not-supported");
}

TEST(ScramPlus, OfferedOnlyWithBindingData) {
  EXPECT_EQ(mechanisms(false, {}), (std::vector<std::string>{"SCRAM-SHA-256"}));
  EXPECT_EQ(mechanisms(true, {}), (std::vector<std::string>{"SCRAM-SHA-256", "PLAIN", "LOGIN"}));
  EXPECT_EQ(mechanisms(true, exporter()),
            (std::vector<std::string>{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "PLAIN", "LOGIN"}));
  EXPECT_EQ(mechanisms(false, {"tls-exporter", ""}), (std::vector<std::string>{"SCRAM-SHA-256"}));
  EXPECT_EQ(mechanisms(false, {"tls-bogus", "x"}), (std::vector<std::string>{"SCRAM-SHA-256"}));
  EXPECT_FALSE(make_mechanism("SCRAM-SHA-256-PLUS", {}));
  EXPECT_FALSE(make_mechanism("SCRAM-SHA-1", exporter()));
  EXPECT_FALSE(make_mechanism("CRAM-MD5", {}));
  EXPECT_FALSE(make_mechanism("", {}));
}

// --- stored credentials ----------------------------------------------------

TEST(ScramCredentials, MakeEncodeDecodeRoundTrip) {
  const ScramCredentials& c = pencil();
  EXPECT_EQ(c.iterations, 4096u);
  EXPECT_EQ(c.stored_key.size(), 32u);
  EXPECT_EQ(c.server_key.size(), 32u);
  std::string text = encode_scram_credentials(c);
  EXPECT_EQ(text.rfind("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$", 0), 0u);
  auto back = decode_scram_credentials(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->salt, c.salt);
  EXPECT_EQ(back->iterations, c.iterations);
  EXPECT_EQ(back->stored_key, c.stored_key);
  EXPECT_EQ(back->server_key, c.server_key);
  EXPECT_EQ(encode_scram_credentials(*back), text);

  // Another salt or password gives other keys; too few iterations are raised.
  EXPECT_NE(make_scram_credentials("pencil", "other salt", 4096).stored_key, c.stored_key);
  EXPECT_NE(make_scram_credentials("pencil2", b64d(kRfcSalt), 4096).stored_key, c.stored_key);
  EXPECT_EQ(make_scram_credentials("pencil", "salt", 1).iterations, kMinIterations);
}

TEST(ScramCredentials, DecodeRejectsMalformed) {
  std::string good = encode_scram_credentials(pencil());
  std::size_t dollar = good.find('$', 14);
  std::string keys = good.substr(dollar);  // "$stored:server"
  const std::vector<std::string> bad = {
      "",
      "SCRAM-SHA-256$",
      "scram-sha-256" + good.substr(13),
      "SCRAM-SHA-1" + good.substr(13),
      "{SCRAM-SHA-256}" + good.substr(14),
      "SCRAM-SHA-256$0:W22ZaJ0SNY7soEsUEjb6gQ==" + keys,
      "SCRAM-SHA-256$-1:W22ZaJ0SNY7soEsUEjb6gQ==" + keys,
      "SCRAM-SHA-256$x:W22ZaJ0SNY7soEsUEjb6gQ==" + keys,
      "SCRAM-SHA-256$99999999999:W22ZaJ0SNY7soEsUEjb6gQ==" + keys,
      "SCRAM-SHA-256$4096:" + keys,                         // empty salt
      "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ=" + keys,  // bad base64
      "SCRAM-SHA-256$4096W22ZaJ0SNY7soEsUEjb6gQ==" + keys,
      good.substr(0, good.size() - 4),                      // short ServerKey
      good + "AAAA",                                        // long ServerKey
      good.substr(0, dollar) + "$AAAA" + good.substr(good.find(':', dollar)),
      good.substr(0, good.find(':', dollar)),               // no ServerKey
      good + " ",
  };
  for (const auto& t : bad) EXPECT_FALSE(decode_scram_credentials(t)) << t;
  // Fewer than 4096 iterations from an older store still decode.
  EXPECT_TRUE(decode_scram_credentials("SCRAM-SHA-256$1000:W22ZaJ0SNY7soEsUEjb6gQ==" + keys));
}

// --- PLAIN -----------------------------------------------------------------

TEST(Plain, InitialResponse) {
  auto m = make_mechanism("plain", {});
  ASSERT_TRUE(m);
  EXPECT_EQ(m->name(), "PLAIN");
  Step s = m->start("\0tim\0tanstaaftanstaaf"sv);  // RFC 4616 4
  ASSERT_EQ(s.status, Status::verify_password) << s.reason;
  EXPECT_EQ(m->authcid(), "tim");
  EXPECT_EQ(m->authzid(), "");
  EXPECT_EQ(m->password(), "tanstaaftanstaaf");
  s = m->password_checked(true);
  EXPECT_EQ(s.status, Status::success);
  EXPECT_EQ(s.server_data, "");
  EXPECT_EQ(m->password(), "");  // wiped
  EXPECT_EQ(m->step("x").status, Status::failure);
}

TEST(Plain, EmptyChallengeThenAuthzid) {
  auto m = make_mechanism("PLAIN", {});
  Step s = m->start(std::nullopt);
  ASSERT_EQ(s.status, Status::challenge);
  EXPECT_EQ(s.server_data, "");
  s = m->step("Ursel\0Kurt\0xipj3plmq"sv);
  ASSERT_EQ(s.status, Status::verify_password);
  EXPECT_EQ(m->authzid(), "Ursel");
  EXPECT_EQ(m->authcid(), "Kurt");
  EXPECT_EQ(m->password(), "xipj3plmq");
  s = m->password_checked(false);
  EXPECT_EQ(s.status, Status::failure);
  EXPECT_EQ(m->password(), "");
}

TEST(Plain, Utf8Accepted) {
  auto m = make_mechanism("PLAIN", {});
  EXPECT_EQ(m->start("\0j\xc3\xbcrgen\0p\xc3\xa4ss w\xe2\x82\xacrd"sv).status, Status::verify_password);
}

TEST(Plain, Malformed) {
  const std::vector<std::string> bad = {
      "",
      "user\0s3cr3t"s,
      "\0user\0s3cr3t\0"s,
      "a\0b\0c\0s3cr3t"s,
      "\0\0s3cr3t"s,
      "\0user\0"s,
      "\0\0"s,
      "\0us\rer\0s3cr3t"s,
      "\0user\0s3cr3t\n"s,
      "\0user\0s3cr3t\x7f"s,
      "az\r\0user\0s3cr3t"s,
      "\0us\xc3\0s3cr3t"s,              // truncated UTF-8
      "\0user\0s3cr3t\xc0\xaf"s,       // overlong
      "\0user\0s3cr3t\xed\xa0\x80"s,  // surrogate
      "\0user\0s3cr3t\xc2\x85"s,       // C1 control
      "\0" + std::string(256, 'u') + "\0s3cr3t"s,
      std::string(256, 'z') + "\0user\0s3cr3t"s,
      "\0user\0s3cr3t"s + std::string(kMaxPassword, 'p'),
      "\0user\0s3cr3t"s + std::string(kMaxResponse, 'p'),
  };
  for (const auto& m : bad) {
    auto mech = make_mechanism("PLAIN", {});
    Step s = mech->start(std::string_view(m));
    EXPECT_EQ(s.status, Status::failure) << m.size();
    EXPECT_EQ(s.reason.find("s3cr3t"), std::string::npos);  // no password in the log
    EXPECT_EQ(mech->password(), "");
    EXPECT_EQ(mech->password_checked(true).status, Status::failure);
  }
  auto m = make_mechanism("PLAIN", {});
  EXPECT_EQ(m->start("\0"s + std::string(255, 'u') + "\0"s + std::string(kMaxPassword, 'p')).status,
            Status::verify_password);
}

// --- LOGIN -----------------------------------------------------------------

TEST(Login, Challenges) {
  auto m = make_mechanism("login", {});
  ASSERT_TRUE(m);
  EXPECT_EQ(m->name(), "LOGIN");
  Step s = m->start(std::nullopt);
  ASSERT_EQ(s.status, Status::challenge);
  EXPECT_EQ(s.server_data, "Username:");
  s = m->step("tim");
  ASSERT_EQ(s.status, Status::challenge);
  EXPECT_EQ(s.server_data, "Password:");
  s = m->step("tanstaaf");
  ASSERT_EQ(s.status, Status::verify_password);
  EXPECT_EQ(m->authcid(), "tim");
  EXPECT_EQ(m->authzid(), "");
  EXPECT_EQ(m->password(), "tanstaaf");
  EXPECT_EQ(m->password_checked(true).status, Status::success);
  EXPECT_EQ(m->step("more").status, Status::failure);
}

TEST(Login, InitialResponseIsTheUsername) {
  auto m = make_mechanism("LOGIN", {});
  Step s = m->start("tim"sv);
  ASSERT_EQ(s.status, Status::challenge);
  EXPECT_EQ(s.server_data, "Password:");
  ASSERT_EQ(m->step("pw").status, Status::verify_password);
  EXPECT_EQ(m->password_checked(false).status, Status::failure);
}

TEST(Login, Malformed) {
  for (std::string user : {""s, "ti\0m"s, "ti\r\nm"s, std::string(256, 'u'), "\xff"s}) {
    auto m = make_mechanism("LOGIN", {});
    EXPECT_EQ(m->start(std::nullopt).status, Status::challenge);
    EXPECT_EQ(m->step(user).status, Status::failure) << user;
  }
  EXPECT_EQ(make_mechanism("LOGIN", {})->start(""sv).status, Status::failure);
  for (std::string pw : {""s, "p\0w"s, "p\nw"s, std::string(kMaxPassword + 1, 'p')}) {
    auto m = make_mechanism("LOGIN", {});
    EXPECT_EQ(m->start("tim"sv).status, Status::challenge);
    Step s = m->step(pw);
    EXPECT_EQ(s.status, Status::failure);
    EXPECT_EQ(m->password(), "");
  }
  auto m = make_mechanism("LOGIN", {});
  EXPECT_EQ(m->password_checked(true).status, Status::failure);
  EXPECT_EQ(m->credentials(std::nullopt).status, Status::failure);
}

TEST(Utf8, WellFormedOnly) {
  EXPECT_TRUE(valid_utf8_text(""));
  EXPECT_TRUE(valid_utf8_text("plain ascii ~"));
  EXPECT_TRUE(valid_utf8_text("\xc2\xa0\xdf\xbf\xe0\xa0\x80\xef\xbf\xbd\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"));
  for (const char* s : {"\x80", "\xc1\xbf", "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
                        "\xc3", "\xe2\x82", "a\tb", "\x1b", "\x7f", "\xc2\x9f"})
    EXPECT_FALSE(valid_utf8_text(s)) << s;
}

}  // namespace
}  // namespace herald::sasl
