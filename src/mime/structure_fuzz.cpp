// mime/structure_fuzz.cpp - any octets into the structure parser, whole
// and sliced where the input says: no crash, the same structure either
// way, every part's offsets ordered and inside its parent's body.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "mime/structure.h"

extern const std::vector<std::string> kFuzzSeeds;
const std::vector<std::string> kFuzzSeeds = {
    "Subject: a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    "--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\ny\r\n--b--\r\nepi\r\n",
    "Content-Type: multipart/digest; boundary=\"d d\"\n\n--d d\n\nSubject: z\n\nq\n--d d--\n",
    "Content-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\n--x\r\n\r\n--x--",
};

namespace {

herald::mime::StructureLimits limits() {
  herald::mime::StructureLimits l;
  l.max_depth = 6;
  l.max_parts = 40;
  l.header_max = 512;
  return l;
}

std::string describe(const herald::mime::Part& p) {
  std::string s = p.type + "/" + p.subtype + " " + std::to_string(p.header_offset) + " " +
                  std::to_string(p.body_offset) + " " + std::to_string(p.end_offset) + " " + std::to_string(p.lines);
  for (const auto& c : p.parts) s += "(" + describe(c) + ")";
  return s;
}

void check(const herald::mime::Part& p, std::uint64_t from, std::uint64_t to) {
  if (p.header_offset < from || p.header_offset > p.body_offset || p.body_offset > p.end_offset || p.end_offset > to)
    std::abort();
  for (const auto& c : p.parts) check(c, p.body_offset, p.end_offset);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  herald::mime::StructureParser whole(limits());
  whole.feed(input);
  herald::mime::Part a = whole.finish();
  herald::mime::StructureParser sliced(limits());
  const std::size_t step = 1 + size % 5;
  for (std::size_t at = 0; at < size; at += step) sliced.feed(input.substr(at, step));
  herald::mime::Part b = sliced.finish();
  if (describe(a) != describe(b)) std::abort();
  if (std::getenv("FUZZ_DEBUG"))
    if (FILE* f = std::fopen("/tmp/fuzzcase", "wb")) {
      std::fwrite(data, 1, size, f);
      std::fclose(f);
    }
  check(a, 0, size);
  return 0;
}
