// imap/command.h - IMAP commands as they arrive: tagged lines of atoms,
// quoted strings, literals and parenthesised lists (RFC 9051 4 and 9,
// RFC 3501 for IMAP4rev1 clients), parsed into a tree of values that the
// session interprets per command.
//
// Pure and incremental: octets in, commands out, however the octets are
// sliced. Each line is parsed once, when its CRLF has come; a line that
// ends in a literal announcement ({N}, {N+} of RFC 7888 LITERAL+, ~{N} of
// RFC 3516 BINARY) keeps its parse state while the literal's octets are
// read, then the command goes on with the next line. A synchronizing
// literal waits for the driver to send the continuation ("+ go ahead").
//
// Bounded (CommandLimits): a line, every literal and all literals of a
// command, the nesting of lists, the number of values. What is past a
// bound is never buffered: the command is refused (BAD) and its rest
// skipped, or, where the client will send octets we will not read (a
// non-synchronizing literal over the bound), the connection is closed.
// NUL is refused outside literal8 (RFC 9051 4.3.1).
//
// Hand-written: IMAP's grammar (literals inside a line, continuation
// requests, section brackets in FETCH atoms) fits no parser library.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace herald::imap {

// Value - one parsed argument.
struct Value {
  enum class Kind { atom, quoted, literal, list };
  Kind kind = Kind::atom;
  std::string text;          // atom, quoted (unescaped) or literal octets
  bool binary = false;       // a literal8 (~{N}): may hold NUL
  std::vector<Value> items;  // list

  bool is_atom(std::string_view upper) const;  // an atom equal to upper, any case
  bool is_string() const { return kind == Kind::quoted || kind == Kind::literal; }
  bool is_astring() const { return kind != Kind::list; }  // atom, quoted or literal
  bool is_nil() const { return is_atom("NIL"); }
};

struct Command {
  std::string tag;
  std::string name;          // upper case: "FETCH", "UID", "AUTHENTICATE"
  std::vector<Value> args;
};

struct CommandLimits {
  std::size_t max_line = 64 * 1024;           // octets of a line, literals excluded
  std::uint64_t max_literal = 64ull << 20;    // octets of one literal (APPEND's message)
  std::uint64_t max_command = 64ull << 20;    // octets of all literals of a command
  std::size_t max_depth = 32;                 // nested lists
  std::size_t max_values = 100000;            // values in a command, at every depth
  std::uint64_t max_nonsync_literal = 4096;   // RFC 7888 LITERAL-: larger ones must synchronize
};

// ParseError - why a command was refused. tag is "*" when none could be
// read; fatal: the connection must be closed (the client is sending octets
// that will not be read).
struct ParseError {
  std::string tag;
  std::string text;
  bool fatal = false;
};

class CommandReader {
 public:
  enum class Event {
    need_more,     // feed more octets
    command,       // take_command()
    continuation,  // a synchronizing literal was announced: send "+ ..." then call next() again
    error,         // error(): answer BAD (and close if fatal); next() goes on after it
    line,          // after expect_line(): take_line()
  };

  explicit CommandReader(CommandLimits limits = {}) : limits_(limits) {}
  // set_max_command - the bound on all literals of a command from now on
  // (smaller before login).
  void set_max_command(std::uint64_t max) { limits_.max_command = max; }

  void feed(std::string_view octets) { buffer_.append(octets); }
  Event next();
  Command take_command() { return std::move(command_); }
  // tag - of the command being read (after Event::continuation).
  const std::string& tag() const { return command_.tag; }
  // expect_line - the next line is not a command but a client's answer to
  // a continuation: an AUTHENTICATE response (RFC 9051 6.2.2) or IDLE's
  // DONE (RFC 2177). next() gives it as Event::line, without its CRLF,
  // bounded as a command line is.
  void expect_line() { state_ = State::raw_line; }
  std::string take_line() { return std::move(line_); }
  const ParseError& error() const { return error_; }
  // announced - after Event::continuation: the size of the literal the
  // client waits to send.
  std::uint64_t announced() const { return literal_left_; }
  // refuse_literal - after Event::continuation, instead of "+ ...": the
  // client will not send the literal (it gets a tagged NO), so the command
  // is dropped and the next line is a new one (RFC 9051 7.5).
  void refuse_literal();
  // between_commands - no command is in part read: nothing is buffered,
  // no literal or line is awaited.
  bool between_commands() const { return state_ == State::line && !started_ && buffered() == 0; }
  // buffered - octets fed and not yet consumed (what STARTTLS must drop).
  std::size_t buffered() const { return buffer_.size() - pos_; }
  void discard_buffered() {
    buffer_.clear();
    pos_ = 0;
    scanned_ = 0;  // else the next line's LF could be skipped as already searched
  }
  // take_buffered - the octets fed and not consumed, taken out (what came
  // after COMPRESS: compressed already).
  std::string take_buffered() {
    std::string rest = buffer_.substr(pos_);
    discard_buffered();
    return rest;
  }

 private:
  enum class State { line, literal, skip_line, skip_literal, continuation_pending, raw_line };

  Event parse_line(std::string_view line);  // a line without its CRLF
  Event fail(std::string text, bool fatal = false);
  void reset_command();
  void compact();

  CommandLimits limits_;
  std::string buffer_;
  std::size_t pos_ = 0;       // consumed octets of buffer_
  std::size_t scanned_ = 0;   // of the current line: searched for CRLF up to here
  State state_ = State::line;
  // The command being parsed: its lists open so far (stack_[0] the top).
  bool started_ = false;
  Command command_;
  std::vector<std::vector<Value>> stack_;
  std::size_t values_ = 0;
  std::uint64_t literal_total_ = 0;
  // The literal being read.
  std::uint64_t literal_left_ = 0;
  bool literal_binary_ = false;
  std::string literal_;
  std::string line_;  // a raw line (expect_line)
  ParseError error_;
};

}  // namespace herald::imap
