#include "queue/local_delivery.h"

#include <fmt/format.h>

#include "base/log.h"
#include "store/mailboxes.h"

namespace herald::queue {
namespace {

// postfix_status - the status= word: Postfix says "sent" for a delivered
// recipient, and pflogsumm counts that word; a dead letter bounced.
std::string_view postfix_status(store::RecipientState state) {
  if (state == store::RecipientState::dead) return "bounced";
  return state == store::RecipientState::delivered ? "sent" : store::to_string(state);
}

}  // namespace

std::string_view reply_status(std::string_view reply) {
  auto sp = reply.find(' ');
  if (sp == std::string_view::npos) return "";
  reply.remove_prefix(sp + 1);
  return reply.substr(0, reply.find(' '));
}

void log_delivery(spdlog::logger& agent, const std::string& queue_id, const std::string& recipient,
                  const std::string& original, const std::string& relay, double delay, std::string_view dsn,
                  const store::DeliveryOutcome& o) {
  std::string orig = original != recipient ? fmt::format("orig_to=<{}>, ", original) : "";
  agent.info("{}: to=<{}>, {}relay={}, delay={:.2f}, dsn={}, status={} ({})", queue_id, recipient, orig,
                        relay, delay, dsn.empty() ? reply_status(o.reply) : dsn, postfix_status(o.state), o.reply);
}

void log_local(const std::string& queue_id, const std::string& recipient, const std::string& original, double delay,
               const store::DeliveryOutcome& o) {
  static const auto logger = log::get("local");  // looked up once, not per line
  log_delivery(*logger, queue_id, recipient, original, "local", delay, "", o);
}

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
