#include "smtp/address.h"

#include "base/text.h"

namespace herald::smtp {
namespace {

bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

// RFC 5322 3.2.3 atext; 8-bit octets only with SMTPUTF8 (RFC 6531 3.3).
bool is_atext(unsigned char c, bool utf8) {
  if (c >= 0x80) return utf8;
  if (is_alpha(c) || is_digit(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '/': case '=': case '?': case '^': case '_': case '`': case '{':
    case '|': case '}': case '~':
      return true;
    default:
      return false;
  }
}

bool valid_quoted_string(std::string_view s, bool utf8) {
  // RFC 5321 4.1.2: DQUOTE *QcontentSMTP DQUOTE
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return false;
  for (std::size_t i = 1; i + 1 < s.size(); ++i) {
    unsigned char c = s[i];
    if (c == '\\') {
      if (++i + 1 >= s.size()) return false;
      unsigned char q = s[i];
      if (q < 32 || q > 126) return false;
    } else if (c >= 0x80) {
      if (!utf8) return false;
    } else if (c < 32 || c > 126 || c == '"') {
      return false;
    }
  }
  return true;
}

bool valid_address_literal(std::string_view s) {
  // RFC 5321 4.1.3: "[" IPv4 "]" or "[IPv6:...]" or General-address-literal;
  // accept the shapes, leave exact IP validation to the resolver.
  if (s.size() < 3 || s.front() != '[' || s.back() != ']') return false;
  for (std::size_t i = 1; i + 1 < s.size(); ++i) {
    unsigned char c = s[i];
    if (c < 33 || c > 126 || c == '[' || c == ']' || c == '\\') return false;
  }
  return true;
}

}  // namespace

bool has_8bit(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return true;
  return false;
}

bool valid_local_part(std::string_view local, bool utf8) {
  if (local.empty()) return false;
  if (local.front() == '"') return valid_quoted_string(local, utf8);
  // Dot-string = Atom *("." Atom)
  bool prev_dot = true;
  for (unsigned char c : local) {
    if (c == '.') {
      if (prev_dot) return false;
      prev_dot = true;
    } else if (is_atext(c, utf8)) {
      prev_dot = false;
    } else {
      return false;
    }
  }
  return !prev_dot;
}

bool valid_domain(std::string_view domain, bool utf8) {
  if (domain.empty()) return false;
  if (domain.front() == '[') return valid_address_literal(domain);
  // sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str]
  for (auto label : split(domain, '.')) {
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (unsigned char c : label) {
      if (c >= 0x80) {
        if (!utf8) return false;
      } else if (!is_alpha(c) && !is_digit(c) && c != '-') {
        return false;
      }
    }
  }
  return true;
}

namespace {

// closing_bracket - the '>' that ends "<path>", outside a quoted local
// part; npos when there is none.
std::size_t closing_bracket(std::string_view arg) {
  bool quoted = false;
  for (std::size_t i = 1; i < arg.size(); ++i) {
    char c = arg[i];
    if (quoted && c == '\\') {
      ++i;
      continue;
    }
    if (c == '"') quoted = !quoted;
    if (!quoted && c == '>') return i;
  }
  return std::string_view::npos;
}

// parse_params - SP-separated keyword[=value] (RFC 5321 4.1.2); false on a
// malformed keyword.
bool parse_params(std::string_view rest, std::vector<PathParam>& out) {
  for (auto word : split(rest, ' ')) {
    if (word.empty()) continue;
    auto eq = word.find('=');
    PathParam p;
    p.keyword = to_upper(word.substr(0, eq));
    if (eq != std::string_view::npos) p.value = std::string(word.substr(eq + 1));
    if (p.keyword.empty()) return false;
    for (char c : p.keyword)
      if (!(is_alpha(c) || is_digit(c) || c == '-')) return false;
    out.push_back(std::move(p));
  }
  return true;
}

// parse_mailbox - local@domain of a non-null path, into out.
void parse_mailbox(std::string_view path, bool utf8, const AddressLimits& limits, ParsedPath& out) {
  // RFC 6531 3.3: UTF-8 in a path must be well-formed, with SMTPUTF8 or
  // without (then it is refused either way; this names the reason).
  if (!valid_utf8(path)) {
    out.error = PathError::bad_utf8;
    return;
  }
  // RFC 5321 4.1.2: A-d-l ":" - a source route, to be ignored.
  if (path.front() == '@') {
    auto colon = path.find(':');
    if (colon == std::string_view::npos) {
      out.error = PathError::syntax;
      return;
    }
    path = path.substr(colon + 1);
  }
  std::size_t at = path.rfind('@');
  if (at == std::string_view::npos) {
    // RFC 5321 4.5.1: "postmaster" without a domain must be accepted by RCPT.
    if (iequals(path, "postmaster")) out.mailbox.local_part = "postmaster";
    else out.error = PathError::syntax;
    return;
  }
  std::string_view local = path.substr(0, at);
  std::string_view domain = path.substr(at + 1);
  if (!utf8 && (has_8bit(local) || has_8bit(domain))) {
    out.error = valid_local_part(local, true) && valid_domain(domain, true) ? PathError::needs_utf8
                                                                           : PathError::syntax;
    return;
  }
  if (!valid_local_part(local, utf8) || !valid_domain(domain, utf8)) {
    out.error = PathError::syntax;
    return;
  }
  if (local.size() > limits.max_local_part || domain.size() > limits.max_domain) {
    out.error = PathError::too_long;
    return;
  }
  out.mailbox.local_part = std::string(local);
  out.mailbox.domain = to_lower(domain);
}

}  // namespace

ParsedPath parse_path(std::string_view arg, bool allow_null, const AddressLimits& limits, bool smtputf8) {
  ParsedPath out;
  arg = trim(arg);
  std::size_t close = arg.empty() || arg.front() != '<' ? std::string_view::npos : closing_bracket(arg);
  if (close == std::string_view::npos || !parse_params(arg.substr(close + 1), out.params)) {
    out.error = PathError::syntax;
    out.params.clear();
    return out;
  }
  std::string_view path = arg.substr(1, close - 1);
  bool utf8 = smtputf8;
  for (const auto& p : out.params)
    if (p.keyword == "SMTPUTF8") utf8 = true;
  if (path.empty()) {
    if (!allow_null) out.error = PathError::syntax;
    out.null_path = true;
    return out;
  }
  parse_mailbox(path, utf8, limits, out);
  return out;
}

}  // namespace herald::smtp
