#include "net/tls.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <functional>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/text.h"

namespace herald::net {
namespace {

// Mozilla's "intermediate" TLS 1.2 list without DHE: forward secrecy and
// AEAD only, ECDSA before RSA so that an ECDSA certificate is preferred.
constexpr const char* kDefaultCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

constexpr std::string_view kSessionIdContext = "herald";
constexpr const char* kSelfSignedCert = "self-signed.crt";
constexpr const char* kSelfSignedKey = "self-signed.key";
constexpr long kSelfSignedDays = 3650;
constexpr const char* kSystemCaDir = "/etc/ssl/certs";

struct Free {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(BIO* p) const { BIO_free_all(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

// openssl_reason - what OpenSSL's error queue says, emptied; its reason texts
// ("key values mismatch", "No such file or directory") joined by ": ".
std::string openssl_reason() {
  std::string out;
  const char* data = nullptr;
  int flags = 0;
  while (unsigned long e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
    const char* reason = ERR_reason_error_string(e);
    std::string one = reason ? reason : fmt::format("error {:#x}", e);
    if ((flags & ERR_TXT_STRING) && data && *data) one += fmt::format(" ({})", data);
    if (out.find(one) != std::string::npos) continue;
    if (!out.empty()) out += ": ";
    out += one;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

// ssl_error - "tls: <what>: <OpenSSL's reason>".
Error ssl_error(Errc code, std::string what) {
  return make_error(code, fmt::format("tls: {}: {}", what, openssl_reason()));
}

// no_passphrase - a daemon must not block on a terminal prompt: an encrypted
// key fails to load instead.
int no_passphrase(char*, int, int, void*) { return 0; }

// reject_all - a verify callback no certificate passes.
int reject_all(int, X509_STORE_CTX*) { return 0; }

// min_version - the OpenSSL constant for "1.2" / "1.3".
Result<int> min_version(const std::string& text) {
  if (text == "1.2") return TLS1_2_VERSION;
  if (text == "1.3") return TLS1_3_VERSION;
  return make_error(Errc::invalid, fmt::format("tls: min_version \"{}\": expected \"1.2\" or \"1.3\"", text));
}

// new_server_ctx - an SSL_CTX with the protocol settings shared by the
// front context and every per-certificate one (SSL_set_SSL_CTX switches the
// certificate, not the SSL's options, so all must agree).
Result<Owned<SSL_CTX>> new_server_ctx(const TlsOptions& options) {
  auto version = min_version(options.min_version);
  if (!version) return version.error();
  ERR_clear_error();
  Owned<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return ssl_error(Errc::internal, "SSL_CTX_new");
  if (SSL_CTX_set_min_proto_version(ctx.get(), *version) != 1) return ssl_error(Errc::internal, "min_version");
  // No compression (CRIME); no renegotiation of either side (a CPU-cost
  // lever for clients and a source of past bugs); our cipher order wins.
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  const std::string ciphers = options.ciphers.empty() ? std::string(kDefaultCiphers) : options.ciphers;
  if (SSL_CTX_set_cipher_list(ctx.get(), ciphers.c_str()) != 1)
    return ssl_error(Errc::invalid, fmt::format("ciphers \"{}\"", ciphers));
  if (!options.ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx.get(), options.ciphersuites.c_str()) != 1)
    return ssl_error(Errc::invalid, fmt::format("ciphersuites \"{}\"", options.ciphersuites));
  SSL_CTX_set_session_id_context(ctx.get(), reinterpret_cast<const unsigned char*>(kSessionIdContext.data()),
                                 static_cast<unsigned>(kSessionIdContext.size()));
  SSL_CTX_set_default_passwd_cb(ctx.get(), no_passphrase);
  return ctx;
}

// ---- files ------------------------------------------------------------------

// FileStamp - enough of stat(2) to notice a replaced or rewritten file.
struct FileStamp {
  std::string path;
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  int error = 0;  // errno of a failed stat(2)

  bool same(const FileStamp& o) const {
    return exists == o.exists && dev == o.dev && ino == o.ino && size == o.size && mtime_ns == o.mtime_ns &&
           ctime_ns == o.ctime_ns;
  }
};

// stamp - follows symlinks, so a "live/" link switched to a new file counts.
FileStamp stamp(const std::string& path) {
  FileStamp s;
  s.path = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    s.error = errno;
    return s;
  }
  s.exists = true;
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  s.size = st.st_size;
  s.mtime_ns = std::int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  s.ctime_ns = std::int64_t(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
  return s;
}

// Fd - a file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// sys_error - "tls: <what>: <strerror(errno)>".
Error sys_error(const std::string& what) {
  return make_error(Errc::io, fmt::format("tls: {}: {}", what, std::strerror(errno)));
}

// write_file_atomic - name in dir holds data with exactly mode, or is untouched:
// temp file, fsync, rename. REQUIRES: the caller fsyncs the directory.
Status write_file_atomic(int dir_fd, const std::filesystem::path& dir, const std::string& name,
                         const std::string& data, mode_t mode) {
  const std::string tmp = name + ".tmp";
  const std::string shown = (dir / name).string();
  if (::unlinkat(dir_fd, tmp.c_str(), 0) != 0 && errno != ENOENT) return sys_error((dir / tmp).string());
  Fd fd(::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (fd.get() < 0) return sys_error((dir / tmp).string());
  // Exactly mode, whatever the umask.
  if (::fchmod(fd.get(), mode) != 0) return sys_error(shown);
  for (std::size_t done = 0; done < data.size();) {
    ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error(shown);
    done += std::size_t(n);
  }
  if (::fsync(fd.get()) != 0) return sys_error(shown);
  if (::close(fd.release()) != 0) return sys_error(shown);
  if (::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0) return sys_error(shown);
  return {};
}

// ---- self-signed pair ---------------------------------------------------------

// pem_of - what write puts into a memory BIO.
Result<std::string> pem_of(const std::function<int(BIO*)>& write) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return ssl_error(Errc::internal, "PEM encoding");
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, std::size_t(size));
}

// add_extension - one X509v3 extension from its configuration text.
Status add_extension(X509* cert, X509V3_CTX* v3, int nid, const char* value) {
  Owned<X509_EXTENSION> ext(X509V3_EXT_nconf_nid(nullptr, v3, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) return ssl_error(Errc::internal, OBJ_nid2sn(nid));
  return {};
}

// generate_self_signed - an EC P-256 key and an X509v3 certificate for
// hostname (CN and SAN), as PEM {cert, key}.
Result<std::pair<std::string, std::string>> generate_self_signed(const std::string& hostname) {
  ERR_clear_error();
  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  Owned<X509> cert(X509_new());
  if (!key || !cert) return ssl_error(Errc::internal, "self-signed key");

  // A random positive 127-bit serial (RFC 5280 4.1.2.2: unique per issuer).
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return ssl_error(Errc::internal, "RAND_bytes");
  serial[0] &= 0x7f;
  Owned<BIGNUM> bn(BN_bin2bn(serial, sizeof serial, nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())))
    return ssl_error(Errc::internal, "serial number");

  X509_NAME* name = X509_get_subject_name(cert.get());
  bool ok = X509_set_version(cert.get(), X509_VERSION_3) == 1 &&
            X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr &&  // some clock skew
            X509_time_adj_ex(X509_getm_notAfter(cert.get()), kSelfSignedDays, 0, nullptr) != nullptr &&
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                       reinterpret_cast<const unsigned char*>(hostname.c_str()), -1, -1, 0) == 1 &&
            X509_set_issuer_name(cert.get(), name) == 1 && X509_set_pubkey(cert.get(), key.get()) == 1;
  if (!ok) return ssl_error(Errc::internal, "self-signed certificate");

  X509V3_CTX v3;
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  // hostname was checked to hold only [A-Za-z0-9.-], so it cannot smuggle a
  // second name into the configuration string.
  const std::string san = "DNS:" + hostname;
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:FALSE"},
                            std::pair{NID_key_usage, "critical,digitalSignature"},
                            std::pair{NID_ext_key_usage, "serverAuth"},
                            std::pair{NID_subject_key_identifier, "hash"},
                            std::pair{NID_subject_alt_name, san.c_str()}}) {
    if (auto st = add_extension(cert.get(), &v3, nid, value); !st) return st.error();
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return ssl_error(Errc::internal, "X509_sign");

  auto cert_pem = pem_of([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); });
  auto key_pem =
      pem_of([&](BIO* b) { return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr); });
  if (!cert_pem) return cert_pem.error();
  if (!key_pem) return key_pem.error();
  return std::pair{std::move(*cert_pem), std::move(*key_pem)};
}

// ensure_self_signed - the pair in dir, created when either file is missing.
// Invariant on disk: the certificate exists only beside its own key (it is
// removed first and renamed into place last), so a crash at any point leaves
// either a complete pair or one that is regenerated on the next start.
Result<CertKeyPair> ensure_self_signed(const std::filesystem::path& dir, const std::string& hostname) {
  CertKeyPair pair{(dir / kSelfSignedCert).string(), (dir / kSelfSignedKey).string()};
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(Errc::io, fmt::format("tls: {}: {}", dir.string(), ec.message()));

  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0) return sys_error(dir.string());
  // Two processes (or two TlsServers) starting together must not pair one's
  // key with the other's certificate.
  while (::flock(dir_fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return sys_error(dir.string());
  }
  if (stamp(pair.cert).exists && stamp(pair.key).exists) return pair;

  if (!valid_hostname(hostname))
    return make_error(Errc::invalid,
                      fmt::format("tls: cannot create a self-signed certificate in {}: bad hostname \"{}\"",
                                  dir.string(), printable(hostname)));
  auto pem = generate_self_signed(hostname);
  if (!pem) return pem.error();
  if (::unlinkat(dir_fd.get(), kSelfSignedCert, 0) != 0 && errno != ENOENT) return sys_error(pair.cert);
  if (auto st = write_file_atomic(dir_fd.get(), dir, kSelfSignedKey, pem->second, 0600); !st) return st.error();
  if (auto st = write_file_atomic(dir_fd.get(), dir, kSelfSignedCert, pem->first, 0644); !st) return st.error();
  if (::fsync(dir_fd.get()) != 0) return sys_error(dir.string());
  return pair;
}

// ---- one certificate --------------------------------------------------------

// asn1_text - an ASN.1 string as UTF-8; "" when it cannot be converted.
std::string asn1_text(const ASN1_STRING* s) {
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0) return {};
  std::string out(reinterpret_cast<const char*>(utf8), std::size_t(n));
  OPENSSL_free(utf8);
  return out;
}

