// sasl/exchange.cpp - base64, "*" and the success-data ack around a mechanism.
#include "sasl/exchange.h"

#include <cassert>
#include <utility>

#include "base/base64.h"
#include "base/text.h"

namespace herald::sasl {
namespace {

// The longest base64 text that can decode to kMaxResponse octets: anything
// longer is refused before decoding allocates for it.
constexpr std::size_t kMaxResponseText = (kMaxResponse + 2) / 3 * 4;

}  // namespace

std::unique_ptr<Exchange> Exchange::create(std::string_view mechanism, const ChannelBinding& binding,
                                           const MechanismOptions& options) {
  auto m = make_mechanism(mechanism, binding, options);
  if (!m) return nullptr;
  return std::make_unique<Exchange>(std::move(m));
}

Exchange::Exchange(std::unique_ptr<ServerMechanism> mechanism) : mechanism_(std::move(mechanism)) {
  assert(mechanism_);
}

Exchange::Outcome Exchange::fail(std::string reason) {
  state_ = State::done;
  return Outcome{Kind::failed, {}, std::move(reason)};
}

Exchange::Outcome Exchange::start(std::optional<std::string_view> initial_response) {
  if (state_ != State::fresh) return fail("start out of order");
  state_ = State::running;
  if (!initial_response) return outcome(mechanism_->start(std::nullopt));
  // RFC 4954 4 / RFC 5034 4: "=" is an initial response of zero length.
  if (*initial_response == "=") return outcome(mechanism_->start(std::string_view()));
  return decode_and_step(*initial_response, true);
}

Exchange::Outcome Exchange::respond(std::string_view line) {
  if (line == "*") {  // RFC 4954 4, RFC 5034 4: the client cancels
    if (state_ != State::running && state_ != State::wait_ack) return fail("respond out of order");
    state_ = State::done;
    return Outcome{Kind::cancelled, {}, "cancelled by the client"};
  }
  if (state_ == State::wait_ack) {
    // RFC 4422 3.6: the answer to additional data sent as a challenge is empty.
    if (!line.empty()) return fail("non-empty response to the server's final message");
    state_ = State::done;
    return Outcome{Kind::success, {}, {}};
  }
  if (state_ != State::running) return fail("respond out of order");
  return decode_and_step(line, false);
}

Exchange::Outcome Exchange::decode_and_step(std::string_view text, bool initial) {
  if (text.size() > kMaxResponseText) {
    state_ = State::done;
    return Outcome{Kind::malformed, {}, "response too long"};
  }
  auto raw = base64_decode(text);
  if (!raw) {
    state_ = State::done;
    return Outcome{Kind::malformed, {}, "response not base64: " + printable(text, 64)};
  }
  return outcome(initial ? mechanism_->start(std::string_view(*raw)) : mechanism_->step(*raw));
}

Exchange::Outcome Exchange::password_checked(bool ok) {
  if (state_ != State::wait_password) return fail("password_checked out of order");
  state_ = State::running;
  return outcome(mechanism_->password_checked(ok));
}

Exchange::Outcome Exchange::credentials(std::optional<ScramCredentials> creds) {
  if (state_ != State::wait_credentials) return fail("credentials out of order");
  state_ = State::running;
  return outcome(mechanism_->credentials(std::move(creds)));
}

Exchange::Outcome Exchange::temp_failure(std::string reason) {
  if (state_ == State::wait_password) {
    (void)mechanism_->password_checked(false);  // wipes the password now; the mechanism is done
  } else if (state_ != State::wait_credentials) {
    return fail("temp_failure out of order");
  }
  state_ = State::done;
  return Outcome{Kind::temp_failed, {}, std::move(reason)};
}

// outcome - a mechanism's Step as the wire sees it.
Exchange::Outcome Exchange::outcome(Step step) {
  switch (step.status) {
    case Status::challenge:
      return Outcome{Kind::challenge, base64_encode(step.server_data), {}};
    case Status::verify_password:
    case Status::need_credentials: {
      const std::string& authzid = mechanism_->authzid();
      if (!authzid.empty() && authzid != mechanism_->authcid())
        return fail("authorization identity " + printable(authzid, 64) + " for " +
                    printable(mechanism_->authcid(), 64) + ": proxy authorization not supported");
      state_ = step.status == Status::verify_password ? State::wait_password : State::wait_credentials;
      return Outcome{Kind::check, {}, {}};
    }
    case Status::success:
      if (!step.server_data.empty()) {
        state_ = State::wait_ack;
        return Outcome{Kind::challenge, base64_encode(step.server_data), {}};
      }
      state_ = State::done;
      return Outcome{Kind::success, {}, {}};
    case Status::failure: {
      // A SCRAM "e=..." in server_data has no place in SMTP or POP3 replies.
      Outcome o = fail(std::move(step.reason));
      if (step.malformed) o.kind = Kind::malformed;
      return o;
    }
  }
  return fail("unknown status");
}

}  // namespace herald::sasl
