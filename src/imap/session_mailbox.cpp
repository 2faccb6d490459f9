// imap/session_mailbox.cpp - the commands of the authenticated state (RFC
// 9051 6.3): ENABLE, SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE,
// UNSUBSCRIBE, LIST (RFC 5258, 5819, 6154), LSUB, NAMESPACE, STATUS,
// APPEND, IDLE (RFC 2177).
#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "base/text.h"
#include "imap/acl.h"
#include "imap/date.h"
#include "imap/fetch_spec.h"
#include "imap/metadata.h"
#include "imap/session.h"
#include "imap/status.h"

namespace herald::imap {
namespace {

// list_match - RFC 9051 6.3.9: "*" matches anything, "%" anything but the
// hierarchy delimiter. Dynamic programming: linear in pattern x name, so
// no pattern of wildcards can make it slow.
bool list_match(std::string_view pattern, std::string_view name) {
  std::vector<char> row(name.size() + 1, 0), next(name.size() + 1, 0);
  row[0] = 1;
  for (char p : pattern) {
    std::fill(next.begin(), next.end(), 0);
    if (p == '*' || p == '%') {
      for (std::size_t j = 0; j <= name.size(); ++j) {
        // next[j]: some i <= j with row[i], and name[i..j) free of '/' for '%'.
        if (row[j]) next[j] = 1;
        else if (j > 0 && next[j - 1] && (p == '*' || name[j - 1] != '/')) next[j] = 1;
      }
    } else {
      for (std::size_t j = 1; j <= name.size(); ++j) next[j] = row[j - 1] && name[j - 1] == p;
    }
    row.swap(next);
  }
  return row[name.size()] != 0;
}

// canonical_pattern - "inbox..." as "INBOX..." (INBOX is one name in any case).
std::string canonical_pattern(std::string pattern) {
  std::string_view first = std::string_view(pattern).substr(0, pattern.find('/'));
  if (iequals(first, "INBOX")) pattern.replace(0, 5, "INBOX");
  return pattern;
}

}  // namespace

Session::Outcome Session::cmd_enable(Command& c) {
  if (c.args.empty()) return bad("ENABLE takes capability names");
  std::vector<std::string> enabled;
  for (const auto& a : c.args) {
    if (a.kind != Value::Kind::atom) return bad("ENABLE takes capability names");
    // RFC 5161 3.1: unknown names are ignored; each is said once.
    if (a.is_atom("IMAP4REV2") && !rev2_) {
      rev2_ = utf8_ = true;
      enabled.push_back("IMAP4rev2");
    } else if (a.is_atom("UTF8=ACCEPT") && !utf8_) {
      utf8_ = true;
      enabled.push_back("UTF8=ACCEPT");
    } else if (a.is_atom("CONDSTORE") && !view_options_.condstore) {
      enable_condstore();
      enabled.push_back("CONDSTORE");
    } else if (a.is_atom("QRESYNC") && !view_options_.qresync) {
      // RFC 7162 3.2.3: QRESYNC implies CONDSTORE.
      if (!view_options_.condstore) enabled.push_back("CONDSTORE");
      enable_condstore();
      view_options_.qresync = true;
      enabled.push_back("QRESYNC");
    }
  }
  Outcome o = ok("ENABLE completed");
  std::string line = "* ENABLED";
  for (const auto& e : enabled) line += " " + e;
  o.output = line + "\r\n" + o.output;
  return o;
}

// cmd_select - SELECT and EXAMINE (RFC 9051 6.3.2, 6.3.3), with the
// CONDSTORE and QRESYNC parameters (RFC 7162 3.1.8, 3.2.5).
Session::Outcome Session::cmd_select(Command& c) {
  const bool examine = c.name == "EXAMINE";
  if (c.args.empty() || c.args.size() > 2) return bad(fmt::format("{} takes a mailbox name", c.name));
  std::optional<std::uint32_t> qresync_uidvalidity;
  std::uint64_t qresync_modseq = 0;
  std::optional<SequenceSet> known;
  if (c.args.size() == 2) {
    const Value& params = c.args[1];
    if (params.kind != Value::Kind::list) return bad("SELECT parameters are a list");
    for (std::size_t i = 0; i < params.items.size(); ++i) {
      const Value& p = params.items[i];
      if (p.is_atom("CONDSTORE")) {
        enable_condstore();
      } else if (p.is_atom("QRESYNC") && i + 1 < params.items.size()) {
        // (QRESYNC (uidvalidity modseq [known-uids [seq-match]]))
        if (!view_options_.qresync) return bad("QRESYNC must be enabled first");
        const Value& q = params.items[++i];
        auto uv = q.kind == Value::Kind::list && q.items.size() >= 2 && q.items[0].kind == Value::Kind::atom
                      ? parse_uint(q.items[0].text) : std::nullopt;
        auto ms = uv && q.items[1].kind == Value::Kind::atom ? parse_uint(q.items[1].text) : std::nullopt;
        if (!uv || !ms || *uv == 0 || *uv > 0xffffffff || q.items.size() > 4) return bad("Invalid QRESYNC parameter");
        qresync_uidvalidity = static_cast<std::uint32_t>(*uv);
        qresync_modseq = *ms;
        if (q.items.size() >= 3) {
          known = q.items[2].kind == Value::Kind::atom ? SequenceSet::parse(q.items[2].text) : std::nullopt;
          if (!known || known->saved()) return bad("Invalid known UIDs");
        }
      } else {
        return bad("Unknown SELECT parameter");
      }
    }
  }
  std::string error;
  auto name = mailbox_arg(c.args[0], error);
  if (!name) return bad(error);
  std::string closed;
  if (state_ == State::selected) {
    // RFC 9051 6.3.2: the old mailbox is closed first, without expunging.
    closed = "* OK [CLOSED] Previous mailbox closed\r\n";
    unselect();
  }
  return ask(request::Open{*name}, [=, this](Answer& a) {
    Outcome o;
    o.output = closed;
    if (a.error != StoreError::none) {
      Outcome f = store_failed(a);
      o.output += f.output;
      return o;
    }
    auto& opened = std::get<answer::Opened>(a.value);
    // RFC 4314 4: SELECT and EXAMINE need 'r'; without any right to change
    // the mailbox it is read-only.
    const Rights rights =
        opened.info.rights.empty() ? Rights::all() : Rights::parse(opened.info.rights).value_or(Rights());
    if (!rights.has('r')) {
      o.output += no("Permission denied", "NOPERM").output;
      return o;
    }
    rights_ = rights;
    const bool read_only = examine || !rights.any_of("stwe");
    view_.open(std::move(opened.info), std::move(opened.messages));
    saved_uids_.clear();
    read_only_ = read_only;
    state_ = State::selected;
    const MailboxInfo& m = view_.info();
    std::string flags = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";
    for (const auto& k : view_.keywords()) flags += " " + k;
    // PERMANENTFLAGS: those the user may change (RFC 4314 4: \Seen needs
    // 's', \Deleted 't', the others 'w').
    std::string permanent;
    auto may = [&permanent](std::string_view f) {
      if (!permanent.empty()) permanent += ' ';
      permanent += f;
    };
    if (rights.has('w')) may("\\Answered \\Flagged");
    if (rights.has('t')) may("\\Deleted");
    if (rights.has('s')) may("\\Seen");
    if (rights.has('w')) {
      may("\\Draft");
      for (const auto& k : view_.keywords()) may(k);
      may("\\*");
    }
    o.output += fmt::format("* {} EXISTS\r\n", view_.exists());
    if (!rev2_) {
      o.output += "* 0 RECENT\r\n";
      if (auto first = view_.unseen_first()) o.output += fmt::format("* OK [UNSEEN {}] First unseen\r\n", first);
    }
    o.output += fmt::format("* FLAGS ({})\r\n", flags);
    o.output += read_only ? "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n"
                          : fmt::format("* OK [PERMANENTFLAGS ({})] Flags permitted\r\n", permanent);
    o.output += fmt::format("* OK [UIDVALIDITY {}] UIDs valid\r\n", m.uidvalidity);
    o.output += fmt::format("* OK [UIDNEXT {}] Predicted next UID\r\n", m.uidnext);
    o.output += fmt::format("* OK [MAILBOXID (F{})] Ok\r\n", m.id);  // RFC 8474 4.1
    if (view_options_.condstore) o.output += fmt::format("* OK [HIGHESTMODSEQ {}] Highest\r\n", view_.modseq());
    if (rev2_) o.output += "* LIST () \"/\" " + mailbox_out(m.name) + "\r\n";
    std::string tagged =
        ok(examine ? "EXAMINE completed" : "SELECT completed", read_only ? "READ-ONLY" : "READ-WRITE").output;
    // RFC 7162 3.2.5.1: what changed since the client last looked, when its
    // UIDs are still valid.
    if (qresync_uidvalidity && *qresync_uidvalidity == m.uidvalidity)
      return qresync_select(std::move(o.output), std::move(tagged), qresync_modseq, known);
    o.output += tagged;
    return o;
  });
}

// qresync_select - SELECT's VANISHED (EARLIER) and FETCH of what changed
// after the client's MODSEQ, between SELECT's untagged lines and its
// tagged reply.
Session::Outcome Session::qresync_select(std::string untagged, std::string tagged, std::uint64_t since,
                                         std::optional<SequenceSet> known) {
  request::Changes r{view_.id(), since};
  return ask(r, [this, untagged = std::move(untagged), tagged = std::move(tagged), known](Answer& a) {
    Outcome o;
    o.output = untagged;
    if (a.error != StoreError::none) {
      unselect();  // a NO to SELECT leaves nothing selected
      o.output += store_failed(a).output;
      return o;
    }
    const auto& changes = std::get<answer::Changes>(a.value);
    std::vector<std::uint32_t> vanished;
    for (auto uid : changes.expunged)
      if (!view_.msn_of(uid) && (!known || known->contains(uid, view_.largest_uid()))) vanished.push_back(uid);
    if (!vanished.empty()) {
      o.output += "* VANISHED (EARLIER) ";
      append_uid_set(o.output, vanished);
      o.output += "\r\n";
    }
    for (const auto& m : changes.changed) {
      std::uint32_t msn = view_.msn_of(m.uid);
      if (!msn) continue;  // came after the mailbox was read: the next sync tells it
      const MessageMeta& mine = view_.at(msn);
      o.output += fmt::format("* {} FETCH (UID {} FLAGS ", msn, mine.uid);
      append_flags(o.output, mine.flags, mine.keywords);
      o.output += fmt::format(" MODSEQ ({}))\r\n", mine.modseq);
    }
    o.output += tagged;
    return o;
  });
}

// cmd_create - RFC 9051 6.3.4, with RFC 6154 5.3's USE parameter.
Session::Outcome Session::cmd_create(Command& c) {
  if (c.args.empty() || c.args.size() > 2) return bad("CREATE takes a mailbox name");
  std::string error;
  auto name = mailbox_arg(c.args[0], error);
  if (!name) return bad(error);
  // A trailing delimiter declares a parent; the name is created without it.
  while (!name->empty() && name->back() == '/') name->pop_back();
  if (name->empty()) return no("Invalid mailbox name", "CANNOT");
  if (*name == "INBOX") return no("Mailbox already exists", "ALREADYEXISTS");
  std::string special_use;
  if (c.args.size() == 2) {
    const Value& p = c.args[1];
    static const char* kUses[] = {"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"};
    if (p.kind != Value::Kind::list || p.items.size() != 2 || !p.items[0].is_atom("USE") ||
        p.items[1].kind != Value::Kind::list || p.items[1].items.size() > 1)
      return bad("CREATE takes (USE (attribute))");
    for (const auto& u : p.items[1].items) {
      for (const char* known : kUses)
        if (iequals(u.text, known)) special_use = known;
      if (special_use.empty()) return no("Unsupported special-use attribute", "USEATTR");
    }
  }
  return ask(request::Create{*name, special_use}, [this](Answer& a) {
    if (a.error != StoreError::none) return store_failed(a);
    return notify_refresh(ok("CREATE completed").output);
  });
}

Session::Outcome Session::cmd_delete(Command& c) {
  if (c.args.size() != 1) return bad("DELETE takes a mailbox name");
  std::string error;
  auto name = mailbox_arg(c.args[0], error);
  if (!name) return bad(error);
  if (*name == "INBOX") return no("INBOX cannot be deleted", "NOPERM");
  const bool selected = state_ == State::selected && view_.info().name == *name;
  return ask(request::Delete{*name}, [this, selected](Answer& a) {
    if (a.error != StoreError::none) return store_failed(a);
    std::string closed;
    if (selected && state_ == State::selected) {
      unselect();
      closed = "* OK [CLOSED] The selected mailbox was deleted\r\n";
    }
    return prefixed(std::move(closed), notify_refresh(ok("DELETE completed").output));
  });
}

Session::Outcome Session::cmd_rename(Command& c) {
  if (c.args.size() != 2) return bad("RENAME takes two mailbox names");
  std::string error;
  auto from = mailbox_arg(c.args[0], error);
  if (!from) return bad(error);
  auto to = mailbox_arg(c.args[1], error);
  if (!to) return bad(error);
  while (!to->empty() && to->back() == '/') to->pop_back();
  return ask(request::Rename{*from, *to}, [this](Answer& a) {
    if (a.error != StoreError::none) return store_failed(a);
    return notify_refresh(ok("RENAME completed").output);
  });
}

Session::Outcome Session::cmd_subscribe(Command& c) {
  if (c.args.size() != 1) return bad(fmt::format("{} takes a mailbox name", c.name));
  std::string error;
  auto name = mailbox_arg(c.args[0], error);
  if (!name) return bad(error);
  const bool subscribe = c.name == "SUBSCRIBE";
  return ask(request::Subscribe{*name, subscribe}, [this, subscribe](Answer& a) {
    if (a.error != StoreError::none) return store_failed(a);
    return notify_refresh(ok(subscribe ? "SUBSCRIBE completed" : "UNSUBSCRIBE completed").output);
  });
}

// cmd_list - LIST (RFC 9051 6.3.9 with LIST-EXTENDED, RFC 5258, its
// selection and return options, LIST-STATUS, RFC 5819) and LSUB (RFC 3501
// 6.3.9).
Session::Outcome Session::cmd_list(Command& c) {
  const bool lsub = c.name == "LSUB";
  std::size_t i = 0;
  bool select_subscribed = false, select_special = false, recursive = false;
  bool return_subscribed = false, return_children = true, return_special = true;
  std::optional<StatusItems> status;
  if (!lsub && i < c.args.size() && c.args[i].kind == Value::Kind::list) {
    for (const auto& o : c.args[i].items) {
      if (o.is_atom("SUBSCRIBED")) select_subscribed = true;
      else if (o.is_atom("SPECIAL-USE")) select_special = true;
      else if (o.is_atom("RECURSIVEMATCH")) recursive = true;
      else if (o.is_atom("REMOTE")) continue;
      else return bad("Unknown LIST selection option");
    }
    if (recursive && !select_subscribed && !select_special) return bad("RECURSIVEMATCH needs another selection option");
    ++i;
  }
  if (i + 2 > c.args.size() || !c.args[i].is_astring()) return bad(fmt::format("{} takes a reference and a pattern", c.name));
  std::string reference = c.args[i++].text;
  std::vector<std::string> patterns;
  if (c.args[i].kind == Value::Kind::list && !lsub) {
    for (const auto& p : c.args[i].items) {
      if (!p.is_astring()) return bad("Invalid pattern");
      patterns.push_back(p.text);
    }
  } else if (c.args[i].is_astring()) {
    patterns.push_back(c.args[i].text);
  } else {
    return bad("Invalid pattern");
  }
  ++i;
  if (i < c.args.size()) {
    if (lsub || !c.args[i].is_atom("RETURN") || i + 2 != c.args.size() || c.args[i + 1].kind != Value::Kind::list)
      return bad("Unexpected LIST arguments");
    for (std::size_t k = 0; k < c.args[i + 1].items.size(); ++k) {
      const Value& o = c.args[i + 1].items[k];
      if (o.is_atom("SUBSCRIBED")) return_subscribed = true;
      else if (o.is_atom("CHILDREN")) return_children = true;
      else if (o.is_atom("SPECIAL-USE")) return_special = true;
      else if (o.is_atom("STATUS") && k + 1 < c.args[i + 1].items.size()) {
        status = parse_status_items(c.args[i + 1].items[++k]);
        if (!status) return bad("Invalid STATUS return option");
      } else {
        return bad("Unknown LIST return option");
      }
    }
  }
  // Patterns are matched against every name: bounded in number and size.
  if (patterns.size() > 64) return bad("Too many patterns");
  for (const auto& p : patterns)
    if (p.size() + reference.size() > 1024) return bad("Pattern too long");
  // RFC 9051 6.3.9: an empty pattern asks for the delimiter (and the
  // root of the reference, here always "").
  if (!lsub && patterns.size() == 1 && patterns[0].empty()) {
    Outcome o = ok("LIST completed");
    o.output = "* LIST (\\Noselect) \"/\" \"\"\r\n" + o.output;
    return o;
  }
  // Patterns in the store's form: UTF-8, "INBOX" in upper case.
  for (auto& p : patterns) {
    Value v{Value::Kind::quoted, reference + p, false, {}};
    std::string error;
    auto decoded = mailbox_arg(v, error);
    if (!decoded) return bad(error);
    p = canonical_pattern(*decoded);
  }
  const bool counts = status.has_value();
  return ask(request::List{counts}, [=, this](Answer& a) {
    if (a.error != StoreError::none) return store_failed(a);
    auto& list = std::get<answer::List>(a.value);
    const std::set<std::string> subscribed(list.subscriptions.begin(), list.subscriptions.end());
    std::map<std::string, const MailboxInfo*> boxes;
    for (const auto& m : list.mailboxes) boxes[m.name] = &m;
    auto matches = [&](const std::string& name) {
      return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return list_match(p, name); });
    };
    // Every name a line may be about: mailboxes, subscriptions, and the
    // parents of subscriptions (LSUB's \Noselect parents, RFC 3501 6.3.9;
    // CHILDINFO, RFC 5258 3.5), each with whether a subscribed name is
    // below it that the patterns do not match themselves.
    std::set<std::string> names;
    for (const auto& [n, _] : boxes) names.insert(n);
    std::set<std::string> parent_of_unmatched, parent_of_subscribed;
    for (const auto& sub : list.subscriptions) {
      names.insert(sub);
      for (std::size_t at = sub.find('/'); at != std::string::npos; at = sub.find('/', at + 1)) {
        std::string parent = sub.substr(0, at);
        names.insert(parent);
        parent_of_subscribed.insert(parent);
        if (!matches(sub)) parent_of_unmatched.insert(parent);
      }
    }
    auto has_children = [&](const std::string& name) {
      auto low = boxes.lower_bound(name + "/");
      return low != boxes.end() && low->first.rfind(name + "/", 0) == 0;
    };
    const std::string verb = lsub ? "LSUB" : "LIST";
    Outcome o;
    for (const auto& name : names) {
      if (!matches(name)) continue;
      auto box = boxes.find(name);
      const MailboxInfo* m = box == boxes.end() ? nullptr : box->second;
      const bool sub = subscribed.count(name) != 0;
      std::vector<std::string> attrs;
      std::string extended;
      if (lsub) {
        if (sub) {
          if (m && !m->selectable) attrs.push_back("\\Noselect");
        } else if (parent_of_unmatched.count(name)) {
          attrs.push_back("\\Noselect");  // "%" stopped above a subscribed name
        } else {
          continue;
        }
      } else {
        if (select_subscribed && !sub) {
          if (!(recursive && parent_of_subscribed.count(name))) continue;
        } else if (!select_subscribed && !m) {
          continue;  // only a subscription or a parent of one
        }
        if (select_special && (!m || m->special_use.empty())) continue;
        if (!m) attrs.push_back("\\NonExistent");
        else if (!m->selectable) attrs.push_back("\\Noselect");
        if (m && return_children) attrs.push_back(has_children(name) ? "\\HasChildren" : "\\HasNoChildren");
        if ((return_subscribed || select_subscribed) && sub) attrs.push_back("\\Subscribed");
        if (m && return_special && !m->special_use.empty()) attrs.push_back(m->special_use);
        if (recursive && select_subscribed && parent_of_subscribed.count(name))
          extended = " (\"CHILDINFO\" (\"SUBSCRIBED\"))";
      }
      std::string line = "* " + verb + " (";
      for (std::size_t k = 0; k < attrs.size(); ++k) line += (k ? " " : "") + attrs[k];
      line += ") \"/\" " + mailbox_out(name) + extended + "\r\n";
      o.output += line;
      if (status && m && m->selectable) o.output += status_line(mailbox_out(name), *m, *status, limits_.append_limit);
    }
    o.output += ok(verb + " completed").output;
    return o;
  });
}

