// server/server.h - the daemon: I/O threads, their listeners, shutdown.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "net/tls.h"
#include "store/store.h"

namespace herald::server {

class Server {
 public:
  // tls: null = no STARTTLS, and implicit-TLS listeners refuse to start.
  Server(const config::Config& config, store::Store& store, std::unique_ptr<net::TlsServer> tls);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // start - open every configured listener on every I/O thread.
  Status start();
  // listening - "smtp 127.0.0.1:2525" lines for the start-up banner.
  std::vector<std::string> listening() const;
  // run - serve until SIGTERM/SIGINT or stop().
  void run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace herald::server
