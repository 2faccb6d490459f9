// net/connection_test.cpp - Connection over real loopback sockets: the read
// and write deadlines, and TLS with Herald on both ends.
#include "net/connection.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "net/tls.h"

namespace herald::net {
namespace {

using namespace std::chrono_literals;

// Pair - two connected loopback sockets on one io_context.
struct Pair {
  asio::io_context io;
  std::unique_ptr<Connection> server;
  std::unique_ptr<Connection> client;

  Pair() {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket c(io);
    c.connect(acceptor.local_endpoint());
    tcp::endpoint from;
    tcp::socket s = acceptor.accept(from);
    auto to = c.remote_endpoint();
    server = std::make_unique<Connection>(std::move(s), from);
    client = std::make_unique<Connection>(std::move(c), to);
  }

  // run - co_spawn each coroutine and run the io_context until all are
  // done (a deadline's timer may still be waiting then: it is not waited for).
  template <typename... Fn>
  void run(Fn... fn) {
    std::size_t left = sizeof...(fn);
    auto done = [&](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
      if (--left == 0) io.stop();
    };
    (asio::co_spawn(io, fn(), done), ...);
    io.run();
  }
};

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  std::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

TEST(ConnectionTest, PeerIsTheClientAddress) {
  Pair p;
  EXPECT_EQ(p.server->peer().ip, "127.0.0.1");
  EXPECT_EQ(p.server->peer().display(), "localhost[127.0.0.1]");
  EXPECT_EQ(peer_of(tcp::endpoint(asio::ip::make_address("::ffff:192.0.2.7"), 25)).ip, "192.0.2.7");
}

TEST(ConnectionTest, ReadPassesItsDeadline) {
  Pair p;
  std::size_t n = 99;
  p.run([&]() -> asio::awaitable<void> {
    char buf[16];
    n = co_await p.server->read_some(buf, sizeof buf, 50ms);
  });
  EXPECT_EQ(n, 0u);
  EXPECT_TRUE(p.server->timed_out());
}

TEST(ConnectionTest, AReadInTimeLeavesNoDeadlineBehind) {
  Pair p;
  std::string got;
  bool second_write = false;
  p.run(
      [&]() -> asio::awaitable<void> {
        char buf[16];
        std::size_t n = co_await p.server->read_some(buf, sizeof buf, 100ms);
        got.assign(buf, n);
        // The first read's deadline passes while nobody reads: nothing may be
        // cancelled by it.
        co_await sleep_for(200ms);
        second_write = co_await p.server->write_all("bye", 1000ms);
      },
      [&]() -> asio::awaitable<void> { co_await p.client->write_all("hello"); });
  EXPECT_EQ(got, "hello");
  EXPECT_TRUE(second_write);
  EXPECT_FALSE(p.server->timed_out());
}

TEST(ConnectionTest, WritePassesItsDeadlineWhenThePeerDoesNotRead) {
  Pair p;
  bool ok = true;
  p.run([&]() -> asio::awaitable<void> {
    // Far more than the socket buffers hold: the write must wait for a
    // reader that never comes.
    std::string big(64u << 20, 'x');
    ok = co_await p.server->write_all(big, 100ms);
  });
  EXPECT_FALSE(ok);
  EXPECT_TRUE(p.server->timed_out());
  EXPECT_FALSE(p.client->timed_out());
}

TEST(ConnectionTest, TlsBetweenTwoConnections) {
  auto dir = std::filesystem::temp_directory_path() / ("herald-conn-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  TlsOptions options;
  options.self_signed_dir = dir;
  options.hostname = "mx.example.test";
  auto server_tls = TlsServer::create(options);
  ASSERT_TRUE(server_tls) << server_tls.error().message;
  auto client_tls = make_client_context();
  ASSERT_TRUE(client_tls) << client_tls.error().message;

  Pair p;
  bool server_ok = false, client_ok = false;
  std::string got;
  p.run(
      [&]() -> asio::awaitable<void> {
        server_ok = co_await p.server->start_tls((*server_tls)->context(), 5000ms);
        char buf[16];
        std::size_t n = co_await p.server->read_some(buf, sizeof buf, 5000ms);
        got.assign(buf, n);
      },
      [&]() -> asio::awaitable<void> {
        client_ok = co_await p.client->start_tls(**client_tls, 5000ms, asio::ssl::stream_base::client);
        co_await p.client->write_all("secret", 5000ms);
      });
  EXPECT_TRUE(server_ok);
  EXPECT_TRUE(client_ok);
  EXPECT_TRUE(p.server->tls_active());
  EXPECT_EQ(got, "secret");
  std::filesystem::remove_all(dir);
}

TEST(ConnectionTest, HandshakePassesItsDeadline) {
  auto client_tls = make_client_context();
  ASSERT_TRUE(client_tls);
  Pair p;
  bool ok = true;
  // A server that never answers the ClientHello.
  p.run([&]() -> asio::awaitable<void> {
    ok = co_await p.client->start_tls(**client_tls, 50ms, asio::ssl::stream_base::client);
  });
  EXPECT_FALSE(ok);
  EXPECT_TRUE(p.client->timed_out());
  EXPECT_FALSE(p.client->tls_active());
}

}  // namespace
}  // namespace herald::net
