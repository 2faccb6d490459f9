// delivery/dsn.h - the delivery status notification sent to the sender of a
// message some recipients of which failed for good (a "bounce"), or are
// still being tried long after it came (the delay warning): RFC 3464's
// multipart/report with a note for people, the machine-readable
// delivery-status part, and the original message (its header only for a
// warning, or when it is larger than the limit), as Postfix's bounce daemon
// writes it.
//
// Pure: what failed in, the message's octets out (CRLF lines, 7-bit except
// for the returned message, which keeps what it had). The caller submits it
// with the null reverse-path (RFC 5321 4.5.5), so that a DSN is never sent
// about a DSN.
//
// RFCs: 3464 (the report), 3462/6522 (multipart/report), 3463 (status
// codes), 3834 (Auto-Submitted), 5322 (the message), 2045/2046 (MIME).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace herald::delivery {

// FailedRecipient - one recipient the report is about.
struct FailedRecipient {
  std::string recipient;  // Final-Recipient
  std::string original;   // Original-Recipient, when it differs
  std::string status;     // RFC 3463: "5.1.1"
  std::string remote_mta; // the server that answered ("" when none did)
  // The reply of that server ("550 5.1.1 ... (in reply to RCPT TO command)")
  // or, when none answered, why it failed ("connect to ...: refused").
  std::string diagnostic;
  bool smtp_reply = false;  // diagnostic is a server's reply (Diagnostic-Code: smtp)
};

// DsnKind - RFC 3464 2.3.3's Action of every recipient in one report.
enum class DsnKind {
  failed,   // given up: the message is returned
  delayed,  // still being tried (the delay warning): its header is returned
};

struct DsnInput {
  DsnKind kind = DsnKind::failed;
  std::int64_t retry_until_s = 0;  // delayed: when the tries end (Will-Retry-Until)
  std::string reporting_mta;  // our host name
  std::string queue_id;       // of the original message
  std::string sender;         // the original envelope sender: the DSN's To
  std::int64_t arrival_s = 0; // when the original came
  std::int64_t now_s = 0;
  std::vector<FailedRecipient> recipients;
  // The original, as stored: whole, or its first octets when it is larger
  // than return_limit (then only its header section is returned).
  std::string_view message;
  std::uint64_t message_size = 0;  // 0: message.size()
  std::uint64_t return_limit = 50 * 1024;
};

// make_dsn - the report, a whole RFC 5322 message.
std::string make_dsn(const DsnInput& in);

}  // namespace herald::delivery
