#include "server/imapd.h"

#include <algorithm>

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include "base/log.h"
#include "base/text.h"
#include "mime/structure.h"
#include "mime/text.h"
#include "server/driver.h"
#include "server/mailbox_access.h"
#include "server/offload.h"

namespace herald::server {
namespace {

// The session's flag bits are the store's (imap/mailstore.h).
constexpr bool same_bit(std::uint32_t a, std::uint32_t b) { return a == b; }
static_assert(same_bit(imap::kSeen, store::kSeen) && same_bit(imap::kAnswered, store::kAnswered) &&
              same_bit(imap::kFlagged, store::kFlagged) && same_bit(imap::kDeleted, store::kDeleted) &&
              same_bit(imap::kDraft, store::kDraft));

imap::StoreError error_kind(const Error& e) {
  switch (e.code) {
    case Errc::not_found: return imap::StoreError::nonexistent;
    case Errc::exists: return imap::StoreError::exists;
    case Errc::denied: return imap::StoreError::denied;
    case Errc::invalid: return imap::StoreError::invalid;
    case Errc::quota: return imap::StoreError::over_quota;
    case Errc::io:
    case Errc::internal: break;
  }
  return imap::StoreError::temporary;
}

imap::Answer failed(const Error& e) {
  imap::Answer a;
  a.error = error_kind(e);
  a.detail = e.message;
  return a;
}

imap::MessageMeta meta_of(const store::MessageRecord& r) {
  imap::MessageMeta m;
  m.uid = static_cast<std::uint32_t>(r.uid);
  m.flags = r.flags;
  m.keywords = r.keywords;
  m.modseq = static_cast<std::uint64_t>(r.modseq);
  m.size = r.size;
  m.internaldate = r.internaldate;
  m.savedate = r.savedate;
  m.emailid = r.message;
  return m;
}

imap::answer::Changes changes_of(const store::Mailboxes::Changes& changes) {
  imap::answer::Changes out;
  out.changed.reserve(changes.messages.size());
  for (const auto& m : changes.messages) out.changed.push_back(meta_of(m));
  for (const auto& e : changes.expunged) out.expunged.push_back(static_cast<std::uint32_t>(e.uid));
  out.highestmodseq = static_cast<std::uint64_t>(changes.highestmodseq);
  return out;
}

imap::MailboxInfo info_of(const store::MailboxRecord& r) {
  imap::MailboxInfo i;
  i.id = r.id;
  i.name = r.name;
  i.special_use = r.special_use;
  i.selectable = r.selectable;
  i.uidvalidity = static_cast<std::uint32_t>(r.uidvalidity);
  i.uidnext = static_cast<std::uint32_t>(r.uidnext);
  i.highestmodseq = static_cast<std::uint64_t>(r.highestmodseq);
  i.messages = static_cast<std::uint32_t>(r.messages);
  return i;
}

// with_counts - STATUS's UNSEEN, DELETED and SIZE of a mailbox.
Status add_counts(store::Mailboxes& mailboxes, imap::MailboxInfo& info) {
  if (!info.selectable) return {};
  auto counts = mailboxes.mailbox_counts(info.id);
  if (!counts) return counts.error();
  info.messages = static_cast<std::uint32_t>(counts->messages);
  info.unseen = static_cast<std::uint32_t>(counts->unseen);
  info.deleted = static_cast<std::uint32_t>(counts->deleted);
  info.size = counts->size;
  return {};
}

imap::Answer done_or(const Status& st) {
  if (!st) return failed(st.error());
  return imap::Answer{};
}

// Blocking requests, on the blocking pool: reads, and the rare writes the
// store offers only as write_sync (CREATE, DELETE, RENAME, SUBSCRIBE).
struct Blocking {
  store::Mailboxes& mailboxes;
  store::Directory& directory;
  std::int64_t user;
  const std::string& address;
  std::string lower = to_lower(address);  // as access lists name the user

  static bool is_shared(const std::string& name) { return imap::in_other_users(name); }
  static imap::Answer not_yours() { return failed(make_error(Errc::denied, "another user's mailbox")); }
  static imap::MailboxInfo noselect(std::string name) {
    imap::MailboxInfo i;
    i.name = std::move(name);
    i.selectable = false;
    return i;
  }

