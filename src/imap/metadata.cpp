#include "imap/metadata.h"

namespace herald::imap {

std::optional<std::string> entry_name(std::string_view name, bool tree_allowed) {
  std::string out;
  out.reserve(name.size());
  for (unsigned char c : name) {
    if (c < 0x20 || c > 0x7e || c == '*' || c == '%') return std::nullopt;
    out += static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
  }
  const bool tree = out == "/private" || out == "/shared";
  if (tree) return tree_allowed ? std::optional<std::string>(out) : std::nullopt;
  if (!out.starts_with("/private/") && !out.starts_with("/shared/")) return std::nullopt;
  if (out.ends_with('/') || out.find("//") != std::string::npos) return std::nullopt;
  return out;
}

bool within_depth(std::string_view entry, std::string_view name, MetadataDepth depth) {
  if (entry == name) return true;
  if (depth == MetadataDepth::zero || entry.size() <= name.size() + 1 || !entry.starts_with(name) ||
      entry[name.size()] != '/')
    return false;
  return depth == MetadataDepth::infinity || entry.find('/', name.size() + 1) == std::string_view::npos;
}

}  // namespace herald::imap
