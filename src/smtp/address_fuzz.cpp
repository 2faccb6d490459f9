// smtp/address_fuzz.cpp - any bytes as a MAIL/RCPT argument: no crash, and
// an accepted mailbox always satisfies the grammar and the length limits, and
// is well-formed UTF-8.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/text.h"
#include "smtp/address.h"

extern const std::vector<std::string> kFuzzSeeds;
const std::vector<std::string> kFuzzSeeds = {
    "<a@b.c>", "<>", "<@x,@y:u@d.e> SIZE=10 BODY=8BITMIME", "<\"a b\\\"c\"@[IPv6:::1]>", "<postmaster>",
    "<\xc3\xa9@\xc3\xa9.test> SMTPUTF8", "<;sleep 1;>", "<a@b.c",
    "<\xff\xfe\x9b" "31m@example.org> SMTPUTF8", "<\xc0\xaf@example.org> SMTPUTF8",
};

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view arg(reinterpret_cast<const char*>(data), size);
  herald::smtp::AddressLimits limits;
  auto p = herald::smtp::parse_path(arg, true, limits);
  if (p.error == herald::smtp::PathError::none && !p.null_path && !p.mailbox.domain.empty()) {
    bool utf8 = false;
    for (const auto& param : p.params) utf8 = utf8 || param.keyword == "SMTPUTF8";
    if (!herald::smtp::valid_local_part(p.mailbox.local_part, utf8)) std::abort();
    if (!herald::smtp::valid_domain(p.mailbox.domain, utf8)) std::abort();
    if (p.mailbox.local_part.size() > limits.max_local_part) std::abort();
    if (p.mailbox.domain.size() > limits.max_domain) std::abort();
    if (!herald::valid_utf8(p.mailbox.str())) std::abort();
  }
  return 0;
}
