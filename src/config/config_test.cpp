#include "config/config.h"

#include <gtest/gtest.h>

#include "base/duration.h"
#include "base/text.h"

namespace herald::config {

TEST(Config, DefaultsApplyWhenEmpty) {
  auto c = parse("", "/etc/herald/herald.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->smtp.max_recipients, 100u);
  EXPECT_EQ(c->smtp.max_message_size, 25u << 20);
  EXPECT_EQ(c->smtp.max_line_length, 1000u);
  EXPECT_EQ(c->blocking_threads, 2u);
  EXPECT_EQ(c->pop3.max_errors, 10u);
  EXPECT_TRUE(c->smtp.listen.empty());  // a section left out = not listening
  EXPECT_EQ(c->data_dir, "/etc/herald/var");
  EXPECT_FALSE(c->hostname.empty());
}

TEST(Config, ReadsTheContractKeys) {
  auto c = parse(R"(
[server]
hostname = "mx.example.test"
data_dir = "/srv/mail"
[domains]
local = ["Example.TEST"]
[smtp]
listen = ["127.0.0.1:2525"]
max_message_size = "10M"
[pop3]
listen = ["127.0.0.1:2110"]
[tls]
cert = "cert.pem"
key = "key.pem"
[dns]
servers = ["127.0.0.1:5353"]
[delivery]
smarthost = "[127.0.0.1]:2626"
)", "t.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->hostname, "mx.example.test");
  EXPECT_EQ(c->data_dir, "/srv/mail");
  ASSERT_EQ(c->local_domains.size(), 1u);
  EXPECT_EQ(c->local_domains[0], "example.test");
  EXPECT_EQ(c->smtp.listen[0], "127.0.0.1:2525");
  EXPECT_EQ(c->smtp.max_message_size, 10u << 20);
  EXPECT_EQ(c->smarthost, "[127.0.0.1]:2626");
}

TEST(Config, UnknownKeyNamesKeyFileAndLine) {
  auto c = parse("[smtp]\nlisten = []\nmax_recipents = 5\n", "herald.toml");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("herald.toml:3"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("smtp.max_recipents"), std::string::npos) << c.error().message;
}

TEST(Config, UnknownSectionIsAnError) {
  auto c = parse("[smpt]\nlisten = []\n", "h.toml");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("[smpt]"), std::string::npos);
}

TEST(Config, BadValuesAreNamed) {
  for (const char* text : {"[smtp]\nmax_message_size = \"lots\"\n", "[smtp]\ncommand_timeout = 5\n",
                           "[smtp]\nallow_bare_lf = \"yes\"\n", "[smtp]\nvrfy = \"maybe\"\n",
                           "[smtp]\nlisten = [\"nowhere\"]\n", "[smtp]\nmax_recipients = -1\n",
                           "[smtp]\nrelay_networks = [\"10.0.0.0/33\"]\n", "[smtp]\nrelay_networks = [\"lan\"]\n",
                           "[tls]\ncertificates = [{cert = \"a.pem\"}]\n", "[tls]\ncertificates = [\"a.pem\"]\n",
                           "[tls]\ncert = \"a.pem\"\n", "[auth]\ncache_ttl = \"forever\"\n",
                           "[auth]\nmax_tracked = 0\n", "[aliases]\nmax_depth = 0\n", "[aliases]\nmax_depth = 1001\n",
                           "[aliases]\nmax_targets = 0\n", "[aliases]\nmax_targets = -5\n",
                           "[store]\ncommit_wait = \"2s\"\n", "[store]\ncommit_wait = \"soon\"\n",
                           "[store]\ndirectory_cache = 10000001\n", "[store]\ndirectory_cache = -1\n",
                           "[smtp]\nlisten = [\"127.0.0.1:2525\"]\n[pop3s]\nlisten = [\"127.0.0.1:2525\"]\n",
                           "[smtp]\nlisten = [\"127.0.0.1:2525\", \"127.0.0.1:2525\"]\n",
                           "[server]\nblocking_threads = 0\n", "[server]\nblocking_threads = 257\n",
                           "[pop3]\nmax_errors = 0\n", "[pop3]\nmax_errors = 1001\n",
                           "[queue]\nretry_interval = \"0s\"\n", "[queue]\nretry_interval = \"2d\"\n",
                           "[smtp]\ncommand_deadline = \"0s\"\n", "[smtp]\ncommand_deadline = \"2h\"\n",
                           "[smtp]\nwrite_timeout = \"0s\"\n", "[smtp]\nmin_data_rate = 100000001\n",
                           "[smtp]\nmin_data_rate = \"fast\"\n", "[pop3]\ncommand_deadline = \"500ms\"\n",
                           "[pop3]\nwrite_timeout = \"2h\"\n", "[pop3]\nmin_data_rate = -1\n"}) {
    auto c = parse(text, "h.toml");
    EXPECT_FALSE(c) << text;
    if (!c) {
      EXPECT_NE(c.error().message.find("h.toml"), std::string::npos) << c.error().message;
    }
  }
}

