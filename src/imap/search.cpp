#include "imap/search.h"

#include <algorithm>
#include <functional>

#include "base/text.h"
#include "imap/date.h"
#include "mime/header.h"

namespace herald::imap {
namespace {

using Kind = SearchKey::Kind;

// How a key's arguments are read.
enum class Args { none, astring, keyword, header, date, number64, nz_number, set, not_, or_, modseq };

struct KeyName {
  std::string_view name;
  Kind kind;
  Args args;
};

constexpr KeyName kKeys[] = {
    {"ALL", Kind::all, Args::none},
    {"ANSWERED", Kind::answered, Args::none},
    {"DELETED", Kind::deleted, Args::none},
    {"DRAFT", Kind::draft, Args::none},
    {"FLAGGED", Kind::flagged, Args::none},
    {"SEEN", Kind::seen, Args::none},
    {"UNANSWERED", Kind::unanswered, Args::none},
    {"UNDELETED", Kind::undeleted, Args::none},
    {"UNDRAFT", Kind::undraft, Args::none},
    {"UNFLAGGED", Kind::unflagged, Args::none},
    {"UNSEEN", Kind::unseen, Args::none},
    {"NEW", Kind::new_, Args::none},
    {"OLD", Kind::old, Args::none},
    {"RECENT", Kind::recent, Args::none},
    {"KEYWORD", Kind::keyword, Args::keyword},
    {"UNKEYWORD", Kind::unkeyword, Args::keyword},
    {"BCC", Kind::bcc, Args::astring},
    {"CC", Kind::cc, Args::astring},
    {"FROM", Kind::from, Args::astring},
    {"TO", Kind::to, Args::astring},
    {"SUBJECT", Kind::subject, Args::astring},
    {"BODY", Kind::body, Args::astring},
    {"TEXT", Kind::text, Args::astring},
    {"HEADER", Kind::header, Args::header},
    {"BEFORE", Kind::before, Args::date},
    {"ON", Kind::on, Args::date},
    {"SINCE", Kind::since, Args::date},
    {"SENTBEFORE", Kind::sentbefore, Args::date},
    {"SENTON", Kind::senton, Args::date},
    {"SENTSINCE", Kind::sentsince, Args::date},
    {"SAVEDBEFORE", Kind::savedbefore, Args::date},
    {"SAVEDON", Kind::savedon, Args::date},
    {"SAVEDSINCE", Kind::savedsince, Args::date},
    {"SAVEDATESUPPORTED", Kind::savedatesupported, Args::none},
    {"LARGER", Kind::larger, Args::number64},
    {"SMALLER", Kind::smaller, Args::number64},
    {"MODSEQ", Kind::modseq, Args::modseq},
    {"OLDER", Kind::older, Args::nz_number},
    {"YOUNGER", Kind::younger, Args::nz_number},
    {"UID", Kind::uid, Args::set},
    {"NOT", Kind::not_, Args::not_},
    {"OR", Kind::or_, Args::or_},
};

constexpr std::uint64_t kMaxNumber64 = 0x7fffffffffffffffull;  // RFC 9051 9 number64

// number - an atom of digits up to max (number64, nz-number, mod-sequence-valzer).
std::optional<std::uint64_t> number(const Value& v, std::uint64_t min, std::uint64_t max) {
  if (v.kind != Value::Kind::atom) return std::nullopt;
  auto n = parse_uint(v.text);
  if (!n || *n < min || *n > max) return std::nullopt;
  return n;
}

class Parser {
 public:
  Parser(SearchLimits limits) : limits_(limits) {}

