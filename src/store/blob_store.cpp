#include "store/blob_store.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include <fmt/format.h>
#include <openssl/evp.h>

namespace herald::store {

namespace fs = std::filesystem;

namespace {

std::string hex(const unsigned char* md, unsigned int len) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return hex(md, len);
}

struct BlobWriter::Digest {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
};

BlobWriter::BlobWriter(Env& env, fs::path tmp, std::unique_ptr<WritableFile> file)
    : env_(env), tmp_(std::move(tmp)), file_(std::move(file)), digest_(std::make_unique<Digest>()) {
  if (!digest_->ctx || EVP_DigestInit_ex(digest_->ctx.get(), EVP_sha256(), nullptr) != 1)
    error_ = make_error(Errc::io, "SHA-256 unavailable");
}

BlobWriter::~BlobWriter() {
  if (!committed_.empty()) return;
  file_.reset();
  (void)env_.remove(tmp_);
}

Status BlobWriter::append(std::string_view octets) {
  if (!error_) return error_;
  if (!committed_.empty()) return error_ = make_error(Errc::io, "append to a committed blob");
  if (auto st = file_->append(octets); !st) return error_ = st;
  EVP_DigestUpdate(digest_->ctx.get(), octets.data(), octets.size());
  size_ += octets.size();
  return {};
}

Status BlobWriter::read(std::uint64_t offset, std::uint64_t length, std::string& out) {
  if (!error_) return error_;
  if (!committed_.empty()) return make_error(Errc::io, "read of a committed blob's writer");
  // Every append went to the file by write(2): the file holds it all.
  offset = std::min(offset, size_);
  return env_.append_range(tmp_, offset, std::min(length, size_ - offset), out);
}

// open - blobs/, tmp/ and the 256 fan-out directories, their names synced
// (in data_dir, in blobs/): a body's file is durable once its own
// directory is synced, which put() does, only if every directory above it
// is durable too. Done at each start, so a data directory from before, or
// a start that failed half way, is made whole.
Status BlobStore::open() {
  static constexpr char kHex[] = "0123456789abcdef";
  if (auto st = env_.create_dirs(dir_ / "tmp"); !st) return st;
  for (int i = 0; i < 256; ++i)
    if (auto st = env_.create_dirs(dir_ / std::string{kHex[i >> 4], kHex[i & 15]}); !st) return st;
  if (auto st = env_.sync_dir(dir_); !st) return st;
  return env_.sync_dir(dir_.parent_path());
}

Result<std::string> BlobStore::put(std::string_view body) {
  auto writer = create();
  if (!writer) return writer.error();
  if (auto st = (*writer)->append(body); !st) return st.error();
  return commit(**writer);
}

Result<std::unique_ptr<BlobWriter>> BlobStore::create() {
  static std::atomic<std::uint64_t> sequence{0};
  fs::path tmp = dir_ / "tmp" / fmt::format("{}.{}", ::getpid(), sequence.fetch_add(1));
  auto file = env_.new_writable_file(tmp);
  if (!file) return file.error();
  return std::unique_ptr<BlobWriter>(new BlobWriter(env_, std::move(tmp), std::move(*file)));
}

Result<std::string> BlobStore::commit(BlobWriter& w) {
  if (!w.committed_.empty()) return w.committed_;
  if (!w.error_) return w.error_.error();
  // write -> sync -> rename -> sync dir: a crash leaves a complete file or
  // none, never a torn one under the final name.
  Status st = w.file_->sync();
  if (Status closed = w.file_->close(); st && !closed) st = closed;
  if (!st) return (w.error_ = st).error();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(w.digest_->ctx.get(), md, &len);
  std::string sha = hex(md, len);
  fs::path final_path = path_of(sha);
  // Content-addressed: already there. The touch keeps a sweep (which spares
  // young files) from taking it before this commit references it. The
  // directory is synced again: the file may be there from a put that
  // failed at that sync, and this commit will count on its name.
  if (env_.exists(final_path) && env_.touch(final_path)) {
    (void)env_.remove(w.tmp_);
  } else if (st = env_.rename(w.tmp_, final_path); !st) {
    return (w.error_ = st).error();
  }
  if (st = env_.sync_dir(final_path.parent_path()); !st) return (w.error_ = st).error();
  w.committed_ = sha;
  return sha;
}

Status BlobStore::append_to(const std::string& sha, std::uint64_t size, std::string& out) {
  const std::size_t before = out.size();
  if (auto st = env_.append_file(path_of(sha), out); !st) return st;
  if (out.size() - before != size) {
    std::size_t got = out.size() - before;
    out.resize(before);
    return make_error(Errc::io, fmt::format("blob {}: {} octets where {} were stored", sha, got, size));
  }
  return {};
}

Status BlobStore::append_range(const std::string& sha, std::uint64_t size, ByteRange range, std::string& out) {
  const std::uint64_t from = std::min(range.offset, size);
  const std::uint64_t want = std::min(range.length, size - from);
  const std::size_t before = out.size();
  if (auto st = env_.append_range(path_of(sha), from, want, out); !st) return st;
  if (out.size() - before != want) {
    std::size_t got = out.size() - before;
    out.resize(before);
    return make_error(Errc::io, fmt::format("blob {}: {} octets at {} where {} were stored", sha, got, from, want));
  }
  return {};
}

void BlobStore::remove(const std::vector<std::string>& shas) {
  for (const auto& sha : shas) (void)env_.remove(path_of(sha));
}

Result<std::size_t> BlobStore::sweep(const std::function<bool(const std::string&)>& is_referenced,
                                     std::int64_t min_age_s) {
  std::size_t removed = 0;
  auto tmp = env_.children(dir_ / "tmp");
  if (!tmp) return tmp.error();
  for (const auto& c : *tmp)
    if (!c.is_dir && c.age_s >= min_age_s && env_.remove(dir_ / "tmp" / c.name)) ++removed;
  auto fanout = env_.children(dir_);
  if (!fanout) return fanout.error();
  for (const auto& d : *fanout) {
    if (!d.is_dir || d.name == "tmp") continue;
    auto files = env_.children(dir_ / d.name);
    if (!files) return files.error();
    for (const auto& f : *files) {
      if (f.is_dir || f.age_s < min_age_s || is_referenced(f.name)) continue;
      if (env_.remove(dir_ / d.name / f.name)) ++removed;
    }
  }
  return removed;
}

}  // namespace herald::store
