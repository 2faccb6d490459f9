// imap/command_fuzz.cpp - any octets into the command reader, whole and
// sliced where the input says: no crash, the same commands and errors
// either way, memory within the limits.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "imap/command.h"
#include "imap/sequence.h"
#include "imap/utf7.h"

extern const std::vector<std::string> kFuzzSeeds;
const std::vector<std::string> kFuzzSeeds = {
    "a1 LOGIN {5}\r\nalice \"pass word\"\r\na2 SELECT INBOX\r\n",
    "a3 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.100>)\r\n",
    "a4 APPEND Sent (\\Seen) {3+}\r\nabc\r\na5 UID SEARCH CHARSET UTF-8 TEXT ~{2}\r\n\0x\r\n",
    "a6 LIST \"\" \"%\"\r\na7 CREATE &ZeVnLA-\r\n( ) {999999999999}\r\na8 NOOP\r\n",
    "a9 AUTHENTICATE PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\nb1 IDLE\r\nDONE\r\n",
};

namespace {

// run - every event the reader gives for data fed in pieces of `step`.
std::vector<std::string> run(const std::string& data, std::size_t step) {
  herald::imap::CommandLimits limits;
  limits.max_line = 256;
  limits.max_literal = 1024;
  limits.max_command = 2048;
  limits.max_depth = 8;
  limits.max_values = 64;
  herald::imap::CommandReader r(limits);
  std::vector<std::string> events;
  for (std::size_t at = 0; at < data.size();) {
    std::size_t n = std::min(step, data.size() - at);
    r.feed(std::string_view(data).substr(at, n));
    at += n;
    for (;;) {
      auto e = r.next();
      if (e == herald::imap::CommandReader::Event::need_more) {
        // Fed a few octets at a time, it holds at most a line (and the
        // tail of one it skips).
        if (step < 8 && r.buffered() > 256 + 1 + 32 + step) std::abort();
        break;
      }
      if (e == herald::imap::CommandReader::Event::command) {
        auto c = r.take_command();
        if (c.tag.empty() || c.name.empty()) std::abort();
        events.push_back("C " + c.tag + " " + c.name + " " + std::to_string(c.args.size()));
        if (c.name == "AUTHENTICATE" || c.name == "IDLE") r.expect_line();
        for (const auto& v : c.args)
          if (v.kind == herald::imap::Value::Kind::atom) (void)herald::imap::SequenceSet::parse(v.text);
          else if (v.is_string()) (void)herald::imap::utf7_decode(v.text);
      } else if (e == herald::imap::CommandReader::Event::line) {
        events.push_back("L " + r.take_line());
      } else if (e == herald::imap::CommandReader::Event::continuation) {
        events.push_back("+");
      } else {
        events.push_back("E " + r.error().tag + " " + r.error().text);
        if (r.error().fatal) return events;
      }
    }
  }
  return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  auto whole = run(input, input.size() + 1);
  auto sliced = run(input, 1 + size % 7);
  if (whole != sliced) {
    if (std::getenv("FUZZ_DEBUG")) {
      if (FILE* f = std::fopen("/tmp/fuzzcase", "wb")) {
        std::fwrite(data, 1, size, f);
        std::fclose(f);
      }
      std::fprintf(stderr, "\n--- whole:\n");
      for (auto& e : whole) std::fprintf(stderr, "%s\n", e.c_str());
      std::fprintf(stderr, "--- sliced by %zu:\n", 1 + size % 7);
      for (auto& e : sliced) std::fprintf(stderr, "%s\n", e.c_str());
    }
    std::abort();
  }
  return 0;
}
