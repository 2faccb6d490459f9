// app/sendmail_main.cpp - herald-sendmail: the sendmail door alone, what
// `make install` links sendmail and mailq to. The same code as `herald
// sendmail` (app/sendmail.cpp), linked with only what it uses: cron jobs
// and scripts start it once per message, and loading herald's libraries
// (TLS and its crypto, SQLite, c-ares, logging) costs more than the call's
// work (bench/spool).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "app/run.h"

int main(int argc, char** argv) {
  ::umask(077);
  std::string_view program = argc > 0 ? std::string_view(argv[0]) : "sendmail";
  program = program.substr(program.rfind('/') + 1);
  if (program == "herald-sendmail") program = "sendmail";
  // -bp, -q and -bs run herald, beside this program: what they need is
  // not worth loading for every message.
  const std::vector<std::string> words(argv + 1, argv + argc);
  auto run_herald = [](std::vector<std::string> args) {
    std::error_code ec;
    std::filesystem::path herald = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / "herald";
    std::vector<char*> v;
    for (auto& w : args) v.push_back(w.data());
    v.push_back(nullptr);
    ::execv(herald.c_str(), v.data());
    return 69;  // EX_UNAVAILABLE: no herald beside this program
  };
  herald::app::SendmailHooks hooks;
  hooks.queue_command = run_herald;
  hooks.smtp_session = [&](const herald::spool::SendmailArgs&, const herald::config::Config&) {
    std::vector<std::string> args{"herald", "sendmail"};
    args.insert(args.end(), words.begin(), words.end());
    return run_herald(args);
  };
  return herald::app::sendmail_main(program, words, hooks);
}
