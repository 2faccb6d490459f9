// store/mailboxes.h - what users keep: their mailboxes and the messages in
// them, in the model IMAP needs (POP3 reads the INBOX of it).
//
// One of the store's interfaces (see store.h); a backend implements it.
// Invariants:
// - UID, UIDNEXT, UIDVALIDITY and MODSEQ change only inside store
//   transactions; a UID is never reused within a UIDVALIDITY, and a name
//   never gets an earlier UIDVALIDITY back (RFC 9051 2.3.1.1).
// - Every change to a message (delivery, append, copy, flags, expunge)
//   takes the next MODSEQ of its mailbox, and HIGHESTMODSEQ is the largest
//   one given (RFC 7162 3.1); an expunged UID is remembered with its
//   MODSEQ, so a client can learn what vanished since it last looked
//   (RFC 7162 3.2.10).
// - Names are full paths with "/" between levels; "INBOX" is one name
//   whatever its case (RFC 9051 5.1). Every user has an INBOX, and is
//   given kSpecialUseMailboxes when created.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "store/byte_range.h"

namespace herald::store {

// The name of the mailbox every user has and local delivery fills.
inline constexpr const char* kInbox = "INBOX";
// The hierarchy delimiter of mailbox names (RFC 9051 5.1.1).
inline constexpr char kHierarchyDelimiter = '/';

// The mailboxes every new user gets besides INBOX, with their special use
// (RFC 6154 2), so that clients find where to put sent, draft and deleted
// mail without creating their own. All are subscribed, as INBOX is.
struct SpecialUseMailbox {
  const char* name;
  const char* special_use;
};
inline constexpr SpecialUseMailbox kSpecialUseMailboxes[] = {
    {"Sent", "\\Sent"}, {"Drafts", "\\Drafts"}, {"Trash", "\\Trash"}, {"Junk", "\\Junk"}, {"Archive", "\\Archive"},
};

// canonical_mailbox_name - "INBOX" for any case of it (and of its first
// level, "inbox/x" is "INBOX/x"); other names as given.
std::string canonical_mailbox_name(const std::string& name);

// The system flags of RFC 9051 2.3.2, as bits; keywords are kept apart.
enum MessageFlag : std::uint32_t {
  kSeen = 1,
  kAnswered = 2,
  kFlagged = 4,
  kDeleted = 8,
  kDraft = 16,
};

struct MailboxRecord {
  std::int64_t id = 0;
  std::string name;
  std::string special_use;  // RFC 6154: "\\Sent", "\\Trash", ...; "" = none
  bool selectable = true;   // false: \Noselect, kept as the parent of others
  std::int64_t uidvalidity = 0;
  std::int64_t uidnext = 1;
  std::int64_t highestmodseq = 1;
  std::uint64_t messages = 0;
};

struct MessageRecord {
  std::int64_t uid = 0;
  std::uint64_t size = 0;  // RFC822.SIZE: the trace prefix and the body
  std::uint32_t flags = 0;
  std::vector<std::string> keywords;
  std::int64_t modseq = 0;
  std::int64_t internaldate = 0;  // unix seconds (RFC 9051 2.3.3)
  std::int64_t savedate = 0;      // unix seconds, when put into this mailbox (RFC 8514); 0: unknown
  std::int64_t message = 0;       // the stored message: one for all its copies (OBJECTID's EMAILID)
};

struct ExpungedRecord {
  std::int64_t uid = 0;
  std::int64_t modseq = 0;
};

// MailboxCounts - what STATUS reports beyond the mailbox row: UNSEEN,
// DELETED and SIZE (RFC 9051 6.3.11).
struct MailboxCounts {
  std::uint64_t messages = 0, unseen = 0, deleted = 0, size = 0;
};

// MailboxChange - a mailbox whose messages a committed transaction changed,
// with the highest MODSEQ it reached there.
struct MailboxChange {
  std::int64_t mailbox_id;
  std::int64_t highestmodseq;
};

// AppendMessage - a message IMAP APPEND gives (RFC 9051 6.3.12).
struct AppendMessage {
  std::string body;
  std::string structure;  // its MIME structure (mime::encode); "" = none
  // What the full-text index keeps of it (mime::indexable_text: header
  // values, a NUL, the body text); "" = not indexed (search_text then
  // lists it as unindexed).
  std::string text;
  std::uint32_t flags = 0;
  std::vector<std::string> keywords;
  std::int64_t internaldate = 0;  // unix s, 0 = now
};

// Appended - where it went: APPENDUID (RFC 4315 3).
struct Appended {
  std::int64_t mailbox_id = 0;
  std::int64_t uidvalidity = 0;
  std::int64_t uid = 0;    // the first message's; the others follow it
  std::int64_t count = 0;  // messages appended: UIDs uid .. uid + count - 1
};

// MetadataEntry - one annotation (RFC 5464 3): its name in lower case,
// under "/private" or "/shared", and its value.
struct MetadataEntry {
  std::string name;
  std::string value;
  bool operator==(const MetadataEntry&) const = default;
};

// AclEntry - one line of a mailbox's access list (RFC 4314): who (a
// user's address in lower case, or "anyone") and the rights, letters of
// "lrswipkxtea" the store keeps as given.
struct AclEntry {
  std::string identifier;
  std::string rights;
  bool operator==(const AclEntry&) const = default;
};

// SharedMailbox - another user's mailbox whose access list names a user
// (or anyone): its owner's address, the mailbox, and every entry that
// applies to that user (their rights are the union).
struct SharedMailbox {
  std::int64_t owner_id = 0;
  std::string owner;
  MailboxRecord mailbox;
  std::string rights;  // the letters of those entries, concatenated
};

// TextSearch - what search_text found in a mailbox.
struct TextSearch {
  std::vector<std::int64_t> matches;    // UIDs, ascending
  std::vector<std::int64_t> unindexed;  // UIDs, ascending, of messages the index does not hold
};

// Copied - the target and its new UIDs, to[i] for from[i]: COPYUID (RFC 4315 3).
struct Copied {
  std::int64_t mailbox_id = 0;
  std::int64_t uidvalidity = 0;
  std::vector<std::int64_t> from, to;
};


enum class FlagChange { add, remove, replace };  // STORE +FLAGS, -FLAGS, FLAGS

struct MaildropEntry {
  std::int64_t uid = 0;
  std::uint64_t size = 0;
  std::string uidl;  // "UIDVALIDITY.UID": stable across sessions and restarts
};

struct Maildrop {
  std::int64_t mailbox_id = 0;
  std::vector<MaildropEntry> messages;
};

// MaildropLock - RFC 1939 8: one session at a time has a maildrop. The
// lock is released when this is destroyed, however the session ends.
class MaildropLock {
 public:
  virtual ~MaildropLock() = default;
};

class Mailboxes {
 public:
  virtual ~Mailboxes() = default;