  // key - one search-key from items[i], i moved past it; nullopt with error_ set.
  std::optional<SearchKey> key(const std::vector<Value>& items, std::size_t& i, std::size_t depth) {
    if (++count_ > limits_.max_keys) return fail("Too many search keys");
    if (depth > limits_.max_depth) return fail("Search keys nested too deeply");
    if (i >= items.size()) return fail("Missing search key");
    const Value& v = items[i++];
    if (v.kind == Value::Kind::list) {  // "(" search-key *(SP search-key) ")"
      if (v.items.empty()) return fail("Empty search key list");
      return all_of(v.items, 0, depth + 1);
    }
    if (v.kind != Value::Kind::atom) return unknown(v.text);

    const KeyName* name = nullptr;
    for (const auto& k : kKeys) {
      if (iequals(v.text, k.name)) {
        name = &k;
        break;
      }
    }
    if (!name) {
      if (auto set = SequenceSet::parse(v.text)) {
        SearchKey k;
        k.kind = Kind::sequence_set;
        k.set = std::move(*set);
        return k;
      }
      return unknown(v.text);
    }

    SearchKey k;
    k.kind = name->kind;
    auto arg = [&]() -> const Value* {
      if (i >= items.size()) return nullptr;
      return &items[i++];
    };
    auto missing = [&] { return fail("Missing argument to " + std::string(name->name)); };
    auto bad = [&](const Value& a) {
      return fail("Bad argument to " + std::string(name->name) + ": " + printable(a.text, 40));
    };
    switch (name->args) {
      case Args::none:
        return k;
      case Args::astring:
      case Args::keyword: {
        const Value* a = arg();
        if (!a) return missing();
        // flag-keyword is an atom (RFC 9051 9): never empty, never a list.
        if (!a->is_astring() || (name->args == Args::keyword && a->text.empty())) return bad(*a);
        k.text = a->text;
        return k;
      }
      case Args::header: {
        const Value* f = arg();
        const Value* a = arg();
        if (!f || !a) return missing();
        if (!f->is_astring() || f->text.empty()) return bad(*f);
        if (!a->is_astring()) return bad(*a);
        k.field = f->text;
        k.text = a->text;
        return k;
      }
      case Args::date: {
        const Value* a = arg();
        if (!a) return missing();
        auto d = a->is_astring() ? parse_search_date(a->text) : std::nullopt;
        if (!d) return bad(*a);
        k.date = *d;
        return k;
      }
      case Args::number64:
      case Args::nz_number: {
        const Value* a = arg();
        if (!a) return missing();
        // RFC 9051 9: LARGER and SMALLER take number64; RFC 5032 OLDER and YOUNGER nz-number.
        auto n = name->args == Args::number64 ? number(*a, 0, kMaxNumber64) : number(*a, 1, 0xffffffffull);
        if (!n) return bad(*a);
        k.number = *n;
        return k;
      }
      case Args::modseq: {
        // "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer
        // (RFC 7162 3.1.5): the entry names a flag's own mod-sequence,
        // which we do not keep; the message's is a bound for it, so the
        // entry is read and ignored.
        const Value* a = arg();
        if (!a) return missing();
        if (a->is_string()) {
          const Value* type = arg();
          if (!type) return missing();
          if (!type->is_atom("PRIV") && !type->is_atom("SHARED") && !type->is_atom("ALL")) return bad(*type);
          a = arg();
          if (!a) return missing();
        }
        auto n = number(*a, 0, kMaxNumber64);
        if (!n) return bad(*a);
        k.number = *n;
        return k;
      }
      case Args::set: {
        const Value* a = arg();
        if (!a) return missing();
        auto set = a->kind == Value::Kind::atom ? SequenceSet::parse(a->text) : std::nullopt;
        if (!set) return bad(*a);
        k.set = std::move(*set);
        return k;
      }
      case Args::not_: {
        auto inner = key(items, i, depth + 1);
        if (!inner) return std::nullopt;
        k.keys.push_back(std::move(*inner));
        return k;
      }
      case Args::or_: {
        auto a = key(items, i, depth + 1);
        if (!a) return std::nullopt;
        auto b = key(items, i, depth + 1);
        if (!b) return std::nullopt;
        k.keys.push_back(std::move(*a));
        k.keys.push_back(std::move(*b));
        return k;
      }
    }
    return unknown(v.text);
  }

  // all_of - items[i..] as keys that must all match; one key stands alone.
  std::optional<SearchKey> all_of(const std::vector<Value>& items, std::size_t i, std::size_t depth) {
    SearchKey k;
    k.kind = Kind::and_;
    while (i < items.size()) {
      auto next = key(items, i, depth);
      if (!next) return std::nullopt;
      k.keys.push_back(std::move(*next));
    }
    if (k.keys.size() == 1) return std::move(k.keys.front());
    return k;
  }

  const std::string& error() const { return error_; }

 private:
  std::nullopt_t fail(std::string text) {
    if (error_.empty()) error_ = std::move(text);
    return std::nullopt;
  }
  std::nullopt_t unknown(std::string_view text) { return fail("Unknown search key " + printable(text, 40)); }

