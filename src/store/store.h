// store/store.h - everything Herald keeps: domains, users, aliases,
// mailboxes, messages, queue rows and the journal.
//
// One interface, backends behind it (DESIGN.md "Storage"); the embedded
// backend is SQLite in WAL mode plus content-addressed blob files. The
// backend is chosen once at open(); callers never see which one it is.
//
// Invariants:
// - A write reported successful is on stable storage (transaction committed
//   with the WAL synced; blob files written, fsynced and renamed first), so an
//   acknowledged message survives a crash at any instant.
// - Concurrent writers are batched into one transaction and one sync (group
//   commit); one failing request does not fail the others in its batch.
// - UIDs, UIDNEXT and MODSEQ change only inside store transactions.
// - A message body is stored once however many mailboxes it lands in: the
//   per-recipient header lines (Return-Path, Delivered-To) are kept apart as
//   a short prefix of each mailbox entry.
// - Every lookup is by an index: user by address, mailbox by user and name,
//   message by mailbox and UID.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace herald::store {

struct StoreOptions {
  std::filesystem::path data_dir;
  std::uint64_t inline_body_max = 128 * 1024;
  std::vector<std::string> config_domains;  // local domains from the config file
  // Under load, how long a group commit may wait for messages already being
  // received to join it (0 = never waits). See Store::note_arrivals.
  std::chrono::milliseconds commit_wait{2};
  // Addresses whose lookup_address result is kept in memory (0 = none).
  std::size_t directory_cache = 50000;
};

struct DomainRecord {
  std::string name;
  bool from_config = false;
};

struct UserRecord {
  std::int64_t id = 0;
  std::string address;
  std::string password_hash;
  std::uint64_t quota_bytes = 0;  // 0 = unlimited
  std::uint64_t used_bytes = 0;
  std::string scram_sha256;       // encoded SCRAM credentials; "" = none (imported hash)
  bool send_as_any = false;       // may use any envelope sender on submission
};

// Credentials - what a password change writes.
struct Credentials {
  std::string password_hash;  // argon2id, $6$ or $2y$
  std::string scram_sha256;   // "" when only a hash was imported
};

struct AliasRecord {
  std::string address;
  std::vector<std::string> targets;
};

// One final recipient of an incoming message.
struct Delivery {
  std::string recipient;  // final address, after alias expansion
  std::string original;   // the address the client gave (ORCPT)
  bool local = false;
};

struct IncomingMessage {
  std::string queue_id;
  std::string sender;      // "" = null reverse-path
  std::string client;      // "host[ip]"
  std::string message_id;  // Message-ID header, for the journal
  std::string body;        // the whole message as it will be delivered
  std::vector<Delivery> deliveries;
};

enum class DeliveryStatus { delivered, deferred, pending, failed };

struct DeliveryOutcome {
  DeliveryStatus status = DeliveryStatus::pending;
  std::string reply;  // e.g. "452 4.2.2 Mailbox full"
};

struct CommitResult {
  std::vector<DeliveryOutcome> outcomes;  // one per IncomingMessage::deliveries
};

struct MaildropEntry {
  std::int64_t uid = 0;
  std::uint64_t size = 0;
  std::string uidl;  // "UIDVALIDITY.UID": stable across sessions and restarts
};

struct Maildrop {
  std::int64_t mailbox_id = 0;
  std::vector<MaildropEntry> messages;
};

struct QueueRow {
  std::string queue_id;
  std::string sender;
  std::string recipient;
  std::string original_recipient;
  std::string status;  // pending | deferred | held
  std::int64_t attempts = 0;
  std::int64_t created = 0;       // unix seconds
  std::int64_t next_attempt = 0;  // unix seconds
  std::uint64_t size = 0;
  std::string last_reply;
};

struct AddressEntry {
  bool local_domain = false;               // false: nothing else is looked up
  std::vector<std::string> alias_targets;  // non-empty: the address is an alias
  std::optional<UserRecord> user;          // the user of that address, if any
};

