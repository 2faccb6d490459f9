// sasl/protocol.cpp - offering mechanisms and starting the chosen one.
#include "sasl/protocol.h"

#include <algorithm>

#include "base/text.h"

namespace herald::sasl {

std::vector<std::string> offered_mechanisms(bool tls_active, bool allow_plaintext, const ChannelBinding& binding) {
  if (!tls_active && !allow_plaintext) return {};
  return mechanisms(/*plaintext_allowed=*/true, binding);
}

std::unique_ptr<Exchange> start_exchange(const AuthOptions& options, std::string_view mechanism) {
  bool offered = std::any_of(options.mechanisms.begin(), options.mechanisms.end(),
                             [&](const std::string& m) { return iequals(m, mechanism); });
  if (!offered) return nullptr;
  return Exchange::create(mechanism, options.channel_binding, options.mechanism_options);
}

}  // namespace herald::sasl
