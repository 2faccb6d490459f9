#include "imap/command.h"

#include <algorithm>
#include <charconv>

namespace herald::imap {
namespace {

bool ctl(unsigned char c) { return c < 0x20 || c == 0x7f; }

// atom_char - RFC 9051 ATOM-CHAR, widened as servers read it: "*", "%"
// (LIST patterns, sequence sets), "]" and "\" (flags) are taken too; the
// command's own grammar decides later what an atom may be.
bool atom_char(unsigned char c) {
  return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '"';
}

// tag_char - RFC 9051 9 tag: ASTRING-CHAR but "+"; no "\", "*", "%"
// (atom-specials), so that a tag goes back out as it came, even quoted.
bool tag_char(unsigned char c) {
  return atom_char(c) && c != '+' && c != '\\' && c != '*' && c != '%';
}

// literal_spec - "{N}", "{N+}", "~{N}", "~{N+}" ending `line`: its size,
// whether it synchronizes, whether it is a literal8, and where it starts.
struct LiteralSpec {
  std::uint64_t size = 0;
  bool sync = true;
  bool binary = false;
  std::size_t start = 0;
  bool valid = false;  // a well-formed announcement
};

LiteralSpec literal_at_end(std::string_view line) {
  LiteralSpec s;
  if (line.empty() || line.back() != '}') return s;
  std::size_t open = line.rfind('{');
  if (open == std::string_view::npos) return s;
  std::string_view inner = line.substr(open + 1, line.size() - open - 2);
  if (!inner.empty() && inner.back() == '+') {
    s.sync = false;
    inner.remove_suffix(1);
  }
  if (inner.empty() || inner.size() > 20) return s;
  auto [end, ec] = std::from_chars(inner.data(), inner.data() + inner.size(), s.size);
  if (ec != std::errc() || end != inner.data() + inner.size()) return s;
  s.binary = open > 0 && line[open - 1] == '~';
  s.start = s.binary ? open - 1 : open;
  s.valid = true;
  return s;
}

}  // namespace

bool Value::is_atom(std::string_view upper) const {
  if (kind != Kind::atom || text.size() != upper.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != upper[i]) return false;
  }
  return true;
}

void CommandReader::reset_command() {
  started_ = false;
  command_ = Command{};
  stack_.clear();
  values_ = 0;
  literal_total_ = 0;
  literal_.clear();  // literal_left_ stays: a refused command's literal may still be skipped
}

void CommandReader::compact() {
  if (pos_ > 0 && pos_ >= buffer_.size() / 2) {
    buffer_.erase(0, pos_);
    scanned_ -= std::min(scanned_, pos_);
    pos_ = 0;
  }
}

CommandReader::Event CommandReader::fail(std::string text, bool fatal) {
  error_ = ParseError{command_.tag.empty() ? "*" : command_.tag, std::move(text), fatal};
  reset_command();
  return Event::error;
}

void CommandReader::refuse_literal() {
  reset_command();
  literal_left_ = 0;
  state_ = State::line;
}

