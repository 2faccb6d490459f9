// admin/mailfiles.cpp - maildir names and flags, mbox separators and
// headers, folder names in modified UTF-7.
#include "admin/mailfiles.h"

#include <iconv.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <string_view>

#include "base/text.h"
#include "store/mailboxes.h"

namespace herald::admin::mailfiles {
namespace {

constexpr std::array<std::pair<std::uint32_t, const char*>, 5> kFlagNames{{
    {store::kSeen, "\\Seen"},
    {store::kAnswered, "\\Answered"},
    {store::kFlagged, "\\Flagged"},
    {store::kDeleted, "\\Deleted"},
    {store::kDraft, "\\Draft"},
}};

// The maildir letters of the system flags (P, passed, has no IMAP flag).
constexpr std::array<std::pair<char, std::uint32_t>, 5> kMaildirLetters{{
    {'D', store::kDraft}, {'F', store::kFlagged}, {'R', store::kAnswered}, {'S', store::kSeen}, {'T', store::kDeleted},
}};

bool digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// info_at - where a maildir name's info (":2," or Windows' "!2,") begins.
std::size_t info_at(std::string_view name) {
  std::size_t at = name.find(":2,");
  if (at == std::string_view::npos) at = name.find("!2,");
  return at;
}

// utf7 - a name through glibc's modified UTF-7 converter (lenient: a
// level another server wrote is taken as it decodes, canonical or not).
std::optional<std::string> utf7(bool decode, std::string_view text) {
  iconv_t cd = decode ? iconv_open("UTF-8", "UTF-7-IMAP") : iconv_open("UTF-7-IMAP", "UTF-8");
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
  std::string out(text.size() * 4 + 16, '\0');
  char* in = const_cast<char*>(text.data());
  std::size_t in_left = text.size();
  char* to = out.data();
  std::size_t to_left = out.size();
  bool ok = iconv(cd, &in, &in_left, &to, &to_left) != static_cast<std::size_t>(-1) &&
            iconv(cd, nullptr, nullptr, &to, &to_left) != static_cast<std::size_t>(-1);
  iconv_close(cd);
  if (!ok) return std::nullopt;
  out.resize(out.size() - to_left);
  return out;
}

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

int month_of(std::string_view s) {
  static constexpr const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                            "jul", "aug", "sep", "oct", "nov", "dec"};
  if (s.size() < 3) return 0;
  for (int i = 0; i < 12; ++i)
    if (iequals(s.substr(0, 3), kMonths[i])) return i + 1;
  return 0;
}

// zone_seconds - "+0100" as 3600 east; UT, UTC, GMT, Z as 0; nullopt
// for what is no zone.
std::optional<int> zone_seconds(std::string_view s) {
  if (s.size() == 5 && (s[0] == '+' || s[0] == '-') && digits(s.substr(1))) {
    int v = ((s[1] - '0') * 10 + (s[2] - '0')) * 3600 + ((s[3] - '0') * 10 + (s[4] - '0')) * 60;
    return s[0] == '-' ? -v : v;
  }
  if (!s.empty() && s.size() <= 5 && std::all_of(s.begin(), s.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); }))
    return 0;  // a name: only UTC's are known for sure; the others are read as UTC too
  return std::nullopt;
}

// clock_of - "01:05:34" or "01:05" as seconds of the day.
std::optional<int> clock_of(std::string_view s) {
  auto parts = split(s, ':');
  if (parts.size() < 2 || parts.size() > 3) return std::nullopt;
  int v[3] = {0, 0, 0};
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (!digits(parts[i]) || parts[i].size() > 2) return std::nullopt;
    v[i] = std::stoi(std::string(parts[i]));
  }
  if (v[0] > 23 || v[1] > 59 || v[2] > 60) return std::nullopt;
  return v[0] * 3600 + v[1] * 60 + v[2];
}

bool header_named(std::string_view line, std::string_view name) {
  return line.size() > name.size() && line[name.size()] == ':' && iequals(line.substr(0, name.size()), name);
}

