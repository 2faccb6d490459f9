#include "server/recipients.h"

#include "base/text.h"

namespace herald::server {

namespace {

// is_postmaster - RFC 5321 4.5.1: "Postmaster", case-insensitive.
bool is_postmaster(const smtp::Mailbox& m) { return iequals(m.local_part, "postmaster"); }

// resolution_of - an expansion as the session's decision.
Resolution resolution_of(queue::Expansion r, const std::string& address, bool may_relay) {
  Resolution out;
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

}  // namespace

Resolution resolve_recipient(const RecipientDirectory& dir, const smtp::RecipientCheck& check, bool may_relay) {
  const smtp::Mailbox& rcpt = check.forward_path;
  std::string address = rcpt.str();
  if (!rcpt.domain.empty() || !is_postmaster(rcpt)) {
    queue::Expansion r = dir.expander.expand(address, check.declared_size);
    // RFC 5321 4.5.1: every local domain has a postmaster, defined or not.
    if (!(r.status == queue::ExpansionStatus::unknown_user && is_postmaster(rcpt)))
      return resolution_of(std::move(r), address, may_relay);
  }
  std::string to = dir.postmaster;
  if (to.empty()) {
    auto first = dir.directory.first_user();
    if (!first) return resolution_of({queue::ExpansionStatus::temp_fail, {}}, address, may_relay);
    if (!*first) return resolution_of({queue::ExpansionStatus::unknown_user, {}}, address, may_relay);
    to = **first;
  }
  // The postmaster may be elsewhere (server.postmaster): that is relaying
  // the administrator asked for.
  return resolution_of(dir.expander.expand(to, check.declared_size), to, /*may_relay=*/true);
}

std::optional<Resolution> resolve_recipient_cached(const RecipientDirectory& dir, const smtp::RecipientCheck& check,
                                                   bool may_relay) {
  // Postmaster's fallbacks take reads; it is rare enough to go to the pool.
  if (is_postmaster(check.forward_path)) return std::nullopt;
  std::string address = check.forward_path.str();
  auto r = dir.expander.expand_cached(address, check.declared_size);
  if (!r) return std::nullopt;
  return resolution_of(std::move(*r), address, may_relay);
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

queue::Envelope transaction_envelope(smtp::Session& session, const TargetMap& targets) {
  smtp::Transaction& tx = session.transaction();
  queue::Envelope env;
  env.sender = tx.sender();
  env.helo = session.helo_name();
  env.protocol = session.with_protocol();
  env.ret = smtp::ret_text(tx.ret);
  env.envid = tx.envid;
  for (const auto& r : tx.recipients) {
    auto it = targets.find(to_lower(r.forward_path.str()));
    env.recipients.push_back({r.forward_path.str(), it == targets.end() ? std::vector<queue::Target>{} : it->second,
                              smtp::notify_text(r.notify), r.orcpt ? r.orcpt->text() : ""});
  }
  return env;
}

}  // namespace herald::server
