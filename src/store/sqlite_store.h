// store/sqlite_store.h - the embedded backend: SQLite (WAL) + blob files.
// Internal to the store module: one class per interface of store.h, all on
// one SqliteCore (connections, the writer, the blob store).
//
// Writes go through the group-commit writer (group_commit.h), which owns
// the one write connection; reads use a small pool of connections of their
// own, which WAL lets run beside the writer.
//
// What holds only because this backend is alone on its data directory
// (a PostgreSQL backend does these differently):
// - maildrop locks are kept in this process's memory (lock_maildrop), which
//   is right while one server process serves POP3 for the data directory;
// - the journal key is read once per write transaction, which is right
//   because SQLite lets one writer at a time hold the database;
// - directory changes reach other processes' caches through a shared
//   memory counter in data_dir (directory_cache.h);
// - queue ids come from the clock of this host (base/ids.h).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "store/blob_store.h"
#include "store/directory_cache.h"
#include "store/group_commit.h"
#include "store/sqlite_db.h"
#include "store/store.h"

namespace herald::store {

std::int64_t now_s();
std::int64_t now_ms();
// to_error - a backend exception as an Error value (a constraint is
// Errc::exists; any other SQLite failure Errc::io).
Error to_error(const std::exception& e);

// next_uidvalidity - a UIDVALIDITY for a new mailbox of this user, larger
// than every one it had (RFC 9051 2.3.1.1: a name never gets an earlier one
// back, even after a delete and a create in the same second). Inside a
// write transaction.
std::int64_t next_uidvalidity(Db& db, std::int64_t user_id);

// SqliteCore - what every concern of the backend shares.
class SqliteCore final : public TransactionControl {
 public:
  SqliteCore(StoreOptions options, Env& env);

  Status open();  // directories, schema, blob sweep; then starts the writer
  void stop();    // runs what was submitted, then stops the writer

  const StoreOptions& options() const { return opts_; }
  BlobStore& blobs() { return blobs_; }
  bool is_config_domain(const std::string& lower_case_domain) const;

  // read - fn(Db&) on a pooled read connection; exceptions become errors.
  template <typename Fn>
  auto read(Fn&& fn) -> decltype(fn(std::declval<Db&>()));

  // Writes: apply runs on the writer thread, inside the batch's transaction,
  // with the write connection.
  void submit(std::function<void()> prepare, std::function<void(Db&)> apply, std::function<void(Status)> done);
  // write_sync - apply in the next batch and wait for it; after_commit (if
  // any) runs on the writer thread once the batch is committed.
  Status write_sync(std::function<void(Db&)> apply, std::function<void()> after_commit = nullptr);
  void note_arrivals(int delta) { writer_->note_arrivals(delta); }

  // Message bodies: up to inline_body_max in the messages row, larger ones
  // in a content-addressed file, durable before the transaction that
  // references it commits.
  // prepare_body - for a body kept in a file, the prepare (outside the
  // transaction) that writes and syncs it and names it in *sha; else null.
  std::function<void()> prepare_body(std::shared_ptr<const std::string> body, std::shared_ptr<std::string> sha);
  // NewMessage - a messages row; the views last until insert_message returns.
  struct NewMessage {
    std::string_view queue_id, sender, message_id, client;
    std::uint64_t size = 0;
    std::int64_t received = 0;
    std::string_view body;  // unread when sha names the file
    bool eight_bit = false;
    std::string_view ret, envid;
    std::string_view structure;  // "" = none (NULL)
  };

