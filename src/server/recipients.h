// server/recipients.h - the answers to smtp::Session's recipient and sender
// checks: local users and aliases from the store, other domains only for
// clients allowed to relay (the full relay policy comes with the policy
// module), and submission's "verify mail from user" (RFC 6409 6.1).
//
// Blocking: every answer reads the store (the directory cache answers most
// recipient lookups from memory, but a miss or a user with a quota is a
// database read), so the driver calls these on the blocking pool
// (server/offload.h), never on an I/O thread. The functions keep no state:
// what a connection remembers (the targets of each recipient) stays with
// the connection, on its own thread.
#pragma once

#include <string>
#include <vector>

#include "queue/alias_expander.h"
#include "smtp/session.h"
#include "store/directory.h"

namespace herald::server {

// RecipientDirectory - what the checks read.
struct RecipientDirectory {
  queue::AliasExpander& expander;
  store::Directory& directory;
  // RFC 5321 4.5.1: "postmaster" without a domain is this host's postmaster,
  // postmaster@postmaster_domain.
  std::string postmaster_domain;
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

// check_sender - the answer to Action::check_sender: the user's own
// address, an alias that delivers to them, or anything with send-as
// rights; temp_fail when the store could not be read.
smtp::SenderVerdict check_sender(store::Directory& directory, const smtp::SenderCheck& check);

}  // namespace herald::server