  imap::Answer operator()(const imap::request::List& r) {
    auto list = mailboxes.list_mailboxes(user);
    if (!list) return failed(list.error());
    auto subs = mailboxes.subscriptions(user);
    if (!subs) return failed(subs.error());
    imap::answer::List out;
    for (const auto& m : *list) {
      out.mailboxes.push_back(info_of(m));
      if (r.counts)
        if (auto st = add_counts(mailboxes, out.mailboxes.back()); !st) return failed(st.error());
    }
    // Other users' mailboxes this user may see ('l': RFC 4314 4), below
    // \Noselect parents for the namespace and each owner.
    auto shared = mailboxes.shared_with(user, lower);
    if (!shared) return failed(shared.error());
    std::string owner;
    for (auto& s : *shared) {
      auto rights = imap::Rights::parse(s.rights).value_or(imap::Rights());
      if (!rights.has('l')) continue;
      if (owner.empty()) out.mailboxes.push_back(noselect(std::string(imap::kOtherUsers)));
      if (s.owner != owner) out.mailboxes.push_back(noselect(fmt::format("{}/{}", imap::kOtherUsers, s.owner)));
      owner = s.owner;
      out.mailboxes.push_back(info_of(s.mailbox));
      out.mailboxes.back().name = shown_name(s.owner, s.mailbox.name);
      out.mailboxes.back().rights = rights.str();
      if (r.counts && rights.has('r'))
        if (auto st = add_counts(mailboxes, out.mailboxes.back()); !st) return failed(st.error());
    }
    std::sort(out.mailboxes.begin(), out.mailboxes.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    out.subscriptions = std::move(*subs);
    return imap::Answer{imap::StoreError::none, "", std::move(out)};
  }
  imap::Answer operator()(const imap::request::Status& r) {
    auto found = access(mailboxes, directory, user, lower, r.mailbox);
    if (!found) return failed(found.error());
    if (!found->rights.has('r')) return failed(make_error(Errc::denied, "no 'r' right"));  // RFC 4314 4
    imap::answer::Mailbox out{info_of(found->mailbox)};
    out.info.name = r.mailbox;
    if (auto st = add_counts(mailboxes, out.info); !st) return failed(st.error());
    return imap::Answer{imap::StoreError::none, "", std::move(out)};
  }
  imap::Answer operator()(const imap::request::Statuses& r) {
    imap::answer::List out;
    for (const auto& name : r.mailboxes) {
      imap::Answer one = (*this)(imap::request::Status{name});
      if (one.error == imap::StoreError::temporary) return one;
      if (one.error == imap::StoreError::none)  // else gone (or its rights) since NOTIFY named it
        out.mailboxes.push_back(std::move(std::get<imap::answer::Mailbox>(one.value).info));
    }
    return imap::Answer{imap::StoreError::none, "", std::move(out)};
  }
  // Other users' mailboxes are theirs to create, delete and rename (the
  // 'k' and 'x' rights are not granted).
  imap::Answer operator()(const imap::request::Create& r) {
    if (is_shared(r.mailbox)) return not_yours();
    return done_or(mailboxes.create_mailbox(user, r.mailbox, r.special_use));
  }
  imap::Answer operator()(const imap::request::Delete& r) {
    if (is_shared(r.mailbox)) return not_yours();
    return done_or(mailboxes.delete_mailbox(user, r.mailbox));
  }
  imap::Answer operator()(const imap::request::Rename& r) {
    if (is_shared(r.from) || is_shared(r.to)) return not_yours();
    return done_or(mailboxes.rename_mailbox(user, r.from, r.to));
  }
  imap::Answer operator()(const imap::request::Subscribe& r) {
    return done_or(mailboxes.set_subscribed(user, r.mailbox, r.subscribe));
  }
  imap::Answer operator()(const imap::request::Changes& r) {
    auto changes = mailboxes.changes_since(r.mailbox_id, static_cast<std::int64_t>(r.since));
    if (!changes) return failed(changes.error());
    return imap::Answer{imap::StoreError::none, "", changes_of(*changes)};
  }
  imap::Answer operator()(const imap::request::Read& r) {
    imap::answer::Read out;
    std::vector<store::Mailboxes::FoundStructure> structures;
    std::size_t count = r.uids.size();
    if (r.structure) {
      auto found = mailboxes.message_structures(r.mailbox_id, std::vector<std::int64_t>(r.uids.begin(), r.uids.end()),
                                                r.max_octets);
      if (!found) return failed(found.error());
      structures = std::move(*found);
      count = structures.size();  // fewer past max_octets
    }
    std::uint64_t octets_read = 0;
    for (std::size_t i = 0; i < count && (r.max_octets == 0 || octets_read < r.max_octets); ++i) {
      imap::answer::Message m;
      m.uid = r.uids[i];
      bool octets = r.octets;
      if (r.structure) {
        auto& s = structures[i];
        if (!s.found) {
          out.messages.push_back(std::move(m));  // expunged meanwhile
          continue;
        }
        if (s.structure) {
          m.structure = std::move(s.structure->encoded);
          m.prefix_size = s.structure->prefix_size;
        } else {
          octets = true;  // kept before structures were: the session parses it
        }
      }
      if (octets) {
        auto body = mailboxes.read_message(r.mailbox_id, m.uid);
        if (!body) {
          if (body.error().code != Errc::not_found) return failed(body.error());
          out.messages.push_back(std::move(m));
          continue;
        }
        m.octets = std::move(*body);
      }
      m.found = true;
      octets_read += m.structure.size() + m.octets.size();
      out.messages.push_back(std::move(m));
    }
    return imap::Answer{imap::StoreError::none, "", std::move(out)};
  }
  imap::Answer operator()(const imap::request::TextSearch& r) {
    auto found = mailboxes.search_text(r.mailbox_id, r.query, r.body_only);
    if (!found) return failed(found.error());
    imap::answer::TextFound out;
    for (auto u : found->matches) out.matches.push_back(static_cast<std::uint32_t>(u));
    for (auto u : found->unindexed) out.unindexed.push_back(static_cast<std::uint32_t>(u));
    return imap::Answer{imap::StoreError::none, "", std::move(out)};
  }
  // shared_for_metadata - another user's mailbox this one may annotate:
  // RFC 5464 4.1 asks 'l' and one of 'r', 's', 'w', 'i', 'p'.
  Result<MailboxAccess> shared_for_metadata(const std::string& name) {
    auto found = access(mailboxes, directory, user, lower, name);
    if (!found) return found.error();
    if (!found->rights.has('l') || !found->rights.any_of("rswip")) return make_error(Errc::denied, "no right");
    return found;
  }
  imap::Answer operator()(const imap::request::GetMetadata& r) {
    if (shared_name(r.mailbox)) {
      auto found = shared_for_metadata(r.mailbox);
      if (!found) return failed(found.error());
      return metadata_answer(mailboxes.metadata(found->owner_id, found->mailbox.name, r.names, user));
    }
    if (is_shared(r.mailbox)) return not_yours();
    return metadata_answer(mailboxes.metadata(user, r.mailbox, r.names));
  }
  static imap::Answer metadata_answer(Result<std::vector<store::MetadataEntry>> found) {
    if (!found) return failed(found.error());
    imap::answer::Metadata out;
    out.entries.reserve(found->size());
    for (auto& e : *found) out.entries.emplace_back(std::move(e.name), std::move(e.value));
    return imap::Answer{imap::StoreError::none, "", std::move(out)};
  }
  imap::Answer operator()(const imap::request::SetMetadata& r) {
    if (shared_name(r.mailbox)) {
      auto found = shared_for_metadata(r.mailbox);
      if (!found) return failed(found.error());
      return done_or(mailboxes.set_metadata(found->owner_id, found->mailbox.name, r.entries, r.max_entries, user));
    }
    if (is_shared(r.mailbox)) return not_yours();
    return done_or(mailboxes.set_metadata(user, r.mailbox, r.entries, r.max_entries));
  }
  imap::Answer operator()(const imap::request::Acl& r) {
    auto found = access(mailboxes, directory, user, lower, r.mailbox);
    if (!found) return failed(found.error());
    imap::answer::Acl out;
    auto shared = shared_name(r.mailbox);
    out.owner = shared ? shared->first : lower;
    out.rights = found->rights.str();
    auto acl = mailboxes.acl(found->mailbox.id);
    if (!acl) return failed(acl.error());
    for (auto& e : *acl) out.entries.emplace_back(std::move(e.identifier), std::move(e.rights));
    return imap::Answer{imap::StoreError::none, "", std::move(out)};
  }
  imap::Answer operator()(const imap::request::SetAcl& r) {
    auto found = access(mailboxes, directory, user, lower, r.mailbox);
    if (!found) return failed(found.error());
    if (!found->rights.has('a')) return failed(make_error(Errc::denied, "no 'a' right"));
    auto shared = shared_name(r.mailbox);
    // The owner holds every right, always (RFC 4314 2.1.1).
    if (r.identifier == (shared ? shared->first : lower))
      return failed(make_error(Errc::invalid, "the owner's rights are not in the list"));
    if (!r.rights) return done_or(mailboxes.set_acl(found->mailbox.id, r.identifier, ""));  // DELETEACL
    auto change = imap::parse_rights_change(*r.rights);
    if (!change) return failed(make_error(Errc::invalid, "not rights"));
    return done_or(mailboxes.change_acl(found->mailbox.id, r.identifier,
                                        [&change](const std::string& old) { return change->applied_to(old); }));
  }
  imap::Answer operator()(const imap::request::Quota&) {
    auto found = directory.find_user(address);
    if (!found) return failed(found.error());
    if (!*found) return failed(make_error(Errc::not_found, "no such user"));
    return imap::Answer{imap::StoreError::none, "", imap::answer::Quota{(*found)->quota_bytes, (*found)->used_bytes}};
  }
  template <typename Other>
  imap::Answer operator()(const Other&) {
    return failed(make_error(Errc::internal, "not a blocking request"));
  }
};

struct Login {
  imap::LoginResult result = imap::LoginResult::bad_credentials;
  std::int64_t user_id = 0;
};

Login check_login(const ImapDriverContext& ctx, const std::string& user, const std::string& password, bool verified,
                  const std::string& ip) {
  Login out;
  if (verified) {
    auto found = ctx.directory.find_user(user);
    if (!found || !*found) {
      out.result = imap::LoginResult::temp_fail;
      return out;
    }
    out.user_id = (*found)->id;
  } else {
    auto check = ctx.auth.authenticator.check_password(user, password, ip);
    if (check.verdict == auth::Verdict::temp_fail) out.result = imap::LoginResult::temp_fail;
    if (check.verdict != auth::Verdict::ok) return out;
    out.user_id = check.user->id;
  }
  out.result = imap::LoginResult::ok;
  return out;
}

// ImapProtocol - imap::Session as the driver loop runs it (server/driver.h),
// with IMAP's own actions: login, the store's requests, IDLE.
class ImapProtocol {
 public:
  static constexpr std::size_t kReadBuffer = 4096;

