// store/blob_store.h - message bodies too large to keep in the database, as
// content-addressed files under data_dir/blobs/ (blobs/ab/abcdef...).
//
// A body is written to blobs/tmp, synced, renamed to its final name and
// the directory synced, all before the transaction that references it
// commits: a crash leaves a complete file or none under the final name,
// and at worst a file nothing references, which sweep() collects at the
// next start. A body that arrives piece by piece is written to blobs/tmp
// as it comes (BlobWriter) and named by commit() the same way. All file
// I/O goes through an Env, so tests inject faults.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/result.h"
#include "store/body_spool.h"
#include "store/byte_range.h"

namespace herald::store {

// BlobWriter - a body written to blobs/tmp as it arrives, its SHA-256
// computed on the way; BlobStore::commit gives it its final name.
class BlobWriter final : public BodySpool {
 public:
  ~BlobWriter() override;  // an uncommitted file is removed
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  Status append(std::string_view octets) override;
  std::uint64_t size() const override { return size_; }
  Status read(std::uint64_t offset, std::uint64_t length, std::string& out) override;

 private:
  friend class BlobStore;
  struct Digest;  // the running SHA-256 (an OpenSSL context)
  BlobWriter(Env& env, std::filesystem::path tmp, std::unique_ptr<WritableFile> file);

  Env& env_;
  std::filesystem::path tmp_;
  std::unique_ptr<WritableFile> file_;
  std::unique_ptr<Digest> digest_;
  std::uint64_t size_ = 0;
  Status error_;            // the first failure; every later call returns it
  std::string committed_;   // the content address, once commit() named the file
};

class BlobStore {
 public:
  BlobStore(Env& env, std::filesystem::path dir) : env_(env), dir_(std::move(dir)) {}

  // open - creates blobs/, blobs/tmp and the fan-out directories, and
  // syncs their names, so that put() has only the body's own name to sync.
  Status open();

  // put - store body durably; its name (the SHA-256 in hex). A body already
  // there is shared, and touched so that no sweep takes it meanwhile.
  Result<std::string> put(std::string_view body);
  // create - a new body to write piece by piece, in blobs/tmp.
  Result<std::unique_ptr<BlobWriter>> create();
  // commit - make what writer holds durable under its content address, as
  // put() does; its name. Once named, a second call returns the name.
  Result<std::string> commit(BlobWriter& writer);
  // append_to - the body named sha, appended to out; an error unless all
  // `size` octets were read (never a shorter message served as whole).
  Status append_to(const std::string& sha, std::uint64_t size, std::string& out);
  // append_range - the part range of the body named sha (size octets in
  // all), appended to out; an error unless all of that part was read.
  Status append_range(const std::string& sha, std::uint64_t size, ByteRange range, std::string& out);
  // remove - the files of bodies whose last reference is gone.
  void remove(const std::vector<std::string>& shas);

  // sweep - at start: empty blobs/tmp, and remove body files that are not
  // referenced (is_referenced(sha) false) and older than min_age_s, so a
  // file whose commit is under way in another process stays. The count
  // of files removed.
  Result<std::size_t> sweep(const std::function<bool(const std::string&)>& is_referenced, std::int64_t min_age_s);

  std::filesystem::path path_of(const std::string& sha) const { return dir_ / sha.substr(0, 2) / sha; }

 private:
  Env& env_;
  std::filesystem::path dir_;
};

// sha256_hex - the content address of a body.
std::string sha256_hex(std::string_view data);

}  // namespace herald::store
