// app/run.h - what the herald command runs once main() has parsed its
// arguments: the daemon, and the store the operator commands work on. A
// Failure ends the command with its exit status (the README: 1 failed,
// 2 usage error) and its message on stderr.
#pragma once

#include <iostream>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "admin/commands.h"
#include "admin/render.h"
#include "base/result.h"
#include "base/text.h"
#include "config/config.h"
#include "spool/sendmail.h"
#include "store/store.h"

namespace herald::app {

struct Failure {
  int code;
  std::string message;
};

[[noreturn]] inline void fail(const std::string& message, int code = 1) { throw Failure{code, message}; }

// check - the configuration, the store, the listeners: any error is a failure (1).
template <typename T>
T check(Result<T> r) {
  if (!r) fail(r.error().message);
  return std::move(*r);
}
inline void check(const Status& st) {
  if (!st) fail(st.error().message);
}

// check_request - an operator command's answer: a request it calls wrong
// (Errc::invalid) is a usage error (2), anything else a failure (1).
template <typename T>
T check_request(Result<T> r) {
  if (!r) fail(r.error().message, r.error().code == Errc::invalid ? 2 : 1);
  return std::move(*r);
}
inline void check_request(const Status& st) {
  if (!st) fail(st.error().message, st.error().code == Errc::invalid ? 2 : 1);
}

// sendmail_main - herald called as sendmail or mailq, `herald sendmail`,
// or the lean herald-sendmail (app/sendmail_main.cpp): Postfix's command
// line, sysexits.h's exit codes; -bp, -q and -bs go to the hooks.
struct SendmailHooks {
  // -bp, -q: herald's own arguments ("herald queue list --config F").
  std::function<int(std::vector<std::string>)> queue_command;
  // -bs: the SMTP session (app/sendmail_bs.cpp, or herald run for it).
  std::function<int(const spool::SendmailArgs&, const config::Config&)> smtp_session;
};
int sendmail_main(std::string_view program, const std::vector<std::string>& words, const SendmailHooks& hooks);
// smtp_session - sendmail -bs (app/sendmail_bs.cpp).
int smtp_session(const spool::SendmailArgs& args, const config::Config& c);

// sendmail - deliver, -bs, -bv (app/sendmail.cpp); returns a sysexits.h
// code (it exits itself on a fatal error).
int sendmail(const spool::SendmailArgs& args, const config::Config& c);
// default_config_path - $HERALD_CONFIG; for an installed herald
// (PREFIX/sbin/herald or herald-sendmail, or a link to them) PREFIX's
// etc/herald/herald.toml (/etc/herald for /usr), as `make install` lays it
// out; else the repository's etc/herald.toml (`make run`).
std::string default_config_path();
// to_maildrop - content as a new maildrop file (written under a dot name,
// synced, renamed in: the daemon takes it at once, or when it starts).
Status to_maildrop(const config::Config& c, std::string_view content);
// login_name - the calling user's login name (uidN when it has none).
std::string login_name();
// own_address - the calling user's address: login@sendmail.sender_domain.
std::string own_address(const config::Config& c);

// open_store - the store of this configuration; sweep_blobs only for the
// server (see BlobStore::sweep).
std::unique_ptr<store::Store> open_store(const config::Config& c, bool sweep_blobs = false);

// read_new_password - exactly one source: --password-stdin (one line of
// standard input), --password or --password-hash.
admin::NewPassword read_new_password(bool from_stdin, const std::string& password, const std::string& hash);

// print_list - a list command's rows on stdout as they come (text or JSON);
// when its limit left rows out, stderr names the key to continue after.
template <typename Row, typename Request>
admin::ListEnd print_list(store::Store& st, const Request& request, admin::Format format,
                          Result<admin::ListEnd> (*command)(store::Store&, const Request&, const admin::Sink<Row>&)) {
  admin::RowWriter out(std::cout, format);
  admin::ListEnd end = check_request(command(st, request, out.sink<Row>()));
  out.finish();
  if (end.more) std::cerr << "herald: more follow: continue with --after " << printable_utf8(end.last) << "\n";
  return end;
}
template <typename Row, typename Request>
admin::ListEnd print_list(store::Store& st, const Request& request, bool json,
                          Result<admin::ListEnd> (*command)(store::Store&, const Request&, const admin::Sink<Row>&)) {
  return print_list(st, request, json ? admin::Format::json : admin::Format::text, command);
}

// print_queue_list - print_list, and "Mail queue is empty" (text) for an
// empty queue (not for an empty page or filter).
void print_queue_list(store::Store& st, const admin::QueueListRequest& request, bool json);
void print_queue_show(store::Store& st, const std::string& queue_id, bool json);
// print_queue_change - an operator's action on the queue, and how many
// recipients it changed ("held 3 recipients", JSON {"changed": 3}).
// (Mail made due - retry, release - also wakes a running daemon's agent and
// ends its suspensions of next hops, as Postfix's postqueue -f does.)
void print_queue_change(store::Store& st, store::QueueAction action, const admin::QueueChange& request,
                        const char* done, bool json, const std::filesystem::path& data_dir);

// print_deadletter_show - its rows, then the message (text: line by line,
// made printable; JSON: {"rows": [...], "message": "..."}).
void print_deadletter_show(store::Store& st, const std::string& queue_id, bool json);
// print_deadletter_change - resend or delete dead letters (files in dir too).
void print_deadletter_change(store::Store& st, store::QueueAction action, const admin::QueueChange& request,
                             const std::filesystem::path& dir, const char* done, bool json);

// print_targets - `herald targets`: the running daemon's view of the
// servers it sends to (through the control socket), and the queue's
// counts by state (from the store, daemon or not).
void print_targets(store::Store& st, const std::filesystem::path& data_dir, bool json);

// A user's mail (admin/commands.h): `mailbox list` as a table or JSON,
// `quota get|set` as limit and use, `flags` as one line per message.
void print_mailbox_list(store::Store& st, const std::string& address, bool json);
void print_quota(const admin::QuotaInfo& q, bool json);
void print_acl(const admin::AclInfo& acl, bool json);
void print_flags(const std::vector<admin::MessageFlags>& rows, bool json);

// import_mail - `herald import maildir|mbox`: a progress line on a
// terminal, then the summary (by mailbox, skipped, failed with the first
// problems, octets); fails (1) after it when messages failed.
void import_mail(store::Store& st, bool mbox, const admin::ImportRequest& request, bool json);
// export_mail - `herald export maildir`: progress, then the summary.
void export_mail(store::Store& st, const std::string& address, const std::filesystem::path& path, bool json);

// SendRequest - `herald send`'s flags.
struct SendRequest {
  std::string from, subject, body, body_file, html_file;
  std::vector<std::string> to, cc, bcc, reply_to, attach, headers;
  bool print = false;
  std::string config_path;
  // Broadcast: every mailbox of a domain, or the addresses of a file (one
  // a line), in one message whose body is stored once.
  std::string to_all, to_list;
};

// send - `herald send`: the message built (mime/builder.h), written to
// stdout with --print, else submitted as sendmail submits (the maildrop),
// from --from or the calling user's own address; a broadcast (--to-all,
// --to-list) is committed to the store at once, as one message to them all.
int send(const SendRequest& request);

// serve - `herald serve`: runs the daemon in the foreground until SIGTERM.
int serve(const std::string& config_path);

}  // namespace herald::app