  ImapProtocol(const ImapDriverContext& ctx, net::Connection& conn, ConnectionAuth& auth)
      : ctx_(ctx), conn_(conn), auth_(auth), session_(ctx.limits, ctx.hostname) {
    session_.set_clock([] { return static_cast<std::int64_t>(std::time(nullptr)); });
    LiteralMemory& literals = ctx.literals;
    session_.set_literal_budget({[&literals](std::uint64_t n) { return literals.reserve(n); },
                                 [&literals](std::uint64_t n) { literals.release(n); }});
  }

  imap::Session& session() { return session_; }

  imap::ImapAuthOptions auth_options() const {
    imap::ImapAuthOptions o;
    auth_.offer(conn_, o);
    o.plaintext_allowed = ctx_.auth.allow_plaintext;
    return o;
  }

  net::ReadRules read_rules() const {
    const auto& c = ctx_.config;
    return {net::Phase::lines, c.idle_timeout, c.command_deadline, c.idle_timeout, 0};
  }
  net::WriteRules write_rules() const { return {ctx_.config.write_timeout, ctx_.config.min_data_rate}; }
  std::string on_timeout() { return session_.on_timeout(); }
  void feed(std::string_view bytes) { session_.feed(bytes); }

  DriverStep step() {
    imap::Step s = session_.step();
    action_ = s.action;
    DriverStep out;
    out.output = std::move(s.output);
    switch (action_) {
      case imap::Action::need_more: out.turn = Turn::read; break;
      case imap::Action::close: out.turn = Turn::close; break;
      case imap::Action::starttls: out.turn = Turn::starttls; break;
      case imap::Action::sasl_check: out.turn = Turn::sasl_check; break;
      case imap::Action::flush: out.turn = Turn::flush; break;
      case imap::Action::login:
      case imap::Action::store:
      case imap::Action::compress: out.turn = Turn::act; break;
      case imap::Action::idle: out.turn = std::exchange(readable_, false) ? Turn::read : Turn::act; break;
    }
    return out;
  }

