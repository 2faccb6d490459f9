// base/result.h - errors as values across module interfaces.
//
// Environment failures (I/O, a missing row, a full disk) travel as Error with a
// classified code that the protocol edge maps to 4xx / -ERR / NO. Bugs are
// asserts; exceptions never cross a module interface (docs/ARCHITECTURE.md).
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace herald {

enum class Errc {
  not_found,   // no such row / file
  exists,      // unique key already present
  invalid,     // caller passed a value that fails validation
  io,          // the disk or the database failed: transient, retry later
  quota,       // a limit was reached
  denied,      // credentials or permission refused
  internal,    // should not happen; logged loudly
};

struct Error {
  Errc code = Errc::internal;
  std::string message;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { assert(!ok_); return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Error make_error(Errc code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace herald
