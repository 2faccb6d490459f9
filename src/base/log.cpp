#include "base/log.h"

#include <unistd.h>

#include <mutex>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

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

// pattern - the pid is written in once: spdlog's %P calls getpid() per line.
std::string pattern(const std::string& hostname) {
  return "%b %d %H:%M:%S " + hostname + " herald/%n[" + std::to_string(::getpid()) + "]: %v";
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
  s.sink->set_pattern(pattern(hostname));
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
    s.sink->set_pattern(pattern(s.hostname));
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
