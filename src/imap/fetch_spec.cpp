#include "imap/fetch_spec.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "base/text.h"
#include "imap/date.h"
#include "imap/fetch.h"
#include "mime/text.h"
#include "mime/transfer.h"

namespace herald::imap {
namespace {

using Kind = FetchItem::Kind;

std::optional<std::uint64_t> number(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty() || s.size() > 19) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// parse_fields - "(DATE FROM "X-Y")" of HEADER.FIELDS: names, upper case.
std::optional<std::vector<std::string>> parse_fields(std::string_view s) {
  if (s.size() < 2 || s.front() != '(' || s.back() != ')') return std::nullopt;
  std::vector<std::string> out;
  for (std::string_view f : split(s.substr(1, s.size() - 2), ' ')) {
    if (f.empty()) continue;
    if (f.size() >= 2 && f.front() == '"' && f.back() == '"') f = f.substr(1, f.size() - 2);
    if (f.empty()) return std::nullopt;
    for (unsigned char c : f)
      if (c <= 0x20 || c >= 0x7f || c == ':') return std::nullopt;  // RFC 5322 2.2 field-name
    out.push_back(to_upper(f));
  }
  if (out.empty()) return std::nullopt;
  return out;
}

// parse_section - the text between the brackets (RFC 9051 9 section-spec).
std::optional<Section> parse_section(std::string_view s, bool binary) {
  Section out;
  out.spec = std::string(s);
  std::string_view rest = s;
  while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
    std::size_t dot = rest.find('.');
    auto n = number(rest.substr(0, dot));
    if (!n || *n == 0 || *n > 0xffffffff) return std::nullopt;
    out.path.push_back(static_cast<std::uint32_t>(*n));
    if (dot == std::string_view::npos) {
      rest = {};
      break;
    }
    rest = rest.substr(dot + 1);
    if (rest.empty()) return std::nullopt;  // "1." ends in nothing
  }
  if (rest.empty()) return out;
  if (binary) return std::nullopt;  // section-binary is a part path only (RFC 3516)
  std::string upper = to_upper(rest.substr(0, rest.find(' ')));
  std::string_view tail = rest.find(' ') == std::string_view::npos ? std::string_view() : rest.substr(rest.find(' ') + 1);
  if (upper == "HEADER" && tail.empty()) {
    out.text = Section::Text::header;
  } else if (upper == "TEXT" && tail.empty()) {
    out.text = Section::Text::text;
  } else if (upper == "MIME" && tail.empty() && !out.path.empty()) {
    out.text = Section::Text::mime;
  } else if (upper == "HEADER.FIELDS" || upper == "HEADER.FIELDS.NOT") {
    auto fields = parse_fields(tail);
    if (!fields) return std::nullopt;
    out.text = upper == "HEADER.FIELDS" ? Section::Text::header_fields : Section::Text::header_fields_not;
    out.fields = std::move(*fields);
  } else {
    return std::nullopt;
  }
  return out;
}

// parse_item - one fetch-att (RFC 9051 9).
std::optional<FetchItem> parse_item(const Value& v) {
  if (v.kind != Value::Kind::atom) return std::nullopt;
  std::string_view text = v.text;
  std::size_t open = text.find('[');
  std::string name = to_upper(text.substr(0, open));
  FetchItem item;
  if (open == std::string_view::npos) {
    static const std::pair<const char*, Kind> kPlain[] = {
        {"FLAGS", Kind::flags}, {"INTERNALDATE", Kind::internaldate}, {"RFC822.SIZE", Kind::rfc822_size},
        {"UID", Kind::uid}, {"ENVELOPE", Kind::envelope}, {"BODY", Kind::body},
        {"BODYSTRUCTURE", Kind::bodystructure}, {"RFC822", Kind::rfc822}, {"RFC822.HEADER", Kind::rfc822_header},
        {"RFC822.TEXT", Kind::rfc822_text}, {"MODSEQ", Kind::modseq}, {"SAVEDATE", Kind::savedate},
        {"EMAILID", Kind::emailid}, {"THREADID", Kind::threadid}, {"PREVIEW", Kind::preview},
    };
    for (const auto& [n, k] : kPlain)
      if (name == n) {
        item.kind = k;
        return item;
      }
    return std::nullopt;
  }
  std::size_t close = text.find(']', open);
  if (close == std::string_view::npos) return std::nullopt;
  bool binary = false;
  if (name == "BODY") {
    item.kind = Kind::section;
  } else if (name == "BODY.PEEK") {
    item.kind = Kind::section;
    item.peek = true;
  } else if (name == "BINARY" || name == "BINARY.PEEK") {
    item.kind = Kind::binary;
    item.peek = name == "BINARY.PEEK";
    binary = true;
  } else if (name == "BINARY.SIZE") {
    item.kind = Kind::binary_size;
    binary = true;
  } else {
    return std::nullopt;
  }
  auto section = parse_section(text.substr(open + 1, close - open - 1), binary);
  if (!section) return std::nullopt;
  item.section = std::move(*section);
  std::string_view after = text.substr(close + 1);
  if (!after.empty()) {
    // "<offset.length>" (RFC 9051 6.4.5); not for BINARY.SIZE.
    if (item.kind == Kind::binary_size || after.size() < 5 || after.front() != '<' || after.back() != '>')
      return std::nullopt;
    std::string_view inner = after.substr(1, after.size() - 2);
    std::size_t dot = inner.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    auto offset = number(inner.substr(0, dot));
    auto length = number(inner.substr(dot + 1));
    if (!offset || !length || *length == 0) return std::nullopt;
    item.partial = std::make_pair(*offset, *length);
  }
  return item;
}

void add_macro(FetchSpec& spec, std::initializer_list<Kind> kinds) {
  for (Kind k : kinds) {
    FetchItem item;
    item.kind = k;
    spec.items.push_back(std::move(item));
  }
}

// ---- sections -----------------------------------------------------------

struct Span {
  std::uint64_t begin = 0, end = 0;
};

// part_at - RFC 9051 6.4.5 part numbering: the parts of a multipart are
// numbered from 1; a non-multipart message has one part, 1, its body; a
// message/rfc822 part's numbers are those of the message inside it.
const mime::Part* part_at(const mime::Part& root, const std::vector<std::uint32_t>& path) {
  const mime::Part* cur = &root;
  for (std::size_t i = 0; i < path.size(); ++i) {
    const mime::Part* container = cur;
    if (i > 0) {
      if (cur->message() && !cur->parts.empty()) container = &cur->parts.front();
      else if (!cur->multipart()) return nullptr;  // a leaf has no parts below it
    }
    if (container->multipart()) {
      if (path[i] > container->parts.size()) return nullptr;
      cur = &container->parts[path[i] - 1];
    } else {
      if (path[i] != 1) return nullptr;
      cur = container;
    }
  }
  return cur;
}

// header_of - the header section [begin, end) of a message part: the
// root's includes the copy's trace prefix (the message as delivered).
Span header_of(const mime::Part& message, bool root, std::uint64_t prefix) {
  return {root ? 0 : prefix + message.header_offset, prefix + message.body_offset};
}

// filter_header - the fields named (or all but them), unfolded lines kept
// whole, and the blank line that ends a header section (RFC 9051 6.4.5).
std::string filter_header(std::string_view header, const std::vector<std::string>& fields, bool keep) {
  std::string out;
  bool taking = false;
  std::size_t i = 0;
  while (i < header.size()) {
    std::size_t eol = header.find('\n', i);
    std::size_t end = eol == std::string_view::npos ? header.size() : eol + 1;
    std::string_view line = header.substr(i, end - i);
    i = end;
    if (line == "\r\n" || line == "\n") break;
    if (line.front() != ' ' && line.front() != '\t') {
      std::size_t colon = line.find(':');
      std::string name = colon == std::string_view::npos ? std::string() : to_upper(trim(line.substr(0, colon)));
      bool listed = std::find(fields.begin(), fields.end(), name) != fields.end();
      taking = !name.empty() && listed == keep;
    }
    if (taking) out += line;
  }
  out += "\r\n";
  return out;
}

std::string_view cut(std::string_view octets, Span s) {
  if (s.begin >= octets.size() || s.end <= s.begin) return {};
  return octets.substr(s.begin, std::min<std::uint64_t>(s.end, octets.size()) - s.begin);
}

}  // namespace