  // Inside a write transaction (the writer thread):
  // insert_message - the row of a new message, with the body inline when
  // sha is empty, else referencing (and counting) the file prepare_body
  // named; its id.
  static std::int64_t insert_message(Db& db, const NewMessage& m, const std::string& sha);
  // insert_journal - the key follows the one read when the transaction began.
  void insert_journal(Db& db, const JournalEntry& entry);
  // note_change - a message of this mailbox changed with this MODSEQ; the
  // change listener hears of it once the transaction commits.
  void note_change(std::int64_t mailbox_id, std::int64_t modseq);
  // foreign_changes - see Mailboxes::foreign_changes.
  std::uint64_t foreign_changes() const { return mailbox_generation_->current() - own_changes_.load(); }
  // set_change_listener - see Mailboxes::set_change_listener.
  void set_change_listener(std::function<void(const std::vector<MailboxChange>&)> listener) {
    std::lock_guard lk(listener_mu_);  // commit() calls it on the writer thread
    change_listener_ = std::move(listener);
  }
  // pack_text - the deflated copy of an index text that index_text keeps
  // for the row's delete; made before the transaction, off the writer
  // ("" for no text, or when zlib fails: the message is then unindexed).
  static std::string pack_text(std::string_view text);
  // index_text - the full-text index row of a new message (sqlite_text.cpp;
  // text as mime::indexable_text gives it, packed = pack_text(text)); a
  // message without either is listed as unindexed.
  static void index_text(Db& db, std::int64_t message, std::string_view text, std::string_view packed);
  // unindex_text - the index row of a message, gone (if it had one).
  static void unindex_text(Db& db, std::int64_t message);
  // collect_message - delete a message no mailbox and no queue row needs,
  // and its index row;
  // blob files to remove after the commit go to unlink.
  static void collect_message(Db& db, std::int64_t message, std::vector<std::string>& unlink);
  // remove_blobs - after the commit that collected them: the files of these
  // bodies, but not of one a later request of the same batch committed
  // again (its put() found the file and shares it).
  // REQUIRES: on the writer thread, outside a transaction (a done callback).
  void remove_blobs(std::vector<std::string> shas);

  // TransactionControl
  void begin() override;
  void commit() override;
  void rollback() noexcept override;
  Error error_of(const std::exception& e) const override { return to_error(e); }

 private:
  void migrate();
  Status sweep_blobs();

  StoreOptions opts_;
  std::string db_path_;
  BlobStore blobs_;
  Db wdb_;                               // the writer's connection
  std::int64_t journal_next_key_ = 0;    // writer thread, inside its transaction
  std::map<std::int64_t, std::int64_t> changes_;  // this transaction's: mailbox id -> highest MODSEQ
  std::unique_ptr<SharedGeneration> mailbox_generation_;  // data_dir/mailbox.generation
  std::atomic<std::uint64_t> own_changes_{0};              // of its bumps, this process's
  std::mutex listener_mu_;  // held while the listener runs: clearing it waits for a call in progress
  std::function<void(const std::vector<MailboxChange>&)> change_listener_;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Db>> pool_;
  std::unique_ptr<GroupCommit> writer_;  // last: stops before what it uses goes
};

class SqliteDirectory final : public Directory {
 public:
  explicit SqliteDirectory(SqliteCore& core);
  Status open();  // maps the shared generation counter

  Status add_domain(const std::string& name) override;
  Status del_domain(const std::string& name) override;
  Result<std::vector<DomainRecord>> list_domains(const ListQuery& query) override;
  Result<bool> is_local_domain(const std::string& name) override;
  Status add_user(const std::string& address, const Credentials& credentials, std::uint64_t quota_bytes) override;
  Status del_user(const std::string& address) override;
  Status set_password(const std::string& address, const Credentials& credentials) override;
  Status set_send_as_any(const std::string& address, bool allowed) override;
  Status set_quota(const std::string& address, std::uint64_t quota_bytes) override;
  Result<std::optional<UserRecord>> find_user(const std::string& address) override;
  Result<std::vector<UserRecord>> list_users(const ListQuery& query) override;
  Result<std::optional<std::string>> first_user() override;
  Status add_alias(const std::string& address, const std::vector<std::string>& targets) override;
  Status del_alias(const std::string& address) override;
  Result<std::vector<std::string>> alias_targets(const std::string& address) override;
  Result<std::vector<AliasRecord>> list_aliases(const ListQuery& query) override;
  Result<AddressEntry> lookup_address(const std::string& address) override;
  std::optional<AddressEntry> cached_address(const std::string& address) override;

 private:
  Result<AddressEntry> read_address(const std::string& lower_case_address);
  // write_directory - a change every process's cache must learn of.
  Status write_directory(std::function<void(Db&)> apply, std::function<void()> after_commit = nullptr);
  // update_user - one UPDATE of the user row; not_found when there is none.
  Status update_user(const std::string& address, std::function<void(Db&, const std::string&)> apply);

  SqliteCore& core_;
  std::unique_ptr<SharedGeneration> generation_;
  DirectoryCache cache_;
};

class SqliteMailboxes final : public Mailboxes {
 public:
  explicit SqliteMailboxes(SqliteCore& core) : core_(core) {}

