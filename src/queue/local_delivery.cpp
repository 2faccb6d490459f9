#include "queue/local_delivery.h"

#include <fmt/format.h>

#include "store/mailboxes.h"

namespace herald::queue {

void LocalDelivery::address(store::Delivery& d, const std::string& sender) const {
  d.mailbox = store::kInbox;
  // RFC 5321 4.4: Return-Path is added by the final delivery; Delivered-To
  // (Postfix, Dovecot) records which mailbox this copy was for.
  d.prefix = fmt::format("Return-Path: <{}>\r\nDelivered-To: {}\r\n", sender, d.recipient);
}

store::LocalVerdict LocalDelivery::decide(const std::optional<store::MailboxUsage>& usage, std::uint64_t size) const {
  using store::RecipientState;
  // The user went away between RCPT and the commit.
  if (!usage) return {RecipientState::bounced, "550 5.1.1 User unknown", {}};
  // RFC 3463 4.2.2: mailbox full, a temporary condition; the copy waits
  // until space is freed (the quota check at RCPT turns most away before).
  if (usage->quota_bytes > 0 && usage->used_bytes + size > usage->quota_bytes)
    return {RecipientState::deferred, "452 4.2.2 Mailbox full", retry_after_};
  return {RecipientState::delivered, "250 2.0.0 delivered to mailbox", {}};
}

}  // namespace herald::queue
