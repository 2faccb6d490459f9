// smtp/client.h - the outbound SMTP client as a pure state machine: the
// server's replies in, commands out, one result per message. The driver
// (server/outbound.cpp) owns the socket, the TLS handshake and the body.
//
// One Client is one connection: the greeting, EHLO (HELO when EHLO is
// refused), STARTTLS as the TLS policy says, AUTH when credentials are
// configured, then any number of messages - MAIL, RCPT..., DATA, the body,
// the final dot - with RSET between them, and QUIT.
//
// Invariants:
//   - Every command goes out through the formatters of smtp/reply.h: one
//     line each, CR/LF/NUL refused, paths checked.
//   - Commands are pipelined (RFC 2920) only when the server offers
//     PIPELINING, and then only MAIL, RCPT and DATA: EHLO, STARTTLS, AUTH
//     and the final dot wait for their replies (RFC 2920 3.1).
//   - Each recipient of a message gets exactly one result: its RCPT reply
//     when that refused it, else the reply to the end of the data, or the
//     reason the connection was lost while it was pending.
//   - A malformed reply (smtp/reply.h's ReplyParser) ends the connection:
//     the replies after it could no longer be matched to their commands.
//
// Security notes: reply texts are the server's; they are passed through
// printable() before they reach a result (they go to logs and bounces).
//
// RFCs: 5321 (3.3 transactions, 4.1.1 commands, 4.2 replies, 4.5.3.2
// timeouts are the driver's), 2920 (PIPELINING), 3207 (STARTTLS), 4954
// (AUTH), 1870 (SIZE), 6152 (8BITMIME), 6531 (SMTPUTF8), 3463 (status codes).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/reply.h"

namespace herald::smtp {

// TlsPolicy - Postfix's smtp_tls_security_level: none never starts TLS; may
// starts it when offered (a failed handshake then ends the connection: the
// next attempt goes in clear); encrypt and verify require it (verify also
// has the driver check the certificate).
enum class TlsPolicy { none, may, encrypt, verify };

struct ClientOptions {
  std::string helo_name;                  // our name in EHLO/HELO
  TlsPolicy tls = TlsPolicy::may;
  std::string auth_user;                  // "" = no AUTH
  std::string auth_password;
  bool auth_without_tls = false;          // AUTH over a connection in clear
  ReplyLimits reply_limits;
};

// OutboundMessage - one message as the client sends it.
struct OutboundMessage {
  std::string sender;                   // "" = the null reverse-path
  std::vector<std::string> recipients;
  std::uint64_t size = 0;               // octets of the body, for SIZE= (RFC 1870)
  bool eight_bit = false;               // the body holds octets over 127 (BODY=8BITMIME)
  bool smtputf8 = false;                // an address is not ASCII (RFC 6531)
  // RFC 3461, passed on only to a server that offers DSN: RET and ENVID,
  // and per recipient (empty, or one per recipient) NOTIFY and ORCPT.
  DsnRet ret = DsnRet::unspecified;
  std::string envid;
  std::vector<RcptParams> rcpt_params;
};

// Outcome - what became of a recipient (or of a whole connection).
enum class Outcome { delivered, deferred, bounced };

// Verdict - an outcome with the reply (or reason) behind it, ready for a
// log line, a queue row and a bounce: "550 5.1.1 <x@y>: Recipient address
// rejected" and "in reply to RCPT TO command".
struct Verdict {
  Outcome outcome = Outcome::deferred;
  int code = 0;                 // the server's reply code; 0 when it gave none
  std::string status;           // RFC 3463 code: the server's, or one that fits the code
  std::string text;             // the reply (printable) or what went wrong
  std::string stage;            // "RCPT TO", "end of DATA", "MAIL FROM", "greeting", ...
  // diagnostic - "host said: 550 5.1.1 ... (in reply to RCPT TO command)"
  // without the host, which the driver adds.
  std::string diagnostic() const;
  // local - a verdict no server gave (code 0): a check of ours, a lost
  // connection, a failed lookup.
  static Verdict local(Outcome outcome, std::string status, std::string text);
};

// MessageResult - one Verdict per recipient of the message, in its order.
struct MessageResult {
  std::vector<Verdict> recipients;
};

enum class ClientAction {
  need_more,     // read and feed() the server's next octets
  starttls,      // do the TLS handshake as a client, then on_tls()
  ready,         // between messages: send() one, or quit()
  send_body,     // write the body dot-stuffed and its final dot, then body_sent()
  message_done,  // take_result(), then step() on
  closed,        // the connection is over (failure() says why, if it failed)
};

struct ClientStep {
  std::string output;  // commands to write before reading on
  ClientAction action = ClientAction::need_more;
};

class Client {
 public:
  explicit Client(ClientOptions options);

