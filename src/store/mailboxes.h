// store/mailboxes.h - what users keep: their mailboxes and the messages in
// them, in the model IMAP needs (POP3 reads the INBOX of it).
//
// One of the store's interfaces (see store.h); a backend implements it.
// Invariants:
// - UID, UIDNEXT, UIDVALIDITY and MODSEQ change only inside store
//   transactions; a UID is never reused within a UIDVALIDITY, and a name
//   never gets an earlier UIDVALIDITY back (RFC 9051 2.3.1.1).
// - Every change to a message (delivery, flags, expunge) takes the next
//   MODSEQ of its mailbox, and HIGHESTMODSEQ is the largest one given
//   (RFC 7162 3.1); an expunged UID is remembered with its MODSEQ, so a
//   client can learn what vanished since it last looked (RFC 7162 3.2.10).
// - Names are full paths with "/" between levels; "INBOX" is one name
//   whatever its case (RFC 9051 5.1). Every user has an INBOX.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "store/byte_range.h"

namespace herald::store {

// The name of the mailbox every user has and local delivery fills.
inline constexpr const char* kInbox = "INBOX";
// The hierarchy delimiter of mailbox names (RFC 9051 5.1.1).
inline constexpr char kHierarchyDelimiter = '/';

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
};

struct ExpungedRecord {
  std::int64_t uid = 0;
  std::int64_t modseq = 0;
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
  // store_flags - change flags and keywords of these messages; each one
  // changed takes the next MODSEQ. done gets the changed messages (on the
  // store's writer thread, once durable).
  virtual void store_flags(std::int64_t mailbox_id, std::vector<std::int64_t> uids, FlagChange change,
                           std::uint32_t flags, std::vector<std::string> keywords,
                           std::function<void(Result<std::vector<MessageRecord>>)> done) = 0;
  // expunge - remove these messages, remember their UIDs, and give their
  // space back to the user's quota; done runs on the store's writer thread
  // once durable.
  virtual void expunge(std::int64_t user_id, std::int64_t mailbox_id, std::vector<std::int64_t> uids,
                       std::function<void(Status)> done) = 0;

  // ---- POP3 ----------------------------------------------------------------
  // lock_maildrop - the user's maildrop for this session; null when another
  // session holds it.
  virtual Result<std::unique_ptr<MaildropLock>> lock_maildrop(std::int64_t user_id) = 0;
  // maildrop - the user's INBOX as POP3 sees it (RFC 1939): messages in UID
  // order, each with its size and unique id.
  virtual Result<Maildrop> maildrop(std::int64_t user_id) = 0;
};

}  // namespace herald::store
