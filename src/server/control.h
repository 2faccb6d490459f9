// server/control.h - the control socket: a Unix socket in data_dir, owner
// only, through which `herald` reaches the running daemon for what only the
// daemon knows (the targets view) or can do at once (docs/ARCHITECTURE.md
// "Operator control"). Data actions (the queue, dead letters) work on the
// store directly and need no daemon.
//
// The protocol is one request line ("targets\n"), one JSON answer, then the
// daemon closes: simple enough for `socat` and for the HTTP API to reuse
// the same commands later.
//
// Invariants: the socket is created 0600 and removed at close; a request
// line is at most kMaxRequest octets and must come within kTimeout; at most
// kMaxClients are served at once (more are closed at once).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/local/stream_protocol.hpp>

#include "base/result.h"

namespace herald::server {

class ControlSocket {
 public:
  static constexpr std::size_t kMaxRequest = 4096;
  static constexpr std::chrono::seconds kTimeout{5};
  static constexpr unsigned kMaxClients = 16;

  // Handler - a command's JSON answer; args is the rest of the line.
  using Handler = std::function<std::string(std::string_view args)>;

  // open - bound at path. A socket file left by a daemon that died is
  // replaced; one that answers means another daemon serves this data_dir:
  // Errc::exists.
  static Result<std::unique_ptr<ControlSocket>> open(asio::io_context& io, const std::filesystem::path& path,
                                                     std::map<std::string, Handler, std::less<>> commands);
  ~ControlSocket();

  // run - accept and answer until the io_context stops.
  asio::awaitable<void> run();

 private:
  ControlSocket(asio::local::stream_protocol::acceptor acceptor, std::filesystem::path path,
                std::map<std::string, Handler, std::less<>> commands);
  asio::awaitable<void> serve(asio::local::stream_protocol::socket socket);
  std::string answer(std::string_view line) const;

  asio::local::stream_protocol::acceptor acceptor_;
  std::filesystem::path path_;
  std::map<std::string, Handler, std::less<>> commands_;
  // Connections being served; shared with their coroutines, whose frames
  // may be destroyed after this object (with the io_context).
  std::shared_ptr<unsigned> clients_ = std::make_shared<unsigned>(0);
};

// control_request - the CLI's side: one request to the daemon serving
// data_dir, its answer. Errc::not_found when no daemon listens there.
Result<std::string> control_request(const std::filesystem::path& data_dir, std::string_view request);

// control_path - data_dir's control socket.
std::filesystem::path control_path(const std::filesystem::path& data_dir);

}  // namespace herald::server
