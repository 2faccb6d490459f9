// base/base64.h - strict base64 (RFC 4648 4) for SASL and MIME headers.
//
// The decoder accepts exactly what the encoder produces: the standard
// alphabet, a length that is a multiple of 4, "=" padding only at the end and
// only as much as needed, and zero pad bits (RFC 4648 3.5, the "MAY reject"
// made a "does"). No whitespace, no line breaks, no URL-safe alphabet. So
// base64_encode(*base64_decode(s)) == s whenever the decode succeeds, and
// one text has one meaning: a peer cannot smuggle data in pad bits.
//
// Hand-written rather than OpenSSL's EVP_DecodeBlock: that one skips leading
// and trailing whitespace, returns padding as extra zero bytes instead of
// reporting it, and does not reject misplaced "=" or non-zero pad bits.
// Line-wrapped MIME bodies (RFC 2045 6.8) need a lenient decoder of their own.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace herald {

// base64_encode - data as padded base64 with the standard alphabet, one line.
std::string base64_encode(std::string_view data);

// base64_decode - strict inverse of base64_encode; nullopt on anything else.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace herald