// common_name - the subject's (first) CN, or "".
std::string common_name(X509* cert) {
  X509_NAME* subject = X509_get_subject_name(cert);
  int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (i < 0) return {};
  return asn1_text(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
}

// dns_names - the subjectAltName DNS names, as written; none with a NUL.
std::vector<std::string> dns_names(X509* cert) {
  std::vector<std::string> out;
  Owned<GENERAL_NAMES> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type != GEN_DNS) continue;
    const ASN1_IA5STRING* s = gn->d.dNSName;
    std::string name(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), std::size_t(ASN1_STRING_length(s)));
    if (name.find('\0') == std::string::npos) out.push_back(std::move(name));
  }
  return out;
}

// describe_cert - "CN=mx.example.test, expires 2027-11-23, SAN mx.example.test".
std::string describe_cert(X509* cert, const std::string& cn, const std::vector<std::string>& sans) {
  std::string out = cn.empty() ? "no CN" : "CN=" + cn;
  const ASN1_TIME* not_after = X509_get0_notAfter(cert);
  std::tm tm{};
  if (ASN1_TIME_to_tm(not_after, &tm) == 1) {
    bool expired = X509_cmp_current_time(not_after) < 0;
    out += fmt::format(", {} {:04}-{:02}-{:02}", expired ? "EXPIRED" : "expires", tm.tm_year + 1900, tm.tm_mon + 1,
                       tm.tm_mday);
  }
  for (std::size_t i = 0; i < sans.size(); ++i) out += (i == 0 ? ", SAN " : " ") + sans[i];
  return out;
}