std::string_view header_value(std::string_view line) {
  return trim(line.substr(line.find(':') + 1));
}

}  // namespace

std::string crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32 + 2);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
    out += text[i];
  }
  return out;
}

std::vector<std::string> flag_names(std::uint32_t flags) {
  std::vector<std::string> out;
  for (const auto& [bit, name] : kFlagNames)
    if (flags & bit) out.emplace_back(name);
  return out;
}

std::optional<std::uint32_t> parse_flag(std::string_view name) {
  if (name.starts_with('\\')) {
    for (const auto& [bit, flag] : kFlagNames)
      if (iequals(name, flag)) return bit;
    return std::nullopt;
  }
  if (!keyword_ok(name)) return std::nullopt;
  return 0u;
}

bool keyword_ok(std::string_view keyword) {
  if (keyword.empty() || keyword.size() > 200) return false;
  for (char c : keyword)
    if (c <= 0x20 || c >= 0x7f || std::string_view("(){%*\"\\]").find(c) != std::string_view::npos) return false;
  return true;
}

// ---- maildir -------------------------------------------------------------

std::string_view maildir_base(std::string_view filename) {
  std::size_t at = info_at(filename);
  if (at == std::string_view::npos) at = filename.find(':');
  return filename.substr(0, at);
}

MaildirFlags maildir_flags(std::string_view filename, const std::vector<std::string>& keywords) {
  MaildirFlags out;
  std::size_t at = info_at(filename);
  if (at == std::string_view::npos) return out;
  for (char c : filename.substr(at + 3)) {
    if (c == ',') break;  // further info fields (Dovecot's ",S=" after the flags is not written there)
    for (const auto& [letter, bit] : kMaildirLetters)
      if (c == letter) out.flags |= bit;
    if (c >= 'a' && c <= 'z') {
      std::size_t i = static_cast<std::size_t>(c - 'a');
      if (i < keywords.size() && !keywords[i].empty() &&
          std::find(out.keywords.begin(), out.keywords.end(), keywords[i]) == out.keywords.end())
        out.keywords.push_back(keywords[i]);
    }
  }
  return out;
}

std::string maildir_info(std::uint32_t flags, const std::vector<std::string>& keywords,
                         std::vector<std::string>& table, std::size_t* dropped) {
  std::string letters;
  for (const auto& [letter, bit] : kMaildirLetters)
    if (flags & bit) letters += letter;
  for (const auto& k : keywords) {
    auto it = std::find(table.begin(), table.end(), k);
    if (it == table.end()) {
      it = std::find(table.begin(), table.end(), std::string());  // a free letter
      if (it != table.end()) *it = k;
      else if (table.size() < 26) it = table.insert(table.end(), k);
      else {
        if (dropped) ++*dropped;
        continue;
      }
    }
    letters += static_cast<char>('a' + (it - table.begin()));
  }
  std::sort(letters.begin(), letters.end());
  letters.erase(std::unique(letters.begin(), letters.end()), letters.end());
  return ":2," + letters;
}

std::optional<std::int64_t> leading_timestamp(std::string_view filename) {
  std::size_t end = 0;
  while (end < filename.size() && filename[end] >= '0' && filename[end] <= '9') ++end;
  if (end == 0 || end > 12 || (end < filename.size() && filename[end] != '.')) return std::nullopt;
  return static_cast<std::int64_t>(*parse_uint(filename.substr(0, end)));
}

