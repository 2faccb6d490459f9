#include "imap/fetch.h"

#include "base/text.h"
#include "mime/header.h"

namespace herald::imap {
namespace {

std::optional<std::string_view> nstring_of(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return std::string_view(s);
}

void append_addresses(std::string& out, const std::string& value, StringForm form) {
  auto entries = mime::address_entries(value);
  if (entries.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  for (const auto& a : entries) {
    switch (a.kind) {
      case mime::AddressEntry::Kind::group_start:
        out += "(NIL NIL ";
        append_nstring(out, std::string_view(a.name), form);
        out += " NIL)";
        break;
      case mime::AddressEntry::Kind::group_end: out += "(NIL NIL NIL NIL)"; break;
      case mime::AddressEntry::Kind::mailbox:
        out += '(';
        append_nstring(out, nstring_of(a.name), form);
        out += ' ';
        append_nstring(out, nstring_of(a.route), form);
        out += ' ';
        append_nstring(out, std::string_view(a.local.empty() ? "MISSING_MAILBOX" : a.local), form);
        out += ' ';
        append_nstring(out, std::string_view(a.domain.empty() ? "MISSING_DOMAIN" : a.domain), form);
        out += ')';
        break;
    }
  }
  out += ')';
}

void append_params(std::string& out, const mime::Parameters& params, StringForm form) {
  if (params.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (i) out += ' ';
    append_string(out, to_upper(params[i].first), form);
    out += ' ';
    append_string(out, params[i].second, form);
  }
  out += ')';
}

// append_extensions - body-fld-dsp SP body-fld-lang SP body-fld-loc.
void append_extensions(std::string& out, const mime::Part& p, StringForm form) {
  out += ' ';
  if (p.disposition.empty()) {
    out += "NIL";
  } else {
    out += '(';
    append_string(out, to_upper(p.disposition), form);
    out += ' ';
    append_params(out, p.disposition_params, form);
    out += ')';
  }
  out += ' ';
  if (p.language.empty()) {
    out += "NIL";
  } else {
    out += '(';
    for (std::size_t i = 0; i < p.language.size(); ++i) {
      if (i) out += ' ';
      append_string(out, p.language[i], form);
    }
    out += ')';
  }
  out += ' ';
  append_nstring(out, nstring_of(p.location), form);
}

}  // namespace

void append_envelope(std::string& out, const mime::Envelope& e, StringForm form) {
  out += '(';
  append_nstring(out, nstring_of(e.date), form);
  out += ' ';
  append_nstring(out, nstring_of(e.subject), form);
  const std::string& from = e.from;
  for (const std::string* list : {&from, e.sender.empty() ? &from : &e.sender, e.reply_to.empty() ? &from : &e.reply_to,
                                  &e.to, &e.cc, &e.bcc}) {
    out += ' ';
    append_addresses(out, *list, form);
  }
  out += ' ';
  append_nstring(out, nstring_of(e.in_reply_to), form);
  out += ' ';
  append_nstring(out, nstring_of(e.message_id), form);
  out += ')';
}

void append_bodystructure(std::string& out, const mime::Part& p, bool extensible, StringForm form) {
  out += '(';
  if (p.multipart() && !p.parts.empty()) {
    for (const auto& child : p.parts) append_bodystructure(out, child, extensible, form);
    out += ' ';
    append_string(out, to_upper(p.subtype), form);
    if (extensible) {
      out += ' ';
      append_params(out, p.params, form);
      append_extensions(out, p, form);
    }
    out += ')';
    return;
  }
  append_string(out, to_upper(p.type), form);
  out += ' ';
  append_string(out, to_upper(p.subtype), form);
  out += ' ';
  append_params(out, p.params, form);
  out += ' ';
  append_nstring(out, nstring_of(p.id), form);
  out += ' ';
  append_nstring(out, nstring_of(p.description), form);
  out += ' ';
  append_string(out, to_upper(p.encoding), form);
  out += ' ';
  out += std::to_string(p.size());
  if (p.message() && !p.parts.empty() && p.parts.front().envelope) {
    out += ' ';
    append_envelope(out, *p.parts.front().envelope, form);
    out += ' ';
    append_bodystructure(out, p.parts.front(), extensible, form);
    out += ' ';
    out += std::to_string(p.lines);
  } else if (p.type == "text") {
    out += ' ';
    out += std::to_string(p.lines);
  }
  if (extensible) {
    out += ' ';
    append_nstring(out, nstring_of(p.md5), form);
    append_extensions(out, p, form);
  }
  out += ')';
}

std::string envelope_header(const mime::Envelope& e) {
  const std::pair<const char*, const std::string*> fields[] = {
      {"Date", &e.date},       {"Subject", &e.subject},         {"From", &e.from},
      {"Sender", &e.sender},   {"Reply-To", &e.reply_to},       {"To", &e.to},
      {"Cc", &e.cc},           {"Bcc", &e.bcc},                 {"In-Reply-To", &e.in_reply_to},
      {"Message-ID", &e.message_id},
  };
  std::string out;
  for (const auto& [name, value] : fields)
    if (!value->empty()) out += std::string(name) + ": " + *value + "\r\n";
  return out + "\r\n";
}

}  // namespace herald::imap
