// store/sqlite_store.cpp - the embedded backend as one object: the
// concerns of store.h on one SqliteCore.
#include "store/sqlite_store.h"

namespace herald::store {
namespace {

class SqliteStore final : public Store {
 public:
  SqliteStore(const StoreOptions& options, Env& env)
      : core_(options, env), directory_(core_), mailboxes_(core_), queue_(core_), journal_(core_) {}

  ~SqliteStore() override { core_.stop(); }  // the writer's last callbacks still reach the concerns

  Status open() {
    if (auto st = core_.open(); !st) return st;
    return directory_.open();
  }

  Directory& directory() override { return directory_; }
  Mailboxes& mailboxes() override { return mailboxes_; }
  Queue& queue() override { return queue_; }
  Journal& journal() override { return journal_; }
  Status flush() override {
    return core_.write_sync([](Db&) {});
  }

 private:
  SqliteCore core_;  // first in, last out: the concerns below use it
  SqliteDirectory directory_;
  SqliteMailboxes mailboxes_;
  SqliteQueue queue_;
  SqliteJournal journal_;
};

}  // namespace

Result<std::unique_ptr<Store>> open(const StoreOptions& options) {
  auto s = std::make_unique<SqliteStore>(options, options.env ? *options.env : Env::posix());
  if (auto st = s->open(); !st) return st.error();
  return std::unique_ptr<Store>(std::move(s));
}

}  // namespace herald::store
