// admin/commands.h - the operator commands: one implementation each, for
// every door. The `herald` CLI prints what they return (render.h); the HTTP
// API will serve the same data. Nothing here prints or parses a command
// line: app/main.cpp does that and wires.
//
// Errors: Errc::invalid when the request itself is wrong (an address that
// is no address, a quota that is no size: the CLI's usage error, exit 2);
// otherwise what the store reports (not_found, exists, denied, io).
//
// Lists stream: rows reach the caller's sink as they are read, a page of at
// most kPageRows at a time from an index range of the store (store/list_sql.h),
// so memory stays bounded and the first row comes at once however long the
// list. A page is its own read: no read transaction stays open while the
// caller writes rows out. A row changed while a list runs shows at most
// once, as it was when its page was read.
//
// Security: passwords are hashed here (argon2id, and SCRAM-SHA-256 keys per
// RFC 7677) and never kept or returned in the clear; user rows leave without
// their hashes (UserInfo).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "store/store.h"

namespace herald::admin {

// Rows per store read while a list streams.
inline constexpr std::size_t kPageRows = 500;

// Sink - takes one row of a list; false stops the list (the reader went away).
template <typename Row>
using Sink = std::function<bool(const Row&)>;

// ListRequest - which rows of a domain, user or alias list, in key order:
// the domain name or the address, lower-case.
struct ListRequest {
  std::size_t limit = 0;  // at most this many; 0 = all
  std::string after;      // only keys after this one: the last key of the previous page
  std::string prefix;     // only keys that start with this
  std::string domain;     // users and aliases: only addresses of this domain
};

// ListEnd - how a list ended.
struct ListEnd {
  std::size_t rows = 0;  // rows given to the sink
  std::string last;      // the key of the last one ("" when none)
  bool more = false;     // the limit left rows out: continue after `last`
};

// ---- domains -----------------------------------------------------------

Status domain_add(store::Store& store, const std::string& name);
// domain_del - a domain of the config file is refused (Errc::denied).
Status domain_del(store::Store& store, const std::string& name);
Result<ListEnd> domain_list(store::Store& store, const ListRequest& request, const Sink<store::DomainRecord>& row);

// ---- users -------------------------------------------------------------

// NewPassword - a password to hash, or a hash imported from another server
// (argon2id, $6$ SHA512-CRYPT, $2y$ bcrypt; no SCRAM keys then: those need
// the password).
struct NewPassword {
  enum class Kind { plaintext, hash };
  Kind kind = Kind::plaintext;
  std::string text;
};

struct UserAdd {
  std::string address;   // local@domain, the domain local
  NewPassword password;
  std::string quota;     // "500M", "1G"; "" = none
};

// UserInfo - a user as the commands show one: no credentials.
struct UserInfo {
  std::string address;
  std::uint64_t quota_bytes = 0;  // 0 = unlimited
  std::uint64_t used_bytes = 0;
  bool scram = false;             // SCRAM-SHA-256 keys are kept (not for imported hashes)
  bool send_as_any = false;
};

// user_add - the user and their INBOX; Errc::exists when the user exists.
Status user_add(store::Store& store, const UserAdd& request);
Status user_del(store::Store& store, const std::string& address);
Status user_passwd(store::Store& store, const std::string& address, const NewPassword& password);
// user_send_as - allow or forbid any envelope sender on submission.
Status user_send_as(store::Store& store, const std::string& address, bool allowed);
Result<ListEnd> user_list(store::Store& store, const ListRequest& request, const Sink<UserInfo>& row);

// ---- aliases -----------------------------------------------------------

// alias_add - adds targets (local or remote addresses) to the alias, whose
// domain must be local.
Status alias_add(store::Store& store, const std::string& alias, const std::vector<std::string>& targets);
Status alias_del(store::Store& store, const std::string& alias);
// alias_list - limit counts aliases, each given with all its targets.
Result<ListEnd> alias_list(store::Store& store, const ListRequest& request, const Sink<store::AliasRecord>& row);

// ---- the queue ---------------------------------------------------------

// QueueListRequest - queue rows in arrival order; the key is the row number
// (QueueRow::row), as text.
struct QueueListRequest {
  std::size_t limit = 0;  // 0 = all
  std::string after;      // a row number: only rows after it
  std::string sender;     // only messages from this sender, any case; "<>" = the null sender
  std::string recipient;  // only this recipient, any case
  std::optional<store::RecipientState> state;  // only rows in this state
  std::string state_name;  // the same as given: "deferred", "held", ...; "" = any
  std::string older_than;  // only rows queued longer ago than this: "2d", "30m"; "" = any
};

Result<ListEnd> queue_list(store::Store& store, const QueueListRequest& request, const Sink<store::QueueRow>& row);
// queue_show - the rows of one queue id; Errc::not_found when it has none.
Result<std::vector<store::QueueRow>> queue_show(store::Store& store, const std::string& queue_id);

// QueueChange - which queued recipients an operator's action takes: these
// queue ids, or those matching --sender and --domain, or --all.
struct QueueChange {
  std::vector<std::string> queue_ids;
  std::string sender;  // "" = any; "<>" = the null sender
  std::string domain;  // the recipients' domain; "" = any
  std::optional<store::RecipientState> state;  // only rows in this state
  std::string state_name;  // as given on the command line
  std::string older_than;  // only rows queued longer ago than this
  bool all = false;
};

// queue_change - hold, release, retry or delete the selected recipients;
// how many changed. Errc::invalid when nothing selects: a bulk action needs
// --all (as postsuper's ALL).
Result<std::size_t> queue_change(store::Store& store, store::QueueAction action, const QueueChange& request);

// ---- dead letters ------------------------------------------------------
// Reports (null sender) that could not be delivered: queue rows in state
// dead, kept with their message (docs/ARCHITECTURE.md "Outbound delivery").

// DeadLetter - the dead rows of one queue id, and the message.
struct DeadLetter {
  std::vector<store::QueueRow> rows;
  std::string message;
};

// deadletter_show - Errc::not_found when the queue id has no dead letter.
Result<DeadLetter> deadletter_show(store::Store& store, const std::string& queue_id);
// deadletter_change - resend (back to the queue, due now, with a fresh
// lifetime) or remove the selected dead letters; a removed one's files in
// dir (QUEUEID.eml, QUEUEID-N.eml) go too.
Result<std::size_t> deadletter_change(store::Store& store, store::QueueAction action, QueueChange request,
                                      const std::filesystem::path& dir);

// ---- the journal -------------------------------------------------------

// JournalRequest - events, oldest first; the key is JournalEntry::key, as text.
struct JournalRequest {
  std::string since;       // only events newer than this: "30m", "2h", "1d"
  std::string until;       // only events older than this (a period to export)
  std::string message_id;  // only the events of this message
  std::string queue_id;
  std::string address;     // only events with this sender or recipient
  std::string event;       // only this event ("received", "quarantined", ...)
  // The accounting records (received rows) of a door, or whose identity,
  // Subject or an attachment's name holds this text.
  std::string door, identity, subject, attachment;
  std::size_t limit = 1000;  // 0 = all
  std::string after;       // a key: the first `limit` events after it; "" = the newest `limit`
};

Result<ListEnd> journal(store::Store& store, const JournalRequest& request, const Sink<store::JournalEntry>& row);

// ---- a user's mail (doveadm's mailbox, quota, flags, expunge) ----------
// These work on the store, as the user commands do, whether the daemon
// runs or not. A running daemon's IMAP session that has the mailbox
// selected learns of such a change when it next reads the mailbox (its
// watch hears only its own process's commits: docs/ARCHITECTURE.md
// "IMAP"); new sessions see it at once. Every one names the user by
// address: Errc::invalid for no address, not_found for no such user.

// MailboxInfo - a mailbox as `mailbox list` shows it.
struct MailboxInfo {
  std::string name;         // UTF-8, "/" between levels
  std::string special_use;  // "\\Sent", ...; "" = none
  bool selectable = true;   // false: \Noselect, a parent kept for its children
  bool subscribed = false;
  std::uint64_t messages = 0, unseen = 0, deleted = 0, size = 0;  // size in octets
  std::int64_t uidvalidity = 0, uidnext = 0;
};

// kSpecialUses - the special uses a mailbox may be given (RFC 6154 2).
inline constexpr const char* kSpecialUses[] = {"\\All",  "\\Archive", "\\Drafts", "\\Flagged",
                                               "\\Junk", "\\Sent",    "\\Trash"};

Result<std::vector<MailboxInfo>> mailbox_list(store::Store& store, const std::string& address);
// mailbox_create - and the levels above it; subscribed, as a new user's
// mailboxes are (IMAP CREATE leaves that to the client). special_use: one
// of kSpecialUses, any case, or "".
Status mailbox_create(store::Store& store, const std::string& address, const std::string& name,
                      const std::string& special_use);
// mailbox_delete - its messages go (and their quota); a parent of others
// stays as \Noselect; INBOX is refused (Errc::denied). Unsubscribed.
Status mailbox_delete(store::Store& store, const std::string& address, const std::string& name);
// mailbox_rename - with its children and their subscriptions; renaming
// INBOX moves its messages and leaves it empty (RFC 9051 6.3.6).
Status mailbox_rename(store::Store& store, const std::string& address, const std::string& from,
                      const std::string& to);

struct QuotaInfo {
  std::string address;
  std::uint64_t quota_bytes = 0;  // 0 = unlimited
  std::uint64_t used_bytes = 0;
};

Result<QuotaInfo> quota_get(store::Store& store, const std::string& address);
// quota_set - "500M", "1G", "0" = unlimited (parse_quota's sizes); what
// the user has then. Deliveries and APPENDs past it are refused from the
// next one on, in a running daemon too (the directory cache is told).
Result<QuotaInfo> quota_set(store::Store& store, const std::string& address, const std::string& size);

// AclInfo - a mailbox's access list (RFC 4314) as `herald acl get` shows
// it: its owner, who holds every right, then each entry by identifier.
struct AclInfo {
  std::string owner;
  std::string mailbox;
  std::vector<store::AclEntry> entries;
};

Result<AclInfo> acl_get(store::Store& store, const std::string& address, const std::string& mailbox);
// acl_set - identifier ("anyone" or an address) gets rights as IMAP's SETACL
// takes them: "lr" replaces, "+i" adds, "-w" removes; an entry left with
// none goes. Errc::invalid for letters outside "lrswipkxtea" (and the old
// "c", "d") or for the owner, whose rights are all of them.
Result<AclInfo> acl_set(store::Store& store, const std::string& address, const std::string& mailbox,
                        const std::string& identifier, const std::string& rights);
Result<AclInfo> acl_delete(store::Store& store, const std::string& address, const std::string& mailbox,
                           const std::string& identifier);

// FlagsRequest - `herald flags`: the messages of uids in a mailbox, their
// flags changed (add, remove, set) or only shown (none).
struct FlagsRequest {
  enum class Change { none, add, remove, set };
  std::string address, mailbox;
  std::vector<std::string> uids;   // "7", "3:9", "5:*", "*", "1,4" (IMAP's uid-set)
  Change change = Change::none;
  std::vector<std::string> flags;  // "\\Seen", "\\Flagged", keywords; each may hold several, space or comma separated
};

// MessageFlags - one message's flags, system flags first, as IMAP's FLAGS.
struct MessageFlags {
  std::int64_t uid = 0;
  std::vector<std::string> flags;
};

// flags - the messages' flags after the change, in UID order. A UID named
// alone that the mailbox has not is Errc::not_found (nothing changed);
// ranges take the UIDs that exist. \Recent and unknown "\\" names are
// Errc::invalid.
Result<std::vector<MessageFlags>> flags(store::Store& store, const FlagsRequest& request);

// ExpungeRequest - which messages of a mailbox go: those with an internal
// date older than `before` ("30d", "12h"), those flagged \Deleted, or
// with both given those that are both. One is needed (Errc::invalid).
struct ExpungeRequest {
  std::string address, mailbox;
  std::string before;
  bool deleted = false;
};

// expunge - how many went; their space goes back to the quota.
Result<std::size_t> expunge(store::Store& store, const ExpungeRequest& request);

// ---- import and export (doveadm import / backup) ----------------------
// Messages from a maildir++ tree or an mbox file into the store, each
// through Mailboxes::append_message with its MIME structure as IMAP
// APPEND gives it, line ends made CRLF; a maildir++ tree out of it.
// admin/mailfiles.h says what of each format is read and written.

// ImportRequest - whose, from where; mbox: into which mailbox ("" = INBOX).
struct ImportRequest {
  std::string address;
  std::filesystem::path path;
  std::string mailbox;
};

// kProblemsKept - how many problems a report names (it counts them all).
inline constexpr std::size_t kProblemsKept = 10;

// ImportReport - what an import did. Problems are per message ("PATH:
// why"): a file unreadable or empty is skipped, a message the store
// refused (the quota, a disk error) failed; neither stops the import.
struct ImportReport {
  std::vector<std::pair<std::string, std::size_t>> mailboxes;  // messages imported, by mailbox, as first met
  std::vector<std::string> created;                             // mailboxes the import created
  std::size_t imported = 0, skipped = 0, failed = 0;
  std::uint64_t octets = 0;                                      // imported, as stored (CRLF)
  std::vector<std::string> problems;                             // the first kProblemsKept
};

// Progress - messages done and of how many (0: not known ahead); called
// from the command's thread.
using Progress = std::function<void(std::size_t done, std::size_t total)>;

// import_maildir - the root's cur/ and new/ into INBOX, each ".Sub.Folder"
// into Sub/Folder; flags from ":2," (and the folder's dovecot-keywords),
// the internal date from the file's mtime (else the name's leading
// timestamp). A folder's dovecot-uidlist, if any, gives the order.
// Missing mailboxes are created: a top-level Sent, Drafts, Trash, Junk
// or Archive in any case goes to the user's mailbox of that name, or is
// created with that special use.
Result<ImportReport> import_maildir(store::Store& store, const ImportRequest& request, const Progress& progress);
// import_mbox - every message of the mbox file into request.mailbox; the
// internal date from its "From " line; UW-IMAP's folder-data message is
// not imported.
Result<ImportReport> import_mbox(store::Store& store, const ImportRequest& request, const Progress& progress);

struct ExportReport {
  std::vector<std::pair<std::string, std::size_t>> mailboxes;  // messages written, by mailbox
  std::size_t exported = 0;
  std::size_t keywords_dropped = 0;  // past the 26 letters a folder has for keywords
  std::uint64_t octets = 0;
};

// export_maildir - every selectable mailbox as maildir++ under path (made
// if missing): INBOX at the root, others as ".Name.Sub"; each message in
// cur/ as stored (CRLF), flags in its ":2," info, keywords in the folder's
// dovecot-keywords, the internal date as its mtime, the order in a
// dovecot-uidlist. Names come from the mailbox's UIDVALIDITY and the
// message's UID, so exporting again into the same tree rewrites (renames,
// for changed flags) the same files instead of adding copies.
Result<ExportReport> export_maildir(store::Store& store, const std::string& address,
                                    const std::filesystem::path& path, const Progress& progress);

// ---- herald search: a user's mail by its words -----------------------------

// SearchRequest - whose mail, which words, where ("" = every mailbox).
struct SearchRequest {
  std::string address, query, mailbox;
};

// SearchHit - a message found: where, when it came, who sent it, about what
// (From and Subject with their encoded-words decoded).
struct SearchHit {
  std::string mailbox;
  std::int64_t uid = 0;
  std::int64_t internaldate = 0;  // unix seconds
  std::string from, subject;
};

// SearchEnd - how a search ended: hits given, and the messages of the
// mailboxes searched that the index does not hold (stored before schema 12).
struct SearchEnd {
  std::size_t hits = 0;
  std::size_t unindexed = 0;
};

// search - the user's messages whose indexed text (header values and body,
// IMAP's SEARCH TEXT: Mailboxes::search_text) holds query, mailbox by
// mailbox in name order, UIDs ascending, each to row as it is found.
// Errc::invalid for a query without a word.
Result<SearchEnd> search(store::Store& store, const SearchRequest& request, const Sink<SearchHit>& row);

}  // namespace herald::admin
