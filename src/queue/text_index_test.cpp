// The full-text index at delivery: intake computes each local message's
// text (mime::indexable_text) off the writer and the store indexes it in
// the delivery's commit; a spooled body's text parts are read back from
// its file. Found by their decoded words, never by their encodings.
#include <gtest/gtest.h>

#include <future>

#include "base/base64.h"
#include "queue/intake.h"
#include "store/scratch_store.h"

namespace herald::queue {
namespace {

using Uids = std::vector<std::int64_t>;

class TextAtDeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_->directory().add_user("alice@example.test", {"h", ""}, 0));
    user_ = (*store_->directory().find_user("alice@example.test"))->id;
    inbox_ = (*store_->mailboxes().find_mailbox(user_, store::kInbox))->id;
  }
  Envelope envelope(bool local = true) {
    Envelope env;
    env.sender = "s@remote.test";
    env.client_ip = "127.0.0.1";
    env.client_name = "localhost";
    env.helo = "client.test";
    env.protocol = "ESMTP";
    if (local) env.recipients.push_back({"alice@example.test", {{"alice@example.test", true}}});
    else env.recipients.push_back({"bob@remote.test", {{"bob@remote.test", false}}});
    return env;
  }
  // deliver - in pieces, through an intake that spools bodies over 64 octets
  // when spool.
  void deliver(const std::string& message, bool spool = false, bool local = true) {
    Intake intake("mx.example.test", store_->queue(), LocalDelivery(),
                  spool ? BodyLimits{64, 1 << 20} : BodyLimits{1 << 20, 1 << 24});
    Incoming in = intake.begin(envelope(local));
    for (std::size_t at = 0; at < message.size(); at += 700) in.append(std::string_view(message).substr(at, 700));
    EXPECT_EQ(in.spooled(), spool);
    std::promise<Result<Accepted>> p;
    intake.submit(std::move(in), [&](Result<Accepted> r) { p.set_value(std::move(r)); });
    ASSERT_TRUE(p.get_future().get());
  }
  Uids find(const std::string& query, bool body_only = true) {
    auto r = store_->mailboxes().search_text(inbox_, query, body_only);
    EXPECT_TRUE(r) << query;
    if (r) {
      EXPECT_EQ(r->unindexed, Uids{});
    }
    return r ? r->matches : Uids{};
  }

  store::ScratchStore store_{"text-at-delivery-test"};
  std::int64_t user_ = 0, inbox_ = 0;
};

std::string mixed(const std::string& filler) {
  std::string b64;
  const std::string e = base64_encode("Grüße from the base64 part: marmalade ostrich\r\n");
  for (std::size_t at = 0; at < e.size(); at += 76) b64 += e.substr(at, 76) + "\r\n";
  return "Subject: =?UTF-8?Q?Sch=C3=B6ne_Gr=C3=BC=C3=9Fe?=\r\nFrom: Ann <ann@example.com>\r\nTo: alice@example.test\r\n"
         "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
         "--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
         b64 +
         "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
         "The na=EFve quoted-printable xylophone, split by a soft=\r\nbreak: porcu=\r\npine\r\n"
         "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
         "<html><body><p>An <b>html</b>&nbsp;giraffe &amp; a zebra</p><script>hiddenscript</script></body></html>\r\n"
         "--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
         filler + "\r\n--b--\r\n";
}

TEST_F(TextAtDeliveryTest, EncodedPartsAreFoundByTheirDecodedWords) {
  deliver(mixed("AAAA"));
  EXPECT_EQ(find("marmalade ostrich"), (Uids{1}));
  EXPECT_EQ(find("grüße"), (Uids{1}));
  EXPECT_EQ(find("xylophone"), (Uids{1}));
  EXPECT_EQ(find("naïve"), (Uids{1})) << "ISO-8859-1 converted";
  EXPECT_EQ(find("porcupine"), (Uids{1})) << "a soft line break joins the word";
  EXPECT_EQ(find("html giraffe"), (Uids{1}));
  EXPECT_EQ(find("giraffe & a zebra"), (Uids{1}));
  EXPECT_EQ(find("hiddenscript"), Uids{});
  EXPECT_EQ(find("R3LDn"), Uids{}) << "never the base64 text";
  EXPECT_EQ(find("na=EFve"), Uids{});
  EXPECT_EQ(find("EFve"), Uids{});
  EXPECT_EQ(find("schöne grüße", false), (Uids{1})) << "the Subject's encoded-words decoded";
  EXPECT_EQ(find("schöne", true), Uids{}) << "BODY leaves the header values out";
  EXPECT_EQ(find("ann@example.com", false), (Uids{1}));
}

TEST_F(TextAtDeliveryTest, ASpooledBodyIsReadBackForItsText) {
  std::string filler;
  while (filler.size() < 200000) filler += "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n";
  deliver(mixed(filler), /*spool=*/true);
  EXPECT_EQ(find("marmalade"), (Uids{1}));
  EXPECT_EQ(find("porcupine"), (Uids{1}));
  EXPECT_EQ(find("zebra"), (Uids{1}));
}

TEST_F(TextAtDeliveryTest, RemoteOnlyMailIsNotIndexed) {
  deliver("Subject: x\r\n\r\nfaraway words\r\n", false, /*local=*/false);
  deliver("Subject: y\r\n\r\nnearby words\r\n");
  EXPECT_EQ(find("words"), (Uids{1}));
}

}  // namespace
}  // namespace herald::queue