TEST(Config, SlowPeerBoundsHaveDefaults) {
  auto c = parse("", "h.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->smtp.command_deadline, std::chrono::minutes(1));
  EXPECT_EQ(c->smtp.min_data_rate, 500u);  // Postfix's smtpd_min_data_rate
  EXPECT_EQ(c->smtp.write_timeout, std::chrono::minutes(5));
  EXPECT_EQ(c->pop3.command_deadline, std::chrono::minutes(1));
  EXPECT_EQ(c->pop3.min_data_rate, 500u);
  EXPECT_EQ(c->pop3.write_timeout, std::chrono::minutes(5));
  auto off = parse("[smtp]\nmin_data_rate = 0\ncommand_deadline = \"2s\"\n", "h.toml");
  ASSERT_TRUE(off) << off.error().message;
  EXPECT_EQ(off->smtp.min_data_rate, 0u);
  EXPECT_EQ(off->smtp.command_deadline, std::chrono::seconds(2));
}

TEST(Config, TomlSyntaxErrorHasALine) {
  auto c = parse("[smtp]\nlisten = [\n", "h.toml");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("h.toml:"), std::string::npos);
}

TEST(Config, DefaultsOutputIsValidAndComplete) {
  std::string d = defaults_toml();
  auto c = parse(d, "defaults.toml");
  ASSERT_TRUE(c) << c.error().message;
  for (const char* key : {"max_message_size", "max_recipients", "allow_bare_lf", "pregreet_wait",
                          "inline_body_max", "commit_wait", "directory_cache", "failure_delay", "max_connections_per_client",
                          "blocking_threads", "max_errors", "retry_interval", "command_deadline",
                          "min_data_rate", "write_timeout"})
    EXPECT_NE(d.find(key), std::string::npos) << key;
}

// An admin reading `config defaults` learns which listeners this version
// serves: the ones it does not yet are marked, the served ones are not.
TEST(Config, DefaultsMarkListenersNotServedYet) {
  std::string d = defaults_toml();
  auto listen_line = [&](const std::string& section) {
    auto at = d.find("\nlisten = ", d.find("[" + section + "]\n"));
    if (at == std::string::npos) return std::string("no listen key");
    return d.substr(at + 1, d.find('\n', at + 1) - at - 1);
  };
  for (const char* served : {"smtp", "submission", "smtps", "pop3", "pop3s", "imap", "imaps"}) {
    EXPECT_EQ(listen_line(served).rfind("listen = ", 0), 0u) << served;
    EXPECT_EQ(listen_line(served).find("not served"), std::string::npos) << served;
  }
  for (const char* later : {"admin"})
    EXPECT_NE(listen_line(later).find("not served by this version yet"), std::string::npos) << later;
}

