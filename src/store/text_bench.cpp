// store/text_bench.cpp - what the full-text index (schema 12) costs: the
// text extraction intake does per message (mime::indexable_text, off the
// writer), the writer's share of a delivery (SqliteCore::index_text in the
// transaction: FTS5 insert, deflate, source row), the delivery's commit
// with and without the index, the search (Mailboxes::search_text) of a
// rare and a common word in a mailbox of N messages, and the database's
// size per message. Not a test; run by hand:
//   text_bench [N]   (default 10000 messages of 2-20 KiB)
#include <sqlite3.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "base/base64.h"
#include "mime/structure.h"
#include "mime/text.h"
#include "store/schema.h"
#include "store/sqlite_store.h"
#include "store/store.h"
#include "store/test_rules.h"

namespace {

namespace fs = std::filesystem;
using namespace herald;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// Words - a vocabulary of 20,000 made-up words drawn with a Zipf-like law,
// as text is.
class Words {
 public:
  explicit Words(std::mt19937& rng) : rng_(rng) {
    static constexpr char kLetters[] = "etaoinshrdlucmfwypvbgkjqxz";
    std::geometric_distribution<int> len(0.25);
    for (int i = 0; i < 20000; ++i) {
      std::string w;
      int n = 2 + std::min(len(rng), 10);
      for (int k = 0; k < n; ++k) w += kLetters[std::min<int>(25, std::geometric_distribution<int>(0.15)(rng))];
      words_.push_back(w);
    }
  }
  const std::string& rank(std::size_t r) const { return words_[r]; }
  const std::string& next() {
    // rank r with probability ~ 1/r
    double u = std::uniform_real_distribution<double>(0, std::log(double(words_.size())))(rng_);
    auto r = static_cast<std::size_t>(std::exp(u)) - 1;
    return words_[std::min(r, words_.size() - 1)];
  }
  std::string text(std::size_t octets) {
    std::string out;
    std::size_t line = 0;
    while (out.size() < octets) {
      const std::string& w = next();
      out += w;
      line += w.size() + 1;
      if (line > 70) {
        out += "\r\n";
        line = 0;
      } else {
        out += ' ';
      }
    }
    return out;
  }