Session::Outcome Session::cmd_namespace(Command& c) {
  if (!c.args.empty()) return bad("NAMESPACE takes no arguments");
  // RFC 2342: the personal namespace, "" with "/", and other users'
  // mailboxes shared with this one (RFC 4314).
  Outcome o = ok("NAMESPACE completed");
  o.output = fmt::format("* NAMESPACE ((\"\" \"/\")) ((\"{}/\" \"/\")) NIL\r\n", kOtherUsers) + o.output;
  return o;
}

Session::Outcome Session::cmd_status(Command& c) {
  if (c.args.size() != 2) return bad("STATUS takes a mailbox name and a list of items");
  std::string error;
  auto name = mailbox_arg(c.args[0], error);
  if (!name) return bad(error);
  auto items = parse_status_items(c.args[1]);
  if (!items) return bad("Invalid STATUS items");
  return ask(request::Status{*name}, [this, items = *items](Answer& a) {
    if (a.error != StoreError::none) return store_failed(a);
    const MailboxInfo& m = std::get<answer::Mailbox>(a.value).info;
    if (!m.selectable) return no("Mailbox isn't selectable", "NONEXISTENT");
    Outcome o;
    o.output = status_line(mailbox_out(m.name), m, items, limits_.append_limit);
    return prefixed(std::move(o.output), finish(ok("STATUS completed").output, false));
  });
}

