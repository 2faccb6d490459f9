// imap/session_selected.cpp - the commands of the selected state (RFC 9051
// 6.4): CLOSE, UNSELECT (RFC 3691), EXPUNGE, SEARCH (with ESEARCH's
// RETURN options, RFC 4731), FETCH, STORE, COPY, MOVE (RFC 6851), and
// their UID forms with UIDPLUS (RFC 4315).
//
// FETCH and SEARCH go through the messages a batch at a time
// (ImapLimits::fetch_batch): each batch is one store request, its
// responses are written before the next is asked, so a FETCH of a large
// mailbox holds one batch of messages in memory, never the mailbox.
#include <algorithm>

#include <fmt/format.h>

#include "base/text.h"
#include "imap/fetch.h"
#include "imap/fetch_spec.h"
#include "imap/search.h"
#include "imap/sort.h"
#include "mime/header.h"
#include "imap/session.h"

namespace herald::imap {

struct FetchJob {
  FetchSpec spec;
  FetchSpec spec_with_flags;  // for messages this FETCH marked \Seen (RFC 9051 6.4.5)
  FetchOptions options;
  std::vector<std::uint32_t> msns;
  std::size_t next = 0;
  bool by_uid = false;
  bool expunge_issued = false;
  bool unknown_cte = false;
  std::optional<SequenceSet> uid_set;  // VANISHED: the UIDs asked
  std::function<Session::Outcome()> done;  // instead of the tagged reply (fetch_untagged)
};

struct SearchJob {
  SearchProgram program;
  SearchNeed need = SearchNeed::meta;
  std::vector<std::uint32_t> candidates;  // sequence numbers
  std::size_t next = 0;
  std::vector<std::uint32_t> found;       // sequence numbers
  bool by_uid = false;
  bool esearch = false;
  bool min = false, max = false, all = false, count = false;
  bool modseq = false;  // a MODSEQ key: the highest MODSEQ found goes out (RFC 7162 3.1.5)
  bool save = false;    // RETURN (SAVE): the result becomes "$" (RFC 5182)
  bool quiet = false;   // SAVE alone: no ESEARCH response
  // SORT and THREAD (RFC 5256): the header sections of what was found.
  std::optional<std::vector<SortKey>> sort;
  std::optional<ThreadAlgorithm> thread;
  std::vector<std::string> headers;  // per found message, in order
  // BODY and TEXT keys with the index's answers (RFC 9051 6.4.4 from the
  // store's full-text index; usable false: the key has no words to look up).
  struct TextAnswer {
    const SearchKey* key = nullptr;
    bool usable = false;
    std::vector<std::uint32_t> matches, unindexed;
  };
  std::vector<TextAnswer> text;
  std::size_t text_next = 0;
};

namespace {

// A batch of metadata-only FETCH responses: bounded as the output is.
constexpr std::size_t kMetaBatch = 1000;
// BODY and TEXT keys in one SEARCH at most.
constexpr std::size_t kMaxTextKeys = 16;
// A SEARCH that reads only the kept envelopes takes this many batches'
// worth of messages per read: each read is a trip to the blocking pool
// and a read transaction, and an envelope is small (the structures read
// with them stop at batch_octets: Read::max_octets).
constexpr std::size_t kEnvelopeBatches = 8;

std::optional<SequenceSet> sequence_arg(const Value& v) {
  if (v.kind != Value::Kind::atom) return std::nullopt;
  return SequenceSet::parse(v.text);
}

// ordering_fields - the fields SORT and THREAD read (RFC 5256), each cut
// to kOrderingField octets: what a search keeps of every match, so a
// message with a huge header costs what these fields are allowed.
std::string ordering_fields(std::string_view header) {
  static constexpr const char* kFields[] = {"Date", "Subject", "From", "To", "Cc", "Message-ID", "In-Reply-To",
                                            "References"};
  constexpr std::size_t kOrderingField = 4096;  // References keeps its last ids (sort.h reads the last 64)
  std::string out;
  for (const char* name : kFields) {
    auto values = mime::field_values(header, name);
    if (values.empty()) continue;
    std::string_view v = values.front();
    if (v.size() > kOrderingField) v = std::string_view(name) == "References" ? v.substr(v.size() - kOrderingField)
                                                                            : v.substr(0, kOrderingField);
    out += std::string(name) + ": " + std::string(v) + "\r\n";
  }
  return out + "\r\n";
}

// header_section - the octets up to and including the blank line.
std::string_view header_section(std::string_view message) {
  std::size_t end = message.find("\r\n\r\n");
  if (end != std::string_view::npos) return message.substr(0, end + 4);
  end = message.find("\n\n");
  return end == std::string_view::npos ? message : message.substr(0, end + 2);
}

}  // namespace

bool Session::resolve(const SequenceSet& set, std::vector<std::uint32_t>& msns) const {
  if (!set.saved()) return view_.resolve(set, uid_, msns);
  // RFC 5182 2.1: "$" is the saved result, less what has been expunged.
  msns.clear();
  for (auto uid : saved_uids_)
    if (auto msn = view_.msn_of(uid)) msns.push_back(msn);
  return true;
}

Session::Outcome Session::cmd_uid(Command& c) {
  if (c.args.empty() || c.args[0].kind != Value::Kind::atom) return bad("UID takes a command");
  Command inner;
  inner.tag = c.tag;
  inner.name = to_upper(c.args[0].text);
  inner.args.assign(std::make_move_iterator(c.args.begin() + 1), std::make_move_iterator(c.args.end()));
  if (inner.name != "FETCH" && inner.name != "STORE" && inner.name != "SEARCH" && inner.name != "COPY" &&
      inner.name != "MOVE" && inner.name != "EXPUNGE" && inner.name != "SORT" && inner.name != "THREAD")
    return bad(fmt::format("Unknown UID command {}", printable(inner.name, 40)));
  uid_ = true;
  if (inner.name == "FETCH") return cmd_fetch(inner);
  if (inner.name == "STORE") return cmd_store(inner);
  if (inner.name == "SEARCH") return cmd_search(inner);
  if (inner.name == "SORT" || inner.name == "THREAD") return cmd_sort(inner);
  if (inner.name == "EXPUNGE") return cmd_expunge(inner);
  return cmd_copy(inner);
}

// cmd_close - CLOSE expunges silently (RFC 9051 6.4.1), UNSELECT does not
// (RFC 3691); both leave the selected state.
Session::Outcome Session::cmd_close(Command& c) {
  if (!c.args.empty()) return bad(fmt::format("{} takes no arguments", c.name));
  const std::string done = c.name + " completed";
  saved_uids_.clear();  // RFC 5182 2.1
  // Without 'e' (RFC 4314 4) CLOSE closes without expunging.
  if (c.name == "UNSELECT" || read_only_ || !rights_.has('e')) {
    unselect();
    return ok(done);
  }
  return ask(request::Expunge{view_.id(), std::nullopt}, [this, done](Answer& a) {
    unselect();  // the mailbox is closed, even if the expunge failed
    if (a.error != StoreError::none) return store_failed(a);
    return ok(done);
  });
}

// cmd_expunge - EXPUNGE, and UID EXPUNGE of a set (RFC 4315 2.1).
Session::Outcome Session::cmd_expunge(Command& c) {
  std::optional<std::vector<std::uint32_t>> only;
  if (uid_) {
    if (c.args.size() != 1) return bad("UID EXPUNGE takes a UID set");
    auto set = sequence_arg(c.args[0]);
    if (!set) return bad("Invalid UID set");
    std::vector<std::uint32_t> msns;
    resolve(*set, msns);
    only.emplace();
    for (auto m : msns) only->push_back(view_.at(m).uid);
    if (only->empty()) return finish(ok("EXPUNGE completed").output, true);
  } else if (!c.args.empty()) {
    return bad("EXPUNGE takes no arguments");
  }
  if (read_only_) return no("Mailbox is read-only", "READ-ONLY");
  if (!rights_.has('e')) return no("Permission denied", "NOPERM");  // RFC 4314 4
  return ask(request::Expunge{view_.id(), std::move(only)}, [this](Answer& a) {
    if (a.error != StoreError::none) return store_failed(a);
    Outcome o;
    view_.expunged(std::get<answer::Expunged>(a.value).uids, view_options_, o.output);
    return prefixed(std::move(o.output), finish(ok("EXPUNGE completed").output, true));
  });
}

// ---- FETCH ------------------------------------------------------------------

Session::Outcome Session::cmd_fetch(Command& c) {
  if (c.args.size() < 2) return bad("FETCH takes a set and items");
  auto set = sequence_arg(c.args[0]);
  if (!set) return bad("Invalid sequence set");
  std::string error;
  auto spec = parse_fetch(c.args, 1, error);
  if (!spec) return bad(error);
  // RFC 7162 3.2.6: VANISHED only with UID FETCH, CHANGEDSINCE and QRESYNC.
  if (spec->vanished && (!uid_ || !spec->changed_since || !view_options_.qresync))
    return bad("VANISHED needs UID FETCH, CHANGEDSINCE and QRESYNC enabled");
  auto job = std::make_shared<FetchJob>();
  if (!resolve(*set, job->msns)) return bad("Invalid message number");
  // RFC 7162 3.1: MODSEQ and CHANGEDSINCE enable CONDSTORE.
  if (spec->changed_since || spec->has(FetchItem::Kind::modseq)) enable_condstore();
  if (spec->changed_since) {
    std::erase_if(job->msns, [&](std::uint32_t m) { return view_.at(m).modseq <= spec->changed_since; });
    job->options.modseq = true;
  }
  // RFC 7162 3.1.4: with CONDSTORE on, FLAGS go out with their MODSEQ
  // (those a \Seen set by this FETCH reports too).
  // Without 's' (RFC 4314 4) reading a message leaves \Seen as it is.
  const bool may_set_seen = !read_only_ && rights_.has('s');
  if (view_options_.condstore && (spec->has(FetchItem::Kind::flags) || (spec->sets_seen && may_set_seen)))
    job->options.modseq = true;
  job->by_uid = uid_;
  job->options.uid = uid_;
  job->options.form = form();
  job->spec = std::move(*spec);
  if (!may_set_seen) job->spec.sets_seen = false;
  job->spec_with_flags = job->spec;
  if (!job->spec.has(FetchItem::Kind::flags)) job->spec_with_flags.items.push_back(FetchItem{});  // Kind::flags
  if (job->spec.vanished) {
    job->uid_set = *set;
    return fetch_vanished(job);
  }
  return fetch_batch(job);
}

// fetch_vanished - UID FETCH's VANISHED (EARLIER): the UIDs of the set
// expunged after CHANGEDSINCE (RFC 7162 3.2.6), before the FETCH responses.
Session::Outcome Session::fetch_vanished(std::shared_ptr<FetchJob> job) {
  request::Changes r{view_.id(), job->spec.changed_since};
  return ask(r, [this, job](Answer& a) {
    if (a.error != StoreError::none) return store_failed(a);
    std::vector<std::uint32_t> vanished;
    // "*" reaches past the largest UID left: an expunged last message counts.
    for (auto uid : std::get<answer::Changes>(a.value).expunged)
      if (job->uid_set->contains(uid, 0xffffffff) && !view_.msn_of(uid)) vanished.push_back(uid);
    Outcome o;
    if (!vanished.empty()) {
      o.output = "* VANISHED (EARLIER) ";
      append_uid_set(o.output, vanished);
      o.output += "\r\n";
    }
    return prefixed(std::move(o.output), fetch_batch(job));
  });
}

Session::Outcome Session::fetch_untagged(const FetchSpec& spec, std::vector<std::uint32_t> msns,
                                         std::function<Outcome()> done) {
  auto job = std::make_shared<FetchJob>();
  job->spec = job->spec_with_flags = spec;
  job->options.uid = true;  // the client may not know the sequence numbers yet
  job->options.modseq = view_options_.condstore && spec.has(FetchItem::Kind::flags);
  job->options.form = form();
  job->msns = std::move(msns);
  job->done = std::move(done);
  return fetch_batch(job);
}

Session::Outcome Session::fetch_batch(std::shared_ptr<FetchJob> job) {
  if (job->next >= job->msns.size()) {
    if (job->done) return job->done();
    std::string tagged = job->unknown_cte        ? no("Unknown content-transfer-encoding", "UNKNOWN-CTE").output
                         : job->expunge_issued ? ok("Some messages were expunged", "EXPUNGEISSUED").output
                                               : ok("FETCH completed").output;
    return finish(std::move(tagged), job->by_uid);
  }
  const bool reads = job->spec.needs_structure || job->spec.needs_octets;
  std::size_t n = std::min(job->msns.size() - job->next, reads ? limits_.fetch_batch : kMetaBatch);
  if (job->spec.needs_octets) {
    // A batch of whole messages is bounded in octets too (at least one).
    std::uint64_t octets = 0;
    for (std::size_t i = 0; i < n; ++i) {
      octets += view_.at(job->msns[job->next + i]).size;
      if (octets > limits_.batch_octets) {
        n = std::max<std::size_t>(i, 1);
        break;
      }
    }
  }
  std::vector<std::uint32_t> batch(job->msns.begin() + job->next, job->msns.begin() + job->next + n);
  job->next += n;
  if (!reads) {
    Outcome o;
    for (auto msn : batch) {
      FetchSource src;
      src.meta = &view_.at(msn);
      append_fetch(o.output, msn, job->spec, src, job->options);
    }
    o.then = [this, job](Answer&) { return fetch_batch(job); };  // after a flush
    return o;
  }
  request::Read r;
  r.mailbox_id = view_.id();
  r.structure = job->spec.needs_structure;
  r.octets = job->spec.needs_octets;
  for (auto msn : batch) r.uids.push_back(view_.at(msn).uid);
  return ask(std::move(r), [this, job, batch](Answer& a) -> Outcome {
    if (a.error != StoreError::none) return store_failed(a);
    auto read = std::make_shared<answer::Read>(std::move(std::get<answer::Read>(a.value)));
    // write - the batch's responses, once any \Seen it sets is stored.
    auto write = [this, job, batch, read](const std::vector<std::uint32_t>& marked) {
      Outcome o;
      for (std::size_t i = 0; i < batch.size() && i < read->messages.size(); ++i) {
        const answer::Message& m = read->messages[i];
        if (!m.found || view_.gone(m.uid)) {
          job->expunge_issued = true;
          continue;
        }
        std::optional<mime::Part> structure;
        if (!m.structure.empty()) structure = mime::decode(m.structure);
        if (!structure && job->spec.needs_structure) structure = mime::structure_of(m.octets);
        FetchSource src;
        src.meta = &view_.at(batch[i]);
        src.structure = structure ? &*structure : nullptr;
        src.prefix_size = m.structure.empty() ? 0 : m.prefix_size;
        src.octets = m.octets;
        bool was_marked = std::find(marked.begin(), marked.end(), m.uid) != marked.end();
        if (!append_fetch(o.output, batch[i], was_marked ? job->spec_with_flags : job->spec, src, job->options))
          job->unknown_cte = true;
      }
      o.then = [this, job](Answer&) { return fetch_batch(job); };
      return o;
    };
    if (!job->spec.sets_seen) return write({});
    request::StoreFlags mark;
    mark.mailbox_id = view_.id();
    mark.change = request::StoreFlags::Change::add;
    mark.flags = kSeen;
    for (auto msn : batch)
      if (!(view_.at(msn).flags & kSeen)) mark.uids.push_back(view_.at(msn).uid);
    if (mark.uids.empty()) return write({});
    return ask(std::move(mark), [this, write](Answer& stored) {
      std::vector<std::uint32_t> marked;
      if (stored.error == StoreError::none)
        for (const auto& m : std::get<answer::Stored>(stored.value).changed) {
          view_.update(m);
          marked.push_back(m.uid);
        }
      return write(marked);
    });
  });
}

// ---- STORE ------------------------------------------------------------------

Session::Outcome Session::cmd_store(Command& c) {
  if (c.args.size() < 3) return bad("STORE takes a set, an item and flags");
  auto set = sequence_arg(c.args[0]);
  if (!set) return bad("Invalid sequence set");
  std::size_t i = 1;
  request::StoreFlags r;
  if (c.args[i].kind == Value::Kind::list) {
    // RFC 7162 3.1.3: (UNCHANGEDSINCE modseq); it enables CONDSTORE.
    const auto& mods = c.args[i].items;
    if (mods.size() != 2 || !mods[0].is_atom("UNCHANGEDSINCE") || mods[1].kind != Value::Kind::atom)
      return bad("Unknown STORE modifier");
    auto n = parse_uint(mods[1].text);
    if (!n) return bad("Invalid UNCHANGEDSINCE");
    r.unchanged_since = *n;
    enable_condstore();
    if (++i + 1 >= c.args.size()) return bad("STORE takes a set, an item and flags");
  }
  if (c.args[i].kind != Value::Kind::atom) return bad("Invalid STORE item");
  std::string item = to_upper(c.args[i].text);
  ++i;
  bool silent = false;
  if (item.size() > 7 && item.ends_with(".SILENT")) {
    silent = true;
    item.resize(item.size() - 7);
  }
  if (item == "FLAGS") r.change = request::StoreFlags::Change::replace;
  else if (item == "+FLAGS") r.change = request::StoreFlags::Change::add;
  else if (item == "-FLAGS") r.change = request::StoreFlags::Change::remove;
  else return bad("Invalid STORE item");
  // RFC 3501 6.4.6: a flag list, or flags as atoms.
  Value flags{Value::Kind::list, "", false, {}};
  if (i + 1 == c.args.size() && c.args[i].kind == Value::Kind::list) flags = c.args[i];
  else flags.items.assign(c.args.begin() + i, c.args.end());
  if (!parse_flags(flags, r.flags, r.keywords, true)) return bad("Invalid flags");
  std::vector<std::uint32_t> msns;
  if (!resolve(*set, msns)) return bad("Invalid message number");
  if (read_only_) return no("Mailbox is read-only", "READ-ONLY");
  // RFC 4314 4: \Seen needs 's', \Deleted 't', the other flags 'w'; FLAGS
  // replaces them all.
  const std::uint32_t others = r.flags & ~static_cast<std::uint32_t>(kSeen | kDeleted);
  const bool replace = r.change == request::StoreFlags::Change::replace;
  if (((replace || (r.flags & kSeen)) && !rights_.has('s')) || ((replace || (r.flags & kDeleted)) && !rights_.has('t')) ||
      ((replace || others || !r.keywords.empty()) && !rights_.has('w')))
    return no("Permission denied", "NOPERM");
  r.mailbox_id = view_.id();
  for (auto m : msns)
    if (!view_.gone(view_.at(m).uid)) r.uids.push_back(view_.at(m).uid);
  const bool by_uid = uid_;
  if (r.uids.empty()) return finish(ok("STORE completed").output, by_uid);
  return ask(std::move(r), [this, silent, by_uid, msns](Answer& a) {
    if (a.error != StoreError::none) return store_failed(a);
    auto& stored = std::get<answer::Stored>(a.value);
    std::vector<std::uint32_t> changed_uids;
    changed_uids.reserve(stored.changed.size());
    for (const auto& m : stored.changed) {
      view_.update(m);
      changed_uids.push_back(m.uid);
    }
    // Sorted once, looked up per message: a STORE 1:* stays linear.
    std::sort(changed_uids.begin(), changed_uids.end());
    std::sort(stored.modified.begin(), stored.modified.end());
    const bool modseq = view_options_.condstore;
    Outcome o;
    for (auto msn : msns) {
      const MessageMeta& m = view_.at(msn);
      if (view_.gone(m.uid)) continue;
      if (std::binary_search(stored.modified.begin(), stored.modified.end(), m.uid)) continue;
      // .SILENT still tells MODSEQ changes under CONDSTORE (RFC 7162 3.1.3).
      bool changed = std::binary_search(changed_uids.begin(), changed_uids.end(), m.uid);
      if (silent && !(modseq && changed)) continue;
      o.output += fmt::format("* {} FETCH (", msn);
      if (by_uid) o.output += fmt::format("UID {} ", m.uid);
      if (modseq) o.output += fmt::format("MODSEQ ({}) ", m.modseq);
      if (!silent) {
        o.output += "FLAGS ";
        append_flags(o.output, m.flags, m.keywords);
      } else {
        o.output.pop_back();
      }
      o.output += ")\r\n";
    }
    std::string tagged = ok("STORE completed").output;
    if (!stored.modified.empty()) {
      // The numbers of the messages not changed, as the command named them.
      std::vector<std::uint32_t> numbers;
      for (auto uid : stored.modified)
        if (auto msn = view_.msn_of(uid)) numbers.push_back(by_uid ? uid : msn);
      std::sort(numbers.begin(), numbers.end());
      std::string code = "MODIFIED ";
      append_uid_set(code, numbers);
      tagged = ok("Conditional STORE failed", code).output;
    }
    return prefixed(std::move(o.output), finish(std::move(tagged), by_uid));
  });
}

// ---- COPY and MOVE ------------------------------------------------------------

Session::Outcome Session::cmd_copy(Command& c) {
  const bool move = c.name == "MOVE";
  if (c.args.size() != 2) return bad(fmt::format("{} takes a set and a mailbox", c.name));
  auto set = sequence_arg(c.args[0]);
  if (!set) return bad("Invalid sequence set");
  std::string error;
  auto to = mailbox_arg(c.args[1], error);
  if (!to) return bad(error);
  std::vector<std::uint32_t> msns;
  if (!resolve(*set, msns)) return bad("Invalid message number");
  if (move && read_only_) return no("Mailbox is read-only", "READ-ONLY");
  if (move && !(rights_.has('t') && rights_.has('e'))) return no("Permission denied", "NOPERM");  // RFC 4314 4
  request::Copy r{view_.id(), {}, *to, move};
  for (auto m : msns)
    if (!view_.gone(view_.at(m).uid)) r.uids.push_back(view_.at(m).uid);
  const bool by_uid = uid_;
  const std::string verb = c.name;
  if (r.uids.empty()) return finish(ok(verb + " completed").output, by_uid);
  return ask(std::move(r), [this, move, by_uid, verb, into = *to](Answer& a) {
    if (a.error == StoreError::nonexistent) return no("Mailbox doesn't exist", "TRYCREATE");
    if (a.error != StoreError::none) return store_failed(a);
    note_own_change(into);
    const auto& copied = std::get<answer::Copied>(a.value);
    std::string code;
    if (!copied.from.empty()) {
      code = fmt::format("COPYUID {} ", copied.uidvalidity);
      append_uid_set(code, copied.from);
      code += ' ';
      append_uid_set(code, copied.to);
    }
    if (!move) return finish(ok(verb + " completed", code).output, by_uid);
    // RFC 6851 4.3: COPYUID in an untagged OK, then the expunges.
    Outcome o;
    if (!code.empty()) o.output = "* OK [" + code + "] Moved\r\n";
    view_.expunged(copied.from, view_options_, o.output);
    return prefixed(std::move(o.output), finish(ok("MOVE completed").output, true));
  });
}

// ---- SEARCH -------------------------------------------------------------------

Session::Outcome Session::cmd_search(Command& c) {
  auto job = std::make_shared<SearchJob>();
  std::size_t from = 0;
  job->esearch = rev2_;
  if (!c.args.empty() && c.args[0].is_atom("RETURN")) {
    // RFC 4731 3.1 (ESEARCH): RETURN (MIN MAX ALL COUNT); () means ALL.
    if (c.args.size() < 2 || c.args[1].kind != Value::Kind::list) return bad("RETURN takes a list");
    for (const auto& o : c.args[1].items) {
      if (o.is_atom("MIN")) job->min = true;
      else if (o.is_atom("MAX")) job->max = true;
      else if (o.is_atom("ALL")) job->all = true;
      else if (o.is_atom("COUNT")) job->count = true;
      else if (o.is_atom("SAVE")) job->save = true;
      else return bad("Unknown SEARCH return option");
    }
    job->esearch = true;
    from = 2;
  }
  // RFC 4731 3.1: no option but SAVE means ALL; RFC 5182 2.1: SAVE alone
  // writes no ESEARCH.
  job->quiet = job->save && !job->min && !job->max && !job->count && !job->all;
  if (!job->min && !job->max && !job->count) job->all = true;
  SearchParse parsed = parse_search(c.args, from, true);
  // RFC 5182 2.1: a SEARCH ... SAVE that fails leaves "$" empty.
  if (job->save && (parsed.bad_charset || !parsed.program)) saved_uids_.clear();
  return start_search(job, std::move(parsed));
}

// cmd_sort - SORT (RFC 5256 3) and THREAD (RFC 5256 4): criteria or an
// algorithm, a charset (required), then search keys.
Session::Outcome Session::cmd_sort(Command& c) {
  const bool thread = c.name == "THREAD";
  if (c.args.size() < 3) return bad(fmt::format("{} takes {}, a charset and search keys", c.name,
                                                thread ? "an algorithm" : "sort criteria"));
  auto job = std::make_shared<SearchJob>();
  if (thread) {
    auto algorithm = c.args[0].kind == Value::Kind::atom ? parse_thread_algorithm(c.args[0].text) : std::nullopt;
    if (!algorithm) return bad("Unknown threading algorithm");
    job->thread = *algorithm;
  } else {
    std::string error;
    job->sort = parse_sort_criteria(c.args[0], error);
    if (!job->sort) return bad(error);
  }
  if (!c.args[1].is_astring()) return bad("Missing charset");
  if (!iequals(c.args[1].text, "UTF-8") && !iequals(c.args[1].text, "US-ASCII"))
    return no("Unsupported charset", "BADCHARSET (UTF-8 US-ASCII)");
  return start_search(job, parse_search(c.args, 2, false));
}

Session::Outcome Session::start_search(std::shared_ptr<SearchJob> job, SearchParse parsed) {
  if (parsed.bad_charset) return no("Unsupported charset", "BADCHARSET (UTF-8 US-ASCII)");
  if (!parsed.program) return bad(parsed.error);
  job->program = std::move(*parsed.program);
  // Each BODY or TEXT key is a query of the index: a handful is plenty.
  auto text = text_keys(job->program.root);
  if (text.size() > kMaxTextKeys) return bad("Too many BODY and TEXT keys");
  for (const SearchKey* k : text) job->text.push_back({k, false, {}, {}});
  job->modseq = uses_modseq(job->program.root);
  if (job->modseq) enable_condstore();  // RFC 7162 3.1.5
  job->by_uid = uid_;
  for (std::uint32_t m = 1; m <= view_.exists(); ++m)
    if (!view_.gone(view_.at(m).uid)) job->candidates.push_back(m);
  return search_text(job);
}

// search_text - the index's answer to each BODY and TEXT key, then the
// search proper, reading only what the index could not answer.
Session::Outcome Session::search_text(std::shared_ptr<SearchJob> job) {
  if (job->text_next < job->text.size()) {
    const SearchKey& key = *job->text[job->text_next].key;
    request::TextSearch r{view_.id(), key.text, key.kind == SearchKey::Kind::body};
    return ask(std::move(r), [this, job](Answer& a) {
      auto& t = job->text[job->text_next++];
      if (a.error == StoreError::none) {
        auto& found = std::get<answer::TextFound>(a.value);
        t.usable = true;
        t.matches = std::move(found.matches);
        t.unindexed = std::move(found.unindexed);
      } else if (a.error != StoreError::invalid) {
        return store_failed(a);
      }  // invalid: no words to look up; the messages are scanned
      return search_text(job);
    });
  }
  const bool all_indexed = std::all_of(job->text.begin(), job->text.end(),
                                       [](const SearchJob::TextAnswer& t) { return t.usable && t.unindexed.empty(); });
  job->need = all_indexed ? need_indexed(job->program.root) : need(job->program.root);
  // SORT reads the envelope of every message it orders, THREAD the header
  // (References is no envelope field).
  if (job->sort) job->need = std::max(job->need, SearchNeed::envelope);
  if (job->thread) job->need = std::max(job->need, SearchNeed::header);
  return search_batch(job);
}

// ordered - SORT's and THREAD's response from what the search found.
std::string Session::ordered(const SearchJob& job) const {
  std::vector<SortInput> inputs;
  for (std::size_t i = 0; i < job.found.size(); ++i) {
    const std::uint32_t msn = job.found[i];
    inputs.push_back({job.by_uid ? view_.at(msn).uid : msn, &view_.at(msn), job.headers[i]});
  }
  std::string out;
  if (job.sort) {
    out = "* SORT";
    for (auto id : sort_messages(inputs, *job.sort)) out += fmt::format(" {}", id);
  } else {
    out = "* THREAD ";
    append_threads(out, thread_messages(inputs, *job.thread));
  }
  return out + "\r\n";
}

Session::Outcome Session::search_batch(std::shared_ptr<SearchJob> job) {
  const std::int64_t now = clock_ ? clock_() : 0;
  auto input = [this, now, job](std::uint32_t msn) {
    SearchInput in;
    in.msn = msn;
    in.largest_msn = view_.exists();
    in.largest_uid = view_.largest_uid();
    in.meta = &view_.at(msn);
    in.now = now;
    in.saved_uids = saved_uids_;
    if (!job->text.empty()) {
      const std::uint32_t uid = view_.at(msn).uid;
      const SearchJob* j = job.get();  // lives as long as the search: no copy of the pointer per message
      in.indexed = [j, uid](const SearchKey& key) -> std::optional<bool> {
        for (const auto& t : j->text) {
          if (t.key != &key) continue;
          if (!t.usable || std::binary_search(t.unindexed.begin(), t.unindexed.end(), uid)) return std::nullopt;
          return std::binary_search(t.matches.begin(), t.matches.end(), uid);
        }
        return std::nullopt;
      };
    }
    return in;
  };
  if (job->need == SearchNeed::meta) {
    for (auto msn : job->candidates)
      if (matches(job->program.root, input(msn))) job->found.push_back(msn);
    job->next = job->candidates.size();
  }
  if (job->next >= job->candidates.size()) {
    Outcome o;
    std::vector<std::uint32_t> numbers;
    std::uint64_t highest = 0;
    for (auto msn : job->found) {
      numbers.push_back(job->by_uid ? view_.at(msn).uid : msn);
      highest = std::max(highest, view_.at(msn).modseq);
    }
    if (job->save) {
      // RFC 5182 2.1: with MIN or MAX alone, only those are saved.
      std::vector<std::uint32_t> uids;
      for (auto msn : job->found) uids.push_back(view_.at(msn).uid);
      if (!uids.empty() && !job->all && !job->count) {
        std::vector<std::uint32_t> ends;
        if (job->min) ends.push_back(uids.front());
        if (job->max && (!job->min || uids.size() > 1)) ends.push_back(uids.back());
        uids = std::move(ends);
      }
      saved_uids_ = std::move(uids);
    }
    if (job->sort || job->thread) {
      o.output = ordered(*job);
    } else if (job->quiet) {
      // SAVE alone: nothing to say (RFC 5182 2.1).
    } else if (!job->esearch) {
      o.output = "* SEARCH";
      for (auto n : numbers) o.output += fmt::format(" {}", n);
      if (job->modseq && !numbers.empty()) o.output += fmt::format(" (MODSEQ {})", highest);
      o.output += "\r\n";
    } else {
      // RFC 4731 3.1 / RFC 9051 7.3.4.
      o.output = "* ESEARCH (TAG ";
      append_string(o.output, tag_);
      o.output += job->by_uid ? ") UID" : ")";
      if (!numbers.empty()) {
        if (job->min) o.output += fmt::format(" MIN {}", numbers.front());
        if (job->max) o.output += fmt::format(" MAX {}", numbers.back());
      }
      if (job->count) o.output += fmt::format(" COUNT {}", numbers.size());
      if (job->all && !numbers.empty()) {
        o.output += " ALL ";
        append_uid_set(o.output, numbers);
      }
      if (job->modseq && !numbers.empty()) o.output += fmt::format(" MODSEQ {}", highest);
      o.output += "\r\n";
    }
    const char* verb = job->sort ? "SORT completed" : job->thread ? "THREAD completed" : "SEARCH completed";
    return prefixed(std::move(o.output), finish(ok(verb).output, job->by_uid));
  }
  const std::size_t batch_size = limits_.fetch_batch * (job->need == SearchNeed::envelope ? kEnvelopeBatches : 1);
  std::size_t n = std::min(job->candidates.size() - job->next, batch_size);
  if (job->need >= SearchNeed::header) {
    std::uint64_t octets = 0;
    for (std::size_t i = 0; i < n; ++i) {
      octets += view_.at(job->candidates[job->next + i]).size;
      if (octets > limits_.batch_octets) {
        n = std::max<std::size_t>(i, 1);
        break;
      }
    }
  }
  std::vector<std::uint32_t> batch(job->candidates.begin() + job->next, job->candidates.begin() + job->next + n);
  job->next += n;
  request::Read r;
  r.mailbox_id = view_.id();
  // The envelope kept at delivery answers the common header keys without
  // reading the message (issue 14: "computed once, never re-parsed").
  const bool envelope = job->need == SearchNeed::envelope;
  r.structure = envelope;
  r.octets = !envelope;
  r.max_octets = limits_.batch_octets;  // a large batch of envelopes, not of whatever else comes with them
  for (auto msn : batch) r.uids.push_back(view_.at(msn).uid);
  return ask(std::move(r), [this, job, batch, input, envelope](Answer& a) {
    if (a.error != StoreError::none) return store_failed(a);
    const auto& read = std::get<answer::Read>(a.value);
    // Cut short by max_octets: the rest is asked for again.
    if (!read.messages.empty() && read.messages.size() < batch.size())
      job->next -= batch.size() - read.messages.size();
    std::string synthetic;
    for (std::size_t i = 0; i < batch.size() && i < read.messages.size(); ++i) {
      const answer::Message& m = read.messages[i];
      if (!m.found) continue;
      SearchInput in = input(batch[i]);
      std::optional<mime::Envelope> kept;
      if (envelope && !m.structure.empty()) kept = mime::decode_envelope(m.structure);
      if (kept) {
        in.envelope = &*kept;
        // SORT's fields come from a header section (ordering_fields).
        if (job->sort) {
          synthetic = envelope_header(*kept);
          in.header = synthetic;
        }
      } else {
        in.header = header_section(m.octets);  // no structure kept: the store read the message
      }
      in.text = m.octets;
      if (!matches(job->program.root, in)) continue;
      job->found.push_back(batch[i]);
      if (job->sort || job->thread) job->headers.push_back(ordering_fields(in.header));
    }
    return search_batch(job);
  });
}

}  // namespace herald::imap
