// smtp/reply.h - the client's side of SMTP as data: server replies parsed,
// commands formatted. For the outbound SMTP client; no I/O here.
//
// What it is for: ReplyParser turns the octets a server sends into Reply
// values (code, enhanced status code, text lines), incrementally, so the
// driver can feed whatever a read returned; parse_ehlo reads the extensions
// an EHLO reply offers; the format_* functions build command lines; dot_stuff
// prepares a message body for DATA.
//
// Invariants:
//   - A Reply's code is 200..599 and each of its text lines holds no CR, LF
//     or NUL; its enhanced code, when set, has the class of the reply code.
//   - Input is bounded: a line over ReplyLimits::max_line or a reply over
//     ReplyLimits::max_lines is an error, never a growing buffer.
//   - An error is sticky: once next() has returned a ProtocolError it returns
//     it again, because the reply boundaries after a malformed line are
//     unknown and pipelined replies (RFC 2920 3.1) could no longer be matched
//     to their commands.
//
// Security notes:
//   - Every formatted command is exactly one line: an argument holding CR, LF
//     or NUL is refused (an Error, never a second command smuggled in), and
//     paths are checked against the RFC 5321 4.1.2 grammar, so "a@b> SIZE=1"
//     cannot add a parameter. ENVID and ORCPT are xtext-encoded (RFC 3461 4),
//     the AUTH initial response base64-encoded (RFC 4954 4).
//   - dot_stuff re-terminates every line with CRLF, so a body holding a bare
//     LF or CR can never put "<LF>.<CR><LF>" on the wire for a lenient server
//     to take as the end of data (SMTP smuggling, 2023).
//   - Reply text is the server's: log it through printable().
//
// RFCs: 5321 (4.2 replies, 4.1.1 commands, 4.5.2 transparency, 4.5.3.1
// limits), 2034 and 3463 (enhanced status codes), 1870 (SIZE), 2920
// (PIPELINING), 6152 (8BITMIME), 3030 (CHUNKING, BINARYMIME), 6531 (SMTPUTF8),
// 3461 (DSN: RET, ENVID, NOTIFY, ORCPT), 3207 (STARTTLS), 4954 (AUTH).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/line_reader.h"
#include "base/result.h"

namespace herald::smtp {

struct ReplyLimits {
  // RFC 5321 4.5.3.1.5 allows 512 octets with CRLF, but servers exceed it in
  // the wild (long 5xx texts with URLs, EHLO AUTH lines), and 4.5.3.1 asks
  // receivers to accept longer lines where they can. 4096 is eight times the
  // minimum and twice Postfix's line_length_limit: tolerant, yet bounded.
  std::size_t max_line = 4096;  // octets, CRLF included
  // No standard reply needs more than a few dozen lines (a long EHLO has
  // ~20); this only stops a server that never ends its reply. Worst case
  // held: max_line * max_lines octets.
  std::size_t max_lines = 1000;
};

// EnhancedStatus - RFC 3463 2: class "." subject "." detail.
struct EnhancedStatus {
  int klass = 0;    // 2, 4 or 5 ("class" is a C++ keyword)
  int subject = 0;  // 0..999
  int detail = 0;   // 0..999
  std::string str() const;  // "5.1.1"
  bool operator==(const EnhancedStatus&) const = default;
};

// Reply - one complete reply, single- or multi-line (RFC 5321 4.2).
struct Reply {
  int code = 0;                            // 200..599
  std::optional<EnhancedStatus> enhanced;  // RFC 2034, when the first line has one
  std::vector<std::string> lines;          // each line's text, without code or enhanced code

