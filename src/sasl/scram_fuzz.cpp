// sasl/scram_fuzz.cpp - any bytes into the SASL server mechanisms, SCRAM
// first: no crash, bounded output, and success only where it is earned.
//
// Input: one option byte, then client messages separated by "\n" (SCRAM
// messages never hold one). Option bits: 0-1 mechanism (SCRAM, SCRAM-PLUS,
// PLAIN, LOGIN), 2 unknown user, 3 no initial response, 4 the driver says
// the password is right, 5 no channel binding, 6 through Exchange (the wire
// form: lines as given, or base64-encoded first if bit 7 is set too).
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/base64.h"
#include "sasl/exchange.h"
#include "sasl/mechanism.h"
#include "sasl/scram.h"

namespace {

using herald::sasl::Status;

const std::string kNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

const herald::sasl::ScramCredentials& pencil() {
  // Derived once: PBKDF2 per input would make the run crawl.
  static const herald::sasl::ScramCredentials c =
      herald::sasl::make_scram_credentials("pencil", *herald::base64_decode("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096);
  return c;
}

}  // namespace

extern const std::vector<std::string> kFuzzSeeds;
const std::vector<std::string> kFuzzSeeds = {
    // RFC 7677 3: succeeds with the fixed nonce.
    std::string("\x00", 1) +
        "n,,n=user,r=rOprNGfwEbeRWgbNEkqO\n"
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    std::string("\x08", 1) +
        "n,,n=user,r=rOprNGfwEbeRWgbNEkqO\n"
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    std::string("\x04", 1) + "n,a=x=2Cy,n=no=3Dbody,r=abc,e=ext\nc=bixhPXg9MkN5LA==,r=abc" + kNonce + ",p=" +
        std::string(43, 'A') + "=",
    std::string("\x01", 1) + "p=tls-exporter,,n=user,r=abc\nc=cD10bHMtZXhwb3J0ZXIsLFpaWlo=,r=abc" + kNonce +
        ",x=y,p=AAAA",
    std::string("\x00", 1) + "y,,m=ext,n=user,r=abc\n",
    std::string("\x02", 1) + std::string("az\0user\0pencil", 14),
    std::string("\x1b", 1) + "tim\ntanstaaf\nextra",
    std::string("\xc0", 1) +
        "n,,n=user,r=rOprNGfwEbeRWgbNEkqO\n"
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=\n",
    std::string("\x5b", 1) + "dGlt\nKg==\n*",
    std::string("\xd2", 1) + std::string("\0tim\0tanstaaf", 13),
};

namespace {

// run_exchange - the same exchange through the wire layer.
int run_exchange(std::unique_ptr<herald::sasl::ServerMechanism> m, const std::vector<std::string_view>& messages,
                 unsigned options) {
  using Kind = herald::sasl::Exchange::Kind;
  herald::sasl::Exchange x(std::move(m));
  auto wire = [&](std::string_view raw) {
    return (options & 0x80) ? herald::base64_encode(raw) : std::string(raw);
  };
  std::size_t next = 0;
  auto o = (options & 8) ? x.start(std::nullopt) : x.start(wire(messages[next++]));
  for (int rounds = 0; rounds < 16; ++rounds) {
    switch (o.kind) {
      case Kind::challenge:
        if (!herald::base64_decode(o.data)) std::abort();
        if (next >= messages.size()) return 0;
        o = x.respond(wire(messages[next++]));
        break;
      case Kind::check:
        if ((options & 0x14) == 0x14) {  // both bits: the store failed
          o = x.temp_failure("store down");
          if (o.kind != Kind::temp_failed) std::abort();
          break;
        }
        o = x.needs_password_check() ? x.password_checked(options & 0x10)
                                     : x.credentials((options & 4) ? std::nullopt : std::optional(pencil()));
        break;
      case Kind::success:
        if (x.identity().empty()) std::abort();
        [[fallthrough]];
      case Kind::malformed:
      case Kind::cancelled:
      case Kind::failed:
      case Kind::temp_failed:
        if (x.respond("").kind != Kind::failed) std::abort();
        return 0;
    }
  }
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned options = data[0];
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  static const char* kNames[] = {"SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "PLAIN", "LOGIN"};
  herald::sasl::ChannelBinding binding{"tls-exporter", "ZZZZ"};
  if (options & 0x20) binding = {};

  std::unique_ptr<herald::sasl::ServerMechanism> m;
  if ((options & 3) < 2) {
    bool plus = (options & 3) == 1;
    if (plus && binding.type.empty()) binding = {"tls-exporter", "ZZZZ"};
    m = std::make_unique<herald::sasl::ScramServer>(plus, binding, herald::sasl::MechanismOptions{}, kNonce);
  } else {
    m = make_mechanism(kNames[options & 3], binding);
  }
  if (!m) std::abort();

  std::vector<std::string_view> messages;
  for (std::size_t pos = 0;;) {
    std::size_t nl = input.find('\n', pos);
    messages.push_back(input.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }

  if (options & 0x40) return run_exchange(std::move(m), messages, options);

  std::size_t next = 0;
  herald::sasl::Step s = (options & 8) ? m->start(std::nullopt) : m->start(messages[next++]);
  for (int rounds = 0; rounds < 16; ++rounds) {
    if (s.server_data.size() > 2 * herald::sasl::kMaxResponse) std::abort();
    switch (s.status) {
      case Status::challenge:
        if (next >= messages.size()) return 0;
        s = m->step(messages[next++]);
        break;
      case Status::need_credentials:
        if (m->authcid().empty() || m->authcid().size() > herald::sasl::kMaxIdentity) std::abort();
        s = m->credentials((options & 4) ? std::nullopt : std::optional(pencil()));
        break;
      case Status::verify_password:
        if (m->authcid().empty() || m->password().empty()) std::abort();
        s = m->password_checked(options & 0x10);
        break;
      case Status::success:
        // SCRAM succeeds only for the known user with proof of "pencil".
        if ((options & 3) < 2 && ((options & 4) || s.server_data.substr(0, 2) != "v=")) std::abort();
        if ((options & 3) >= 2 && !(options & 0x10)) std::abort();
        if (m->step("x").status != Status::failure) std::abort();
        return 0;
      case Status::failure:
        if (s.reason.empty()) std::abort();
        if (m->step("x").status != Status::failure) std::abort();
        return 0;
    }
  }
  std::abort();  // no mechanism takes 16 rounds
}