struct JournalEntry {
  std::int64_t time_ms = 0;  // unix milliseconds; 0 = now
  std::string event;         // received, delivered, deferred, login, login_failed, ...
  std::string queue_id;
  std::string message_id;
  std::string sender;
  std::string recipient;
  std::string client;
  std::uint64_t size = 0;
  std::string reply;
  std::string detail;
};

struct JournalQuery {
  std::int64_t since_ms = 0;
  std::string queue_id;
  std::string message_id;
  std::string address;  // sender or recipient
  std::size_t limit = 1000;
};

class Store {
 public:
  virtual ~Store() = default;

  // Domains. Config domains are always local and cannot be deleted.
  virtual Status add_domain(const std::string& name) = 0;
  virtual Status del_domain(const std::string& name) = 0;
  virtual Result<std::vector<DomainRecord>> list_domains() = 0;
  virtual Result<bool> is_local_domain(const std::string& name) = 0;

  // Users. add_user creates the INBOX.
  virtual Status add_user(const std::string& address, const Credentials& credentials,
                          std::uint64_t quota_bytes) = 0;
  virtual Status del_user(const std::string& address) = 0;
  virtual Status set_password(const std::string& address, const Credentials& credentials) = 0;
  virtual Status set_send_as_any(const std::string& address, bool allowed) = 0;
  virtual Result<std::optional<UserRecord>> find_user(const std::string& address) = 0;
  virtual Result<std::vector<UserRecord>> list_users() = 0;

  // Aliases: one alias, many targets (local or remote).
  virtual Status add_alias(const std::string& address, const std::vector<std::string>& targets) = 0;
  virtual Status del_alias(const std::string& address) = 0;
  virtual Result<std::vector<std::string>> alias_targets(const std::string& address) = 0;
  virtual Result<std::vector<AliasRecord>> list_aliases() = 0;

  // lookup_address - whether the address's domain is local and, if it is,
  // what the address is there: an alias (its targets), a user, both (an alias
  // naming itself) or neither; read in one snapshot. The recipient check at
  // RCPT asks this once per address instead of three times. Answers may come
  // from a cache that every change to the directory, by any process,
  // invalidates; a user with a quota is always read afresh (its used_bytes),
  // one without may show an older used_bytes.
  virtual Result<AddressEntry> lookup_address(const std::string& address) = 0;

  // commit_message - durably queue a message and deliver its local
  // recipients in the same transaction; done runs on the store's writer
  // thread once the commit is on stable storage (or failed).
  virtual void commit_message(IncomingMessage message,
                              std::function<void(Result<CommitResult>)> done) = 0;

  // note_arrivals - messages whose body is being received now: +1 when one
  // begins, -1 when it has been handed to commit_message or abandoned. Under
  // load (requests queued while the last commit ran) the writer holds the
  // next commit back, up to commit_wait, until those already on their way
  // have joined it: one sync for all of them instead of one each.
  virtual void note_arrivals(int delta) = 0;

  // Maildrop access (POP3 now, IMAP later).
  virtual Result<Maildrop> maildrop(std::int64_t user_id) = 0;
  virtual Result<std::string> read_message(std::int64_t mailbox_id, std::int64_t uid) = 0;
  virtual void expunge(std::int64_t user_id, std::int64_t mailbox_id, std::vector<std::int64_t> uids,
                       std::function<void(Status)> done) = 0;

  // Queue inspection.
  virtual Result<std::vector<QueueRow>> queue_list() = 0;
  virtual Result<std::vector<QueueRow>> queue_show(const std::string& queue_id) = 0;

  // Journal: append (batched with the next commit) and query.
  virtual void journal(JournalEntry entry) = 0;
  virtual Result<std::vector<JournalEntry>> journal_query(const JournalQuery& query) = 0;

  // flush - wait until everything submitted so far is committed.
  virtual Status flush() = 0;
};

// open - the backend for these options (the embedded SQLite one for now),
// migrating its schema to the current version.
Result<std::unique_ptr<Store>> open(const StoreOptions& options);

}  // namespace herald::store
