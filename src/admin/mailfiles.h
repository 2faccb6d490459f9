// admin/mailfiles.h - the mail files other servers keep, read and written
// for `herald import` and `herald export` (internal to admin/): maildir++
// (Courier, Dovecot) and mbox (mboxrd and mboxo). Pure: no store, no
// clock but what the caller passes; admin/transfer.cpp does the files.
//
// Maildir (cr.yp.to/proto/maildir.html, Courier's maildir++, Dovecot's
// additions): a message is one file in cur/ or new/ (tmp/ holds those
// being written); its flags are the letters after ":2," in its name (D
// draft, F flagged, P passed, R replied, S seen, T trashed; a-z the
// keywords of the folder's `dovecot-keywords` file). Folders are
// directories ".Sub.Folder" beside cur/, names in modified UTF-7.
//
// mbox: messages one after another, each opened by a "From " line with
// the envelope sender and the date (asctime's form); a body line that
// begins with "From " (mboxrd: any number of '>' first) gets one '>' more.
// Flags travel in Status: (R seen, O old) and X-Status: (A answered,
// F flagged, T draft, D deleted) header fields, keywords in X-Keywords:.
//
// Security: file contents are untrusted. Nothing here is bounded but by
// the message being read; names become mailbox names only through
// folder_mailbox, which refuses empty levels and controls (the store
// checks names again).
#pragma once

#include <cstdint>
#include <istream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::admin::mailfiles {

// crlf - text with every line ending CRLF: a bare LF becomes CRLF, CRLF
// stays, a CR not before LF stays as it is.
std::string crlf(std::string_view text);

// flag_names - the system flags of store::MessageFlag bits, as IMAP names
// them ("\\Seen"), in a fixed order.
std::vector<std::string> flag_names(std::uint32_t flags);
// parse_flag - "\\Seen" (any case) as its bit, 0 for a keyword; nullopt
// for what is neither (\Recent, another backslash name, no atom).
std::optional<std::uint32_t> parse_flag(std::string_view name);
// keyword_ok - an IMAP flag-keyword (RFC 9051 9: an atom, printable
// ASCII without "(){ %*\"\\]").
bool keyword_ok(std::string_view keyword);

// ---- maildir -------------------------------------------------------------

struct MaildirFlags {
  std::uint32_t flags = 0;            // store::MessageFlag bits
  std::vector<std::string> keywords;  // from the letters a-z the table names
};

// maildir_base - the file name without its info (":2,..."): what stays
// the same while the flags change.
std::string_view maildir_base(std::string_view filename);
// maildir_flags - the flags of a file name's ":2," info; keyword letters
// are looked up in `keywords` (index 0 = 'a'); letters it has no name for
// and P are ignored.
MaildirFlags maildir_flags(std::string_view filename, const std::vector<std::string>& keywords);
// maildir_info - ":2," and the letters for these flags and keywords, in
// ASCII order as the spec wants; keywords are given letters from `table`,
// which grows to at most 26 names; *dropped counts those with no letter left.
std::string maildir_info(std::uint32_t flags, const std::vector<std::string>& keywords,
                         std::vector<std::string>& table, std::size_t* dropped);
// leading_timestamp - the unix seconds a maildir name starts with
// ("1700000000.M1P2.host"), nullopt when it starts otherwise.
std::optional<std::int64_t> leading_timestamp(std::string_view filename);
// parse_dovecot_keywords - a `dovecot-keywords` file ("0 $Label1" a line)
// as the table maildir_flags takes: index = letter - 'a', "" where unset.
std::vector<std::string> parse_dovecot_keywords(std::string_view text);
std::string format_dovecot_keywords(const std::vector<std::string>& table);
// parse_dovecot_uidlist - a `dovecot-uidlist` file as base name -> UID
// (version 3 lines "UID [EXT...] :NAME", older "UID NAME"); what it names
// orders a folder's messages on import.
std::map<std::string, std::int64_t, std::less<>> parse_dovecot_uidlist(std::string_view text);

// folder_mailbox - the mailbox of a maildir++ folder directory:
// ".Sub.Folder" -> "Sub/Folder" (each level decoded from modified UTF-7
// when it is that); nullopt for a name that is no folder ("cur", ".",
// "..", an empty level).
std::optional<std::string> folder_mailbox(std::string_view dirname);
// mailbox_folder - the reverse: "" for INBOX (the root), ".Sub.Folder"
// for "Sub/Folder"; a '.' inside a level is written "&AC4-" (its UTF-16
// in modified base64), which folder_mailbox reads back.
std::string mailbox_folder(const std::string& mailbox);

// ---- mbox ------------------------------------------------------------------

// from_line_date - the date of a "From " separator line ("From a@b Sat Jan
// 3 01:05:34 1996", a zone after the time or the year allowed) as unix
// seconds (UTC when no zone is given); nullopt when there is none.
std::optional<std::int64_t> from_line_date(std::string_view line);

// MboxMessage - one message as the store takes it.
struct MboxMessage {
  std::string body;  // CRLF line ends, ">From " unquoted, the flag fields removed
  std::uint32_t flags = 0;
  std::vector<std::string> keywords;
  std::int64_t internaldate = 0;  // from the "From " line; 0 = none
  bool pseudo = false;            // UW-IMAP's folder-data message (X-IMAP:): not mail
  std::size_t line = 0;           // where its "From " line is in the file (1-based)
};

// MboxReader - the messages of an mbox as they are read: memory holds one
// message. A separator is a line "From " at the start of the file or
// whose date reads (from_line_date): an unquoted "From " in a body
// (mboxo's ambiguity) splits a message only when it looks like one.
class MboxReader {
 public:
  explicit MboxReader(std::istream& in) : in_(in) {}
  // next - the next message; nullopt at the end. ok() is false after it
  // when the file did not start with a "From " line (not an mbox).
  std::optional<MboxMessage> next();
  bool ok() const { return ok_; }

 private:
  std::istream& in_;
  bool ok_ = true;
  bool started_ = false;
  std::size_t line_no_ = 0;
  std::string from_;  // the separator of the message being read
  std::size_t from_no_ = 0;
};

// mbox_message - one message's lines (separator taken off, LF or CRLF
// ends) as the store takes it.
MboxMessage mbox_message(std::string_view from_line, std::string_view raw);

}  // namespace herald::admin::mailfiles