// Each value `serve` would trip on is refused at load, naming file:line
// (issue 11, item 12): a greeting injection, a timeout that overflows the
// deadline or fires at once, a SIZE 0 that RFC 1870 6 reads as "no limit",
// a thread count that exhausts descriptors, an address that cannot be bound.
TEST(Config, ValuesThatBreakServeAreRefusedWithTheirLine) {
  struct Case {
    const char* text;
    const char* key;
  };
  for (const auto& [text, key] : std::initializer_list<Case>{
           {"[server]\nhostname = \"mx.example.test\\r\\n250 injected\"\n", "server.hostname"},
           {"[server]\nhostname = \"mx example\"\n", "server.hostname"},
           {"[server]\nhostname = \"mx.example.test\\n\"\n", "server.hostname"},
           {"[server]\nhostname = \"-mx.example.test\"\n", "server.hostname"},
           {"[server]\nhostname = \"mx..example.test\"\n", "server.hostname"},
           {"[server]\nthreads = 1000000000\n", "server.threads"},
           {"[smtp]\ncommand_timeout = \"1000000d\"\n", "smtp.command_timeout"},
           {"[smtp]\ncommand_timeout = \"0s\"\n", "smtp.command_timeout"},
           {"[smtp]\ndata_timeout = \"0s\"\n", "smtp.data_timeout"},
           {"[pop3]\nidle_timeout = \"0s\"\n", "pop3.idle_timeout"},
           {"[tls]\nhandshake_timeout = \"0s\"\n", "tls.handshake_timeout"},
           {"[smtp]\ncommand_timeout = \"99999999999999999999d\"\n", "smtp.command_timeout"},
           {"[smtp]\nmax_message_size = 0\n", "smtp.max_message_size"},
           {"[smtp]\nmax_message_size = \"0M\"\n", "smtp.max_message_size"},
           {"[smtp]\nlisten = [\"nowhere:25\"]\n", "smtp.listen"},
           {"[smtp]\nlisten = [\"256.0.0.1:25\"]\n", "smtp.listen"},
           {"[smtp]\nlisten = [\"127.0.0.1:65536\"]\n", "smtp.listen"},
           {"[smtp]\nmax_connections = 0\n", "smtp.max_connections"},
           {"[auth]\nlockout = \"0s\"\n", "auth.lockout"},
           {"[auth]\nuser_penalty = \"2h\"\n", "auth.user_penalty"},
           {"[server]\naccept_backoff = \"0s\"\n", "server.accept_backoff"},
       }) {
    auto c = parse(text, "h.toml");
    ASSERT_FALSE(c) << text;
    EXPECT_NE(c.error().message.find("h.toml:2: "), std::string::npos) << c.error().message;
    EXPECT_NE(c.error().message.find(key), std::string::npos) << c.error().message;
  }
}

TEST(Config, GoodHostNamesAndAddressesPass) {
  for (const char* text : {"[server]\nhostname = \"mx1.example-mail.test\"\n", "[server]\nhostname = \"localhost\"\n",
                           "[smtp]\nlisten = [\"[::1]:2525\", \"*:2526\", \":2527\"]\n",
                           "[smtp]\ncommand_timeout = \"1h\"\n"}) {
    auto c = parse(text, "h.toml");
    EXPECT_TRUE(c) << text << c.error().message;
  }
}

// Every integer, size and duration key has a range, printed by `config
// defaults` (docs/ARCHITECTURE.md "Conventions": a bound has its range).
TEST(Config, EveryNumberDurationAndSizeKeyHasARange) {
  std::string d = defaults_toml();
  int checked = 0;
  for (auto line : split(d, '\n')) {
    auto eq = line.find(" = ");
    auto hash = line.find("  #");
    if (eq == std::string_view::npos || hash == std::string_view::npos || line.starts_with("#")) continue;
    std::string_view value = trim(line.substr(eq + 3, hash - eq - 3));
    bool number = !value.empty() && parse_uint(value).has_value();
    bool quoted = value.size() >= 2 && value.front() == '"' && value.back() == '"';
    std::string_view inner = quoted ? value.substr(1, value.size() - 2) : std::string_view();
    bool timed = quoted && !inner.empty() && (parse_duration(inner) || parse_size(inner));
    if (!number && !timed) continue;
    ++checked;
    std::string_view comment = line.substr(hash);
    EXPECT_TRUE(comment.find(" to ") != std::string_view::npos || comment.find("at most") != std::string_view::npos ||
                comment.find("at least") != std::string_view::npos)
        << "no range: " << line;
  }
  EXPECT_GT(checked, 30);
}

// Errors found after loading (files, OpenSSL) point at the key's line too.
TEST(Config, WhereNamesTheLineOfAKeySetInTheFile) {
  auto c = parse("[server]\nthreads = 2\n\n[tls]\nciphers = \"HIGH\"\n", "h.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->where("tls.ciphers"), "h.toml:5");
  EXPECT_EQ(c->where("server.threads"), "h.toml:2");
  EXPECT_EQ(c->where("tls.cert"), "h.toml");
}

}  // namespace herald::config
