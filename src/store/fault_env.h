// store/fault_env.h - an Env for tests that fails writes, syncs and renames
// on request, shortens reads, and simulates a power loss: everything that
// was not synced is gone (LevelDB's db/fault_injection_test.cc is the model).
// Test-only, like scratch_store.h.
//
// The model, over a fresh temporary directory (root()) on the real file
// system (Env::posix()):
// - A file created through this Env is tracked: the octets written to it
//   and the octets synced (WritableFile::sync makes all written so far
//   synced). A rename moves the tracking with the name; a remove ends it.
// - Per directory, the names created in it since its last sync_dir: files
//   created (new_writable_file of an absent name), directories created
//   (create_dirs) and names renamed into it. sync_dir of the directory
//   makes them durable.
// - crash() truncates every tracked file to its synced size, then deletes
//   every name not yet durable in its directory (a directory with all it
//   holds); afterwards everything left counts as durable. An unsynced
//   rename thus loses the file outright instead of putting it back under
//   its old name: stricter than a real disk, and code that is durable here
//   does not depend on either outcome.
// - Removals are taken as durable at once (a removed file that came back
//   after a real crash would be garbage a sweep collects), and so is what
//   exists under root() before this Env touched it, or was made beside it
//   (SQLite's own files, which SQLite syncs itself).
// Call crash() with nothing open for writing through this Env (the store
// closed): a write after it is no longer tracked.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "base/env.h"

