// spool/sender.h - which envelope senders a local user may give (the
// seeds' verification exit): for files in a spool and for `herald
// sendmail`, whose submitter the kernel names (the file's owner).
//
//   any     - as given (the spool's writers are trusted);
//   verify  - the user's own address (login@ the spool's sender domain or
//             a local domain), or one sender_map gives them; else refused;
//   replace - rewritten to the user's own address (SMTPNOTE built the
//             sender from the TSO user id).
// Trusted users (sendmail.trusted_users) may give any sender under every
// policy, the null sender too.
//
// Pure: the submitter's login and groups are looked up by the caller.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace herald::spool {

enum class SenderMode { any, verify, replace };

// SenderRule - "user:address", "user:@domain", "@group:address".
struct SenderRule {
  std::string who;      // a login, or "@group"
  std::string address;  // lower case; "@domain" for any address there
};

struct SenderPolicy {
  SenderMode mode = SenderMode::any;
  std::vector<std::string> trusted;       // logins
  std::vector<SenderRule> rules;
  std::vector<std::string> own_domains;   // login@ these is the user's own (the first makes replace's)
};

// Submitter - who wrote the file, as the kernel says.
struct Submitter {
  std::string login;
  std::vector<std::string> groups;  // names, primary and supplementary
};

// parse_sender_policy - the config's words; Errc::invalid naming a bad
// sender_map entry.
Result<SenderPolicy> parse_sender_policy(std::string_view mode, const std::vector<std::string>& trusted,
                                         const std::vector<std::string>& map, std::vector<std::string> own_domains);

// own_address - the submitter's own address: login@ the first own domain.
std::string own_address(const SenderPolicy& p, const Submitter& s);

// may_use - may s give address (""= the null sender) as its sender?
bool may_use(const SenderPolicy& p, const Submitter& s, std::string_view address);

}  // namespace herald::spool
