#include "net/listener.h"

#include <sys/socket.h>

#include <fmt/format.h>

#include "base/text.h"

namespace herald::net {

Result<asio::ip::tcp::endpoint> parse_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return make_error(Errc::invalid, fmt::format("{}: not host:port", text));
  auto port = parse_uint(text.substr(colon + 1));
  if (!port || *port > 65535) return make_error(Errc::invalid, fmt::format("{}: bad port", text));
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  asio::ip::address addr;
  if (host.empty() || host == "*") {
    addr = asio::ip::address_v6::any();
  } else {
    std::error_code ec;
    addr = asio::ip::make_address(host, ec);
    if (ec) return make_error(Errc::invalid, fmt::format("{}: not an IP address", text));
  }
  return asio::ip::tcp::endpoint(addr, static_cast<unsigned short>(*port));
}

Status check_free(asio::io_context& io, const asio::ip::tcp::endpoint& ep) {
  asio::ip::tcp::acceptor probe(io);
  std::error_code ec;
  probe.open(ep.protocol(), ec);
  if (!ec) probe.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && ep.address().is_v6() && ep.address().is_unspecified()) probe.set_option(asio::ip::v6_only(false), ec);
  if (!ec) probe.bind(ep, ec);
  if (ec)
    return make_error(Errc::io, fmt::format("cannot listen on {}:{}: {}", ep.address().to_string(), ep.port(),
                                            ec.message()));
  return {};
}

Result<std::unique_ptr<asio::ip::tcp::acceptor>> open_acceptor(asio::io_context& io,
                                                                const asio::ip::tcp::endpoint& ep) {
  auto acc = std::make_unique<asio::ip::tcp::acceptor>(io);
  std::error_code ec;
  acc->open(ep.protocol(), ec);
  if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) {
    int one = 1;
    if (::setsockopt(acc->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
      ec = std::error_code(errno, std::system_category());
  }
  if (!ec && ep.address().is_v6() && ep.address().is_unspecified()) acc->set_option(asio::ip::v6_only(false), ec);
  // Replies are written whole, so Nagle would only delay them. Set on the
  // listening socket: Linux hands it on to every accepted socket, which saves
  // a setsockopt() per connection.
  if (!ec) acc->set_option(asio::ip::tcp::no_delay(true), ec);
  if (!ec) acc->bind(ep, ec);
  if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return make_error(Errc::io, fmt::format("cannot listen on {}:{}: {}", ep.address().to_string(), ep.port(),
                                            ec.message()));
  return acc;
}

NetworkList NetworkList::parse(const std::vector<std::string>& cidrs) {
  NetworkList out;
  for (const auto& text : cidrs) {
    std::error_code ec;
    std::string cidr = text;
    auto slash = cidr.find('/');
    auto addr = asio::ip::make_address(cidr.substr(0, slash), ec);
    if (ec) continue;
    if (slash == std::string::npos) cidr += addr.is_v4() ? "/32" : "/128";
    if (addr.is_v4()) {
      auto n = asio::ip::make_network_v4(cidr, ec);
      if (!ec) out.v4_.push_back(n.canonical());
    } else {
      auto n = asio::ip::make_network_v6(cidr, ec);
      if (!ec) out.v6_.push_back(n.canonical());
    }
  }
  return out;
}

bool NetworkList::contains(const asio::ip::address& address) const {
  asio::ip::address a = address;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  if (a.is_v4()) {
    asio::ip::network_v4 host(a.to_v4(), 32);
    for (const auto& n : v4_)
      if (host == n || host.is_subnet_of(n)) return true;
  } else {
    asio::ip::network_v6 host(a.to_v6(), 128);
    for (const auto& n : v6_)
      if (host == n || host.is_subnet_of(n)) return true;
  }
  return false;
}

ConnectionLimiter::Ticket ConnectionLimiter::acquire(const std::string& client) {
  std::lock_guard lk(mu_);
  auto& n = per_client_[client];
  if (total_ >= max_total_ || n >= max_per_client_) {
    if (n == 0) per_client_.erase(client);
    return Ticket();
  }
  ++n;
  ++total_;
  return Ticket(this, client);
}

void ConnectionLimiter::release(const std::string& client) {
  std::lock_guard lk(mu_);
  --total_;
  auto it = per_client_.find(client);
  if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
}


}  // namespace herald::net
