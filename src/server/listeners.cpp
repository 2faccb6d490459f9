#include "server/listeners.h"

#include "server/imapd.h"
#include "server/pop3d.h"
#include "server/smtpd.h"

namespace herald::server {
namespace {

asio::awaitable<void> serve_smtp(const Drivers& d, Accepted a) { return smtp_connection(d.smtp, std::move(a)); }
asio::awaitable<void> serve_pop3(const Drivers& d, Accepted a) { return pop3_connection(d.pop3, std::move(a)); }
asio::awaitable<void> serve_imap(const Drivers& d, Accepted a) { return imap_connection(d.imap, std::move(a)); }

using config::Config;
using config::ListenerConfig;

constexpr ListenerKind kListeners[] = {
    {"smtp", [](const Config& c) -> const ListenerConfig& { return c.smtp; }, &serve_smtp, false, Role::smtp},
    {"submission", [](const Config& c) -> const ListenerConfig& { return c.submission; }, &serve_smtp, false,
     Role::submission},
    {"smtps", [](const Config& c) -> const ListenerConfig& { return c.smtps; }, &serve_smtp, true,
     Role::submission},
    {"pop3", [](const Config& c) -> const ListenerConfig& { return c.pop3; }, &serve_pop3, false, Role::access},
    {"pop3s", [](const Config& c) -> const ListenerConfig& { return c.pop3s; }, &serve_pop3, true, Role::access},
    // Not served yet: configured addresses are warned about, not opened.
    {"imap", [](const Config& c) -> const ListenerConfig& { return c.imap; }, &serve_imap, false, Role::access},
    {"imaps", [](const Config& c) -> const ListenerConfig& { return c.imaps; }, &serve_imap, true, Role::access},
};

}  // namespace

std::span<const ListenerKind> listener_kinds() { return kListeners; }

}  // namespace herald::server
