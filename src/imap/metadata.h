// imap/metadata.h - the entry names of IMAP METADATA (RFC 5464) and the
// DEPTH that GETMETADATA reads them to; the commands are the session's
// (session_mailbox.cpp), the entries the store's.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace herald::imap {

// entry_name - name as the store keeps it, in lower case (RFC 5464 3.2:
// names are case-insensitive), or nullopt when it is not an entry name:
// "/private" or "/shared", then "/" and a component, any number of times;
// printable ASCII without "*" and "%" (RFC 5464 3.2.1). A bare "/private"
// or "/shared" names a tree, never an entry: only when tree_allowed
// (GETMETADATA's DEPTH reads below it).
std::optional<std::string> entry_name(std::string_view name, bool tree_allowed);

// MetadataDepth - GETMETADATA's DEPTH option (RFC 5464 4.2.2).
enum class MetadataDepth { zero, one, infinity };

// within_depth - whether the entry is asked for by name at depth: the name
// itself, and at depth 1 its children, at infinity all below it.
bool within_depth(std::string_view entry, std::string_view name, MetadataDepth depth);

}  // namespace herald::imap
