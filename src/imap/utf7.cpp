#include "imap/utf7.h"

#include <iconv.h>

#include <cerrno>

namespace herald::imap {
namespace {

// convert - text through one of this thread's two converters.
std::optional<std::string> convert(bool to_utf8, std::string_view text) {
  struct Converters {
    iconv_t decode = iconv_open("UTF-8", "UTF-7-IMAP");
    iconv_t encode = iconv_open("UTF-7-IMAP", "UTF-8");
    ~Converters() {
      if (decode != reinterpret_cast<iconv_t>(-1)) iconv_close(decode);
      if (encode != reinterpret_cast<iconv_t>(-1)) iconv_close(encode);
    }
  };
  thread_local Converters converters;
  iconv_t cd = to_utf8 ? converters.decode : converters.encode;
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
  iconv(cd, nullptr, nullptr, nullptr, nullptr);  // a fresh shift state
  std::string out(text.size() * 4 + 16, '\0');
  char* in = const_cast<char*>(text.data());
  std::size_t in_left = text.size();
  char* to = out.data();
  std::size_t to_left = out.size();
  if (iconv(cd, &in, &in_left, &to, &to_left) == static_cast<std::size_t>(-1)) return std::nullopt;
  if (iconv(cd, nullptr, nullptr, &to, &to_left) == static_cast<std::size_t>(-1)) return std::nullopt;
  out.resize(out.size() - to_left);
  return out;
}

}  // namespace

std::optional<std::string> utf7_decode(std::string_view name) {
  auto utf8 = convert(true, name);
  if (!utf8) return std::nullopt;
  auto again = convert(false, *utf8);
  if (!again || *again != name) return std::nullopt;  // RFC 3501 5.1.3: one form only
  return utf8;
}

std::optional<std::string> utf7_encode(std::string_view name) { return convert(false, name); }

}  // namespace herald::imap
