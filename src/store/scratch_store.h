// store/scratch_store.h - a store in a fresh temporary directory, for the
// tests of the modules above the store; the directory goes with it.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "store/store.h"

namespace herald::store {

class ScratchStore {
 public:
  // name keeps concurrent test binaries apart; example.test is local.
  explicit ScratchStore(const std::string& name)
      : dir_(std::filesystem::temp_directory_path() / ("herald-" + name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(dir_);
    StoreOptions o;
    o.data_dir = dir_;
    o.config_domains = {"example.test"};
    auto s = open(o);
    if (!s) throw std::runtime_error("cannot open a store in " + dir_.string() + ": " + s.error().message);
    store_ = std::move(s.value());
  }
  ScratchStore(const ScratchStore&) = delete;
  ScratchStore& operator=(const ScratchStore&) = delete;
  ~ScratchStore() {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  const std::filesystem::path& dir() const { return dir_; }
  Store& operator*() { return *store_; }
  Store* operator->() { return store_.get(); }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

}  // namespace herald::store
