// server/offload.h - the drivers' two ways off an I/O thread and back, one
// implementation each (docs/ARCHITECTURE.md "Threads and executors"):
//
// - offload(pool, fn): run blocking work (a store read, argon2) on the
//   blocking pool, then resume the coroutine on its own executor;
// - on_completion<R>(start): bridge a callback API (the store's group
//   commit calls back on its writer thread) into an awaitable that resumes
//   on the caller's executor.
//
// Either way the connection's state is touched by one thread at a time: its
// own, or, while its coroutine waits for offload(), the pool thread the
// work was handed to (server/driver.h Lookups); each hand-over is a post,
// which orders the memory as a lock would.
#pragma once

#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>

namespace herald::server {

// offload - fn() on pool; its result back on the calling coroutine's
// executor. An exception from fn is rethrown there too, never unwinding
// the connection's frame on a pool thread.
template <typename Fn>
asio::awaitable<std::invoke_result_t<Fn&>> offload(asio::thread_pool& pool, Fn fn) {
  using R = std::invoke_result_t<Fn&>;
  auto home = co_await asio::this_coro::executor;
  co_await asio::post(pool, asio::use_awaitable);
  std::exception_ptr failure;
  std::optional<std::conditional_t<std::is_void_v<R>, bool, R>> result;
  try {
    if constexpr (std::is_void_v<R>) {
      fn();
      result = true;
    } else {
      result.emplace(fn());
    }
  } catch (...) {
    failure = std::current_exception();
  }
  co_await asio::post(home, asio::use_awaitable);
  if (failure) std::rethrow_exception(failure);
  if constexpr (!std::is_void_v<R>) co_return std::move(*result);
}

// on_completion - start(callback) begins an operation that calls
// callback(R) once, from any thread; the awaitable yields that R on the
// caller's executor.
template <typename R, typename Start>
asio::awaitable<R> on_completion(Start start) {
  return asio::async_initiate<const asio::use_awaitable_t<>, void(R)>(
      [start = std::move(start)](auto handler) mutable {
        auto executor = asio::get_associated_executor(handler);
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        start([h, executor](R result) {
          asio::post(executor, [h, result = std::move(result)]() mutable { (*h)(std::move(result)); });
        });
      },
      asio::use_awaitable);
}

}  // namespace herald::server
