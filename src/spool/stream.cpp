#include "spool/stream.h"

#include <fmt/format.h>

#include "base/text.h"

namespace herald::spool {
namespace {

constexpr std::size_t kDataUnit = 64 * 1024;  // message octets handed over at once

// first_line - head up to its first line end, leading blank lines skipped.
std::string_view first_line(std::string_view head) {
  while (!head.empty() && (head.front() == '\r' || head.front() == '\n')) head.remove_prefix(1);
  std::string_view line = head.substr(0, head.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

std::string_view verb_of(std::string_view line) { return line.substr(0, line.find(' ')); }

// field_name - the name of a header field line "Name: value" (RFC 5322
// 2.2: printable ASCII but ':'), or "" when line is not one.
std::string_view field_name(std::string_view line) {
  std::size_t colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos) return {};
  for (char c : line.substr(0, colon))
    if (c <= ' ' || c > '~') return {};
  return line.substr(0, colon);
}

}  // namespace

std::string_view to_string(Format f) {
  switch (f) {
    case Format::data_stream: return "data stream";
    case Format::message: return "message";
    case Format::send_job: return "send job";
    case Format::garbage: return "unknown";
  }
  return "unknown";
}

Format classify(std::string_view head) {
  std::string_view line = first_line(head);
  if (line.find('\0') != std::string_view::npos) return Format::garbage;
  std::string_view verb = verb_of(line);
  if (iequals(verb, "HELO") || iequals(verb, "EHLO") ||
      (line.size() >= 10 && iequals(line.substr(0, 10), "MAIL FROM:")))
    return Format::data_stream;
  if (field_name(line).empty()) return Format::garbage;
  // Header fields, or statements: a send job has its Body: or Attach:
  // among the lines before the first blank one.
  std::size_t pos = head.find(line);
  while (pos < head.size()) {
    std::size_t eol = head.find('\n', pos);
    std::string_view l = head.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.empty()) break;
    std::string_view name = field_name(l);
    if (iequals(name, "Body") || iequals(name, "Attach")) return Format::send_job;
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }
  return Format::message;
}

void fold_line(std::string_view line, std::size_t max, bool header, bool stuffed, std::string& out) {
  std::string rest;
  while (line.size() > max) {
    std::size_t cut = max;
    if (header) {
      // Folding belongs at white space (RFC 5322 2.2.3); a run of text
      // with none is cut where it must be.
      std::size_t ws = line.find_last_of(" \t", max);
      if (ws != std::string_view::npos && ws > 0) cut = ws;
    }
    out.append(line.substr(0, cut));
    out.append("\r\n");
    std::string next;
    std::string_view tail = line.substr(cut);
    if (header && tail.front() != ' ' && tail.front() != '\t') next = " ";
    else if (!header && stuffed && tail.front() == '.') next = ".";
    next.append(tail);
    rest = std::move(next);
    line = rest;
  }
  out.append(line);
  out.append("\r\n");
}

Status StreamReader::feed(std::string_view octets, const Sink& sink) {
  if (failed_) return make_error(Errc::invalid, "the stream was refused");
  while (!octets.empty()) {
    std::size_t nl = octets.find('\n');
    partial_.append(octets.substr(0, nl));
    if (nl == std::string_view::npos) {
      octets = {};
      // A line without its end yet: bounded here, not when it ends.
      if (!in_data_ && partial_.size() > limits_.max_command_line + 1) {
        failed_ = true;
        return make_error(Errc::invalid,
                          fmt::format("a command line longer than {} octets", limits_.max_command_line));
      }
      while (in_data_ && partial_.size() > limits_.max_text_line + 1) {
        if (raw_text_ && !continuing_ && partial_.front() == '.') partial_.insert(0, 1, '.');  // RFC 5321 4.5.2
        // Keep the last octet back: it may be the CR of the line's end.
        std::string_view whole = partial_;
        std::size_t cut = limits_.fold_long_lines ? limits_.max_text_line : whole.size() - 1;
        std::string rest;
        if (limits_.fold_long_lines) {
          if (in_header_) {
            std::size_t ws = whole.find_last_of(" \t", cut);  // RFC 5322 2.2.3: fold at white space
            if (ws != std::string_view::npos && ws > 0) cut = ws;
          }
          data_.append(whole.substr(0, cut));
          data_.append("\r\n");
          std::string_view tail = whole.substr(cut);
          if (in_header_ && tail.front() != ' ' && tail.front() != '\t') rest = " ";
          else if (!in_header_ && tail.front() == '.') rest = ".";
          rest.append(tail);
        } else {
          data_.append(whole.substr(0, cut));  // the session finds it too long
          rest = std::string(whole.substr(cut));
        }
        partial_ = std::move(rest);
        continuing_ = true;
        if (data_.size() >= kDataUnit) flush_data(sink);
      }
      break;
    }
    octets.remove_prefix(nl + 1);
    std::string_view l = partial_;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    Status st = line(l, sink);
    partial_.clear();
    continuing_ = false;
    if (!st) {
      failed_ = true;
      return st;
    }
  }
  flush_data(sink);
  return {};
}

Status StreamReader::finish(const Sink& sink) {
  if (failed_) return make_error(Errc::invalid, "the stream was refused");
  if (!partial_.empty()) {
    // The last line lacks its end: taken as if it had one.
    std::string last = std::move(partial_);
    partial_.clear();
    std::string_view l = last;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (Status st = line(l, sink); !st) {
      failed_ = true;
      return st;
    }
    continuing_ = false;
  }
  flush_data(sink);
  if (in_data_ && raw_text_) {
    sink({Unit::Kind::data_end, ".\r\n", transactions_});
    in_data_ = false;
    ++transactions_;
  } else if (in_data_) {
    failed_ = true;
    return make_error(Errc::invalid, "the file ends inside DATA (truncated: no line with a single \".\")");
  }
  return {};
}

Status StreamReader::line(std::string_view l, const Sink& sink) {
  if (!in_data_) return command(l, sink);
  if (raw_text_) {
    if (!continuing_ && !l.empty() && l.front() == '.') {
      std::string stuffed = "." + std::string(l);  // RFC 5321 4.5.2
      text_line(stuffed, sink);
    } else {
      text_line(l, sink);
    }
    return {};
  }
  if (!continuing_ && l == ".") {
    flush_data(sink);
    sink({Unit::Kind::data_end, ".\r\n", transactions_});
    in_data_ = false;
    ++transactions_;
    return {};
  }
  text_line(l, sink);
  return {};
}

Status StreamReader::command(std::string_view l, const Sink& sink) {
  std::string_view trimmed = trim(l);
  if (trimmed.empty()) return {};  // blank lines between commands: tolerated
  if (l.size() > limits_.max_command_line)
    return make_error(Errc::invalid, fmt::format("a command line longer than {} octets", limits_.max_command_line));
  for (unsigned char c : l)
    if ((c < ' ' && c != '\t') || c == 0x7f)
      return make_error(Errc::invalid, "control octets in a command line (not an SMTP stream)");
  std::string verb = to_upper(verb_of(trimmed));
  if (verb == "BDAT" || verb == "STARTTLS" || verb == "AUTH")
    return make_error(Errc::invalid, fmt::format("{} cannot come from a file", verb));
  if (verb == "QUIT") return {};  // the stream ends with the file; more transactions may follow
  auto emit = [&](std::string_view text) {
    out_.assign(text);
    out_.append("\r\n");
    sink({Unit::Kind::command, out_, transactions_});
  };
  if (verb == "HELO" || verb == "EHLO") {
    greeted_ = true;
    // RFC 821 writers sent a bare HELO.
    if (trimmed.size() == 4) emit(fmt::format("{} {}", verb, limits_.helo_name));
    else emit(trimmed);
    return {};
  }
  if (!greeted_) {
    greeted_ = true;
    emit(fmt::format("HELO {}", limits_.helo_name));
  }
  if (verb == "DATA") {
    if (trimmed.size() != 4) return make_error(Errc::invalid, "DATA with an argument (not an SMTP stream)");
    emit("DATA");
    in_data_ = true;
    in_header_ = true;
    return {};
  }
  emit(trimmed);
  return {};
}

void StreamReader::text_line(std::string_view l, const Sink& sink) {
  if (in_header_ && l.empty() && !continuing_) in_header_ = false;
  if (limits_.fold_long_lines) {
    fold_line(l, limits_.max_text_line, in_header_, true, data_);
  } else {
    data_.append(l);
    data_.append("\r\n");
  }
  if (data_.size() >= kDataUnit) flush_data(sink);
}

void StreamReader::flush_data(const Sink& sink) {
  if (data_.empty()) return;
  sink({Unit::Kind::data, data_, transactions_});
  data_.clear();
}

}  // namespace herald::spool
