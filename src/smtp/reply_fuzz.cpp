// smtp/reply_fuzz.cpp - any bytes as a server's replies and as command
// arguments: no crash, no unbounded growth, the same replies whether fed
// whole or in pieces, every Reply within its invariants, and every command
// the formatter accepts exactly one line.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/text.h"
#include "smtp/reply.h"

namespace {

using herald::smtp::NextReply;
using herald::smtp::ProtocolError;
using herald::smtp::Reply;

struct Outcome {
  std::vector<Reply> replies;
  std::string error;  // empty: none
};

void check_reply(const Reply& r, const herald::smtp::ReplyLimits& limits) {
  if (r.code < 200 || r.code > 599 || r.lines.empty() || r.lines.size() > limits.max_lines) std::abort();
  for (const auto& line : r.lines) {
    if (line.size() + 6 > limits.max_line) std::abort();  // "ddd-" and CRLF
    if (line.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) std::abort();
  }
  if (r.enhanced && (r.enhanced->klass != r.code / 100 || r.enhanced->klass == 3)) std::abort();
  if (auto e = herald::smtp::parse_ehlo(r)) {
    for (const auto& [keyword, params] : e->params)
      if (keyword.empty() || keyword != herald::to_upper(keyword)) std::abort();
  }
}

// run - feed in pieces of `step` octets (0: whole), draining after each.
Outcome run(std::string_view input, std::size_t step, const herald::smtp::ReplyLimits& limits) {
  herald::smtp::ReplyParser p(limits);
  Outcome out;
  std::size_t pos = 0;
  do {
    std::size_t n = step == 0 ? input.size() : std::min(step, input.size() - pos);
    p.feed(input.substr(pos, n));
    pos += n;
    for (;;) {
      NextReply next = p.next();
      if (auto* r = std::get_if<Reply>(&next)) {
        check_reply(*r, limits);
        out.replies.push_back(std::move(*r));
      } else {
        if (auto* e = std::get_if<ProtocolError>(&next)) out.error = e->reason;
        break;
      }
    }
    if (p.buffered() > limits.max_line) std::abort();
  } while (pos < input.size() && out.error.empty());
  return out;
}

bool same(const Outcome& a, const Outcome& b) {
  if (a.error != b.error || a.replies.size() != b.replies.size()) return false;
  for (std::size_t i = 0; i < a.replies.size(); ++i) {
    const Reply& x = a.replies[i];
    const Reply& y = b.replies[i];
    if (x.code != y.code || x.enhanced != y.enhanced || x.lines != y.lines) return false;
  }
  return true;
}

// one_line - a formatted command is one CRLF-ended line, nothing more.
void one_line(const herald::Result<std::string>& r) {
  if (!r) return;
  const std::string& s = *r;
  if (s.size() < 2 || s.compare(s.size() - 2, 2, "\r\n") != 0) std::abort();
  if (s.find_first_of(std::string_view("\r\n\0", 3)) != s.size() - 2) std::abort();
}

// check_dot_stuff - only the final line is ".", every line ends in CRLF.
void check_dot_stuff(std::string_view body) {
  std::string out = herald::smtp::dot_stuff(body);
  if (out.size() < 3 || out.compare(out.size() - 3, 3, ".\r\n") != 0) std::abort();
  std::size_t pos = 0;
  while (pos < out.size()) {
    std::size_t crlf = out.find("\r\n", pos);
    if (crlf == std::string::npos) std::abort();
    std::string_view line(out.data() + pos, crlf - pos);
    if (line.find_first_of("\r\n") != std::string_view::npos) std::abort();
    if (line == "." && crlf + 2 != out.size()) std::abort();
    pos = crlf + 2;
  }
}

}  // namespace

extern const std::vector<std::string> kFuzzSeeds;
const std::vector<std::string> kFuzzSeeds = {
    "220 mx.example.test ESMTP\r\n250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n"
    "250-AUTH=LOGIN PLAIN\r\n250-auth plain\r\n250 CHUNKING\r\n",
    "250 2.1.0 Ok\r\n550-5.1.1 no\r\n550 5.1.1 such user\r\n354 go ahead\r\n",
    "421-4.7.0 a\n421 4.7.1 b\n250 2.10.100\r\n250\r\n",
    "250-a\r\n251 b\r\n",
    "250 a\rb\r\n099 x\r\n",
    "MAIL FROM:<a@b.test> SIZE=1\r\nRCPT TO:<c@d.test>\r\n.\r\n..\n.",
};

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  herald::smtp::ReplyLimits limits;
  if (size % 2) {
    limits.max_line = 64;
    limits.max_lines = 4;
  }
  Outcome whole = run(input, 0, limits);
  if (!same(whole, run(input, 1, limits))) std::abort();
  if (!same(whole, run(input, 1 + size % 7, limits))) std::abort();

  one_line(herald::smtp::format_ehlo(input));
  herald::smtp::MailParams mail;
  mail.smtputf8 = size % 3 == 0;
  mail.envid = std::string(input.substr(0, 40));
  one_line(herald::smtp::format_mail(input, mail));
  herald::smtp::RcptParams rcpt;
  rcpt.orcpt = std::string(input.substr(input.size() / 2));
  one_line(herald::smtp::format_rcpt(input, rcpt));
  one_line(herald::smtp::format_auth(input.substr(0, 24), input));
  check_dot_stuff(input);
  return 0;
}
