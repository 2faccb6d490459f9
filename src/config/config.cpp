#include "config/config.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "base/duration.h"
#include "base/text.h"

namespace herald::config {
namespace {

enum class Kind { string, hostname, boolean, integer, size, duration, string_list, choice, network_list, cert_list, route_list };

struct KeySpec {
  std::string_view section;
  std::string_view key;
  Kind kind;
  std::string_view def;       // the default, as TOML value text
  std::string_view comment;
  std::string_view choices = {};  // for Kind::choice: "a|b|c"
  // For integer, size and duration keys: "min-max", "min-" or "-max" in the
  // key's own units ("1-256", "1s-1d", "-10000000"); checked once, in
  // Loader::check_value, and printed by `config defaults`.
  std::string_view range = {};
};

// The one table of every key. Sections listed in kListenerSections share the
// listener keys below.
constexpr KeySpec kKeys[] = {
    {"server", "hostname", Kind::hostname, R"("")", "name in the greeting, Received and bounces; \"\" = the system's host name"},
    {"server", "data_dir", Kind::string, R"("var")", "database, blobs and spool; relative to the config file"},
    {"server", "threads", Kind::integer, "0", "I/O threads, one io_context each; 0 = one per core", {}, "0-256"},
    // accept() failing for want of descriptors (EMFILE, ENFILE) leaves the
    // connection queued and the socket readable: without a pause the loop spins.
    {"server", "accept_backoff", Kind::duration, R"("100ms")", "pause of a listener after accept() fails for want of file descriptors or memory", {}, "10ms-10s"},
    {"server", "postmaster", Kind::string, R"("")", "where mail to <postmaster> and postmaster@ a local domain without such a user or alias goes (RFC 5321 4.5.1); \"\" = the user added first"},
    {"server", "blocking_threads", Kind::integer, "2", "threads for blocking work off the I/O threads: store reads, password hashing", {}, "1-256"},
    {"log", "file", Kind::string, R"("")", "log file in Postfix line format; \"\" = standard error"},
    {"log", "level", Kind::choice, R"("info")", "least severe level logged", "debug|info|warning|error"},
    {"domains", "local", Kind::string_list, "[]", "local domains, besides those added with `herald domain add`"},
    // The alias expansion recurses once per level: the bound keeps the stack safe.
    {"aliases", "max_depth", Kind::integer, "16", "aliases followed in a chain; deeper is refused as a loop (550 5.4.6)", {}, "1-1000"},
    {"aliases", "max_targets", Kind::integer, "10000", "addresses one recipient may expand to; more is refused (550 5.2.4)", {}, "1-"},
    {"smtp", "max_message_size", Kind::size, R"("25M")", "largest message accepted (SIZE, RFC 1870: 0 would mean no limit)", {}, "1k-2G"},
    {"smtp", "body_memory_max", Kind::size, R"("256k")", "a message body larger than this is written to data_dir as it arrives instead of held in memory; 0 = every body", {}, "-1G"},
    {"smtp", "memory_budget", Kind::size, R"("256M")", "memory all message bodies being received may hold together; past it, bodies go to data_dir as they arrive", {}, "1M-1000G"},
    {"smtp", "max_recipients", Kind::integer, "100", "recipients per message; more get 452 4.5.3 (RFC 5321 4.5.3.1.8)", {}, "1-100000"},
    {"smtp", "max_line_length", Kind::integer, "1000", "longest text line in DATA, CRLF included (RFC 5321 4.5.3.1.6)", {}, "80-1000000"},
    {"smtp", "max_errors", Kind::integer, "20", "protocol errors before the client gets 421 and is disconnected", {}, "1-1000"},
    {"smtp", "junk_command_limit", Kind::integer, "100", "NOOP, RSET, VRFY and HELP allowed before each counts as an error (Postfix's smtpd_junk_command_limit); reset by a delivered message", {}, "1-1000000000"},
    {"smtp", "recipient_overshoot_limit", Kind::integer, "1000", "RCPTs past max_recipients (each answered 452) before each counts as an error", {}, "0-100000"},
    {"smtp", "command_timeout", Kind::duration, R"("5m")", "idle time waiting for a command (RFC 5321 4.5.3.2.7)", {}, "1s-1h"},
    {"smtp", "data_timeout", Kind::duration, R"("3m")", "idle time waiting for a block of DATA (RFC 5321 4.5.3.2.6)", {}, "1s-1h"},
    // A command line is at most 512 octets (RFC 5321 4.5.3.1.4): it comes in one segment, a minute is generous.
    {"smtp", "command_deadline", Kind::duration, R"("1m")", "time from a command line's first octet to its end, however it is sliced (Postfix's smtpd_per_record_deadline)", {}, "1s-1h"},
    {"smtp", "min_data_rate", Kind::integer, "500", "least octets per second in DATA/BDAT and in taking our replies: each octet earns 1/rate s back, up to data_timeout or write_timeout (Postfix's smtpd_min_data_rate); 0 = the timeout per block", {}, "-100000000"},
    {"smtp", "write_timeout", Kind::duration, R"("5m")", "time a client may leave our replies untaken, renewed by min_data_rate; then it is disconnected", {}, "1s-1h"},
    {"smtp", "pregreet_wait", Kind::duration, R"("0s")", "wait before the greeting; a client that talks first is refused", {}, "-1m"},
    {"smtp", "allow_bare_lf", Kind::boolean, "false", "accept bare LF/CR in DATA as CRLF (unsafe: SMTP smuggling)"},
    {"smtp", "relay_networks", Kind::network_list, R"(["127.0.0.0/8", "::1/128"])", "clients in these networks may relay to any domain (Postfix's mynetworks)"},
    {"smtp", "etrn_networks", Kind::network_list, "[]", "clients in these networks may ask with ETRN (RFC 1985) for the mail waiting for a domain to be tried now; [] = nobody"},
    {"smtp", "vrfy", Kind::choice, R"("ambiguous")", "VRFY: 252 without lookup, a real lookup, or 502", "ambiguous|verify|disabled"},
    {"pop3", "idle_timeout", Kind::duration, R"("10m")", "idle time before an autologout (RFC 1939 3)", {}, "1s-1h"},
    {"pop3", "command_deadline", Kind::duration, R"("1m")", "time from a command line's first octet to its end, however it is sliced (Postfix's smtpd_per_record_deadline)", {}, "1s-1h"},
    {"pop3", "min_data_rate", Kind::integer, "500", "least octets per second in taking our replies (RETR, TOP): each octet earns 1/rate s back, up to write_timeout; 0 = write_timeout per block", {}, "-100000000"},
    {"pop3", "write_timeout", Kind::duration, R"("5m")", "time a client may leave our replies untaken, renewed by min_data_rate; then it is disconnected and the maildrop unlocked", {}, "1s-1h"},
    {"pop3", "max_errors", Kind::integer, "10", "unknown or malformed commands and failed logins before -ERR and disconnect", {}, "1-1000"},
    // RFC 9051 5.4: an autologout timer of at least 30 minutes.
    {"imap", "idle_timeout", Kind::duration, R"("30m")", "idle time before an autologout, IDLE included (RFC 9051 5.4: at least 30 minutes)", {}, "30m-24h"},
    {"imap", "command_deadline", Kind::duration, R"("1m")", "time from a command line's first octet to its end, however it is sliced; a literal keeps min_data_rate", {}, "1s-1h"},
    {"imap", "min_data_rate", Kind::integer, "500", "least octets per second in literals (APPEND) and in taking our responses (FETCH): each octet earns 1/rate s back, up to write_timeout; 0 = write_timeout per block", {}, "-100000000"},
    {"imap", "write_timeout", Kind::duration, R"("5m")", "time a client may leave our responses untaken, renewed by min_data_rate; then it is disconnected", {}, "1s-1h"},
    {"imap", "max_bad_commands", Kind::integer, "20", "BAD commands and failed logins in a row before BYE and disconnect", {}, "1-1000"},
    {"imap", "max_line", Kind::size, R"("64k")", "octets of a command line, literals excluded", {}, "1k-16M"},
    {"imap", "max_literal", Kind::size, R"("25M")", "octets of one literal: the largest message APPEND takes (APPENDLIMIT, RFC 7889)", {}, "1k-4G"},
    {"imap", "max_sessions_per_user", Kind::integer, "50", "sessions one user may have open at once (every client, device and folder a client watches takes one)", {}, "1-10000"},
    {"imap", "literal_memory", Kind::size, R"("256M")", "memory the literals of all sessions (APPEND's messages) may hold together; past it a literal gets NO [LIMIT] and the client tries again", {}, "1M-1000G"},
    {"imap", "max_depth", Kind::integer, "32", "nesting of parenthesised lists in a command", {}, "2-256"},
    // RFC 5464 4.1: at least 1024 octets and 10 entries.
    {"imap", "metadata_max_size", Kind::size, R"("64k")", "octets of one METADATA annotation's value (SETMETADATA past it: NO [METADATA MAXSIZE])", {}, "1k-16M"},
    {"imap", "metadata_max_entries", Kind::integer, "1000", "METADATA annotations one user may hold, on the server and all their mailboxes", {}, "10-1000000"},
    {"smtp", "require_auth", Kind::choice, R"("never")", "on port 25: AUTH needed for relaying only, for all mail, or never", "never|relay|always"},
    {"smtp", "require_tls", Kind::boolean, "false", "on port 25: MAIL needs STARTTLS first (530 5.7.0)"},
    {"tls", "cert", Kind::string, R"("")", "PEM certificate chain; \"\" = self-signed pair in data_dir"},
    {"tls", "key", Kind::string, R"("")", "PEM private key"},
    {"tls", "certificates", Kind::cert_list, "[]", "more {cert, key} pairs, chosen by SNI from their subjectAltNames"},
    {"tls", "min_version", Kind::choice, R"("1.2")", "oldest TLS version accepted", "1.2|1.3"},
    {"tls", "ciphers", Kind::string, R"("")", "TLS 1.2 cipher list (OpenSSL syntax); \"\" = ECDHE with AEAD only"},
    {"tls", "ciphersuites", Kind::string, R"("")", "TLS 1.3 cipher suites; \"\" = OpenSSL's default"},
    {"tls", "handshake_timeout", Kind::duration, R"("30s")", "time allowed for a TLS handshake", {}, "1s-10m"},
    {"dns", "servers", Kind::string_list, "[]", "resolvers as \"ip\" or \"ip:port\" ([ipv6]:port); [] = /etc/resolv.conf"},
    {"dns", "timeout", Kind::duration, R"("5s")", "a DNS query is given up after this long (two tries), and its mail deferred", {}, "1s-1m"},
    {"dns", "cache_entries", Kind::integer, "10000", "MX answers and address answers kept for their TTL (each); 0 = none kept", {}, "0-10000000"},
    {"dns", "cache_max_ttl", Kind::duration, R"("1h")", "no DNS answer is kept longer than this, whatever its TTL", {}, "0s-7d"},
    {"delivery", "smarthost", Kind::string, R"("")", "relay all outbound mail not routed by delivery.route here: \"[host or IP address]:port\" (that host), or \"domain:port\" (its MX hosts), as Postfix's relayhost"},
    {"delivery", "smarthost_auth_user", Kind::string, R"("")", "the user name AUTH gives the smarthost (PLAIN or LOGIN, over TLS only unless auth_without_tls); \"\" = no AUTH"},
    {"delivery", "smarthost_auth_password", Kind::string, R"("")", "its password"},
    {"delivery", "auth_without_tls", Kind::boolean, "false", "AUTH to the smarthost and routes also over a connection in clear (only on a network you trust)"},
    {"delivery", "bounce_copy", Kind::string, R"("")", "an address that gets a copy of every non-delivery report (the i5/OS NONDELIVERY mailbox); \"\" = none"},
    {"delivery", "mail_administrators", Kind::string_list, "[]", "addresses told of every dead letter (CSSMTP's Report ADMIN), with its recipients, the reason and the message's header"},
    {"delivery", "dead_letter_action", Kind::choice, R"("store")", "a report (null sender) that cannot be delivered: store (kept, and written to data_dir/deadletter/), keep (kept in the store only), delete (logged and dropped)", "store|keep|delete"},
    {"delivery", "fallback_relay", Kind::string, R"("")", "mail its next hop could not take (a temporary failure, a destination not found) goes here, same forms as delivery.smarthost; \"\" = none"},
    {"delivery", "fallback_relay_after", Kind::duration, R"("0s")", "a temporary failure sends mail to the fallback relay only once it has been queued this long; 0s = at the first", {}, "0s-30d"},
    {"delivery", "route", Kind::route_list, "[]", "the transport table: [[delivery.route]] tables {domain = \"example.org\" or \"*.example.org\", targets = [\"[host or IP address]:port\", ...] (the first four are tried in order), tls, auth_user, auth_password, auth_without_tls, source_address}"},
    {"delivery", "source_address", Kind::string, R"("")", "the local IP address outbound connections come from (behind NAT, or one address per hosted service); \"\" = the kernel's choice; a route's source_address overrides it"},
    {"delivery", "tls_ca_file", Kind::string, R"("")", "PEM file of the CAs that tls = \"verify\" trusts; \"\" = the system store (/etc/ssl/certs)"},
    {"delivery", "tls_cert", Kind::string, R"("")", "PEM certificate chain shown to servers that ask for a client certificate; \"\" = none"},
    {"delivery", "tls_key", Kind::string, R"("")", "the key of delivery.tls_cert (PEM)"},
    {"delivery", "mx_port", Kind::integer, "25", "the port of the servers MX records name (RFC 5321: 25; another only for tests or closed networks)", {}, "1-65535"},
    {"delivery", "mx_address_limit", Kind::integer, "5", "addresses tried for a domain found by MX, best preference first (Postfix's smtp_mx_address_limit)", {}, "1-100"},
    {"delivery", "helo_name", Kind::hostname, R"("")", "our name in EHLO to other servers; \"\" = server.hostname"},
    {"delivery", "tls", Kind::choice, R"("may")", "TLS to other servers: none, may (STARTTLS when offered), encrypt (required), verify (required, certificate checked)", "none|may|encrypt|verify"},
    {"delivery", "concurrency", Kind::integer, "20", "outbound connections in all", {}, "1-10000"},
    {"delivery", "destination_concurrency", Kind::integer, "5", "outbound connections to one next hop", {}, "1-1000"},
    {"delivery", "max_messages_per_connection", Kind::integer, "100", "messages sent over one connection before it is closed", {}, "1-100000"},
    {"delivery", "connection_cache_time", Kind::duration, R"("2s")", "a connection with nothing left to send waits this long for more mail to its next hop before QUIT (Postfix's smtp_connection_cache_time_limit); 0s = QUIT at once", {}, "0s-5m"},
    {"delivery", "connect_timeout", Kind::duration, R"("30s")", "time to set up a TCP connection to another server", {}, "1s-10m"},
    {"delivery", "command_timeout", Kind::duration, R"("5m")", "time another server may take to answer the greeting, EHLO, MAIL, RCPT, DATA (RFC 5321 4.5.3.2)", {}, "1s-1h"},
    {"delivery", "data_timeout", Kind::duration, R"("10m")", "time another server may take to answer the end of the data (RFC 5321 4.5.3.2.6), and to take each block of it", {}, "1s-1h"},
    {"delivery", "retry_interval", Kind::duration, R"("5m")", "first-level retries: a deferred recipient is tried again after this long, while its message is younger than retry_period", {}, "1s-1d"},
    {"delivery", "retry_period", Kind::duration, R"("30m")", "how long first-level retries last", {}, "-30d"},
    {"delivery", "long_retry_interval", Kind::duration, R"("1h")", "second-level retries: after retry_period, a deferred recipient is tried again after this long", {}, "1s-7d"},
    {"delivery", "bounce_size_limit", Kind::size, R"("50k")", "a report to the sender returns the message up to this size, else only its header (Postfix's bounce_size_limit)", {}, "1k-100M"},
    {"delivery", "active_recipient_limit", Kind::integer, "10000", "recipients the delivery agent claims from the queue and holds in memory at most, waiting for a connection (Postfix's qmgr_message_recipient_limit)", {}, "100-10000000"},
    {"delivery", "delay_warning", Kind::duration, R"("4h")", "a sender whose message still waits this long after it came is told so, once (a \"delayed\" DSN); 0s = never", {}, "-30d"},
    {"delivery", "max_queue_lifetime", Kind::duration, R"("5d")", "a recipient still not delivered this long after its message came is bounced (Postfix's maximal_queue_lifetime)", {}, "1m-100d"},
    {"queue", "retry_interval", Kind::duration, R"("5m")", "a local recipient deferred for a full mailbox is tried again after this long", {}, "1s-1d"},
    {"journal", "keep", Kind::duration, R"("30d")", "journal rows older than this are pruned in the background; 0s = kept for ever", {}, "0s-36500d"},
    {"journal", "skip", Kind::string_list, "[]", "event kinds not journalled at all, e.g. [\"connection_refused\", \"rejected\"]", "received|queued|delivered|deferred|bounced|held|login|login_failed|connection_refused|rejected|released|deleted|dead_letter|resent|expired|dsn_sent|quarantined"},
    {"store", "backend", Kind::choice, R"("sqlite")", "metadata store", "sqlite"},
    {"store", "inline_body_max", Kind::size, R"("128k")", "bodies up to this size live in the database, larger ones in blob files", {}, "-16M"},
    // A commit held back longer than a second costs every client more than its sync.
    {"store", "min_free_space", Kind::size, R"("0")", "below this much free space in data_dir, MAIL gets 452 4.3.1 until there is room (Postfix's queue_minfree); 0 = 1.5 x smtp.max_message_size", {}, "-1000G"},
    {"store", "commit_wait", Kind::duration, R"("2ms")", "under load, how long a group commit waits for messages being received to join its sync; 0s = never", {}, "-1s"},
    {"store", "directory_cache", Kind::integer, "50000", "addresses whose recipient lookup is kept in memory (changes by any process show at once); 0 = off", {}, "-10000000"},
    {"auth", "failure_delay", Kind::duration, R"("1s")", "delay after a failed login; doubles with each failure in a session", {}, "-1m"},
    {"auth", "max_failure_delay", Kind::duration, R"("8s")", "cap of the growing delay after failed logins", {}, "-10m"},
    {"auth", "allow_plaintext", Kind::boolean, "false", "offer AUTH and USER/PASS without TLS (only for trusted networks)"},
    {"auth", "max_failures", Kind::integer, "10", "failed logins per client address or per user within failure_window before a lockout; 0 = no lockout", {}, "-100000"},
    {"auth", "failure_window", Kind::duration, R"("15m")", "window in which failed logins are counted", {}, "1s-1d"},
    {"auth", "lockout", Kind::duration, R"("15m")", "how long a locked-out address is refused (and a locked user, see user_lockout)", {}, "1s-1d"},
    // A per-user lockout that refuses everyone lets anyone lock any account
    // by guessing wrong ten times; off, a user under attack is refused only
    // to the addresses that failed, and slowed for the others.
    {"auth", "user_lockout", Kind::boolean, "false", "true: a user with max_failures failures is refused from every address, even with the right password (anyone can lock any account)"},
    {"auth", "user_penalty", Kind::duration, R"("2s")", "while a user has max_failures failures, every login as that user waits this long", {}, "-1m"},
    {"auth", "max_tracked", Kind::integer, "100000", "client addresses and users tracked for lockout, and cached credentials; past it the oldest go", {}, "1-"},
    {"auth", "cache_ttl", Kind::duration, R"("1m")", "remember a verified user+password this long (no argon2 rerun); 0s = off", {}, "-1d"},
    // [[spool]]: one table per spool directory (kArraySections).
    {"spool", "name", Kind::string, R"("")", "the writer's name (required, unique): in the log, the journal and Received; letters, digits, '-', '_' and '.'"},
    {"spool", "directory", Kind::string, R"("")", "the directory batch jobs write into (required); relative to the config file; error/, done/ and quarantine/ are made in it"},
    {"spool", "users", Kind::string_list, "[]", "local users whose files are taken; [] with groups [] = any owner (the directory's permissions decide)"},
    {"spool", "groups", Kind::string_list, "[]", "local groups whose members' files are taken"},
    {"spool", "sender_domain", Kind::hostname, R"("")", "the domain of a sender made from the file's owner, and of a sender without one; \"\" = server.hostname"},
    {"spool", "report", Kind::choice, R"("sender")", "who is mailed the transcript of a file with refused transactions: its last sender, delivery.mail_administrators, both, or none", "sender|administrators|both|none"},
    {"spool", "settle_time", Kind::duration, R"("2s")", "a file not renamed in (written in place) is taken once unchanged this long and not locked", {}, "0s-1h"},
    {"spool", "scan_interval", Kind::duration, R"("1m")", "the directory is also read this often (inotify may miss files on network file systems)", {}, "1s-1d"},
    {"spool", "max_file_size", Kind::size, R"("1G")", "a larger file is quarantined unread", {}, "1k-1T"},
    {"spool", "long_lines", Kind::choice, R"("fold")", "text lines over 998 octets (RFC 5322 2.1.1): folded (header lines as continuation lines) or the message refused", "fold|refuse"},
    {"spool", "keep_done", Kind::boolean, "false", "move each file whose transactions are all taken to done/ instead of removing it"},
    {"spool", "concurrency", Kind::integer, "32", "files taken at once", {}, "1-10000"},
    {"spool", "backlog", Kind::integer, "10000", "names of files waiting to be taken held in memory at most; the files past it are found by a scan once the backlog has halved", {}, "100-10000000"},
    {"spool", "sender_policy", Kind::choice, R"("any")", "envelope senders and From of the files' owners: any (as written), verify (their own address or sender_map's, else the transaction is refused), replace (the envelope sender rewritten to theirs)", "any|verify|replace"},
    {"spool", "sender_map", Kind::string_list, "[]", "more senders owners may use under verify: \"user:address\", \"user:@domain\", \"@group:address\""},
    {"spool", "sender_exit", Kind::string, R"("")", "a program asked about each message after the sender policy: JSON on its stdin (user, uid, spool, file, sender, from, recipients, subject), {\"action\": \"accept\"|\"reject\"|\"replace\", \"reason\", \"sender\"} on its stdout; one that fails or is late refuses for the moment, never accepts; \"\" = none"},
    {"spool", "sender_exit_timeout", Kind::duration, R"("5s")", "time sender_exit has to answer", {}, "100ms-1m"},
    {"sendmail", "maildrop", Kind::string, R"("")", "where `herald sendmail` leaves messages for the daemon (mode 1733: any local user may write, none may list); \"\" = data_dir/maildrop"},
    {"sendmail", "sender_policy", Kind::choice, R"("verify")", "envelope senders (-f) and From of local users: any (as given), verify (their own address, login@sender_domain or a local domain, or sender_map's, else refused), replace (rewritten to theirs)", "any|verify|replace"},
    {"sendmail", "trusted_users", Kind::string_list, R"(["root"])", "local users who may give any sender, as Postfix's trusted users"},
    {"sendmail", "sender_map", Kind::string_list, "[]", "more senders local users may give: \"user:address\", \"user:@domain\", \"@group:address\""},
    {"sendmail", "sender_exit", Kind::string, R"("")", "as a spool's sender_exit, for sendmail and herald send"},
    {"sendmail", "sender_exit_timeout", Kind::duration, R"("5s")", "time sender_exit has to answer", {}, "100ms-1m"},
    {"sendmail", "sender_domain", Kind::hostname, R"("")", "the domain of a local user's own address (login@domain); \"\" = server.hostname"},
};

// Sections written as arrays of tables ([[spool]]), each table with the
// section's keys.
constexpr std::string_view kArraySections[] = {"spool"};
bool array_section(std::string_view s) {
  for (auto a : kArraySections)
    if (a == s) return true;
  return false;
}

struct ListenerSection {
  std::string_view name;
  std::string_view listen;       // default in etc/herald.toml, for the comment
  std::string_view max_conn;
  std::string_view per_client;
  bool served;                   // false: parsed, but no server behind it yet
};

constexpr ListenerSection kListenerSections[] = {
    {"smtp", "127.0.0.1:2525", "1000", "50", true},
    {"submission", "127.0.0.1:2587", "1000", "50", true},
    {"smtps", "127.0.0.1:2465", "1000", "50", true},
    {"pop3", "127.0.0.1:2110", "1000", "20", true},
    {"pop3s", "127.0.0.1:2995", "1000", "20", true},
    {"imap", "127.0.0.1:2143", "1000", "20", true},
    {"imaps", "127.0.0.1:2993", "1000", "20", true},
    {"admin", "127.0.0.1:8025", "100", "20", false},
};

// range_text - "1 to 256", "at least 80", "at most 1s" for a KeySpec range.
std::string range_text(std::string_view range) {
  auto dash = range.find('-');
  std::string_view low = range.substr(0, dash), high = range.substr(dash + 1);
  if (low.empty()) return fmt::format("at most {}", high);
  if (high.empty()) return fmt::format("at least {}", low);
  return fmt::format("{} to {}", low, high);
}

struct Spec {
  std::string section, key;
  Kind kind;
  std::string def, comment, choices, range;
};

const std::vector<Spec>& all_specs() {
  static const std::vector<Spec> specs = [] {
    std::vector<Spec> out;
    for (const auto& k : kKeys)
      out.push_back({std::string(k.section), std::string(k.key), k.kind, std::string(k.def),
                     std::string(k.comment), std::string(k.choices), std::string(k.range)});
    for (const auto& l : kListenerSections) {
      out.push_back({std::string(l.name), "listen", Kind::string_list, "[]",
                     fmt::format("addresses to listen on, e.g. [\"{}\"]; [] = not listening{}", l.listen,
                                 l.served ? "" : " (not served by this version yet)"),
                     ""});
      out.push_back({std::string(l.name), "max_connections", Kind::integer, std::string(l.max_conn),
                     "simultaneous connections in all; more are refused at connect", "", "1-1000000"});
      out.push_back({std::string(l.name), "max_connections_per_client", Kind::integer,
                     std::string(l.per_client), "simultaneous connections from one client address", "", "1-1000000"});
    }
    return out;
  }();
  return specs;
}

const Spec* find_spec(std::string_view section, std::string_view key) {
  for (const auto& s : all_specs())
    if (s.section == section && s.key == key) return &s;
  return nullptr;
}

bool known_section(std::string_view section) {
  for (const auto& s : all_specs())
    if (s.section == section) return true;
  return false;
}

// valid_network - "address/prefix" (or a bare address) for IPv4 or IPv6.
bool valid_network(const std::string& text) {
  auto slash = text.find('/');
  std::string addr = text.substr(0, slash);
  unsigned char buf[16];
  int max_prefix;
  if (inet_pton(AF_INET, addr.c_str(), buf) == 1) max_prefix = 32;
  else if (inet_pton(AF_INET6, addr.c_str(), buf) == 1) max_prefix = 128;
  else return false;
  if (slash == std::string::npos) return true;
  auto prefix = parse_uint(std::string_view(text).substr(slash + 1));
  return prefix && *prefix <= static_cast<unsigned>(max_prefix);
}

// valid_listen_address - what net::parse_endpoint accepts: "ip:port",
// "[v6]:port", "*:port" or ":port" (any), port 0 to 65535.
bool valid_listen_address(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  auto port = parse_uint(std::string_view(text).substr(colon + 1));
  if (!port || *port > 65535) return false;
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "*") return true;
  return ip_literal(host);
}

class Loader {
 public:
  Loader(const toml::table& root, std::string file) : root_(root), file_(std::move(file)) {}