  std::optional<sasl::AuthEvent> take_auth_event() { return session_.take_auth_event(); }
  sasl::Exchange& auth_exchange() { return session_.auth_exchange(); }
  std::string on_auth_checked(sasl::Exchange::Outcome outcome) { return session_.on_auth_checked(std::move(outcome)); }
  void discard_input() { session_.discard_input(); }
  void on_tls_started() { session_.on_tls_started(auth_options()); }

  asio::awaitable<std::string> act() {
    std::string out;
    switch (action_) {
      case imap::Action::login: out = co_await login(); break;
      case imap::Action::store: out = co_await store(); break;
      case imap::Action::idle: out = co_await idle(); break;
      case imap::Action::compress: {
        // The OK went out in clear (the loop writes before act()); what
        // the client sent after it is compressed already (RFC 4978 3).
        std::string rest = session_.take_buffered_input();
        conn_.start_compression(rest);
        break;
      }
      default: break;
    }
    co_return out;
  }

 private:
  asio::awaitable<std::string> login() {
    std::string user = session_.user(), password = session_.password();
    bool verified = session_.sasl_verified();
    const std::string& ip = conn_.peer().ip;
    auto check = [&ctx = ctx_, &user, &password, verified, &ip] { return check_login(ctx, user, password, verified, ip); };
    Login login = co_await offload(ctx_.blocking, check);
    std::fill(password.begin(), password.end(), '\0');
    // The credentials were right: the attempt is a success for the
    // lockout and the log even when the session limit refuses it.
    const bool authenticated = login.result == imap::LoginResult::ok;
    if (authenticated) {
      ticket_ = ctx_.sessions.enter(login.user_id, ctx_.config.max_sessions_per_user);
      if (!ticket_) login.result = imap::LoginResult::too_many;
    }
    if (login.result == imap::LoginResult::ok) {
      user_id_ = login.user_id;
      address_ = user;
      log::get("imapd")->info("login: user=<{}>, method={}, rip={}", printable(user, 200),
                              verified ? "AUTHENTICATE" : "LOGIN", ip);
    }
    if (!verified && login.result != imap::LoginResult::temp_fail) {
      sasl::AuthEvent attempt{authenticated, user, "LOGIN", ""};
      co_await auth_.note(attempt);
    }
    co_return session_.on_login(login.result);
  }

