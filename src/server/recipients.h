// server/recipients.h - the answers to smtp::Session's recipient and sender
// checks: local users and aliases from the store, other domains only for
// clients allowed to relay (the full relay policy comes with the policy
// module), and submission's "verify mail from user" (RFC 6409 6.1).
//
// Blocking: an answer may read the store (a directory cache miss, a user
// with a quota), so the driver calls resolve_recipient and check_sender on
// the blocking pool (server/offload.h), never on an I/O thread; it first
// asks resolve_recipient_cached, which answers from memory or not at all,
// so a recipient in the cache costs no trip to the pool. The functions keep no state:
// what a connection remembers (the targets of each recipient) stays with
// the connection, on its own thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "queue/alias_expander.h"
#include "queue/intake.h"
#include "smtp/session.h"
#include "store/directory.h"

namespace herald::server {

// RecipientDirectory - what the checks read.
struct RecipientDirectory {
  queue::AliasExpander& expander;
  store::Directory& directory;
  // RFC 5321 4.5.1: "postmaster" alone, and postmaster@ a local domain that
  // has no such user or alias, go to this address (server.postmaster);
  // "" = the user added first (Directory::first_user).
  std::string postmaster;
};

// Resolution - a recipient check's answer and where the recipient goes.
struct Resolution {
  smtp::RcptDecision decision;
  std::vector<queue::Target> targets;  // set when decision.status is ok
};

// resolve_recipient - the answer to Action::check_recipient. may_relay: the
// client may send to other domains (authenticated, RFC 6409 6.1, or in
// smtp.relay_networks where relaying needs no AUTH).
Resolution resolve_recipient(const RecipientDirectory& dir, const smtp::RecipientCheck& check, bool may_relay);
// resolve_recipient_cached - the same answer from the directory's memory
// only (never blocks: the I/O thread asks it first), or nullopt when it
// takes a read, which resolve_recipient then does on the blocking pool.
std::optional<Resolution> resolve_recipient_cached(const RecipientDirectory& dir, const smtp::RecipientCheck& check,
                                                   bool may_relay);

// TargetMap - where each recipient accepted at RCPT goes, by its
// lower-cased address, kept by the driver until the message begins.
using TargetMap = std::map<std::string, std::vector<queue::Target>>;

// transaction_envelope - the session's transaction as intake takes it:
// sender, HELO name, protocol, the DSN parameters and each recipient with
// its targets. The caller adds where the message came from.
queue::Envelope transaction_envelope(smtp::Session& session, const TargetMap& targets);

// check_sender - the answer to Action::check_sender: the user's own
// address, an alias that delivers to them, or anything with send-as
// rights; temp_fail when the store could not be read.
smtp::SenderVerdict check_sender(store::Directory& directory, const smtp::SenderCheck& check);

}  // namespace herald::server