std::string preview(const FetchSource& source) {
  if (!source.structure) return {};
  // The text a full-text index keeps, less the header values before its
  // separator: the body's words as a reader sees them.
  std::string_view message = source.octets.substr(std::min<std::size_t>(source.prefix_size, source.octets.size()));
  std::string text = mime::indexable_text(message, *source.structure, 4096);
  std::size_t body = text.find(mime::kTextSeparator);
  std::string_view words = body == std::string::npos ? std::string_view() : std::string_view(text).substr(body + 1);
  std::string out;
  std::size_t chars = 0;
  bool space = false;
  for (std::size_t i = 0; i < words.size() && chars < 200; ++i) {
    unsigned char c = static_cast<unsigned char>(words[i]);
    if (c <= 0x20 || c == 0x7f) {
      space = !out.empty();
      continue;
    }
    if (space) {
      out += ' ';
      ++chars;
      space = false;
      if (chars == 200) break;
    }
    out += static_cast<char>(c);
    if ((c & 0xc0) != 0x80 && !(i + 1 < words.size() && (static_cast<unsigned char>(words[i + 1]) & 0xc0) == 0x80))
      ++chars;  // a character ends here
  }
  return out;
}

bool FetchSpec::has(FetchItem::Kind k) const {
  return std::any_of(items.begin(), items.end(), [k](const FetchItem& i) { return i.kind == k; });
}