// CertEntry - one certificate, loaded into its own SSL_CTX.
struct CertEntry {
  Owned<SSL_CTX> ctx;
  std::vector<std::string> names;  // lower case: the SAN DNS names, or the CN when there is no SAN
  std::string description;
};

// CertSet - everything one (re)load read; immutable once built.
struct CertSet {
  std::vector<CertEntry> entries;  // [0] is the default
  std::vector<FileStamp> stamps;   // taken before reading: a change during a load shows up later

  // select - the entry for a client's server name (RFC 6066 3): an exact name
  // first, then a wildcard covering one label (RFC 6125 6.4.3), else the default.
  const CertEntry& select(std::string_view server_name) const {
    if (!server_name.empty() && server_name.back() == '.') server_name.remove_suffix(1);
    const std::string wanted = to_lower(server_name);
    if (wanted.empty()) return entries.front();
    for (const auto& e : entries)
      for (const auto& n : e.names)
        if (n == wanted) return e;
    auto dot = wanted.find('.');
    if (dot == std::string::npos || dot == 0) return entries.front();
    std::string_view parent = std::string_view(wanted).substr(dot);  // ".example.com"
    for (const auto& e : entries)
      for (const auto& n : e.names)
        // "*.com" would cover a whole top-level domain: never honoured.
        if (n.size() > 2 && n.compare(0, 2, "*.") == 0 && n.find('.', 2) != std::string::npos &&
            std::string_view(n).substr(1) == parent)
          return e;
    return entries.front();
  }
};

