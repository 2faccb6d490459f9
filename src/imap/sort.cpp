#include "imap/sort.h"

#include <algorithm>
#include <numeric>
#include <unordered_map>
#include <utility>

#include "base/text.h"
#include "imap/date.h"
#include "imap/search.h"
#include "mime/header.h"

namespace herald::imap {
namespace {

constexpr std::size_t kMaxReferences = 64;     // the last ones: the nearest ancestors
constexpr std::size_t kWalkPerMessage = 4096;  // steps spent proving links free of loops
constexpr std::size_t kMaxDepth = 1024;        // of a ThreadNode tree

// ---- base subject (RFC 5256 2.1) ----

// Subject - the text being reduced: s[b, e).
class Subject {
 public:
  explicit Subject(std::string s) : s_(std::move(s)), e_(s_.size()) {}

  BaseSubject reduce() {
    for (;;) {
      strip_trailers();  // (2)
      strip_leaders();   // (3) to (5)
      // (6) a "[fwd: ...]" wrapper, then again from (2).
      if (e_ - b_ >= 6 && at(b_, "[fwd:") && s_[e_ - 1] == ']') {
        b_ += 5;
        --e_;
        reply_ = true;
        continue;
      }
      return {s_.substr(b_, e_ - b_), reply_};
    }
  }

 private:
  // at - s_ has lit (ASCII, lower case) at i, in any case.
  bool at(std::size_t i, std::string_view lit) const {
    if (e_ - i < lit.size()) return false;
    for (std::size_t k = 0; k < lit.size(); ++k)
      if (ascii_lower(s_[i + k]) != lit[k]) return false;
    return true;
  }

  // blob_end - past the subj-blob ("[" *BLOBCHAR "]" *WSP) at i; 0 when
  // there is none. Octets of UTF-8 count as BLOBCHAR: a list's tag in
  // another script is a tag too.
  std::size_t blob_end(std::size_t i) const {
    if (i >= e_ || s_[i] != '[') return 0;
    std::size_t j = i + 1;
    while (j < e_ && s_[j] != '[' && s_[j] != ']') ++j;
    if (j >= e_ || s_[j] != ']') return 0;
    for (++j; j < e_ && s_[j] == ' ';) ++j;
    return j;
  }

  // refwd_end - past the subj-refwd ("re" / "fw" ["d"], *WSP, an
  // optional blob, ":") at i; 0 when there is none.
  std::size_t refwd_end(std::size_t i) const {
    if (at(i, "re")) {
      i += 2;
    } else if (at(i, "fw")) {
      i += 2;
      if (i < e_ && ascii_lower(s_[i]) == 'd') ++i;
    } else {
      return 0;
    }
    while (i < e_ && s_[i] == ' ') ++i;
    if (std::size_t n = blob_end(i)) i = n;
    return i < e_ && s_[i] == ':' ? i + 1 : 0;
  }

  // (2) subj-trailer: "(fwd)" or WSP, repeatedly.
  void strip_trailers() {
    for (;;) {
      if (e_ > b_ && s_[e_ - 1] == ' ') {
        --e_;
      } else if (e_ - b_ >= 5 && at(e_ - 5, "(fwd)")) {
        e_ -= 5;
        reply_ = true;
      } else {
        return;
      }
    }
  }

  // (3) subj-leader (*subj-blob subj-refwd, or WSP) and (4) a leading blob
  // that leaves something, until (5) neither is left. A run of blobs not
  // followed by a subj-refwd goes whole: (3) would fail after each of
  // them again, so (4) would take them one by one; all but the last when
  // nothing follows them.
  void strip_leaders() {
    for (;;) {
      if (b_ < e_ && s_[b_] == ' ') {
        ++b_;
        continue;
      }
      std::size_t p = b_, last_blob = std::string::npos;
      while (std::size_t n = blob_end(p)) {
        last_blob = p;
        p = n;
      }
      if (std::size_t r = refwd_end(p)) {
        b_ = r;
        reply_ = true;
        continue;
      }
      if (last_blob == std::string::npos) return;
      if (p < e_) {
        b_ = p;
        continue;
      }
      b_ = last_blob;  // the last blob is the subject (subj-middle's note)
      return;
    }
  }