std::optional<FetchSpec> parse_fetch(const std::vector<Value>& args, std::size_t from, std::string& error) {
  FetchSpec spec;
  if (from >= args.size()) {
    error = "Missing fetch items";
    return std::nullopt;
  }
  const Value& what = args[from];
  if (what.kind == Value::Kind::atom && what.is_atom("ALL")) {
    add_macro(spec, {Kind::flags, Kind::internaldate, Kind::rfc822_size, Kind::envelope});
  } else if (what.kind == Value::Kind::atom && what.is_atom("FAST")) {
    add_macro(spec, {Kind::flags, Kind::internaldate, Kind::rfc822_size});
  } else if (what.kind == Value::Kind::atom && what.is_atom("FULL")) {
    add_macro(spec, {Kind::flags, Kind::internaldate, Kind::rfc822_size, Kind::envelope, Kind::body});
  } else {
    std::vector<const Value*> list;
    if (what.kind == Value::Kind::list) {
      for (const auto& v : what.items) list.push_back(&v);
    } else {
      list.push_back(&what);
    }
    if (list.empty()) {
      error = "Empty fetch item list";
      return std::nullopt;
    }
    // Each item may copy the whole message into the response: a bound, so
    // "(BODY[] BODY[] ...)" cannot multiply one message by thousands.
    if (list.size() > 16 * kMaxFetchItems) {
      error = "Too many fetch items";
      return std::nullopt;
    }
    for (const Value* v : list) {
      auto item = parse_item(*v);
      if (!item) {
        error = fmt::format("Invalid fetch item {}", printable(v->kind == Value::Kind::atom ? v->text : "()", 60));
        return std::nullopt;
      }
      const bool repeated = std::any_of(spec.items.begin(), spec.items.end(), [&](const FetchItem& f) {
        return f.kind == item->kind && f.peek == item->peek && f.partial == item->partial &&
               f.section.spec == item->section.spec;
      });
      if (!repeated) spec.items.push_back(std::move(*item));
      if (spec.items.size() > kMaxFetchItems) {
        error = "Too many fetch items";
        return std::nullopt;
      }
    }
  }
  // Modifiers (RFC 4466 2.4): "(CHANGEDSINCE 12 VANISHED)".
  if (from + 1 < args.size()) {
    const Value& mods = args[from + 1];
    if (mods.kind != Value::Kind::list || from + 2 < args.size()) {
      error = "Unexpected arguments after the fetch items";
      return std::nullopt;
    }
    for (std::size_t i = 0; i < mods.items.size(); ++i) {
      const Value& m = mods.items[i];
      if (m.is_atom("CHANGEDSINCE") && i + 1 < mods.items.size() && mods.items[i + 1].kind == Value::Kind::atom) {
        auto n = number(mods.items[++i].text);
        if (!n || *n == 0) {
          error = "Invalid CHANGEDSINCE";
          return std::nullopt;
        }
        spec.changed_since = *n;
      } else if (m.is_atom("VANISHED")) {
        spec.vanished = true;
      } else {
        error = "Unknown fetch modifier";
        return std::nullopt;
      }
    }
  }
  for (const auto& item : spec.items) {
    switch (item.kind) {
      case Kind::envelope:
      case Kind::body:
      case Kind::bodystructure: spec.needs_structure = true; break;
      case Kind::section:
      case Kind::binary:
        spec.needs_structure = spec.needs_octets = true;
        spec.sets_seen = spec.sets_seen || !item.peek;
        break;
      case Kind::binary_size: spec.needs_structure = spec.needs_octets = true; break;
      case Kind::rfc822:
      case Kind::rfc822_text:
        spec.needs_structure = spec.needs_octets = true;
        spec.sets_seen = true;
        break;
      case Kind::rfc822_header:
      case Kind::preview: spec.needs_structure = spec.needs_octets = true; break;
      default: break;
    }
  }
  return spec;
}