// load_pair - one certificate chain and its key into a fresh SSL_CTX.
Result<CertEntry> load_pair(const CertKeyPair& pair, const TlsOptions& options) {
  for (const auto& [what, path] : {std::pair{"certificate", &pair.cert}, std::pair{"key", &pair.key}}) {
    if (path->empty()) return make_error(Errc::invalid, fmt::format("tls: no {} file given", what));
    if (auto s = stamp(*path); !s.exists)
      return make_error(s.error == ENOENT ? Errc::not_found : Errc::io,
                        fmt::format("tls: {} {}: {}", what, *path, std::strerror(s.error)));
  }
  auto ctx = new_server_ctx(options);
  if (!ctx) return ctx.error();
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx->get(), pair.cert.c_str()) != 1)
    return ssl_error(Errc::invalid, "certificate " + pair.cert);

  Owned<BIO> bio(BIO_new_file(pair.key.c_str(), "r"));
  if (!bio) return ssl_error(Errc::io, "key " + pair.key);
  Owned<EVP_PKEY> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key) return ssl_error(Errc::invalid, "key " + pair.key);
  if (SSL_CTX_use_PrivateKey(ctx->get(), key.get()) != 1 || SSL_CTX_check_private_key(ctx->get()) != 1)
    return ssl_error(Errc::invalid, fmt::format("key {} does not match certificate {}", pair.key, pair.cert));

  X509* leaf = SSL_CTX_get0_certificate(ctx->get());
  CertEntry entry;
  std::string cn = common_name(leaf);
  std::vector<std::string> sans = dns_names(leaf);
  entry.description = describe_cert(leaf, cn, sans);
  // RFC 6125 6.4.4: the CN is a name only when there is no DNS SAN.
  if (sans.empty() && !cn.empty()) sans.push_back(cn);
  for (auto& n : sans) entry.names.push_back(to_lower(n));
  entry.ctx = std::move(*ctx);
  return entry;
}

