#include "spool/sendmail.h"

#include <algorithm>

#include <fmt/format.h>

#include "base/text.h"
#include "mime/header.h"
#include "smtp/reply.h"

namespace herald::spool {
namespace {

bool has_line_break(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

bool non_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c > 127) return true;
  return false;
}

}  // namespace

Result<SendmailArgs> parse_sendmail_args(std::string_view program, const std::vector<std::string>& args) {
  SendmailArgs a;
  if (program == "mailq") a.mode = SendmailArgs::Mode::list;
  auto usage = [](std::string why) { return make_error(Errc::invalid, std::move(why)); };
  bool options = true;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (!options || arg.size() < 2 || arg.front() != '-') {
      a.recipients.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      options = false;
      continue;
    }
    const char flag = arg[1];
    std::string_view attached = arg.substr(2);
    // value - the option's argument, attached ("-fuser") or the next one.
    auto value = [&](std::string& out) -> Status {
      if (!attached.empty()) {
        out = std::string(attached);
        return {};
      }
      if (i + 1 >= args.size()) return usage(fmt::format("option -{} needs an argument", flag));
      out = args[++i];
      return {};
    };
    std::string ignored;
    switch (flag) {
      case 't': a.extract = true; break;
      case 'i': a.dot_ends = false; break;
      case 'f':
      case 'r':
        if (Status st = value(a.sender); !st) return st.error();
        if (has_line_break(a.sender)) return usage("-f: no line breaks in a sender");
        a.sender_given = true;
        if (a.sender == "<>") a.sender.clear();
        else if (a.sender.size() >= 2 && a.sender.front() == '<' && a.sender.back() == '>')
          a.sender = a.sender.substr(1, a.sender.size() - 2);
        break;
      case 'F':
        if (Status st = value(a.full_name); !st) return st.error();
        if (has_line_break(a.full_name)) return usage("-F: no line breaks in a full name");
        break;
      case 'N': {
        if (Status st = value(a.notify); !st) return st.error();
        // RFC 3461 4.1: NEVER, or SUCCESS, DELAY and FAILURE joined by commas.
        bool ok = !a.notify.empty();
        for (auto word : split(a.notify, ',')) {
          std::string w = to_lower(trim(word));
          ok = ok && (w == "never" || w == "success" || w == "delay" || w == "failure");
        }
        if (!ok) return usage("-N: never, or success, delay and failure joined by commas");
        a.notify.erase(std::remove(a.notify.begin(), a.notify.end(), ' '), a.notify.end());
        break;
      }
      case 'R':
        if (Status st = value(a.ret); !st) return st.error();
        if (!iequals(a.ret, "full") && !iequals(a.ret, "hdrs")) return usage("-R: full or hdrs");
        break;
      case 'V':
        if (Status st = value(a.envid); !st) return st.error();
        break;
      case 'C':
        if (Status st = value(a.config); !st) return st.error();
        break;
      case 'b':
        if (attached == "s") a.mode = SendmailArgs::Mode::smtp;
        else if (attached == "v") a.mode = SendmailArgs::Mode::verify;
        else if (attached == "p") a.mode = SendmailArgs::Mode::list;
        else if (attached == "m") a.mode = SendmailArgs::Mode::deliver;
        else return usage(fmt::format("-b{}: not supported (-bm, -bs, -bv, -bp)", printable(attached, 20)));
        break;
      case 'q': a.mode = SendmailArgs::Mode::flush; break;  // -q, -qINTERVAL: once, now
      case 'o':
        if (attached == "i") a.dot_ends = false;
        break;  // -oem, -odb, -om, ...: sendmail's options, without meaning here
      case 'B': case 'L': case 'h': case 'X': case 'O':
        if (Status st = value(ignored); !st) return st.error();  // take their argument along
        break;
      case 'v': case 'n': case 'U': case 'G': case 'A': case 'm': case 'e':
        break;
      default:
        return usage(fmt::format("unknown option -{}", printable(arg.substr(1, 1), 10)));
    }
  }
  return a;
}

std::string qualify(std::string_view address, std::string_view domain) {
  if (address.empty() || address.find('@') != std::string_view::npos || domain.empty()) return std::string(address);
  return fmt::format("{}@{}", address, domain);
}

Result<Message> read_message(const SendmailArgs& args, std::string_view input, const std::string& sender) {
  Message m;
  m.sender = sender;
  // Lines: CRLF, and a lone "." ends it unless -i (sendmail(1)).
  std::string text;
  text.reserve(input.size() + input.size() / 32);
  std::size_t pos = 0;
  while (pos < input.size()) {
    std::size_t nl = input.find('\n', pos);
    std::string_view line = input.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? input.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (args.dot_ends && line == ".") break;
    text.append(line);
    text.append("\r\n");
  }
  // The header section (up to the first empty line) is what -t reads.
  std::size_t end = text.find("\r\n\r\n");
  std::size_t head_end = end == std::string::npos ? (text.starts_with("\r\n") ? 0 : text.size()) : end + 2;
  std::string_view head = std::string_view(text).substr(0, head_end);
  m.recipients = args.recipients;
  if (args.extract) {
    for (const char* field : {"To", "Cc", "Bcc"})
      for (const auto& v : mime::field_values(head, field))
        for (auto& a : mime::addresses(v)) m.recipients.push_back(std::move(a));
  }
  if (m.recipients.empty())
    return make_error(Errc::invalid, args.extract ? "no recipients in To, Cc or Bcc, nor on the command line"
                                                  : "no recipients given (or -t to read them from the message)");
  std::string out = mime::without_fields(text.substr(0, head_end), "Bcc");
  if (mime::field_values(head, "From").empty() && !sender.empty())
    out.insert(0, args.full_name.empty() ? fmt::format("From: {}\r\n", sender)
                                         : fmt::format("From: {} <{}>\r\n", args.full_name, sender));
  out.append(text, head_end);
  m.text = std::move(out);
  return m;
}

std::string maildrop_stream(const Message& m, const SendmailArgs& args, std::string_view helo) {
  bool utf8 = non_ascii(m.sender);
  for (const auto& r : m.recipients) utf8 = utf8 || non_ascii(r);
  std::string out = fmt::format("EHLO {}\r\nMAIL FROM:<{}> BODY=8BITMIME", helo, m.sender);
  if (utf8) out += " SMTPUTF8";
  if (!args.ret.empty()) out += " RET=" + to_upper(args.ret);
  if (!args.envid.empty()) out += " ENVID=" + smtp::xtext(args.envid);
  out += "\r\n";
  for (const auto& r : m.recipients) {
    out += fmt::format("RCPT TO:<{}>", r);
    if (!args.notify.empty()) out += " NOTIFY=" + to_upper(args.notify);
    out += "\r\n";
  }
  out += "DATA\r\n";
  out.reserve(out.size() + m.text.size() + 64);
  // RFC 5321 4.5.2: a line that starts with "." gets one more.
  std::size_t pos = 0;
  while (pos < m.text.size()) {
    std::size_t eol = m.text.find("\r\n", pos);
    std::size_t next = eol == std::string::npos ? m.text.size() : eol + 2;
    if (m.text[pos] == '.') out += '.';
    out.append(m.text, pos, next - pos);
    pos = next;
  }
  out += ".\r\nQUIT\r\n";
  return out;
}

std::string verify_stream(const std::vector<std::string>& recipients, std::string_view helo) {
  std::string out = fmt::format("EHLO {}\r\n", helo);
  for (const auto& r : recipients) out += fmt::format("VRFY <{}>\r\n", r);
  return out + "QUIT\r\n";
}

}  // namespace herald::spool
