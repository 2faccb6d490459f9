// mime/text_fuzz.cpp - any octets as a message into the text extractor:
// no crash, at most max_octets out with exactly one separator, the same
// text read whole or through a reader, and HTML of any octets decoded.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "mime/text.h"

extern const std::vector<std::string> kFuzzSeeds;
const std::vector<std::string> kFuzzSeeds = {
    "Subject: =?UTF-8?B?w6l0w6k=?=\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nna=EFve\r\n"
    "--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPHA+aGk8L3A+JmFtcDsmIzIzMzs=\r\n--b--\r\n",
    "Content-Type: text/html\r\n\r\n<script>x</script><!-- c -->&#x10FFFF;&#55296;&nbsp;<style",
    "Content-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nbody\r\n",
};

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  herald::mime::StructureLimits limits;
  limits.max_depth = 6;
  limits.max_parts = 40;
  const herald::mime::Part structure = herald::mime::structure_of(input, limits);
  const std::size_t max = 16 + size % 300;
  const std::string whole = herald::mime::indexable_text(input, structure, max);
  if (whole.size() > max || std::count(whole.begin(), whole.end(), herald::mime::kTextSeparator) != 1) std::abort();
  herald::mime::ReadRange read = [input](std::uint64_t offset, std::uint64_t length) -> std::optional<std::string> {
    if (offset > input.size()) std::abort();  // never past the message
    return std::string(input.substr(offset, length));
  };
  auto read_through = herald::mime::indexable_text(read, structure, max);
  if (!read_through || *read_through != whole) std::abort();
  (void)herald::mime::html_text(input);
  return 0;
}
