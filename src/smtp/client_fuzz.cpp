// smtp/client_fuzz.cpp - any bytes as the server's side of a conversation
// with the outbound client, which sends a message whenever it is ready and
// takes every path (TLS, body, quit) the bytes lead to: no crash, the
// output bounded, every recipient of every message exactly one verdict,
// "delivered" only after a body was sent, and never for an address the
// client refused to send.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/client.h"

// Seeds: whole conversations, pipelined and not, with TLS, AUTH and refusals.
extern const std::vector<std::string> kFuzzSeeds;
const std::vector<std::string> kFuzzSeeds = {
    "220 mx ESMTP\r\n250-mx\r\n250-PIPELINING\r\n250 SIZE 1000\r\n250 Ok\r\n250 Ok\r\n550 5.1.1 no\r\n"
    "354 go\r\n250 Ok\r\n250 Ok\r\n250 Ok\r\n354 go\r\n451 later\r\n250 reset\r\n221 bye\r\n",
    "220 mx\r\n502 no\r\n250 mx\r\n250 Ok\r\n250 Ok\r\n250 Ok\r\n354 go\r\n250 Ok\r\n221 bye\r\n",
    "220 mx\r\n250-mx\r\n250-STARTTLS\r\n250 AUTH LOGIN PLAIN\r\n220 go\r\n250-mx\r\n250 AUTH LOGIN\r\n"
    "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 ok\r\n",
    "554 5.7.1 go away\r\n",
    "220 mx\r\n250-mx\r\n250 PIPELINING\r\n553 no sender\r\n503 a\r\n503 b\r\n354 c\r\n250 d\r\n",
};

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace herald::smtp;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  ClientOptions options;
  options.helo_name = "herald.example.test";
  options.tls = size % 2 ? TlsPolicy::may : TlsPolicy::none;
  if (size % 3 == 0) {
    options.auth_user = "alice";
    options.auth_password = "secret";
    options.auth_without_tls = true;
  }
  Client client(options);
  OutboundMessage m;
  m.sender = "s@example.test";
  m.recipients = {"a@remote.test", "b@remote.test", "bad address"};
  m.size = 100;
  std::size_t messages = 0, pos = 0;
  bool body_sent = false;
  for (int steps = 0; steps < 10000; ++steps) {
    ClientStep s = client.step();
    if (s.output.size() > 64 * 1024) std::abort();
    switch (s.action) {
      case ClientAction::need_more: {
        if (pos >= input.size()) return 0;
        std::size_t n = std::min<std::size_t>(1 + static_cast<std::uint8_t>(input[pos]) % 64, input.size() - pos);
        client.feed(input.substr(pos, n));
        pos += n;
        break;
      }
      case ClientAction::starttls: client.on_tls(pos % 2 == 0); break;
      case ClientAction::ready:
        if (messages++ < 3) {
          body_sent = false;
          client.send(m);
        } else {
          client.quit();
        }
        break;
      case ClientAction::send_body:
        body_sent = true;
        client.body_sent();
        break;
      case ClientAction::message_done:
      case ClientAction::closed: {
        if (client.has_result()) {
          MessageResult r = client.take_result();
          if (r.recipients.size() != m.recipients.size()) std::abort();
          for (const auto& v : r.recipients)
            if (v.outcome == Outcome::delivered && !body_sent) std::abort();
          // Never sent, so never delivered (deferred if the connection
          // ended before its turn).
          if (r.recipients[2].outcome == Outcome::delivered) std::abort();
        }
        if (s.action == ClientAction::closed) return 0;
        break;
      }
    }
  }
  return 0;
}