  std::string s_;
  std::size_t b_ = 0, e_;
  bool reply_ = false;
};

// ---- casemap ----

// upper - the simple upper case of a code point below U+0800 (see sort.h).
std::uint32_t upper(std::uint32_t c) {
  if (c >= 'a' && c <= 'z') return c - 0x20;
  if (c == 0xb5) return 0x39c;  // micro sign: Greek capital mu
  if (c >= 0xe0 && c <= 0xfe && c != 0xf7) return c - 0x20;
  if (c == 0xff) return 0x178;
  if (c == 0x131) return 'I';  // dotless i
  if (c == 0x17f) return 'S';  // long s
  if ((c >= 0x100 && c <= 0x137) || (c >= 0x14a && c <= 0x177)) return (c & 1) ? c - 1 : c;
  if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e)) return (c & 1) ? c : c - 1;
  if (c == 0x3c2) return 0x3a3;  // final sigma
  if (c >= 0x3b1 && c <= 0x3cb) return c - 0x20;
  if (c == 0x3ac) return 0x386;
  if (c >= 0x3ad && c <= 0x3af) return c - 0x25;
  if (c == 0x3cc) return 0x38c;
  if (c == 0x3cd || c == 0x3ce) return c - 0x3f;
  if (c >= 0x430 && c <= 0x44f) return c - 0x20;
  if (c >= 0x450 && c <= 0x45f) return c - 0x50;
  return c;
}

// ---- sort values ----

// sent_date - RFC 5256 2.2: the Date: field in UTC, else the internal date.
std::int64_t sent_date(const SortInput& in) {
  auto values = mime::field_values(in.header, "Date");
  if (!values.empty())
    if (auto d = parse_message_date(values.front())) return d->seconds;
  return in.meta ? in.meta->internaldate : 0;
}

// first_address - the first address of a field as ENVELOPE gives it: its
// mailbox (a group's name for a group) and its RFC 5957 3 display value
// (the decoded display name, else mailbox@host, else the mailbox).
struct FirstAddress {
  std::string mailbox, display;
};

FirstAddress first_address(std::string_view header, std::string_view field) {
  FirstAddress out;
  auto values = mime::field_values(header, field);
  if (values.empty()) return out;
  for (const auto& e : mime::address_entries(values.front())) {
    if (e.kind == mime::AddressEntry::Kind::group_start) {
      out.mailbox = out.display = e.name;  // (NIL NIL "name" NIL)
    } else if (e.kind == mime::AddressEntry::Kind::mailbox) {
      out.mailbox = e.local;
      out.display = decode_encoded_words(e.name);
      if (out.display.empty()) out.display = e.domain.empty() ? e.local : e.local + "@" + e.domain;
    } else {
      continue;
    }
    break;
  }
  return out;
}

std::string subject_of(std::string_view header) {
  auto values = mime::field_values(header, "Subject");
  return values.empty() ? std::string() : std::move(values.front());
}

struct SortValue {
  std::int64_t number = 0;  // arrival, date, size
  std::string text;         // casemapped
};

SortValue sort_value(const SortInput& in, SortKey::Kind kind) {
  using K = SortKey::Kind;
  SortValue v;
  switch (kind) {
    case K::arrival: v.number = in.meta ? in.meta->internaldate : 0; break;
    case K::date: v.number = sent_date(in); break;
    case K::size: v.number = in.meta ? static_cast<std::int64_t>(in.meta->size) : 0; break;
    case K::subject: v.text = casemap(base_subject(subject_of(in.header))); break;
    case K::from: v.text = casemap(first_address(in.header, "From").mailbox); break;
    case K::to: v.text = casemap(first_address(in.header, "To").mailbox); break;
    case K::cc: v.text = casemap(first_address(in.header, "Cc").mailbox); break;
    case K::displayfrom: v.text = casemap(first_address(in.header, "From").display); break;
    case K::displayto: v.text = casemap(first_address(in.header, "To").display); break;
  }
  return v;
}

