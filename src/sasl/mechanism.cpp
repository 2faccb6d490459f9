// sasl/mechanism.cpp - the SASL framework, PLAIN and LOGIN.
#include "sasl/mechanism.h"

#include <openssl/crypto.h>

#include <utility>

#include "base/text.h"
#include "sasl/scram.h"

namespace herald::sasl {
namespace {

// check_identity - why a username or authzid is unusable, or "" if usable.
std::string_view check_identity(std::string_view id) {
  if (id.empty()) return "empty identity";
  if (id.size() > kMaxIdentity) return "identity too long";
  if (!valid_utf8_text(id)) return "identity with control characters or bad UTF-8";
  return {};
}

// check_password - why a password is unusable, or "" if usable.
std::string_view check_password(std::string_view pw) {
  if (pw.empty()) return "empty password";
  if (pw.size() > kMaxPassword) return "password too long";
  if (!valid_utf8_text(pw)) return "password with control characters or bad UTF-8";
  return {};
}

// Plain - RFC 4616: one message "[authzid] NUL authcid NUL passwd".
class Plain final : public ServerMechanism {
 public:
  std::string_view name() const override { return "PLAIN"; }

  Step start(std::optional<std::string_view> initial_response) override {
    if (state_ != State::start) return out_of_order();
    if (!initial_response) {
      // RFC 4422 3.3 / RFC 4616 2: the client speaks first, so ask with an
      // empty challenge.
      state_ = State::wait_message;
      return Step{Status::challenge, {}, {}};
    }
    return message(*initial_response);
  }

  Step step(std::string_view client_response) override {
    if (state_ != State::wait_message) return out_of_order();
    return message(client_response);
  }

  Step password_checked(bool ok) override {
    if (state_ != State::wait_check) return out_of_order();
    state_ = State::done;
    wipe_password();
    if (!ok) return fail("PLAIN: password or authorization refused");
    return Step{Status::success, {}, {}};
  }

 private:
  enum class State { start, wait_message, wait_check, done };

  Step out_of_order() {
    state_ = State::done;
    return fail("PLAIN: call out of order");
  }

  Step message(std::string_view m) {
    state_ = State::done;
    if (m.size() > kMaxResponse) return malformed("PLAIN: message too long");
    std::size_t nul1 = m.find('\0');
    std::size_t nul2 = nul1 == std::string_view::npos ? nul1 : m.find('\0', nul1 + 1);
    if (nul2 == std::string_view::npos || m.find('\0', nul2 + 1) != std::string_view::npos)
      return malformed("PLAIN: message needs exactly two NULs");
    std::string_view authzid = m.substr(0, nul1);
    std::string_view authcid = m.substr(nul1 + 1, nul2 - nul1 - 1);
    std::string_view passwd = m.substr(nul2 + 1);
    if (auto why = check_identity(authcid); !why.empty()) return malformed(std::string("PLAIN: authcid: ") += why);
    if (!authzid.empty())
      if (auto why = check_identity(authzid); !why.empty()) return malformed(std::string("PLAIN: authzid: ") += why);
    if (auto why = check_password(passwd); !why.empty())
      return malformed("PLAIN: " + std::string(why) + " for " + printable(authcid, 64));
    authcid_ = authcid;
    authzid_ = authzid;
    password_ = passwd;
    state_ = State::wait_check;
    return Step{Status::verify_password, {}, {}};
  }

  State state_ = State::start;
};

// Login - draft-murchison-sasl-login-00: "Username:", then "Password:".
class Login final : public ServerMechanism {
 public:
  std::string_view name() const override { return "LOGIN"; }

  Step start(std::optional<std::string_view> initial_response) override {
    if (state_ != State::start) return out_of_order();
    state_ = State::wait_username;
    // draft 2.1: an initial response, if any, is the username.
    if (initial_response) return username(*initial_response);
    return Step{Status::challenge, "Username:", {}};
  }

