// mime/header.h - reading and trimming a message's header section
// (RFC 5322 3.4, 3.6.3): the addresses of an address list, and a header
// without its Bcc fields; what `sendmail -t` and the spool's plain messages
// need to find their recipients.
//
// Hand-written: the grammar needed is small (quoted strings, comments,
// angle addresses, groups) and GMime, the one C library that parses it,
// brings GLib along.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald::mime {

// AddressEntry - one element of an address list, as IMAP's ENVELOPE
// gives it (RFC 9051 7.5.2): a mailbox with its display name (quotes
// removed), obsolete route, local part (as written) and domain; or the
// start (with its name) or end of a group.
struct AddressEntry {
  enum class Kind { mailbox, group_start, group_end };
  Kind kind = Kind::mailbox;
  std::string name;
  std::string route;  // "@a,@b" (RFC 5322 4.4 obs-route); "" = none
  std::string local;
  std::string domain;
};

// address_entries - an address list read as its elements, comments
// dropped; malformed entries come back as written (a mailbox without a
// domain), for the caller to refuse or show.
std::vector<AddressEntry> address_entries(std::string_view value);

// addresses - the addr-specs of an address list ("A <a@x>, b@y (B),
// team: c@z;"): display names, comments and group names dropped, obsolete
// routes ("<@relay:a@x>") too. Malformed entries come back as written, for
// the address parser to refuse.
std::vector<std::string> addresses(std::string_view value);

// field_values - the unfolded values of every field called name in the
// header section head (which ends at the first empty line, or with head).
std::vector<std::string> field_values(std::string_view head, std::string_view name);

// without_fields - the message with every field called name (and its
// continuation lines) taken out of its header section; the body untouched.
std::string without_fields(std::string_view message, std::string_view name);

// parameters - the parameters of a structured field's value ("text/plain;
// charset=utf-8; format=flowed"): names lower-cased, values unquoted
// (RFC 2045 5.1), "name*=charset''%XX" decoded to its octets under the
// plain name (RFC 2231 4; continuations are rare and not joined).
std::vector<std::pair<std::string, std::string>> parameters(std::string_view value);
// parameter - one of them by name (any case), "" when absent.
std::string parameter(std::string_view value, std::string_view name);

// decode_encoded_words - an unstructured header value with its RFC 2047
// encoded-words in UTF-8, US-ASCII or ISO-8859-1 decoded to UTF-8 (the
// white space between adjacent words dropped, 6.2); others left as written.
std::string decode_encoded_words(std::string_view value);

}  // namespace herald::mime
