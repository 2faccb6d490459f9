#include "net/tls.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

namespace herald::net {
namespace {

namespace fs = std::filesystem;

struct Free {
  void operator()(SSL* p) const { SSL_free(p); }
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(BIO* p) const { BIO_free_all(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// write_pem - PEM of cert or key into path, through a temp file and rename
// (as certbot and most deploy scripts do).
void write_pem(const fs::path& path, X509* cert, EVP_PKEY* key) {
  const fs::path tmp = path.string() + ".new";
  Owned<BIO> bio(BIO_new_file(tmp.c_str(), "w"));
  ASSERT_TRUE(bio);
  if (cert) {
    ASSERT_EQ(PEM_write_bio_X509(bio.get(), cert), 1);
  }
  if (key) {
    ASSERT_EQ(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  }
  bio.reset();
  fs::rename(tmp, path);
}

// make_cert - a self-signed P-256 pair at dir/stem.{crt,key} with that CN and
// those SAN DNS names (none: no SAN extension at all).
CertKeyPair make_cert(const fs::path& dir, const std::string& stem, const std::string& cn,
                      const std::vector<std::string>& sans) {
  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  Owned<X509> cert(X509_new());
  EXPECT_TRUE(key && cert);
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), 30, 0, nullptr);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  if (!sans.empty()) {
    std::string value;
    for (const auto& s : sans) value += (value.empty() ? "DNS:" : ",DNS:") + s;
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, &v3, NID_subject_alt_name, value.c_str());
    EXPECT_NE(ext, nullptr);
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  EXPECT_GT(X509_sign(cert.get(), key.get(), EVP_sha256()), 0);
  CertKeyPair pair{(dir / (stem + ".crt")).string(), (dir / (stem + ".key")).string()};
  write_pem(pair.cert, cert.get(), nullptr);
  write_pem(pair.key, nullptr, key.get());
  return pair;
}

// client_ctx - a test client that trusts anything, up to max_version.
Owned<SSL_CTX> client_ctx(int max_version = 0) {
  Owned<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()));
  if (max_version) SSL_CTX_set_max_proto_version(ctx.get(), max_version);
  return ctx;
}

// Handshake - two SSLs joined by a BIO pair, entirely in memory.
struct Handshake {
  Owned<SSL> client;
  Owned<SSL> server;
  bool ok = false;

  Handshake(SSL_CTX* server_ctx, SSL_CTX* client_ctx) : client(SSL_new(client_ctx)), server(SSL_new(server_ctx)) {
    BIO* c = nullptr;
    BIO* s = nullptr;
    BIO_new_bio_pair(&c, 0, &s, 0);
    SSL_set_bio(client.get(), c, c);
    SSL_set_bio(server.get(), s, s);
    SSL_set_connect_state(client.get());
    SSL_set_accept_state(server.get());
  }