// cmd_append - RFC 9051 6.3.12: mailbox [flags] [date-time] literal, and
// more of those after it (MULTIAPPEND, RFC 3502 6.3.11), with the new
// UIDs (UIDPLUS, RFC 4315 3).
Session::Outcome Session::cmd_append(Command& c) {
  if (c.args.size() < 2) return bad("APPEND takes a mailbox, [flags], [date-time] and a message");
  std::string error;
  auto name = mailbox_arg(c.args[0], error);
  if (!name) return bad(error);
  request::Append r;
  r.mailbox = *name;
  for (std::size_t i = 1; i < c.args.size();) {
    request::Append::Message m;
    if (c.args[i].kind == Value::Kind::list) {
      if (!parse_flags(c.args[i], m.flags, m.keywords, false)) return bad("Invalid flags");
      ++i;
    }
    if (i < c.args.size() && c.args[i].kind == Value::Kind::quoted) {
      auto when = parse_date_time(c.args[i].text);
      if (!when) return bad("Invalid date-time");
      m.internaldate = *when;
      ++i;
    }
    // RFC 6855 4: "UTF8 (~{n}...)" carries a message with UTF-8 headers;
    // unwrapped, it is a literal like any other.
    Value* data = i < c.args.size() ? &c.args[i] : nullptr;
    if (data && data->is_atom("UTF8")) {
      if (++i >= c.args.size() || c.args[i].kind != Value::Kind::list || c.args[i].items.size() != 1 ||
          c.args[i].items[0].kind != Value::Kind::literal)
        return bad("UTF8 takes (literal8)");
      data = &c.args[i].items[0];
    }
    if (!data || data->kind != Value::Kind::literal) return bad("APPEND's message must be a literal");
    ++i;
    // RFC 3502 6.3.11: one message refused refuses them all.
    if (data->text.empty()) return no("Can't save a zero byte message", "CANNOT");
    if (limits_.append_limit && data->text.size() > limits_.append_limit) return no("Message too large", "TOOBIG");
    m.octets = std::move(data->text);
    r.messages.push_back(std::move(m));
  }
  const std::string into = r.mailbox;
  return ask(std::move(r), [this, into](Answer& a) {
    if (a.error == StoreError::nonexistent) return no("Mailbox doesn't exist", "TRYCREATE");
    if (a.error != StoreError::none) return store_failed(a);
    note_own_change(into);
    const auto& done = std::get<answer::Appended>(a.value);
    std::string uids = std::to_string(done.uid);
    if (done.count > 1) uids += ":" + std::to_string(done.uid + done.count - 1);
    // Into the selected mailbox: its EXISTS comes before the tagged OK.
    return finish(ok("APPEND completed", fmt::format("APPENDUID {} {}", done.uidvalidity, uids)).output, false);
  });
}

