#include "server/sender_exit.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

extern char** environ;

namespace herald::server {
namespace {

constexpr std::size_t kAnswerMax = 64 * 1024;

}  // namespace

ExitVerdict parse_exit_answer(std::string_view answer) {
  ExitVerdict v;
  auto j = nlohmann::json::parse(answer, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("action") || !j["action"].is_string()) {
    v.reason = "the exit's answer is not {\"action\": ...}";
    return v;
  }
  const std::string action = j["action"].get<std::string>();
  auto text = [&j](const char* key) { return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : ""; };
  if (action == "accept") {
    v.action = ExitVerdict::Action::accept;
  } else if (action == "reject") {
    v.action = ExitVerdict::Action::reject;
    v.reason = text("reason");
    if (v.reason.find_first_of("\r\n") != std::string::npos) v.reason = "refused by the sender exit";
  } else if (action == "replace" && !text("sender").empty() &&
             text("sender").find_first_of("\r\n <>") == std::string::npos) {
    v.action = ExitVerdict::Action::replace;
    v.sender = text("sender");
  } else {
    v.reason = fmt::format("the exit answered \"{}\" (accept, reject, or replace with a sender)", action);
  }
  return v;
}

ExitVerdict call_sender_exit(const std::filesystem::path& program, std::chrono::milliseconds timeout,
                             const ExitRequest& r) {
  ExitVerdict failed;
  const std::string input = nlohmann::json{{"user", r.user},         {"uid", r.uid},
                                           {"spool", r.spool},       {"file", r.file},
                                           {"sender", r.sender},     {"from", r.from},
                                           {"recipients", r.recipients}, {"subject", r.subject}}
                                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) {
    failed.reason = std::strerror(errno);
    return failed;
  }
  if (::pipe2(out, O_CLOEXEC) != 0) {
    failed.reason = std::strerror(errno);
    ::close(in[0]);
    ::close(in[1]);
    return failed;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  const std::string path = program.string();
  char* argv[] = {const_cast<char*>(path.c_str()), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, path.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  ::close(out[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    failed.reason = fmt::format("{}: cannot run it: {}", path, std::strerror(rc));
    return failed;
  }
  // Write the request and read the answer within the timeout; a program
  // that does not read its input must not hang us either.
  ::fcntl(in[1], F_SETFL, O_NONBLOCK);
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t written = 0;
  std::string answer;
  bool out_open = true, timed_out = false;
  while (out_open) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[2] = {{out[0], POLLIN, 0}, {in[1], POLLOUT, 0}};
    int n = ::poll(fds, written < input.size() && in[1] >= 0 ? 2 : 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (written < input.size() && in[1] >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = ::write(in[1], input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<std::size_t>(w);
      if (w < 0 && errno != EAGAIN) written = input.size();  // it closed its input: read the answer anyway
      if (written == input.size()) {
        ::close(in[1]);
        in[1] = -1;
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[4096];
      ssize_t got = ::read(out[0], buf, sizeof buf);
      if (got > 0 && answer.size() < kAnswerMax) answer.append(buf, static_cast<std::size_t>(got));
      if (got == 0 || (got < 0 && errno != EAGAIN)) out_open = false;
    }
  }
  if (in[1] >= 0) ::close(in[1]);
  ::close(out[0]);
  // It answered (or closed its output): it must also end within the time.
  int status = 0;
  while (!timed_out) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      timed_out = true;
      break;
    }
    ::usleep(1000);  // a child that has answered ends at once; this loop is short
  }
  if (timed_out) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  }
  if (timed_out) {
    failed.reason = fmt::format("{}: no answer within {} ms", path, timeout.count());
    return failed;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    failed.reason = fmt::format("{}: exited {}", path,
                                WIFEXITED(status) ? fmt::format("with {}", WEXITSTATUS(status)) : "on a signal");
    return failed;
  }
  return parse_exit_answer(answer);
}

}  // namespace herald::server
