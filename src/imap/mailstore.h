// imap/mailstore.h - what the IMAP session asks of the mail store, and the
// answers, as plain data (docs/ARCHITECTURE.md "IMAP").
//
// The session is pure: when a command needs the store it returns
// Action::store with one of these requests, the driver (server/imapd)
// carries it out against store::Mailboxes, and hands the answer back with
// Session::on_store(). Nothing here knows SQL, files or threads; the unit
// tests answer the same requests from memory.
//
// A mailbox is named in UTF-8 with "/" between levels (the store's form);
// the session converts from and to modified UTF-7 for IMAP4rev1 clients.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace herald::imap {

class Listing;  // imap/listing.h

// The system flags of RFC 9051 2.3.2, as the store keeps them (bits).
enum Flag : std::uint32_t {
  kSeen = 1,
  kAnswered = 2,
  kFlagged = 4,
  kDeleted = 8,
  kDraft = 16,
};

// MessageMeta - one message as a listing gives it.
struct MessageMeta {
  std::uint32_t uid = 0;
  std::uint32_t flags = 0;
  std::vector<std::string> keywords;
  std::uint64_t modseq = 0;
  std::uint64_t size = 0;         // RFC822.SIZE
  std::int64_t internaldate = 0;  // unix seconds
  std::int64_t savedate = 0;      // unix seconds, RFC 8514 (0: unknown)
  std::int64_t emailid = 0;       // the stored message, shared by its copies (RFC 8474 EMAILID)
  bool operator==(const MessageMeta&) const = default;
};

// MailboxInfo - a mailbox with what SELECT, STATUS and LIST report.
struct MailboxInfo {
  std::int64_t id = 0;
  std::string name;
  std::string special_use;  // "\\Sent", ... ("" none)
  bool selectable = true;
  std::uint32_t uidvalidity = 0;
  std::uint32_t uidnext = 1;
  std::uint64_t highestmodseq = 1;
  std::uint32_t messages = 0;
  std::uint32_t unseen = 0;   // filled when counts were asked
  std::uint32_t deleted = 0;
  std::uint64_t size = 0;     // octets of all messages
  std::string rights;         // RFC 4314, of this user; "" = all (the user's own)
};

// Why a request failed, as the tagged NO says it (RFC 5530 codes).
enum class StoreError {
  none,
  nonexistent,   // [NONEXISTENT] / [TRYCREATE] for APPEND, COPY, MOVE
  exists,        // [ALREADYEXISTS]
  denied,        // [NOPERM] (INBOX delete, rename into INBOX)
  invalid,       // [CANNOT] a name the store refuses
  over_quota,    // [OVERQUOTA]
  too_big,       // [TOOBIG]
  temporary,     // [UNAVAILABLE] the store failed; try again
};

// The user this session is logged in as is the driver's: requests never name it.
namespace request {

struct List { bool counts = false; };  // every mailbox (with counts: LIST-STATUS) and subscription
struct Status { std::string mailbox; };  // one mailbox with its counts
// Statuses - some mailboxes with their counts (NOTIFY's STATUS, RFC 5465),
// answered as List: those that are gone are left out.
struct Statuses { std::vector<std::string> mailboxes; };
struct Open { std::string mailbox; };    // SELECT/EXAMINE: the mailbox and its messages
struct Create { std::string mailbox; std::string special_use; };
struct Delete { std::string mailbox; };
struct Rename { std::string from, to; };
struct Subscribe { std::string mailbox; bool subscribe = true; };
// Append - messages, one or more (MULTIAPPEND, RFC 3502), all stored or
// none; each with its flags and keywords set, internaldate 0: now.
struct Append {
  struct Message {
    std::string octets;
    std::uint32_t flags = 0;
    std::vector<std::string> keywords;
    std::int64_t internaldate = 0;
  };
  std::string mailbox;
  std::vector<Message> messages;
};
// Changes - of the open mailbox since a MODSEQ: messages changed or added
// after it, and UIDs expunged after it (RFC 7162).
struct Changes { std::int64_t mailbox_id = 0; std::uint64_t since = 0; };
// Read - what FETCH needs of some messages: each one's stored structure
// and/or octets (the whole message, prefix included).
struct Read {
  std::int64_t mailbox_id = 0;
  std::vector<std::uint32_t> uids;
  bool structure = false;
  bool octets = false;
  // The answer stops once what it read passes this many octets (one
  // message at least), holding fewer messages than uids; 0: no bound.
  std::uint64_t max_octets = 0;
};
struct StoreFlags {
  enum class Change { add, remove, replace };
  std::int64_t mailbox_id = 0;
  std::vector<std::uint32_t> uids;
  Change change = Change::replace;
  std::uint32_t flags = 0;
  std::vector<std::string> keywords;
  std::optional<std::uint64_t> unchanged_since;  // RFC 7162 3.1.3
};
// Copy - COPY or MOVE (RFC 6851) to a mailbox by name.
struct Copy {
  std::int64_t mailbox_id = 0;
  std::vector<std::uint32_t> uids;
  std::string to;
  bool move = false;
};
// Expunge - the \Deleted messages (of uids, when given: UID EXPUNGE).
struct Expunge {
  std::int64_t mailbox_id = 0;
  std::optional<std::vector<std::uint32_t>> uids;
};
struct Quota {};  // the user's storage limit and use (RFC 9208)
// TextSearch - a BODY or TEXT key from the full-text index.
struct TextSearch {
  std::int64_t mailbox_id = 0;
  std::string query;
  bool body_only = false;  // BODY: not the header values
};

// GetMetadata - the annotations (RFC 5464) of a mailbox, or of the server
// when it is "", named (lower case), and those below them.
struct GetMetadata {
  std::string mailbox;
  std::vector<std::string> names;
};
// SetMetadata - set (a value) or remove (none) annotations, all or none;
// refused when the user would hold more than max_entries.
struct SetMetadata {
  std::string mailbox;
  std::vector<std::pair<std::string, std::optional<std::string>>> entries;
  std::uint32_t max_entries = 0;
};

// Acl - a mailbox's access list, its owner and this user's rights
// (GETACL, MYRIGHTS, LISTRIGHTS: RFC 4314 3).
struct Acl { std::string mailbox; };
// SetAcl - SETACL (rights: "+..." adds, "-..." removes, else replaces) and
// DELETEACL (none); the user needs the 'a' right.
struct SetAcl {
  std::string mailbox;
  std::string identifier;  // lower case address, or "anyone"
  std::optional<std::string> rights;
};

}  // namespace request