  // ---- mailboxes (RFC 9051 6.3) -----------------------------------------
  virtual Result<std::vector<MailboxRecord>> list_mailboxes(std::int64_t user_id) = 0;
  virtual Result<std::optional<MailboxRecord>> find_mailbox(std::int64_t user_id, const std::string& name) = 0;
  // create_mailbox - and the missing levels above it (RFC 9051 6.3.4);
  // Errc::exists when the name is taken.
  virtual Status create_mailbox(std::int64_t user_id, const std::string& name, const std::string& special_use) = 0;
  // delete_mailbox - its messages go; a mailbox with children stays as
  // \Noselect (RFC 9051 6.3.5). INBOX cannot be deleted.
  virtual Status delete_mailbox(std::int64_t user_id, const std::string& name) = 0;
  // rename_mailbox - with its children; renaming INBOX moves its messages
  // to the new name and leaves INBOX empty (RFC 9051 6.3.6).
  virtual Status rename_mailbox(std::int64_t user_id, const std::string& from, const std::string& to) = 0;
  // Subscriptions are names, which need not exist (RFC 9051 6.3.7).
  virtual Status set_subscribed(std::int64_t user_id, const std::string& name, bool subscribed) = 0;
  virtual Result<std::vector<std::string>> subscriptions(std::int64_t user_id) = 0;