  // run - both sides until done or one fails.
  bool run() {
    auto step = [](SSL* ssl) {
      int rc = SSL_do_handshake(ssl);
      if (rc == 1) return 1;
      int e = SSL_get_error(ssl, rc);
      return (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? 0 : -1;
    };
    for (int i = 0; i < 50; ++i) {
      int c = step(client.get());
      int s = step(server.get());
      if (c < 0 || s < 0) break;
      if (c == 1 && s == 1) return ok = true;
    }
    ERR_clear_error();
    return ok = false;
  }

  // peer_cn - the CN of the certificate the client received.
  std::string peer_cn() const {
    X509* cert = SSL_get0_peer_certificate(client.get());
    if (!cert) return "";
    char buf[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
    return buf;
  }
};

// served_cn - which certificate a client asking for sni (none if empty) gets.
std::string served_cn(TlsServer& server, const std::string& sni, SSL_CTX* client = nullptr) {
  auto own = client_ctx();
  Handshake h(server.context().native_handle(), client ? client : own.get());
  if (!sni.empty()) SSL_set_tlsext_host_name(h.client.get(), sni.c_str());
  if (!h.run()) return "(handshake failed)";
  return h.peer_cn();
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "herald-tls-XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<TlsServer> create(const TlsOptions& options) {
    auto server = TlsServer::create(options);
    EXPECT_TRUE(server.ok()) << server.error().message;
    return server.ok() ? std::move(*server) : nullptr;
  }

  fs::path dir_;
};

TEST_F(TlsTest, SelfSignedIsCreatedThenReused) {
  TlsOptions options;
  options.self_signed_dir = dir_ / "tls";
  options.hostname = "mx.example.test";
  auto server = create(options);
  ASSERT_TRUE(server);

  const fs::path cert = dir_ / "tls" / "self-signed.crt";
  const fs::path key = dir_ / "tls" / "self-signed.key";
  ASSERT_TRUE(fs::exists(cert));
  ASSERT_TRUE(fs::exists(key));
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(fs::exists(dir_ / "tls" / "self-signed.key.tmp"));

  auto lines = server->describe();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("CN=mx.example.test, expires 20", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(", SAN mx.example.test"), std::string::npos) << lines[0];
  EXPECT_EQ(served_cn(*server, ""), "mx.example.test");

  const std::string pem = slurp(cert);
  const std::string key_pem = slurp(key);
  auto again = create(options);
  ASSERT_TRUE(again);
  EXPECT_EQ(slurp(cert), pem);
  EXPECT_EQ(slurp(key), key_pem);
  EXPECT_FALSE(again->changed());
}

TEST_F(TlsTest, SelfSignedWithoutCertificateIsRegenerated) {
  TlsOptions options;
  options.self_signed_dir = dir_;
  options.hostname = "mx.example.test";
  ASSERT_TRUE(create(options));
  const std::string key_pem = slurp(dir_ / "self-signed.key");
  fs::remove(dir_ / "self-signed.crt");  // as a crash between the two renames leaves it
  auto server = create(options);
  ASSERT_TRUE(server);
  EXPECT_NE(slurp(dir_ / "self-signed.key"), key_pem);
  EXPECT_EQ(served_cn(*server, ""), "mx.example.test");
}

TEST_F(TlsTest, SelfSignedNeedsAHostname) {
  TlsOptions options;
  options.self_signed_dir = dir_;
  for (std::string bad : {"", "a b", "x,DNS:evil.test"}) {
    options.hostname = bad;
    auto server = TlsServer::create(options);
    ASSERT_FALSE(server.ok()) << bad;
    EXPECT_EQ(server.error().code, Errc::invalid);
  }
  EXPECT_FALSE(TlsServer::create(TlsOptions{}).ok());  // neither certificates nor a directory
}

TEST_F(TlsTest, LoadsExplicitPair) {
  TlsOptions options;
  options.certificates = {make_cert(dir_, "a", "a.example.test", {"a.example.test", "smtp.example.test"})};
  auto server = create(options);
  ASSERT_TRUE(server);
  auto lines = server->describe();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("CN=a.example.test, expires ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(", SAN a.example.test smtp.example.test"), std::string::npos) << lines[0];
  EXPECT_EQ(served_cn(*server, ""), "a.example.test");
  EXPECT_FALSE(server->changed());
}

TEST_F(TlsTest, ErrorsNameTheFile) {
  auto a = make_cert(dir_, "a", "a.example.test", {"a.example.test"});
  auto b = make_cert(dir_, "b", "b.example.test", {"b.example.test"});

  TlsOptions options;
  options.certificates = {{a.cert, b.key}};
  auto mismatched = TlsServer::create(options);
  ASSERT_FALSE(mismatched.ok());
  EXPECT_EQ(mismatched.error().code, Errc::invalid);
  EXPECT_NE(mismatched.error().message.find(b.key), std::string::npos) << mismatched.error().message;
  EXPECT_NE(mismatched.error().message.find("mismatch"), std::string::npos) << mismatched.error().message;

  options.certificates = {{(dir_ / "missing.crt").string(), a.key}};
  auto missing = TlsServer::create(options);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
  EXPECT_NE(missing.error().message.find("missing.crt"), std::string::npos) << missing.error().message;

  std::ofstream(dir_ / "garbage.crt") << "not a certificate\n";
  options.certificates = {{(dir_ / "garbage.crt").string(), a.key}};
  auto garbage = TlsServer::create(options);
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().message.find("garbage.crt"), std::string::npos) << garbage.error().message;

  options.certificates = {a, {b.cert, a.key}};  // a later pair is checked too
  auto second = TlsServer::create(options);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find(a.key), std::string::npos) << second.error().message;
}

TEST_F(TlsTest, RejectsBadProtocolOptions) {
  TlsOptions options;
  options.certificates = {make_cert(dir_, "a", "a.example.test", {"a.example.test"})};
  options.min_version = "1.1";
  EXPECT_EQ(TlsServer::create(options).error().code, Errc::invalid);
  options.min_version = "1.2";
  options.ciphers = "NO-SUCH-CIPHER";
  EXPECT_EQ(TlsServer::create(options).error().code, Errc::invalid);
  options.ciphers = "";
  options.ciphersuites = "TLS_NO_SUCH_SUITE";
  EXPECT_EQ(TlsServer::create(options).error().code, Errc::invalid);
}

TEST_F(TlsTest, SniSelectsTheCertificate) {
  TlsOptions options;
  options.certificates = {
      make_cert(dir_, "a", "a.example.test", {"a.example.test"}),
      make_cert(dir_, "b", "b.example.test", {"b.example.test", "mail.b.example.test"}),
      make_cert(dir_, "w", "wild", {"*.w.example.test"}),
      make_cert(dir_, "d", "d.example.test", {}),  // CN only
      make_cert(dir_, "e", "e.example.test", {"other.example.test"}),  // CN ignored: there is a SAN
  };
  auto server = create(options);
  ASSERT_TRUE(server);
  EXPECT_EQ(server->describe().size(), 5u);

  EXPECT_EQ(served_cn(*server, ""), "a.example.test");
  EXPECT_EQ(served_cn(*server, "b.example.test"), "b.example.test");
  EXPECT_EQ(served_cn(*server, "B.Example.TEST"), "b.example.test");
  EXPECT_EQ(served_cn(*server, "mail.b.example.test"), "b.example.test");
  EXPECT_EQ(served_cn(*server, "x.w.example.test"), "wild");
  EXPECT_EQ(served_cn(*server, "y.x.w.example.test"), "a.example.test");  // a wildcard covers one label
  EXPECT_EQ(served_cn(*server, "w.example.test"), "a.example.test");
  EXPECT_EQ(served_cn(*server, "d.example.test"), "d.example.test");
  EXPECT_EQ(served_cn(*server, "e.example.test"), "a.example.test");
  EXPECT_EQ(served_cn(*server, "other.example.test"), "e.example.test");
  EXPECT_EQ(served_cn(*server, "unknown.example.test"), "a.example.test");

  // TLS 1.2 takes the same path.
  auto tls12 = client_ctx(TLS1_2_VERSION);
  EXPECT_EQ(served_cn(*server, "b.example.test", tls12.get()), "b.example.test");
}

TEST_F(TlsTest, MinVersion13RefusesTls12Client) {
  TlsOptions options;
  options.certificates = {make_cert(dir_, "a", "a.example.test", {"a.example.test"})};
  options.min_version = "1.3";
  auto server = create(options);
  ASSERT_TRUE(server);

  auto tls12 = client_ctx(TLS1_2_VERSION);
  Handshake refused(server->context().native_handle(), tls12.get());
  EXPECT_FALSE(refused.run());

  auto any = client_ctx();
  Handshake accepted(server->context().native_handle(), any.get());
  ASSERT_TRUE(accepted.run());
  EXPECT_EQ(connection_info(accepted.server.get()).version, "TLSv1.3");
}

TEST_F(TlsTest, Tls13ChannelBindingIsTlsExporter) {
  TlsOptions options;
  options.certificates = {make_cert(dir_, "a", "a.example.test", {"a.example.test"})};
  auto server = create(options);
  ASSERT_TRUE(server);
  auto client = client_ctx();
  Handshake h(server->context().native_handle(), client.get());

  EXPECT_EQ(channel_binding(h.server.get()).type, "");  // not before the handshake
  ASSERT_TRUE(h.run());

  auto info = connection_info(h.server.get());
  EXPECT_EQ(info.version, "TLSv1.3");
  EXPECT_EQ(info.cipher.rfind("TLS_", 0), 0u) << info.cipher;
  EXPECT_TRUE(info.bits == 128 || info.bits == 256) << info.bits;

  auto ours = channel_binding(h.server.get());
  auto theirs = channel_binding(h.client.get());
  EXPECT_EQ(ours.type, "tls-exporter");
  EXPECT_EQ(ours.data.size(), 32u);
  EXPECT_EQ(ours.type, theirs.type);
  EXPECT_EQ(ours.data, theirs.data);

  // Another connection, other keys.
  Handshake h2(server->context().native_handle(), client.get());
  ASSERT_TRUE(h2.run());
  EXPECT_NE(channel_binding(h2.server.get()).data, ours.data);
}

TEST_F(TlsTest, Tls12ChannelBindingIsTlsUnique) {
  TlsOptions options;
  options.certificates = {make_cert(dir_, "a", "a.example.test", {"a.example.test"})};
  auto server = create(options);
  ASSERT_TRUE(server);
  auto client = client_ctx(TLS1_2_VERSION);
  Handshake h(server->context().native_handle(), client.get());
  ASSERT_TRUE(h.run());

  auto info = connection_info(h.server.get());
  EXPECT_EQ(info.version, "TLSv1.2");
  EXPECT_EQ(info.cipher.rfind("ECDHE-", 0), 0u) << info.cipher;
  EXPECT_NE(info.cipher.find("GCM"), std::string::npos) << info.cipher;

  auto ours = channel_binding(h.server.get());
  auto theirs = channel_binding(h.client.get());
  EXPECT_EQ(ours.type, "tls-unique");
  EXPECT_EQ(ours.data.size(), 12u);
  EXPECT_EQ(ours.type, theirs.type);
  EXPECT_EQ(ours.data, theirs.data);
}

// resume - a first full handshake, then a second one offering its session.
bool resume(TlsServer& server, SSL_CTX* client, const char* sni, Handshake& second) {
  Handshake first(server.context().native_handle(), client);
  SSL_set_tlsext_host_name(first.client.get(), sni);
  if (!first.run()) return false;
  // TLS 1.3 tickets arrive after the handshake: let the client read them.
  char byte;
  SSL_read(first.client.get(), &byte, 1);
  ERR_clear_error();
  SSL_SESSION* session = SSL_get1_session(first.client.get());
  if (!session) return false;
  SSL_set_session(second.client.get(), session);
  SSL_SESSION_free(session);
  SSL_set_tlsext_host_name(second.client.get(), sni);
  return second.run();
}

TEST_F(TlsTest, SessionsResumeAcrossCertificates) {
  TlsOptions options;
  options.certificates = {make_cert(dir_, "a", "a.example.test", {"a.example.test"}),
                          make_cert(dir_, "b", "b.example.test", {"b.example.test"})};
  auto server = create(options);
  ASSERT_TRUE(server);
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    auto client = client_ctx(version);
    Handshake second(server->context().native_handle(), client.get());
    ASSERT_TRUE(resume(*server, client.get(), "b.example.test", second)) << version;
    EXPECT_EQ(SSL_session_reused(second.server.get()), 1) << version;
    EXPECT_EQ(SSL_session_reused(second.client.get()), 1) << version;
    // RFC 5929 3.1: in a resumed handshake tls-unique is the server's Finished.
    auto ours = channel_binding(second.server.get());
    auto theirs = channel_binding(second.client.get());
    EXPECT_FALSE(ours.data.empty()) << version;
    EXPECT_EQ(ours.type, theirs.type);
    EXPECT_EQ(ours.data, theirs.data);
  }
}

TEST_F(TlsTest, Tls12WithoutCbcOrStaticRsa) {
  TlsOptions options;
  options.certificates = {make_cert(dir_, "a", "a.example.test", {"a.example.test"})};
  auto server = create(options);
  ASSERT_TRUE(server);
  auto client = client_ctx(TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(client.get(), "ECDHE-ECDSA-AES128-SHA:AES128-SHA");
  Handshake h(server->context().native_handle(), client.get());
  EXPECT_FALSE(h.run());
}

TEST_F(TlsTest, ReloadPicksUpNewCertificates) {
  TlsOptions options;
  options.certificates = {make_cert(dir_, "mx", "one.example.test", {"one.example.test"})};
  auto server = create(options);
  ASSERT_TRUE(server);
  EXPECT_FALSE(server->changed());
  EXPECT_EQ(served_cn(*server, ""), "one.example.test");

  // A connection accepted before the reload but handshaking after it.
  auto client = client_ctx();
  Handshake early(server->context().native_handle(), client.get());

  make_cert(dir_, "mx", "two.example.test", {"two.example.test"});
  EXPECT_TRUE(server->changed());
  ASSERT_TRUE(server->reload().ok());
  EXPECT_FALSE(server->changed());
  EXPECT_EQ(server->describe()[0].rfind("CN=two.example.test", 0), 0u) << server->describe()[0];
  EXPECT_EQ(served_cn(*server, ""), "two.example.test");
  ASSERT_TRUE(early.run());
  EXPECT_EQ(early.peer_cn(), "two.example.test");

  // A broken replacement: the error names the file, the old pair stays.
  auto other = make_cert(dir_, "other", "other.example.test", {"other.example.test"});
  fs::rename(other.key, options.certificates[0].key);
  EXPECT_TRUE(server->changed());
  auto failed = server->reload();
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find(options.certificates[0].key), std::string::npos) << failed.error().message;
  EXPECT_EQ(server->describe()[0].rfind("CN=two.example.test", 0), 0u);
  EXPECT_EQ(served_cn(*server, ""), "two.example.test");
  EXPECT_TRUE(server->changed());  // still differs from what is loaded
}

TEST_F(TlsTest, SelfSignedReloadKeepsThePair) {
  TlsOptions options;
  options.self_signed_dir = dir_;
  options.hostname = "mx.example.test";
  auto server = create(options);
  ASSERT_TRUE(server);
  const std::string pem = slurp(dir_ / "self-signed.crt");
  ASSERT_TRUE(server->reload().ok());
  EXPECT_EQ(slurp(dir_ / "self-signed.crt"), pem);
  EXPECT_FALSE(server->changed());
}

TEST_F(TlsTest, HandshakesOnManyThreadsWhileReloading) {
  TlsOptions options;
  options.certificates = {make_cert(dir_, "a", "a.example.test", {"a.example.test"}),
                          make_cert(dir_, "b", "b.example.test", {"b.example.test"})};
  auto server = create(options);
  ASSERT_TRUE(server);

  std::atomic<int> failures{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      auto client = client_ctx(t == 0 ? TLS1_2_VERSION : 0);
      for (int i = 0; i < 30; ++i) {
        const std::string sni = (i % 2) ? "b.example.test" : "a.example.test";
        if (served_cn(*server, sni, client.get()) != sni) ++failures;
      }
    });
  }
  std::thread reloader([&] {
    while (!done) {
      if (!server->reload().ok()) ++failures;
      (void)server->describe();
      (void)server->changed();
    }
  });
  for (auto& t : threads) t.join();
  done = true;
  reloader.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(TlsTest, ClientContextVerifiesOnlyWhenAsked) {
  TlsOptions options;
  auto a = make_cert(dir_, "a", "a.example.test", {"a.example.test"});
  options.certificates = {a};
  auto server = create(options);
  ASSERT_TRUE(server);
  auto client = make_client_context();
  ASSERT_TRUE(client.ok()) << client.error().message;
  SSL_CTX* cctx = (*client)->native_handle();

  // Opportunistic by default: a self-signed certificate is accepted.
  Handshake opportunistic(server->context().native_handle(), cctx);
  EXPECT_TRUE(opportunistic.run());

  Handshake untrusted(server->context().native_handle(), cctx);
  require_verified_peer(untrusted.client.get(), "a.example.test");
  EXPECT_FALSE(untrusted.run());

  // Trust the test certificate, as if it came from a public CA.
  Owned<BIO> bio(BIO_new_file(a.cert.c_str(), "r"));
  Owned<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_EQ(X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), cert.get()), 1);

  Handshake verified(server->context().native_handle(), cctx);
  require_verified_peer(verified.client.get(), "a.example.test.");
  EXPECT_TRUE(verified.run());
  EXPECT_EQ(std::string(SSL_get_servername(verified.server.get(), TLSEXT_NAMETYPE_host_name)), "a.example.test");

  Handshake wrong_name(server->context().native_handle(), cctx);
  require_verified_peer(wrong_name.client.get(), "evil.example.test");
  EXPECT_FALSE(wrong_name.run());

  Handshake no_name(server->context().native_handle(), cctx);
  require_verified_peer(no_name.client.get(), "");
  EXPECT_FALSE(no_name.run());
}

TEST(TlsInfoTest, NullIsEmpty) {
  EXPECT_EQ(connection_info(nullptr).version, "");
  EXPECT_EQ(channel_binding(nullptr).type, "");
}

}  // namespace
}  // namespace herald::net
