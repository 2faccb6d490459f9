// store/mailboxes.h - what users keep: their mailboxes and the messages in
// them (POP3 reads the INBOX; IMAP will read them all).
//
// One of the store's interfaces (see store.h); a backend implements it.
// Invariants: UID, UIDNEXT and HIGHESTMODSEQ change only inside store
// transactions; a UID is never reused within a UIDVALIDITY (RFC 3501 2.3.1.1).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"

namespace herald::store {

// The name of the mailbox every user has and local delivery fills
// (RFC 3501 5.1: case-insensitive, always present).
inline constexpr const char* kInbox = "INBOX";

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

  // lock_maildrop - the user's maildrop for this session; null when another
  // session holds it.
  virtual Result<std::unique_ptr<MaildropLock>> lock_maildrop(std::int64_t user_id) = 0;

  // maildrop - the user's INBOX as POP3 sees it (RFC 1939): messages in
  // UID order, each with its size and unique id.
  virtual Result<Maildrop> maildrop(std::int64_t user_id) = 0;
  // read_message - the whole message as delivered to that mailbox (its
  // trace prefix, then the body). A body that cannot be read whole is an
  // error, never a shorter message.
  virtual Result<std::string> read_message(std::int64_t mailbox_id, std::int64_t uid) = 0;
  // expunge - remove these messages and give their space back to the
  // user's quota; done runs on the store's writer thread once durable.
  virtual void expunge(std::int64_t user_id, std::int64_t mailbox_id, std::vector<std::int64_t> uids,
                       std::function<void(Status)> done) = 0;
};

}  // namespace herald::store