std::vector<std::string> parse_dovecot_keywords(std::string_view text) {
  std::vector<std::string> table;
  for (std::string_view line : split(text, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto w = words(line);
    if (w.size() != 2 || !digits(w[0]) || w[0].size() > 2 || !keyword_ok(w[1])) continue;
    std::size_t i = static_cast<std::size_t>(*parse_uint(w[0]));
    if (i >= 26) continue;
    if (table.size() <= i) table.resize(i + 1);
    table[i] = std::string(w[1]);
  }
  return table;
}

std::string format_dovecot_keywords(const std::vector<std::string>& table) {
  std::string out;
  for (std::size_t i = 0; i < table.size(); ++i)
    if (!table[i].empty()) out += std::to_string(i) + " " + table[i] + "\n";
  return out;
}

std::map<std::string, std::int64_t, std::less<>> parse_dovecot_uidlist(std::string_view text) {
  std::map<std::string, std::int64_t, std::less<>> out;
  bool header = true;
  for (std::string_view line : split(text, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (header) {  // "3 V1700000000 N42 G..." or "1 1700000000 42"
      header = false;
      continue;
    }
    std::size_t end = 0;
    while (end < line.size() && line[end] >= '0' && line[end] <= '9') ++end;
    if (end == 0 || end > 12 || end == line.size() || line[end] != ' ') continue;
    const auto uid = static_cast<std::int64_t>(*parse_uint(line.substr(0, end)));
    std::string_view name;
    if (std::size_t colon = line.find(" :"); colon != std::string_view::npos) name = line.substr(colon + 2);
    else name = trim(line.substr(end + 1));
    if (!name.empty() && uid > 0) out.emplace(std::string(maildir_base(name)), uid);
  }
  return out;
}

std::optional<std::string> folder_mailbox(std::string_view dirname) {
  if (dirname.size() < 2 || dirname[0] != '.' || dirname == "..") return std::nullopt;
  std::string name;
  for (std::string_view level : split(dirname.substr(1), '.')) {
    if (level.empty()) return std::nullopt;
    std::string decoded(level);
    if (level.find('&') != std::string_view::npos)
      if (auto d = utf7(true, level)) decoded = std::move(*d);
    if (!valid_utf8(decoded) || decoded.find('/') != std::string::npos) return std::nullopt;
    for (unsigned char c : decoded)
      if (c < 0x20 || c == 0x7f) return std::nullopt;
    if (!name.empty()) name += store::kHierarchyDelimiter;
    name += decoded;
  }
  return store::canonical_mailbox_name(name);
}

std::string mailbox_folder(const std::string& mailbox) {
  if (store::canonical_mailbox_name(mailbox) == store::kInbox) return "";
  std::string out;
  for (std::string_view level : split(mailbox, store::kHierarchyDelimiter)) {
    std::string encoded = utf7(false, level).value_or(std::string(level));
    out += '.';
    for (char c : encoded) {
      if (c == '.') out += "&AC4-";
      else out += c;
    }
  }
  return out;
}

// ---- mbox ------------------------------------------------------------------

std::optional<std::int64_t> from_line_date(std::string_view line) {
  if (!line.starts_with("From ")) return std::nullopt;
  auto w = words(line.substr(5));
  // The sender is one word (or none, "From  Sat ..."); find the month:
  // [weekday] month day time [zone] year [zone].
  for (std::size_t i = 0; i + 2 < w.size(); ++i) {
    int month = month_of(w[i]);
    if (!month || w[i].size() != 3 || !digits(w[i + 1]) || w[i + 1].size() > 2) continue;
    auto clock = clock_of(w[i + 2]);
    if (!clock) continue;
    std::size_t j = i + 3;
    int zone = 0;
    if (j < w.size() && !digits(w[j])) {
      auto z = zone_seconds(w[j]);
      if (!z) continue;
      zone = *z;
      ++j;
    }
    if (j >= w.size() || !digits(w[j]) || w[j].size() != 4) continue;
    const int year = std::stoi(std::string(w[j]));
    if (j + 1 < w.size())
      if (auto z = zone_seconds(w[j + 1])) zone = *z;
    namespace chr = std::chrono;
    const chr::year_month_day ymd{chr::year(year), chr::month(static_cast<unsigned>(month)),
                                  chr::day(static_cast<unsigned>(std::stoi(std::string(w[i + 1]))))};
    if (!ymd.ok()) return std::nullopt;
    const std::int64_t days = chr::sys_days(ymd).time_since_epoch().count();
    return days * 86400 + *clock - zone;
  }
  return std::nullopt;
}

MboxMessage mbox_message(std::string_view from_line, std::string_view raw) {
  MboxMessage m;
  if (auto date = from_line_date(from_line)) m.internaldate = *date;
  m.body.reserve(raw.size() + raw.size() / 32 + 2);
  bool in_header = true;
  bool dropping = false;  // inside a header field being removed (its folded lines too)
  std::size_t pos = 0;
  while (pos < raw.size()) {
    std::size_t nl = raw.find('\n', pos);
    const bool ended = nl != std::string_view::npos;
    std::string_view line = raw.substr(pos, ended ? nl - pos : std::string_view::npos);
    pos = ended ? nl + 1 : raw.size();
    if (line.ends_with('\r')) line.remove_suffix(1);
    // mboxrd: ">From ", ">>From ", ... lose one '>'.
    std::size_t quotes = 0;
    while (quotes < line.size() && line[quotes] == '>') ++quotes;
    if (quotes > 0 && line.substr(quotes).starts_with("From ")) line.remove_prefix(1);
    if (in_header) {
      if (line.empty()) {
        in_header = false;
        dropping = false;
      } else if (line[0] == ' ' || line[0] == '\t') {
        if (dropping) continue;
      } else {
        dropping = false;
        if (header_named(line, "Status")) {
          for (char c : header_value(line))
            if (c == 'R') m.flags |= store::kSeen;
          dropping = true;
        } else if (header_named(line, "X-Status")) {
          for (char c : header_value(line)) {
            if (c == 'A') m.flags |= store::kAnswered;
            if (c == 'F') m.flags |= store::kFlagged;
            if (c == 'T') m.flags |= store::kDraft;
            if (c == 'D') m.flags |= store::kDeleted;
          }
          dropping = true;
        } else if (header_named(line, "X-Keywords")) {
          std::string value(header_value(line));
          std::replace(value.begin(), value.end(), ',', ' ');
          for (auto k : words(value))
            if (keyword_ok(k) && std::find(m.keywords.begin(), m.keywords.end(), k) == m.keywords.end())
              m.keywords.emplace_back(k);
          dropping = true;
        } else if (header_named(line, "X-IMAP")) {
          m.pseudo = true;
          dropping = true;
        } else if (header_named(line, "X-IMAPbase") || header_named(line, "X-UID")) {
          dropping = true;
        }
        if (dropping) continue;
      }
    }
    m.body += line;
    if (ended) m.body += "\r\n";
  }
  return m;
}

std::optional<MboxMessage> MboxReader::next() {
  if (!ok_) return std::nullopt;
  std::string raw;
  std::size_t last_line = 0;  // octets of the last line read, with its "\n"
  bool last_blank = false;
  std::string line;
  while (std::getline(in_, line)) {
    ++line_no_;
    const bool ended = !in_.eof();
    std::string_view text = line;
    if (text.ends_with('\r')) text.remove_suffix(1);
    if (!started_) {
      if (text.empty()) continue;  // blank lines before the first message
      if (!text.starts_with("From ")) {
        ok_ = false;
        return std::nullopt;
      }
      started_ = true;
      from_ = std::string(text);
      from_no_ = line_no_;
      continue;
    }
    if (text.starts_with("From ") && from_line_date(text)) {
      // The blank line before a separator is the mbox's, not the message's.
      if (last_blank) raw.resize(raw.size() - last_line);
      MboxMessage m = mbox_message(from_, raw);
      m.line = from_no_;
      from_ = std::string(text);
      from_no_ = line_no_;
      return m;
    }
    raw += line;
    if (ended) raw += '\n';
    last_line = line.size() + (ended ? 1 : 0);
    last_blank = text.empty();
  }
  if (!started_) return std::nullopt;  // empty, or blank lines only: no messages
  if (from_.empty()) return std::nullopt;  // the last one was given
  if (last_blank) raw.resize(raw.size() - last_line);
  MboxMessage m = mbox_message(from_, raw);
  m.line = from_no_;
  from_.clear();
  return m;
}

}  // namespace herald::admin::mailfiles