int compare(const SortValue& a, const SortValue& b) {
  if (a.number != b.number) return a.number < b.number ? -1 : 1;
  int c = a.text.compare(b.text);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

// ---- threads ----

// Order - where a message sorts among its siblings: sent date, then input order.
struct Order {
  std::int64_t date = 0;
  std::size_t seq = 0;
  bool operator<(const Order& o) const { return date != o.date ? date < o.date : seq < o.seq; }
};

// Info - what threading reads of each message.
struct Info {
  Order order;
  std::string subject;  // the base subject, casemapped
  bool reply = false;
};

std::vector<Info> infos_of(const std::vector<SortInput>& messages) {
  std::vector<Info> out(messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    auto base = extract_base_subject(subject_of(messages[i].header));
    out[i].order = {sent_date(messages[i]), i};
    out[i].subject = casemap(base.text);
    out[i].reply = base.reply_or_forward;
  }
  return out;
}

// msg_ids - the message-ids of a field's value (RFC 5322 3.6.4), without
// their angle brackets: comments skipped, white space inside dropped (the
// obsolete CFWS of 4.5.4), those without "@" not valid.
std::vector<std::string> msg_ids(std::string_view v) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '(') {
      int depth = 1;
      for (++i; i < v.size() && depth > 0; ++i) {
        if (v[i] == '\\') ++i;
        else if (v[i] == '(') ++depth;
        else if (v[i] == ')') --depth;
      }
      --i;
    } else if (v[i] == '<') {
      std::size_t close = v.find_first_of("<>", i + 1);
      if (close == std::string_view::npos) break;
      if (v[close] == '<') {  // "<<id>": the inner one
        i = close - 1;
        continue;
      }
      std::string id;
      for (char c : v.substr(i + 1, close - i - 1))
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') id += c;
      if (id.find('@') != std::string::npos && id.front() != '@' && id.back() != '@') out.push_back(std::move(id));
      i = close;
    }
  }
  return out;
}

// field_ids - the message-ids of the first field called name: the first
// one, or the last max.
std::vector<std::string> field_ids(std::string_view header, std::string_view name, std::size_t max = 1,
                                   bool last = false) {
  auto values = mime::field_values(header, name);
  auto ids = values.empty() ? std::vector<std::string>{} : msg_ids(values.front());
  if (ids.size() > max) {
    auto n = static_cast<std::ptrdiff_t>(max);
    ids = last ? std::vector<std::string>(ids.end() - n, ids.end())
               : std::vector<std::string>(ids.begin(), ids.begin() + n);
  }
  return ids;
}

// Forest - the containers of RFC 5256 4 REFERENCES step 1: one per
// message-id seen and per message, linked child to parent. A child's slot
// is its place in its parent's children, for removal in constant time
// (siblings are sorted later, so their order here does not matter).
class Forest {
 public:
  static constexpr int kNone = -1;

  explicit Forest(std::size_t messages) : budget_(kWalkPerMessage * (messages + 1)) {}

  int add(int message = kNone) {
    nodes_.push_back({message, kNone, 0, {}});
    return static_cast<int>(nodes_.size() - 1);
  }
  int by_id(const std::string& id) {
    auto [it, added] = ids_.try_emplace(id, 0);
    if (added) it->second = add();
    return it->second;
  }
  int& message(int c) { return nodes_[static_cast<std::size_t>(c)].message; }
  int message(int c) const { return nodes_[static_cast<std::size_t>(c)].message; }
  int parent(int c) const { return nodes_[static_cast<std::size_t>(c)].parent; }
  const std::vector<int>& children(int c) const { return nodes_[static_cast<std::size_t>(c)].children; }
  std::size_t size() const { return nodes_.size(); }

  // above - top is node or one of its ancestors: walked up from node and
  // down top's subtree by turns, so the smaller side decides. true also
  // when the budget runs out first (then no link is made: a hostile
  // mailbox gets flatter threads, never a loop).
  bool above(int top, int node) {
    if (top == node) return true;
    down_.assign(1, {top, 0});
    for (int up = node;;) {
      if (budget_ == 0) return true;
      --budget_;
      up = parent(up);
      if (up == kNone) return false;
      if (up == top) return true;
      while (!down_.empty() && down_.back().second == children(down_.back().first).size()) down_.pop_back();
      if (down_.empty()) return false;
      int child = children(down_.back().first)[down_.back().second++];
      if (child == node) return true;
      down_.push_back({child, 0});
    }
  }

