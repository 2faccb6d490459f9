#include "server/server.h"

#include <signal.h>

#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "base/log.h"
#include "server/connection.h"
#include "server/context.h"
#include "server/pop3d.h"
#include "server/smtpd.h"

namespace herald::server {

ServerContext::ServerContext(const config::Config& cfg, store::Store& st)
    : config(cfg),
      store(st),
      intake(cfg.hostname, st),
      resolver(st),
      relay_networks(net::NetworkList::parse(cfg.smtp.relay_networks)),
      smtp_connections(cfg.smtp.max_connections, cfg.smtp.max_connections_per_client),
      pop3_connections(cfg.pop3.max_connections, cfg.pop3.max_connections_per_client) {
  smtp_limits.max_message_size = cfg.smtp.max_message_size;
  smtp_limits.max_recipients = cfg.smtp.max_recipients;
  smtp_limits.max_text_line = cfg.smtp.max_line_length;
  smtp_limits.max_errors = cfg.smtp.max_errors;
  smtp_limits.allow_bare_lf = cfg.smtp.allow_bare_lf;
  smtp_limits.vrfy = cfg.smtp.vrfy == "verify"     ? smtp::VrfyMode::verify
                     : cfg.smtp.vrfy == "disabled" ? smtp::VrfyMode::disabled
                                                   : smtp::VrfyMode::ambiguous;
}

using ConnectionFn = asio::awaitable<void> (*)(ServerContext&, tcp::socket);

struct Server::Impl {
  Impl(const config::Config& c, store::Store& s) : config(c), ctx(c, s) {}

  struct Listener {
    std::string protocol;
    asio::ip::tcp::endpoint endpoint;
    ConnectionFn serve;
  };

  const config::Config& config;
  ServerContext ctx;
  std::vector<std::unique_ptr<asio::io_context>> ios;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<Listener> listeners;
  std::vector<std::thread> threads;
};

static asio::awaitable<void> accept_loop(ServerContext& ctx, tcp::acceptor& acceptor, ConnectionFn serve) {
  for (;;) {
    std::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      // EMFILE and friends: log, and keep serving the connections we have.
      log::get("master")->warn("warning: accept: {}", ec.message());
      asio::steady_timer t(acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(acceptor.get_executor(), serve(ctx, std::move(socket)), asio::detached);
  }
}

Server::Server(const config::Config& config, store::Store& store)
    : impl_(std::make_unique<Impl>(config, store)) {}

Server::~Server() {
  stop();
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
}

Status Server::start() {
  auto& im = *impl_;
  auto add = [&](const char* protocol, const std::vector<std::string>& addrs, ConnectionFn fn) -> Status {
    for (const auto& a : addrs) {
      auto ep = net::parse_endpoint(a);
      if (!ep) return ep.error();
      im.listeners.push_back({protocol, *ep, fn});
    }
    return {};
  };
  if (auto st = add("smtp", im.config.smtp.listen, &smtp_connection); !st) return st;
  if (auto st = add("pop3", im.config.pop3.listen, &pop3_connection); !st) return st;
  for (auto [name, l] : {std::pair{"submission", &im.config.submission}, {"smtps", &im.config.smtps},
                         {"pop3s", &im.config.pop3s}, {"imap", &im.config.imap}, {"imaps", &im.config.imaps},
                         {"admin", &im.config.admin}}) {
    if (!l->listen.empty())
      log::get("master")->warn("warning: [{}] is configured but not served by this version of herald", name);
  }
  unsigned n = im.config.threads ? im.config.threads : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) {
    auto io = std::make_unique<asio::io_context>(1);
    for (const auto& l : im.listeners) {
      auto acc = net::open_acceptor(*io, l.endpoint);
      if (!acc) return acc.error();
      asio::co_spawn(*io, accept_loop(im.ctx, **acc, l.serve), asio::detached);
      im.acceptors.push_back(std::move(*acc));
    }
    im.ios.push_back(std::move(io));
  }
  return {};
}

std::vector<std::string> Server::listening() const {
  std::vector<std::string> out;
  for (const auto& l : impl_->listeners)
    out.push_back(fmt::format("{} {}:{}", l.protocol, l.endpoint.address().to_string(), l.endpoint.port()));
  return out;
}

void Server::run() {
  auto& im = *impl_;
  asio::signal_set signals(*im.ios.front(), SIGINT, SIGTERM);
  signals.async_wait([this](std::error_code ec, int sig) {
    if (ec) return;
    log::get("master")->info("terminating on signal {}", sig);
    stop();
  });
  ::signal(SIGPIPE, SIG_IGN);
  log::get("master")->info("daemon started -- version 0.1.0");
  for (std::size_t i = 1; i < im.ios.size(); ++i)
    im.threads.emplace_back([io = im.ios[i].get()] { io->run(); });
  im.ios.front()->run();
  for (auto& t : im.threads)
    if (t.joinable()) t.join();
  im.threads.clear();
}

void Server::stop() {
  for (auto& io : impl_->ios) io->stop();
}

}  // namespace herald::server
