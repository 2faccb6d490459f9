// admin/render.cpp - text lines and JSON objects of the command rows.
#include "admin/render.h"

#include <ctime>

#include <fmt/format.h>

#include "base/text.h"

namespace herald::admin {

std::string iso_time(std::int64_t ms) {
  std::time_t t = ms / 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

std::string text_line(const store::DomainRecord& d) { return d.name + (d.from_config ? "  (config)" : ""); }

std::string text_line(const UserInfo& u) {
  return fmt::format("{}  used {} of {}", u.address, format_size(u.used_bytes),
                     u.quota_bytes ? format_size(u.quota_bytes) : "unlimited");
}

std::string text_line(const store::AliasRecord& a) {
  return fmt::format("{}: {}", a.address, fmt::join(a.targets, ", "));
}

std::string text_line(const store::QueueRow& r) {
  return fmt::format("{}  {:>8}  {}  <{}> -> <{}>{}", r.queue_id, r.size, store::to_string(r.state), r.sender,
                     r.recipient, r.last_reply.empty() ? "" : "  (" + r.last_reply + ")");
}

std::string text_line(const store::JournalEntry& e) {
  std::string line = fmt::format("{} {}", iso_time(e.time_ms), store::to_string(e.event));
  if (!e.queue_id.empty()) line += " " + e.queue_id;
  if (!e.sender.empty()) line += fmt::format(" from=<{}>", e.sender);
  if (!e.recipient.empty()) line += fmt::format(" to=<{}>", e.recipient);
  if (!e.client.empty()) line += " client=" + e.client;
  if (e.size) line += fmt::format(" size={}", e.size);
  if (!e.message_id.empty()) line += " message-id=" + e.message_id;
  if (!e.reply.empty()) line += fmt::format(" ({})", e.reply);
  if (!e.detail.empty()) line += " " + e.detail;
  // The accounting record of a received row (who sent what).
  if (!e.door.empty()) line += " door=" + e.door;
  if (!e.identity.empty()) line += fmt::format(" identity=\"{}\"", printable_utf8(e.identity));
  if (!e.recipients.empty()) line += fmt::format(" rcpt=<{}>", printable_utf8(e.recipients));
  if (!e.subject.empty()) line += fmt::format(" subject=\"{}\"", printable_utf8(e.subject));
  if (e.event == store::JournalEvent::received && !e.door.empty()) {
    line += fmt::format(" attachments={}", e.attachments);
    for (std::size_t i = 0; i < e.attachment_names.size(); ++i)
      line += fmt::format("{}\"{}\"", i ? ", " : " ", printable_utf8(e.attachment_names[i]));
  }
  return line;
}

nlohmann::json to_json(const store::DomainRecord& d) {
  return {{"name", d.name}, {"source", d.from_config ? "config" : "store"}};
}

nlohmann::json to_json(const UserInfo& u) {
  return {{"address", u.address}, {"quota_bytes", u.quota_bytes}, {"used_bytes", u.used_bytes},
          {"scram", u.scram},     {"send_as_any", u.send_as_any}};
}

nlohmann::json to_json(const store::AliasRecord& a) { return {{"alias", a.address}, {"targets", a.targets}}; }

nlohmann::json to_json(const store::QueueRow& r) {
  return {{"row", r.row},
          {"queue_id", r.queue_id},
          {"sender", r.sender},
          {"recipient", r.recipient},
          {"original_recipient", r.original_recipient},
          {"status", store::to_string(r.state)},
          {"attempts", r.attempts},
          {"created", r.created},
          {"next_attempt", r.next_attempt},
          {"size", r.size},
          {"last_reply", r.last_reply}};
}

nlohmann::json to_json(const store::JournalEntry& e) {
  return {{"key", std::to_string(e.key)}, {"time", iso_time(e.time_ms)}, {"event", store::to_string(e.event)},
          {"queue_id", e.queue_id},       {"message_id", e.message_id},  {"sender", e.sender},
          {"recipient", e.recipient},     {"client", e.client},          {"size", e.size},
          {"reply", e.reply},             {"detail", e.detail},          {"door", e.door},
          {"identity", e.identity},       {"subject", e.subject},        {"recipients", e.recipients},
          {"attachments", e.attachments}, {"attachment_names", e.attachment_names}};
}

std::string human_size(std::uint64_t octets) {
  static constexpr char kUnits[] = {'k', 'M', 'G', 'T'};
  if (octets < 1024) return std::to_string(octets);
  double v = static_cast<double>(octets);
  int unit = -1;
  while (v >= 1024 && unit < 3) {
    v /= 1024;
    ++unit;
  }
  std::string text = v < 9.95 ? fmt::format("{:.1f}", v) : fmt::format("{:.0f}", v);
  if (text.ends_with(".0")) text.resize(text.size() - 2);
  return text + kUnits[unit];
}

std::string mailbox_header() {
  return fmt::format("{:<32} {:<11} {:>8} {:>8} {:>8}", "MAILBOX", "SPECIAL-USE", "MESSAGES", "UNSEEN", "SIZE");
}

std::string text_line(const MailboxInfo& m) {
  if (!m.selectable) return fmt::format("{:<32} {:<11} {:>8} {:>8} {:>8}", m.name, "\\Noselect", "-", "-", "-");
  return fmt::format("{:<32} {:<11} {:>8} {:>8} {:>8}", m.name, m.special_use, m.messages, m.unseen,
                     human_size(m.size));
}

std::string text_line(const MessageFlags& f) { return fmt::format("{}  ({})", f.uid, fmt::join(f.flags, " ")); }

nlohmann::json to_json(const MailboxInfo& m) {
  return {{"name", m.name},         {"special_use", m.special_use}, {"selectable", m.selectable},
          {"subscribed", m.subscribed}, {"messages", m.messages}, {"unseen", m.unseen},
          {"deleted", m.deleted},   {"size", m.size},               {"uidvalidity", m.uidvalidity},
          {"uidnext", m.uidnext}};
}

nlohmann::json to_json(const MessageFlags& f) { return {{"uid", f.uid}, {"flags", f.flags}}; }

std::string text_line(const SearchHit& h) {
  // The arrival's second, without the milliseconds it does not have.
  return fmt::format("{}  {}  {}  {}  {}", h.mailbox, h.uid, iso_time(h.internaldate * 1000).substr(0, 19) + "Z",
                     h.from, h.subject);
}

nlohmann::json to_json(const SearchHit& h) {
  return {{"mailbox", h.mailbox}, {"uid", h.uid},   {"date", iso_time(h.internaldate * 1000)},
          {"internaldate", h.internaldate}, {"from", h.from}, {"subject", h.subject}};
}

nlohmann::json to_json(const QuotaInfo& q) {
  return {{"address", q.address}, {"quota_bytes", q.quota_bytes}, {"used_bytes", q.used_bytes},
          {"unlimited", q.quota_bytes == 0}};
}

nlohmann::json to_json(const AclInfo& a) {
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& e : a.entries) entries.push_back({{"identifier", e.identifier}, {"rights", e.rights}});
  return {{"owner", a.owner}, {"mailbox", a.mailbox}, {"entries", std::move(entries)}};
}

nlohmann::json to_json(const ImportReport& r) {
  nlohmann::json boxes = nlohmann::json::object();
  for (const auto& [name, n] : r.mailboxes) boxes[name] = n;
  return {{"mailboxes", boxes}, {"created", r.created}, {"imported", r.imported}, {"skipped", r.skipped},
          {"failed", r.failed}, {"octets", r.octets},   {"problems", r.problems}};
}

nlohmann::json to_json(const ExportReport& r) {
  nlohmann::json boxes = nlohmann::json::object();
  for (const auto& [name, n] : r.mailboxes) boxes[name] = n;
  return {{"mailboxes", boxes}, {"exported", r.exported}, {"octets", r.octets},
          {"keywords_dropped", r.keywords_dropped}};
}

std::string dump(const nlohmann::json& j) { return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace); }
std::string dump_line(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// element - one element of the array at dump(2)'s indentation: its lines one
// level in. A dumped JSON value has no raw line end inside a string.
void RowWriter::element(const std::string& dumped) {
  std::string text = first_ ? "[\n  " : ",\n  ";
  first_ = false;
  text.reserve(text.size() + dumped.size() + 64);
  for (char c : dumped) {
    text += c;
    if (c == '\n') text += "  ";
  }
  out_ << text;
}

void RowWriter::finish() {
  if (!json_) return;
  out_ << (first_ ? "[]\n" : "\n]\n");
}

}  // namespace herald::admin