void append_flags(std::string& out, std::uint32_t flags, const std::vector<std::string>& keywords) {
  static const std::pair<std::uint32_t, const char*> kNames[] = {
      {kSeen, "\\Seen"}, {kAnswered, "\\Answered"}, {kFlagged, "\\Flagged"}, {kDeleted, "\\Deleted"},
      {kDraft, "\\Draft"},
  };
  out += '(';
  bool first = true;
  for (const auto& [bit, name] : kNames) {
    if (!(flags & bit)) continue;
    if (!first) out += ' ';
    out += name;
    first = false;
  }
  for (const auto& k : keywords) {
    if (!first) out += ' ';
    out += k;
    first = false;
  }
  out += ')';
}

std::string section_octets(const Section& section, const FetchSource& source) {
  std::string_view octets = source.octets;
  if (section.path.empty() && section.text == Section::Text::all) return std::string(octets);
  if (!source.structure) return {};
  const mime::Part& root = *source.structure;
  const std::uint64_t prefix = source.prefix_size;
  const mime::Part* part = part_at(root, section.path);
  if (!part) return {};
  // The message a HEADER/TEXT specifier refers to: the root, or the one
  // inside a message/rfc822 part.
  const mime::Part* message = nullptr;
  bool is_root = section.path.empty();
  if (is_root) message = &root;
  else if (part->message() && !part->parts.empty()) message = &part->parts.front();
  switch (section.text) {
    case Section::Text::all:
      return std::string(cut(octets, {prefix + part->body_offset, prefix + part->end_offset}));
    case Section::Text::mime:
      return std::string(cut(octets, {prefix + part->header_offset, prefix + part->body_offset}));
    case Section::Text::header:
      if (!message) return {};
      return std::string(cut(octets, header_of(*message, is_root, prefix)));
    case Section::Text::header_fields:
    case Section::Text::header_fields_not:
      if (!message) return {};
      return filter_header(cut(octets, header_of(*message, is_root, prefix)), section.fields,
                           section.text == Section::Text::header_fields);
    case Section::Text::text:
      if (!message) return {};
      return std::string(cut(octets, {prefix + message->body_offset, prefix + message->end_offset}));
  }
  return {};
}