  // sqlite_mailboxes.cpp
  Result<std::vector<MailboxRecord>> list_mailboxes(std::int64_t user_id) override;
  Result<std::optional<MailboxRecord>> find_mailbox(std::int64_t user_id, const std::string& name) override;
  Status create_mailbox(std::int64_t user_id, const std::string& name, const std::string& special_use) override;
  Status delete_mailbox(std::int64_t user_id, const std::string& name) override;
  Status rename_mailbox(std::int64_t user_id, const std::string& from, const std::string& to) override;
  Status set_subscribed(std::int64_t user_id, const std::string& name, bool subscribed) override;
  Result<std::vector<std::string>> subscriptions(std::int64_t user_id) override;
  Result<std::unique_ptr<MaildropLock>> lock_maildrop(std::int64_t user_id) override;
  Result<Maildrop> maildrop(std::int64_t user_id) override;

  // sqlite_messages.cpp
  Result<std::vector<MessageRecord>> messages(std::int64_t mailbox_id, std::int64_t changed_since) override;
  Result<std::vector<ExpungedRecord>> expunged_since(std::int64_t mailbox_id, std::int64_t modseq) override;
  Result<Changes> changes_since(std::int64_t mailbox_id, std::int64_t modseq) override;
  Result<Changes> listing(std::int64_t mailbox_id) override;
  Result<std::string> read_message(std::int64_t mailbox_id, std::int64_t uid, ByteRange range) override;
  Result<std::optional<Structure>> message_structure(std::int64_t mailbox_id, std::int64_t uid) override;
  Result<std::vector<FoundStructure>> message_structures(std::int64_t mailbox_id,
                                                         const std::vector<std::int64_t>& uids,
                                                         std::uint64_t max_octets = 0) override;
  void store_flags(std::int64_t mailbox_id, std::vector<std::int64_t> uids, FlagUpdate update,
                   std::function<void(Result<FlagsStored>)> done) override;
  void expunge(std::int64_t user_id, std::int64_t mailbox_id, std::vector<std::int64_t> uids,
               std::function<void(Status)> done) override;
  void expunge_deleted(std::int64_t user_id, std::int64_t mailbox_id, std::optional<std::vector<std::int64_t>> uids,
                       std::function<void(Result<std::vector<std::int64_t>>)> done) override;
  void append_messages(std::int64_t user_id, const std::string& mailbox, std::vector<AppendMessage> messages,
                       std::function<void(Result<Appended>)> done) override;
  using Mailboxes::copy_messages;
  void copy_messages(std::int64_t from_owner_id, std::int64_t from_mailbox_id, std::vector<std::int64_t> uids,
                     std::int64_t to_owner_id, const std::string& to_mailbox, bool move,
                     std::function<void(Result<Copied>)> done) override;
  Result<MailboxCounts> mailbox_counts(std::int64_t mailbox_id) override;
  // sqlite_metadata.cpp
  Result<std::vector<MetadataEntry>> metadata(std::int64_t user_id, const std::string& mailbox,
                                              const std::vector<std::string>& names,
                                              std::int64_t reader_id = 0) override;
  Status set_metadata(std::int64_t user_id, const std::string& mailbox, const std::vector<MetadataChange>& entries,
                      std::uint32_t max_entries, std::int64_t reader_id = 0) override;
  // sqlite_mailboxes.cpp: access lists
  Result<std::vector<AclEntry>> acl(std::int64_t mailbox_id) override;
  Status change_acl(std::int64_t mailbox_id, const std::string& identifier,
                    const std::function<std::string(const std::string&)>& rights_after) override;
  Result<std::vector<SharedMailbox>> shared_with(std::int64_t user_id, const std::string& address) override;
  // sqlite_text.cpp
  Result<TextSearch> search_text(std::int64_t mailbox_id, const std::string& query, bool body_only) override;
  std::uint64_t foreign_changes() override { return core_.foreign_changes(); }
  Result<std::vector<MailboxChange>> highest_modseqs(const std::vector<std::int64_t>& mailbox_ids) override;
  void set_change_listener(std::function<void(const std::vector<MailboxChange>&)> listener) override {
    core_.set_change_listener(std::move(listener));
  }