  std::string where(const toml::node& n) const {
    return fmt::format("{}:{}", file_.empty() ? "<config>" : file_, n.source().begin.line);
  }

  Status check_shape() {
    for (const auto& [section, node] : root_) {
      if (!known_section(section.str())) {
        return make_error(Errc::invalid, fmt::format("{}: unknown section [{}]", where(node), section.str()));
      }
      if (array_section(section.str())) {
        if (auto st = check_array_section(section.str(), node); !st) return st;
        continue;
      }
      const toml::table* t = node.as_table();
      if (!t) return make_error(Errc::invalid, fmt::format("{}: [{}] must be a table", where(node), section.str()));
      for (const auto& [key, value] : *t) {
        const Spec* spec = find_spec(section.str(), key.str());
        if (!spec)
          return make_error(Errc::invalid, fmt::format("{}: unknown key {}.{}", where(value), section.str(), key.str()));
        if (auto st = check_value(*spec, value); !st) return st;
        lines_[fmt::format("{}.{}", section.str(), key.str())] = value.source().begin.line;
      }
    }
    return {};
  }

  // check_array_section - [[section]] tables, each with the section's
  // keys, "name" and "directory" required, names unique.
  Status check_array_section(std::string_view section, const toml::node& node) {
    const toml::array* a = node.as_array();
    if (!a) return make_error(Errc::invalid, fmt::format("{}: write [[{}]], one table each", where(node), section));
    std::vector<std::string> names;
    for (const auto& e : *a) {
      const toml::table* t = e.as_table();
      if (!t) return make_error(Errc::invalid, fmt::format("{}: write [[{}]], one table each", where(e), section));
      for (const auto& [key, value] : *t) {
        const Spec* spec = find_spec(section, key.str());
        if (!spec)
          return make_error(Errc::invalid, fmt::format("{}: unknown key {}.{}", where(value), section, key.str()));
        if (auto st = check_value(*spec, value); !st) return st;
      }
      for (const char* required : {"name", "directory"}) {
        const auto* v = t->get_as<std::string>(required);
        if (!v || v->get().empty())
          return make_error(Errc::invalid, fmt::format("{}: a [[{}]] needs its {}", where(e), section, required));
      }
      const std::string& name = t->get_as<std::string>("name")->get();
      bool ok = name.size() <= 64;
      for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
      if (!ok)
        return make_error(Errc::invalid, fmt::format("{}: {}.name: \"{}\" is not letters, digits, '-', '_' and '.' "
                                                     "(at most 64)", where(e), section, printable(name, 100)));
      if (std::find(names.begin(), names.end(), name) != names.end())
        return make_error(Errc::invalid, fmt::format("{}: a second [[{}]] named \"{}\"", where(e), section, name));
      names.push_back(name);
    }
    return {};
  }