using Request = std::variant<request::List, request::Status, request::Open, request::Create, request::Delete,
                             request::Rename, request::Subscribe, request::Append, request::Changes,
                             request::Read, request::StoreFlags, request::Copy, request::Expunge, request::Quota,
                             request::TextSearch, request::GetMetadata, request::SetMetadata, request::Acl,
                             request::SetAcl, request::Statuses>;

namespace answer {

struct List {  // List, Statuses
  std::vector<MailboxInfo> mailboxes;  // by name
  std::vector<std::string> subscriptions;
};
struct Mailbox { MailboxInfo info; };                      // Status
struct Opened { MailboxInfo info; std::shared_ptr<const Listing> messages; };  // never null
struct Done {};                                            // Create, Delete, Rename, Subscribe
struct Appended {
  std::uint32_t uidvalidity = 0;
  std::uint32_t uid = 0;    // the first message's
  std::uint32_t count = 1;  // UIDs uid .. uid + count - 1
};
struct Changes {
  std::vector<MessageMeta> changed;   // by UID; new ones have UIDs above the view's
  std::vector<std::uint32_t> expunged;
  std::uint64_t highestmodseq = 0;
};
struct Message {
  std::uint32_t uid = 0;
  bool found = false;             // false: expunged meanwhile
  std::string structure;          // mime::encode form; "" when none is kept
  std::uint64_t prefix_size = 0;  // octets before the structure's offsets
  std::string octets;             // when asked
};
struct Read { std::vector<Message> messages; };
struct Stored {
  std::vector<MessageMeta> changed;
  std::vector<std::uint32_t> modified;  // refused by unchanged_since
};
struct Copied {
  std::uint32_t uidvalidity = 0;
  std::vector<std::uint32_t> from, to;  // pairs, in the order of from
};
struct Expunged { std::vector<std::uint32_t> uids; std::uint64_t highestmodseq = 0; };
struct Quota {
  std::uint64_t limit = 0;  // octets; 0: none
  std::uint64_t used = 0;
};
struct TextFound {
  std::vector<std::uint32_t> matches;    // UIDs, ascending
  std::vector<std::uint32_t> unindexed;  // UIDs the index does not hold, ascending
};

struct Metadata {
  std::vector<std::pair<std::string, std::string>> entries;  // by name
};
struct Acl {
  std::string owner;   // the owner's address
  std::string rights;  // this user's
  std::vector<std::pair<std::string, std::string>> entries;  // identifier, rights; the owner's not among them
};

}  // namespace answer

struct Answer {
  StoreError error = StoreError::none;
  std::string detail;  // for the log, never for the client
  std::variant<answer::Done, answer::List, answer::Mailbox, answer::Opened, answer::Appended, answer::Changes,
               answer::Read, answer::Stored, answer::Copied, answer::Expunged, answer::Quota,
               answer::TextFound, answer::Metadata, answer::Acl>
      value;
};

}  // namespace herald::imap
