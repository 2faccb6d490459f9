// spool/job.h - a send job: the control statements of SMTP-Send, for batch
// jobs that cannot run a program but want attachments. One statement per
// line, "Keyword: value", keywords in any case:
//
//   From: Payroll <payroll@example.org>
//   To: a@example.org, b@example.org     (To, Cc, Bcc may repeat)
//   Reply-To: desk@example.org
//   Subject: Payslips for March
//   Header: X-Job: PAY0310               (any more header field)
//   Html: /data/pay/summary.html         (an HTML alternative of the text)
//   Attach: /data/pay/report.pdf         (as many as wanted)
//   Body:                                (the text follows, to the end)
//
// Pure: the statements parsed into a request; the spool agent reads the
// files they name (as the job's owner may) and the MIME builder makes the
// message (mime/builder.h).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace herald::spool {

struct SendJob {
  std::string from;  // "" = the owner's address
  std::vector<std::string> to, cc, bcc, reply_to;  // addresses
  std::string subject;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string html;                 // a path; "" = none
  std::vector<std::string> attach;  // paths
  std::string text;                 // after Body:, CRLF lines
};

// parse_send_job - the job in text; Errc::invalid, naming the line, for an
// unknown keyword, a line that is not a statement, a Header: that is not
// "Name: value", or a job without recipients.
Result<SendJob> parse_send_job(std::string_view text);

}  // namespace herald::spool