  Status check_value(const Spec& s, const toml::node& v) {
    auto bad = [&](std::string_view why) {
      return make_error(Errc::invalid, fmt::format("{}: {}.{}: {}", where(v), s.section, s.key, why));
    };
    switch (s.kind) {
      case Kind::string:
        if (!v.is_string()) return bad("expected a string");
        break;
      case Kind::hostname:
        if (!v.is_string()) return bad("expected a string");
        if (!v.as_string()->get().empty() && !valid_hostname(v.as_string()->get()))
          return bad(fmt::format("\"{}\" is not a host name (letters, digits, '-' and '.')",
                                 printable(v.as_string()->get(), 100)));
        break;
      case Kind::boolean:
        if (!v.is_boolean()) return bad("expected true or false");
        break;
      case Kind::integer:
        if (!v.is_integer() || v.as_integer()->get() < 0 || v.as_integer()->get() > 1'000'000'000)
          return bad("expected a whole number from 0 to 1000000000");
        break;
      case Kind::size:
        if (v.is_integer() && v.as_integer()->get() >= 0) break;
        if (!v.is_string() || !parse_size(v.as_string()->get()))
          return bad("expected a size such as 10M, 512k or 1G");
        break;
      case Kind::duration:
        if (!v.is_string() || !parse_duration(v.as_string()->get()))
          return bad("expected a duration such as 500ms, 30s, 5m or 1h");
        break;
      case Kind::string_list:
        if (!v.is_array()) return bad("expected a list of strings");
        for (const auto& e : *v.as_array()) {
          if (!e.is_string()) return bad("expected a list of strings");
          bool found = s.choices.empty();
          for (auto c : split(s.choices, '|'))
            if (c == e.as_string()->get()) found = true;
          if (!found) return bad(fmt::format("expected a list of {}", s.choices));
        }
        break;
      case Kind::network_list:
        if (!v.is_array()) return bad("expected a list of networks such as \"10.0.0.0/8\"");
        for (const auto& e : *v.as_array())
          if (!e.is_string() || !valid_network(e.as_string()->get()))
            return bad("expected a list of networks such as \"10.0.0.0/8\" or \"2001:db8::/32\"");
        break;
      case Kind::cert_list:
        if (!v.is_array()) return bad("expected a list of {cert = \"...\", key = \"...\"} tables");
        for (const auto& e : *v.as_array()) {
          const toml::table* t = e.as_table();
          if (!t || t->size() != 2 || !t->get_as<std::string>("cert") || !t->get_as<std::string>("key"))
            return bad("expected a list of {cert = \"...\", key = \"...\"} tables");
        }
        break;
      case Kind::route_list: {
        static constexpr std::string_view kExpected =
            "expected [[delivery.route]] tables with domain and targets (and tls, auth_user, auth_password, "
            "auth_without_tls, source_address)";
        if (!v.is_array()) return bad(kExpected);
        for (const auto& e : *v.as_array()) {
          const toml::table* t = e.as_table();
          if (!t || !t->get_as<std::string>("domain") || !t->get_as<toml::array>("targets")) return bad(kExpected);
          for (const auto& [k, field] : *t) {
            std::string_view name = k.str();
            if (name == "targets") {
              if (field.as_array()->empty()) return bad("a route needs at least one target");
              for (const auto& target : *field.as_array())
                if (!target.is_string()) return bad("targets are strings such as \"[192.0.2.1]:25\"");
            } else if (name == "tls") {
              const auto* level = field.as_string();
              if (!level || (level->get() != "none" && level->get() != "may" && level->get() != "encrypt" &&
                             level->get() != "verify"))
                return bad("a route's tls is one of none|may|encrypt|verify");
            } else if (name == "auth_without_tls") {
              if (!field.is_boolean()) return bad("a route's auth_without_tls is true or false");
            } else if (name == "source_address") {
              if (!field.is_string() || !ip_literal(field.as_string()->get()))
                return bad("a route's source_address is an IP address of this machine");
            } else if (name == "domain" || name == "auth_user" || name == "auth_password") {
              if (!field.is_string()) return bad(fmt::format("a route's {} is a string", name));
            } else {
              return bad(fmt::format("a route has no key {}", printable(name, 100)));
            }
          }
        }
        break;
      }
      case Kind::choice: {
        if (!v.is_string()) return bad(fmt::format("expected one of {}", s.choices));
        bool found = false;
        for (auto c : split(s.choices, '|'))
          if (c == v.as_string()->get()) found = true;
        if (!found) return bad(fmt::format("expected one of {}", s.choices));
        break;
      }
    }
    return s.range.empty() ? Status{} : check_range(s, v);
  }

  // check_range - a well-formed integer, size or duration within the key's
  // range ("min-max", either side may be left out).
  Status check_range(const Spec& s, const toml::node& v) {
    auto dash = s.range.find('-');
    std::string low = s.range.substr(0, dash), high = s.range.substr(dash + 1);
    auto number = [&](const std::string& text) -> std::uint64_t {
      if (s.kind == Kind::duration) return static_cast<std::uint64_t>(parse_duration(text)->count());
      if (s.kind == Kind::size) return *parse_size(text);
      return *parse_uint(text);
    };
    std::uint64_t given = s.kind == Kind::duration ? static_cast<std::uint64_t>(parse_duration(v.as_string()->get())->count())
                          : s.kind == Kind::size && v.is_string() ? *parse_size(v.as_string()->get())
                                                                   : static_cast<std::uint64_t>(v.as_integer()->get());
    bool ok = (low.empty() || given >= number(low)) && (high.empty() || given <= number(high));
    if (ok) return {};
    return make_error(Errc::invalid,
                      fmt::format("{}: {}.{} must be {}", where(v), s.section, s.key, range_text(s.range)));
  }

  // value - the user's node if set (in table, for an array section's
  // table), else the parsed default.
  const toml::node& value(std::string_view section, std::string_view key, const toml::table* table = nullptr) {
    if (table) {
      if (const toml::node* n = table->get(key)) return *n;
    } else if (const toml::node* n = root_.at_path(fmt::format("{}.{}", section, key)).node()) {
      return *n;
    }
    const Spec* spec = find_spec(section, key);
    assert(spec);
    // Every default is parsed once, in one document ("k<index> = value"):
    // a parse per key cost more than the rest of loading together, and
    // sendmail loads the configuration for every message.
    static const toml::table defaults = [] {
      std::string text;
      const auto& specs = all_specs();
      for (std::size_t i = 0; i < specs.size(); ++i) text += fmt::format("k{} = {}\n", i, specs[i].def);
      return toml::parse(text);
    }();
    return *defaults.get(fmt::format("k{}", spec - all_specs().data()));
  }

  std::string str(std::string_view s, std::string_view k, const toml::table* t = nullptr) {
    return value(s, k, t).as_string()->get();
  }
  bool boolean(std::string_view s, std::string_view k, const toml::table* t = nullptr) {
    return value(s, k, t).as_boolean()->get();
  }
  std::uint32_t u32(std::string_view s, std::string_view k, const toml::table* t = nullptr) {
    return static_cast<std::uint32_t>(value(s, k, t).as_integer()->get());
  }
  std::uint64_t size(std::string_view s, std::string_view k, const toml::table* t = nullptr) {
    const auto& v = value(s, k, t);
    if (v.is_integer()) return static_cast<std::uint64_t>(v.as_integer()->get());
    return *parse_size(v.as_string()->get());
  }
  milliseconds duration(std::string_view s, std::string_view k, const toml::table* t = nullptr) {
    return *parse_duration(value(s, k, t).as_string()->get());
  }
  std::vector<std::string> list(std::string_view s, std::string_view k, const toml::table* t = nullptr) {
    std::vector<std::string> out;
    for (const auto& e : *value(s, k, t).as_array()) out.push_back(e.as_string()->get());
    return out;
  }
  // tables - the tables of an array section ([[spool]]), none when absent.
  std::vector<const toml::table*> tables(std::string_view section) {
    std::vector<const toml::table*> out;
    if (const toml::array* a = root_.get_as<toml::array>(section))
      for (const auto& e : *a) out.push_back(e.as_table());
    return out;
  }
  ListenerConfig listener(std::string_view s) {
    ListenerConfig l;
    // A section left out means "not listening"; the listen default is [].
    l.listen = list(s, "listen");
    l.max_connections = u32(s, "max_connections");
    l.max_connections_per_client = u32(s, "max_connections_per_client");
    return l;
  }

  const std::map<std::string, int, std::less<>>& lines() const { return lines_; }

 private:
  const toml::table& root_;
  std::string file_;
  std::map<std::string, int, std::less<>> lines_;  // "section.key" -> its line
};

std::string system_hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == 0) return "localhost";
  return buf;
}

