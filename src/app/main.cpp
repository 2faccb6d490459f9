// app/main.cpp - the herald command: the daemon and the operator commands
// of CONTRACT.md. Exit status: 0 done, 1 failed, 2 usage error.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <openssl/rand.h>

#include "auth/password.h"
#include "net/tls.h"
#include "sasl/scram.h"
#include "base/duration.h"
#include "base/log.h"
#include "base/text.h"
#include "config/config.h"
#include "server/server.h"
#include "smtp/address.h"
#include "store/store.h"

namespace {

using herald::Errc;
using json = nlohmann::json;
namespace config = herald::config;
namespace store = herald::store;

constexpr const char* kVersion = HERALD_VERSION;

struct Failure {
  int code;
  std::string message;
};

[[noreturn]] void fail(const std::string& message, int code = 1) { throw Failure{code, message}; }

template <typename T>
T check(herald::Result<T> r) {
  if (!r) fail(r.error().message);
  return std::move(*r);
}

void check(const herald::Status& st) {
  if (!st) fail(st.error().message);
}

std::string default_config_path() {
  if (const char* env = std::getenv("HERALD_CONFIG"); env && *env) return env;
  return "etc/herald.toml";
}

config::Config load_config(const std::string& path) { return check(config::load(path)); }

// open_store - sweep_blobs only for the server (see BlobStore::sweep).
std::unique_ptr<store::Store> open_store(const config::Config& c, bool sweep_blobs = false) {
  store::StoreOptions o;
  o.data_dir = c.data_dir;
  o.inline_body_max = c.inline_body_max;
  o.commit_wait = c.store_commit_wait;
  o.directory_cache = c.store_directory_cache;
  o.config_domains = c.local_domains;
  o.sweep_blobs = sweep_blobs;
  return check(store::open(o));
}

std::string read_password_stdin() {
  std::string pw;
  std::getline(std::cin, pw);
  if (!pw.empty() && pw.back() == '\r') pw.pop_back();
  if (pw.empty()) fail("no password on standard input", 2);
  return pw;
}

// valid_address - an address as users and aliases are keyed: local@domain.
void require_address(const std::string& address) {
  auto at = address.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == address.size() ||
      !herald::smtp::valid_local_part(address.substr(0, at), true) ||
      !herald::smtp::valid_domain(address.substr(at + 1), true))
    fail(fmt::format("{}: not a valid address (local@domain)", address), 2);
}

std::string domain_of(const std::string& a) { return herald::to_lower(a.substr(a.rfind('@') + 1)); }

