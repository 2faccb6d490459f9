#include "delivery/dsn.h"

#include <chrono>
#include <iterator>

#include <fmt/format.h>

#include "base/ids.h"
#include "base/text.h"

namespace herald::delivery {

namespace {

std::string date(std::int64_t unix_s) {
  return rfc5322_date(std::chrono::system_clock::time_point(std::chrono::seconds(unix_s)));
}

// ascii_line - text fit for a header field or the 7-bit parts: printable
// ASCII, bounded (server replies and addresses may hold anything).
std::string ascii_line(std::string_view text, std::size_t max = 900) {
  std::string out;
  for (unsigned char c : text) {
    if (out.size() >= max) break;
    if (c >= 0x20 && c < 0x7f) out += static_cast<char>(c);
    else out += fmt::format("\\x{:02X}", c);
  }
  return out;
}

// header_section - the message up to and including the blank line that
// ends its header (RFC 5322 2.1); the whole message when there is none.
std::string_view header_section(std::string_view message) {
  if (message.starts_with("\r\n")) return message.substr(0, 2);
  std::size_t end = message.find("\r\n\r\n");
  return end == std::string_view::npos ? message : message.substr(0, end + 4);
}

const char* subject(DsnKind kind) {
  switch (kind) {
    case DsnKind::failed: return "Undelivered Mail Returned to Sender";
    case DsnKind::delayed: return "Delayed Mail (still being retried)";
    case DsnKind::delivered: return "Successful Mail Delivery Report";
    case DsnKind::relayed: return "Successful Mail Relay Report";
  }
  return "";
}

}  // namespace

const char* action_name(DsnKind kind) {
  switch (kind) {
    case DsnKind::failed: return "failed";
    case DsnKind::delayed: return "delayed";
    case DsnKind::delivered: return "delivered";
    case DsnKind::relayed: return "relayed";
  }
  return "";
}

std::string make_dsn(const DsnInput& in) {
  // The boundary holds the queue id and a character a message line cannot
  // start a boundary with by chance ("=_").
  const std::string boundary = fmt::format("{}.{}/{}", in.queue_id, in.now_s, "=_herald");
  std::string out;
  auto to = std::back_inserter(out);
  fmt::format_to(to, "From: Mail Delivery System <MAILER-DAEMON@{}>\r\n", in.reporting_mta);
  fmt::format_to(to, "To: <{}>\r\n", ascii_line(in.sender, 300));
  const bool delayed = in.kind == DsnKind::delayed;
  const bool failed = in.kind == DsnKind::failed;
  fmt::format_to(to, "Subject: {}\r\n", subject(in.kind));
  fmt::format_to(to, "Date: {}\r\n", date(in.now_s));
  fmt::format_to(to, "Message-ID: <{}.{}.dsn@{}>\r\n", in.queue_id, in.now_s, in.reporting_mta);
  // RFC 3834 5: a machine's answer, which other machines must not answer.
  fmt::format_to(to, "Auto-Submitted: auto-replied\r\n");
  fmt::format_to(to, "MIME-Version: 1.0\r\n");
  fmt::format_to(to, "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{}\"\r\n",
                 boundary);
  fmt::format_to(to, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");

  // Part 1: for people.
  fmt::format_to(to, "--{}\r\nContent-Description: Notification\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n",
                 boundary);
  fmt::format_to(to, "This is the mail system at host {}.\r\n\r\n", in.reporting_mta);
  switch (in.kind) {
    case DsnKind::delayed:
      fmt::format_to(to, "Your message could not be delivered yet to one or more recipients.\r\n"
                         "It will be tried again until {}.\r\n"
                         "This is a warning only: you do not need to send it again.\r\n\r\n",
                     date(in.retry_until_s));
      break;
    case DsnKind::failed:
      fmt::format_to(to, "I'm sorry to have to inform you that your message could not\r\n"
                         "be delivered to one or more recipients. It's attached below.\r\n\r\n");
      break;
    case DsnKind::delivered:
      fmt::format_to(to, "Your message was delivered to the mailbox of the recipients below,\r\n"
                         "as you asked.\r\n\r\n");
      break;
    case DsnKind::relayed:
      fmt::format_to(to, "Your message was sent on to the recipients' mail servers below, which\r\n"
                         "do not report deliveries: you will hear no more of it unless it fails.\r\n\r\n");
      break;
  }
  for (const auto& r : in.recipients)
    fmt::format_to(to, "<{}>: {}\r\n\r\n", ascii_line(r.recipient, 300), ascii_line(r.diagnostic));

  // Part 2: for machines (RFC 3464 2.2, 2.3).
  fmt::format_to(to, "--{}\r\nContent-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n",
                 boundary);
  if (!in.envid.empty()) fmt::format_to(to, "Original-Envelope-Id: {}\r\n", ascii_line(in.envid, 100));
  fmt::format_to(to, "Reporting-MTA: dns; {}\r\n", in.reporting_mta);
  fmt::format_to(to, "X-Herald-Queue-ID: {}\r\n", in.queue_id);
  fmt::format_to(to, "Arrival-Date: {}\r\n", date(in.arrival_s));
  for (const auto& r : in.recipients) {
    fmt::format_to(to, "\r\nFinal-Recipient: rfc822; {}\r\n", ascii_line(r.recipient, 300));
    if (std::size_t semi = r.orcpt.find(';'); semi != std::string::npos)
      fmt::format_to(to, "Original-Recipient: {}; {}\r\n", ascii_line(r.orcpt.substr(0, semi), 64),
                     ascii_line(r.orcpt.substr(semi + 1), 300));
    else if (!r.original.empty() && r.original != r.recipient)
      fmt::format_to(to, "Original-Recipient: rfc822; {}\r\n", ascii_line(r.original, 300));
    fmt::format_to(to, "Action: {}\r\nStatus: {}\r\n", action_name(in.kind), ascii_line(r.status, 20));
    if (!r.remote_mta.empty()) fmt::format_to(to, "Remote-MTA: dns; {}\r\n", ascii_line(r.remote_mta, 300));
    fmt::format_to(to, "Diagnostic-Code: {}; {}\r\n", r.smtp_reply ? "smtp" : "X-Herald", ascii_line(r.diagnostic));
    fmt::format_to(to, "Last-Attempt-Date: {}\r\n", date(in.now_s));
    if (delayed) fmt::format_to(to, "Will-Retry-Until: {}\r\n", date(in.retry_until_s));
  }
  out += "\r\n";

  // Part 3: the message (RFC 3462 / 6522: message/rfc822 or its header as
  // text/rfc822-headers). It ends in CRLF, so the boundary starts a line.
  const std::uint64_t size = in.message_size ? in.message_size : in.message.size();
  if (failed && !in.headers_only && size <= in.return_limit && in.message.size() == size) {
    fmt::format_to(to, "--{}\r\nContent-Description: Undelivered Message\r\nContent-Type: message/rfc822\r\n\r\n",
                   boundary);
    out += in.message;
  } else {
    fmt::format_to(to, "--{}\r\nContent-Description: {} Message Headers\r\n"
                       "Content-Type: text/rfc822-headers\r\n\r\n",
                   boundary, failed || delayed ? "Undelivered" : "Delivered");
    out += header_section(in.message);
  }
  if (!out.ends_with("\r\n")) out += "\r\n";
  fmt::format_to(to, "\r\n--{}--\r\n", boundary);
  return out;
}

}  // namespace herald::delivery