// metadata_mailbox - GETMETADATA's and SETMETADATA's mailbox: "" is the
// server (RFC 5464 4.2, 4.3), any other name a mailbox.
std::optional<std::string> Session::metadata_mailbox(const Value& v, std::string& error) const {
  if (v.is_string() && v.text.empty()) return std::string();
  return mailbox_arg(v, error);
}

// cmd_getmetadata - RFC 5464 4.2: [(MAXSIZE n DEPTH d)] mailbox entries.
// An entry asked for by name that has no value is NIL, as Dovecot and
// Cyrus answer; those below it only when they have one.
Session::Outcome Session::cmd_getmetadata(Command& c) {
  std::size_t i = 0;
  std::optional<std::uint64_t> max_size;
  MetadataDepth depth = MetadataDepth::zero;
  if (!c.args.empty() && c.args[0].kind == Value::Kind::list) {
    const auto& options = c.args[0].items;
    for (std::size_t k = 0; k < options.size(); k += 2) {
      if (k + 1 >= options.size() || options[k + 1].kind != Value::Kind::atom)
        return bad("GETMETADATA options are MAXSIZE n and DEPTH 0, 1 or infinity");
      const std::string& value = options[k + 1].text;
      if (options[k].is_atom("MAXSIZE") && (max_size = parse_uint(value))) continue;
      if (options[k].is_atom("DEPTH")) {
        if (value == "0") depth = MetadataDepth::zero;
        else if (value == "1") depth = MetadataDepth::one;
        else if (iequals(value, "infinity")) depth = MetadataDepth::infinity;
        else return bad("DEPTH is 0, 1 or infinity");
        continue;
      }
      return bad("GETMETADATA options are MAXSIZE n and DEPTH 0, 1 or infinity");
    }
    ++i;
  }
  if (c.args.size() != i + 2) return bad("GETMETADATA takes [options], a mailbox and entries");
  std::string error;
  auto mailbox = metadata_mailbox(c.args[i], error);
  if (!mailbox) return bad(error);
  const Value& asked = c.args[i + 1];
  std::vector<Value> single;
  const std::vector<Value>& items = asked.kind == Value::Kind::list ? asked.items : (single = {asked});
  request::GetMetadata r{*mailbox, {}};
  for (const auto& item : items) {
    auto name = item.is_astring() ? entry_name(item.text, true) : std::nullopt;
    if (!name) return bad("Invalid entry name");  // RFC 5464 3.2.1
    r.names.push_back(std::move(*name));
  }
  if (r.names.empty()) return bad("GETMETADATA takes entries");
  const std::string shown = mailbox->empty() ? std::string("\"\"") : mailbox_out(*mailbox);
  auto names = r.names;
  return ask(std::move(r), [this, shown, max_size, depth, names = std::move(names)](Answer& a) {
    if (a.error != StoreError::none) return store_failed(a);
    const auto& entries = std::get<answer::Metadata>(a.value).entries;  // by name
    std::string list;
    auto add = [&list](std::string_view name, const std::string* value) {
      if (!list.empty()) list += ' ';
      list.append(name);
      list += ' ';
      if (!value) list += "NIL";
      else if (value->find('\0') != std::string::npos) append_literal(list, *value, true);
      else append_string(list, *value);
    };
    std::vector<bool> chosen(entries.size());
    std::uint64_t longest = 0;  // RFC 5464 4.2.1: the largest value left out
    for (const auto& name : names) {
      bool found = false;
      for (std::size_t j = 0; j < entries.size(); ++j) {
        if (!within_depth(entries[j].first, name, depth)) continue;
        found = found || entries[j].first == name;
        if (max_size && entries[j].second.size() > *max_size)
          longest = std::max<std::uint64_t>(longest, entries[j].second.size());
        else
          chosen[j] = true;
      }
      if (!found && name != "/private" && name != "/shared") add(name, nullptr);
    }
    for (std::size_t j = 0; j < entries.size(); ++j)
      if (chosen[j]) add(entries[j].first, &entries[j].second);
    std::string out;
    if (!list.empty()) out = "* METADATA " + shown + " (" + list + ")\r\n";
    std::string code = longest ? fmt::format("METADATA LONGENTRIES {}", longest) : std::string();
    return prefixed(std::move(out), finish(ok("GETMETADATA completed", code).output, false));
  });
}