  // RFC 5321 4.2.1: the first digit says what the client does next.
  bool positive_completion() const { return code / 100 == 2; }    // 2yz: done
  bool positive_intermediate() const { return code / 100 == 3; }  // 3yz: send more (354, 334)
  bool positive() const { return positive_completion() || positive_intermediate(); }
  bool transient() const { return code / 100 == 4; }  // 4yz: try again later
  bool permanent() const { return code / 100 == 5; }  // 5yz: do not repeat as is
  // text - the lines joined by a space, for a log or a DSN's diagnostic.
  std::string text() const;
};

struct NeedMore {};

// ProtocolError - the server broke RFC 5321 4.2. fatal: the connection
// cannot go on (true for every error ReplyParser reports: see the invariants).
struct ProtocolError {
  std::string reason;  // for the log; the offending text passed through printable()
  bool fatal = true;
};

using NextReply = std::variant<Reply, NeedMore, ProtocolError>;

// ReplyParser - replies from a byte stream, one at a time, in order.
class ReplyParser {
 public:
  explicit ReplyParser(ReplyLimits limits = {});

  // feed - buffer bytes read from the server (ignored after an error).
  void feed(std::string_view bytes);
  // next - the next complete reply; NeedMore until its last line is in.
  NextReply next();
  // buffered - octets fed but not yet part of a returned reply's last line.
  std::size_t buffered() const { return reader_.buffered(); }

 private:
  std::optional<ProtocolError> take_line(std::string_view text, bool& last);
  ProtocolError fail(std::string reason);

  ReplyLimits limits_;
  LineReader reader_;
  Reply partial_;  // the reply being assembled; code 0 before its first line
  std::optional<ProtocolError> error_;
};

// ---- EHLO (RFC 5321 4.1.1.1) ----

// Extensions - what a 250 EHLO reply offers. Keywords are case-insensitive
// (RFC 5321 2.4): stored upper-cased.
struct Extensions {
  std::string domain;                                      // the server's name, first line
  std::map<std::string, std::vector<std::string>> params;  // every keyword and its parameters
  bool pipelining = false;             // RFC 2920
  bool eightbitmime = false;           // RFC 6152
  bool smtputf8 = false;               // RFC 6531
  bool starttls = false;               // RFC 3207
  bool chunking = false;               // RFC 3030
  bool binarymime = false;             // RFC 3030 3
  bool dsn = false;                    // RFC 3461
  bool enhancedstatuscodes = false;    // RFC 2034
  // RFC 1870 4: SIZE with no or a zero parameter means no fixed limit (0).
  std::optional<std::uint64_t> size;
  std::vector<std::string> auth;      // RFC 4954 3: SASL mechanisms, upper-cased

