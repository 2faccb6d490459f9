// mime/structure.h - a message's MIME structure, computed once as its
// octets pass (at delivery), so that IMAP's BODYSTRUCTURE, ENVELOPE and
// FETCH BODY[section] never parse the message again (issue 14: "computed
// once, never re-parsed").
//
// What it finds, per part (RFC 2045, 2046, 2183; what RFC 9051 7.5.2's
// BODYSTRUCTURE reports): the content type and its parameters, ID,
// description, transfer encoding, disposition, language, location, MD5;
// where its header and body begin and end (octet offsets into the octets
// fed); the body's size and lines; the parts of a multipart; the message
// inside a message/rfc822 part with its envelope. For the message and
// every message/rfc822 part, the envelope's fields (Date, Subject, From,
// Sender, Reply-To, To, Cc, Bcc, In-Reply-To, Message-ID) as written.
//
// Streaming and bounded (StructureLimits): a line at a time, each header
// kept up to header_max octets, parts nested at most max_depth deep (a
// deeper multipart is one opaque body), at most max_parts parts (past it
// the rest of the message is the body of the part it is in). A MIME bomb
// costs the parse its bounds, never more.
//
// Hand-written: GMime and mimetic parse whole messages into memory; this
// needs offsets, bounds, and one pass over a stream.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald::mime {

struct StructureLimits {
  std::size_t max_depth = 32;          // nested multiparts and messages
  std::size_t max_parts = 10000;       // parts in all
  std::size_t header_max = 64 * 1024;  // octets of one header section kept
};

using Parameters = std::vector<std::pair<std::string, std::string>>;

// Envelope - RFC 9051 7.5.2 ENVELOPE's fields, unfolded, as written
// (encoded words stay encoded: clients decode them).
struct Envelope {
  std::string date, subject, from, sender, reply_to, to, cc, bcc, in_reply_to, message_id;
};

struct Part {
  std::string type = "text", subtype = "plain";  // lower case
  Parameters params;                             // of Content-Type
  std::string id, description, md5, location;
  std::string encoding = "7bit";                 // lower case
  std::string disposition;                       // lower case, "" = none
  Parameters disposition_params;
  std::vector<std::string> language;
  std::uint64_t header_offset = 0;  // where its header section begins
  std::uint64_t body_offset = 0;    // where its body begins (after the blank line)
  std::uint64_t end_offset = 0;     // where its body ends (the CRLF before a boundary excluded)
  std::uint64_t lines = 0;          // of the body (text/* and message/rfc822 report it)
  std::vector<Part> parts;          // a multipart's parts; a message/rfc822's one message
  std::unique_ptr<Envelope> envelope;  // the message's own and each message/rfc822's message

  std::uint64_t size() const { return end_offset - body_offset; }
  bool multipart() const { return type == "multipart"; }
  bool message() const { return type == "message" && (subtype == "rfc822" || subtype == "global"); }

  Part() = default;
  Part(Part&&) noexcept = default;
  Part& operator=(Part&&) noexcept = default;
};

// StructureParser - octets in (CRLF lines; LF alone is taken too), the
// structure out at finish().
class StructureParser {
 public:
  explicit StructureParser(StructureLimits limits = {});
  void feed(std::string_view octets);
  // finish - the structure of everything fed; the parser is spent.
  Part finish();
  // truncated - a bound was reached: parts past it are not described.
  bool truncated() const { return truncated_; }

 private:
  // Frame - an open part: where it is, and for a multipart its boundary.
  struct Frame {
    Part* part;
    std::size_t depth;
    std::string boundary;   // a multipart's; "" otherwise
    bool in_header = true;  // reading its header section
    std::string header;     // the header section so far (at most header_max)
    bool closed = false;    // a multipart past its close delimiter (the epilogue)
  };

  // line - one line (without its terminator) ending at `end`; long_line:
  // over kLineMax, its text not kept (it is no delimiter and no blank line).
  void line(std::string_view l, std::uint64_t end, bool long_line);
  void end_header(std::uint64_t body_start);  // of the innermost frame
  void open_part(std::size_t parent, std::uint64_t at);
  void close_to(std::size_t frame, std::uint64_t end);  // close every frame above `frame`
  void count_line();  // a line of the body of every open part whose body it is in

  StructureLimits limits_;
  // On the heap: frames_ point into it, and the parser moves with the
  // message being received (queue::Incoming).
  std::unique_ptr<Part> root_ = std::make_unique<Part>();
  // The open parts, outermost first; a Part* stays valid while open, since
  // a parent's parts grow only once its open child has closed.
  std::vector<Frame> frames_;
  std::vector<bool> is_message_;    // per frame: a message (the root, or inside message/rfc822)
  std::vector<bool> digest_child_;  // per frame: a part of a multipart/digest
  std::size_t parts_ = 1;
  bool truncated_ = false;
  std::string partial_;       // a line not ended yet (its first kLineMax octets)
  bool partial_long_ = false;
  char line_last_ = 0;        // the line's last octet so far (a CR before its LF?)
  std::uint64_t offset_ = 0;  // octets fed
  std::uint64_t last_terminator_ = 0;  // where the previous line's CRLF (or LF) began
};

// structure_of - the structure of a whole message.
Part structure_of(std::string_view message, StructureLimits limits = {});

// shift - every offset at or after `from` moved by delta (octets inserted
// there after the parse: the headers submission adds).
void shift(Part& p, std::uint64_t from, std::uint64_t delta);

// encode / decode - the structure as the store keeps it (CBOR, through
// nlohmann-json); decode: nullopt for octets that are not one.
std::string encode(const Part& p);
std::optional<Part> decode(std::string_view octets);
// decode_envelope - only the top message's envelope of encode's octets,
// without building the tree (SEARCH and SORT read it of every message);
// nullopt when they hold none.
std::optional<Envelope> decode_envelope(std::string_view octets);

}  // namespace herald::mime