  void link(int parent, int child) {
    auto& p = nodes_[static_cast<std::size_t>(parent)];
    auto& c = nodes_[static_cast<std::size_t>(child)];
    c.parent = parent;
    c.slot = p.children.size();
    p.children.push_back(child);
  }

  void unlink(int child) {
    auto& c = nodes_[static_cast<std::size_t>(child)];
    if (c.parent == kNone) return;
    auto& siblings = nodes_[static_cast<std::size_t>(c.parent)].children;
    int moved = siblings.back();
    siblings[c.slot] = moved;
    nodes_[static_cast<std::size_t>(moved)].slot = c.slot;
    siblings.pop_back();
    c.parent = kNone;
  }

 private:
  struct Node {
    int message;  // index of the input; kNone: a dummy
    int parent;
    std::size_t slot;
    std::vector<int> children;
  };
  std::vector<Node> nodes_;
  std::unordered_map<std::string, int> ids_;
  std::size_t budget_;
  std::vector<std::pair<int, std::size_t>> down_;  // the walk down: a node and its next child
};

// Tree - the threads after step 3: node n is the forest's container n
// (new dummies of step 5 are added after them), kids its children with
// dummies below the top spliced out.
struct Tree {
  std::vector<int> message;  // index of the input; -1: a dummy
  std::vector<std::vector<int>> kids;
  std::vector<int> top;

  bool dummy(int n) const { return message[static_cast<std::size_t>(n)] < 0; }
  std::vector<int>& kids_of(int n) { return kids[static_cast<std::size_t>(n)]; }
};

// expand - the nodes of list with every dummy replaced by its children,
// recursively (RFC 5256 4 REFERENCES step 3: dummies below the top are
// deleted, their children promoted), without recursion.
std::vector<int> expand(const Forest& f, const std::vector<int>& list) {
  std::vector<int> out;
  std::vector<std::pair<const std::vector<int>*, std::size_t>> stack{{&list, 0}};
  while (!stack.empty()) {
    auto [l, i] = stack.back();
    if (i == l->size()) {
      stack.pop_back();
      continue;
    }
    ++stack.back().second;
    int c = (*l)[i];
    if (f.message(c) == Forest::kNone) stack.push_back({&f.children(c), 0});
    else out.push_back(c);
  }
  return out;
}

// build - node n with its descendants, at most kMaxDepth deep: the
// descendants of a node at that depth hang below it as siblings, in the
// order a walk of its subtree meets them.
ThreadNode build(const std::vector<SortInput>& messages, Tree& t, int n, std::size_t depth) {
  ThreadNode out;
  int m = t.message[static_cast<std::size_t>(n)];
  if (m >= 0) out.id = messages[static_cast<std::size_t>(m)].id;
  const auto& kids = t.kids_of(n);
  if (depth + 1 < kMaxDepth) {
    out.children.reserve(kids.size());
    for (int k : kids) out.children.push_back(build(messages, t, k, depth + 1));
    return out;
  }
  std::vector<int> stack(kids.rbegin(), kids.rend());
  while (!stack.empty()) {
    int k = stack.back();
    stack.pop_back();
    int km = t.message[static_cast<std::size_t>(k)];
    if (km >= 0) out.children.push_back({messages[static_cast<std::size_t>(km)].id, {}});
    const auto& below = t.kids_of(k);
    stack.insert(stack.end(), below.rbegin(), below.rend());
  }
  return out;
}

std::vector<ThreadNode> to_nodes(const std::vector<SortInput>& messages, Tree& t) {
  std::vector<ThreadNode> out;
  out.reserve(t.top.size());
  for (int n : t.top) out.push_back(build(messages, t, n, 0));
  return out;
}