  bool has(std::string_view keyword) const;  // case-insensitive
};

// parse_ehlo - the extensions of a 250 reply to EHLO; nullopt for any other
// code. Malformed extension lines are skipped, not fatal: a client that
// ignores what it cannot read still delivers (RFC 5321 4.1.1.1).
std::optional<Extensions> parse_ehlo(const Reply& reply);

// ---- Commands (RFC 5321 4.1.1) ----
// Each returns one command line with its CRLF, or Errc::invalid when an
// argument would break the line (CR, LF, NUL) or the grammar.

Result<std::string> format_ehlo(std::string_view domain);
Result<std::string> format_helo(std::string_view domain);

enum class BodyType { unspecified, seven_bit, eight_bit_mime, binary_mime };  // RFC 6152, 3030 3
enum class DsnRet { unspecified, full, hdrs };                                // RFC 3461 4.3

struct MailParams {
  std::optional<std::uint64_t> size;      // RFC 1870 3: SIZE=
  BodyType body = BodyType::unspecified;  // BODY=
  bool smtputf8 = false;                  // RFC 6531 3.4: SMTPUTF8
  DsnRet ret = DsnRet::unspecified;       // RET=
  std::string envid;  // RFC 3461 4.4: ENVID=, raw (xtext-encoded here); "" = none
};

// format_mail - "MAIL FROM:<reverse_path> params"; "" is the null path "<>".
// The path is a mailbox ("local@domain"), without the angle brackets.
Result<std::string> format_mail(std::string_view reverse_path, const MailParams& params = {});

// RFC 3461 4.1: NOTIFY=NEVER, or any of SUCCESS, FAILURE, DELAY.
struct Notify {
  bool never = false;
  bool success = false;
  bool failure = false;
  bool delay = false;
};

struct RcptParams {
  std::optional<Notify> notify;
  std::string orcpt;                  // RFC 3461 4.2: the original recipient, raw; "" = none
  std::string orcpt_type = "rfc822";  // its addr-type
};

// format_rcpt - "RCPT TO:<forward_path> params"; a bare "postmaster" is
// allowed (RFC 5321 4.1.1.3), the null path is not.
Result<std::string> format_rcpt(std::string_view forward_path, const RcptParams& params = {});

std::string format_data();
std::string format_bdat(std::uint64_t size, bool last);  // RFC 3030 2: "BDAT size [LAST]"
std::string format_rset();
std::string format_noop();
std::string format_quit();
std::string format_starttls();  // RFC 3207 4

// format_auth - RFC 4954 4: "AUTH mechanism [initial-response]". The
// response is raw (PLAIN's holds NULs) and is sent base64-encoded, "=" when
// empty; one that would push the line past 12288 octets is refused: send it
// after the 334 instead.
Result<std::string> format_auth(std::string_view mechanism,
                                std::optional<std::string_view> initial_response = std::nullopt);
// format_auth_response - a raw response to a 334 challenge, base64 + CRLF.
std::string format_auth_response(std::string_view response);
// format_auth_cancel - RFC 4954 4: "*" ends the exchange (501 follows).
std::string format_auth_cancel();

// dot_stuff - a message body as DATA sends it (RFC 5321 4.5.2): every line
// ended with CRLF (bare LF and bare CR become CRLF, a missing last one is
// added), a leading "." doubled, then the terminating ".\r\n" - so the body
// followed by the result's last line is the "<CRLF>.<CRLF>" of 4.1.1.4.
std::string dot_stuff(std::string_view body);

// DotStuffer - dot_stuff a piece at a time, for a body sent in pieces: the
// pieces fed, then finish(), give what dot_stuff gives for their whole.
class DotStuffer {
 public:
  // feed - the next octets of the body; their wire form appended to out.
  void feed(std::string_view body, std::string& out);
  // finish - the last line's CRLF if it had none, and the final ".\r\n".
  void finish(std::string& out);

 private:
  bool line_start_ = true;  // the next octet begins a line
  bool after_cr_ = false;   // the last octet fed was a CR that ended a line
};

// xtext - RFC 3461 4: octets outside "!".."~", "+" and "=" as "+XX".
std::string xtext(std::string_view raw);
// xtext_decode - the reverse; nullopt for text that is not xtext (an octet
// outside "!".."~", "=", or "+" without two upper-case hex digits).
std::optional<std::string> xtext_decode(std::string_view text);

// The DSN parameters a server receives (RFC 3461 4), and their text as the
// queue keeps them.
// parse_notify - "NEVER" or a comma list of SUCCESS, FAILURE, DELAY (any
// case, each once); nullopt otherwise.
std::optional<Notify> parse_notify(std::string_view value);
// notify_text - NOTIFY's value ("SUCCESS,FAILURE", "NEVER"); "" for none.
std::string notify_text(const std::optional<Notify>& notify);
// parse_ret - "FULL" or "HDRS", any case.
std::optional<DsnRet> parse_ret(std::string_view value);
std::string_view ret_text(DsnRet ret);  // "FULL", "HDRS", "" when unspecified

// Orcpt - RFC 3461 4.2: ORCPT=addr-type;xtext, decoded.
struct Orcpt {
  std::string type;     // "rfc822", "utf-8" (RFC 6533), ... as given
  std::string address;  // decoded
  std::string text() const { return type + ";" + address; }  // Original-Recipient's form (RFC 3464 2.3.1)
};
// parse_orcpt - nullopt when the type is not an atom or the value not xtext.
std::optional<Orcpt> parse_orcpt(std::string_view value);

// wants_failure, wants_delay, wants_success - whether a report of that kind
// goes to the sender: without NOTIFY, failures and delays (RFC 3461 4.1:
// the MTA's default, as Postfix's); with it, what it names.
inline bool wants_failure(const std::optional<Notify>& n) { return !n || n->failure; }
inline bool wants_delay(const std::optional<Notify>& n) { return !n || n->delay; }
inline bool wants_success(const std::optional<Notify>& n) { return n && n->success; }

}  // namespace herald::smtp