bool append_fetch(std::string& out, std::uint32_t msn, const FetchSpec& spec, const FetchSource& source,
                  const FetchOptions& options) {
  const MessageMeta& meta = *source.meta;
  std::string body = fmt::format("* {} FETCH (", msn);
  bool first = true;
  auto sep = [&] {
    if (!first) body += ' ';
    first = false;
  };
  bool uid_written = false, modseq_written = false;
  // partial - a <offset.length> cut and its response suffix "<offset>".
  auto partial = [](const FetchItem& item, std::string data, std::string& name) {
    if (!item.partial) return data;
    auto [offset, length] = *item.partial;
    name += fmt::format("<{}>", offset);
    if (offset >= data.size()) return std::string();
    return data.substr(offset, length);
  };
  for (const FetchItem& item : spec.items) {
    switch (item.kind) {
      case Kind::flags:
        sep();
        body += "FLAGS ";
        append_flags(body, meta.flags, meta.keywords);
        break;
      case Kind::internaldate:
        sep();
        body += "INTERNALDATE \"" + format_date_time(meta.internaldate) + "\"";
        break;
      case Kind::rfc822_size:
        sep();
        body += fmt::format("RFC822.SIZE {}", meta.size);
        break;
      case Kind::uid:
        if (uid_written) break;
        sep();
        body += fmt::format("UID {}", meta.uid);
        uid_written = true;
        break;
      case Kind::modseq:
        if (modseq_written) break;
        sep();
        body += fmt::format("MODSEQ ({})", meta.modseq);
        modseq_written = true;
        break;
      case Kind::savedate:
        sep();
        if (meta.savedate) body += "SAVEDATE \"" + format_date_time(meta.savedate) + "\"";
        else body += "SAVEDATE NIL";
        break;
      case Kind::emailid:
      case Kind::threadid:
        // RFC 8474 5.1/5.2: THREADID NIL when threads are not kept.
        sep();
        if (item.kind == Kind::emailid) body += fmt::format("EMAILID (M{})", meta.emailid);
        else body += "THREADID NIL";
        break;
      case Kind::preview: {
        // RFC 8970 3: NIL when there is no text to show.
        sep();
        std::string text = preview(source);
        body += "PREVIEW ";
        if (text.empty()) body += "NIL";
        else append_string(body, text, options.form);  // 8-bit text as a literal for IMAP4rev1 clients
        break;
      }
      case Kind::envelope:
        sep();
        body += "ENVELOPE ";
        if (source.structure && source.structure->envelope) append_envelope(body, *source.structure->envelope, options.form);
        else append_envelope(body, mime::Envelope{}, options.form);
        break;
      case Kind::body:
      case Kind::bodystructure:
        sep();
        body += item.kind == Kind::body ? "BODY " : "BODYSTRUCTURE ";
        if (source.structure) append_bodystructure(body, *source.structure, item.kind == Kind::bodystructure, options.form);
        else append_bodystructure(body, mime::Part{}, item.kind == Kind::bodystructure, options.form);
        break;
      case Kind::section: {
        sep();
        std::string name = "BODY[" + item.section.spec + "]";
        std::string data = partial(item, section_octets(item.section, source), name);
        body += name + ' ';
        append_literal(body, data);
        break;
      }
      case Kind::binary:
      case Kind::binary_size: {
        // RFC 3516 4.2: the part's body with its transfer encoding undone.
        std::string data;
        if (!item.section.path.empty()) {
          const mime::Part* part = source.structure ? part_at(*source.structure, item.section.path) : nullptr;
          if (part) {
            if (part->multipart() || part->message()) return false;  // RFC 3516 4.2: leaf parts only
            auto decoded = mime::decode_transfer(section_octets(item.section, source), part->encoding);
            if (!decoded) return false;
            data = std::move(*decoded);
          }
        } else {
          data = section_octets(item.section, source);
        }
        sep();
        if (item.kind == Kind::binary_size) {
          body += fmt::format("BINARY.SIZE[{}] {}", item.section.spec, data.size());
          break;
        }
        std::string name = "BINARY[" + item.section.spec + "]";
        data = partial(item, std::move(data), name);
        body += name + ' ';
        append_literal(body, data, data.find('\0') != std::string::npos);
        break;
      }
      case Kind::rfc822:
        sep();
        body += "RFC822 ";
        append_literal(body, source.octets);
        break;
      case Kind::rfc822_header: {
        sep();
        Section s;
        s.text = Section::Text::header;
        body += "RFC822.HEADER ";
        append_literal(body, section_octets(s, source));
        break;
      }
      case Kind::rfc822_text: {
        sep();
        Section s;
        s.text = Section::Text::text;
        body += "RFC822.TEXT ";
        append_literal(body, section_octets(s, source));
        break;
      }
    }
  }
  if (options.uid && !uid_written) {
    sep();
    body += fmt::format("UID {}", meta.uid);
  }
  if (options.modseq && !modseq_written) {
    sep();
    body += fmt::format("MODSEQ ({})", meta.modseq);
  }
  body += ")\r\n";
  out += body;
  return true;
}

}  // namespace herald::imap