// read_listeners - the listener sections and the protocol keys of theirs.
void read_listeners(Loader& in, Config& c) {
  static_cast<ListenerConfig&>(c.smtp) = in.listener("smtp");
  c.smtp.max_message_size = in.size("smtp", "max_message_size");
  c.smtp.body_memory_max = in.size("smtp", "body_memory_max");
  c.smtp.memory_budget = in.size("smtp", "memory_budget");
  c.smtp.max_recipients = in.u32("smtp", "max_recipients");
  c.smtp.max_line_length = in.u32("smtp", "max_line_length");
  c.smtp.max_errors = in.u32("smtp", "max_errors");
  c.smtp.junk_command_limit = in.u32("smtp", "junk_command_limit");
  c.smtp.recipient_overshoot_limit = in.u32("smtp", "recipient_overshoot_limit");
  c.smtp.command_timeout = in.duration("smtp", "command_timeout");
  c.smtp.data_timeout = in.duration("smtp", "data_timeout");
  c.smtp.command_deadline = in.duration("smtp", "command_deadline");
  c.smtp.min_data_rate = in.u32("smtp", "min_data_rate");
  c.smtp.write_timeout = in.duration("smtp", "write_timeout");
  c.smtp.pregreet_wait = in.duration("smtp", "pregreet_wait");
  c.smtp.allow_bare_lf = in.boolean("smtp", "allow_bare_lf");
  c.smtp.vrfy = in.str("smtp", "vrfy");
  c.smtp.relay_networks = in.list("smtp", "relay_networks");
  c.smtp.etrn_networks = in.list("smtp", "etrn_networks");
  c.smtp.require_auth = in.str("smtp", "require_auth");
  c.smtp.require_tls = in.boolean("smtp", "require_tls");
  static_cast<ListenerConfig&>(c.pop3) = in.listener("pop3");
  c.pop3.idle_timeout = in.duration("pop3", "idle_timeout");
  c.pop3.command_deadline = in.duration("pop3", "command_deadline");
  c.pop3.min_data_rate = in.u32("pop3", "min_data_rate");
  c.pop3.write_timeout = in.duration("pop3", "write_timeout");
  c.pop3.max_errors = in.u32("pop3", "max_errors");
  c.submission = in.listener("submission");
  c.smtps = in.listener("smtps");
  c.pop3s = in.listener("pop3s");
  static_cast<ListenerConfig&>(c.imap) = in.listener("imap");
  c.imap.idle_timeout = in.duration("imap", "idle_timeout");
  c.imap.command_deadline = in.duration("imap", "command_deadline");
  c.imap.min_data_rate = in.u32("imap", "min_data_rate");
  c.imap.write_timeout = in.duration("imap", "write_timeout");
  c.imap.max_bad_commands = in.u32("imap", "max_bad_commands");
  c.imap.max_line = in.size("imap", "max_line");
  c.imap.max_literal = in.size("imap", "max_literal");
  c.imap.max_depth = in.u32("imap", "max_depth");
  c.imap.max_sessions_per_user = in.u32("imap", "max_sessions_per_user");
  c.imap.literal_memory = in.size("imap", "literal_memory");
  c.imap.metadata_max_size = in.size("imap", "metadata_max_size");
  c.imap.metadata_max_entries = in.u32("imap", "metadata_max_entries");
  c.imaps = in.listener("imaps");
  c.admin = in.listener("admin");
}

