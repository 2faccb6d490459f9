// base/fuzz_driver.cpp - runs a libFuzzer target without libFuzzer.
//
// With clang and -DHERALD_FUZZ=ON the *_fuzz.cpp targets link against
// libFuzzer for coverage-guided fuzzing. Otherwise (GCC, `make test`) they
// link this driver, which feeds the target its seed inputs and a fixed,
// seeded stream of mutations of them, so every ctest run replays the same
// hostile inputs and a crash or sanitizer report fails the suite.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
// Each target lists seeds: typical and edge-case sessions of its protocol.
extern const std::vector<std::string> kFuzzSeeds;

int main(int argc, char** argv) {
  long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 20000;
  std::mt19937_64 rng(0x4e52414c44ull);  // fixed: the same inputs every run
  for (const auto& s : kFuzzSeeds)
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  static constexpr std::string_view kTokens[] = {
      "\r\n", "\n", "\r", ".", "\r\n.\r\n", "\n.\n", std::string_view("\0", 1), "MAIL FROM:<", "RCPT TO:<",
      "DATA\r\n", "BDAT ", " LAST\r\n", "@", ">", "<", "\xff", "\xc3\xa9", "99999999999999999999", "RETR 1\r\n",
      "TOP 1 ", "DELE ", "AUTH PLAIN ", "STARTTLS\r\n", "=", "*\r\n"};
  for (long i = 0; i < iterations; ++i) {
    std::string input = kFuzzSeeds[rng() % kFuzzSeeds.size()];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      std::size_t pos = input.empty() ? 0 : rng() % (input.size() + 1);
      switch (rng() % 5) {
        case 0: if (!input.empty() && pos < input.size()) input.erase(pos, 1 + rng() % 16); break;
        case 1: input.insert(pos, 1, static_cast<char>(rng() & 0xff)); break;
        case 2: input.insert(pos, kTokens[rng() % (sizeof kTokens / sizeof *kTokens)]); break;
        case 3: input.insert(pos, std::string(1 + rng() % 2000, static_cast<char>('a' + rng() % 26))); break;
        case 4: if (!input.empty() && pos < input.size()) input[pos] = static_cast<char>(rng() & 0xff); break;
      }
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
  }
  std::printf("fuzz driver: %zu seeds, %ld mutated inputs, no crash\n", kFuzzSeeds.size(), iterations);
  return 0;
}
