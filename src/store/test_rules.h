// store/test_rules.h - local delivery for the store's tests: the store
// applies a verdict; which verdict is queue/'s (queue/local_delivery,
// tested there).
#pragma once

#include <chrono>
#include <string>

#include "store/mailboxes.h"
#include "store/queue.h"

namespace herald::store {

class TestRules final : public LocalDeliveryRules {
 public:
  LocalVerdict decide(const std::optional<MailboxUsage>& usage, std::uint64_t size) const override {
    if (!usage) return {RecipientState::bounced, "550 5.1.1 User unknown", {}};
    if (usage->quota_bytes > 0 && usage->used_bytes + size > usage->quota_bytes)
      return {RecipientState::deferred, "452 4.2.2 Mailbox full", std::chrono::seconds(300)};
    return {RecipientState::delivered, "250 2.0.0 delivered", {}};
  }
};
inline const TestRules kTestRules;

// local - a copy for recipient's INBOX, headed as local delivery heads it.
inline Delivery local(const std::string& recipient, const std::string& sender = "sender@remote.test") {
  return {recipient, recipient, true, kInbox, "Return-Path: <" + sender + ">\r\nDelivered-To: " + recipient + "\r\n"};
}

}  // namespace herald::store
