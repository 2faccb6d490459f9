// sasl/protocol_test.cpp - what a connection offers and which exchange a
// client's choice starts (shared by SMTP, POP3 and IMAP).
#include "sasl/protocol.h"

#include <gtest/gtest.h>

namespace herald::sasl {
namespace {

using Names = std::vector<std::string>;

TEST(Offer, NothingInClearUnlessAllowed) {
  EXPECT_EQ(offered_mechanisms(false, false, {}), Names{});
  EXPECT_EQ(offered_mechanisms(false, true, {}), (Names{"SCRAM-SHA-256", "PLAIN", "LOGIN"}));
  EXPECT_EQ(offered_mechanisms(true, false, {}), (Names{"SCRAM-SHA-256", "PLAIN", "LOGIN"}));
}

TEST(Offer, PlusOnlyWithBindingData) {
  ChannelBinding binding{"tls-exporter", std::string(32, 'x')};
  EXPECT_EQ(offered_mechanisms(true, false, binding),
            (Names{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "PLAIN", "LOGIN"}));
}

TEST(Offer, OnlyOfferedMechanismsStart) {
  AuthOptions options;
  options.mechanisms = {"SCRAM-SHA-256"};
  EXPECT_EQ(start_exchange(options, "PLAIN"), nullptr) << "exists, but not offered here";
  EXPECT_EQ(start_exchange(options, "CRAM-MD5"), nullptr);
  auto x = start_exchange(options, "scram-sha-256");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->mechanism_name(), "SCRAM-SHA-256");
  // -PLUS named in the list but no binding on the channel: refused.
  options.mechanisms = {"SCRAM-SHA-256-PLUS"};
  EXPECT_EQ(start_exchange(options, "SCRAM-SHA-256-PLUS"), nullptr);
  options.channel_binding = {"tls-exporter", std::string(32, 'x')};
  EXPECT_NE(start_exchange(options, "SCRAM-SHA-256-PLUS"), nullptr);
}

}  // namespace
}  // namespace herald::sasl
