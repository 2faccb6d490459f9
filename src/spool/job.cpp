#include "spool/job.h"

#include <fmt/format.h>

#include "base/text.h"
#include "mime/header.h"

namespace herald::spool {
namespace {

void add_addresses(std::vector<std::string>& to, std::string_view value) {
  for (auto& a : mime::addresses(value)) to.push_back(std::move(a));
}

}  // namespace

Result<SendJob> parse_send_job(std::string_view text) {
  SendJob job;
  std::size_t pos = 0;
  int number = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) continue;
    std::size_t colon = line.find(':');
    auto bad = [&](std::string_view why) {
      return make_error(Errc::invalid, fmt::format("line {}: {}", number, why));
    };
    if (colon == std::string_view::npos) return bad("not a statement (Keyword: value)");
    std::string keyword = to_lower(trim(line.substr(0, colon)));
    std::string_view value = trim(line.substr(colon + 1));
    if (keyword == "body") {
      // The rest of the file is the text, its lines ended with CRLF.
      std::string body(value);
      if (!body.empty()) body += "\r\n";
      for (char c : text.substr(pos)) {
        if (c == '\n' && (body.empty() || body.back() != '\r')) body += '\r';
        body += c;
      }
      job.text = std::move(body);
      break;
    }
    if (keyword == "from") job.from = std::string(value);
    else if (keyword == "to") add_addresses(job.to, value);
    else if (keyword == "cc") add_addresses(job.cc, value);
    else if (keyword == "bcc") add_addresses(job.bcc, value);
    else if (keyword == "reply-to") add_addresses(job.reply_to, value);
    else if (keyword == "subject") job.subject = std::string(value);
    else if (keyword == "html") job.html = std::string(value);
    else if (keyword == "attach") job.attach.emplace_back(value);
    else if (keyword == "header") {
      std::size_t c = value.find(':');
      if (c == std::string_view::npos || trim(value.substr(0, c)).empty()) return bad("Header: wants \"Name: value\"");
      job.headers.emplace_back(std::string(trim(value.substr(0, c))), std::string(trim(value.substr(c + 1))));
    } else {
      return bad(fmt::format("unknown statement \"{}\" (From, To, Cc, Bcc, Reply-To, Subject, Header, Html, Attach, "
                             "Body)", printable(keyword, 40)));
    }
  }
  if (job.to.empty() && job.cc.empty() && job.bcc.empty())
    return make_error(Errc::invalid, "no recipients (To, Cc or Bcc)");
  return job;
}

}  // namespace herald::spool
