// imap/status.cpp - STATUS's items and response (imap/status.h).
#include "imap/status.h"

#include <algorithm>

#include <fmt/format.h>

#include "base/text.h"

namespace herald::imap {

std::optional<StatusItems> parse_status_items(const Value& v) {
  static const char* kKnown[] = {"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED",
                                 "SIZE", "RECENT", "HIGHESTMODSEQ", "APPENDLIMIT", "MAILBOXID"};
  if (v.kind != Value::Kind::list || v.items.empty() || v.items.size() > 16) return std::nullopt;
  StatusItems s;
  for (const auto& i : v.items) {
    if (i.kind != Value::Kind::atom) return std::nullopt;
    std::string upper = to_upper(i.text);
    if (std::find(std::begin(kKnown), std::end(kKnown), upper) == std::end(kKnown)) return std::nullopt;
    s.push_back(std::move(upper));
  }
  return s;
}

std::string status_line(const std::string& name_out, const MailboxInfo& m, const StatusItems& items,
                        std::uint64_t append_limit) {
  std::string out = "* STATUS " + name_out + " (";
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string& item = items[i];
    if (i) out += ' ';
    out += item + ' ';
    if (item == "MESSAGES") out += std::to_string(m.messages);
    else if (item == "UIDNEXT") out += std::to_string(m.uidnext);
    else if (item == "UIDVALIDITY") out += std::to_string(m.uidvalidity);
    else if (item == "UNSEEN") out += std::to_string(m.unseen);
    else if (item == "DELETED") out += std::to_string(m.deleted);
    else if (item == "SIZE") out += std::to_string(m.size);
    else if (item == "RECENT") out += "0";  // IMAP4rev1 only; no \Recent is kept
    else if (item == "HIGHESTMODSEQ") out += std::to_string(m.highestmodseq);
    else if (item == "APPENDLIMIT") out += append_limit ? std::to_string(append_limit) : "NIL";
    else if (item == "MAILBOXID") out += fmt::format("(F{})", m.id);  // RFC 8474 4
  }
  return out + ")\r\n";
}

}  // namespace herald::imap