// load_cert_set - every configured pair, or the self-signed one.
Result<CertSet> load_cert_set(const TlsOptions& options) {
  std::vector<CertKeyPair> pairs = options.certificates;
  if (pairs.empty()) {
    if (options.self_signed_dir.empty())
      return make_error(Errc::invalid, "tls: no certificate, and no directory for a self-signed one");
    auto pair = ensure_self_signed(options.self_signed_dir, options.hostname);
    if (!pair) return pair.error();
    pairs.push_back(std::move(*pair));
  }
  CertSet set;
  for (const auto& p : pairs) {
    set.stamps.push_back(stamp(p.cert));
    set.stamps.push_back(stamp(p.key));
  }
  for (const auto& p : pairs) {
    auto entry = load_pair(p, options);
    if (!entry) return entry.error();
    set.entries.push_back(std::move(*entry));
  }
  return set;
}

}  // namespace

Status check_protocol_settings(const TlsOptions& options) {
  auto ctx = new_server_ctx(options);
  if (!ctx) return ctx.error();
  return {};
}

Status check_certificate(const CertKeyPair& pair, const TlsOptions& options) {
  auto entry = load_pair(pair, options);
  if (!entry) return entry.error();
  return {};
}

// ---- TlsServer ----------------------------------------------------------------

struct TlsServer::Certificates : CertSet {};

Result<std::unique_ptr<TlsServer>> TlsServer::create(const TlsOptions& options) {
  // The front context: the protocol settings and the SNI callback, no
  // certificate (see tls.h invariants).
  auto front = new_server_ctx(options);
  if (!front) return front.error();
  auto set = load_cert_set(options);
  if (!set) return set.error();
  auto certificates = std::make_shared<const Certificates>(Certificates{std::move(*set)});

  SSL_CTX* handle = front->get();
  std::unique_ptr<TlsServer> server(
      new TlsServer(options, asio::ssl::context(front->release()), std::move(certificates)));
  SSL_CTX_set_tlsext_servername_callback(handle, &TlsServer::on_server_name);
  SSL_CTX_set_tlsext_servername_arg(handle, server.get());
  return server;
}

TlsServer::TlsServer(TlsOptions options, asio::ssl::context context, std::shared_ptr<const Certificates> certificates)
    : options_(std::move(options)), context_(std::move(context)), certificates_(std::move(certificates)) {}

TlsServer::~TlsServer() = default;

std::shared_ptr<const TlsServer::Certificates> TlsServer::certificates() const {
  std::lock_guard lock(mu_);
  return certificates_;
}

// on_server_name - OpenSSL's servername callback: runs on the handshaking
// thread for every ClientHello, with or without SNI, and moves the SSL onto
// the chosen certificate's SSL_CTX (which the SSL then holds a reference to).
int TlsServer::on_server_name(SSL* ssl, int* alert, void* arg) {
  const auto* self = static_cast<const TlsServer*>(arg);
  auto certificates = self->certificates();
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  SSL_CTX* ctx = certificates->select(name ? name : "").ctx.get();
  if (SSL_set_SSL_CTX(ssl, ctx) != ctx) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  return SSL_TLSEXT_ERR_OK;
}

Status TlsServer::reload() {
  auto set = load_cert_set(options_);
  if (!set) return set.error();
  auto next = std::make_shared<const Certificates>(Certificates{std::move(*set)});
  {
    std::lock_guard lock(mu_);
    certificates_.swap(next);
  }
  return {};  // the old set goes here, or with the last connection that uses it
}

bool TlsServer::changed() const {
  auto certificates = this->certificates();
  for (const auto& s : certificates->stamps)
    if (!stamp(s.path).same(s)) return true;
  return false;
}

std::vector<std::string> TlsServer::describe() const {
  auto certificates = this->certificates();
  std::vector<std::string> out;
  for (const auto& e : certificates->entries) out.push_back(e.description);
  return out;
}

// ---- connections --------------------------------------------------------------

