#include "server/control.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/read_until.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

#include "base/log.h"
#include "base/text.h"

namespace herald::server {

namespace {

using local = asio::local::stream_protocol;

// error_json - {"error": "..."} for a request that cannot be answered.
std::string error_json(std::string_view text) {
  std::string out = "{\"error\": \"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out + "\"}";
}

}  // namespace

std::filesystem::path control_path(const std::filesystem::path& data_dir) { return data_dir / "control.sock"; }

Result<std::unique_ptr<ControlSocket>> ControlSocket::open(asio::io_context& io, const std::filesystem::path& path,
                                                           std::map<std::string, Handler, std::less<>> commands) {
  if (path.native().size() >= sizeof(sockaddr_un::sun_path))
    return make_error(Errc::invalid, fmt::format("{}: too long for a Unix socket", path.string()));
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    // A daemon that answers there serves this data_dir already; a file
    // nobody answers on was left by one that died.
    local::socket probe(io);
    probe.connect(local::endpoint(path.string()), ec);
    if (!ec) return make_error(Errc::exists, fmt::format("{}: another herald serves this data_dir", path.string()));
    std::filesystem::remove(path, ec);
  }
  local::acceptor acceptor(io);
  acceptor.open(local::endpoint(path.string()).protocol(), ec);
  // Owner only from the start (the umask covers the moment between bind
  // and chmod).
  const mode_t old = ::umask(077);
  if (!ec) acceptor.bind(local::endpoint(path.string()), ec);
  ::umask(old);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(Errc::io, fmt::format("{}: {}", path.string(), ec.message()));
  ::chmod(path.c_str(), 0600);
  return std::unique_ptr<ControlSocket>(new ControlSocket(std::move(acceptor), path, std::move(commands)));
}

ControlSocket::ControlSocket(local::acceptor acceptor, std::filesystem::path path,
                             std::map<std::string, Handler, std::less<>> commands)
    : acceptor_(std::move(acceptor)), path_(std::move(path)), commands_(std::move(commands)) {}

ControlSocket::~ControlSocket() {
  std::error_code ec;
  acceptor_.close(ec);
  std::filesystem::remove(path_, ec);
}

asio::awaitable<void> ControlSocket::run() {
  for (;;) {
    std::error_code ec;
    local::socket socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) continue;
    if (*clients_ >= kMaxClients) continue;  // closed as it goes out of scope
    auto executor = co_await asio::this_coro::executor;
    asio::co_spawn(executor, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> ControlSocket::serve(local::socket socket) {
  struct Count {
    std::shared_ptr<unsigned> n;
    ~Count() { --*n; }
  } count{clients_};
  ++*clients_;
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  timer.expires_after(kTimeout);
  timer.async_wait([&socket](std::error_code e) {
    std::error_code ignored;
    if (!e) socket.close(ignored);
  });
  std::string line;
  std::error_code ec;
  std::size_t n = co_await asio::async_read_until(socket, asio::dynamic_buffer(line, kMaxRequest), '\n',
                                                  asio::redirect_error(asio::use_awaitable, ec));
  std::string reply = ec ? error_json(line.size() >= kMaxRequest ? "request too long" : "no request line")
                         : answer(std::string_view(line).substr(0, n - 1));
  reply += "\n";
  if (socket.is_open()) co_await asio::async_write(socket, asio::buffer(reply), asio::redirect_error(asio::use_awaitable, ec));
  // Closing with unread octets (a request too long) would reset the
  // connection and could lose the answer: the sending side ends, and what
  // the client still sends is read away until it closes (or the timer
  // does).
  if (socket.is_open()) socket.shutdown(local::socket::shutdown_send, ec);
  char scratch[1024];
  while (!ec && socket.is_open())
    co_await socket.async_read_some(asio::buffer(scratch), asio::redirect_error(asio::use_awaitable, ec));
  timer.cancel();
  socket.close(ec);
}

std::string ControlSocket::answer(std::string_view line) const {
  if (line.ends_with('\r')) line.remove_suffix(1);
  std::string_view name = line.substr(0, line.find(' '));
  std::string_view args = name.size() < line.size() ? line.substr(name.size() + 1) : std::string_view();
  auto it = commands_.find(name);
  if (it == commands_.end()) return error_json(fmt::format("unknown command: {}", printable(name, 40)));
  return it->second(args);
}

Result<std::string> control_request(const std::filesystem::path& data_dir, std::string_view request) {
  const std::string path = control_path(data_dir).string();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return make_error(Errc::invalid, path + ": too long for a Unix socket");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(Errc::io, fmt::format("socket: {}", std::strerror(errno)));
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    ::close(fd);
    if (e == ENOENT || e == ECONNREFUSED)
      return make_error(Errc::not_found, fmt::format("herald is not running on this data_dir (no daemon at {})", path));
    return make_error(Errc::io, fmt::format("{}: {}", path, std::strerror(e)));
  }
  std::string out = std::string(request) + "\n";
  bool ok = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size());
  out.clear();
  char buf[16 * 1024];
  for (ssize_t n; ok && (n = ::recv(fd, buf, sizeof buf, 0)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      ok = false;
      break;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  int e = errno;
  ::close(fd);
  if (!ok) return make_error(Errc::io, fmt::format("{}: {}", path, std::strerror(e)));
  return out;
}

}  // namespace herald::server