// cmd_setmetadata - RFC 5464 4.3: mailbox (entry value ...), NIL removing
// an entry; every entry is set or none. The server's /shared entries are
// the operator's, read-only to users (RFC 5464 3.3 lets a server refuse).
Session::Outcome Session::cmd_setmetadata(Command& c) {
  if (c.args.size() != 2 || c.args[1].kind != Value::Kind::list || c.args[1].items.empty() ||
      c.args[1].items.size() % 2 != 0)
    return bad("SETMETADATA takes a mailbox and (entry value ...)");
  std::string error;
  auto mailbox = metadata_mailbox(c.args[0], error);
  if (!mailbox) return bad(error);
  request::SetMetadata r{*mailbox, {}, limits_.metadata_max_entries};
  auto& items = c.args[1].items;
  for (std::size_t k = 0; k < items.size(); k += 2) {
    auto name = items[k].is_astring() ? entry_name(items[k].text, false) : std::nullopt;
    if (!name) return bad("Invalid entry name");
    Value& value = items[k + 1];
    if (value.is_nil()) {
      r.entries.emplace_back(std::move(*name), std::nullopt);
      continue;
    }
    if (!value.is_string()) return bad("An entry's value is a string or NIL");
    if (mailbox->empty() && name->starts_with("/shared")) return no("The server's shared entries are read-only", "NOPERM");
    if (value.text.size() > limits_.metadata_max_size)
      return no("Value too long", fmt::format("METADATA MAXSIZE {}", limits_.metadata_max_size));
    r.entries.emplace_back(std::move(*name), std::move(value.text));
  }
  return ask(std::move(r), [this](Answer& a) {
    if (a.error == StoreError::over_quota) return no("Too many entries", "METADATA TOOMANY");
    if (a.error != StoreError::none) return store_failed(a);
    return finish(ok("SETMETADATA completed").output, false);
  });
}

