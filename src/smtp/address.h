// smtp/address.h - RFC 5321 paths and mailboxes, parsed as data.
//
// Address text from the wire is never code: a mailbox is accepted only when
// it matches the RFC 5321 4.1.2 grammar (Dot-string or Quoted-string local
// part, domain or address literal), so "<;sleep 1;>" is a syntax error, never
// a string handed to anything that might interpret it.
// RFC 6531 3.3: with SMTPUTF8, UTF-8 is allowed in local parts and domains,
// and only well-formed UTF-8 (RFC 3629): a path with any other 8-bit octets
// is refused as bad_utf8 before its grammar is looked at, so malformed bytes
// never reach a header, the log or the store.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace herald::smtp {

struct Mailbox {
  std::string local_part;  // as sent (quoted local parts keep their quotes)
  std::string domain;      // lower-cased
  // str - "local@domain"; "postmaster" alone (RFC 5321 4.1.1.3) and the
  // null path have no "@".
  std::string str() const { return domain.empty() ? local_part : local_part + "@" + domain; }
  bool empty() const { return local_part.empty() && domain.empty(); }
};

struct PathParam {
  std::string keyword;  // upper-cased
  std::string value;    // empty when the parameter has no "=value"
};

enum class PathError {
  none,
  syntax,       // not a path at all
  too_long,     // RFC 5321 4.5.3.1.1/2: local part > 64 or domain > 255 octets
  needs_utf8,   // 8-bit octets without the SMTPUTF8 parameter (RFC 6531 3.4)
  bad_utf8,     // 8-bit octets that are not well-formed UTF-8 (RFC 6531 3.3, RFC 3629 4)
};

struct ParsedPath {
  PathError error = PathError::none;
  bool null_path = false;  // "<>"
  Mailbox mailbox;
  std::vector<PathParam> params;
};

struct AddressLimits {
  std::size_t max_local_part = 64;
  std::size_t max_domain = 255;
};

// parse_path - the argument of "MAIL FROM:" / "RCPT TO:" after the colon:
// "<path> [SP params]". Source routes ("<@a,@b:user@d>") are accepted and
// dropped (RFC 5321 4.1.2, C). A bare "postmaster" is returned with an empty
// domain. smtputf8: the transaction's MAIL carried SMTPUTF8 (RFC 6531 3.4), so
// UTF-8 is allowed in this path even without its own parameter.
ParsedPath parse_path(std::string_view arg, bool allow_null, const AddressLimits& limits,
                      bool smtputf8 = false);

// has_8bit - true when any octet is outside ASCII.
bool has_8bit(std::string_view s);

bool valid_domain(std::string_view domain, bool utf8);
bool valid_local_part(std::string_view local, bool utf8);

}  // namespace herald::smtp