  // store - one request: a short cut when nothing changed, writes through
  // the group commit, the rest on the blocking pool.
  asio::awaitable<std::string> store() {
    const imap::Request& r = session_.request();
    imap::Answer answer;
    if (const auto* open = std::get_if<imap::request::Open>(&r)) {
      const std::string& mailbox = open->mailbox;
      answer = co_await select(mailbox);
    } else if (const auto* changes = std::get_if<imap::request::Changes>(&r)) {
      // The watch knows only what changed since it began: a MODSEQ older
      // than the view's (QRESYNC's, the client's own) always asks the store.
      if (watched_ && watched_id_ == changes->mailbox_id && changes->since >= session_.known_modseq() &&
          watched_->modseq() <= changes->since) {
        answer.value = imap::answer::Changes{{}, {}, changes->since};  // nothing new: the store is not asked
      } else {
        answer = co_await blocking(r);
      }
    } else if (auto* add = std::get_if<imap::request::Append>(&session_.request())) {
      answer = co_await append(*add);
    } else if (const auto* flags = std::get_if<imap::request::StoreFlags>(&r)) {
      answer = co_await store_flags(*flags);
    } else if (const auto* copy = std::get_if<imap::request::Copy>(&r)) {
      answer = co_await copy_messages(*copy);
    } else if (const auto* expunge = std::get_if<imap::request::Expunge>(&r)) {
      answer = co_await expunge_messages(*expunge);
    } else {
      answer = co_await blocking(r);
    }
    if (answer.error != imap::StoreError::none && answer.error != imap::StoreError::nonexistent &&
        answer.error != imap::StoreError::exists)
      log::get("imapd")->warn("warning: user id {}: store request failed: {}", user_id_, answer.detail);
    std::string out = session_.on_store(std::move(answer));
    share_listing();
    co_return out;
  }

  asio::awaitable<imap::Answer> blocking(const imap::Request& r) {
    auto run = [this, &r] { return std::visit(Blocking{ctx_.mailboxes, ctx_.directory, user_id_, address_}, r); };
    imap::Answer a = co_await offload(ctx_.blocking, run);
    co_return a;
  }

