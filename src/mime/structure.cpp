#include "mime/structure.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "base/text.h"
#include "mime/header.h"

namespace herald::mime {
namespace {

constexpr std::size_t kLineMax = 4096;  // octets of a line looked at (a boundary is at most 70, RFC 2046 5.1.1)

std::string first_value(std::string_view header, std::string_view name) {
  auto values = field_values(header, name);
  return values.empty() ? std::string() : std::move(values.front());
}

std::string_view rtrim(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// fill - a part's fields from its header section; message: the envelope
// too. default_message: a multipart/digest's part (RFC 2046 5.1.5).
void fill(Part& p, std::string_view header, bool message, bool default_message) {
  std::string type = first_value(header, "Content-Type");
  std::string_view mime_type = trim(std::string_view(type).substr(0, type.find(';')));
  std::size_t slash = mime_type.find('/');
  if (slash != std::string_view::npos && slash > 0 && slash + 1 < mime_type.size()) {
    p.type = to_lower(trim(mime_type.substr(0, slash)));
    p.subtype = to_lower(trim(mime_type.substr(slash + 1)));
    p.params = parameters(type);
  } else if (default_message) {
    p.type = "message";
    p.subtype = "rfc822";
  } else {
    // RFC 2045 5.2: no (or no valid) Content-Type is text/plain; charset=us-ascii.
    p.params = {{"charset", "us-ascii"}};
  }
  if (std::string e = first_value(header, "Content-Transfer-Encoding"); !e.empty()) p.encoding = to_lower(e);
  p.id = first_value(header, "Content-ID");
  p.description = first_value(header, "Content-Description");
  p.md5 = first_value(header, "Content-MD5");
  p.location = first_value(header, "Content-Location");
  if (std::string d = first_value(header, "Content-Disposition"); !d.empty()) {
    p.disposition = to_lower(trim(std::string_view(d).substr(0, d.find(';'))));
    p.disposition_params = parameters(d);
  }
  for (auto tag : split(first_value(header, "Content-Language"), ','))
    if (!trim(tag).empty()) p.language.emplace_back(trim(tag));
  if (!message) return;
  auto e = std::make_unique<Envelope>();
  e->date = first_value(header, "Date");
  e->subject = first_value(header, "Subject");
  e->from = first_value(header, "From");
  e->sender = first_value(header, "Sender");
  e->reply_to = first_value(header, "Reply-To");
  e->to = first_value(header, "To");
  e->cc = first_value(header, "Cc");
  e->bcc = first_value(header, "Bcc");
  e->in_reply_to = first_value(header, "In-Reply-To");
  e->message_id = first_value(header, "Message-ID");
  p.envelope = std::move(e);
}

}  // namespace

StructureParser::StructureParser(StructureLimits limits) : limits_(limits) {
  frames_.push_back(Frame{root_.get(), 0});
  is_message_.push_back(true);
  digest_child_.push_back(false);
}

void StructureParser::feed(std::string_view octets) {
  while (!octets.empty()) {
    std::size_t nl = octets.find('\n');
    std::string_view piece = octets.substr(0, nl);
    if (!piece.empty()) line_last_ = piece.back();  // a CR before the LF, even past kLineMax
    if (!partial_long_) {
      std::size_t room = kLineMax - partial_.size();
      partial_.append(piece.substr(0, room));
      partial_long_ = piece.size() > room;
    }
    if (nl == std::string_view::npos) {
      offset_ += octets.size();
      return;
    }
    offset_ += nl + 1;
    octets.remove_prefix(nl + 1);
    std::string_view l = partial_;
    const bool cr = line_last_ == '\r';
    if (cr && !l.empty() && !partial_long_) l.remove_suffix(1);
    line_last_ = 0;
    const std::uint64_t terminator = offset_ - (cr ? 2 : 1);
    line(partial_long_ ? std::string_view() : l, offset_, partial_long_);
    last_terminator_ = terminator;
    partial_.clear();
    partial_long_ = false;
  }
}

void StructureParser::line(std::string_view l, std::uint64_t end, bool long_line) {
  Frame& top = frames_.back();
  if (top.in_header) {
    count_line();  // a line of the bodies that hold this header section
    if (l.empty() && !long_line) {
      end_header(end);
      return;
    }
    if (top.header.size() + l.size() + 2 <= limits_.header_max) {
      top.header.append(l);
      top.header.append("\r\n");
    }
    return;
  }
  // A delimiter of an open multipart, the innermost first (RFC 2046 5.1.1:
  // "--" boundary, "--" boundary "--" for the last, white space after).
  if (!long_line && l.size() >= 3 && l[0] == '-' && l[1] == '-') {
    std::string_view rest = rtrim(l.substr(2));
    for (std::size_t i = frames_.size(); i-- > 0;) {
      Frame& f = frames_[i];
      if (f.boundary.empty() || f.closed) continue;
      // The CRLF before a delimiter is part of it, not of the part it ends.
      const std::uint64_t part_end = last_terminator_;
      if (rest == f.boundary) {
        close_to(i, part_end);
        open_part(i, end);
        count_line();
        return;
      }
      if (rest.size() == f.boundary.size() + 2 && rest.starts_with(f.boundary) && rest.ends_with("--")) {
        close_to(i, part_end);
        frames_[i].closed = true;
        count_line();
        return;
      }
    }
  }
  count_line();
}

void StructureParser::count_line() {
  for (auto& f : frames_)
    if (!f.in_header) ++f.part->lines;
}

void StructureParser::end_header(std::uint64_t body_start) {
  const std::size_t i = frames_.size() - 1;
  Frame& f = frames_[i];
  Part& p = *f.part;
  fill(p, f.header, is_message_[i], digest_child_[i]);
  f.header.clear();
  f.header.shrink_to_fit();
  f.in_header = false;
  p.body_offset = body_start;
  const std::size_t depth = f.depth;
  if (p.multipart()) {
    std::string boundary;
    for (const auto& [k, v] : p.params)
      if (k == "boundary") boundary = v;
    if (boundary.empty()) return;  // a multipart without one is a body (RFC 2046 5.1.1 requires it)
    if (depth + 1 > limits_.max_depth) {
      truncated_ = true;
      return;
    }
    f.boundary = std::move(boundary);
    return;
  }
  if (p.message()) {
    if (depth + 1 > limits_.max_depth || parts_ >= limits_.max_parts) {
      truncated_ = true;
      return;
    }
    // The message inside begins at once with its header section.
    p.parts.emplace_back();
    ++parts_;
    Part& inner = p.parts.back();
    inner.header_offset = body_start;
    frames_.push_back(Frame{&inner, depth + 1});
    is_message_.push_back(true);
    digest_child_.push_back(false);
  }
}

void StructureParser::open_part(std::size_t parent, std::uint64_t at) {
  if (parts_ >= limits_.max_parts) {
    truncated_ = true;  // the rest is the multipart's body
    return;
  }
  Frame& f = frames_[parent];
  const bool digest = f.part->subtype == "digest";
  f.part->parts.emplace_back();
  ++parts_;
  Part& child = f.part->parts.back();
  child.header_offset = at;
  frames_.push_back(Frame{&child, f.depth + 1});
  is_message_.push_back(false);
  digest_child_.push_back(digest);
}

void StructureParser::close_to(std::size_t frame, std::uint64_t end) {
  if (frames_.size() <= frame + 1) return;
  // Every part closed here ends where the delimiter's CRLF begins, inside
  // the outermost of them; a part that began after that (a blank line or a
  // delimiter whose CRLF is this delimiter's) is cut back to empty there.
  const std::uint64_t limit = std::max(end, frames_[frame + 1].part->header_offset);
  while (frames_.size() > frame + 1) {
    Frame& f = frames_.back();
    Part& p = *f.part;
    const std::uint64_t e = std::min(std::max(end, p.header_offset), limit);
    if (f.in_header) {
      // It ended inside its header (no blank line): all of it is header.
      fill(p, f.header, is_message_.back(), digest_child_.back());
      p.body_offset = e;
    }
    p.header_offset = std::min(p.header_offset, e);
    p.body_offset = std::min(p.body_offset, e);
    p.end_offset = e;
    frames_.pop_back();
    is_message_.pop_back();
    digest_child_.pop_back();
  }
}

Part StructureParser::finish() {
  if (!partial_.empty() || partial_long_) {
    // The last line has no terminator: it ends the message.
    line(partial_long_ ? std::string_view() : std::string_view(partial_), offset_, partial_long_);
    last_terminator_ = offset_;
  }
  close_to(0, offset_);
  Frame& f = frames_.front();
  if (f.in_header) {
    fill(*root_, f.header, true, false);
    root_->body_offset = offset_;
  }
  root_->end_offset = std::max(offset_, root_->body_offset);
  frames_.clear();
  return std::move(*root_);
}

void shift(Part& p, std::uint64_t from, std::uint64_t delta) {
  for (std::uint64_t* o : {&p.header_offset, &p.body_offset, &p.end_offset})
    if (*o >= from) *o += delta;
  for (auto& c : p.parts) shift(c, from, delta);
}

namespace {

nlohmann::json params_json(const Parameters& ps) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& [k, v] : ps) a.push_back({k, v});
  return a;
}

Parameters params_of(const nlohmann::json& a) {
  Parameters ps;
  for (const auto& kv : a) ps.emplace_back(kv.at(0).get<std::string>(), kv.at(1).get<std::string>());
  return ps;
}

// Short keys: the structure of every message delivered is kept.
nlohmann::json to_json(const Part& p) {
  nlohmann::json j{{"t", p.type},         {"s", p.subtype},        {"p", params_json(p.params)},
                   {"e", p.encoding},     {"h", p.header_offset},  {"b", p.body_offset},
                   {"z", p.end_offset},   {"l", p.lines}};
  if (!p.id.empty()) j["id"] = p.id;
  if (!p.description.empty()) j["de"] = p.description;
  if (!p.md5.empty()) j["md"] = p.md5;
  if (!p.location.empty()) j["lo"] = p.location;
  if (!p.disposition.empty()) {
    j["d"] = p.disposition;
    j["dp"] = params_json(p.disposition_params);
  }
  if (!p.language.empty()) j["la"] = p.language;
  if (p.envelope) {
    const Envelope& e = *p.envelope;
    j["env"] = {e.date, e.subject, e.from, e.sender, e.reply_to, e.to, e.cc, e.bcc, e.in_reply_to, e.message_id};
  }
  if (!p.parts.empty()) {
    nlohmann::json parts = nlohmann::json::array();
    for (const auto& c : p.parts) parts.push_back(to_json(c));
    j["c"] = std::move(parts);
  }
  return j;
}

Part from_json(const nlohmann::json& j) {
  Part p;
  p.type = j.at("t").get<std::string>();
  p.subtype = j.at("s").get<std::string>();
  p.params = params_of(j.at("p"));
  p.encoding = j.at("e").get<std::string>();
  p.header_offset = j.at("h").get<std::uint64_t>();
  p.body_offset = j.at("b").get<std::uint64_t>();
  p.end_offset = j.at("z").get<std::uint64_t>();
  p.lines = j.at("l").get<std::uint64_t>();
  p.id = j.value("id", "");
  p.description = j.value("de", "");
  p.md5 = j.value("md", "");
  p.location = j.value("lo", "");
  p.disposition = j.value("d", "");
  if (j.contains("dp")) p.disposition_params = params_of(j.at("dp"));
  if (j.contains("la")) p.language = j.at("la").get<std::vector<std::string>>();
  if (j.contains("env")) {
    auto v = j.at("env").get<std::vector<std::string>>();
    if (v.size() == 10)
      p.envelope = std::make_unique<Envelope>(Envelope{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]});
  }
  if (j.contains("c"))
    for (const auto& c : j.at("c")) p.parts.push_back(from_json(c));
  return p;
}

}  // namespace

