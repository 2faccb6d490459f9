#include "smtp/reply.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "base/base64.h"
#include "base/text.h"
#include "smtp/address.h"

namespace herald::smtp {

namespace {

// RFC 4954 4: an AUTH command line may reach 12288 octets.
constexpr std::size_t kMaxAuthLine = 12288;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// breaks_line - s holds an octet that would end or cut the command line.
bool breaks_line(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

Error invalid(std::string message) { return make_error(Errc::invalid, std::move(message)); }

// digits - 1 to 3 decimal digits at text[pos], as RFC 3463 2's subject and
// detail; advances pos. nullopt when there are none or more than 3.
std::optional<int> digits(std::string_view text, std::size_t& pos) {
  std::size_t start = pos;
  int value = 0;
  while (pos < text.size() && is_digit(text[pos]) && pos - start < 4) value = value * 10 + (text[pos++] - '0');
  if (pos == start || pos - start > 3) return std::nullopt;
  return value;
}

// parse_enhanced - an RFC 3463 2 code at the start of a reply line's text,
// followed by a space or the end of the line (RFC 2034 4); used is set to
// the octets it takes, its space included. Its class must be the reply
// code's first digit: a "4.0.0" in a 250 reply is text, not a status.
std::optional<EnhancedStatus> parse_enhanced(std::string_view text, int code, std::size_t& used) {
  // RFC 3463 2: class is 2, 4 or 5; RFC 2034 4 adds no code to 3yz replies.
  if (text.size() < 5 || text[1] != '.' || text[0] - '0' != code / 100 || text[0] == '3') return std::nullopt;
  EnhancedStatus e;
  e.klass = text[0] - '0';
  std::size_t pos = 2;
  auto subject = digits(text, pos);
  if (!subject || pos >= text.size() || text[pos] != '.') return std::nullopt;
  ++pos;
  auto detail = digits(text, pos);
  if (!detail || (pos < text.size() && text[pos] != ' ')) return std::nullopt;
  e.subject = *subject;
  e.detail = *detail;
  used = pos < text.size() ? pos + 1 : pos;
  return e;
}

// valid_path - path (without brackets) is one RFC 5321 4.1.2 Mailbox and
// nothing more: the grammar is what keeps "a@b> SIZE=1" from adding a
// parameter. utf8: non-ASCII is allowed (RFC 6531 3.4). A bare
// "postmaster" passes only where a domain is not required (RCPT, 4.1.1.3).
bool valid_path(std::string_view path, bool utf8, bool domain_required) {
  ParsedPath p = parse_path(fmt::format("<{}>", path), /*allow_null=*/false, AddressLimits{}, utf8);
  return p.error == PathError::none && p.params.empty() && !(domain_required && p.mailbox.domain.empty());
}

// valid_word - a single non-empty token of letters, digits, "-" and "_"
// (SASL mechanism names, RFC 4422 3.1; DSN addr-types, RFC 3461 4.2).
bool valid_word(std::string_view s, std::size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s)
    if (!is_digit(c) && !(ascii_upper(c) >= 'A' && ascii_upper(c) <= 'Z') && c != '-' && c != '_') return false;
  return true;
}

// check_domain - the argument of EHLO/HELO: one word, nothing that ends it.
Status check_domain(std::string_view verb, std::string_view domain) {
  if (domain.empty() || breaks_line(domain) || domain.find(' ') != std::string_view::npos)
    return invalid(fmt::format("{}: the domain must be one word without CR, LF or NUL", verb));
  return {};
}

}  // namespace

std::string EnhancedStatus::str() const { return fmt::format("{}.{}.{}", klass, subject, detail); }

std::string Reply::text() const { return fmt::format("{}", fmt::join(lines, " ")); }

// ---- ReplyParser ----

ReplyParser::ReplyParser(ReplyLimits limits) : limits_(limits), reader_(limits.max_line) {}

void ReplyParser::feed(std::string_view bytes) {
  if (!error_) reader_.feed(bytes);
}

ProtocolError ReplyParser::fail(std::string reason) {
  error_ = ProtocolError{std::move(reason), true};
  reader_.discard_buffered();
  return *error_;
}

NextReply ReplyParser::next() {
  if (error_) return *error_;
  // RFC 5321 4.2 ends every reply line with CRLF. A bare LF is accepted as
  // the end of a line all the same: a reply is read by this client only, is
  // relayed nowhere, and its lines are still delimited without ambiguity, so
  // leniency here opens no smuggling door (that needs two receivers of
  // message data to disagree on its end); strictness would only fail
  // deliveries to broken servers. A CR anywhere else is refused (take_line).
  while (auto line = reader_.next_view()) {
    if (line->too_long) return fail(fmt::format("reply line longer than {} octets", limits_.max_line));
    bool last = false;
    if (auto error = take_line(line->text, last)) return fail(std::move(error->reason));
    if (last) return std::exchange(partial_, Reply{});
  }
  return NeedMore{};
}

// take_line - one reply line into partial_: "code-text" or "code text"
// (RFC 5321 4.2); last is set on the final line.
std::optional<ProtocolError> ReplyParser::take_line(std::string_view text, bool& last) {
  auto shown = [&] { return printable(text, 80); };
  if (text.size() < 3 || !is_digit(text[0]) || !is_digit(text[1]) || !is_digit(text[2]))
    return ProtocolError{fmt::format("reply line without a 3-digit code: {}", shown())};
  // RFC 5321 4.2.1: 2yz..5yz are the only replies a server may send; the
  // first digit alone decides what the client does, so the other two are
  // taken as they come (4.2 narrows the second to 0-5; 4.2.4 asks clients to
  // read unknown codes by their first digit).
  int code = (text[0] - '0') * 100 + (text[1] - '0') * 10 + (text[2] - '0');
  if (code < 200 || code > 599) return ProtocolError{fmt::format("reply code outside 2xx-5xx: {}", shown())};
  if (text.size() > 3 && text[3] != ' ' && text[3] != '-')
    return ProtocolError{fmt::format("no space or hyphen after the reply code: {}", shown())};
  // RFC 5321 4.2.1: every line of a multiline reply carries the same code.
  if (partial_.code != 0 && code != partial_.code)
    return ProtocolError{fmt::format("reply line code {} inside a {} reply", code, partial_.code)};
  if (partial_.lines.size() >= limits_.max_lines)
    return ProtocolError{fmt::format("reply longer than {} lines", limits_.max_lines)};
  // RFC 5321 2.3.8: CR only before LF; NUL is not text either (4.2's
  // textstring). Either could make one line read as two, or cut it short,
  // in a log or a DSN that quotes it.
  if (text.find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos)
    return ProtocolError{fmt::format("CR or NUL inside a reply line: {}", shown())};
  last = text.size() == 3 || text[3] == ' ';
  std::string_view rest = text.size() > 4 ? text.substr(4) : std::string_view();
  std::size_t used = 0;
  bool first = partial_.code == 0;
  partial_.code = code;
  if (first) {
    partial_.enhanced = parse_enhanced(rest, code, used);
  } else if (partial_.enhanced) {
    // RFC 2034 4 repeats the code on every line; one that differs is kept
    // as text rather than failing a reply whose first line was clear.
    auto again = parse_enhanced(rest, code, used);
    if (again != partial_.enhanced) used = 0;
  }
  partial_.lines.emplace_back(rest.substr(used));
  return std::nullopt;
}

// ---- EHLO ----

bool Extensions::has(std::string_view keyword) const { return params.count(to_upper(keyword)) > 0; }

namespace {

// valid_keyword - RFC 5321 4.1.1.1: ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
bool valid_keyword(std::string_view k) {
  if (k.empty() || k.front() == '-') return false;
  for (char c : k)
    if (!is_digit(c) && !(ascii_upper(c) >= 'A' && ascii_upper(c) <= 'Z') && c != '-') return false;
  return true;
}

}  // namespace

std::optional<Extensions> parse_ehlo(const Reply& reply) {
  if (reply.code != 250 || reply.lines.empty()) return std::nullopt;
  Extensions e;
  std::string_view first = trim(reply.lines[0]);
  e.domain = std::string(first.substr(0, first.find(' ')));
  for (std::size_t i = 1; i < reply.lines.size(); ++i) {
    std::vector<std::string_view> words;
    for (std::string_view w : split(reply.lines[i], ' '))
      if (!w.empty()) words.push_back(w);
    if (words.empty()) continue;
    std::string_view keyword = words[0];
    std::optional<std::string_view> glued;
    // "AUTH=LOGIN PLAIN": the pre-RFC 2554 draft's form, still sent
    // beside "AUTH LOGIN PLAIN" for old clients.
    if (istarts_with(keyword, "AUTH=")) {
      glued = keyword.substr(5);
      keyword = keyword.substr(0, 4);
    }
    if (!valid_keyword(keyword)) continue;
    bool is_auth = iequals(keyword, "AUTH");
    auto& params = e.params[to_upper(keyword)];
    if (glued && !glued->empty()) words.insert(words.begin() + 1, *glued);
    for (std::size_t w = 1; w < words.size(); ++w) {
      // RFC 4422 3.1: mechanism names are upper-case; one list, no repeats.
      std::string param = is_auth ? to_upper(words[w]) : std::string(words[w]);
      if (is_auth && std::find(params.begin(), params.end(), param) != params.end()) continue;
      params.push_back(std::move(param));
    }
  }
  e.pipelining = e.has("PIPELINING");
  e.eightbitmime = e.has("8BITMIME");
  e.smtputf8 = e.has("SMTPUTF8");
  e.starttls = e.has("STARTTLS");
  e.chunking = e.has("CHUNKING");
  e.binarymime = e.has("BINARYMIME");
  e.dsn = e.has("DSN");
  e.enhancedstatuscodes = e.has("ENHANCEDSTATUSCODES");
  if (auto it = e.params.find("SIZE"); it != e.params.end()) {
    // RFC 1870 4: no parameter, or 0, means no fixed maximum; a parameter
    // we cannot read is taken the same way, and the server's 552 decides.
    std::optional<std::uint64_t> n;
    if (!it->second.empty()) n = parse_uint(it->second[0]);
    e.size = n.value_or(0);
  }
  if (auto it = e.params.find("AUTH"); it != e.params.end()) e.auth = it->second;
  return e;
}

// ---- Commands ----

Result<std::string> format_ehlo(std::string_view domain) {
  if (auto s = check_domain("EHLO", domain); !s) return s.error();
  return fmt::format("EHLO {}\r\n", domain);
}

Result<std::string> format_helo(std::string_view domain) {
  if (auto s = check_domain("HELO", domain); !s) return s.error();
  return fmt::format("HELO {}\r\n", domain);
}

std::string xtext(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (unsigned char c : raw) {
    if (c >= '!' && c <= '~' && c != '+' && c != '=') out += static_cast<char>(c);
    else out += fmt::format("+{:02X}", c);
  }
  return out;
}

std::optional<std::string> xtext_decode(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = hex(text[i + 1]), lo = hex(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c >= '!' && c <= '~' && c != '=') {
      out += c;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

std::optional<Notify> parse_notify(std::string_view value) {
  Notify n;
  std::size_t words = 0;
  while (true) {
    std::size_t comma = value.find(',');
    std::string_view word = value.substr(0, comma);
    bool* flag = iequals(word, "NEVER")     ? &n.never
                 : iequals(word, "SUCCESS") ? &n.success
                 : iequals(word, "FAILURE") ? &n.failure
                 : iequals(word, "DELAY")   ? &n.delay
                                            : nullptr;
    if (flag == nullptr || *flag) return std::nullopt;  // unknown, or twice
    *flag = true;
    ++words;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  if (n.never && words > 1) return std::nullopt;  // NEVER stands alone
  return n;
}

std::string notify_text(const std::optional<Notify>& notify) {
  if (!notify) return "";
  if (notify->never) return "NEVER";
  std::vector<std::string_view> words;
  if (notify->success) words.push_back("SUCCESS");
  if (notify->failure) words.push_back("FAILURE");
  if (notify->delay) words.push_back("DELAY");
  return fmt::format("{}", fmt::join(words, ","));
}

std::optional<DsnRet> parse_ret(std::string_view value) {
  if (iequals(value, "FULL")) return DsnRet::full;
  if (iequals(value, "HDRS")) return DsnRet::hdrs;
  return std::nullopt;
}

std::string_view ret_text(DsnRet ret) {
  switch (ret) {
    case DsnRet::full: return "FULL";
    case DsnRet::hdrs: return "HDRS";
    case DsnRet::unspecified: break;
  }
  return "";
}

std::optional<Orcpt> parse_orcpt(std::string_view value) {
  std::size_t semi = value.find(';');
  if (semi == std::string_view::npos) return std::nullopt;
  std::string_view type = value.substr(0, semi);
  if (!valid_word(type, 64)) return std::nullopt;
  auto address = xtext_decode(value.substr(semi + 1));
  if (!address || address->empty()) return std::nullopt;
  return Orcpt{std::string(type), std::move(*address)};
}

Result<std::string> format_mail(std::string_view reverse_path, const MailParams& params) {
  if (breaks_line(reverse_path) || breaks_line(params.envid))
    return invalid("MAIL: an argument holds CR, LF or NUL");
  if (!reverse_path.empty() && !valid_path(reverse_path, params.smtputf8, true))
    return invalid(fmt::format("MAIL: not a mailbox{}: {}", params.smtputf8 ? "" : " without SMTPUTF8",
                               printable(reverse_path, 100)));
  std::string line = fmt::format("MAIL FROM:<{}>", reverse_path);
  if (params.size) line += fmt::format(" SIZE={}", *params.size);
  switch (params.body) {
    case BodyType::unspecified: break;
    case BodyType::seven_bit: line += " BODY=7BIT"; break;
    case BodyType::eight_bit_mime: line += " BODY=8BITMIME"; break;
    case BodyType::binary_mime: line += " BODY=BINARYMIME"; break;
  }
  if (params.smtputf8) line += " SMTPUTF8";
  switch (params.ret) {
    case DsnRet::unspecified: break;
    case DsnRet::full: line += " RET=FULL"; break;
    case DsnRet::hdrs: line += " RET=HDRS"; break;
  }
  if (!params.envid.empty()) line += " ENVID=" + xtext(params.envid);
  return line + "\r\n";
}

Result<std::string> format_rcpt(std::string_view forward_path, const RcptParams& params) {
  if (breaks_line(forward_path) || breaks_line(params.orcpt) || breaks_line(params.orcpt_type))
    return invalid("RCPT: an argument holds CR, LF or NUL");
  if (forward_path.empty() || !valid_path(forward_path, /*utf8=*/true, false))
    return invalid(fmt::format("RCPT: not a mailbox: {}", printable(forward_path, 100)));
  std::string line = fmt::format("RCPT TO:<{}>", forward_path);
  if (params.notify) {
    const Notify& n = *params.notify;
    bool any = n.success || n.failure || n.delay;
    // RFC 3461 4.1: NEVER alone, or a list of the others.
    if (n.never == any) return invalid("RCPT: NOTIFY is NEVER alone or a list of SUCCESS, FAILURE, DELAY");
    std::vector<std::string_view> words;
    if (n.never) words.push_back("NEVER");
    if (n.success) words.push_back("SUCCESS");
    if (n.failure) words.push_back("FAILURE");
    if (n.delay) words.push_back("DELAY");
    line += fmt::format(" NOTIFY={}", fmt::join(words, ","));
  }
  if (!params.orcpt.empty()) {
    if (!valid_word(params.orcpt_type, 64)) return invalid("RCPT: bad ORCPT address type");
    line += fmt::format(" ORCPT={};{}", params.orcpt_type, xtext(params.orcpt));
  }
  return line + "\r\n";
}

std::string format_data() { return "DATA\r\n"; }

std::string format_bdat(std::uint64_t size, bool last) {
  return fmt::format("BDAT {}{}\r\n", size, last ? " LAST" : "");
}

std::string format_rset() { return "RSET\r\n"; }
std::string format_noop() { return "NOOP\r\n"; }
std::string format_quit() { return "QUIT\r\n"; }
std::string format_starttls() { return "STARTTLS\r\n"; }

Result<std::string> format_auth(std::string_view mechanism, std::optional<std::string_view> initial_response) {
  // RFC 4422 3.1: 1 to 20 of upper-case letters, digits, "-" and "_".
  if (!valid_word(mechanism, 20)) return invalid(fmt::format("AUTH: bad mechanism name {}", printable(mechanism, 40)));
  if (!initial_response) return fmt::format("AUTH {}\r\n", mechanism);
  // RFC 4954 4: a zero-length initial response is sent as "=".
  std::string encoded = initial_response->empty() ? "=" : base64_encode(*initial_response);
  std::string line = fmt::format("AUTH {} {}\r\n", mechanism, encoded);
  if (line.size() > kMaxAuthLine)
    return invalid("AUTH: the initial response would pass 12288 octets; send it after the 334");
  return line;
}

std::string format_auth_response(std::string_view response) { return base64_encode(response) + "\r\n"; }

std::string format_auth_cancel() { return "*\r\n"; }

std::string dot_stuff(std::string_view body) {
  std::string out;
  out.reserve(body.size() + body.size() / 64 + 5);
  DotStuffer stuffer;
  stuffer.feed(body, out);
  stuffer.finish(out);
  return out;
}

void DotStuffer::feed(std::string_view body, std::string& out) {
  std::size_t pos = 0;
  // A CRLF split between two pieces: the CR ended the line already.
  if (after_cr_ && !body.empty() && body.front() == '\n') pos = 1;
  if (!body.empty()) after_cr_ = false;
  while (pos < body.size()) {
    // RFC 5321 4.5.2: a line that starts with "." gets one more.
    if (line_start_ && body[pos] == '.') out += '.';
    std::size_t end = body.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) {
      out.append(body.substr(pos));
      line_start_ = false;
      return;
    }
    out.append(body.substr(pos, end - pos));
    out += "\r\n";
    line_start_ = true;
    // CRLF, a bare LF and a bare CR each end one line.
    if (body[end] == '\r') {
      if (end + 1 == body.size()) after_cr_ = true;
      else if (body[end + 1] == '\n') ++end;
    }
    pos = end + 1;
  }
}

void DotStuffer::finish(std::string& out) {
  if (!line_start_) out += "\r\n";
  out += ".\r\n";
  line_start_ = true;
  after_cr_ = false;
}

}  // namespace herald::smtp
