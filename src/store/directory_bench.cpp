// store/directory_bench.cpp - what the recipient lookup costs, with and
// without the directory cache, for directories of several sizes: the
// measurement behind store.directory_cache (run by `make bench`).
//
// For each directory size N it times Directory::lookup_address for random
// recipients spread over all N users (mostly misses once N exceeds the
// cache), and for a hot set of 100 recipients (hits), with the cache off
// and at its default size, and it reports the heap each cached entry takes.
// Usage: directory_bench [N ...]   (default 1000 100000)
#include <malloc.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "store/directory_cache.h"
#include "store/store.h"

namespace {

namespace fs = std::filesystem;
using herald::store::StoreOptions;

std::string address(std::size_t i) { return "user" + std::to_string(i) + "@example.test"; }

// fill - N users written straight into the schema in one transaction
// (through the store each would be a commit of its own).
void fill(const fs::path& dir, std::size_t n) {
  sqlite3* db = nullptr;
  sqlite3_open((dir / "herald.db").c_str(), &db);
  sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO users(address, password_hash, created) VALUES(?, 'x', 0)", -1, &st, nullptr);
  for (std::size_t i = 0; i < n; ++i) {
    std::string a = address(i);
    sqlite3_bind_text(st, 1, a.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_step(st);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(db);
}

std::unique_ptr<herald::store::Store> open(const fs::path& dir, std::size_t cache) {
  StoreOptions o;
  o.data_dir = dir;
  o.config_domains = {"example.test"};
  o.directory_cache = cache;
  auto s = herald::store::open(o);
  if (!s) {
    std::fprintf(stderr, "directory_bench: %s\n", s.error().message.c_str());
    std::exit(1);
  }
  return std::move(*s);
}

// per_lookup_us - the mean time of one lookup over `count` recipients drawn
// from the first `spread` users.
double per_lookup_us(herald::store::Store& s, std::size_t spread, std::size_t count) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<std::size_t> pick(0, spread - 1);
  std::vector<std::string> rcpts;
  for (std::size_t i = 0; i < count; ++i) rcpts.push_back(address(pick(rng)));
  for (std::size_t i = 0; i < std::min<std::size_t>(count, 1000); ++i) (void)s.directory().lookup_address(rcpts[i]);
  auto t0 = std::chrono::steady_clock::now();
  for (const auto& r : rcpts)
    if (!s.directory().lookup_address(r)->user) std::abort();
  auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::micro>(t1 - t0).count() / static_cast<double>(count);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::strtoull(argv[i], nullptr, 10));
  if (sizes.empty()) sizes = {1000, 100000};
  const std::size_t kCache = StoreOptions{}.directory_cache, kLookups = 50000;
  std::printf("| users | recipients | no cache us/lookup | cache %zu us/lookup |\n|---|---|---|---|\n", kCache);
  for (std::size_t n : sizes) {
    fs::path dir = fs::temp_directory_path() / ("herald-directory-bench-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    open(dir, 0).reset();  // the schema
    fill(dir, n);
    for (auto [label, spread] : {std::pair{"spread over all", n}, std::pair{"100 hot", std::size_t{100}}}) {
      auto plain = open(dir, 0);
      double off = per_lookup_us(*plain, spread, kLookups);
      plain.reset();
      auto cached = open(dir, kCache);
      double on = per_lookup_us(*cached, spread, kLookups);
      std::printf("| %zu | %s | %.2f | %.2f |\n", n, label, off, on);
    }
    fs::remove_all(dir);
  }
  // Heap per cached entry: a cache filled with kCache addresses of this
  // shape, less the same store before (the slots are allocated at open).
  fs::path dir = fs::temp_directory_path() / ("herald-directory-bench-mem-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  open(dir, 0).reset();
  fill(dir, kCache);
  auto s = open(dir, kCache);
  const auto before = mallinfo2().uordblks;
  for (std::size_t i = 0; i < kCache; ++i) (void)s->directory().lookup_address(address(i));
  const auto after = mallinfo2().uordblks;
  std::printf("\na cached entry: a slot of %zu bytes (allocated at open) and %.0f bytes of heap for these "
              "addresses (filling %zu slots)\n",
              herald::store::DirectoryCache::slot_bytes(), static_cast<double>(after - before) / static_cast<double>(kCache),
              kCache);
  s.reset();
  fs::remove_all(dir);
  return 0;
}
