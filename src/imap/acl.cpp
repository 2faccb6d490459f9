#include "imap/acl.h"

namespace herald::imap {

bool in_other_users(std::string_view name) {
  return name.starts_with(kOtherUsers) && (name.size() == kOtherUsers.size() || name[kOtherUsers.size()] == '/');
}

std::optional<Rights> Rights::parse(std::string_view text) {
  std::uint32_t bits = 0;
  auto add = [&bits](std::string_view letters) {
    for (char c : letters) bits |= 1u << kLetters.find(c);
  };
  for (char c : text) {
    if (c == 'c') add("kx");
    else if (c == 'd') add("etx");
    else if (kLetters.find(c) != std::string_view::npos) add(std::string_view(&c, 1));
    else return std::nullopt;
  }
  return Rights(bits);
}

bool Rights::has(char right) const {
  auto at = kLetters.find(right);
  return at != std::string_view::npos && (bits_ & (1u << at)) != 0;
}

bool Rights::any_of(std::string_view rights) const {
  for (char c : rights)
    if (has(c)) return true;
  return false;
}

std::string Rights::str() const {
  std::string out;
  for (std::size_t i = 0; i < kLetters.size(); ++i)
    if (bits_ & (1u << i)) out += kLetters[i];
  return out;
}

Rights RightsChange::applied_to(Rights old) const {
  switch (mode) {
    case Mode::add: return old | rights;
    case Mode::remove: return old.without(rights);
    case Mode::replace: break;
  }
  return rights;
}

std::optional<RightsChange> parse_rights_change(std::string_view text) {
  RightsChange change;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    change.mode = text[0] == '+' ? RightsChange::Mode::add : RightsChange::Mode::remove;
    text.remove_prefix(1);
  }
  auto rights = Rights::parse(text);
  if (!rights) return std::nullopt;
  change.rights = *rights;
  return change;
}

}  // namespace herald::imap
