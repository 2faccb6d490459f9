#include "base/env.h"

#include <algorithm>
#include <limits>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

namespace herald {

bool write_fd(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}
namespace {

namespace fs = std::filesystem;

Error os_error(const char* what, const fs::path& path, int err = errno) {
  return make_error(err == ENOENT ? Errc::not_found : Errc::io,
                    fmt::format("{} {}: {}", what, path.string(), std::strerror(err)));
}

class PosixFile final : public WritableFile {
 public:
  PosixFile(int fd, fs::path path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { (void)close(); }

  Status append(std::string_view data) override {
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return os_error("cannot write", path_);
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
  }
  Status sync() override {
    if (::fdatasync(fd_) != 0) return os_error("cannot sync", path_);
    return {};
  }
  Status close() override {
    if (fd_ < 0) return {};
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return os_error("cannot close", path_);
    return {};
  }

 private:
  int fd_;
  fs::path path_;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> new_writable_file(const fs::path& path) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) return os_error("cannot create", path);
    return std::unique_ptr<WritableFile>(std::make_unique<PosixFile>(fd, path));
  }

  Result<std::string> read_file(const fs::path& path) override {
    std::string out;
    if (auto st = append_file(path, out); !st) return st.error();
    return out;
  }

  Status append_file(const fs::path& path, std::string& out) override {
    return read_into(path, 0, std::numeric_limits<std::uint64_t>::max(), out);
  }

  Status append_range(const fs::path& path, std::uint64_t offset, std::uint64_t length, std::string& out) override {
    return read_into(path, offset, length, out);
  }

  // read_into - [offset, offset + length) of the file, clipped to the size
  // fstat gave; ending before that is an error (a file cut short meanwhile).
  static Status read_into(const fs::path& path, std::uint64_t offset, std::uint64_t length, std::string& out) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return os_error("cannot open", path);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      auto err = os_error("cannot stat", path);
      ::close(fd);
      return err;
    }
    const std::uint64_t file_size = static_cast<std::uint64_t>(st.st_size);
    const std::uint64_t from = std::min(offset, file_size);
    const std::size_t before = out.size(), size = static_cast<std::size_t>(std::min(length, file_size - from));
    out.resize(before + size);
    std::size_t got = 0;
    while (got < size) {
      ssize_t n = ::pread(fd, out.data() + before + got, size - got, static_cast<off_t>(from + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        auto err = n < 0 ? os_error("cannot read", path)
                         : make_error(Errc::io, fmt::format("{}: ends after {} of {} octets", path.string(), got, size));
        ::close(fd);
        out.resize(before);
        return err;
      }
      got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return {};
  }

  Status rename(const fs::path& from, const fs::path& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return os_error("cannot rename", from);
    return {};
  }

  Status remove(const fs::path& path) override {
    if (::unlink(path.c_str()) != 0) return os_error("cannot remove", path);
    return {};
  }

  Status create_dirs(const fs::path& dir) override {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error(Errc::io, fmt::format("cannot create {}: {}", dir.string(), ec.message()));
    return {};
  }

  Status sync_dir(const fs::path& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return os_error("cannot open", dir);
    bool ok = ::fsync(fd) == 0;
    int err = errno;
    ::close(fd);
    if (!ok) return os_error("cannot sync", dir, err);
    return {};
  }

  bool exists(const fs::path& path) override { return ::access(path.c_str(), F_OK) == 0; }

  Status touch(const fs::path& path) override {
    if (::utimensat(AT_FDCWD, path.c_str(), nullptr, 0) != 0) return os_error("cannot touch", path);
    return {};
  }

  Result<std::vector<Child>> children(const fs::path& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return os_error("cannot list", dir);
    std::vector<Child> out;
    const std::time_t now = std::time(nullptr);
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      struct stat st {};
      if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
      out.push_back({std::move(name), S_ISDIR(st.st_mode), static_cast<std::int64_t>(now - st.st_mtime)});
    }
    ::closedir(d);
    return out;
  }
};

}  // namespace

Env& Env::posix() {
  static PosixEnv* env = new PosixEnv;  // never destroyed: used until exit
  return *env;
}

}  // namespace herald