// read_config - every key's value (the file's, else its default) into a Config.
Result<Config> read_config(Loader& in, const std::filesystem::path& file) {
  Config c;
  c.file = file;
  c.lines = in.lines();
  // data_dir and certificate paths are relative to the config file.
  const std::filesystem::path base_dir =
      file.empty() ? std::filesystem::current_path() : std::filesystem::absolute(file).parent_path();
  auto resolve = [&](const std::string& p) -> std::string {
    if (p.empty() || std::filesystem::path(p).is_absolute()) return p;
    return (base_dir / p).lexically_normal().string();
  };
  c.hostname = in.str("server", "hostname");
  if (c.hostname.empty()) c.hostname = system_hostname();
  c.data_dir = resolve(in.str("server", "data_dir"));
  // An address key: "" or local@domain.
  auto address = [&file](const std::string& key, const std::string& value) -> Status {
    auto at = value.find('@');
    if (!value.empty() && (at == 0 || at == std::string::npos || at + 1 == value.size() ||
                           value.find_first_of(" \t\r\n<>@", at + 1) != std::string::npos))
      return make_error(Errc::invalid,
                        fmt::format("{}: {}: \"{}\" is not an address (local@domain)", file.string(), key, value));
    return {};
  };
  c.postmaster = to_lower(in.str("server", "postmaster"));
  if (auto st = address("server.postmaster", c.postmaster); !st) return st.error();
  c.bounce_copy = to_lower(in.str("delivery", "bounce_copy"));
  if (auto st = address("delivery.bounce_copy", c.bounce_copy); !st) return st.error();
  for (const auto& a : in.list("delivery", "mail_administrators")) {
    std::string admin = to_lower(a);
    if (auto st = address("delivery.mail_administrators", admin.empty() ? "?" : admin); !st) return st.error();
    c.mail_administrators.push_back(std::move(admin));
  }
  c.threads = in.u32("server", "threads");
  c.blocking_threads = in.u32("server", "blocking_threads");
  c.accept_backoff = in.duration("server", "accept_backoff");
  c.log_file = in.str("log", "file");
  c.log_level = in.str("log", "level");
  for (auto& d : in.list("domains", "local")) c.local_domains.push_back(to_lower(d));
  read_listeners(in, c);
  c.tls_cert = resolve(in.str("tls", "cert"));
  c.tls_key = resolve(in.str("tls", "key"));
  if (c.tls_cert.empty() != c.tls_key.empty())
    return make_error(Errc::invalid, fmt::format("{}: tls.cert and tls.key go together",
                                                 c.where(c.tls_cert.empty() ? "tls.key" : "tls.cert")));
  for (const auto& e : *in.value("tls", "certificates").as_array()) {
    const toml::table& t = *e.as_table();
    c.tls_certificates.push_back({resolve(t.get_as<std::string>("cert")->get()),
                                  resolve(t.get_as<std::string>("key")->get())});
  }
  c.tls_min_version = in.str("tls", "min_version");
  c.tls_ciphers = in.str("tls", "ciphers");
  c.tls_ciphersuites = in.str("tls", "ciphersuites");
  c.tls_handshake_timeout = in.duration("tls", "handshake_timeout");
  c.dns_servers = in.list("dns", "servers");
  c.smarthost = in.str("delivery", "smarthost");
  c.fallback_relay = in.str("delivery", "fallback_relay");
  c.smarthost_auth_user = in.str("delivery", "smarthost_auth_user");
  c.smarthost_auth_password = in.str("delivery", "smarthost_auth_password");
  c.delivery_auth_without_tls = in.boolean("delivery", "auth_without_tls");
  c.delivery_source_address = in.str("delivery", "source_address");
  c.delivery_connection_cache_time = in.duration("delivery", "connection_cache_time");
  if (!c.delivery_source_address.empty() && !ip_literal(c.delivery_source_address))
    return make_error(Errc::invalid, fmt::format("{}: delivery.source_address: \"{}\" is not an IP address",
                                                 file.string(), c.delivery_source_address));
  c.delivery_tls_ca_file = resolve(in.str("delivery", "tls_ca_file"));
  c.delivery_tls_cert = resolve(in.str("delivery", "tls_cert"));
  c.delivery_tls_key = resolve(in.str("delivery", "tls_key"));
  if (c.delivery_tls_cert.empty() != c.delivery_tls_key.empty())
    return make_error(Errc::invalid,
                      fmt::format("{}: delivery.tls_cert and delivery.tls_key go together", file.string()));
  c.dead_letter_action = in.str("delivery", "dead_letter_action");
  c.fallback_relay_after = in.duration("delivery", "fallback_relay_after");
  for (const auto& e : *in.value("delivery", "route").as_array()) {
    const toml::table& t = *e.as_table();
    Config::Route r;
    r.domain = to_lower(t.get_as<std::string>("domain")->get());
    for (const auto& target : *t.get_as<toml::array>("targets")) r.targets.push_back(target.as_string()->get());
    if (auto tls = t.get_as<std::string>("tls")) r.tls = tls->get();
    if (auto user = t.get_as<std::string>("auth_user")) r.auth_user = user->get();
    if (auto password = t.get_as<std::string>("auth_password")) r.auth_password = password->get();
    if (auto source = t.get_as<std::string>("source_address")) r.source_address = source->get();
    if (auto clear = t.get_as<bool>("auth_without_tls")) r.auth_without_tls = clear->get();
    r.line = e.source().begin.line;
    c.delivery_routes.push_back(std::move(r));
  }
  c.dns_timeout = in.duration("dns", "timeout");
  c.dns_cache_entries = in.u32("dns", "cache_entries");
  c.dns_cache_max_ttl = in.duration("dns", "cache_max_ttl");
  c.delivery_mx_port = static_cast<std::uint16_t>(in.u32("delivery", "mx_port"));
  c.delivery_mx_address_limit = in.u32("delivery", "mx_address_limit");
  c.delivery_helo_name = in.str("delivery", "helo_name");
  c.delivery_tls = in.str("delivery", "tls");
  c.delivery_concurrency = in.u32("delivery", "concurrency");
  c.delivery_destination_concurrency = in.u32("delivery", "destination_concurrency");
  c.delivery_max_messages_per_connection = in.u32("delivery", "max_messages_per_connection");
  c.delivery_connect_timeout = in.duration("delivery", "connect_timeout");
  c.delivery_command_timeout = in.duration("delivery", "command_timeout");
  c.delivery_data_timeout = in.duration("delivery", "data_timeout");
  c.delivery_retry_interval = in.duration("delivery", "retry_interval");
  c.delivery_retry_period = in.duration("delivery", "retry_period");
  c.delivery_long_retry_interval = in.duration("delivery", "long_retry_interval");
  c.delivery_max_queue_lifetime = in.duration("delivery", "max_queue_lifetime");
  c.delivery_delay_warning = in.duration("delivery", "delay_warning");
  c.delivery_bounce_size_limit = in.size("delivery", "bounce_size_limit");
  c.delivery_active_recipient_limit = in.u32("delivery", "active_recipient_limit");
  c.queue_retry_interval = in.duration("queue", "retry_interval");
  c.journal_keep = in.duration("journal", "keep");
  c.journal_skip = in.list("journal", "skip");
  c.store_backend = in.str("store", "backend");
  c.inline_body_max = in.size("store", "inline_body_max");
  c.store_commit_wait = in.duration("store", "commit_wait");
  c.store_min_free_space = in.size("store", "min_free_space");
  if (c.store_min_free_space == 0) {
    std::uint64_t m = c.smtp.max_message_size;
    c.store_min_free_space = m > UINT64_MAX / 3 * 2 ? UINT64_MAX : m / 2 * 3;
  }
  c.store_directory_cache = in.u32("store", "directory_cache");
  c.auth_failure_delay = in.duration("auth", "failure_delay");
  c.auth_max_failure_delay = in.duration("auth", "max_failure_delay");
  c.auth_allow_plaintext = in.boolean("auth", "allow_plaintext");
  c.auth_max_failures = in.u32("auth", "max_failures");
  c.auth_failure_window = in.duration("auth", "failure_window");
  c.auth_lockout = in.duration("auth", "lockout");
  c.auth_cache_ttl = in.duration("auth", "cache_ttl");
  c.auth_max_tracked = in.u32("auth", "max_tracked");
  c.auth_user_lockout = in.boolean("auth", "user_lockout");
  c.auth_user_penalty = in.duration("auth", "user_penalty");
  c.alias_max_depth = in.u32("aliases", "max_depth");
  c.alias_max_targets = in.u32("aliases", "max_targets");
  for (const toml::table* t : in.tables("spool")) {
    Config::Spool sp;
    sp.name = in.str("spool", "name", t);
    sp.directory = resolve(in.str("spool", "directory", t));
    sp.users = in.list("spool", "users", t);
    sp.groups = in.list("spool", "groups", t);
    sp.sender_domain = to_lower(in.str("spool", "sender_domain", t));
    if (sp.sender_domain.empty()) sp.sender_domain = c.hostname;
    sp.report = in.str("spool", "report", t);
    sp.settle_time = in.duration("spool", "settle_time", t);
    sp.scan_interval = in.duration("spool", "scan_interval", t);
    sp.max_file_size = in.size("spool", "max_file_size", t);
    sp.fold_long_lines = in.str("spool", "long_lines", t) == "fold";
    sp.keep_done = in.boolean("spool", "keep_done", t);
    sp.concurrency = in.u32("spool", "concurrency", t);
    sp.backlog = in.u32("spool", "backlog", t);
    sp.sender_policy = in.str("spool", "sender_policy", t);
    sp.sender_map = in.list("spool", "sender_map", t);
    sp.sender_exit = resolve(in.str("spool", "sender_exit", t));
    sp.sender_exit_timeout = in.duration("spool", "sender_exit_timeout", t);
    sp.line = t->source().begin.line;
    c.spools.push_back(std::move(sp));
  }
  // The sendmail door's maildrop is a spool of its own, any owner's.
  c.maildrop.name = "sendmail";
  c.maildrop.directory = resolve(in.str("sendmail", "maildrop"));
  if (c.maildrop.directory.empty()) c.maildrop.directory = c.data_dir / "maildrop";
  c.maildrop.sender_domain = to_lower(in.str("sendmail", "sender_domain"));
  if (c.maildrop.sender_domain.empty()) c.maildrop.sender_domain = c.hostname;
  c.maildrop.report = "sender";
  c.maildrop.settle_time = std::chrono::seconds(2);
  c.maildrop.scan_interval = std::chrono::seconds(60);
  c.maildrop.max_file_size = c.smtp.max_message_size + 1024 * 1024;  // the message, its envelope and dot-stuffing
  c.maildrop.concurrency = 32;
  c.maildrop.backlog = 10000;
  c.maildrop.sender_policy = in.str("sendmail", "sender_policy");
  c.maildrop.trusted_users = in.list("sendmail", "trusted_users");
  c.maildrop.sender_map = in.list("sendmail", "sender_map");
  c.maildrop.sender_exit = resolve(in.str("sendmail", "sender_exit"));
  c.maildrop.sender_exit_timeout = in.duration("sendmail", "sender_exit_timeout");
  c.maildrop.verify_requests = true;
  return c;
}