  Step step(std::string_view client_response) override {
    if (state_ == State::wait_username) return username(client_response);
    if (state_ == State::wait_password) return password(client_response);
    return out_of_order();
  }

  Step password_checked(bool ok) override {
    if (state_ != State::wait_check) return out_of_order();
    state_ = State::done;
    wipe_password();
    if (!ok) return fail("LOGIN: password or authorization refused");
    return Step{Status::success, {}, {}};
  }

 private:
  enum class State { start, wait_username, wait_password, wait_check, done };

  Step out_of_order() {
    state_ = State::done;
    return fail("LOGIN: call out of order");
  }

  Step username(std::string_view u) {
    state_ = State::done;
    if (auto why = check_identity(u); !why.empty()) return malformed(std::string("LOGIN: username: ") += why);
    authcid_ = u;
    state_ = State::wait_password;
    return Step{Status::challenge, "Password:", {}};
  }

  Step password(std::string_view p) {
    state_ = State::done;
    if (auto why = check_password(p); !why.empty())
      return malformed("LOGIN: " + std::string(why) + " for " + printable(authcid_, 64));
    password_ = p;
    state_ = State::wait_check;
    return Step{Status::verify_password, {}, {}};
  }

  State state_ = State::start;
};

}  // namespace

ServerMechanism::~ServerMechanism() { wipe_password(); }

Step ServerMechanism::password_checked(bool) {
  return fail(std::string(name()) + ": password_checked out of order");
}

Step ServerMechanism::credentials(std::optional<ScramCredentials>) {
  return fail(std::string(name()) + ": credentials out of order");
}

Step ServerMechanism::fail(std::string reason, std::string server_data) {
  Step s;
  s.status = Status::failure;
  s.server_data = std::move(server_data);
  s.reason = std::move(reason);
  return s;
}

Step ServerMechanism::malformed(std::string reason, std::string server_data) {
  Step s = fail(std::move(reason), std::move(server_data));
  s.malformed = true;
  return s;
}

void ServerMechanism::wipe_password() {
  if (!password_.empty()) OPENSSL_cleanse(password_.data(), password_.size());
  password_.clear();
}

bool usable_binding(const ChannelBinding& binding) {
  if (binding.data.empty()) return false;
  return binding.type == "tls-exporter" || binding.type == "tls-server-end-point" ||
         binding.type == "tls-unique";
}

std::vector<std::string> mechanisms(bool plaintext_allowed, const ChannelBinding& binding) {
  std::vector<std::string> out;
  if (usable_binding(binding)) out.emplace_back("SCRAM-SHA-256-PLUS");
  out.emplace_back("SCRAM-SHA-256");
  if (plaintext_allowed) {
    out.emplace_back("PLAIN");
    out.emplace_back("LOGIN");
  }
  return out;
}

std::unique_ptr<ServerMechanism> make_mechanism(std::string_view name, const ChannelBinding& binding,
                                                const MechanismOptions& options) {
  if (iequals(name, "PLAIN")) return std::make_unique<Plain>();
  if (iequals(name, "LOGIN")) return std::make_unique<Login>();
  if (iequals(name, "SCRAM-SHA-256")) return std::make_unique<ScramServer>(false, binding, options);
  if (iequals(name, "SCRAM-SHA-256-PLUS") && usable_binding(binding))
    return std::make_unique<ScramServer>(true, binding, options);
  return nullptr;
}

bool valid_utf8_text(std::string_view s) {
  while (!s.empty()) {
    std::size_t n = utf8_length(s);  // RFC 3629 4 (base/text.h)
    if (n == 0) return false;
    auto c = static_cast<unsigned char>(s[0]);
    if (n == 1 && (c < 0x20 || c == 0x7f)) return false;
    // C1 controls (U+0080..U+009F) are prohibited by SASLprep too.
    if (c == 0xc2 && static_cast<unsigned char>(s[1]) < 0xa0) return false;
    s.remove_prefix(n);
  }
  return true;
}

}  // namespace herald::sasl
