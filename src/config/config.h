// config/config.h - Herald's TOML configuration as a typed, validated Config.
//
// Every key lives in one table (kKeys in config.cpp) with its type, default
// and one-line comment; `herald config defaults` prints that table, loading
// validates against it, so a key has exactly one default in one place.
// Unknown keys and bad values are errors naming the key, file and line.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace herald::config {

using std::chrono::milliseconds;

struct ListenerConfig {
  std::vector<std::string> listen;  // "host:port" / "[v6]:port"
  std::uint32_t max_connections = 0;
  std::uint32_t max_connections_per_client = 0;
};

struct SmtpConfig : ListenerConfig {
  std::uint64_t max_message_size = 0;
  std::uint64_t body_memory_max = 0;  // queue::BodyLimits
  std::uint64_t memory_budget = 0;
  std::uint32_t max_recipients = 0;
  std::uint32_t max_line_length = 0;
  std::uint32_t max_errors = 0;
  std::uint32_t junk_command_limit = 0;
  std::uint32_t recipient_overshoot_limit = 0;
  milliseconds command_timeout{0};
  milliseconds data_timeout{0};
  milliseconds command_deadline{0};  // net::ReadRules::line
  std::uint32_t min_data_rate = 0;   // octets/s; 0 = per block
  milliseconds write_timeout{0};
  milliseconds pregreet_wait{0};
  bool allow_bare_lf = false;
  std::string vrfy;  // "ambiguous" | "verify" | "disabled"
  std::vector<std::string> relay_networks;  // CIDR, validated
  std::vector<std::string> etrn_networks;  // ETRN allowed (RFC 1985)
  std::string require_auth;  // "never" | "relay" | "always" (port 25)
  bool require_tls = false;
};

struct Pop3Config : ListenerConfig {
  milliseconds idle_timeout{0};
  milliseconds command_deadline{0};
  std::uint32_t min_data_rate = 0;   // of our replies (RETR, TOP)
  milliseconds write_timeout{0};
  std::uint32_t max_errors = 0;
};

struct ImapConfig : ListenerConfig {
  milliseconds idle_timeout{0};
  milliseconds command_deadline{0};
  std::uint32_t min_data_rate = 0;
  milliseconds write_timeout{0};
  std::uint32_t max_bad_commands = 0;
  std::uint64_t max_line = 0;
  std::uint64_t max_literal = 0;
  std::uint32_t max_depth = 0;
  std::uint32_t max_sessions_per_user = 0;
  std::uint64_t literal_memory = 0;
  std::uint64_t metadata_max_size = 0;
  std::uint32_t metadata_max_entries = 0;
};