  // select - the mailbox watched first, then read, so that no change
  // after the read goes unseen (server/mailbox_watch.h). The listing
  // another session left in the watch is brought up to date with what
  // changed since; only the first session on a mailbox reads it whole.
  asio::awaitable<imap::Answer> select(const std::string& name) {
    auto run = [this, &name]() -> imap::Answer {
      auto found = access(ctx_.mailboxes, ctx_.directory, user_id_, to_lower(address_), name);
      if (!found) return failed(found.error());
      if (!found->mailbox.selectable) return failed(make_error(Errc::not_found, "no such mailbox"));
      const std::int64_t id = found->mailbox.id;
      selected_owner_ = found->owner_id;
      watched_ = ctx_.watch.watch(id);
      watched_id_ = id;
      const MailboxWatch::Watched::Shared shared = watched_->shared();
      auto read = shared.listing ? ctx_.mailboxes.changes_since(id, static_cast<std::int64_t>(shared.modseq))
                                 : ctx_.mailboxes.listing(id);
      if (!read) return failed(read.error());
      const imap::answer::Changes changes = changes_of(*read);
      imap::answer::Opened out;
      out.info = info_of(found->mailbox);
      out.info.name = name;
      if (found->owner_id != user_id_) out.info.rights = found->rights.str();
      if (shared.listing && changes.changed.empty() && changes.expunged.empty()) {
        out.messages = shared.listing;
      } else {
        auto listing = shared.listing ? std::make_shared<imap::Listing>(*shared.listing)
                                      : std::make_shared<imap::Listing>();
        imap::advance(*listing, changes);
        out.messages = std::move(listing);
      }
      // The mailbox row was read before the listing: HIGHESTMODSEQ and
      // UIDNEXT come from the listing's snapshot, which is at least as new.
      out.info.highestmodseq = std::max(shared.modseq, changes.highestmodseq);
      if (!out.messages->empty()) out.info.uidnext = std::max(out.info.uidnext, out.messages->back().uid + 1);
      out.info.messages = static_cast<std::uint32_t>(out.messages->size());
      return imap::Answer{imap::StoreError::none, "", std::move(out)};
    };
    watched_.reset();
    imap::Answer a = co_await offload(ctx_.blocking, run);
    co_return a;
  }

  // share_listing - after a store answer: the view's listing kept in the
  // watch, or the watch's equal one taken in its place (imap/listing.h).
  void share_listing() {
    if (!watched_ || session_.selected_mailbox() != watched_id_) return;
    imap::MailboxView& view = session_.view();
    auto mine = view.shareable();
    if (!mine) return;
    auto kept = watched_->share(std::move(mine), view.modseq());
    if (kept != view.shareable()) view.adopt(std::move(kept));
  }

  asio::awaitable<imap::Answer> append(imap::request::Append& r) {
    // The structure and the indexed text are computed once, as for
    // delivered mail (mime/structure.h, mime/text.h), off this thread.
    auto parse = [&r] {
      std::vector<store::AppendMessage> out;
      out.reserve(r.messages.size());
      for (auto& one : r.messages) {
        store::AppendMessage m;
        mime::Stored forms = mime::stored_forms(one.octets);
        m.structure = std::move(forms.structure);
        m.text = std::move(forms.text);
        m.body = std::move(one.octets);  // the literal, once: no second copy of a 25 MB message
        m.flags = one.flags;
        m.keywords = std::move(one.keywords);
        m.internaldate = one.internaldate;
        out.push_back(std::move(m));
      }
      return out;
    };
    auto into = co_await target_of(r.mailbox);
    if (!into) co_return failed(into.error());
    std::vector<store::AppendMessage> messages = co_await offload(ctx_.blocking, parse);
    auto start = [&mailboxes = ctx_.mailboxes, &into, &messages](auto done) {
      mailboxes.append_messages(into->first, into->second, std::move(messages), std::move(done));
    };
    Result<store::Appended> appended = co_await on_completion<Result<store::Appended>>(start);
    if (!appended) co_return failed(appended.error());
    imap::Answer a;
    a.value = imap::answer::Appended{static_cast<std::uint32_t>(appended->uidvalidity),
                                     static_cast<std::uint32_t>(appended->uid),
                                     static_cast<std::uint32_t>(appended->count)};
    co_return a;
  }