// link_messages - RFC 5256 4 REFERENCES step 1: the containers of the
// messages and of the message-ids they name, linked.
Forest link_messages(const std::vector<SortInput>& messages) {
  Forest f(messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    std::string_view header = messages[i].header;
    auto own = field_ids(header, "Message-ID");
    int self = Forest::kNone;
    // (A) A message without a valid Message-ID, or with one an earlier
    // message had, gets a container of its own that nothing can name.
    if (!own.empty()) {
      int c = f.by_id(own.front());
      if (f.message(c) == Forest::kNone) self = c;
    }
    if (self == Forest::kNone) self = f.add();
    f.message(self) = static_cast<int>(i);

    auto refs = field_ids(header, "References", kMaxReferences, true);
    if (refs.empty()) refs = field_ids(header, "In-Reply-To");
    // (B) Each reference the parent of the next, unless the next has a
    // parent already or the link would close a loop.
    int prev = Forest::kNone;
    for (const auto& id : refs) {
      int c = f.by_id(id);
      if (prev != Forest::kNone && f.parent(c) == Forest::kNone && !f.above(c, prev)) f.link(prev, c);
      prev = c;
    }
    // (C) The last reference is the parent, replacing any that the
    // references of other messages implied; none when that is a loop.
    f.unlink(self);
    if (prev != Forest::kNone && !f.above(self, prev)) f.link(prev, self);
  }
  return f;
}

std::vector<ThreadNode> by_references(const std::vector<SortInput>& messages) {
  auto info = infos_of(messages);
  Forest f = link_messages(messages);

  // Steps 2 and 3: the roots, dummies pruned. A dummy at the top stays for
  // two children or more; a single child takes its place.
  Tree t;
  t.message.resize(f.size());
  t.kids.resize(f.size());
  for (std::size_t c = 0; c < f.size(); ++c) {
    int n = static_cast<int>(c);
    t.message[c] = f.message(n);
    if (!t.dummy(n)) t.kids[c] = expand(f, f.children(n));
    if (f.parent(n) != Forest::kNone) continue;
    if (!t.dummy(n)) {
      t.top.push_back(n);
      continue;
    }
    auto kids = expand(f, f.children(n));
    if (kids.size() == 1) {
      t.top.push_back(kids.front());
    } else if (kids.size() > 1) {
      t.kids[c] = std::move(kids);
      t.top.push_back(n);
    }
  }

  // A dummy sorts and is named by its first child.
  auto first = [&](int n) { return t.dummy(n) ? t.kids_of(n).front() : n; };
  auto info_of = [&](int n) -> const Info& {
    return info[static_cast<std::size_t>(t.message[static_cast<std::size_t>(first(n))])];
  };
  auto by_order = [&](int a, int b) { return info_of(a).order < info_of(b).order; };
  // Step 4: the top sorted.
  for (int n : t.top)
    if (t.dummy(n)) std::sort(t.kids_of(n).begin(), t.kids_of(n).end(), by_order);
  std::sort(t.top.begin(), t.top.end(), by_order);

  // Step 5: threads of the same base subject gathered.
  // (B) The table keeps a dummy over a message, a message that is not a
  // reply over one that is, and else the first.
  std::unordered_map<std::string, int> table;
  for (int n : t.top) {
    const Info& s = info_of(n);
    if (s.subject.empty()) continue;
    auto [it, added] = table.try_emplace(s.subject, n);
    int held = it->second;
    if (!added && !t.dummy(held) && (t.dummy(n) || (info_of(held).reply && !s.reply))) it->second = n;
  }
  // (C) Every other thread merged into the table's. A new dummy takes the
  // place of the table's thread, which may come before or after.
  std::unordered_map<int, std::size_t> place;
  for (std::size_t p = 0; p < t.top.size(); ++p) place[t.top[p]] = p;
  std::vector<bool> merged(t.top.size(), false);
  for (std::size_t p = 0; p < t.top.size(); ++p) {
    int n = t.top[p];
    const Info& s = info_of(n);
    if (s.subject.empty()) continue;
    int held = table.at(s.subject);
    if (held == n) continue;
    merged[p] = true;
    bool reply = !t.dummy(n) && s.reply;
    std::vector<int> moved = t.dummy(n) ? t.kids_of(n) : std::vector<int>{n};
    if (t.dummy(held)) {
      // Both dummies: the children become siblings; else n a child of the dummy.
      t.kids_of(held).insert(t.kids_of(held).end(), moved.begin(), moved.end());
    } else if (reply && !info_of(held).reply) {
      t.kids_of(held).push_back(n);
    } else {
      int d = static_cast<int>(t.message.size());
      t.message.push_back(-1);
      moved.insert(moved.begin(), held);
      t.kids.push_back(std::move(moved));
      std::size_t at = place.at(held);
      t.top[at] = d;
      place[d] = at;
      table[s.subject] = d;
    }
  }
  std::vector<int> top;
  for (std::size_t p = 0; p < t.top.size(); ++p)
    if (!merged[p]) top.push_back(t.top[p]);
  t.top = std::move(top);

  // Step 6: every set of siblings sorted (dummies are at the top only),
  // then the top.
  for (std::size_t n = 0; n < t.kids.size(); ++n)
    if (t.kids[n].size() > 1) std::sort(t.kids[n].begin(), t.kids[n].end(), by_order);
  std::sort(t.top.begin(), t.top.end(), by_order);
  return to_nodes(messages, t);
}