struct Config {
  std::filesystem::path file;     // where it was loaded from ("" = defaults)
  std::map<std::string, int, std::less<>> lines;  // "section.key" -> its line in file, when set there
  // where - "file:line" of a key set in the file, else "file": for errors
  // found after loading (config/check.h), in the shape of the loader's own.
  std::string where(std::string_view section_key) const;
  // [server]
  std::string hostname;
  std::filesystem::path data_dir; // absolute, resolved against the file's folder
  std::uint32_t threads = 0;      // 0 = one per core
  std::uint32_t blocking_threads = 0;
  std::string postmaster;         // lower-case; "" = the user added first
  milliseconds accept_backoff{0};
  // [log]
  std::string log_file;           // "" = stderr
  std::string log_level;
  // [domains]
  std::vector<std::string> local_domains;  // lower-case
  // listeners
  SmtpConfig smtp;
  Pop3Config pop3;
  ListenerConfig submission, smtps, pop3s;
  ImapConfig imap;
  ListenerConfig imaps;
  ListenerConfig admin;  // parsed; not served by this version yet
  // [tls] (paths resolved against the config file's folder)
  std::string tls_cert, tls_key;
  struct CertKey {
    std::string cert, key;
  };
  std::vector<CertKey> tls_certificates;
  std::string tls_min_version;
  std::string tls_ciphers, tls_ciphersuites;
  milliseconds tls_handshake_timeout{0};
  // [dns]
  std::vector<std::string> dns_servers;
  milliseconds dns_timeout{0};
  std::uint32_t dns_cache_entries = 0;
  milliseconds dns_cache_max_ttl{0};
  // [delivery]
  std::string smarthost;  // "[ip]:port"; checked by server::check_environment
  std::string fallback_relay;           // delivery.fallback_relay, "" = none
  std::string delivery_source_address;  // "" = the kernel's choice
  milliseconds delivery_connection_cache_time{0};
  std::string smarthost_auth_user, smarthost_auth_password;  // "" = no AUTH to the smarthost
  bool delivery_auth_without_tls = false;
  std::string delivery_tls_ca_file;     // "" = the system store
  std::string delivery_tls_cert, delivery_tls_key;  // the client certificate; "" = none
  std::string dead_letter_action;       // store | keep | delete
  std::string bounce_copy;              // "" = none
  std::vector<std::string> mail_administrators;
  milliseconds fallback_relay_after{0};
  struct Route {
    std::string domain;  // lower case; "*.example.org" for the domains below
    std::vector<std::string> targets;
    std::string tls;     // "" = delivery.tls
    std::string auth_user, auth_password;
    std::string source_address;  // "" = delivery.source_address
    std::optional<bool> auth_without_tls;  // unset = delivery.auth_without_tls
    std::int64_t line = 0;  // where the [[delivery.route]] is, for errors
  };
  std::vector<Route> delivery_routes;
  std::uint16_t delivery_mx_port = 25;
  std::uint32_t delivery_mx_address_limit = 0;
  std::string delivery_helo_name;  // "" = hostname
  std::string delivery_tls;
  std::uint32_t delivery_concurrency = 0;
  std::uint32_t delivery_destination_concurrency = 0;
  std::uint32_t delivery_max_messages_per_connection = 0;
  milliseconds delivery_connect_timeout{0};
  milliseconds delivery_command_timeout{0};
  milliseconds delivery_data_timeout{0};
  milliseconds delivery_retry_interval{0};
  milliseconds delivery_retry_period{0};
  milliseconds delivery_long_retry_interval{0};
  milliseconds delivery_max_queue_lifetime{0};
  milliseconds delivery_delay_warning{0};  // 0 = never
  std::uint64_t delivery_bounce_size_limit = 0;
  std::uint32_t delivery_active_recipient_limit = 0;
  // [queue]
  milliseconds queue_retry_interval{0};
  // [journal]
  milliseconds journal_keep{0};  // 0 = for ever
  std::vector<std::string> journal_skip;  // event names, validated
  // [store]
  std::string store_backend;
  std::uint64_t inline_body_max = 0;
  milliseconds store_commit_wait{0};
  std::uint64_t store_min_free_space = 0;  // resolved: never 0
  std::uint32_t store_directory_cache = 0;
  // [auth]
  milliseconds auth_failure_delay{0};
  milliseconds auth_max_failure_delay{0};
  bool auth_allow_plaintext = false;
  std::uint32_t auth_max_failures = 0;
  milliseconds auth_failure_window{0};
  milliseconds auth_lockout{0};
  milliseconds auth_cache_ttl{0};
  std::uint32_t auth_max_tracked = 0;
  bool auth_user_lockout = false;
  milliseconds auth_user_penalty{0};
  // [aliases]
  std::uint32_t alias_max_depth = 0;
  std::uint32_t alias_max_targets = 0;
  // [[spool]]: directories batch jobs write mail into (server/spool.h).
  struct Spool {
    std::string name;
    std::filesystem::path directory;
    std::vector<std::string> users, groups;  // both empty: any owner
    std::string sender_domain;               // resolved: never ""
    std::string report;                      // sender | administrators | both | none
    milliseconds settle_time{0};
    milliseconds scan_interval{0};
    std::uint64_t max_file_size = 0;
    bool fold_long_lines = true;
    bool keep_done = false;
    std::uint32_t concurrency = 0;
    std::uint32_t backlog = 0;  // names waiting, held in memory at most
    // Senders (spool/sender.h): any | verify | replace; who may give any;
    // more addresses ("user:address", "@group:@domain").
    std::string sender_policy = "any";
    std::vector<std::string> trusted_users;
    std::vector<std::string> sender_map;
    std::filesystem::path sender_exit;  // "" = none (server/sender_exit.h)
    milliseconds sender_exit_timeout{0};
    bool verify_requests = false;  // VRFY-only files are answered with a report (sendmail -bv)
    std::int64_t line = 0;  // where its [[spool]] is, for errors
  };
  std::vector<Spool> spools;
  // [sendmail]: the maildrop, taken as a spool of any owner's files.
  Spool maildrop;
};

// load - read and validate a config file.
Result<Config> load(const std::filesystem::path& file);
// parse - validate TOML text (file names the source in errors).
Result<Config> parse(std::string_view toml_text, const std::filesystem::path& file);
// defaults_toml - every key, its default and a comment, as valid TOML.
std::string defaults_toml();

}  // namespace herald::config
