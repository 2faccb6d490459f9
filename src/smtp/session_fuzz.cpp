// smtp/session_fuzz.cpp - any bytes into an SMTP session: no crash, no
// unbounded growth, and every reply line is a well-formed SMTP reply.
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "smtp/session.h"
#include "smtp/test_limits.h"

namespace {

// fuzz_decision - the driver's answer to a recipient check.
herald::smtp::RcptDecision fuzz_decision(const herald::smtp::Mailbox& m) {
  herald::smtp::RcptDecision d;
  if (m.local_part.size() % 3 == 1) d.status = herald::smtp::RcptStatus::unknown_user;
  else if (m.local_part.size() % 3 == 2 && m.domain.size() % 2) d.status = herald::smtp::RcptStatus::temp_fail;
  else d.deliver_to.push_back(m.str());
  return d;
}

void check_replies(const std::string& out) {
  std::size_t pos = 0;
  while (pos < out.size()) {
    std::size_t eol = out.find("\r\n", pos);
    if (eol == std::string::npos || eol - pos < 3) std::abort();
    if (out[pos] < '2' || out[pos] > '5') std::abort();
    for (int i = 1; i < 3; ++i)
      if (out[pos + i] < '0' || out[pos + i] > '9') std::abort();
    pos = eol + 2;
  }
}

}  // namespace

extern const std::vector<std::string> kFuzzSeeds;
const std::vector<std::string> kFuzzSeeds = {
    "EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\nSubject: x\r\n\r\n..dot\r\n.\r\nQUIT\r\n",
    "EHLO a\r\nMAIL FROM:<> SIZE=100 BODY=8BITMIME\r\nRCPT TO:<@r,@s:x@y.z>\r\nBDAT 5\r\nhelloBDAT 0 LAST\r\n",
    "HELO a\r\nMAIL FROM:<\"quoted local\"@[127.0.0.1]>\r\nRCPT TO:<postmaster>\r\nDATA\r\na\nb\rc\r\n.\r\n",
    "EHLO a\r\nMAIL FROM:<\xc3\xa9@b.c> SMTPUTF8\r\nRCPT TO:<\xc3\xa9@\xc3\xa9.c>\r\nVRFY x\r\nRSET\r\nNOOP\r\n",
    "BDAT 3\r\nabcDATA\r\nEXPN x\r\nHELP\r\n",
};

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  herald::smtp::SmtpLimits limits = herald::smtp::test_limits();
  limits.max_message_size = 4096;
  limits.max_recipients = 5;
  limits.vrfy = size % 2 ? herald::smtp::VrfyMode::verify : herald::smtp::VrfyMode::ambiguous;
  limits.allow_bare_lf = size % 3 == 0;
  herald::smtp::Session s(limits, "mx.fuzz.test");
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Feed line by line (a well-behaved client waits for each reply, so the
  // anti-pipelining rule does not end every session at once), splitting
  // long lines so the partial-line paths run too.
  std::size_t pos = 0;
  while (pos < input.size()) {
    std::size_t eol = input.find('\n', pos);
    std::size_t len = eol == std::string_view::npos ? input.size() - pos : eol + 1 - pos;
    len = std::min<std::size_t>(len, 700);
    s.feed(input.substr(pos, len));
    pos += len;
    for (;;) {
      auto step = s.step();
      check_replies(step.output);
      if (step.action == herald::smtp::Action::check_recipient) {
        s.on_recipient_checked(fuzz_decision(s.recipient_check().forward_path));
        continue;
      }
      if (step.action == herald::smtp::Action::submit) {
        if (s.transaction().data.size() > limits.max_message_size) std::abort();
        s.on_submitted(herald::smtp::SubmitOutcome::queued, "FUZZ");
        continue;
      }
      if (step.action == herald::smtp::Action::close) return 0;
      break;
    }
  }
  return 0;
}
