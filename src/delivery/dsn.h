// delivery/dsn.h - the delivery status notification sent to the sender of a
// message some recipients of which failed for good (a "bounce"), or are
// still being tried long after it came (the delay warning), or - when the
// sender asked with NOTIFY=SUCCESS (RFC 3461 4.1) - were delivered here or
// relayed to a server that does not speak DSN: RFC 3464's
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

// DsnRecipient - one recipient the report is about.
struct DsnRecipient {
  std::string recipient;  // Final-Recipient
  std::string original;   // the address the client gave: Original-Recipient when it differs and orcpt is ""
  std::string status;     // RFC 3463: "5.1.1"
  std::string remote_mta; // the server that answered ("" when none did)
  // The reply of that server ("550 5.1.1 ... (in reply to RCPT TO command)")
  // or, when none answered, why it failed ("connect to ...: refused").
  std::string diagnostic;
  bool smtp_reply = false;  // diagnostic is a server's reply (Diagnostic-Code: smtp)
  std::string orcpt;        // RFC 3461 ORCPT ("rfc822;addr"): Original-Recipient as given (RFC 3464 2.3.1)
};

// DsnKind - RFC 3464 2.3.3's Action of every recipient in one report.
enum class DsnKind {
  failed,     // given up: the message is returned (its header with RET=HDRS)
  delayed,    // still being tried (the delay warning): its header is returned
  delivered,  // NOTIFY=SUCCESS, delivered to a mailbox here: its header is returned
  relayed,    // NOTIFY=SUCCESS, sent on to a server without DSN: no more reports will come
};

struct DsnInput {
  DsnKind kind = DsnKind::failed;
  std::int64_t retry_until_s = 0;  // delayed: when the tries end (Will-Retry-Until)
  std::string reporting_mta;  // our host name
  std::string queue_id;       // of the original message
  std::string sender;         // the original envelope sender: the DSN's To
  std::string envid;          // RFC 3461 ENVID: Original-Envelope-Id (RFC 3464 2.2.1); "" = none
  bool headers_only = false;  // RET=HDRS: a failed report returns the header section only
  std::int64_t arrival_s = 0; // when the original came
  std::int64_t now_s = 0;
  std::vector<DsnRecipient> recipients;
  // The original, as stored: whole, or its first octets when it is larger
  // than return_limit (then only its header section is returned).
  std::string_view message;
  std::uint64_t message_size = 0;  // 0: message.size()
  std::uint64_t return_limit = 50 * 1024;
};

// action_name - RFC 3464 2.3.3's word for kind: "failed", "delayed", ...
const char* action_name(DsnKind kind);

// make_dsn - the report, a whole RFC 5322 message.
std::string make_dsn(const DsnInput& in);

}  // namespace herald::delivery
