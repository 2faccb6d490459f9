// store/directory.h - who and what is local: domains, users, aliases.
//
// One of the store's interfaces (see store.h); a backend implements it.
// Addresses are compared lower-case; every lookup is by an index.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace herald::store {

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

// AddressUser - what a recipient check needs of a user; no credentials,
// so a cached lookup holds none.
struct AddressUser {
  std::int64_t id = 0;
  std::string address;
  std::uint64_t quota_bytes = 0;  // 0 = unlimited
  std::uint64_t used_bytes = 0;
  bool send_as_any = false;
};

// ListQuery - one page of domains, users or aliases, in key order: the
// domain name or the address as stored (lower-case, compared octet by octet).
// A page is read from the key's index, starting after `after`: a caller
// continues a list by passing the last key it was given.
struct ListQuery {
  std::string after;        // only keys after this one ("" = from the first)
  std::string prefix;       // only keys that start with this
  std::string domain;       // users and aliases: only addresses @domain
  std::size_t limit = 100;  // at most this many records
};

struct AddressEntry {
  bool local_domain = false;               // false: nothing else is looked up
  std::vector<std::string> alias_targets;  // non-empty: the address is an alias
  std::optional<AddressUser> user;         // the user of that address, if any
};

class Directory {
 public:
  virtual ~Directory() = default;

  // Domains. Config domains are always local and cannot be deleted.
  virtual Status add_domain(const std::string& name) = 0;
  virtual Status del_domain(const std::string& name) = 0;
  // list_domains - config and store domains merged in name order (ListQuery::domain is ignored).
  virtual Result<std::vector<DomainRecord>> list_domains(const ListQuery& query) = 0;
  virtual Result<bool> is_local_domain(const std::string& name) = 0;

  // Users. add_user creates the user's INBOX in the same transaction.
  virtual Status add_user(const std::string& address, const Credentials& credentials,
                          std::uint64_t quota_bytes) = 0;
  virtual Status del_user(const std::string& address) = 0;
  virtual Status set_password(const std::string& address, const Credentials& credentials) = 0;
  virtual Status set_send_as_any(const std::string& address, bool allowed) = 0;
  // set_quota - the user's quota in octets (0 = unlimited), from the next
  // delivery, APPEND or COPY on; what the user keeps stays, even past it.
  // Every process's lookup_address sees it at once (a directory change).
  // Errc::not_found when there is no such user. Not pure so that test
  // doubles written before it still build; the default refuses.
  virtual Status set_quota(const std::string& address, std::uint64_t quota_bytes) {
    (void)quota_bytes;
    return make_error(Errc::denied, address + ": this directory cannot change quotas");
  }
  virtual Result<std::optional<UserRecord>> find_user(const std::string& address) = 0;
  // list_users - a page of users, read from the address index. A domain
  // filter is checked on that index's entries: its cost follows the users
  // read past, not those printed (there is no index by domain).
  virtual Result<std::vector<UserRecord>> list_users(const ListQuery& query) = 0;
  // first_user - the address of the user added first (nullopt: no users),
  // whom postmaster mail reaches when nobody else is set to.
  virtual Result<std::optional<std::string>> first_user() = 0;

  // Aliases: one alias, many targets (local or remote).
  virtual Status add_alias(const std::string& address, const std::vector<std::string>& targets) = 0;
  virtual Status del_alias(const std::string& address) = 0;
  virtual Result<std::vector<std::string>> alias_targets(const std::string& address) = 0;
  // list_aliases - a page of aliases (limit counts aliases, each with all
  // its targets), read from the primary key as list_users reads users.
  virtual Result<std::vector<AliasRecord>> list_aliases(const ListQuery& query) = 0;

  // lookup_address - whether the address's domain is local and, if it is,
  // what the address is there: an alias (its targets), a user, both (an alias
  // naming itself) or neither; read in one snapshot. The recipient check at
  // RCPT asks this once per address instead of three times. Answers may come
  // from a cache that every change to the directory, by any process,
  // invalidates; a user with a quota is always read afresh (its used_bytes),
  // one without may show an older used_bytes.
  virtual Result<AddressEntry> lookup_address(const std::string& address) = 0;
  // cached_address - what lookup_address would answer, from memory only:
  // nullopt when that takes a read (never blocks, so an I/O thread may ask;
  // a user with a quota is never in memory).
  virtual std::optional<AddressEntry> cached_address(const std::string& address) = 0;
};

}  // namespace herald::store