  asio::awaitable<imap::Answer> store_flags(const imap::request::StoreFlags& r) {
    std::vector<std::int64_t> uids(r.uids.begin(), r.uids.end());
    store::Mailboxes::FlagUpdate update;
    update.change = r.change == imap::request::StoreFlags::Change::add      ? store::FlagChange::add
                    : r.change == imap::request::StoreFlags::Change::remove ? store::FlagChange::remove
                                                                            : store::FlagChange::replace;
    update.flags = r.flags;
    update.keywords = r.keywords;
    if (r.unchanged_since) update.unchanged_since = static_cast<std::int64_t>(*r.unchanged_since);
    auto start = [&mailboxes = ctx_.mailboxes, &r, &uids, &update](auto done) {
      mailboxes.store_flags(r.mailbox_id, std::move(uids), std::move(update), std::move(done));
    };
    Result<store::Mailboxes::FlagsStored> stored = co_await on_completion<Result<store::Mailboxes::FlagsStored>>(start);
    if (!stored) co_return failed(stored.error());
    imap::answer::Stored out;
    for (const auto& m : stored->changed) out.changed.push_back(meta_of(m));
    for (auto u : stored->modified) out.modified.push_back(static_cast<std::uint32_t>(u));
    imap::Answer a;
    a.value = std::move(out);
    co_return a;
  }

  // target_of - the owner of an APPEND, COPY or MOVE target and its name
  // there: the user's own without asking the store; another user's shared
  // one needs the 'i' right (RFC 4314 4).
  asio::awaitable<Result<std::pair<std::int64_t, std::string>>> target_of(const std::string& name) {
    using Target = Result<std::pair<std::int64_t, std::string>>;
    if (!shared_name(name)) co_return Target(std::make_pair(user_id_, name));
    auto run = [this, &name]() -> Target {
      auto found = access(ctx_.mailboxes, ctx_.directory, user_id_, to_lower(address_), name);
      if (!found) return found.error();
      if (!found->rights.has('i')) return make_error(Errc::denied, "no 'i' right");
      return std::make_pair(found->owner_id, found->mailbox.name);
    };
    Target target = co_await offload(ctx_.blocking, run);
    co_return target;
  }

  asio::awaitable<imap::Answer> copy_messages(const imap::request::Copy& r) {
    std::vector<std::int64_t> uids(r.uids.begin(), r.uids.end());
    auto into = co_await target_of(r.to);
    if (!into) co_return failed(into.error());
    auto start = [&mailboxes = ctx_.mailboxes, from = selected_owner_, &r, &uids, &into](auto done) {
      mailboxes.copy_messages(from, r.mailbox_id, std::move(uids), into->first, into->second, r.move, std::move(done));
    };
    Result<store::Copied> copied = co_await on_completion<Result<store::Copied>>(start);
    if (!copied) co_return failed(copied.error());
    imap::answer::Copied out;
    out.uidvalidity = static_cast<std::uint32_t>(copied->uidvalidity);
    for (auto u : copied->from) out.from.push_back(static_cast<std::uint32_t>(u));
    for (auto u : copied->to) out.to.push_back(static_cast<std::uint32_t>(u));
    imap::Answer a;
    a.value = std::move(out);
    co_return a;
  }

  asio::awaitable<imap::Answer> expunge_messages(const imap::request::Expunge& r) {
    std::optional<std::vector<std::int64_t>> only;
    if (r.uids) only.emplace(r.uids->begin(), r.uids->end());
    auto start = [&mailboxes = ctx_.mailboxes, owner = selected_owner_, &r, &only](auto done) {
      mailboxes.expunge_deleted(owner, r.mailbox_id, std::move(only), std::move(done));
    };
    Result<std::vector<std::int64_t>> removed = co_await on_completion<Result<std::vector<std::int64_t>>>(start);
    if (!removed) co_return failed(removed.error());
    imap::answer::Expunged out;
    for (auto u : *removed) out.uids.push_back(static_cast<std::uint32_t>(u));
    imap::Answer a;
    a.value = std::move(out);
    co_return a;
  }

  // watch_notified - the mailboxes NOTIFY names (RFC 5465), watched from
  // when the session names them. A new watch is checked once at the next
  // wait, so that a change between the session's read of the mailbox and
  // the watch's start is not lost (the session tells only a difference).
  void watch_notified() {
    if (session_.watch_generation() == watch_generation_) return;
    watch_generation_ = session_.watch_generation();
    std::vector<NotifyWatch> next;
    for (auto id : session_.watched_mailboxes()) {
      auto kept = std::find_if(notified_.begin(), notified_.end(), [id](const NotifyWatch& w) { return w.id == id; });
      if (kept != notified_.end()) next.push_back(std::move(*kept));
      else next.push_back({id, ctx_.watch.watch(id), 0, true});
    }
    notified_ = std::move(next);
  }

