#include "base/log.h"

#include <unistd.h>

#include <mutex>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "base/text.h"

namespace herald::log {
namespace {

// One sink shared by all component loggers; set once at start-up.
struct State {
  std::mutex mu;
  spdlog::sink_ptr sink;
  spdlog::level::level_enum level = spdlog::level::info;
  std::string hostname = "localhost";
};

State& state() {
  static State s;
  return s;
}

// SafeMessage - the "%*" flag: the message as printable_utf8() writes it.
// Every line passes here, so a control byte or malformed UTF-8 a client
// sent (an address, a Message-ID, a HELO name) never reaches the log raw,
// whichever call site logged it: one line stays one line, and `tail` or
// `grep` in a terminal runs no escape sequence. Valid UTF-8 stays as it is.
class SafeMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string_view text(msg.payload.data(), msg.payload.size());
    if (is_printable_ascii(text)) {  // nearly every line: copied as is
      dest.append(text.data(), text.data() + text.size());
      return;
    }
    std::string safe = printable_utf8(text);
    dest.append(safe.data(), safe.data() + safe.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<SafeMessage>(); }
};

// formatter - the pid is written in once: spdlog's %P calls getpid() per line.
std::unique_ptr<spdlog::formatter> formatter(const std::string& hostname) {
  auto f = std::make_unique<spdlog::pattern_formatter>();
  f->add_flag<SafeMessage>('*').set_pattern("%b %d %H:%M:%S " + hostname + " herald/%n[" +
                                            std::to_string(::getpid()) + "]: %*");
  return f;
}

}  // namespace

void setup(const std::string& file, const std::string& level, const std::string& hostname) {
  State& s = state();
  std::lock_guard lk(s.mu);
  if (file.empty()) s.sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  else s.sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file);
  s.level = spdlog::level::from_str(level == "warning" ? "warn" : level);
  s.hostname = hostname;
  // %n is the component: "herald/smtpd[pid]" as Postfix writes "postfix/smtpd[pid]".
  s.sink->set_formatter(formatter(hostname));
  spdlog::drop_all();
  spdlog::flush_every(std::chrono::seconds(1));
}

std::shared_ptr<spdlog::logger> get(const std::string& component) {
  if (auto l = spdlog::get(component)) return l;
  State& s = state();
  std::lock_guard lk(s.mu);
  if (auto l = spdlog::get(component)) return l;
  if (!s.sink) {
    s.sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    s.sink->set_formatter(formatter(s.hostname));
  }
  auto l = std::make_shared<spdlog::logger>(component, s.sink);
  l->set_level(s.level);
  l->flush_on(spdlog::level::warn);
  spdlog::register_logger(l);
  return l;
}

void flush() {
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
}

}  // namespace herald::log