  void feed(std::string_view bytes) { parser_.feed(bytes); }
  ClientStep step();

  // on_tls - the handshake's outcome; on success the session starts again
  // with EHLO (RFC 3207 4.2), on failure it is over.
  void on_tls(bool ok);
  // send - the next message. REQUIRES: step() returned ready.
  void send(const OutboundMessage& message);
  // body_sent - the body and its dot are written. REQUIRES: send_body.
  void body_sent();
  // quit - no more messages. REQUIRES: ready.
  void quit();
  // lost - the connection broke (EOF, timeout, TLS error): pending
  // recipients are deferred with reason, and the session is over.
  void lost(const std::string& reason);

  // take_result - REQUIRES: step() returned message_done (or closed with a
  // message under way: its recipients are deferred or bounced as the
  // failure was).
  MessageResult take_result();
  bool has_result() const { return result_.has_value(); }

  // failure - why the connection ended before quit(): a reply (greeting,
  // EHLO, STARTTLS, AUTH) or a reason; nullopt after a clean QUIT.
  const std::optional<Verdict>& failure() const { return failure_; }
  const Extensions& extensions() const { return extensions_; }
  bool esmtp() const { return esmtp_; }
  bool tls_active() const { return tls_active_; }

 private:
  // What each reply still awaited answers (in order: RFC 2920 3.1).
  enum class Awaiting { greeting, ehlo, helo, starttls, auth, auth_challenge, mail, rcpt, data, dot, rset, quit };
  struct Pending {
    Awaiting what;
    std::size_t index = 0;  // rcpt: which recipient
  };
  enum class State { opening, tls, idle, sending, body, closed };

  void handle(const Reply& reply);
  void expect(Awaiting what, std::string command, std::size_t index = 0);
  void on_ehlo(const Reply& reply);
  void after_hello();
  void start_auth();
  void on_auth(const Reply& reply);
  void begin_message();
  void next_rcpt();
  // rcpt_params - recipient i's NOTIFY and ORCPT when the server offers DSN.
  RcptParams rcpt_params(std::size_t i) const;
  void finish_message(const std::optional<Verdict>& final_verdict, bool transaction_open);
  void fail_session(Verdict why, bool say_quit);
  void fail_message(const Verdict& why);
  static Verdict verdict_of(const Reply& reply, const std::string& stage);

  ClientOptions options_;
  ReplyParser parser_;
  std::string out_;
  std::deque<Pending> pending_;
  State state_ = State::opening;
  Extensions extensions_;
  bool esmtp_ = false;
  bool tls_active_ = false;
  bool tls_tried_ = false;
  bool auth_tried_ = false;
  bool quitting_ = false;
  std::optional<Verdict> failure_;
  int auth_step_ = 0;  // LOGIN: the challenges answered so far

  // The message under way.
  std::optional<OutboundMessage> message_;
  std::vector<std::optional<Verdict>> rcpt_results_;  // refused RCPTs; accepted stay empty
  std::size_t rcpt_next_ = 0;                          // without pipelining: the next RCPT to send
  std::size_t accepted_ = 0;                           // RCPTs answered 2xx
  std::optional<Verdict> mail_refused_;                // MAIL's refusal, for every recipient
  bool discard_dot_ = false;                           // an empty DATA sent only to end it
  std::optional<MessageResult> result_;
  bool body_due_ = false;
};

}  // namespace herald::smtp