  // idle - IDLE (RFC 2177), and NOTIFY between commands: wait for the
  // client's next octets, a change of a watched mailbox
  // (server/mailbox_watch.h) or the autologout. Readiness is awaited on
  // the socket, never a read: nothing is left half-read.
  asio::awaitable<std::string> idle() {
    using namespace asio::experimental::awaitable_operators;
    if (!signal_) {
      auto executor = co_await asio::this_coro::executor;
      signal_ = std::make_shared<WakeSignal>(executor);
    }
    signal_->woken = false;
    watch_notified();
    if (watched_ && session_.selected_mailbox() == watched_id_ && session_.wants_selected_changes()) {
      MailboxWatch::idle(*watched_, signal_);
      // A change the session has not asked for yet wakes at once.
      if (watched_->modseq() > session_.known_modseq()) signal_->woken = true;
    }
    for (auto& w : notified_) {
      MailboxWatch::idle(*w.watched, signal_);
      if (w.fresh || w.watched->modseq() > w.told) signal_->woken = true;
    }
    // Readiness, a wake-up, or the autologout; a cancel that is none of
    // them (a late one from an earlier wait) waits again.
    while (!signal_->woken && conn_.quiet()) {
      signal_->timer.expires_after(ctx_.config.idle_timeout);
      std::error_code timer_ec, read_ec;
      auto which = co_await (signal_->timer.async_wait(asio::redirect_error(asio::use_awaitable, timer_ec)) ||
                             conn_.socket().async_wait(asio::ip::tcp::socket::wait_read,
                                                       asio::redirect_error(asio::use_awaitable, read_ec)));
      if (which.index() == 1) break;  // the socket: input (or the peer gone)
      if (!timer_ec) co_return session_.autologout();  // RFC 9051 5.4
    }
    if (signal_->woken.exchange(false)) {
      std::vector<std::int64_t> changed;
      for (auto& w : notified_) {
        const std::uint64_t now = w.watched->modseq();
        if (!w.fresh && now <= w.told) continue;
        changed.push_back(w.id);
        w.told = now;
        w.fresh = false;
      }
      session_.on_idle_wake(std::move(changed));
      co_return std::string();
    }
    // The client spoke (or went): the loop reads it, with its own buffer
    // and deadlines; an idle session holds no buffer of its own.
    readable_ = true;
    co_return std::string();
  }

  const ImapDriverContext& ctx_;
  net::Connection& conn_;
  ConnectionAuth& auth_;
  imap::Session session_;
  imap::Action action_ = imap::Action::need_more;
  std::int64_t user_id_ = 0;
  std::string address_;
  std::int64_t selected_owner_ = 0;  // whose the selected mailbox is (RFC 4314: perhaps another's)
  std::optional<UserSessions::Ticket> ticket_;  // this session counted against its user's
  std::shared_ptr<MailboxWatch::Watched> watched_;
  std::int64_t watched_id_ = 0;
  std::shared_ptr<WakeSignal> signal_;
  bool readable_ = false;  // IDLE saw input: the next step reads it
  struct NotifyWatch {
    std::int64_t id = 0;
    std::shared_ptr<MailboxWatch::Watched> watched;
    std::uint64_t told = 0;  // the watch's MODSEQ when the session last heard of it
    bool fresh = true;       // not yet checked since the watch began
  };
  std::vector<NotifyWatch> notified_;  // NOTIFY's mailboxes (RFC 5465)
  std::uint64_t watch_generation_ = 0;
};

}  // namespace

asio::awaitable<void> imap_connection(const ImapDriverContext& ctx, Accepted accepted) {
  auto log = log::get("imapd");
  net::Connection conn(std::move(accepted.socket), accepted.peer);
  const std::string peer = conn.peer().display();
  // Named, not a temporary inside the co_await (GCC 12, server/driver.h).
  const std::string_view busy = "* BYE [UNAVAILABLE] Too many connections, try again later\r\n";
  net::ConnectionLimiter::Ticket ticket = co_await admit(conn, accepted, ctx.tls, busy, "imapd");
  if (!ticket) co_return;
  log->info("connect from {}", peer);
  ConnectionAuth auth(ctx.auth, conn.peer(), "imap");
  ImapProtocol protocol(ctx, conn, auth);
  protocol.session().set_auth_options(protocol.auth_options());
  std::string greeting = protocol.session().greeting();
  if (co_await conn.write_all(greeting)) {
    Ending ending = co_await run_session(conn, protocol, auth, ctx.tls, ctx.blocking);
    if (ending == Ending::write_timed_out) log->info("timeout after reply from {}", peer);
  }
  log->info("disconnect from {}", peer);
}

}  // namespace herald::server
