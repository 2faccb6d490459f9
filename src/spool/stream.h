// spool/stream.h - the files batch jobs write into a spool directory, read
// as data: which of the three formats a file is, and an SMTP data stream
// cut into what a client would send, one command or block of data at a
// time (docs/ARCHITECTURE.md "Mail from programs").
//
// Pure: octets in, units out; no file, clock or store. The spool agent
// (server/spool.h) reads the file twice through a StreamReader: once to
// check its shape (a file that ends inside DATA, or holds garbage where a
// command should be, is quarantined whole, so nothing of it is half sent),
// then to feed the units to an smtp::Session, as a client that waits for
// each reply would.
//
// Old writers are tolerated (RFC 821 habits): LF line ends become CRLF, a
// bare HELO gets a name, a stream without HELO gets one, and text lines over
// 998 octets (RFC 5322 2.1.1) are folded (in the header, as a continuation
// line) unless the spool refuses them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace herald::spool {

// Format - what a spool file holds, recognised by its first line.
enum class Format {
  data_stream,  // HELO/EHLO, MAIL FROM, RCPT TO..., DATA, text, "." (and more)
  message,      // an RFC 5322 message: recipients from To, Cc, Bcc
  send_job,     // control statements (From:, To:, Subject:, Attach:, Body:)
  garbage,      // none of these: quarantined
};
std::string_view to_string(Format f);

// classify - the format of a file that begins with head (its first few
// KiB; the whole file when shorter).
Format classify(std::string_view head);

struct StreamLimits {
  std::size_t max_command_line = 512;  // RFC 5321 4.5.3.1.4
  std::size_t max_text_line = 998;     // RFC 5322 2.1.1, CRLF excluded
  bool fold_long_lines = true;         // false: they stay, and the session refuses the message
  std::string helo_name = "spool";     // given to a bare HELO, or a stream without one
};

// Unit - what a client would send before it waits for a reply.
struct Unit {
  enum class Kind {
    command,   // one command line (CRLF ended)
    data,      // message lines after DATA (CRLF ended, dot-stuffed as in the file)
    data_end,  // ".\r\n"
  };
  Kind kind = Kind::command;
  std::string_view text;
  // The transaction it belongs to: how many DATA sections ended before it.
  // (A spool checkpoint counts transactions the same way.)
  std::uint64_t transaction = 0;
};

// StreamReader - an SMTP data stream in, units out. Memory: one line (up
// to the bounds) and a block of data.
class StreamReader {
 public:
  using Sink = std::function<void(const Unit&)>;
  explicit StreamReader(StreamLimits limits) : limits_(std::move(limits)) {}
  // message - a reader of a message's text (a plain message, a send job's
  // built message) instead of a stream: every line is message data,
  // dot-stuffed here, and the end of the input ends it with ".".
  static StreamReader message(StreamLimits limits) {
    StreamReader r(std::move(limits));
    r.raw_text_ = r.in_data_ = r.in_header_ = r.greeted_ = true;
    return r;
  }

  // feed - the next octets of the file; whole units go to sink. An error
  // (a command line too long, NUL or control octets in a command, BDAT,
  // STARTTLS or AUTH, which a file cannot do) stops the reader: the file is
  // quarantined.
  Status feed(std::string_view octets, const Sink& sink);
  // finish - the end of the file: Errc::invalid when it ends inside DATA
  // (truncated) or in the middle of a command line.
  Status finish(const Sink& sink);

  // transactions - DATA sections ended so far.
  std::uint64_t transactions() const { return transactions_; }

 private:
  Status line(std::string_view line, const Sink& sink);  // without its line end
  Status command(std::string_view line, const Sink& sink);
  void text_line(std::string_view line, const Sink& sink);
  void flush_data(const Sink& sink);

  StreamLimits limits_;
  std::string partial_;    // a line not ended yet
  bool in_data_ = false;
  bool in_header_ = false;  // in DATA, before the blank line
  bool continuing_ = false; // partial_ is the rest of a line already cut
  bool greeted_ = false;    // a HELO/EHLO was given (or made)
  bool failed_ = false;
  bool raw_text_ = false;   // message(): lines are stuffed here, "." ends nothing
  std::string out_;         // the unit being assembled
  std::string data_;        // message lines gathered for one data unit
  std::uint64_t transactions_ = 0;
};

// fold_line - a text line (CRLF excluded) cut into lines of at most max
// octets: in the header section each continuation starts with a space
// (RFC 5322 2.2.3 folding); in the body a piece that would start with "."
// is stuffed (RFC 5321 4.5.2) when stuffed is true. Each piece is appended
// to out with its CRLF.
void fold_line(std::string_view line, std::size_t max, bool header, bool stuffed, std::string& out);

}  // namespace herald::spool