namespace herald::store {

class FaultEnv final : public Env {
 public:
  // name keeps concurrent test binaries apart.
  explicit FaultEnv(const std::string& name)
      : root_(std::filesystem::temp_directory_path() / ("herald-" + name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  FaultEnv(const FaultEnv&) = delete;
  FaultEnv& operator=(const FaultEnv&) = delete;
  ~FaultEnv() override {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  const std::filesystem::path& root() const { return root_; }

  // ---- faults ---------------------------------------------------------
  // fail_appends - the next n appends fail as on a full disk: half the
  // data is written, then Errc::io "no space left on device".
  void fail_appends(int n) { set(failing_appends_, n); }
  void fail_syncs(int n) { set(failing_syncs_, n); }  // WritableFile::sync
  void fail_sync_dirs(int n) { set(failing_sync_dirs_, n); }
  void fail_renames(int n) { set(failing_renames_, n); }
  // shorten_reads - reads of path return OK with its last `missing` octets
  // left out, as a faulty disk or a buggy file system might (0: whole).
  void shorten_reads(const std::filesystem::path& path, std::size_t missing) {
    std::lock_guard lk(mu_);
    if (missing == 0) short_reads_.erase(key(path));
    else short_reads_[key(path)] = missing;
  }
  // on_create - hook(path) runs before each new_writable_file, on the
  // caller's thread and outside this Env's lock: a test can hold a writer
  // there.
  void on_create(std::function<void(const std::filesystem::path&)> hook) {
    std::lock_guard lk(mu_);
    on_create_ = std::move(hook);
  }

  // crash - power loss: see the model above.
  void crash() {
    std::lock_guard lk(mu_);
    std::error_code ec;
    for (const auto& [path, state] : files_)
      if (std::filesystem::exists(path, ec)) std::filesystem::resize_file(path, state->synced);
    for (const auto& [dir, names] : unsynced_names_)
      for (const auto& name : names) std::filesystem::remove_all(dir / name, ec);
    files_.clear();
    unsynced_names_.clear();
  }

  // unsynced_part - what of path a crash now would take: "" when none of
  // it (its octets synced, its name and the names of the directories above
  // it, up to root(), synced in their directories).
  std::string unsynced_part(const std::filesystem::path& path) {
    std::lock_guard lk(mu_);
    auto p = key(path);
    if (auto f = files_.find(p); f != files_.end() && f->second->synced != f->second->written)
      return fmt::format("{}: {} of {} octets synced", p.string(), f->second->synced, f->second->written);
    for (; p != root_ && p.has_parent_path() && p != p.parent_path(); p = p.parent_path()) {
      auto d = unsynced_names_.find(p.parent_path());
      if (d != unsynced_names_.end() && d->second.count(p.filename().string()))
        return fmt::format("{}: its name in {} not synced", p.filename().string(), p.parent_path().string());
    }
    return "";
  }

  // ---- Env --------------------------------------------------------------
  Result<std::unique_ptr<WritableFile>> new_writable_file(const std::filesystem::path& path) override {
    std::function<void(const std::filesystem::path&)> hook;
    {
      std::lock_guard lk(mu_);
      hook = on_create_;
    }
    if (hook) hook(path);
    std::lock_guard lk(mu_);
    bool fresh = !base_.exists(path);
    auto file = base_.new_writable_file(path);
    if (!file) return file.error();
    auto state = std::make_shared<FileState>();
    files_[key(path)] = state;
    if (fresh) add_unsynced(path);
    return std::unique_ptr<WritableFile>(std::make_unique<File>(*this, std::move(*file), std::move(state)));
  }

  Result<std::string> read_file(const std::filesystem::path& path) override {
    std::string out;
    if (auto st = append_file(path, out); !st) return st.error();
    return out;
  }

  Status append_file(const std::filesystem::path& path, std::string& out) override {
    const std::size_t before = out.size();
    if (auto st = base_.append_file(path, out); !st) return st;
    std::lock_guard lk(mu_);
    if (auto s = short_reads_.find(key(path)); s != short_reads_.end())
      out.resize(out.size() - std::min(s->second, out.size() - before));
    return {};
  }

  Status append_range(const std::filesystem::path& path, std::uint64_t offset, std::uint64_t length,
                      std::string& out) override {
    const std::size_t before = out.size();
    if (auto st = base_.append_range(path, offset, length, out); !st) return st;
    std::lock_guard lk(mu_);
    if (auto s = short_reads_.find(key(path)); s != short_reads_.end())
      out.resize(out.size() - std::min(s->second, out.size() - before));
    return {};
  }

  Status rename(const std::filesystem::path& from, const std::filesystem::path& to) override {
    std::lock_guard lk(mu_);
    if (take(failing_renames_)) return make_error(Errc::io, fmt::format("cannot rename {}: injected", from.string()));
    if (auto st = base_.rename(from, to); !st) return st;
    auto f = files_.find(key(from));
    if (f != files_.end()) {
      auto state = f->second;
      files_.erase(f);
      files_[key(to)] = std::move(state);
    } else {
      files_.erase(key(to));  // replaced by an untracked file
    }
    drop_unsynced(from);
    add_unsynced(to);
    return {};
  }

  Status remove(const std::filesystem::path& path) override {
    std::lock_guard lk(mu_);
    if (auto st = base_.remove(path); !st) return st;
    files_.erase(key(path));
    drop_unsynced(path);
    return {};
  }

  Status create_dirs(const std::filesystem::path& dir) override {
    std::lock_guard lk(mu_);
    std::vector<std::filesystem::path> fresh;
    for (auto p = key(dir); !p.empty() && !base_.exists(p); p = p.parent_path()) fresh.push_back(p);
    if (auto st = base_.create_dirs(dir); !st) return st;
    for (const auto& p : fresh) add_unsynced(p);
    return {};
  }

  Status sync_dir(const std::filesystem::path& dir) override {
    std::lock_guard lk(mu_);
    if (take(failing_sync_dirs_))
      return make_error(Errc::io, fmt::format("cannot sync {}: injected", dir.string()));
    if (auto st = base_.sync_dir(dir); !st) return st;
    unsynced_names_.erase(key(dir));
    return {};
  }

  bool exists(const std::filesystem::path& path) override { return base_.exists(path); }
  Status touch(const std::filesystem::path& path) override { return base_.touch(path); }
  Result<std::vector<Child>> children(const std::filesystem::path& dir) override { return base_.children(dir); }

 private:
  struct FileState {
    std::uint64_t written = 0;
    std::uint64_t synced = 0;
  };

  class File final : public WritableFile {
   public:
    File(FaultEnv& env, std::unique_ptr<WritableFile> base, std::shared_ptr<FileState> state)
        : env_(env), base_(std::move(base)), state_(std::move(state)) {}

    Status append(std::string_view data) override {
      std::lock_guard lk(env_.mu_);
      if (take(env_.failing_appends_)) {
        std::string_view half = data.substr(0, data.size() / 2);
        if (base_->append(half)) state_->written += half.size();
        return make_error(Errc::io, "cannot write: no space left on device (injected)");
      }
      if (auto st = base_->append(data); !st) return st;
      state_->written += data.size();
      return {};
    }
    Status sync() override {
      std::lock_guard lk(env_.mu_);
      if (take(env_.failing_syncs_)) return make_error(Errc::io, "cannot sync: injected");
      if (auto st = base_->sync(); !st) return st;
      state_->synced = state_->written;
      return {};
    }
    Status close() override { return base_->close(); }

   private:
    FaultEnv& env_;
    std::unique_ptr<WritableFile> base_;
    std::shared_ptr<FileState> state_;  // shared with FaultEnv::files_, which renames move
  };

  // key - one spelling per path: normal, without a trailing separator.
  static std::filesystem::path key(const std::filesystem::path& p) {
    auto n = p.lexically_normal();
    if (!n.has_filename() && n.has_parent_path()) n = n.parent_path();
    return n;
  }
  // REQUIRES: mu_ held (for these three).
  static bool take(int& counter) {
    if (counter <= 0) return false;
    --counter;
    return true;
  }
  void add_unsynced(const std::filesystem::path& path) {
    auto p = key(path);
    unsynced_names_[p.parent_path()].insert(p.filename().string());
  }
  void drop_unsynced(const std::filesystem::path& path) {
    auto p = key(path);
    if (auto d = unsynced_names_.find(p.parent_path()); d != unsynced_names_.end()) d->second.erase(p.filename().string());
  }
  void set(int& counter, int n) {
    std::lock_guard lk(mu_);
    counter = n;
  }

  Env& base_ = Env::posix();
  const std::filesystem::path root_;
  std::mutex mu_;  // guards what follows; held across the base Env's calls, which are short
  std::map<std::filesystem::path, std::shared_ptr<FileState>> files_;
  std::map<std::filesystem::path, std::set<std::string>> unsynced_names_;
  std::map<std::filesystem::path, std::size_t> short_reads_;
  std::function<void(const std::filesystem::path&)> on_create_;
  int failing_appends_ = 0, failing_syncs_ = 0, failing_sync_dirs_ = 0, failing_renames_ = 0;
};

}  // namespace herald::store