  // ---- messages ----------------------------------------------------------
  // messages - of a mailbox in UID order; changed_since > 0: only those
  // whose MODSEQ is greater (CONDSTORE CHANGEDSINCE, RFC 7162 3.1.4).
  virtual Result<std::vector<MessageRecord>> messages(std::int64_t mailbox_id, std::int64_t changed_since = 0) = 0;
  // expunged_since - UIDs expunged with a MODSEQ above modseq (QRESYNC).
  virtual Result<std::vector<ExpungedRecord>> expunged_since(std::int64_t mailbox_id, std::int64_t modseq) = 0;
  // changes_since - what changed in a mailbox after a MODSEQ, from one
  // snapshot: messages (changed or new) and expunged UIDs above it, and
  // the mailbox's HIGHESTMODSEQ then, which covers both (an IMAP session's
  // view moves on to it).
  struct Changes {
    std::vector<MessageRecord> messages;
    std::vector<ExpungedRecord> expunged;
    std::int64_t highestmodseq = 0;
  };
  virtual Result<Changes> changes_since(std::int64_t mailbox_id, std::int64_t modseq) = 0;
  // listing - every message of a mailbox in UID order and its
  // HIGHESTMODSEQ, from one snapshot (expunged is empty): what an IMAP
  // SELECT starts from.
  virtual Result<Changes> listing(std::int64_t mailbox_id) = 0;
  // read_message - the message as delivered to that mailbox (its trace
  // prefix, then the body), or the part of it in range. A body that cannot
  // be read whole is an error, never a shorter message.
  virtual Result<std::string> read_message(std::int64_t mailbox_id, std::int64_t uid, ByteRange range = {}) = 0;
  // message_structure - the MIME structure kept with a message
  // (mime::encode) and the octets of this copy's trace prefix, which come
  // before the offsets in it; nullopt for a message kept before structures
  // were (schema 11).
  struct Structure {
    std::string encoded;
    std::uint64_t prefix_size = 0;
  };
  virtual Result<std::optional<Structure>> message_structure(std::int64_t mailbox_id, std::int64_t uid) = 0;
  // message_structures - message_structure of several messages, from one
  // snapshot, in the order asked; found is false for a UID not there.
  // With max_octets, it stops once the structures read pass that many
  // octets (one at least): the answer is then shorter than uids.
  struct FoundStructure {
    bool found = false;
    std::optional<Structure> structure;
  };
  virtual Result<std::vector<FoundStructure>> message_structures(std::int64_t mailbox_id,
                                                                 const std::vector<std::int64_t>& uids,
                                                                 std::uint64_t max_octets = 0) = 0;
  // store_flags - change flags and keywords of these messages; each one
  // changed takes the next MODSEQ. With unchanged_since (RFC 7162 3.1.3),
  // a message whose MODSEQ is above it is left alone and reported as
  // modified. done gets both (on the store's writer thread, once durable).
  struct FlagUpdate {
    FlagChange change = FlagChange::add;
    std::uint32_t flags = 0;
    std::vector<std::string> keywords;
    std::optional<std::int64_t> unchanged_since;
  };
  struct FlagsStored {
    std::vector<MessageRecord> changed;
    std::vector<std::int64_t> modified;  // UIDs refused by unchanged_since
  };
  virtual void store_flags(std::int64_t mailbox_id, std::vector<std::int64_t> uids, FlagUpdate update,
                           std::function<void(Result<FlagsStored>)> done) = 0;
  // expunge - remove these messages, remember their UIDs, and give their
  // space back to the user's quota; done runs on the store's writer thread
  // once durable.
  virtual void expunge(std::int64_t user_id, std::int64_t mailbox_id, std::vector<std::int64_t> uids,
                       std::function<void(Status)> done) = 0;
  // expunge_deleted - EXPUNGE (RFC 9051 6.4.3): remove the messages flagged
  // \Deleted, only those of uids when given (UID EXPUNGE, RFC 9051 6.4.9),
  // as expunge() does. The flags are read inside the transaction, so a
  // \Deleted set by another session just before counts. done gets the UIDs
  // removed, ascending (on the store's writer thread, once durable).
  virtual void expunge_deleted(std::int64_t user_id, std::int64_t mailbox_id,
                               std::optional<std::vector<std::int64_t>> uids,
                               std::function<void(Result<std::vector<std::int64_t>>)> done) = 0;
  // append_message - IMAP APPEND (RFC 9051 6.3.12): a new message in the
  // named mailbox with the next UID and MODSEQ, charged to the user's quota.
  // Errc::not_found when there is no such selectable mailbox, Errc::quota
  // when the quota cannot hold it (nothing is written then).
  void append_message(std::int64_t user_id, const std::string& mailbox, AppendMessage message,
                      std::function<void(Result<Appended>)> done) {
    std::vector<AppendMessage> one;
    one.push_back(std::move(message));
    append_messages(user_id, mailbox, std::move(one), std::move(done));
  }
  // append_messages - MULTIAPPEND (RFC 3502): these messages, in order,
  // with consecutive UIDs, all in one transaction: all of them are
  // stored or none (the quota holds them all or refuses them all).
  virtual void append_messages(std::int64_t user_id, const std::string& mailbox, std::vector<AppendMessage> messages,
                               std::function<void(Result<Appended>)> done) = 0;
  // copy_messages - COPY (RFC 9051 6.4.7), or MOVE (RFC 6851) when move,
  // from a mailbox of from_owner's to to_owner's to_mailbox (the same
  // user, or another who shares it: RFC 4314). Each source UID that
  // exists, ascending, gets a copy in to_mailbox with the next UID and
  // MODSEQ there, and its flags, keywords and internal date; copies share
  // the body. A copy counts against to_owner's quota (Errc::quota, nothing
  // written); a move within one user's mailboxes does not, its source
  // going as expunge() removes it. Errc::not_found when there is no such
  // selectable target; the source mailbox itself may be the target.
  virtual void copy_messages(std::int64_t from_owner_id, std::int64_t from_mailbox_id, std::vector<std::int64_t> uids,
                             std::int64_t to_owner_id, const std::string& to_mailbox, bool move,
                             std::function<void(Result<Copied>)> done) = 0;
  void copy_messages(std::int64_t user_id, std::int64_t from_mailbox_id, std::vector<std::int64_t> uids,
                     const std::string& to_mailbox, bool move, std::function<void(Result<Copied>)> done) {
    copy_messages(user_id, from_mailbox_id, std::move(uids), user_id, to_mailbox, move, std::move(done));
  }
  // metadata - the annotations (RFC 5464) of a mailbox of user_id's, or of
  // the server when mailbox is "", that its reader sees (reader_id, or 0:
  // the user; another user on a mailbox shared with them, RFC 4314): the
  // reader's own /private entries and the mailbox's /shared ones; those
  // named in names and those below them ("/private/a" gives
  // "/private/a/b" too), by name. Names are lower case. Errc::not_found
  // when the user has no such mailbox.
  virtual Result<std::vector<MetadataEntry>> metadata(std::int64_t user_id, const std::string& mailbox,
                                                      const std::vector<std::string>& names,
                                                      std::int64_t reader_id = 0) = 0;
  // set_metadata - set these entries (a value) or remove them (none), as
  // metadata() sees them, all in one transaction: all or none (RFC 5464 4.3). Errc::not_found when
  // the user has no such mailbox; Errc::quota when the owner would hold
  // more than max_entries entries, nothing changed.
  using MetadataChange = std::pair<std::string, std::optional<std::string>>;
  virtual Status set_metadata(std::int64_t user_id, const std::string& mailbox,
                              const std::vector<MetadataChange>& entries, std::uint32_t max_entries,
                              std::int64_t reader_id = 0) = 0;
  // acl - a mailbox's access list (RFC 4314 3.3), by identifier; its
  // owner's implicit rights are not in it.
  virtual Result<std::vector<AclEntry>> acl(std::int64_t mailbox_id) = 0;
  // change_acl - the identifier's rights on a mailbox, made by rights_after
  // from those it has ("" without an entry), read and written in one
  // transaction so that two changes never lose one another (SETACL's "+"
  // and "-"); "" removes the entry. Errc::not_found when the mailbox is
  // gone.
  virtual Status change_acl(std::int64_t mailbox_id, const std::string& identifier,
                            const std::function<std::string(const std::string&)>& rights_after) = 0;
  // set_acl - the identifier's rights on a mailbox, whatever they were.
  Status set_acl(std::int64_t mailbox_id, const std::string& identifier, const std::string& rights) {
    return change_acl(mailbox_id, identifier, [&rights](const std::string&) { return rights; });
  }
  // shared_with - the mailboxes of other users whose access lists name
  // address or "anyone", by owner and name; entries with no rights left
  // are not kept, so each has some.
  virtual Result<std::vector<SharedMailbox>> shared_with(std::int64_t user_id, const std::string& address) = 0;
  // mailbox_counts - its messages, unseen, deleted and octets, from one
  // read. Errc::not_found when there is no such mailbox.
  virtual Result<MailboxCounts> mailbox_counts(std::int64_t mailbox_id) = 0;
  // search_text - SEARCH BODY (body_only) and TEXT (RFC 9051 6.4.4) from
  // the full-text index built at delivery and APPEND: the messages of the
  // mailbox whose text holds query as a phrase, case and diacritics
  // folded, the header values (Subject, From, To, Cc) included unless
  // body_only. The index matches words, not octets: each word of query
  // matches a whole word of the text, the last one also a word's start
  // ("inv" finds "invoice"), and punctuation between words is not
  // compared, so the matches approximate IMAP's substring match (a
  // query that starts inside a word finds nothing). Messages stored
  // without an index row (before schema 12, or APPENDed without text) are
  // in unindexed, from the same snapshot, for the caller to read.
  // Errc::invalid when query has no word to look for.
  virtual Result<TextSearch> search_text(std::int64_t mailbox_id, const std::string& query, bool body_only) = 0;

