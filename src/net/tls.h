// net/tls.h - TLS contexts: the server side shared by STARTTLS, STLS and
// implicit TLS listeners, and the client side for outbound delivery.
//
// What it is for: TlsServer owns one asio::ssl::context that every accepted
// connection's asio::ssl::stream is built on. The certificate is chosen per
// handshake by the client's server name (RFC 6066 3 SNI) among the configured
// pairs, and the pairs can be re-read while the server runs.
//
// Invariants:
//   - The context handed out by context() carries the protocol settings and
//     the SNI callback but no certificate: every handshake is switched (in the
//     callback, which OpenSSL 3 calls for every ClientHello, with or without
//     SNI) to one of the per-certificate SSL_CTXs, all configured alike.
//   - The per-certificate SSL_CTXs are never modified after they are built.
//     reload() builds a complete new set and swaps a shared_ptr under a mutex;
//     an SSL holds its own reference to the SSL_CTX it was switched to, so
//     established connections keep theirs and the old set is freed when the
//     last of them ends.
//   - Thread-safe: any number of I/O threads may handshake on context() while
//     another thread calls reload(), changed() or describe().
//
// Security notes:
//   - TLS 1.2 minimum; TLS 1.2 ciphers ECDHE + AEAD only unless configured;
//     no compression (CRIME), no renegotiation, server cipher preference.
//   - Private keys are never prompted for: an encrypted key is an error, not a
//     daemon blocked on a passphrase prompt.
//   - A generated self-signed key is written with mode 0600, atomically.
//   - channel_binding() offers tls-unique on TLS 1.2 only when the extended
//     master secret was negotiated (RFC 7627; without it tls-unique is open to
//     the triple-handshake attack, RFC 9266 1).
//   - Outbound verification is off by default (opportunistic, RFC 7435);
//     require_verified_peer() turns it on for one connection.
//
// RFCs: 8446 (TLS 1.3), 5246 (TLS 1.2), 6066 3 (SNI), 6125 6.4.3 (wildcards),
// 5929 3 (tls-unique), 9266 (tls-exporter), 7627 (extended master secret),
// 7435 (opportunistic security), 8314 / 3207 (their users).
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <asio/ssl/context.hpp>
#include <openssl/ssl.h>

#include "base/result.h"

namespace herald::net {

// CertKeyPair - PEM file paths; the certificate file may hold the chain
// (leaf first, then intermediates).
struct CertKeyPair {
  std::string cert;
  std::string key;
};

struct TlsOptions {
  // The first is the default; the others are chosen when the client's server
  // name matches one of their subjectAltName DNS names (or the CN when there
  // is no SAN); "*.example.com" matches exactly one label.
  std::vector<CertKeyPair> certificates;
  // Used when certificates is empty: self-signed.crt / self-signed.key there,
  // loaded or created (key mode 0600).
  std::filesystem::path self_signed_dir;
  std::string hostname;             // CN and SAN of a generated self-signed certificate
  std::string min_version = "1.2";  // "1.2" | "1.3"
  std::string ciphers;              // TLS 1.2 cipher list; "" = ECDHE with AEAD only
  std::string ciphersuites;         // TLS 1.3 suites; "" = OpenSSL's default
};

// TlsServer - the server context and its certificates.
class TlsServer {
 public:
  // create - configured and loaded; errors name the file and OpenSSL's reason.
  static Result<std::unique_ptr<TlsServer>> create(const TlsOptions& options);
  ~TlsServer();
  TlsServer(const TlsServer&) = delete;
  TlsServer& operator=(const TlsServer&) = delete;

  // context - for asio::ssl::stream; the SNI callback is installed on it.
  // REQUIRES: this TlsServer outlives every stream built on the context.
  asio::ssl::context& context() { return context_; }

  // reload - re-read every certificate and key; on any error keep the old
  // ones and return the error. New handshakes use the new certificates;
  // established connections are untouched.
  Status reload();

  // changed - whether any certificate or key file changed (mtime, size,
  // inode) since the last successful load; cheap enough to poll.
  bool changed() const;

  // describe - one line per certificate for the start-up banner, e.g.
  // "CN=mx.example.test, expires 2027-11-23, SAN mx.example.test".
  std::vector<std::string> describe() const;

 private:
  struct Certificates;  // one loaded set, immutable once built (tls.cpp)

  TlsServer(TlsOptions options, asio::ssl::context context, std::shared_ptr<const Certificates> certificates);
  static int on_server_name(SSL* ssl, int* alert, void* arg);
  std::shared_ptr<const Certificates> certificates() const;

  const TlsOptions options_;
  asio::ssl::context context_;
  mutable std::mutex mu_;
  std::shared_ptr<const Certificates> certificates_;  // GUARDED_BY(mu_)
};

// check_protocol_settings - whether create() would accept options'
// min_version, ciphers and ciphersuites (OpenSSL parses them); loads no
// certificate and writes nothing, for `herald config check`.
Status check_protocol_settings(const TlsOptions& options);

// check_certificate - whether create() would load pair: both files there,
// PEM, the key unencrypted and matching the certificate. Writes nothing.
Status check_certificate(const CertKeyPair& pair, const TlsOptions& options);

// TlsInfo - for Received headers (RFC 8314 4.3) and logs, e.g.
// {"TLSv1.3", "TLS_AES_256_GCM_SHA384", 256}.
struct TlsInfo {
  std::string version;
  std::string cipher;
  int bits = 0;
};

// connection_info - the negotiated version and cipher of a finished handshake.
TlsInfo connection_info(const SSL* ssl);

// TlsChannelBinding - for SCRAM-*-PLUS (RFC 5802 6, RFC 9266).
struct TlsChannelBinding {
  std::string type;  // "tls-exporter" | "tls-unique" | "" when unavailable
  std::string data;  // raw octets
};

// channel_binding - RFC 9266 "tls-exporter" (32 octets) on TLS 1.3; on TLS 1.2
// RFC 5929 "tls-unique" (the first Finished message), only with the extended
// master secret. {"", ""} before the handshake is finished or otherwise.
TlsChannelBinding channel_binding(SSL* ssl);

// ClientTlsOptions - what the outbound side may be given: a CA file to
// verify against instead of the system store, and a certificate to show
// when a server asks for one (the i5/OS client certificate).
struct ClientTlsOptions {
  std::string ca_file;  // "" = the system CA store
  std::string cert;     // PEM chain; "" = none
  std::string key;      // its key (PEM)
};

// make_client_context - outbound: TLS 1.2+, the CA store, peer
// verification off (opportunistic, RFC 7435). An unreadable file, or a key
// that does not match its certificate, is an error naming it.
Result<std::unique_ptr<asio::ssl::context>> make_client_context(const ClientTlsOptions& options = {});

// require_verified_peer - on one outbound connection, before its handshake:
// send SNI for hostname, verify the chain and that the certificate names
// hostname (or the IP address, if hostname is one). Fails closed: an
// unusable hostname makes the handshake fail.
void require_verified_peer(SSL* ssl, const std::string& hostname);

}  // namespace herald::net
