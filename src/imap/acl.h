// imap/acl.h - the rights of RFC 4314 (IMAP ACL): a set of the letters
// "lrswipkxtea", read from SETACL's argument and written back in the
// RFC's order; the commands are the session's (session_mailbox.cpp), the
// access lists the store's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herald::imap {

// Rights - one bit per right of RFC 4314 2.1, in "lrswipkxtea" order.
class Rights {
 public:
  static constexpr std::string_view kLetters = "lrswipkxtea";
  static Rights all() { return Rights((1u << kLetters.size()) - 1); }

  Rights() = default;
  // parse - the rights in text; the obsolete "c" and "d" of RFC 2086 as
  // RFC 4314 2.1.1 maps them ("c": k and x, "d": e, t and x). nullopt
  // for any other letter; digits are the implementation's (RFC 4314 2.1)
  // and Herald has none.
  static std::optional<Rights> parse(std::string_view text);

  bool has(char right) const;
  bool any_of(std::string_view rights) const;
  bool empty() const { return bits_ == 0; }
  std::string str() const;
  std::uint32_t bits() const { return bits_; }

  Rights operator|(Rights o) const { return Rights(bits_ | o.bits_); }
  Rights without(Rights o) const { return Rights(bits_ & ~o.bits_); }
  bool operator==(const Rights&) const = default;

 private:
  explicit Rights(std::uint32_t bits) : bits_(bits) {}
  std::uint32_t bits_ = 0;
};

// kOtherUsers - the namespace of other users' mailboxes shared with this
// one (RFC 2342 5): "Other Users/OWNER/NAME" is OWNER's NAME.
inline constexpr std::string_view kOtherUsers = "Other Users";

// in_other_users - the namespace itself or a name below it: never one of
// a user's own (CREATE and RENAME, and `herald mailbox`, refuse it), so
// that no personal mailbox hides or shadows another's.
bool in_other_users(std::string_view name);

// RightsChange - SETACL's rights argument (RFC 4314 3.1): "+" adds, "-"
// removes, neither replaces.
struct RightsChange {
  enum class Mode { replace, add, remove };
  Mode mode = Mode::replace;
  Rights rights;
  Rights applied_to(Rights old) const;
  // applied_to - to rights as an access list keeps them (letters); letters
  // that are no rights count as none.
  std::string applied_to(std::string_view old) const { return applied_to(Rights::parse(old).value_or(Rights())).str(); }
};
std::optional<RightsChange> parse_rights_change(std::string_view text);

}  // namespace herald::imap
