// pop3/session_fuzz.cpp - any bytes into a POP3 session (logins succeed or
// fail by the input's own bytes): no crash, and every reply starts +OK/-ERR.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "pop3/session.h"

extern const std::vector<std::string> kFuzzSeeds;
const std::vector<std::string> kFuzzSeeds = {
    "CAPA\r\nUSER a\r\nPASS b\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nTOP 2 1\r\nDELE 1\r\nRSET\r\nDELE 2\r\nQUIT\r\n",
    "USER a\r\nPASS wrong\r\nUSER a\r\nPASS ok\r\nLIST 3\r\nRETR 99\r\nDELE 1\r\nDELE 1\r\nNOOP\r\nQUIT\r\n",
    "PASS x\r\nSTAT\r\nAUTH PLAIN\r\nAPOP a b\r\nQUIT\r\n",
};

namespace {

void check_replies(const std::string& out, bool multiline_ok) {
  if (out.empty()) return;
  if (out.rfind("+OK", 0) != 0 && out.rfind("-ERR", 0) != 0 && !multiline_ok) std::abort();
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  herald::pop3::Pop3Limits limits;
  limits.max_errors = 10;
  herald::pop3::Session s(limits, "pop.fuzz.test");
  s.feed(std::string_view(reinterpret_cast<const char*>(data), size));
  const std::vector<std::string> messages = {"Subject: a\r\n\r\n.line\r\nbody\r\n", "X: y\r\n\r\n", ""};
  for (int guard = 0; guard < 100000; ++guard) {
    auto step = s.step();
    check_replies(step.output, true);
    std::string reply;
    switch (step.action) {
      case herald::pop3::Action::need_more:
      case herald::pop3::Action::close:
      case herald::pop3::Action::starttls:
      case herald::pop3::Action::sasl_check:
        return 0;
      case herald::pop3::Action::flush:
        continue;
      case herald::pop3::Action::authenticate: {
        std::vector<herald::pop3::MaildropEntry> md;
        for (std::size_t i = 0; i < messages.size(); ++i) md.push_back({messages[i].size(), "u" + std::to_string(i)});
        auto result = s.password() == "ok" ? herald::pop3::AuthResult::ok : herald::pop3::AuthResult::bad_credentials;
        reply = s.on_authenticated(result, std::move(md));
        break;
      }
      case herald::pop3::Action::retrieve:
        if (s.retrieve_index() >= messages.size()) std::abort();
        reply = s.on_retrieved(messages[s.retrieve_index()]);
        break;
      case herald::pop3::Action::update:
        for (auto i : s.deleted())
          if (i >= messages.size()) std::abort();
        reply = s.on_updated({});
        break;
    }
    check_replies(reply, false);
  }
  return 0;
}