 private:
  class Lock;
  // read_changes - changes_since, and listing (expunged = false).
  Result<Changes> read_changes(std::int64_t mailbox_id, std::int64_t modseq, bool expunged);
  // Inside a write transaction:
  // remove_messages - every message of a mailbox.
  static void remove_messages(Db& db, std::int64_t user_id, std::int64_t mailbox_id, std::vector<std::string>& unlink);
  // expunge_uids - those of these messages that exist, as expunge() removes
  // them; the UIDs removed, in the order given.
  std::vector<std::int64_t> expunge_uids(Db& db, std::int64_t user_id, std::int64_t mailbox_id,
                                         const std::vector<std::int64_t>& uids, std::vector<std::string>& unlink);
  SqliteCore& core_;
  std::mutex locks_mu_;
  std::set<std::int64_t> locked_;  // user ids whose maildrop a session holds
};

class SqliteQueue final : public Queue {
 public:
  explicit SqliteQueue(SqliteCore& core) : core_(core) {}

  void commit_message(IncomingMessage message, std::function<void(Result<CommitResult>)> done) override;
  void note_arrivals(int delta) override { core_.note_arrivals(delta); }
  Result<std::unique_ptr<BodySpool>> spool_body() override;
  void claim_remote(Claim claim, std::function<void(Result<std::vector<ClaimedMessage>>)> done) override;
  void record_attempts(std::vector<AttemptOutcome> outcomes, std::function<void(Status)> done) override;
  Result<std::string> read_body(std::int64_t message, ByteRange range) override;
  void change(QueueAction action, QueueSelection selection, std::function<void(Result<std::size_t>)> done) override;
  Result<std::vector<QueueRow>> list(const QueueQuery& query) override;
  Result<std::vector<QueueRow>> show(const std::string& queue_id) override;
  Result<std::map<RecipientState, std::uint64_t>> counts() override;
  Result<std::vector<DueDelivery>> due_local(std::int64_t now_s, std::size_t limit) override;
  void retry_local(std::vector<Retry> retries, const LocalDeliveryRules& rules,
                   std::function<void(Result<std::vector<DeliveryOutcome>>)> done) override;
  Result<std::vector<SpoolCheckpoint>> spool_checkpoints(const std::string& spool) override;
  void forget_spool_files(std::vector<SpoolFile> files, std::function<void(Status)> done) override;

 private:
  DeliveryOutcome apply_retry(Db& db, const Retry& retry, const LocalDeliveryRules& rules, std::int64_t now,
                              std::vector<std::string>& unlink);
  void apply_commit(Db& db, const IncomingMessage& m, const std::string& sha, const std::string& packed_text,
                    CommitResult& result, std::vector<std::string>& unlink);
  // deliver_local - a copy of message (body_size octets) into d's mailbox
  // if rules say so.
  LocalVerdict deliver_local(Db& db, const LocalDeliveryRules& rules, std::uint64_t body_size, std::int64_t message,
                             const Delivery& d, std::int64_t now);

  SqliteCore& core_;
};

class SqliteJournal final : public Journal {
 public:
  explicit SqliteJournal(SqliteCore& core) : core_(core) {}

  void append(JournalEntry entry) override;
  Result<std::vector<JournalEntry>> query(const JournalQuery& query) override;
  Result<std::int64_t> newest_start(const JournalQuery& query) override;
  Result<std::size_t> prune(std::int64_t before_ms, std::size_t limit) override;
  std::uint64_t failed_appends() const override { return failed_.load(); }

 private:
  SqliteCore& core_;
  std::atomic<std::uint64_t> failed_{0};
};

template <typename Fn>
auto SqliteCore::read(Fn&& fn) -> decltype(fn(std::declval<Db&>())) {
  std::unique_ptr<Db> db;
  {
    std::lock_guard lk(pool_mu_);
    if (!pool_.empty()) {
      db = std::move(pool_.back());
      pool_.pop_back();
    }
  }
  try {
    if (!db) {
      db = std::make_unique<Db>();
      db->open(db_path_);
      db->exec("PRAGMA foreign_keys = ON");
    }
    auto r = fn(*db);
    std::lock_guard lk(pool_mu_);
    pool_.push_back(std::move(db));
    return r;
  } catch (const std::exception& e) {
    return to_error(e);
  }
}

}  // namespace herald::store
