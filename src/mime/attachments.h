// mime/attachments.h - the attachments of a message, noted as its octets
// pass: how many, and their names (the accounting record's "with how many
// attachments", issue 13 5). Streaming and bounded: a line at a time (at
// most kLineMax of it looked at), the boundaries of at most kBoundariesMax
// multiparts, the first kNamesMax names.
//
// A part is an attachment when its Content-Disposition says "attachment"
// or it has a file name (RFC 2183 filename, RFC 2231 filename*, or
// Content-Type's old name parameter). Part headers are found through the
// boundaries the Content-Type fields declare (RFC 2046 5.1.1), so a line
// in a text that merely looks like a header is not counted.
//
// Hand-written: the full MIME parser (BODYSTRUCTURE for IMAP) is the next
// issue's; this needs only part headers.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace herald::mime {

class AttachmentScan {
 public:
  static constexpr std::size_t kLineMax = 4096;
  static constexpr std::size_t kBoundariesMax = 32;
  static constexpr std::size_t kNamesMax = 32;

  // feed - the message's next octets (CRLF or LF lines).
  void feed(std::string_view octets);
  std::size_t count() const { return count_; }
  // names - of the first kNamesMax attachments ("" for one without a name).
  const std::vector<std::string>& names() const { return names_; }

 private:
  void line(std::string_view l);
  void field(std::string_view f);  // one unfolded header field
  void end_part_header();

  std::string partial_;
  bool partial_overflow_ = false;
  bool in_header_ = true;      // the message's own header, then each part's
  std::string field_;          // the header field being unfolded
  bool attachment_ = false;    // the current part's header says so
  std::string name_;
  std::vector<std::string> boundaries_;
  std::size_t count_ = 0;
  std::vector<std::string> names_;
};


}  // namespace herald::mime