// identifier_arg - an ACL identifier (RFC 4314 2): "anyone", or a user's
// address, in lower case, at most 320 octets (RFC 5321 4.5.3.1: a local
// part of 64, "@", a domain of 255). Negative rights ("-user") are not kept.
std::optional<std::string> identifier_arg(const Value& v) {
  if (!v.is_astring() || v.text.empty() || v.text.size() > 320 || v.text[0] == '-') return std::nullopt;
  for (unsigned char c : v.text)
    if (c <= 0x20 || c == 0x7f) return std::nullopt;
  return to_lower(v.text);
}

// cmd_acl - GETACL, MYRIGHTS and LISTRIGHTS (RFC 4314 3.3-3.5). Reading
// a mailbox's access list needs the 'a' right; MYRIGHTS any right.
Session::Outcome Session::cmd_acl(Command& c) {
  const bool listrights = c.name == "LISTRIGHTS";
  if (c.args.size() != (listrights ? 2u : 1u))
    return bad(fmt::format("{} takes a mailbox{}", c.name, listrights ? " and an identifier" : ""));
  std::string error;
  auto name = mailbox_arg(c.args[0], error);
  if (!name) return bad(error);
  std::optional<std::string> identifier;
  if (listrights && !(identifier = identifier_arg(c.args[1]))) return bad("Invalid identifier");
  const std::string verb = c.name;
  const std::string shown = mailbox_out(*name);
  return ask(request::Acl{*name}, [this, verb, shown, identifier](Answer& a) {
    if (a.error != StoreError::none) return store_failed(a);
    const auto& acl = std::get<answer::Acl>(a.value);
    const Rights mine = acl.rights.empty() ? Rights::all() : Rights::parse(acl.rights).value_or(Rights());
    std::string out;
    if (verb == "MYRIGHTS") {
      out = "* MYRIGHTS " + shown + " " + mine.str() + "\r\n";
    } else if (!mine.has('a')) {
      return no("Permission denied", "NOPERM");
    } else if (verb == "GETACL") {
      out = "* ACL " + shown + " ";
      append_astring(out, acl.owner);
      out += " " + Rights::all().str();
      for (const auto& [who, rights] : acl.entries) {
        out += ' ';
        append_astring(out, who);
        out += " " + Rights::parse(rights).value_or(Rights()).str();
      }
      out += "\r\n";
    } else {
      // RFC 4314 3.4: the owner holds every right; anyone else may be
      // given each one alone.
      out = "* LISTRIGHTS " + shown + " ";
      append_astring(out, *identifier);
      if (*identifier == acl.owner) {
        out += " " + Rights::all().str();
      } else {
        out += " \"\"";
        for (char r : Rights::kLetters) out += fmt::format(" {}", r);
      }
      out += "\r\n";
    }
    return prefixed(std::move(out), finish(ok(verb + " completed").output, false));
  });
}