TlsInfo connection_info(const SSL* ssl) {
  TlsInfo info;
  if (!ssl) return info;
  info.version = SSL_get_version(ssl);
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl)) {
    info.cipher = SSL_CIPHER_get_name(cipher);
    info.bits = SSL_CIPHER_get_bits(cipher, nullptr);
  }
  return info;
}

TlsChannelBinding channel_binding(SSL* ssl) {
  if (!ssl || !SSL_is_init_finished(ssl)) return {};
  if (SSL_version(ssl) == TLS1_3_VERSION) {
    // RFC 9266 2: 32 octets, label "EXPORTER-Channel-Binding", empty context.
    static constexpr std::string_view kLabel = "EXPORTER-Channel-Binding";
    std::string data(32, '\0');
    if (SSL_export_keying_material(ssl, reinterpret_cast<unsigned char*>(data.data()), data.size(), kLabel.data(),
                                   kLabel.size(), nullptr, 0, 1) != 1) {
      ERR_clear_error();
      return {};
    }
    return {"tls-exporter", std::move(data)};
  }
  if (SSL_version(ssl) == TLS1_2_VERSION && SSL_get_extms_support(ssl) == 1) {
    // RFC 5929 3.1: the first Finished of the latest handshake: the client's
    // in a full handshake, the server's in a resumed one.
    unsigned char buf[EVP_MAX_MD_SIZE];
    bool ours = (SSL_session_reused(ssl) == 1) == (SSL_is_server(ssl) == 1);
    std::size_t n = ours ? SSL_get_finished(ssl, buf, sizeof buf) : SSL_get_peer_finished(ssl, buf, sizeof buf);
    if (n == 0 || n > sizeof buf) return {};
    return {"tls-unique", std::string(reinterpret_cast<const char*>(buf), n)};
  }
  return {};
}

// ---- outbound -----------------------------------------------------------------

Result<std::unique_ptr<asio::ssl::context>> make_client_context(const ClientTlsOptions& options) {
  ERR_clear_error();
  Owned<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return ssl_error(Errc::internal, "SSL_CTX_new");
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1) return ssl_error(Errc::internal, "min_version");
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // RFC 7435: an unverifiable certificate still beats plain text, so the
  // default is to encrypt without verifying; require_verified_peer() opts in.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  if (!options.ca_file.empty()) {
    if (SSL_CTX_load_verify_file(ctx.get(), options.ca_file.c_str()) != 1)
      return ssl_error(Errc::io, fmt::format("CA file {}", options.ca_file));
  } else if (SSL_CTX_load_verify_dir(ctx.get(), kSystemCaDir) != 1) {
    return ssl_error(Errc::io, fmt::format("CA directory {}", kSystemCaDir));
  }
  if (!options.cert.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), options.cert.c_str()) != 1)
      return ssl_error(Errc::io, fmt::format("client certificate {}", options.cert));
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), options.key.c_str(), SSL_FILETYPE_PEM) != 1)
      return ssl_error(Errc::io, fmt::format("client key {}", options.key));
    if (SSL_CTX_check_private_key(ctx.get()) != 1)
      return ssl_error(Errc::invalid, fmt::format("client key {} does not match {}", options.key, options.cert));
  }
  return std::make_unique<asio::ssl::context>(ctx.release());
}

void require_verified_peer(SSL* ssl, const std::string& hostname) {
  std::string name = hostname;
  if (!name.empty() && name.back() == '.') name.pop_back();  // an MX target may be absolute
  bool ok = !name.empty() && name.find('\0') == std::string::npos;
  if (ok) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) != 1) {
      // Not an IP literal: a DNS name, sent as SNI too (RFC 6066 3 forbids
      // literal addresses there).
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      ok = SSL_set1_host(ssl, name.c_str()) == 1 && SSL_set_tlsext_host_name(ssl, name.c_str()) == 1;
    }
  }
  ERR_clear_error();
  // Fail closed: without a name to check, no certificate may pass.
  SSL_set_verify(ssl, SSL_VERIFY_PEER, ok ? nullptr : reject_all);
}

}  // namespace herald::net