 private:
  std::mt19937& rng_;
  std::vector<std::string> words_;
};

std::string wrap76(const std::string& b64) {
  std::string out;
  for (std::size_t at = 0; at < b64.size(); at += 76) out += b64.substr(at, 76) + "\r\n";
  return out;
}

// message - one of four shapes: plain 7bit, base64 text, quoted-printable
// text with an HTML alternative, plain text with a base64 attachment.
std::string message(Words& words, std::mt19937& rng, std::size_t i, const std::string& extra) {
  const std::size_t size = std::uniform_int_distribution<std::size_t>(2048, 20480)(rng);
  std::string head = "From: Sender " + std::to_string(i % 97) + " <s" + std::to_string(i % 97) +
                     "@example.com>\r\nTo: alice@example.test\r\nSubject: " + words.text(40) +
                     "\r\nMessage-ID: <" + std::to_string(i) + "@bench>\r\nMIME-Version: 1.0\r\n";
  std::string body = words.text(size) + extra + "\r\n";
  switch (i % 4) {
    case 0:
      return head + "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + body;
    case 1:
      return head + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
             wrap76(base64_encode(body));
    case 2:
      return head + "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n"
                    "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
             body.substr(0, body.size() / 2) + "\r\n--b\r\nContent-Type: text/html\r\n\r\n<html><body><p>" +
             body.substr(0, body.size() / 2) + "</p></body></html>\r\n--b--\r\n";
    default:
      return head + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n" +
             body.substr(0, body.size() / 2) +
             "\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
             wrap76(base64_encode(body.substr(body.size() / 2))) + "--b--\r\n";
  }
}

std::unique_ptr<store::Store> open_store(const fs::path& dir) {
  store::StoreOptions o;
  o.data_dir = dir;
  o.config_domains = {"example.test"};
  auto s = store::open(o);
  if (!s) {
    std::fprintf(stderr, "text_bench: %s\n", s.error().message.c_str());
    std::exit(1);
  }
  return std::move(*s);
}

struct Fixture {
  std::vector<std::string> bodies, texts;
};

// deliver - every message through Queue::commit_message, up to 512 in
// flight so the group commit batches them as under load; the seconds.
double deliver(store::Store& st, const Fixture& f, bool with_text) {
  std::mutex mu;
  std::condition_variable cv;
  std::size_t in_flight = 0, failed = 0;
  auto t = Clock::now();
  for (std::size_t i = 0; i < f.bodies.size(); ++i) {
    {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return in_flight < 512; });
      ++in_flight;
    }
    store::IncomingMessage m;
    m.queue_id = "B" + std::to_string(i);
    m.body = f.bodies[i];
    if (with_text) m.text = f.texts[i];
    m.rules = &store::kTestRules;
    m.deliveries.push_back(store::local("alice@example.test"));
    st.queue().commit_message(std::move(m), [&](Result<store::CommitResult> r) {
      std::lock_guard lk(mu);
      if (!r) ++failed;
      --in_flight;
      cv.notify_all();
    });
  }
  std::unique_lock lk(mu);
  cv.wait(lk, [&] { return in_flight == 0; });
  if (failed) std::fprintf(stderr, "text_bench: %zu commits failed\n", failed);
  return ms_since(t) / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 10000;
  std::mt19937 rng(42);
  Words words(rng);
  Fixture f;
  std::uint64_t octets = 0;
  for (std::size_t i = 0; i < n; ++i) {
    // Three messages hold a rare word; "pending" the store's own word.
    std::string extra = (i == n / 3 || i == n / 2 || i == n - 5) ? " zyzzogeton" : "";
    f.bodies.push_back(message(words, rng, i, extra));
    octets += f.bodies.back().size();
  }
  std::printf("%zu messages, %.1f KiB on average\n", n, double(octets) / double(n) / 1024);

  // 1. Extraction (intake, on the I/O threads): structure + text.
  {
    std::vector<mime::Part> parts;
    for (const auto& b : f.bodies) parts.push_back(mime::structure_of(b));
    auto t = Clock::now();
    std::uint64_t text_octets = 0;
    for (std::size_t i = 0; i < n; ++i) {
      f.texts.push_back(mime::indexable_text(f.bodies[i], parts[i]));
      text_octets += f.texts.back().size();
    }
    std::printf("extract: indexable_text %.1f us/message (%.1f KiB of text on average)\n", ms_since(t) * 1000 / double(n),
                double(text_octets) / double(n) / 1024);
  }

  const fs::path base = fs::temp_directory_path() / ("herald-text-bench-" + std::to_string(::getpid()));
  // 2. The writer's share: index_text alone, in transactions of 512 as the
  //    group commit makes them, on a database of the schema.
  {
    fs::remove_all(base);
    fs::create_directories(base);
    { auto st = open_store(base); }  // the schema
    store::Db db;
    db.open((base / "herald.db").string());
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = FULL");
    double index_ms = 0, pack_ms = 0;
    for (std::size_t from = 0; from < n; from += 512) {
      std::vector<std::string> packed;
      auto p = Clock::now();
      for (std::size_t i = from; i < std::min(n, from + 512); ++i) packed.push_back(store::SqliteCore::pack_text(f.texts[i]));
      pack_ms += ms_since(p);
      db.exec("BEGIN");
      auto t = Clock::now();
      for (std::size_t i = from; i < std::min(n, from + 512); ++i)
        store::SqliteCore::index_text(db, static_cast<std::int64_t>(i + 1), f.texts[i], packed[i - from]);
      index_ms += ms_since(t);
      db.exec("COMMIT");
    }
    std::printf("caller: pack_text %.1f us/message (deflate, before the transaction)\n", pack_ms * 1000 / double(n));
    std::printf("writer: index_text %.1f us/message (inside the transaction, commit excluded)\n",
                index_ms * 1000 / double(n));
    fs::remove_all(base);
  }

  // 3. Deliveries through the store, without the index and with it.
  double plain_s = 0, indexed_s = 0;
  std::uintmax_t plain_size = 0;
  for (bool with_text : {false, true}) {
    fs::remove_all(base);
    auto st = open_store(base);
    if (!st->directory().add_user("alice@example.test", {"h", ""}, 0)) return 1;
    double s = deliver(*st, f, with_text);
    (with_text ? indexed_s : plain_s) = s;
    st.reset();
    std::uintmax_t size = 0;
    for (auto& e : fs::recursive_directory_iterator(base))
      if (e.is_regular_file()) size += e.file_size();
    if (!with_text) plain_size = size;
    std::printf("deliver %s: %.2f s, %.1f us/message; data_dir %.1f MiB\n", with_text ? "indexed  " : "unindexed",
                s, s * 1e6 / double(n), double(size) / 1048576.0);
    if (with_text)
      std::printf("index: +%.1f us/message at delivery, +%.2f KiB/message on disk\n",
                  (indexed_s - plain_s) * 1e6 / double(n), (double(size) - double(plain_size)) / double(n) / 1024);
  }

  // 4. Search, in the last store (indexed): the INBOX of n messages.
  {
    auto st = open_store(base);
    auto user = *st->directory().find_user("alice@example.test");
    auto inbox = (*st->mailboxes().find_mailbox(user->id, store::kInbox))->id;
    auto time = [&](const char* what, const std::string& q, bool body_only) {
      (void)st->mailboxes().search_text(inbox, q, body_only);  // warm
      const int rounds = 20;
      std::size_t hits = 0;
      auto t = Clock::now();
      for (int r = 0; r < rounds; ++r) {
        auto found = st->mailboxes().search_text(inbox, q, body_only);
        if (!found) {
          std::fprintf(stderr, "text_bench: %s\n", found.error().message.c_str());
          std::exit(1);
        }
        hits = found->matches.size();
      }
      std::printf("search %-28s %8.3f ms  (%zu matches)\n", what, ms_since(t) / rounds, hits);
    };
    time("BODY rare word", "zyzzogeton", true);
    time("TEXT rare word", "zyzzogeton", false);
    time("BODY rare prefix", "zyzzo", true);
    time("BODY common word", words.rank(0), true);
    time("BODY 10th word", words.rank(9), true);
    time("BODY two-word phrase", words.rank(0) + " " + words.rank(1), true);
  }
  fs::remove_all(base);
  return 0;
}