// cmd_setacl - SETACL and DELETEACL (RFC 4314 3.1, 3.2); the driver checks
// the 'a' right.
Session::Outcome Session::cmd_setacl(Command& c) {
  const bool set = c.name == "SETACL";
  if (c.args.size() != (set ? 3u : 2u))
    return bad(set ? "SETACL takes a mailbox, an identifier and rights" : "DELETEACL takes a mailbox and an identifier");
  std::string error;
  auto name = mailbox_arg(c.args[0], error);
  if (!name) return bad(error);
  auto identifier = identifier_arg(c.args[1]);
  if (!identifier) {
    if (c.args[1].is_astring() && !c.args[1].text.empty() && c.args[1].text[0] == '-')
      return no("Negative rights are not supported", "CANNOT");
    return bad("Invalid identifier");
  }
  request::SetAcl r{*name, *identifier, std::nullopt};
  if (set) {
    if (!c.args[2].is_astring() || !parse_rights_change(c.args[2].text)) return bad("Invalid rights");
    r.rights = c.args[2].text;
  }
  const std::string verb = c.name;
  return ask(std::move(r), [this, verb](Answer& a) {
    if (a.error != StoreError::none) return store_failed(a);
    return finish(ok(verb + " completed").output, false);
  });
}

// cmd_quota - RFC 9208: one quota root, "", for all of a user's
// mailboxes, with the STORAGE resource in units of 1024 octets. Users do
// not set their own quota (the operator does, `herald quota set`).
Session::Outcome Session::cmd_quota(Command& c) {
  if (c.name == "SETQUOTA") {
    if (c.args.size() != 2) return bad("SETQUOTA takes a root and a list of limits");
    return no("Permission denied", "NOPERM");
  }
  if (c.args.size() != 1 || !c.args[0].is_astring()) return bad(fmt::format("{} takes one argument", c.name));
  std::string root_of;
  if (c.name == "GETQUOTAROOT") {
    std::string error;
    auto name = mailbox_arg(c.args[0], error);
    if (!name) return bad(error);
    root_of = mailbox_out(*name);
  } else if (!c.args[0].text.empty()) {
    return no("No such quota root", "NONEXISTENT");
  }
  const std::string verb = c.name;
  return ask(request::Quota{}, [this, root_of, verb](Answer& a) {
    if (a.error != StoreError::none) return store_failed(a);
    const auto& q = std::get<answer::Quota>(a.value);
    Outcome o;
    if (verb == "GETQUOTAROOT") o.output = "* QUOTAROOT " + root_of + (q.limit ? " \"\"" : "") + "\r\n";
    if (q.limit) o.output += fmt::format("* QUOTA \"\" (STORAGE {} {})\r\n", (q.used + 1023) / 1024, q.limit / 1024);
    else if (verb == "GETQUOTA") return no("No such quota root", "NONEXISTENT");
    o.output += ok(verb + " completed").output;
    return o;
  });
}

// cmd_idle - RFC 2177: changes are told as they come until DONE.
Session::Outcome Session::cmd_idle(Command& c) {
  if (!c.args.empty()) return bad("IDLE takes no arguments");
  reader_.expect_line();
  idling_ = true;
  Outcome o;
  o.output = "+ idling\r\n";
  if (state_ == State::selected) {
    // What changed before IDLE began is told at once.
    request::Changes r{view_.id(), view_.modseq()};
    return ask(r, [this](Answer& a) {
      Outcome out;
      out.output = "+ idling\r\n";
      if (a.error == StoreError::none && state_ == State::selected)
        view_.apply(std::get<answer::Changes>(a.value), true, view_options_, out.output);
      out.action = Action::idle;
      return out;
    });
  }
  o.action = Action::idle;
  return o;
}

Session::Outcome Session::idle_line(std::string line) {
  idling_ = false;
  if (!iequals(line, "DONE")) return bad("Expected DONE");
  return finish(ok("IDLE terminated").output, true);
}

}  // namespace herald::imap