std::string iso_time(std::int64_t ms) {
  std::time_t t = ms / 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

std::unique_ptr<herald::net::TlsServer> make_tls(const config::Config& c) {
  herald::net::TlsOptions o;
  if (!c.tls_cert.empty()) o.certificates.push_back({c.tls_cert, c.tls_key});
  for (const auto& ck : c.tls_certificates) o.certificates.push_back({ck.cert, ck.key});
  o.self_signed_dir = c.data_dir / "tls";
  o.hostname = c.hostname;
  o.min_version = c.tls_min_version;
  o.ciphers = c.tls_ciphers;
  o.ciphersuites = c.tls_ciphersuites;
  return check(herald::net::TlsServer::create(o));
}

// credentials - what the store keeps for a new password: the argon2id hash
// for PLAIN/LOGIN/USER and SCRAM-SHA-256 keys (RFC 7677) for SCRAM.
herald::store::Credentials credentials_for(const std::string& password) {
  herald::store::Credentials c;
  c.password_hash = check(herald::auth::hash_password(password));
  unsigned char salt[16];
  if (RAND_bytes(salt, sizeof salt) != 1) fail("no randomness for a salt");
  c.scram_sha256 = herald::sasl::encode_scram_credentials(herald::sasl::make_scram_credentials(
      password, std::string_view(reinterpret_cast<const char*>(salt), sizeof salt), 4096));
  return c;
}

int cmd_serve(const std::string& path) {
  config::Config c = load_config(path);
  herald::log::setup(c.log_file, c.log_level, c.hostname);
  auto st = open_store(c, true);
  auto tls = make_tls(c);
  std::vector<std::string> certs = tls->describe();
  herald::server::Server server(c, *st, std::move(tls));
  check(server.start());
  std::cout << fmt::format("herald {} serving {} (data in {})\n", kVersion, c.hostname, c.data_dir.string());
  for (const auto& l : server.listening()) std::cout << "  listening: " << l << "\n";
  for (const auto& d : certs) std::cout << "  certificate: " << d << "\n";
  std::cout << fmt::format("add a user:  build/herald user add alice@{} --password-stdin --config {}\n",
                           c.local_domains.empty() ? "example.test" : c.local_domains.front(), path);
  std::cout.flush();
  server.run();
  herald::log::get("master")->info("stopped");
  herald::log::flush();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Herald - mail server: SMTP in, mailboxes, POP3 out"};
  app.require_subcommand(1);
  std::string config_path = default_config_path();
  bool as_json = false;
  auto add_config = [&](CLI::App* sub) {
    sub->add_option("--config", config_path, "configuration file (default $HERALD_CONFIG, else etc/herald.toml)");
  };
  auto add_json = [&](CLI::App* sub) { sub->add_flag("--json", as_json, "print JSON"); };

  auto* serve = app.add_subcommand("serve", "run the daemon in the foreground");
  add_config(serve);

  auto* cfg = app.add_subcommand("config", "check the configuration or print its defaults");
  cfg->require_subcommand(1);
  auto* cfg_check = cfg->add_subcommand("check", "validate the configuration file without starting");
  add_config(cfg_check);
  auto* cfg_defaults = cfg->add_subcommand("defaults", "print every key with its default and a comment");

  std::string name, password, password_hash, quota_text;
  bool password_stdin = false;
  std::vector<std::string> targets;

  auto* domain = app.add_subcommand("domain", "local domains");
  domain->require_subcommand(1);
  auto* domain_add = domain->add_subcommand("add", "add a local domain");
  domain_add->add_option("NAME", name, "domain name")->required();
  auto* domain_del = domain->add_subcommand("del", "delete a local domain");
  domain_del->add_option("NAME", name, "domain name")->required();
  auto* domain_list = domain->add_subcommand("list", "list local domains");
  for (auto* s : {domain_add, domain_del, domain_list}) add_config(s);
  add_json(domain_list);

  auto* user = app.add_subcommand("user", "mail users");
  user->require_subcommand(1);
  auto* user_add = user->add_subcommand("add", "add a user with an INBOX");
  user_add->add_option("ADDRESS", name, "user@domain (the domain must be local)")->required();
  user_add->add_flag("--password-stdin", password_stdin, "read the password from standard input");
  user_add->add_option("--password", password, "the password (visible to ps; prefer --password-stdin)");
  user_add->add_option("--password-hash", password_hash, "an existing hash: argon2id, $6$ SHA512-CRYPT or $2y$ bcrypt");
  user_add->add_option("--quota", quota_text, "mailbox quota such as 500M or 1G (default: none)");
  auto* user_del = user->add_subcommand("del", "delete a user and their mail");
  user_del->add_option("ADDRESS", name)->required();
  auto* user_passwd = user->add_subcommand("passwd", "change a user's password");
  user_passwd->add_option("ADDRESS", name)->required();
  user_passwd->add_flag("--password-stdin", password_stdin, "read the password from standard input");
  user_passwd->add_option("--password", password, "the password");
  user_passwd->add_option("--password-hash", password_hash, "an existing hash");
  auto* user_list = user->add_subcommand("list", "list users");
  std::string send_as_value;
  auto* user_send_as = user->add_subcommand("send-as", "allow or forbid any envelope sender on submission");
  user_send_as->add_option("ADDRESS", name)->required();
  user_send_as->add_option("on|off", send_as_value)->required()->check(CLI::IsMember({"on", "off"}));
  for (auto* s : {user_add, user_del, user_passwd, user_list, user_send_as}) add_config(s);
  add_json(user_list);

  auto* alias = app.add_subcommand("alias", "aliases: one address, many targets");
  alias->require_subcommand(1);
  auto* alias_add = alias->add_subcommand("add", "add targets to an alias");
  alias_add->add_option("ALIAS", name)->required();
  alias_add->add_option("TARGET", targets, "local or remote addresses")->required();
  auto* alias_del = alias->add_subcommand("del", "delete an alias");
  alias_del->add_option("ALIAS", name)->required();
  auto* alias_list = alias->add_subcommand("list", "list aliases");
  for (auto* s : {alias_add, alias_del, alias_list}) add_config(s);
  add_json(alias_list);

  auto* queue = app.add_subcommand("queue", "the mail queue");
  queue->require_subcommand(1);
  auto* queue_list = queue->add_subcommand("list", "list queued recipients");
  auto* queue_show = queue->add_subcommand("show", "show one queued message");
  queue_show->add_option("ID", name, "queue id")->required();
  for (auto* s : {queue_list, queue_show}) {
    add_config(s);
    add_json(s);
  }

  std::string since, message_id, queue_id, address;
  std::size_t limit = 1000;
  auto* journal = app.add_subcommand("journal", "the journal of events");
  journal->add_option("--since", since, "only events newer than this (30m, 1h, 2d)");
  journal->add_option("--message-id", message_id, "only this Message-ID");
  journal->add_option("--queue-id", queue_id, "only this queue id");
  journal->add_option("--address", address, "only events with this sender or recipient");
  journal->add_option("--limit", limit, "newest N events (default 1000)");
  add_config(journal);
  add_json(journal);

  auto* version = app.add_subcommand("version", "print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  try {
    if (*version) {
      std::cout << "herald " << kVersion << "\n";
      return 0;
    }
    if (*serve) return cmd_serve(config_path);
    if (*cfg_defaults) {
      std::cout << config::defaults_toml();
      return 0;
    }
    config::Config c = load_config(config_path);
    if (*cfg_check) {
      std::cout << fmt::format("{}: ok\n", config_path);
      return 0;
    }
    auto st = open_store(c);

    if (*domain_add) {
      require_address("postmaster@" + name);
      check(st->directory().add_domain(name));
    } else if (*domain_del) {
      check(st->directory().del_domain(name));
    } else if (*domain_list) {
      auto ds = check(st->directory().list_domains({.limit = SIZE_MAX}));
      json out = json::array();
      for (const auto& d : ds) {
        if (as_json) out.push_back({{"name", d.name}, {"source", d.from_config ? "config" : "store"}});
        else std::cout << d.name << (d.from_config ? "  (config)" : "") << "\n";
      }
      if (as_json) std::cout << out.dump(2) << "\n";
    } else if (*user_add || *user_passwd) {
      require_address(name);
      int sources = int(password_stdin) + int(!password.empty()) + int(!password_hash.empty());
      if (sources != 1) fail("give exactly one of --password-stdin, --password, --password-hash", 2);
      herald::store::Credentials cred;
      if (!password_hash.empty()) {
        if (!herald::auth::looks_like_hash(password_hash))
          fail("--password-hash: not an argon2id, $6$ or $2y$ hash", 2);
        cred.password_hash = password_hash;  // SCRAM needs the password: not available for imports
      } else {
        cred = credentials_for(password_stdin ? read_password_stdin() : password);
      }
      if (*user_add) {
        if (!check(st->directory().is_local_domain(domain_of(name))))
          fail(fmt::format("{}: {} is not a local domain (herald domain add {})", name, domain_of(name),
                           domain_of(name)));
        std::uint64_t quota = 0;
        if (!quota_text.empty()) {
          auto q = herald::parse_size(quota_text);
          if (!q) fail(fmt::format("--quota {}: not a size such as 500M or 1G", quota_text), 2);
          quota = *q;
        }
        auto r = st->directory().add_user(name, cred, quota);
        if (!r && r.error().code == Errc::exists) fail(fmt::format("{}: user exists", name));
        check(r);
      } else {
        check(st->directory().set_password(name, cred));
      }
    } else if (*user_send_as) {
      check(st->directory().set_send_as_any(name, send_as_value == "on"));
    } else if (*user_del) {
      check(st->directory().del_user(name));
    } else if (*user_list) {
      auto us = check(st->directory().list_users({.limit = SIZE_MAX}));
      json out = json::array();
      for (const auto& u : us) {
        if (as_json)
          out.push_back({{"address", u.address}, {"quota_bytes", u.quota_bytes}, {"used_bytes", u.used_bytes},
                         {"scram", !u.scram_sha256.empty()}, {"send_as_any", u.send_as_any}});
        else
          std::cout << fmt::format("{}  used {} of {}\n", u.address, herald::format_size(u.used_bytes),
                                   u.quota_bytes ? herald::format_size(u.quota_bytes) : "unlimited");
      }
      if (as_json) std::cout << out.dump(2) << "\n";
    } else if (*alias_add) {
      require_address(name);
      for (const auto& t : targets) require_address(t);
      if (!check(st->directory().is_local_domain(domain_of(name))))
        fail(fmt::format("{}: {} is not a local domain", name, domain_of(name)));
      check(st->directory().add_alias(name, targets));
    } else if (*alias_del) {
      check(st->directory().del_alias(name));
    } else if (*alias_list) {
      auto as = check(st->directory().list_aliases({.limit = SIZE_MAX}));
      json out = json::array();
      for (const auto& a : as) {
        if (as_json) out.push_back({{"alias", a.address}, {"targets", a.targets}});
        else std::cout << a.address << ": " << fmt::format("{}", fmt::join(a.targets, ", ")) << "\n";
      }
      if (as_json) std::cout << out.dump(2) << "\n";
    } else if (*queue_list || *queue_show) {
      auto rows = *queue_list ? check(st->queue().list({.limit = SIZE_MAX})) : check(st->queue().show(name));
      if (*queue_show && rows.empty()) fail(fmt::format("{}: not in the queue", name));
      json out = json::array();
      for (const auto& r : rows) {
        if (as_json) {
          out.push_back({{"queue_id", r.queue_id}, {"sender", r.sender}, {"recipient", r.recipient},
                         {"original_recipient", r.original_recipient}, {"status", herald::store::to_string(r.state)},
                         {"attempts", r.attempts}, {"created", r.created}, {"next_attempt", r.next_attempt},
                         {"size", r.size}, {"last_reply", r.last_reply}});
        } else {
          std::cout << fmt::format("{}  {:>8}  {}  <{}> -> <{}>{}\n", r.queue_id, r.size, herald::store::to_string(r.state), r.sender,
                                   r.recipient, r.last_reply.empty() ? "" : "  (" + r.last_reply + ")");
        }
      }
      if (as_json) std::cout << out.dump(2) << "\n";
      else if (rows.empty()) std::cout << "Mail queue is empty\n";
    } else if (*journal) {
      herald::store::JournalQuery q;
      if (!since.empty()) {
        auto d = herald::parse_duration(since);
        if (!d) fail(fmt::format("--since {}: not a duration such as 30m or 2h", since), 2);
        auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch());
        q.since_ms = (now - *d).count();
      }
      q.message_id = message_id;
      q.queue_id = queue_id;
      q.address = address;
      q.limit = limit;
      auto es = check(st->journal().query(q));
      json out = json::array();
      for (const auto& e : es) {
        if (as_json) {
          out.push_back({{"time", iso_time(e.time_ms)}, {"event", herald::store::to_string(e.event)}, {"queue_id", e.queue_id},
                         {"message_id", e.message_id}, {"sender", e.sender}, {"recipient", e.recipient},
                         {"client", e.client}, {"size", e.size}, {"reply", e.reply}, {"detail", e.detail}});
        } else {
          std::string line = fmt::format("{} {}", iso_time(e.time_ms), herald::store::to_string(e.event));
          if (!e.queue_id.empty()) line += " " + e.queue_id;
          if (!e.sender.empty()) line += fmt::format(" from=<{}>", e.sender);
          if (!e.recipient.empty()) line += fmt::format(" to=<{}>", e.recipient);
          if (!e.client.empty()) line += " client=" + e.client;
          if (e.size) line += fmt::format(" size={}", e.size);
          if (!e.message_id.empty()) line += " message-id=" + e.message_id;
          if (!e.reply.empty()) line += fmt::format(" ({})", e.reply);
          if (!e.detail.empty()) line += " " + e.detail;
          std::cout << line << "\n";
        }
      }
      if (as_json) std::cout << out.dump(2) << "\n";
    }
    return 0;
  } catch (const Failure& f) {
    std::cerr << "herald: " << f.message << "\n";
    return f.code;
  }
}
