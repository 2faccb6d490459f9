// server/sender_exit.h - the sender verification exit (the seeds' exit
// program): an administrator's program asked about each message a local
// user submits through a spool or sendmail, after the sender policy.
//
// Its standard input is one JSON object: {"user", "uid", "spool", "file",
// "sender", "from": [...], "recipients": [...], "subject"}. Its standard
// output is one JSON object: {"action": "accept"} | {"action": "reject",
// "reason": "..."} | {"action": "replace", "sender": "addr"}. An exit that
// cannot be run, exits non-zero, answers anything else or takes longer than
// its timeout fails, and a failure refuses the message for the moment
// (451: the file is taken again later), never accepts it.
//
// Blocking: call() waits for the program (at most the timeout, then it is
// killed); the spool agent runs it on a thread of its own.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace herald::server {

struct ExitRequest {
  std::string user;
  std::uint32_t uid = 0;
  std::string spool, file;
  std::string sender;
  std::vector<std::string> from, recipients;
  std::string subject;
};

struct ExitVerdict {
  enum class Action { accept, reject, replace, failed };
  Action action = Action::failed;
  std::string reason;  // reject: the program's; failed: what went wrong
  std::string sender;  // replace: the new envelope sender
};

// call_sender_exit - run program with request; its verdict.
ExitVerdict call_sender_exit(const std::filesystem::path& program, std::chrono::milliseconds timeout,
                             const ExitRequest& request);

// parse_exit_answer - the verdict an answer gives (failed, with why, for
// anything but the three forms).
ExitVerdict parse_exit_answer(std::string_view answer);

}  // namespace herald::server