  // ---- changes -------------------------------------------------------------
  // set_change_listener - listener hears of every committed transaction
  // that changed messages (delivery, APPEND, COPY/MOVE, flags, expunge,
  // deleting a mailbox, renaming INBOX): once per transaction, one entry
  // per mailbox, on the store's writer thread once durable; never for one
  // rolled back. It must be quick and must not call the store's writes and
  // wait for them (it runs on the thread that does them): IMAP IDLE wakes
  // its sessions from it (RFC 2177). Set before the first write; set to
  // nullptr before what it calls goes (it waits for a call in progress).
  virtual void set_change_listener(std::function<void(const std::vector<MailboxChange>&)> listener) = 0;
  // foreign_changes - a count that grows with each commit of another
  // process on this store (a `herald` command) that changed messages; the
  // listener hears only of this process's. A server that sees it grow
  // reads the HIGHESTMODSEQ of the mailboxes it watches (highest_modseqs).
  virtual std::uint64_t foreign_changes() = 0;
  // highest_modseqs - the HIGHESTMODSEQ of these mailboxes; one past it
  // for one that no longer exists (so a session on it asks and learns).
  virtual Result<std::vector<MailboxChange>> highest_modseqs(const std::vector<std::int64_t>& mailbox_ids) = 0;

  // ---- POP3 ----------------------------------------------------------------
  // lock_maildrop - the user's maildrop for this session; null when another
  // session holds it.
  virtual Result<std::unique_ptr<MaildropLock>> lock_maildrop(std::int64_t user_id) = 0;
  // maildrop - the user's INBOX as POP3 sees it (RFC 1939): messages in UID
  // order, each with its size and unique id.
  virtual Result<Maildrop> maildrop(std::int64_t user_id) = 0;
};

}  // namespace herald::store