// by_ordered_subject - RFC 5256 4 ORDEREDSUBJECT: sorted by base subject
// and sent date, a thread per base subject, its first message the root
// and the others its children; threads by their first message's date.
std::vector<ThreadNode> by_ordered_subject(const std::vector<SortInput>& messages) {
  auto info = infos_of(messages);
  std::vector<std::size_t> order(messages.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    int c = info[a].subject.compare(info[b].subject);
    return c != 0 ? c < 0 : info[a].order < info[b].order;
  });
  std::vector<std::pair<Order, ThreadNode>> threads;
  for (std::size_t k = 0; k < order.size(); ++k) {
    std::size_t i = order[k];
    if (k > 0 && info[order[k - 1]].subject == info[i].subject) {
      threads.back().second.children.push_back({messages[i].id, {}});
    } else {
      threads.push_back({info[i].order, {messages[i].id, {}}});
    }
  }
  std::sort(threads.begin(), threads.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<ThreadNode> out;
  out.reserve(threads.size());
  for (auto& [o, n] : threads) out.push_back(std::move(n));
  return out;
}

// effective_children - n's children with dummies replaced by theirs.
std::vector<const ThreadNode*> effective_children(const ThreadNode& n) {
  std::vector<const ThreadNode*> out;
  std::vector<const ThreadNode*> stack;
  for (auto it = n.children.rbegin(); it != n.children.rend(); ++it) stack.push_back(&*it);
  while (!stack.empty()) {
    const ThreadNode* c = stack.back();
    stack.pop_back();
    if (c->id != 0) {
      out.push_back(c);
      continue;
    }
    for (auto it = c->children.rbegin(); it != c->children.rend(); ++it) stack.push_back(&*it);
  }
  return out;
}

// append_members - the inside of n's thread-list: a chain of single
// replies as numbers, then several replies as one thread-list each
// (thread-members / thread-nested of RFC 5256 5).
void append_members(std::string& out, const ThreadNode& n) {
  const ThreadNode* cur = &n;
  bool first = true;
  for (;;) {
    if (cur->id != 0) {
      if (!first) out += ' ';
      out += std::to_string(cur->id);
      first = false;
    }
    auto kids = effective_children(*cur);
    if (kids.empty()) return;
    if (kids.size() == 1) {
      cur = kids.front();
      continue;
    }
    if (!first) out += ' ';
    for (const ThreadNode* k : kids) {
      out += '(';
      append_members(out, *k);
      out += ')';
    }
    return;
  }
}

struct CriterionName {
  std::string_view name;
  SortKey::Kind kind;
};

constexpr CriterionName kCriteria[] = {
    {"ARRIVAL", SortKey::Kind::arrival},
    {"CC", SortKey::Kind::cc},
    {"DATE", SortKey::Kind::date},
    {"FROM", SortKey::Kind::from},
    {"SIZE", SortKey::Kind::size},
    {"SUBJECT", SortKey::Kind::subject},
    {"TO", SortKey::Kind::to},
    {"DISPLAYFROM", SortKey::Kind::displayfrom},
    {"DISPLAYTO", SortKey::Kind::displayto},
};

}  // namespace

BaseSubject extract_base_subject(std::string_view subject) {
  // (1) encoded-words decoded; tabs and line breaks (what unfolding
  // leaves) as spaces, runs of them as one.
  std::string decoded = decode_encoded_words(subject);
  std::string s;
  s.reserve(decoded.size());
  bool space = false;
  for (char c : decoded) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = true;
      continue;
    }
    if (space) s += ' ';
    space = false;
    s += c;
  }
  return Subject(std::move(s)).reduce();
}

