// mime/transfer.h - a part's body with its Content-Transfer-Encoding undone
// (RFC 2045 6): what IMAP's BINARY[section] returns (RFC 3516) and what a
// text index reads.
//
// Lenient as readers must be (RFC 2045 6.7, 6.8): base64 skips line breaks
// and characters outside its alphabet and stops at padding; quoted-printable
// keeps a malformed "=" as it is and drops the spaces before a line break.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace herald::mime {

// decode_transfer - the body decoded; encoding in lower case as the
// structure keeps it ("7bit", "8bit", "binary", "base64",
// "quoted-printable"); nullopt for an encoding this does not know.
std::optional<std::string> decode_transfer(std::string_view body, std::string_view encoding);

}  // namespace herald::mime
