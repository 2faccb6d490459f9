#include "server/smtpd.h"

#include <asio/async_result.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "base/log.h"
#include "base/text.h"
#include "server/connection.h"

namespace herald::server {
namespace {

// SmtpRecipientPolicy - RCPT checks for one connection: local users and
// aliases from the store; other domains only for clients in
// smtp.relay_networks (the full relay policy comes with the policy module).
class SmtpRecipientPolicy final : public smtp::RecipientPolicy {
 public:
  SmtpRecipientPolicy(ServerContext& ctx, bool may_relay) : ctx_(ctx), may_relay_(may_relay) {}

  smtp::RcptDecision check_recipient(const smtp::Mailbox& rcpt, std::uint64_t declared_size) override {
    smtp::RcptDecision d;
    std::string address = rcpt.str();
    if (rcpt.domain.empty()) {
      // RFC 5321 4.5.1: "postmaster" alone is the postmaster of this host.
      std::string domain = ctx_.config.local_domains.empty() ? ctx_.config.hostname
                                                             : ctx_.config.local_domains.front();
      address = "postmaster@" + domain;
    }
    queue::Resolved r = ctx_.resolver.resolve(address, declared_size);
    switch (r.status) {
      case queue::Resolution::ok:
        targets_[to_lower(rcpt.str())] = r.targets;
        for (auto& t : r.targets) d.deliver_to.push_back(t.address);
        break;
      case queue::Resolution::not_local:
        if (may_relay_) {
          targets_[to_lower(rcpt.str())] = {queue::Target{to_lower(address), false}};
          d.deliver_to.push_back(to_lower(address));
        } else {
          d.status = smtp::RcptStatus::relay_denied;
        }
        break;
      case queue::Resolution::unknown_user: d.status = smtp::RcptStatus::unknown_user; break;
      case queue::Resolution::over_quota: d.status = smtp::RcptStatus::over_quota; break;
      case queue::Resolution::alias_loop: d.status = smtp::RcptStatus::alias_loop; break;
      case queue::Resolution::temp_fail: d.status = smtp::RcptStatus::temp_fail; break;
    }
    return d;
  }

  // targets - the resolution kept from RCPT time for this forward-path.
  std::vector<queue::Target> targets(const smtp::Mailbox& rcpt) const {
    auto it = targets_.find(to_lower(rcpt.str()));
    return it == targets_.end() ? std::vector<queue::Target>{} : it->second;
  }

 private:
  ServerContext& ctx_;
  bool may_relay_;
  std::map<std::string, std::vector<queue::Target>> targets_;
};

// async_submit - Intake::submit as an awaitable that resumes on the
// caller's executor (the store calls back on its writer thread).
template <typename Token>
auto async_submit(queue::Intake& intake, queue::Envelope env, std::string body, Token&& token) {
  return asio::async_initiate<Token, void(Result<queue::Accepted>)>(
      [&intake](auto handler, queue::Envelope env, std::string body) {
        auto ex = asio::get_associated_executor(handler);
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        intake.submit(std::move(env), std::move(body), [h, ex](Result<queue::Accepted> r) {
          asio::post(ex, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
        });
      },
      token, std::move(env), std::move(body));
}

}  // namespace

asio::awaitable<void> smtp_connection(ServerContext& ctx, tcp::socket socket) {
  auto log = log::get("smtpd");
  const Peer client = peer_of(socket);
  const std::string peer = client.display();
  log->info("connect from {}", peer);
  auto ticket = ctx.smtp_connections.acquire(client.ip);
  SmtpRecipientPolicy policy(ctx, ctx.relay_networks.contains(client.address));
  smtp::Session session(ctx.smtp_limits, ctx.config.hostname, policy);
  Deadline deadline(socket);

  if (!ticket) {
    log->warn("warning: too many connections from {}", peer);
    ctx.store.journal({0, "connection_refused", "", "", "", "", peer, 0, "421 4.7.0", "too many connections"});
    co_await write_all(socket, session.too_many_connections_reply());
    co_return;
  }
  // Pre-greeting traffic: a client that talks before our 220 does not
  // speak SMTP, or wants to get its spam in before we look (postscreen).
  if (ctx.config.smtp.pregreet_wait.count() > 0) {
    asio::steady_timer t(socket.get_executor(), ctx.config.smtp.pregreet_wait);
    std::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  std::error_code avail_ec;
  if (socket.available(avail_ec) > 0) {
    log->info("reject: PREGREET from {}", peer);
    ctx.store.journal({0, "connection_refused", "", "", "", "", peer, 0, "554 5.5.0", "pregreet"});
    co_await write_all(socket, session.pregreet_reply());
    co_return;
  }
  if (!co_await write_all(socket, session.greeting())) co_return;

  char buf[8192];
  bool open = true;
  while (open) {
    auto timeout = session.in_data() ? ctx.config.smtp.data_timeout : ctx.config.smtp.command_timeout;
    std::size_t n = co_await read_some(socket, deadline, buf, sizeof buf, timeout);
    if (n == 0) {
      if (deadline.expired()) {
        log->info("timeout after {} from {}", session.in_data() ? "DATA" : "command", peer);
        co_await write_all(socket, session.timeout_reply());
      }
      break;
    }
    session.feed(std::string_view(buf, n));
    for (;;) {
      smtp::Step step = session.step();
      if (!step.output.empty() && !co_await write_all(socket, step.output)) {
        open = false;
        break;
      }
      if (step.action == smtp::Action::need_more) break;
      if (step.action == smtp::Action::close) {
        open = false;
        break;
      }
      // Action::submit: commit durably, then answer the final dot.
      smtp::Transaction& tx = session.transaction();
      queue::Envelope env;
      env.sender = tx.sender();
      env.client_ip = client.ip;
      env.client_name = client.name;
      env.helo = session.helo_name();
      env.protocol = session.with_protocol();
      for (const auto& r : tx.recipients)
        env.recipients.push_back({r.forward_path.str(), policy.targets(r.forward_path)});
      auto result = co_await async_submit(ctx.intake, std::move(env), std::move(tx.data), asio::use_awaitable);
      if (result) session.on_submitted(smtp::SubmitOutcome::queued, result->queue_id);
      else session.on_submitted(smtp::SubmitOutcome::temp_fail, "try again later");
    }
  }
  log->info("disconnect from {}", peer);
}

}  // namespace herald::server
