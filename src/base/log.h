// base/log.h - log lines in the shape mail admins' tools parse.
//
// "Nov 23 22:08:33 mx herald/smtpd[4242]: 4F3A9C2B1D7E: client=..." - the
// classic syslog layout with Postfix's program names, so that pflogsumm
// (--syslog-name=herald), fail2ban and grep habits work unchanged.
//
// Security: every line's message passes through printable_utf8()
// (base/text.h) on its way out, so control bytes and malformed UTF-8 from
// clients are written as "\xNN" escapes; call sites need not escape.
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace herald::log {

// setup - route every component's lines to file ("" = stderr) at level.
void setup(const std::string& file, const std::string& level, const std::string& hostname);

// get - the logger of one component ("smtpd", "cleanup", "qmgr", "local",
// "pop3d", "master"); created on first use.
std::shared_ptr<spdlog::logger> get(const std::string& component);

// flush - write out buffered lines (at shutdown).
void flush();

}  // namespace herald::log
