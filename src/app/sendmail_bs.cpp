// app/sendmail_bs.cpp - sendmail -bs: SMTP on standard input and output,
// an smtp::Session in this process (herald only: herald-sendmail runs
// herald for it, so that it does not load what the session links).
#include <sysexits.h>
#include <unistd.h>

#include <cerrno>

#include "app/run.h"
#include "base/env.h"
#include "server/startup.h"
#include "smtp/session.h"

namespace herald::app {

// smtp_session - -bs: SMTP on standard input and output (as Postfix's
// sendmail -bs, for programs that speak SMTP to a local command). Each
// message taken is left in the maildrop; recipients are checked by the
// daemon, which reports the ones it refuses to the sender.
int smtp_session(const spool::SendmailArgs& args, const config::Config& c) {
  const std::string& domain = c.maildrop.sender_domain;
  smtp::Session session(server::smtp_limits(c.smtp), c.hostname);
  session.set_auth_options(smtp::AuthOptions{});
  std::string body;
  if (!write_fd(1, session.greeting())) return EX_IOERR;
  // The session gets a line at a time, as from a client that waits for
  // each reply: a local program may write its whole dialogue at once, which
  // over a socket would be pipelining before EHLO's answer.
  std::string input;
  std::size_t at = 0;
  char buf[65536];
  for (;;) {
    smtp::Step s = session.step();
    // A message's octets, while it comes; one that ended without a submit
    // (refused at its end) is dropped, never put before the next.
    if (session.in_message() || s.action == smtp::Action::submit) body += session.take_body();
    else body.clear();
    if (!write_fd(1, s.output)) return EX_IOERR;
    switch (s.action) {
      case smtp::Action::need_more: {
        std::size_t nl = input.find('\n', at);
        if (nl == std::string::npos) {
          input.erase(0, at);
          at = 0;
          ssize_t n = ::read(0, buf, sizeof buf);
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) return EX_OK;
          input.append(buf, static_cast<std::size_t>(n));
          nl = input.find('\n', at);
          // A line longer than a read waits for its end (the session bounds it).
          if (nl == std::string::npos) {
            session.feed(input);
            input.clear();
            break;
          }
        }
        session.feed(std::string_view(input).substr(at, nl + 1 - at));
        at = nl + 1;
        break;
      }
      case smtp::Action::check_recipient: {
        const smtp::RecipientCheck& check = session.recipient_check();
        session.on_recipient_checked({smtp::RcptStatus::ok, {check.forward_path.str()}});
        break;
      }
      case smtp::Action::check_sender: session.on_sender_checked(smtp::SenderVerdict::allowed); break;
      case smtp::Action::flush_queue: session.on_queue_flushed(std::nullopt); break;
      case smtp::Action::submit: {
        smtp::Transaction& tx = session.transaction();
        spool::Message m{tx.sender(), {}, std::exchange(body, {})};
        for (const auto& r : tx.recipients) m.recipients.push_back(spool::qualify(r.forward_path.str(), domain));
        if (Status st = to_maildrop(c, spool::maildrop_stream(m, args, "localhost")); st)
          session.on_submitted(smtp::SubmitOutcome::queued, "maildrop");
        else
          session.on_submitted(smtp::SubmitOutcome::temp_fail, st.error().message);
        break;
      }
      case smtp::Action::close:
      case smtp::Action::starttls:
      case smtp::Action::authenticate: return EX_OK;
    }
  }
}

}  // namespace herald::app
