// server/mailbox_watch.h - which selected mailboxes changed, told by the
// store after each commit (store::Mailboxes::set_change_listener), so that
// an IMAP session learns of another's changes without asking the store
// (docs/ARCHITECTURE.md "IMAP").
//
// A session watches the mailbox it has selected. Before each command ends
// it compares the highest MODSEQ the watch has seen with its own: equal,
// and the store is not asked at all. A session in IDLE is woken (on its
// own thread) when its mailbox changes: a delivery, another session's
// STORE or EXPUNGE, an APPEND - no session polls. A session with NOTIFY
// (RFC 5465) also watches every mailbox its event groups name and waits
// on all of them between commands.
//
// The watch also keeps the mailbox's listing, the newest a session had
// exactly (imap/listing.h): SELECT starts from it and reads only what
// changed since, and sessions that reach the same MODSEQ take it instead
// of keeping their own copy, so an idle session holds no listing of its own.
//
// Thread safety: changed() runs on the store's writer thread, the rest on
// I/O threads; one mutex guards the table. Only mailboxes some session
// watches have an entry; the rest of the changes cost a lookup.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include "imap/listing.h"
#include "store/mailboxes.h"

namespace herald::server {

// WakeSignal - one waiting session's (IDLE, NOTIFY): a timer on its
// thread that a change cancels (the session's wait then ends early).
struct WakeSignal {
  explicit WakeSignal(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  std::atomic<bool> woken{false};
};

class MailboxWatch {
 public:
  // Watched - held while a mailbox is selected.
  class Watched {
   public:
    // modseq - the highest MODSEQ a change told since the watch began (0: none).
    std::uint64_t modseq() const { return modseq_.load(std::memory_order_acquire); }

    // Shared - a listing and the MODSEQ it is complete up to.
    struct Shared {
      std::shared_ptr<const imap::Listing> listing;  // null: none yet
      std::uint64_t modseq = 0;
    };
    Shared shared() {
      std::lock_guard lk(mu_);
      return shared_;
    }
    // share - a session's listing, exactly the mailbox at modseq: kept if
    // newer than the one kept; the one to hold is returned (the kept one
    // when it is at the same MODSEQ, so that both share it).
    std::shared_ptr<const imap::Listing> share(std::shared_ptr<const imap::Listing> listing, std::uint64_t modseq) {
      std::lock_guard lk(mu_);
      if (shared_.listing && shared_.modseq == modseq) return shared_.listing;
      if (!shared_.listing || shared_.modseq < modseq) shared_ = {listing, modseq};
      return listing;
    }

   private:
    friend class MailboxWatch;
    std::atomic<std::uint64_t> modseq_{0};
    std::mutex mu_;
    std::vector<std::weak_ptr<WakeSignal>> idle_;  // sessions waiting on it (IDLE, NOTIFY)
    Shared shared_;
  };

  // watch - begin watching a mailbox; call before reading it, so that no
  // change committed after the read goes unseen.
  std::shared_ptr<Watched> watch(std::int64_t mailbox_id) {
    std::lock_guard lk(mu_);
    auto& slot = table_[mailbox_id];
    auto w = slot.lock();
    if (!w) {
      w = std::make_shared<Watched>();
      slot = w;
    }
    if (++watches_ % 1024 == 0) std::erase_if(table_, [](const auto& e) { return e.second.expired(); });
    return w;
  }

  // idle - wake signal until it fires once (a session in IDLE, or NOTIFY's
  // wait between commands, which registers on every mailbox it names).
  static void idle(Watched& w, const std::shared_ptr<WakeSignal>& signal) {
    std::lock_guard lk(w.mu_);
    // Once per session: a session that waits again is registered already.
    std::erase_if(w.idle_, [&](const auto& s) { return s.expired() || s.lock() == signal; });
    w.idle_.push_back(signal);
  }

  // watched - the mailboxes some session watches, with the MODSEQ each
  // watch has seen.
  std::vector<store::MailboxChange> watched() {
    std::lock_guard lk(mu_);
    std::vector<store::MailboxChange> out;
    for (const auto& [id, weak] : table_)
      if (auto w = weak.lock()) out.push_back({id, static_cast<std::int64_t>(w->modseq())});
    return out;
  }

  // changed - the store's listener: after a commit, on its writer thread.
  void changed(const std::vector<store::MailboxChange>& changes) {
    for (const auto& c : changes) {
      std::shared_ptr<Watched> w;
      {
        std::lock_guard lk(mu_);
        auto it = table_.find(c.mailbox_id);
        if (it == table_.end()) continue;
        w = it->second.lock();
      }
      if (!w) continue;
      auto modseq = static_cast<std::uint64_t>(c.highestmodseq);
      std::uint64_t seen = w->modseq_.load();
      while (seen < modseq && !w->modseq_.compare_exchange_weak(seen, modseq)) {}
      std::vector<std::weak_ptr<WakeSignal>> idle;
      {
        std::lock_guard lk(w->mu_);
        idle.swap(w->idle_);
      }
      for (auto& weak : idle) {
        auto s = weak.lock();
        if (!s) continue;
        s->woken = true;
        // The timer belongs to the session's thread: cancelled there.
        asio::post(s->timer.get_executor(), [s] { s->timer.cancel(); });
      }
    }
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::int64_t, std::weak_ptr<Watched>> table_;
  std::uint64_t watches_ = 0;
};

}  // namespace herald::server