CommandReader::Event CommandReader::next() {
  for (;;) {
    compact();
    switch (state_) {
      case State::continuation_pending:
        state_ = State::literal;  // the driver has sent "+ ..."
        continue;
      case State::literal:
      case State::skip_literal: {
        std::uint64_t n = std::min<std::uint64_t>(literal_left_, buffer_.size() - pos_);
        if (state_ == State::literal) literal_.append(buffer_, pos_, static_cast<std::size_t>(n));
        pos_ += static_cast<std::size_t>(n);
        literal_left_ -= n;
        if (literal_left_ > 0) return Event::need_more;
        if (state_ == State::skip_literal) {
          state_ = State::skip_line;  // the refused command's line goes on after it
          continue;
        }
        if (!literal_binary_ && literal_.find('\0') != std::string::npos) {
          state_ = State::skip_line;
          return fail("NUL in a literal (only literal8 may hold it)");
        }
        stack_.back().push_back(Value{Value::Kind::literal, std::move(literal_), literal_binary_, {}});
        literal_.clear();
        state_ = State::line;
        scanned_ = pos_;
        continue;
      }
      case State::raw_line: {
        std::size_t nl = buffer_.find('\n', std::max(scanned_, pos_));
        if (nl == std::string::npos) {
          scanned_ = buffer_.size();
          if (buffer_.size() - pos_ > limits_.max_line + 1) {
            state_ = State::skip_line;
            return fail("Line too long");
          }
          return Event::need_more;
        }
        std::size_t length = nl - pos_;
        if (length > 0 && buffer_[nl - 1] == '\r') --length;
        const std::size_t from = pos_;
        pos_ = nl + 1;
        scanned_ = pos_;
        state_ = State::line;
        if (length > limits_.max_line) return fail("Line too long");  // as when found before its end
        line_.assign(buffer_, from, length);
        return Event::line;
      }
      case State::line:
      case State::skip_line: {
        std::size_t nl = buffer_.find('\n', std::max(scanned_, pos_));
        if (nl == std::string::npos) {
          scanned_ = buffer_.size();
          if (state_ == State::skip_line) {
            // Skipped octets are not kept; the tail tells whether the line
            // ends in a literal that is skipped too.
            std::size_t keep = std::min<std::size_t>(buffer_.size() - pos_, 32);
            pos_ = buffer_.size() - keep;
            scanned_ = buffer_.size();
            return Event::need_more;
          }
          if (buffer_.size() - pos_ > limits_.max_line + 1) {  // + 1: the CR of its CRLF may be there
            state_ = State::skip_line;
            return fail("Command line too long");
          }
          return Event::need_more;
        }
        std::string_view line(buffer_.data() + pos_, nl - pos_);
        pos_ = nl + 1;
        scanned_ = pos_;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (state_ == State::skip_line) {
          state_ = State::line;
          LiteralSpec s = literal_at_end(line);
          if (s.valid && !s.sync) {
            if (s.size > limits_.max_literal) return fail("Literal too large", true);
            literal_left_ = s.size;
            state_ = State::skip_literal;
          }
          continue;
        }
        if (line.size() > limits_.max_line) {
          // As when it was found too long before its end: skipped, and a
          // non-synchronizing literal at its end with it.
          LiteralSpec s = literal_at_end(line);
          if (s.valid && !s.sync) {
            if (s.size > limits_.max_literal) return fail("Command line too long", true);
            literal_left_ = s.size;
            state_ = State::skip_literal;
          }
          return fail("Command line too long");
        }
        Event e = parse_line(line);
        if (e == Event::need_more) continue;  // a literal follows, or a blank line
        return e;
      }
    }
  }
}

