// imap/fetch.h - FETCH's ENVELOPE and BODYSTRUCTURE / BODY items (RFC 9051
// 7.5.2), written from the structure computed at delivery
// (mime/structure.h): the message is never parsed again to answer them.
// Pure.
#pragma once

#include <string>

#include "imap/writer.h"
#include "mime/structure.h"

namespace herald::imap {

// append_envelope - "(date subject from sender reply-to to cc bcc
// in-reply-to message-id)"; an absent Sender or Reply-To is From's (RFC
// 9051 7.5.2); a mailbox without a domain is shown as host
// "MISSING_DOMAIN", never as NIL (which would read as a group).
void append_envelope(std::string& out, const mime::Envelope& e, StringForm form = {});

// envelope_header - the envelope's fields as a header section ("Date: ...",
// one line each, a blank line at the end), for what reads header fields
// (SEARCH FROM, SORT) without the message.
std::string envelope_header(const mime::Envelope& e);

// append_bodystructure - the part as BODYSTRUCTURE (extensible: with the
// extension data, MD5, disposition, language, location) or as BODY
// (without).
void append_bodystructure(std::string& out, const mime::Part& p, bool extensible, StringForm form = {});

}  // namespace herald::imap
