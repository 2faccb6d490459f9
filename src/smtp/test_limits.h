// smtp/test_limits.h - the bounds the SMTP tests and fuzz targets run a
// session with. The server takes them from the config, whose key table
// holds the defaults; these are the values the tests were written for.
#pragma once

#include "smtp/session.h"

namespace herald::smtp {

inline SmtpLimits test_limits() {
  SmtpLimits l;
  l.max_text_line = 1000;
  l.max_recipients = 100;
  l.max_message_size = 25u << 20;
  l.max_errors = 20;
  l.junk_command_limit = 100;
  l.recipient_overshoot_limit = 1000;
  return l;
}

}  // namespace herald::smtp