CommandReader::Event CommandReader::parse_line(std::string_view line) {
  // A refused line that ends in a non-synchronizing literal has its
  // literal skipped too: the client sends it whatever we answer.
  auto refuse = [&](std::string text) {
    if (!started_ && command_.tag.empty()) {
      // The BAD names the tag when the line began with one.
      std::size_t end = 0;
      while (end < line.size() && tag_char(static_cast<unsigned char>(line[end]))) ++end;
      if (end > 0 && end < line.size() && line[end] == ' ') command_.tag = std::string(line.substr(0, end));
    }
    LiteralSpec s = literal_at_end(line);
    if (s.valid && !s.sync) {
      if (s.size > limits_.max_literal) return fail(std::move(text), true);
      literal_left_ = s.size;
      state_ = State::skip_literal;
    }
    return fail(std::move(text));
  };
  if (line.find('\0') != std::string_view::npos) return refuse("NUL in a command line");
  std::size_t i = 0;
  if (!started_) {
    if (line.empty()) return Event::need_more;  // a blank line between commands
    // tag SP command-name (RFC 9051 9: tag = 1*<any ASTRING-CHAR except "+">)
    while (i < line.size() && tag_char(static_cast<unsigned char>(line[i]))) ++i;
    command_.tag = std::string(line.substr(0, i));
    if (command_.tag.empty() || i >= line.size() || line[i] != ' ') {
      command_.tag.clear();
      return refuse("Missing or invalid tag");
    }
    std::size_t start = ++i;
    while (i < line.size() && atom_char(static_cast<unsigned char>(line[i])) && line[i] != '[') ++i;
    if (i == start) return refuse("Missing command");
    for (std::size_t k = start; k < i; ++k) {
      char c = line[k];
      command_.name += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    }
    if (i < line.size() && line[i] != ' ') return refuse("Invalid command name");
    started_ = true;
    stack_.emplace_back();
  }
  // Arguments: values separated by SP, lists in parentheses.
  bool after_value = stack_.size() > 0 && !stack_.back().empty() && i == 0;  // right after a literal
  while (i < line.size()) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    if (c == ' ') {
      ++i;
      after_value = false;
      continue;
    }
    if (c == ')') {
      if (stack_.size() < 2) return refuse("Unexpected )");
      Value list{Value::Kind::list, {}, false, std::move(stack_.back())};
      stack_.pop_back();
      stack_.back().push_back(std::move(list));
      ++i;
      after_value = true;
      continue;
    }
    if (c > 0x7e) return refuse("8-bit octets outside a string");
    if (after_value) return refuse("Missing space between arguments");
    if (++values_ > limits_.max_values) return refuse("Too many arguments");
    if (c == '(') {
      if (stack_.size() > limits_.max_depth) return refuse("Lists nested too deep");
      stack_.emplace_back();
      ++i;
      continue;
    }
    if (c == '"') {
      std::string text;
      ++i;
      bool closed = false;
      while (i < line.size()) {
        char q = line[i++];
        if (q == '"') {
          closed = true;
          break;
        }
        if (q == '\\') {
          if (i >= line.size() || (line[i] != '\\' && line[i] != '"')) return refuse("Invalid escape in a quoted string");
          q = line[i++];
        }
        text += q;
      }
      if (!closed) return refuse("Unterminated quoted string");
      stack_.back().push_back(Value{Value::Kind::quoted, std::move(text), false, {}});
      after_value = true;
      continue;
    }
    if (c == '{' || (c == '~' && i + 1 < line.size() && line[i + 1] == '{')) {
      LiteralSpec s = literal_at_end(line);
      if (!s.valid || s.start != i) return refuse("Invalid literal");
      if (!s.sync && s.size > limits_.max_nonsync_literal && s.size <= limits_.max_literal) {
        literal_left_ = s.size;  // RFC 7888 LITERAL-: it must synchronize
        state_ = State::skip_literal;
        return fail("Non-synchronizing literal over 4096 octets");
      }
      if (s.size > limits_.max_literal || literal_total_ + s.size > limits_.max_command)
        return s.sync ? fail("Literal too large") : fail("Literal too large", true);
      literal_total_ += s.size;
      literal_left_ = s.size;
      literal_binary_ = s.binary;
      literal_.clear();
      state_ = s.sync ? State::continuation_pending : State::literal;
      return s.sync ? Event::continuation : Event::need_more;
    }
    // An atom; "[...]" inside it (FETCH's BODY[HEADER.FIELDS (A B)]) may
    // hold spaces and parentheses.
    std::size_t start = i;
    while (i < line.size()) {
      unsigned char a = static_cast<unsigned char>(line[i]);
      if (a == '[') {
        std::size_t close = line.find(']', i);
        if (close == std::string_view::npos) return refuse("Missing ] in an atom");
        for (std::size_t k = i; k < close; ++k)
          if (ctl(static_cast<unsigned char>(line[k])) || static_cast<unsigned char>(line[k]) > 0x7e)
            return refuse("Invalid character in a section");
        i = close + 1;
        continue;
      }
      if (!atom_char(a)) break;
      ++i;
    }
    if (i == start) return refuse("Invalid character");
    stack_.back().push_back(Value{Value::Kind::atom, std::string(line.substr(start, i - start)), false, {}});
    after_value = true;
  }
  // The line ended, no literal after it: the command is whole.
  if (stack_.size() != 1) return refuse("Missing )");
  command_.args = std::move(stack_.front());
  stack_.clear();
  started_ = false;
  values_ = 0;
  literal_total_ = 0;
  return Event::command;
}

}  // namespace herald::imap
