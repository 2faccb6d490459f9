// spool/sendmail.h - the sendmail door as data: Postfix's sendmail command
// line, and the maildrop file a call leaves for the daemon (an SMTP data
// stream, spool/stream.h's first format), so that cron, PHP, mailx and
// monitoring tools send mail the way they always have.
//
// Pure: app/sendmail.cpp reads standard input, writes the file and exits
// with a sysexits.h code.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace herald::spool {

struct SendmailArgs {
  enum class Mode {
    deliver,  // -bm (the default): read a message, leave it for the daemon
    smtp,     // -bs: SMTP on standard input and output
    verify,   // -bv: ask the daemon about the recipients; the answer is mailed
    list,     // -bp (and mailq): the queue
    flush,    // -q: try the queue now
  };
  Mode mode = Mode::deliver;
  bool extract = false;      // -t: recipients from To, Cc, Bcc too
  bool dot_ends = true;      // a line "." ends the message; -i, -oi: no
  bool sender_given = false;
  std::string sender;        // -f / -r; "" with sender_given = the null sender
  std::string full_name;     // -F
  std::string notify;        // -N: "never", or "success,delay,failure" (RFC 3461)
  std::string ret;           // -R: "full" or "hdrs"
  std::string envid;         // -V
  std::string config;        // -C: Herald's configuration file
  std::vector<std::string> recipients;
};

// parse_sendmail_args - args without argv[0]; "mailq" as the program
// name is -bp. Unknown -o options and Postfix's options without meaning
// here (-v, -n, -U, -L, -B, -h, -X, -G, -A, -bm) are accepted and ignored;
// others are Errc::invalid (EX_USAGE), as are CR or LF in -F or -f.
Result<SendmailArgs> parse_sendmail_args(std::string_view program, const std::vector<std::string>& args);

// Message - what a call sends: the envelope and the message text.
struct Message {
  std::string sender;  // "" = the null sender
  std::vector<std::string> recipients;
  std::string text;    // CRLF lines, not dot-stuffed
};

// read_message - standard input's octets as the message of args: line
// ends made CRLF, a line "." ending it unless -i, recipients from the
// header with -t (argv's added, as Postfix does) and Bcc taken out, a From
// added when there is none ("Full Name <sender>"). sender is the envelope
// sender already decided (-f or the user's own). Errc::invalid: no
// recipients.
Result<Message> read_message(const SendmailArgs& args, std::string_view input, const std::string& sender);

// qualify - an address without a domain gets domain (Postfix's myorigin).
std::string qualify(std::string_view address, std::string_view domain);

// maildrop_stream - the file for the daemon: an SMTP data stream of one
// transaction, with the DSN parameters asked for.
std::string maildrop_stream(const Message& m, const SendmailArgs& args, std::string_view helo);

// verify_stream - the file for -bv: VRFY of each recipient.
std::string verify_stream(const std::vector<std::string>& recipients, std::string_view helo);

}  // namespace herald::spool
