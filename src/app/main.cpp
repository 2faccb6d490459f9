// app/main.cpp - the herald command: parses the command line (CLI11) and
// wires the configuration, the store and the operator commands of admin/;
// `serve` runs the daemon. No rules of its own: what a command checks and
// does is in admin/commands.h, how its rows print in admin/render.h.
// Exit status (the README): 0 done, 1 failed, 2 usage error.
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <tuple>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "admin/commands.h"
#include "app/run.h"
#include "base/text.h"
#include "server/startup.h"

namespace {

using namespace herald::app;  // Failure, check, check_request, open_store, serve, print_list, ...
namespace admin = herald::admin;
namespace config = herald::config;
namespace store = herald::store;

// Args - what the command line gave; one command runs, so they share fields.
struct Args {
  std::string config_path = default_config_path();
  bool json = false;
  bool jsonl = false;
  std::string name, password, password_hash, quota, send_as;
  bool password_stdin = false;
  std::vector<std::string> targets;
  admin::ListRequest list;
  admin::QueueListRequest queue;
  admin::QueueChange change;
  std::filesystem::path data_dir;  // the configuration's (dispatch sets it)
  admin::JournalRequest journal;
  SendRequest send;
  // A user's mail: mailbox, quota, flags, expunge, import, export.
  std::string mailbox, new_name, special_use, size, path, before;
  std::vector<std::string> uids, flags_add, flags_remove, flags_set;
  bool deleted = false;
  std::string query;  // herald search
  std::string identifier, rights;  // herald acl
};

// new_password - the one password source the command line gave.
admin::NewPassword new_password(const Args& a) {
  return read_new_password(a.password_stdin, a.password, a.password_hash);
}

constexpr const char* kConfigHelp =
    "configuration file (default $HERALD_CONFIG, else PREFIX/etc/herald/herald.toml when installed, else etc/herald.toml)";
constexpr const char* kListsFooter =
    "Lists print their rows as they are read, in key order. When --limit N leaves rows\n"
    "out, stderr names the last key printed: pass it as --after KEY for the next page.";

using StoreCommand = std::function<void(const Args&, store::Store&)>;

// Action - an operator's action on queued recipients (queue, deadletter).
struct Action {
  const char* name;
  const char* help;
  store::QueueAction action;
  const char* done;  // "held 3 recipients"
};

// Cli - the command tree; each leaf that works on the data runs one
// StoreCommand with the store of --config.
class Cli {
 public:
  Cli();
  int run(int argc, char** argv);

 private:
  CLI::App* command(CLI::App* parent, const char* name, const char* help, StoreCommand run);
  CLI::App* group(const char* name, const char* help);
  void list_options(CLI::App* sub, const char* key, bool by_domain);
  static void limit_option(CLI::App* sub, std::size_t& limit, const char* help);
  void add_directory_commands();
  void add_queue_commands();
  void add_deadletter_commands();
  void add_targets_command();
  void add_mail_commands();
  int dispatch();