std::string encode(const Part& p) {
  auto bytes = nlohmann::json::to_cbor(to_json(p));
  return std::string(bytes.begin(), bytes.end());
}

std::optional<Part> decode(std::string_view octets) {
  auto j = nlohmann::json::from_cbor(octets.begin(), octets.end(), true, false);
  if (j.is_discarded()) return std::nullopt;
  try {
    return from_json(j);
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // well-formed CBOR, not a structure
  }
}

namespace {

// EnvelopeSax - nlohmann's SAX events over encode's CBOR: the strings of
// the array under the top object's "env" key, and nothing else kept.
class EnvelopeSax {
 public:
  using json = nlohmann::json;
  std::vector<std::string> fields;
  bool complete = false;

  bool null() { return value(); }
  bool boolean(bool) { return value(); }
  bool number_integer(json::number_integer_t) { return value(); }
  bool number_unsigned(json::number_unsigned_t) { return value(); }
  bool number_float(json::number_float_t, const json::string_t&) { return value(); }
  bool binary(json::binary_t&) { return value(); }
  bool string(json::string_t& s) {
    if (in_env_ && depth_ == 2) fields.push_back(std::move(s));
    return value();
  }
  bool start_object(std::size_t) { return open(false); }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(true); }
  bool end_array() {
    if (in_env_ && depth_ == 2) {
      complete = true;
      return false;  // found: the rest is not read
    }
    return close();
  }
  bool key(json::string_t& k) {
    if (depth_ == 1) env_next_ = k == "env";
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }

 private:
  bool value() {
    if (depth_ == 1) env_next_ = false;
    return true;
  }
  bool open(bool array) {
    if (depth_ == 1) {
      in_env_ = array && env_next_;
      env_next_ = false;
    }
    ++depth_;
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }
  std::size_t depth_ = 0;
  bool env_next_ = false;  // the top object's "env" key was the last read
  bool in_env_ = false;
};

}  // namespace

std::optional<Envelope> decode_envelope(std::string_view octets) {
  EnvelopeSax sax;
  nlohmann::json::sax_parse(octets.begin(), octets.end(), &sax, nlohmann::json::input_format_t::cbor);
  if (!sax.complete || sax.fields.size() != 10) return std::nullopt;
  auto& v = sax.fields;
  return Envelope{std::move(v[0]), std::move(v[1]), std::move(v[2]), std::move(v[3]), std::move(v[4]),
                  std::move(v[5]), std::move(v[6]), std::move(v[7]), std::move(v[8]), std::move(v[9])};
}

Part structure_of(std::string_view message, StructureLimits limits) {
  StructureParser p(limits);
  p.feed(message);
  return p.finish();
}

}  // namespace herald::mime
