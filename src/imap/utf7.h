// imap/utf7.h - mailbox names in modified UTF-7 (RFC 3501 5.1.3), as
// IMAP4rev1 clients send and expect them; IMAP4rev2 and UTF8=ACCEPT
// clients use UTF-8 (RFC 9051 5.1, RFC 6855).
//
// The conversions are glibc's iconv ("UTF-7-IMAP"). It decodes leniently,
// so a name is taken only in the one form the RFC allows: one that does
// not come back unchanged from decoding and encoding again (printable
// ASCII in base64, a missing "-", padding bits) is refused.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace herald::imap {

// utf7_decode - the UTF-8 name; nullopt when malformed or not canonical.
std::optional<std::string> utf7_decode(std::string_view name);
// utf7_encode - the modified UTF-7 of a UTF-8 name; nullopt when it is
// not UTF-8.
std::optional<std::string> utf7_encode(std::string_view name);

}  // namespace herald::imap