std::string casemap(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  for (std::size_t i = 0; i < utf8.size();) {
    std::size_t n = utf8_length(utf8.substr(i));
    if (n == 2) {
      auto b0 = static_cast<unsigned char>(utf8[i]), b1 = static_cast<unsigned char>(utf8[i + 1]);
      std::uint32_t c = upper(((b0 & 0x1fu) << 6) | (b1 & 0x3fu));
      if (c < 0x80) {
        out += static_cast<char>(c);
      } else {
        out += static_cast<char>(0xc0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3f));
      }
    } else if (n == 1) {
      out += ascii_upper(utf8[i]);
    } else {
      n = n == 0 ? 1 : n;  // an ill-formed octet as it is
      out.append(utf8.substr(i, n));
    }
    i += n;
  }
  return out;
}

std::optional<std::vector<SortKey>> parse_sort_criteria(const Value& list, std::string& error) {
  if (list.kind != Value::Kind::list) {
    error = "Sort criteria must be a parenthesised list";
    return std::nullopt;
  }
  if (list.items.empty()) {
    error = "Empty sort criteria";
    return std::nullopt;
  }
  std::vector<SortKey> out;
  for (std::size_t i = 0; i < list.items.size(); ++i) {
    SortKey key;
    if (list.items[i].is_atom("REVERSE")) {
      key.reverse = true;
      if (++i == list.items.size()) {
        error = "REVERSE without a sort key";
        return std::nullopt;
      }
    }
    const Value& v = list.items[i];
    auto known = std::find_if(std::begin(kCriteria), std::end(kCriteria),
                              [&](const CriterionName& c) { return v.is_atom(c.name); });
    if (v.kind != Value::Kind::atom || known == std::end(kCriteria)) {
      error = "Unknown sort key " + (v.kind == Value::Kind::list ? std::string("(...)") : printable(v.text, 40));
      return std::nullopt;
    }
    key.kind = known->kind;
    // A key after the same key can break no tie: it is dropped, so a
    // line of "SUBJECT SUBJECT ..." costs one key (at most nine kinds).
    if (std::none_of(out.begin(), out.end(), [&](const SortKey& k) { return k.kind == key.kind; }))
      out.push_back(key);
  }
  return out;
}

std::vector<std::uint32_t> sort_messages(const std::vector<SortInput>& messages, const std::vector<SortKey>& keys) {
  // Each value read once, not at every comparison.
  std::vector<std::vector<SortValue>> values(keys.size());
  for (std::size_t k = 0; k < keys.size(); ++k) {
    values[k].reserve(messages.size());
    for (const auto& m : messages) values[k].push_back(sort_value(m, keys[k].kind));
  }
  std::vector<std::size_t> order(messages.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    for (std::size_t k = 0; k < keys.size(); ++k) {
      int c = compare(values[k][a], values[k][b]);
      if (c != 0) return keys[k].reverse ? c > 0 : c < 0;
    }
    return a < b;  // RFC 5256 3: REVERSE does not turn the final order
  });
  std::vector<std::uint32_t> out;
  out.reserve(order.size());
  for (std::size_t i : order) out.push_back(messages[i].id);
  return out;
}

std::optional<ThreadAlgorithm> parse_thread_algorithm(std::string_view name) {
  if (iequals(name, "ORDEREDSUBJECT")) return ThreadAlgorithm::orderedsubject;
  if (iequals(name, "REFERENCES")) return ThreadAlgorithm::references;
  return std::nullopt;
}

std::vector<ThreadNode> thread_messages(const std::vector<SortInput>& messages, ThreadAlgorithm algorithm) {
  return algorithm == ThreadAlgorithm::orderedsubject ? by_ordered_subject(messages) : by_references(messages);
}

void append_threads(std::string& out, const std::vector<ThreadNode>& threads) {
  for (const auto& t : threads) {
    if (t.id == 0 && effective_children(t).empty()) continue;
    out += '(';
    append_members(out, t);
    out += ')';
  }
}

}  // namespace herald::imap