  SearchLimits limits_;
  std::size_t count_ = 0;
  std::string error_;
};

// contains - needle in haystack, ASCII letters in any case. A plain scan
// for the first octet in either case, then a compare: SEARCH's needles are
// short and its haystacks header values, where building a skip table per
// call (std::boyer_moore_horspool_searcher) cost more than it saved.
bool contains(std::string_view haystack, std::string_view needle) {
  if (needle.empty()) return true;
  if (needle.size() > haystack.size()) return false;
  const char lo = ascii_lower(needle[0]);
  const char up = lo >= 'a' && lo <= 'z' ? static_cast<char>(lo - 'a' + 'A') : lo;
  const std::string_view rest = needle.substr(1);
  const std::size_t last = haystack.size() - needle.size();
  for (std::size_t i = 0; i <= last; ++i) {
    const char c = haystack[i];
    if ((c == lo || c == up) && iequals(haystack.substr(i + 1, rest.size()), rest)) return true;
  }
  return false;
}

// value_matches - an unstructured value (RFC 2047 encoded-words decoded,
// when it has any) holds text.
bool value_matches(std::string_view value, std::string_view text) {
  if (value.find("=?") != std::string_view::npos) return contains(decode_encoded_words(value), text);
  return contains(value, text);
}

// body_of - what follows the header section: after the first empty line
// (RFC 5322 2.1); nothing when there is none.
std::string_view body_of(std::string_view message) {
  std::size_t pos = 0;
  while (pos < message.size()) {
    std::size_t eol = message.find('\n', pos);
    if (eol == std::string_view::npos) return {};
    std::string_view line = message.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty() || line == "\r") return message.substr(pos);
  }
  return {};
}

// header_matches - a field called name whose value, unfolded and decoded,
// holds text. An empty text asks only that the field be there (RFC 9051
// 6.4.4 HEADER).
bool header_matches(std::string_view header, std::string_view name, std::string_view text) {
  auto values = mime::field_values(header, name);
  if (text.empty()) return !values.empty();
  for (const auto& v : values)
    if (value_matches(v, text)) return true;
  return false;
}

// field_matches - FROM, TO, CC, BCC and SUBJECT: from the envelope kept at
// delivery when the input has it (its values are the first field of each
// name, unfolded, as mime::structure_of keeps them), else from the header.
bool field_matches(const SearchInput& in, std::string mime::Envelope::*field, std::string_view name,
                   std::string_view text) {
  if (!in.envelope) return header_matches(in.header, name, text);
  const std::string& value = in.envelope->*field;
  if (text.empty()) return !value.empty();
  return value_matches(value, text);
}

// sent_day - the day of the (first) Date: field in its own zone (RFC 9051
// 6.4.4: "disregarding time and timezone"), the envelope's when kept.
std::optional<std::int64_t> sent_day(const SearchInput& in) {
  std::string value;
  if (in.envelope) {
    value = in.envelope->date;
  } else {
    auto values = mime::field_values(in.header, "Date");
    if (values.empty()) return std::nullopt;
    value = std::move(values.front());
  }
  auto d = parse_message_date(value);
  if (!d) return std::nullopt;
  return day_of(d->seconds, d->zone_minutes);
}

bool has_keyword(const MessageMeta& m, std::string_view keyword) {
  return std::any_of(m.keywords.begin(), m.keywords.end(), [&](const std::string& k) { return iequals(k, keyword); });
}

bool date_key(Kind kind, std::int64_t day, std::int64_t date) {
  switch (kind) {
    case Kind::before: case Kind::sentbefore: case Kind::savedbefore: return day < date;
    case Kind::on: case Kind::senton: case Kind::savedon: return day == date;
    default: return day >= date;
  }
}

}  // namespace

SearchParse parse_search(const std::vector<Value>& args, std::size_t from, bool allow_charset, SearchLimits limits) {
  SearchParse out;
  SearchProgram program;
  if (allow_charset && from < args.size() && args[from].is_atom("CHARSET")) {
    if (from + 1 >= args.size() || !args[from + 1].is_astring()) {
      out.error = "Missing charset";
      return out;
    }
    program.charset = args[from + 1].text;
    // Strings are matched as UTF-8 octets; US-ASCII is a subset (RFC 9051 6.4.4).
    if (!iequals(program.charset, "UTF-8") && !iequals(program.charset, "US-ASCII")) {
      out.bad_charset = true;
      out.error = "Unsupported charset";
      return out;
    }
    from += 2;
  }
  if (from >= args.size()) {
    out.error = "Missing search key";
    return out;
  }
  Parser p(limits);
  auto root = p.all_of(args, from, 0);
  if (!root) {
    out.error = p.error();
    return out;
  }
  program.root = std::move(*root);
  out.program = std::move(program);
  return out;
}

SearchNeed need(const SearchKey& key) {
  switch (key.kind) {
    case Kind::bcc: case Kind::cc: case Kind::from: case Kind::to: case Kind::subject:
    case Kind::sentbefore: case Kind::senton: case Kind::sentsince:
      return SearchNeed::envelope;
    case Kind::header:
      return SearchNeed::header;
    case Kind::body: case Kind::text:
      return SearchNeed::text;
    case Kind::not_: case Kind::or_: case Kind::and_: {
      SearchNeed n = SearchNeed::meta;
      for (const auto& k : key.keys) n = std::max(n, need(k));
      return n;
    }
    default:
      return SearchNeed::meta;
  }
}

std::vector<const SearchKey*> text_keys(const SearchKey& key) {
  std::vector<const SearchKey*> out;
  if (key.kind == Kind::body || key.kind == Kind::text) out.push_back(&key);
  for (const auto& k : key.keys) {
    auto more = text_keys(k);
    out.insert(out.end(), more.begin(), more.end());
  }
  return out;
}