  CLI::App app_{"Herald - mail server: SMTP in, mailboxes, POP3 out"};
  Args a_;
  CLI::App* serve_ = nullptr;
  CLI::App* check_ = nullptr;
  CLI::App* defaults_ = nullptr;
  CLI::App* version_ = nullptr;
  CLI::App* send_ = nullptr;
  std::vector<std::pair<CLI::App*, StoreCommand>> commands_;
  CLI::Option* flags_add_ = nullptr;  // which change `herald flags` was given
  CLI::Option* flags_remove_ = nullptr;
  CLI::Option* flags_set_ = nullptr;
};

Cli::Cli() {
  app_.require_subcommand(1);
  serve_ = app_.add_subcommand("serve", "run the daemon in the foreground");
  serve_->add_option("--config", a_.config_path, kConfigHelp);
  auto* cfg = group("config", "check the configuration or print its defaults");
  check_ = cfg->add_subcommand("check", "validate the configuration file without starting");
  check_->add_option("--config", a_.config_path, kConfigHelp);
  defaults_ = cfg->add_subcommand("defaults", "print every key with its default and a comment");
  add_directory_commands();
  add_queue_commands();
  add_deadletter_commands();
  add_targets_command();
  add_mail_commands();
  version_ = app_.add_subcommand("version", "print the version");
  // herald send: a MIME message built from files and flags (mime/builder.h).
  auto& s = a_.send;
  send_ = app_.add_subcommand("send", "send a MIME message built from text, HTML and files (--print writes it out)");
  send_->add_option("--from", s.from, "the sender: addr or \"Name <addr>\"; default: your own address");
  send_->add_option("--to", s.to, "recipients (repeat or list)");
  send_->add_option("--cc", s.cc, "copies");
  send_->add_option("--bcc", s.bcc, "blind copies (envelope only, never in the header)");
  send_->add_option("--reply-to", s.reply_to, "Reply-To addresses");
  send_->add_option("--subject", s.subject, "the subject (any UTF-8)");
  send_->add_option("--body", s.body, "the text; without --body or --body-file, standard input");
  send_->add_option("--body-file", s.body_file, "the text, from a file");
  send_->add_option("--html", s.html_file, "an HTML alternative, from a file");
  send_->add_option("--attach", s.attach, "files to attach (repeat)");
  send_->add_option("--header", s.headers, "extra header fields, \"Name: value\" (repeat)");
  send_->add_flag("--print", s.print, "write the message to standard output instead of sending it");
  send_->add_option("--config", a_.config_path, kConfigHelp);
  send_->add_option("--to-all", s.to_all, "broadcast: to every mailbox of this domain, the body stored once")
      ->type_name("DOMAIN");
  send_->add_option("--to-list", s.to_list, "broadcast: to the addresses of this file, one a line")->type_name("FILE");
  app_.footer(kListsFooter);  // after the subcommands: they would inherit it
}

CLI::App* Cli::group(const char* name, const char* help) {
  auto* g = app_.add_subcommand(name, help);
  g->require_subcommand(1);
  return g;
}

CLI::App* Cli::command(CLI::App* parent, const char* name, const char* help, StoreCommand run) {
  auto* sub = parent->add_subcommand(name, help);
  sub->add_option("--config", a_.config_path, kConfigHelp);
  commands_.emplace_back(sub, std::move(run));
  return sub;
}

// limit_option - --limit N; a negative N is a usage error, not a huge number.
void Cli::limit_option(CLI::App* sub, std::size_t& limit, const char* help) {
  static const CLI::Validator count(
      [](std::string& n) { return n.starts_with('-') ? std::string("not a count: 0 or more") : std::string(); }, "");
  sub->add_option("--limit", limit, help)->type_name("N")->check(count);
}

// list_options - --json and the paging flags of a domain, user or alias list.
void Cli::list_options(CLI::App* sub, const char* key, bool by_domain) {
  sub->footer(kListsFooter);
  sub->add_flag("--json", a_.json, "print JSON");
  limit_option(sub, a_.list.limit, "at most N rows (default: all)");
  sub->add_option("--after", a_.list.after, fmt::format("continue after this {}: the last one printed", key))
      ->type_name("KEY");
  sub->add_option("--prefix", a_.list.prefix, fmt::format("only those whose {} starts with P", key))->type_name("P");
  if (by_domain) sub->add_option("--domain", a_.list.domain, "only addresses of domain D")->type_name("D");
}

void Cli::add_directory_commands() {
  auto* domain = group("domain", "local domains");
  command(domain, "add", "add a local domain", [](auto& a, auto& st) { check_request(admin::domain_add(st, a.name)); })
      ->add_option("NAME", a_.name, "domain name")->required();
  command(domain, "del", "delete a local domain",
          [](auto& a, auto& st) { check_request(admin::domain_del(st, a.name)); })
      ->add_option("NAME", a_.name, "domain name")->required();
  list_options(command(domain, "list", "list local domains, by name",
                       [](auto& a, auto& st) { print_list(st, a.list, a.json, admin::domain_list); }),
               "domain name", false);

  auto* user = group("user", "mail users");
  auto* add = command(user, "add", "add a user with an INBOX", [](auto& a, auto& st) {
    check_request(admin::user_add(st, {a.name, new_password(a), a.quota}));
  });
  add->add_option("ADDRESS", a_.name, "user@domain (the domain must be local)")->required();
  add->add_option("--quota", a_.quota, "mailbox quota such as 500M or 1G (default: none)");
  auto* passwd = command(user, "passwd", "change a user's password", [](auto& a, auto& st) {
    check_request(admin::user_passwd(st, a.name, new_password(a)));
  });
  passwd->add_option("ADDRESS", a_.name)->required();
  for (auto* s : {add, passwd}) {
    s->add_flag("--password-stdin", a_.password_stdin, "read the password from standard input");
    s->add_option("--password", a_.password, "the password (visible to ps; prefer --password-stdin)");
    s->add_option("--password-hash", a_.password_hash, "an existing hash: argon2id, $6$ SHA512-CRYPT or $2y$ bcrypt");
  }
  command(user, "del", "delete a user and their mail",
          [](auto& a, auto& st) { check_request(admin::user_del(st, a.name)); })
      ->add_option("ADDRESS", a_.name)->required();
  auto* send_as = command(user, "send-as", "allow or forbid any envelope sender on submission", [](auto& a, auto& st) {
    check_request(admin::user_send_as(st, a.name, a.send_as == "on"));
  });
  send_as->add_option("ADDRESS", a_.name)->required();
  send_as->add_option("on|off", a_.send_as)->required()->check(CLI::IsMember({"on", "off"}));
  list_options(command(user, "list", "list users, by address",
                       [](auto& a, auto& st) { print_list(st, a.list, a.json, admin::user_list); }),
               "address", true);

  auto* alias = group("alias", "aliases: one address, many targets");
  auto* alias_add = command(alias, "add", "add targets to an alias", [](auto& a, auto& st) {
    check_request(admin::alias_add(st, a.name, a.targets));
  });
  alias_add->add_option("ALIAS", a_.name)->required();
  alias_add->add_option("TARGET", a_.targets, "local or remote addresses")->required();
  command(alias, "del", "delete an alias", [](auto& a, auto& st) { check_request(admin::alias_del(st, a.name)); })
      ->add_option("ALIAS", a_.name)->required();
  list_options(command(alias, "list", "list aliases, by address",
                       [](auto& a, auto& st) { print_list(st, a.list, a.json, admin::alias_list); }),
               "alias", true);
}

void Cli::add_queue_commands() {
  auto* queue = group("queue", "the mail queue");
  auto* list = command(queue, "list", "list queued recipients, oldest first",
                       [](auto& a, auto& st) { print_queue_list(st, a.queue, a.json); });
  list->footer(kListsFooter);
  list->add_flag("--json", a_.json, "print JSON");
  limit_option(list, a_.queue.limit, "at most N rows (default: all)");
  list->add_option("--after", a_.queue.after, "continue after this row (JSON: row): the last one printed")
      ->type_name("ROW");
  list->add_option("--sender", a_.queue.sender, "only messages from A, any case (<> = the null sender)")
      ->type_name("A");
  list->add_option("--recipient", a_.queue.recipient, "only recipient A, any case")->type_name("A");
  list->add_option("--state", a_.queue.state_name, "only recipients in state S: pending, deferred, held, dead")
      ->type_name("S");
  list->add_option("--older-than", a_.queue.older_than, "only recipients queued longer ago than D (30m, 2d)")
      ->type_name("D");
  auto* show = command(queue, "show", "show one queued message",
                       [](auto& a, auto& st) { print_queue_show(st, a.name, a.json); });
  show->add_option("ID", a_.name, "queue id")->required();
  show->add_flag("--json", a_.json, "print JSON");

  // The operator's actions, Postfix's postsuper -h/-H/-d and postqueue -f/-i.
  static constexpr Action kActions[] = {
      {"hold", "keep recipients aside: never tried until released", store::QueueAction::hold, "held"},
      {"release", "give held recipients back to the queue, due now", store::QueueAction::release, "released"},
      {"retry", "try recipients now instead of at their next attempt", store::QueueAction::retry, "due now:"},
      {"delete", "take recipients out of the queue, without a report to the sender", store::QueueAction::remove,
       "deleted"},
  };
  for (const Action& act : kActions) {
    auto* sub = command(queue, act.name, act.help, [&act](auto& a, auto& st) {
      print_queue_change(st, act.action, a.change, act.done, a.json, a.data_dir);
    });
    sub->add_option("ID", a_.change.queue_ids, "queue ids");
    sub->add_option("--sender", a_.change.sender, "only messages from A, any case (<> = the null sender)")
        ->type_name("A");
    sub->add_option("--domain", a_.change.domain, "only recipients in domain D, any case")->type_name("D");
    sub->add_option("--state", a_.change.state_name, "only recipients in state S: pending, deferred, held, dead")
        ->type_name("S");
    sub->add_option("--older-than", a_.change.older_than, "only recipients queued longer ago than D (30m, 2d)")
        ->type_name("D");
    sub->add_flag("--all", a_.change.all, "every recipient in the queue (in the state the action applies to)");
    sub->add_flag("--json", a_.json, "print JSON");
  }
  command(queue, "flush", "try every waiting recipient now (retry --all)", [](auto& a, auto& st) {
    admin::QueueChange all;
    all.all = true;
    print_queue_change(st, store::QueueAction::retry, all, "due now:", a.json, a.data_dir);
  })->add_flag("--json", a_.json, "print JSON");

  auto& j = a_.journal;
  auto* journal = command(&app_, "journal", "the journal of events, oldest first",
                          [](auto& a, auto& st) {
                            auto format = a.jsonl  ? admin::Format::json_lines
                                          : a.json ? admin::Format::json
                                                   : admin::Format::text;
                            print_list(st, a.journal, format, admin::journal);
                          });
  journal->add_option("--since", j.since, "only events newer than this (30m, 1h, 2d)");
  journal->add_option("--until", j.until, "only events older than this (with --since: a period to export)");
  journal->add_option("--message-id", j.message_id, "only this Message-ID");
  journal->add_option("--queue-id", j.queue_id, "only this queue id");
  journal->add_option("--address", j.address, "only events with this sender or recipient");
  journal->add_option("--event", j.event, "only this event (received, delivered, rejected, quarantined, ...)");
  journal->add_option("--door", j.door, "who sent what: messages that came through this door "
                                         "(smtp, submission, spool, sendmail, send, local)");
  journal->add_option("--identity", j.identity, "messages whose submitter (AUTH user, uid=N(login), spool and file, "
                                                 "client) holds this text");
  journal->add_option("--subject", j.subject, "messages whose Subject holds this text");
  journal->add_option("--attachment", j.attachment, "messages with an attachment whose name holds this text");
  journal->footer(kListsFooter);
  limit_option(journal, j.limit, "newest N events (default 1000; 0 = all); with --after, the first N after it");
  journal->add_option("--after", j.after, "the events after this key (JSON: key), as the last listing ended")
      ->type_name("KEY");
  journal->add_flag("--json", a_.json, "print JSON");
  journal->add_flag("--jsonl", a_.jsonl, "print JSON lines, one event per line (export: --limit 0 --since D --until D)");
}

// herald deadletter: the reports (null sender) that could not be delivered
// (CSSMTP's dead letters), kept in the store and, with
// delivery.dead_letter_action = "store", as files in data_dir/deadletter/.
void Cli::add_targets_command() {
  command(&app_, "targets", "the servers mail is sent to, as the running daemon sees them (CSSMTP's D,TARGET)",
          [](auto& a, auto& st) { print_targets(st, a.data_dir, a.json); })
      ->add_flag("--json", a_.json, "print JSON");
}

// A user's mail on the store, doveadm's mailbox, quota, flags, expunge,
// import and backup; the daemon may run.
void Cli::add_mail_commands() {
  auto* mailbox = group("mailbox", "a user's mailboxes");
  auto* list = command(mailbox, "list", "list a user's mailboxes: special use, messages, unseen, size",
                       [](auto& a, auto& st) { print_mailbox_list(st, a.name, a.json); });
  list->add_option("USER", a_.name, "user@domain")->required();
  list->add_flag("--json", a_.json, "print JSON");
  auto* create = command(mailbox, "create", "create a mailbox (and the levels above it), subscribed",
                         [](auto& a, auto& st) {
                           check_request(admin::mailbox_create(st, a.name, a.mailbox, a.special_use));
                         });
  create->add_option("USER", a_.name, "user@domain")->required();
  create->add_option("NAME", a_.mailbox, "the name, levels separated by /")->required();
  create->add_option("--special-use", a_.special_use, "\\Sent, \\Drafts, \\Trash, \\Junk, \\Archive, \\All "
                                                       "or \\Flagged (RFC 6154)")
      ->type_name("USE");
  auto* del = command(mailbox, "delete", "delete a mailbox and its messages (a parent of others stays, \\Noselect)",
                      [](auto& a, auto& st) { check_request(admin::mailbox_delete(st, a.name, a.mailbox)); });
  del->add_option("USER", a_.name, "user@domain")->required();
  del->add_option("NAME", a_.mailbox)->required();
  auto* rename = command(mailbox, "rename", "rename a mailbox with its children (INBOX: its messages move)",
                         [](auto& a, auto& st) {
                           check_request(admin::mailbox_rename(st, a.name, a.mailbox, a.new_name));
                         });
  rename->add_option("USER", a_.name, "user@domain")->required();
  rename->add_option("OLD", a_.mailbox)->required();
  rename->add_option("NEW", a_.new_name)->required();

  auto* quota = group("quota", "a user's quota: the octets their mailboxes may hold");
  auto* get = command(quota, "get", "show a user's quota and what they use",
                      [](auto& a, auto& st) { print_quota(check_request(admin::quota_get(st, a.name)), a.json); });
  get->add_option("USER", a_.name, "user@domain")->required();
  get->add_flag("--json", a_.json, "print JSON");
  auto* set = command(quota, "set", "set a user's quota (from the next message on)", [](auto& a, auto& st) {
    print_quota(check_request(admin::quota_set(st, a.name, a.size)), a.json);
  });
  set->add_option("USER", a_.name, "user@domain")->required();
  set->add_option("SIZE", a_.size, "such as 500M or 1G; 0 = unlimited")->required();
  set->add_flag("--json", a_.json, "print JSON");

  auto* acl = group("acl", "who else may use a user's mailbox, and how (IMAP ACL, RFC 4314)");
  auto* acl_get = command(acl, "get", "show a mailbox's access list", [](auto& a, auto& st) {
    print_acl(check_request(admin::acl_get(st, a.name, a.mailbox)), a.json);
  });
  acl_get->add_option("USER", a_.name, "user@domain")->required();
  acl_get->add_option("MAILBOX", a_.mailbox)->required();
  acl_get->add_flag("--json", a_.json, "print JSON");
  auto* acl_set = command(acl, "set", "give an identifier rights on a mailbox", [](auto& a, auto& st) {
    print_acl(check_request(admin::acl_set(st, a.name, a.mailbox, a.identifier, a.rights)), a.json);
  });
  acl_set->add_option("USER", a_.name, "user@domain: the owner")->required();
  acl_set->add_option("MAILBOX", a_.mailbox)->required();
  acl_set->add_option("IDENTIFIER", a_.identifier, "another user's address, or anyone")->required();
  acl_set->add_option("RIGHTS", a_.rights, "letters of lrswipkxtea: lr replaces, +i adds, -w removes")->required();
  acl_set->add_flag("--json", a_.json, "print JSON");
  acl_set->footer("Rights (RFC 4314): l see it in LIST, r read (SELECT, FETCH, SEARCH, COPY from), s keep \\Seen,\n"
                  "w other flags, i insert (APPEND, COPY into), p post, k create below, x delete, t set \\Deleted,\n"
                  "e expunge, a administer (change this list). The other user sees it as\n"
                  "\"Other Users/USER/MAILBOX\".\n");
  auto* acl_delete = command(acl, "delete", "take an identifier's entry off a mailbox's access list",
                             [](auto& a, auto& st) {
                               print_acl(check_request(admin::acl_delete(st, a.name, a.mailbox, a.identifier)), a.json);
                             });
  acl_delete->add_option("USER", a_.name, "user@domain: the owner")->required();
  acl_delete->add_option("MAILBOX", a_.mailbox)->required();
  acl_delete->add_option("IDENTIFIER", a_.identifier, "another user's address, or anyone")->required();
  acl_delete->add_flag("--json", a_.json, "print JSON");

  auto* flags = command(&app_, "flags", "show or change the flags of messages (IMAP's FLAGS and STORE)",
                        [this](auto& a, auto& st) {
                          admin::FlagsRequest r{a.name, a.mailbox, a.uids, admin::FlagsRequest::Change::none, {}};
                          int given = 0;
                          for (auto [opt, change, values] :
                               {std::tuple(flags_add_, admin::FlagsRequest::Change::add, &a.flags_add),
                                std::tuple(flags_remove_, admin::FlagsRequest::Change::remove, &a.flags_remove),
                                std::tuple(flags_set_, admin::FlagsRequest::Change::set, &a.flags_set)})
                            if (opt->count()) {
                              ++given;
                              r.change = change;
                              r.flags = *values;
                            }
                          if (given > 1) fail("give one of --add, --remove, --set", 2);
                          print_flags(check_request(admin::flags(st, r)), a.json);
                        });
  flags->add_option("USER", a_.name, "user@domain")->required();
  flags->add_option("MAILBOX", a_.mailbox)->required();
  flags->add_option("UID", a_.uids, "UIDs: 7, 3:9, 5:*, * (the last), 1,4")->required();
  flags_add_ = flags->add_option("--add", a_.flags_add, "add these flags: \\Seen \\Answered \\Flagged \\Deleted "
                                                         "\\Draft or keywords")
                   ->type_name("FLAG");
  flags_remove_ = flags->add_option("--remove", a_.flags_remove, "remove these flags")->type_name("FLAG");
  flags_set_ = flags->add_option("--set", a_.flags_set, "set exactly these flags (\"\" for none)")
                   ->type_name("FLAG");
  flags->add_flag("--json", a_.json, "print JSON");
  flags->footer("Without --add, --remove or --set, the flags are shown. Each FLAG may hold several, "
                "separated by spaces or commas;\nthe UIDs come first.\n");

  auto* expunge = command(&app_, "expunge", "remove messages for good: older than --before, or flagged \\Deleted",
                          [](auto& a, auto& st) {
                            std::size_t n = check_request(admin::expunge(st, {a.name, a.mailbox, a.before, a.deleted}));
                            if (a.json) std::cout << fmt::format("{{\"expunged\": {}}}\n", n);
                            else std::cout << fmt::format("expunged {} message{}\n", n, n == 1 ? "" : "s");
                          });
  expunge->add_option("USER", a_.name, "user@domain")->required();
  expunge->add_option("MAILBOX", a_.mailbox)->required();
  expunge->add_option("--before", a_.before, "those whose internal date (arrival) is older than D: 30d, 12h")
      ->type_name("D");
  expunge->add_flag("--deleted", a_.deleted, "those flagged \\Deleted (with --before: those that are both)");
  expunge->add_flag("--json", a_.json, "print JSON");

  auto* search = command(&app_, "search", "find a user's messages by their words (the index IMAP's SEARCH reads)",
                         [](auto& a, auto& st) {
                           admin::RowWriter out(std::cout, a.json);
                           auto end = check_request(
                               admin::search(st, {a.name, a.query, a.mailbox}, out.sink<admin::SearchHit>()));
                           out.finish();
                           if (end.unindexed > 0)
                             std::cerr << fmt::format("herald: {} message{} stored before the index (schema 12) "
                                                      "not searched\n",
                                                      end.unindexed, end.unindexed == 1 ? "" : "s");
                         });
  search->add_option("USER", a_.name, "user@domain")->required();
  search->add_option("QUERY", a_.query, "the words, in order; the last may be the start of a word")->required();
  search->add_option("--mailbox", a_.mailbox, "only this mailbox (default: every one)")->type_name("NAME");
  search->add_flag("--json", a_.json, "print JSON");
  search->footer("Prints MAILBOX  UID  DATE (arrival, UTC)  FROM  SUBJECT per message. The words are looked for in\n"
                 "the Subject, From, To and Cc and in the decoded text of the text and HTML parts, case and\n"
                 "accents folded; a word matches whole words only, the last one also their starts.\n");

  auto* import = group("import", "messages from other servers' files into a user's mailboxes");
  auto* maildir = command(import, "maildir", "a maildir++ tree: INBOX at its root, .Sub.Folder as Sub/Folder",
                          [](auto& a, auto& st) { import_mail(st, false, {a.name, a.path, ""}, a.json); });
  auto* mbox = command(import, "mbox", "an mbox file (mboxrd, mboxo) into one mailbox",
                       [](auto& a, auto& st) { import_mail(st, true, {a.name, a.path, a.mailbox}, a.json); });
  mbox->add_option("--mailbox", a_.mailbox, "the mailbox (default INBOX; made if missing)")->type_name("NAME");
  auto* exp = group("export", "a user's mailboxes to files other servers read");
  auto* to_maildir = command(exp, "maildir", "every mailbox as maildir++, flags in the names, dates as mtimes",
                             [](auto& a, auto& st) { export_mail(st, a.name, a.path, a.json); });
  for (auto* sub : {maildir, mbox, to_maildir}) {
    sub->add_option("USER", a_.name, "user@domain")->required();
    sub->add_option("PATH", a_.path, sub == mbox ? "the mbox file" : "the maildir's root")->required();
    sub->add_flag("--json", a_.json, "print the summary as JSON");
  }
}

void Cli::add_deadletter_commands() {
  auto* dead = group("deadletter", "reports that could not be delivered, kept for the operator");
  auto* list = command(dead, "list", "list dead letters, oldest first", [](auto& a, auto& st) {
    admin::QueueListRequest q = a.queue;
    q.state = store::RecipientState::dead;
    print_list(st, q, a.json, admin::queue_list);
  });
  list->footer(kListsFooter);
  list->add_flag("--json", a_.json, "print JSON");
  limit_option(list, a_.queue.limit, "at most N rows (default: all)");
  list->add_option("--after", a_.queue.after, "continue after this row (JSON: row): the last one printed")
      ->type_name("ROW");
  auto* show = command(dead, "show", "show a dead letter: its recipients, why, and the message",
                       [](auto& a, auto& st) { print_deadletter_show(st, a.name, a.json); });
  show->add_option("ID", a_.name, "queue id")->required();
  show->add_flag("--json", a_.json, "print JSON");
  static constexpr Action kActions[] = {
      {"resend", "try dead letters again, now, with a fresh queue lifetime", store::QueueAction::resend, "resent"},
      {"delete", "drop dead letters (and their files)", store::QueueAction::remove, "deleted"},
  };
  for (const Action& act : kActions) {
    auto* sub = command(dead, act.name, act.help, [&act](auto& a, auto& st) {
      print_deadletter_change(st, act.action, a.change, a.data_dir / "deadletter", act.done, a.json);
    });
    sub->add_option("ID", a_.change.queue_ids, "queue ids");
    sub->add_flag("--all", a_.change.all, "every dead letter");
    sub->add_flag("--json", a_.json, "print JSON");
  }
}

int Cli::run(int argc, char** argv) {
  try {
    app_.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app_.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app_.exit(e);
  } catch (const CLI::ParseError& e) {
    app_.exit(e);
    return 2;
  }
  try {
    return dispatch();
  } catch (const Failure& f) {
    std::cout.flush();
    std::cerr << "herald: " << herald::printable_utf8(f.message) << "\n";
    return f.code;
  }
}

int Cli::dispatch() {
  if (*version_) {
    std::cout << "herald " << HERALD_VERSION << "\n";
    return 0;
  }
  if (*serve_) return serve(a_.config_path);
  if (*send_) {
    a_.send.config_path = a_.config_path;
    return send(a_.send);
  }
  if (*defaults_) {
    std::cout << config::defaults_toml();
    return 0;
  }
  config::Config c = check(config::load(a_.config_path));
  if (*check_) {
    check(herald::server::check_environment(c));  // what serve checks before it starts
    std::cout << fmt::format("{}: ok\n", a_.config_path);
    return 0;
  }
  for (auto& [sub, run] : commands_) {
    if (!sub->parsed()) continue;
    a_.data_dir = c.data_dir;
    auto st = open_store(c);
    run(a_, *st);
    return 0;
  }
  return 2;  // not reached: CLI11 requires a subcommand at every level
}

}  // namespace

int main(int argc, char** argv) {
  // Nothing Herald writes is for other users: the database, bodies, keys,
  // a sendmail message in the maildrop (docs/ARCHITECTURE.md "Mail from
  // programs"). The maildrop and data_dir get their modes explicitly.
  ::umask(077);
  std::string_view program = argc > 0 ? std::string_view(argv[0]) : "herald";
  program = program.substr(program.rfind('/') + 1);
  // The queue commands (-bp, -q) and -bs run here, in this process.
  SendmailHooks hooks;
  hooks.queue_command = [](std::vector<std::string> words) {
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    Cli cli;
    return cli.run(static_cast<int>(argv.size()), argv.data());
  };
  hooks.smtp_session = smtp_session;
  if (program == "sendmail" || program == "mailq")
    return sendmail_main(program, std::vector<std::string>(argv + 1, argv + argc), hooks);
  if (argc > 1 && std::string_view(argv[1]) == "sendmail")
    return sendmail_main("sendmail", std::vector<std::string>(argv + 2, argv + argc), hooks);
  Cli cli;
  return cli.run(argc, argv);
}