// check_listen_addresses - each well formed, and in one listener only: each
// listener binds with SO_REUSEPORT (one acceptor per I/O thread), so the
// kernel would let two listeners share an address and split its clients
// between two protocols.
Status check_listen_addresses(Loader& in) {
  std::map<std::string, std::string_view> bound;  // address -> its section
  for (const auto& l : kListenerSections) {
    for (const auto& node : *in.value(l.name, "listen").as_array()) {
      const std::string& addr = node.as_string()->get();
      if (!valid_listen_address(addr))
        return make_error(Errc::invalid, fmt::format("{}: {}.listen: \"{}\" is not ip:port, [ipv6]:port or *:port",
                                                     in.where(node), l.name, printable(addr, 100)));
      if (auto [it, fresh] = bound.emplace(addr, l.name); !fresh)
        return make_error(Errc::invalid, fmt::format("{}: {}.listen: \"{}\" is also in {}.listen", in.where(node),
                                                     l.name, addr, it->second));
    }
  }
  return {};
}

}  // namespace

std::string Config::where(std::string_view section_key) const {
  std::string name = file.empty() ? "<config>" : file.string();
  auto it = lines.find(section_key);
  return it == lines.end() ? name : fmt::format("{}:{}", name, it->second);
}

Result<Config> parse(std::string_view text, const std::filesystem::path& file) {
  toml::table root;
  try {
    root = toml::parse(text, file.string());
  } catch (const toml::parse_error& e) {
    return make_error(Errc::invalid, fmt::format("{}:{}: {}", file.string(), e.source().begin.line,
                                                 e.description()));
  }
  Loader in(root, file.string());
  if (auto st = in.check_shape(); !st) return st.error();  // every key known, typed and in its range
  if (auto st = check_listen_addresses(in); !st) return st.error();
  return read_config(in, file);
}

Result<Config> load(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error(Errc::not_found, fmt::format("{}: cannot read config file", file.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), file);
}

std::string defaults_toml() {
  std::string out = "# Herald configuration: every key with its default.\n";
  std::vector<std::string> sections;
  for (const auto& s : all_specs())
    if (std::find(sections.begin(), sections.end(), s.section) == sections.end())
      sections.push_back(s.section);
  for (const auto& section : sections) {
    // An array section's keys come as a commented example: a [[spool]]
    // table with the defaults would make one.
    const std::string_view lead = array_section(section) ? "# " : "";
    out += array_section(section) ? fmt::format("\n# [[{}]]  (any number of these)\n", section)
                                  : fmt::format("\n[{}]\n", section);
    for (const auto& s : all_specs()) {
      if (s.section != section) continue;
      std::string line = fmt::format("{}{} = {}", lead, s.key, s.def);
      out += line;
      out += std::string(line.size() < 34 ? 34 - line.size() : 1, ' ');
      out += fmt::format("# {}{}\n", s.comment, s.range.empty() ? "" : fmt::format(" ({})", range_text(s.range)));
    }
  }
  return out;
}

}  // namespace herald::config
