#include "server/recipients.h"

#include "base/text.h"

namespace herald::server {

Resolution resolve_recipient(const RecipientDirectory& dir, const smtp::RecipientCheck& check, bool may_relay) {
  Resolution out;
  const smtp::Mailbox& rcpt = check.forward_path;
  std::string address = rcpt.str();
  if (rcpt.domain.empty()) address = "postmaster@" + dir.postmaster_domain;  // RFC 5321 4.5.1
  queue::Expansion r = dir.expander.expand(address, check.declared_size);
  smtp::RcptDecision& d = out.decision;
  switch (r.status) {
    case queue::ExpansionStatus::ok:
      for (auto& t : r.targets) d.deliver_to.push_back(t.address);
      out.targets = std::move(r.targets);
      break;
    case queue::ExpansionStatus::not_local:
      if (may_relay) {
        out.targets = {queue::Target{to_lower(address), false}};
        d.deliver_to.push_back(to_lower(address));
      } else {
        d.status = smtp::RcptStatus::relay_denied;
      }
      break;
    case queue::ExpansionStatus::unknown_user: d.status = smtp::RcptStatus::unknown_user; break;
    case queue::ExpansionStatus::over_quota: d.status = smtp::RcptStatus::over_quota; break;
    case queue::ExpansionStatus::alias_loop: d.status = smtp::RcptStatus::alias_loop; break;
    case queue::ExpansionStatus::alias_too_large: d.status = smtp::RcptStatus::alias_too_large; break;
    case queue::ExpansionStatus::temp_fail: d.status = smtp::RcptStatus::temp_fail; break;
  }
  return out;
}

smtp::SenderVerdict check_sender(store::Directory& directory, const smtp::SenderCheck& check) {
  using smtp::SenderVerdict;
  auto u = directory.find_user(check.user);
  if (!u) return SenderVerdict::temp_fail;
  if (!*u) return SenderVerdict::refused;
  if ((*u)->send_as_any) return SenderVerdict::allowed;
  if (check.null_sender) return SenderVerdict::refused;
  std::string sender = to_lower(check.reverse_path.str());
  if (sender == (*u)->address) return SenderVerdict::allowed;
  auto targets = directory.alias_targets(sender);
  if (!targets) return SenderVerdict::temp_fail;
  for (const auto& t : *targets)
    if (t == (*u)->address) return SenderVerdict::allowed;
  return SenderVerdict::refused;
}

}  // namespace herald::server