SearchNeed need_indexed(const SearchKey& key) {
  switch (key.kind) {
    case Kind::body: case Kind::text: return SearchNeed::meta;
    case Kind::not_: case Kind::or_: case Kind::and_: {
      SearchNeed n = SearchNeed::meta;
      for (const auto& k : key.keys) n = std::max(n, need_indexed(k));
      return n;
    }
    default: return need(key);
  }
}

bool uses_modseq(const SearchKey& key) {
  return key.kind == Kind::modseq ||
         std::any_of(key.keys.begin(), key.keys.end(), [](const SearchKey& k) { return uses_modseq(k); });
}

bool matches(const SearchKey& key, const SearchInput& in) {
  static const MessageMeta kNone;
  const MessageMeta& m = in.meta ? *in.meta : kNone;
  switch (key.kind) {
    case Kind::all: return true;
    case Kind::answered: return m.flags & kAnswered;
    case Kind::deleted: return m.flags & kDeleted;
    case Kind::draft: return m.flags & kDraft;
    case Kind::flagged: return m.flags & kFlagged;
    case Kind::seen: return m.flags & kSeen;
    case Kind::unanswered: return !(m.flags & kAnswered);
    case Kind::undeleted: return !(m.flags & kDeleted);
    case Kind::undraft: return !(m.flags & kDraft);
    case Kind::unflagged: return !(m.flags & kFlagged);
    case Kind::unseen: return !(m.flags & kSeen);
    // No message is \Recent in IMAP4rev2 (RFC 9051 2.3.2): NEW (recent and
    // unseen) and RECENT match none, OLD (not recent) all.
    case Kind::new_: return false;
    case Kind::old: return true;
    case Kind::recent: return false;
    case Kind::keyword: return has_keyword(m, key.text);
    case Kind::unkeyword: return !has_keyword(m, key.text);
    // RFC 9051 6.4.4 names the envelope's fields; they are the header's.
    case Kind::bcc: return field_matches(in, &mime::Envelope::bcc, "Bcc", key.text);
    case Kind::cc: return field_matches(in, &mime::Envelope::cc, "Cc", key.text);
    case Kind::from: return field_matches(in, &mime::Envelope::from, "From", key.text);
    case Kind::to: return field_matches(in, &mime::Envelope::to, "To", key.text);
    case Kind::subject: return field_matches(in, &mime::Envelope::subject, "Subject", key.text);
    case Kind::header: return header_matches(in.header, key.field, key.text);
    case Kind::body:
    case Kind::text: {
      if (in.indexed)
        if (auto found = in.indexed(key)) return *found;
      return key.kind == Kind::body ? contains(body_of(in.text), key.text) : contains(in.text, key.text);
    }
    case Kind::before: case Kind::on: case Kind::since:
      return date_key(key.kind, day_of(m.internaldate), key.date);
    case Kind::sentbefore: case Kind::senton: case Kind::sentsince: {
      // A message without a readable Date: field has no sent day to compare.
      auto day = sent_day(in);
      return day && date_key(key.kind, *day, key.date);
    }
    // A message without a save date (0: the store does not know it) has
    // none to compare, and SAVEDATESUPPORTED is its absence (RFC 8514 4.3).
    case Kind::savedbefore: case Kind::savedon: case Kind::savedsince:
      return m.savedate != 0 && date_key(key.kind, day_of(m.savedate), key.date);
    case Kind::savedatesupported: return m.savedate != 0;
    case Kind::larger: return m.size > key.number;
    case Kind::smaller: return m.size < key.number;
    case Kind::modseq: return m.modseq >= key.number;
    // RFC 5032 3: OLDER is strictly older than the interval, YOUNGER is
    // younger than or equal to it.
    case Kind::older: return in.now - m.internaldate > static_cast<std::int64_t>(key.number);
    case Kind::younger: return in.now - m.internaldate <= static_cast<std::int64_t>(key.number);
    case Kind::uid:
    case Kind::sequence_set:
      // "$" is the saved result's messages, whichever key names it (RFC 5182 2.1).
      if (key.set.saved()) return std::binary_search(in.saved_uids.begin(), in.saved_uids.end(), m.uid);
      return key.kind == Kind::uid ? key.set.contains(m.uid, in.largest_uid)
                                   : key.set.contains(in.msn, in.largest_msn);
    case Kind::not_: return !key.keys.empty() && !matches(key.keys.front(), in);
    case Kind::or_:
      return std::any_of(key.keys.begin(), key.keys.end(), [&](const SearchKey& k) { return matches(k, in); });
    case Kind::and_:
      return std::all_of(key.keys.begin(), key.keys.end(), [&](const SearchKey& k) { return matches(k, in); });
  }
  return false;
}

}  // namespace herald::imap
