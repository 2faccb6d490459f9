// imap_load - the IMAP load generator of bench/imap.
//
// Plain non-blocking sockets over epoll, one event loop per thread
// (--threads, default 1), each serving its share of the --clients sessions.
// No pipelining: a session sends one command, reads the response up to its
// tagged line (skipping literals by their {n} count), checks that the tagged
// line is OK, and only then sends the next. NO or BAD count as errors and the
// first of them are printed with the command that drew them.
//
// Run mode (the default): every session logs in and selects the mailbox;
// once all are ready the measured window starts (server CPU and our own CPU
// are sampled), each session then issues operations picked at random by
// --mix weights until --duration seconds have passed (or --count operations
// were issued), finishes the one in flight, and the window closes when the
// last session is done. Then LOGOUT, outside the window.
//
// Idle mode (--idle): every session logs in, selects and starts IDLE; once
// all are idling, one line {"ready": N, ...} goes to standard output and the
// program waits for a line (or EOF) on standard input, then ends IDLE with
// DONE (each must be answered OK: the connection survived), logs out and
// prints its result.
//
// Server CPU: --cpu-pid PID (repeatable) sums utime+stime+cutime+cstime
// (/proc/PID/stat) over PID and all its descendants, before and after the
// window: a forking server (Dovecot: one imap process per session, reaped
// children's time moving into their parent's cutime) is counted whole.
//
// The result is one JSON object on standard output.

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

enum Op : int { kNoop, kSelect, kFetchFlags, kFetchBody, kStore, kSearchSubject, kSearchBody, kAppend, kNumOps };
constexpr const char* kOpNames[kNumOps] = {"noop",  "select",         "fetch-flags", "fetch-body",
                                           "store", "search-subject", "search-body", "append"};

struct Options {
  std::string host = "127.0.0.1";
  int port = 143;
  std::string user = "bench@example.test";
  std::string pass = "secret";
  std::string mailbox = "INBOX";
  std::string append_mailbox;  // "" = the selected mailbox
  int clients = 16;
  int threads = 1;
  double duration = 10;
  long count = 0;  // > 0: stop after this many operations (all sessions together)
  double weights[kNumOps] = {};
  std::vector<std::string> subject_words{"report"};
  std::vector<std::string> body_words{"report"};
  int append_size = 4096;
  bool idle = false;
  bool words_in_order = false;  // each SEARCH takes the next word of its list, not a random one
  int parallel = 32;  // sessions being set up at once (connect, LOGIN, SELECT[, IDLE])
  double op_timeout = 300;
  std::vector<int> cpu_pids;
  uint64_t seed = 1;
};

[[noreturn]] void usage(const char* msg) {
  if (msg) std::fprintf(stderr, "imap_load: %s\n", msg);
  std::fprintf(stderr,
               "usage: imap_load [--host H] [--port P] [--user U] [--pass P] [--mailbox M]\n"
               "  [--clients N] [--threads T] [--duration S] [--count N] [--seed N]\n"
               "  [--op NAME | --mix NAME=W,NAME=W,...]   ops: noop select fetch-flags fetch-body\n"
               "                                          store search-subject search-body append\n"
               "  [--subject-words W,W,..] [--body-words W,W,..] [--append-size BYTES]\n"
               "  [--append-mailbox M] [--parallel N] [--op-timeout S] [--cpu-pid PID]... [--idle]\n"
               "  [--words-in-order]\n");
  std::exit(2);
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto i = s.find(sep);
    auto part = s.substr(0, i);
    if (!part.empty()) out.emplace_back(part);
    if (i == std::string_view::npos) break;
    s.remove_prefix(i + 1);
  }
  return out;
}

int op_by_name(std::string_view name) {
  for (int i = 0; i < kNumOps; ++i)
    if (name == kOpNames[i]) return i;
  usage(("unknown op " + std::string(name)).c_str());
}

Options parse(int argc, char** argv) {
  Options o;
  bool mixed = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value for " + std::string(a)).c_str());
      return argv[++i];
    };
    if (a == "--host") o.host = val();
    else if (a == "--port") o.port = std::stoi(val());
    else if (a == "--user") o.user = val();
    else if (a == "--pass") o.pass = val();
    else if (a == "--mailbox") o.mailbox = val();
    else if (a == "--append-mailbox") o.append_mailbox = val();
    else if (a == "--clients") o.clients = std::stoi(val());
    else if (a == "--threads") o.threads = std::stoi(val());
    else if (a == "--duration") o.duration = std::stod(val());
    else if (a == "--count") o.count = std::stol(val());
    else if (a == "--seed") o.seed = std::stoull(val());
    else if (a == "--append-size") o.append_size = std::stoi(val());
    else if (a == "--parallel") o.parallel = std::stoi(val());
    else if (a == "--op-timeout") o.op_timeout = std::stod(val());
    else if (a == "--cpu-pid") o.cpu_pids.push_back(std::stoi(val()));
    else if (a == "--subject-words") o.subject_words = split(val(), ',');
    else if (a == "--body-words") o.body_words = split(val(), ',');
    else if (a == "--idle") o.idle = true;
    else if (a == "--words-in-order") o.words_in_order = true;
    else if (a == "--op") {
      std::fill(std::begin(o.weights), std::end(o.weights), 0.0);
      o.weights[op_by_name(val())] = 1;
      mixed = true;
    } else if (a == "--mix") {
      std::fill(std::begin(o.weights), std::end(o.weights), 0.0);
      for (auto& kv : split(val(), ',')) {
        auto eq = kv.find('=');
        if (eq == std::string::npos) usage("--mix wants NAME=WEIGHT,...");
        o.weights[op_by_name(kv.substr(0, eq))] = std::stod(kv.substr(eq + 1));
      }
      mixed = true;
    } else if (a == "-h" || a == "--help") usage(nullptr);
    else usage(("unknown option " + std::string(a)).c_str());
  }
  if (!mixed) o.weights[kNoop] = 1;
  if (o.clients < 1 || o.threads < 1 || o.parallel < 1) usage("clients, threads and parallel must be >= 1");
  o.threads = std::min(o.threads, o.clients);
  if (o.subject_words.empty() || o.body_words.empty()) usage("empty word list");
  if (o.append_mailbox.empty()) o.append_mailbox = o.mailbox;
  return o;
}

// xorshift64*: cheap, per session, deterministic from --seed.
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1DULL;
  }
  double unit() { return (next() >> 11) * (1.0 / 9007199254740992.0); }
  long below(long n) { return n <= 0 ? 0 : static_cast<long>(next() % static_cast<uint64_t>(n)); }
};

struct OpStats {
  std::vector<uint32_t> lat_us;
  uint64_t errors = 0;
  int64_t first_us = -1;
  uint64_t bytes = 0;
};

struct Stats {
  OpStats ops[kNumOps];
  std::vector<std::string> samples;  // first errors, "command -> response"
  uint64_t errors_other = 0;         // setup, dropped connections, timeouts
  uint64_t bytes_in = 0;
  std::map<std::string, long> search_hits;  // word -> matches in the last such SEARCH
  int ready = 0, failed = 0, idle_ok = 0;

  void sample(std::string s) {
    if (samples.size() < 20) samples.push_back(std::move(s));
  }
};

// The measured window, shared by the threads.
std::atomic<int64_t> g_deadline_ns{0};
std::atomic<long> g_issued{0};

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

enum class St { Connecting, Greeting, Login, Select, Ready, Busy, AppendCont, IdleCont, Idling, IdleDone, Logout, Closed, Dead };

// Input buffer: data lives in [b, e) of p[0, cap).
struct Buffer {
  std::unique_ptr<char[]> p;
  size_t cap = 0, b = 0, e = 0;
  void make_room(size_t want) {
    if (cap - e >= want) return;
    if (b > 0) {
      std::memmove(p.get(), p.get() + b, e - b);
      e -= b;
      b = 0;
      if (cap - e >= want) return;
    }
    size_t ncap = std::max<size_t>(cap ? cap * 2 : 4096, e + want);
    auto np = std::make_unique<char[]>(ncap);
    if (e) std::memcpy(np.get(), p.get(), e);
    p = std::move(np);
    cap = ncap;
  }
};

struct Conn {
  int fd = -1;
  St st = St::Connecting;
  Buffer in;
  size_t literal_left = 0;
  bool at_start = true;  // the next line begins a response (not the rest after a literal)
  std::string out;
  size_t out_off = 0;
  bool want_out = false;
  char tag[24] = {};
  size_t taglen = 0;
  uint64_t seq = 0;
  Op op = kNoop;
  Clock::time_point t0;
  std::string cmd;  // the command line in flight, for error reports
  std::string append_msg;
  long exists = 0, uidnext = 0, uidmax = 0;
  long search_count = -1;
  int word = -1;
  long fetches = 0, literals = 0, exists_at_issue = 0;  // checks of FETCH responses
  bool uidmax_at_issue_valid = false;
  Rng rng{1};
};

std::string quoted(std::string_view s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

std::string printable(std::string_view s) {
  std::string r;
  for (char c : s.substr(0, 300)) r += (c >= 32 && c < 127) ? c : '?';
  return r;
}

class Worker {
 public:
  Worker(const Options& o, int first_index, int n) : o_(o) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) std::perror("epoll_create1"), std::exit(1);
    conns_.resize(n);
    for (int i = 0; i < n; ++i) conns_[i].rng.s = (o.seed * 0x9E3779B97F4A7C15ULL) ^ (first_index + i * 7919 + 1);
    double sum = 0;
    for (int i = 0; i < kNumOps; ++i) cum_[i] = (sum += o.weights[i]);
    total_weight_ = sum;
    append_body_ = make_append_body(o.append_size);
  }
  ~Worker() {
    for (auto& c : conns_)
      if (c.fd >= 0) ::close(c.fd);
    ::close(ep_);
  }

  // Connect every session and bring it to Ready (or Idling).
  void setup() {
    size_t next = 0;
    int in_setup = 0;
    auto setting_up = [](St s) {
      return s == St::Connecting || s == St::Greeting || s == St::Login || s == St::Select || s == St::IdleCont;
    };
    auto deadline = Clock::now() + std::chrono::seconds(120 + conns_.size() / 10);
    while (true) {
      in_setup = 0;
      for (size_t i = 0; i < next; ++i) in_setup += setting_up(conns_[i].st) && conns_[i].fd >= 0;
      while (next < conns_.size() && in_setup < o_.parallel) {
        start(conns_[next++]);
        ++in_setup;
      }
      if (next == conns_.size() && in_setup == 0) break;
      if (Clock::now() > deadline) {
        for (auto& c : conns_)
          if (setting_up(c.st)) fail(c, "setup timed out");
        break;
      }
      poll(50);
    }
    for (auto& c : conns_) (c.st == St::Ready || c.st == St::Idling) ? ++stats_.ready : ++stats_.failed;
  }

  // The measured run: ops until the deadline (or the count), then the ones in flight.
  void run() {
    if (o_.idle) return;
    running_ = 0;
    for (auto& c : conns_)
      if (c.st == St::Ready) {
        ++running_;
        next_op(c);
      }
    auto last_check = Clock::now();
    while (running_ > 0) {
      poll(20);
      auto now = Clock::now();
      if (now - last_check > std::chrono::seconds(1)) {
        last_check = now;
        for (auto& c : conns_)
          if ((c.st == St::Busy || c.st == St::AppendCont) &&
              now - c.t0 > std::chrono::duration<double>(o_.op_timeout)) {
            stats_.ops[c.op].errors++;
            fail(c, "no tagged response after --op-timeout to: " + printable(c.cmd));
          }
      }
    }
  }

  // End IDLE (each must be answered OK), LOGOUT, wait for the server to close.
  void finish() {
    for (auto& c : conns_) {
      if (c.st == St::Idling) {
        send(c, "DONE\r\n");
        c.st = St::IdleDone;
      } else if (c.st == St::Ready) {
        logout(c);
      }
    }
    auto deadline = Clock::now() + std::chrono::seconds(60);
    while (Clock::now() < deadline) {
      bool open = false;
      for (auto& c : conns_) open |= c.st == St::IdleDone || c.st == St::Logout;
      if (!open) break;
      poll(50);
    }
    for (auto& c : conns_)
      if (c.st == St::IdleDone || c.st == St::Logout) fail(c, "no answer to DONE/LOGOUT within 60 s");
  }

  Stats& stats() { return stats_; }

 private:
  static std::string make_append_body(int size) {
    static const char* words[] = {"append", "bench",  "message", "status", "weekly", "note",
                                  "plain",  "server", "client",  "mail",   "text",   "line"};
    std::string body, line;
    uint64_t x = 12345;
    while (static_cast<int>(body.size()) < size) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      const char* w = words[(x >> 33) % 12];
      if (line.size() + std::strlen(w) + 1 > 72) {
        body += line + "\r\n";
        line.clear();
      }
      if (!line.empty()) line += ' ';
      line += w;
    }
    return body + line + "\r\n";
  }

  void start(Conn& c) {
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) return fail(c, std::string("socket: ") + std::strerror(errno));
    int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(o_.port));
    if (::inet_pton(AF_INET, o_.host.c_str(), &a.sin_addr) != 1) usage("--host must be an IPv4 address");
    c.st = St::Connecting;
    int r = ::connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    if (r < 0 && errno != EINPROGRESS) return fail(c, std::string("connect: ") + std::strerror(errno));
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLIN;
    ev.data.ptr = &c;
    c.want_out = true;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
    c.t0 = Clock::now();
  }

  void fail(Conn& c, std::string why) {
    stats_.errors_other++;
    stats_.sample("session: " + why);
    close(c, St::Dead);
  }

  void close(Conn& c, St st) {
    if (c.fd >= 0) {
      ::epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
      ::close(c.fd);
      c.fd = -1;
    }
    bool was_running = c.st == St::Busy || c.st == St::AppendCont;
    c.st = st;
    if (was_running && running_ > 0) --running_;
  }

  void poll(int timeout_ms) {
    epoll_event evs[256];
    int n = ::epoll_wait(ep_, evs, 256, timeout_ms);
    if (n < 0 && errno != EINTR) std::perror("epoll_wait"), std::exit(1);
    for (int i = 0; i < n; ++i) {
      Conn& c = *static_cast<Conn*>(evs[i].data.ptr);
      if (c.fd < 0) continue;
      if (c.st == St::Connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
          fail(c, std::string("connect: ") + std::strerror(err));
          continue;
        }
        c.st = St::Greeting;
        set_out(c, false);
      }
      if ((evs[i].events & EPOLLOUT) && c.want_out) flush(c);
      if (c.fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) readable(c);
    }
  }

  void set_out(Conn& c, bool want) {
    if (c.want_out == want || c.fd < 0) return;
    c.want_out = want;
    epoll_event ev{};
    ev.events = want ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
    ev.data.ptr = &c;
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void send(Conn& c, std::string_view data) {
    if (c.out_off == c.out.size()) {
      c.out.clear();
      c.out_off = 0;
    }
    c.out.append(data);
    flush(c);
  }

  void flush(Conn& c) {
    while (c.out_off < c.out.size()) {
      ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_off += n;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_out(c, true);
        return;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        return fail(c, std::string("send: ") + std::strerror(errno));
      }
    }
    set_out(c, false);
  }

  void command(Conn& c, std::string_view rest) {
    c.taglen = std::snprintf(c.tag, sizeof c.tag, "a%" PRIu64, ++c.seq);
    c.cmd.assign(c.tag, c.taglen);
    c.cmd += ' ';
    c.cmd += rest;
    c.cmd += "\r\n";
    send(c, c.cmd);
  }

  void logout(Conn& c) {
    command(c, "LOGOUT");
    c.st = St::Logout;
  }

  void readable(Conn& c) {
    while (c.fd >= 0) {
      c.in.make_room(16384);
      size_t space = c.in.cap - c.in.e;
      ssize_t n = ::recv(c.fd, c.in.p.get() + c.in.e, space, 0);
      if (n > 0) {
        c.in.e += n;
        stats_.bytes_in += n;
        if (c.st == St::Busy || c.st == St::AppendCont) stats_.ops[c.op].bytes += n;
        process(c);
        if (static_cast<size_t>(n) < space) return;
      } else if (n == 0) {
        if (c.st == St::Logout || c.st == St::Closed) return close(c, St::Closed);
        return fail(c, "connection closed by the server (state " + std::to_string(static_cast<int>(c.st)) +
                           (c.cmd.empty() ? "" : ", last command: " + printable(c.cmd)) + ")");
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return;
      } else if (errno != EINTR) {
        return fail(c, std::string("recv: ") + std::strerror(errno));
      }
    }
  }

  // Split the input into lines, skipping literals; whole responses' first
  // lines go to response().
  void process(Conn& c) {
    Buffer& in = c.in;
    while (in.b < in.e && c.fd >= 0) {
      if (c.literal_left) {
        size_t take = std::min(c.literal_left, in.e - in.b);
        in.b += take;
        c.literal_left -= take;
        if (c.literal_left) break;
        continue;
      }
      char* s = in.p.get() + in.b;
      auto* nl = static_cast<char*>(std::memchr(s, '\n', in.e - in.b));
      if (!nl) break;
      size_t len = nl - s + 1;
      size_t vis = len - ((len >= 2 && s[len - 2] == '\r') ? 2 : 1);
      std::string_view line(s, vis);
      bool start = c.at_start;
      c.at_start = true;
      if (!line.empty() && line.back() == '}') {
        auto open = line.rfind('{');
        if (open != std::string_view::npos && open + 2 <= line.size() - 1) {
          std::string_view digits = line.substr(open + 1, line.size() - open - 2);
          if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
          bool ok = !digits.empty() && std::all_of(digits.begin(), digits.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
          if (ok) {
            c.literal_left = std::strtoull(std::string(digits).c_str(), nullptr, 10);
            c.at_start = false;
            ++c.literals;
          }
        }
      }
      in.b += len;
      if (start) response(c, line);
    }
    if (in.b == in.e) in.b = in.e = 0;
  }

  static long number_at(std::string_view s, size_t& i) {
    long v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0');
    return v;
  }

  void response(Conn& c, std::string_view line) {
    if (line.starts_with("+")) {
      if (c.st == St::AppendCont) {
        c.st = St::Busy;
        c.append_msg += "\r\n";
        send(c, c.append_msg);
      } else if (c.st == St::IdleCont) {
        c.st = St::Idling;
      } else {
        stats_.errors_other++;
        stats_.sample("unexpected continuation after " + printable(c.cmd) + " -> " + printable(line));
      }
      return;
    }
    if (line.starts_with("* ")) {
      std::string_view r = line.substr(2);
      if (c.st == St::Greeting) {
        if (!r.starts_with("OK")) return fail(c, "greeting: " + printable(line));
        c.st = St::Login;
        command(c, "LOGIN " + quoted(o_.user) + " " + quoted(o_.pass));
        return;
      }
      if (!r.empty() && r[0] >= '0' && r[0] <= '9') {
        size_t i = 0;
        long n = number_at(r, i);
        std::string_view what = r.substr(i);
        if (what.starts_with(" EXISTS")) c.exists = n;
        else if (what.starts_with(" FETCH ")) ++c.fetches;
      } else if (r.starts_with("OK [UIDNEXT ")) {
        size_t i = 12;
        c.uidnext = number_at(r, i);
      } else if (r.starts_with("SEARCH")) {
        c.search_count = std::count(r.begin(), r.end(), ' ');
      } else if (r.starts_with("BYE") && c.st != St::Logout) {
        stats_.errors_other++;
        stats_.sample("untagged BYE after " + printable(c.cmd) + " -> " + printable(line));
      }
      return;
    }
    if (line.size() > c.taglen && line.compare(0, c.taglen, std::string_view(c.tag, c.taglen)) == 0 &&
        line[c.taglen] == ' ') {
      bool ok = line.substr(c.taglen + 1).starts_with("OK");
      return tagged(c, ok, line);
    }
    stats_.errors_other++;
    stats_.sample("unexpected line after " + printable(c.cmd) + " -> " + printable(line));
  }

  void tagged(Conn& c, bool ok, std::string_view line) {
    switch (c.st) {
      case St::Login:
        if (!ok) return fail(c, "LOGIN -> " + printable(line));
        c.st = St::Select;
        c.exists = c.uidnext = 0;
        command(c, "SELECT " + quoted(o_.mailbox));
        return;
      case St::Select:
        if (!ok) return fail(c, "SELECT -> " + printable(line));
        c.uidmax = c.uidnext > 1 ? c.uidnext - 1 : c.exists;
        if (o_.idle) {
          c.st = St::IdleCont;
          command(c, "IDLE");
        } else {
          c.st = St::Ready;
        }
        return;
      case St::IdleCont:
        return fail(c, "IDLE -> " + printable(line));
      case St::IdleDone:
        if (!ok) return fail(c, "IDLE ... DONE -> " + printable(line));
        stats_.idle_ok++;
        return logout(c);
      case St::Logout:
        c.st = St::Closed;  // the server closes; we may close first
        return close(c, St::Closed);
      case St::Busy:
      case St::AppendCont: {
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - c.t0).count();
        OpStats& s = stats_.ops[c.op];
        s.lat_us.push_back(static_cast<uint32_t>(std::min<int64_t>(us, UINT32_MAX)));
        if (s.first_us < 0) s.first_us = us;
        if (!ok) {
          s.errors++;
          stats_.sample(printable(c.cmd) + " -> " + printable(line));
        } else if (c.op == kFetchFlags && c.fetches < c.exists_at_issue) {
          s.errors++;
          stats_.sample(printable(c.cmd) + " -> " + std::to_string(c.fetches) + " FETCH responses for " +
                        std::to_string(c.exists_at_issue) + " messages, then " + printable(line));
        } else if (c.op == kFetchBody && c.literals == 0 && c.uidmax_at_issue_valid) {
          s.errors++;
          stats_.sample(printable(c.cmd) + " -> no BODY[] literal, then " + printable(line));
        }
        if (c.op == kSelect && ok) c.uidmax = std::max(c.uidmax, c.uidnext - 1);
        if ((c.op == kSearchSubject || c.op == kSearchBody) && ok) {
          const auto& words = c.op == kSearchSubject ? o_.subject_words : o_.body_words;
          stats_.search_hits[(c.op == kSearchSubject ? "subject:" : "body:") + words[c.word]] = c.search_count;
        }
        c.st = St::Ready;
        return next_op(c);
      }
      default:
        stats_.sample("tagged response in state " + std::to_string(static_cast<int>(c.st)) + ": " + printable(line));
        return;
    }
  }

  void next_op(Conn& c) {
    if (now_ns() >= g_deadline_ns.load(std::memory_order_relaxed) ||
        (o_.count > 0 && g_issued.fetch_add(1, std::memory_order_relaxed) >= o_.count)) {
      --running_;
      return;  // parked in Ready
    }
    double x = c.rng.unit() * total_weight_;
    int op = 0;
    while (op < kNumOps - 1 && (x >= cum_[op] || o_.weights[op] == 0)) ++op;
    c.op = static_cast<Op>(op);
    c.fetches = c.literals = 0;
    c.exists_at_issue = c.exists;
    c.uidmax_at_issue_valid = c.exists >= c.uidmax;  // no expunge seen: every UID up to uidmax is there
    c.t0 = Clock::now();
    c.st = St::Busy;
    char buf[256];
    long uid = 1 + c.rng.below(std::max(1L, c.uidmax));
    switch (c.op) {
      case kNoop:
        return command(c, "NOOP");
      case kSelect:
        c.uidnext = 0;
        return command(c, "SELECT " + quoted(o_.mailbox));
      case kFetchFlags:
        return command(c, "FETCH 1:* (FLAGS UID RFC822.SIZE)");
      case kFetchBody:
        std::snprintf(buf, sizeof buf, "UID FETCH %ld (BODY.PEEK[])", uid);
        return command(c, buf);
      case kStore:
        std::snprintf(buf, sizeof buf, "UID STORE %ld %cFLAGS (\\Flagged)", uid, (c.rng.next() & 1) ? '+' : '-');
        return command(c, buf);
      case kSearchSubject:
        c.word = static_cast<int>(o_.words_in_order ? word_seq_++ % o_.subject_words.size()
                                                    : c.rng.below(o_.subject_words.size()));
        c.search_count = -1;
        return command(c, "UID SEARCH SUBJECT " + o_.subject_words[c.word]);
      case kSearchBody:
        c.word = static_cast<int>(o_.words_in_order ? word_seq_++ % o_.body_words.size()
                                                    : c.rng.below(o_.body_words.size()));
        c.search_count = -1;
        return command(c, "UID SEARCH BODY " + o_.body_words[c.word]);
      case kAppend: {
        std::snprintf(buf, sizeof buf,
                      "From: Bench <bench@example.test>\r\nTo: <%s>\r\nSubject: appended %" PRIu64 " by session %p\r\n"
                      "Date: Mon, 23 Nov 2026 22:00:00 +0000\r\nMessage-ID: <%" PRIu64 ".%p.append@example.test>\r\n"
                      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n",
                      o_.user.c_str(), c.seq, static_cast<void*>(&c), c.seq, static_cast<void*>(&c));
        c.append_msg.assign(buf);
        c.append_msg += append_body_;
        c.st = St::AppendCont;
        return command(c, "APPEND " + quoted(o_.append_mailbox) + " (\\Seen) {" + std::to_string(c.append_msg.size()) + "}");
      }
      default:
        return;
    }
  }

  const Options& o_;
  int ep_;
  std::vector<Conn> conns_;
  Stats stats_;
  double cum_[kNumOps] = {};
  double total_weight_ = 0;
  std::string append_body_;
  int running_ = 0;
  size_t word_seq_ = 0;
};

// CPU seconds of the processes in pids and all their descendants
// (utime + stime + cutime + cstime), and how many processes that was.
std::pair<double, int> tree_cpu(const std::vector<int>& roots) {
  if (roots.empty()) return {0, 0};
  struct P {
    int pid, ppid;
    unsigned long long t;
  };
  std::vector<P> all;
  DIR* d = ::opendir("/proc");
  if (!d) return {0, 0};
  while (auto* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    char path[300], buf[1024];
    std::snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) continue;
    buf[n] = 0;
    char* rp = std::strrchr(buf, ')');
    if (!rp) continue;
    // after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
    char state;
    int ppid;
    unsigned long long f[13];
    if (std::sscanf(rp + 2, "%c %d %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &state, &ppid,
                    &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9], &f[10], &f[11],
                    &f[12]) != 15)
      continue;
    all.push_back({std::atoi(e->d_name), ppid, f[9] + f[10] + f[11] + f[12]});
  }
  ::closedir(d);
  std::vector<int> in_tree(roots);
  unsigned long long ticks = 0;
  int count = 0;
  bool grew = true;
  std::vector<bool> taken(all.size());
  while (grew) {
    grew = false;
    for (size_t i = 0; i < all.size(); ++i) {
      if (taken[i]) continue;
      bool mine = std::find(roots.begin(), roots.end(), all[i].pid) != roots.end() ||
                  std::find(in_tree.begin(), in_tree.end(), all[i].ppid) != in_tree.end();
      if (!mine) continue;
      taken[i] = true;
      grew = true;
      in_tree.push_back(all[i].pid);
      ticks += all[i].t;
      ++count;
    }
  }
  return {static_cast<double>(ticks) / ::sysconf(_SC_CLK_TCK), count};
}

double self_cpu() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::string json_str(std::string_view s) {
  std::string r = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') r += '\\', r += c;
    else if (static_cast<unsigned char>(c) < 32) r += ' ';
    else r += c;
  }
  return r + "\"";
}

uint32_t pct(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * (sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  Options o = parse(argc, argv);

  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < static_cast<rlim_t>(o.clients) + 64) {
    std::fprintf(stderr, "imap_load: RLIMIT_NOFILE %llu is too low for %d clients\n",
                 static_cast<unsigned long long>(rl.rlim_cur), o.clients);
    return 1;
  }

  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0, first = 0; t < o.threads; ++t) {
    int n = o.clients / o.threads + (t < o.clients % o.threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(o, first, n));
    first += n;
  }
  g_deadline_ns = INT64_MAX;
  std::barrier sync(o.threads + 1);
  std::vector<std::thread> threads;
  for (auto& w : workers)
    threads.emplace_back([&sync, w = w.get()] {
      w->setup();
      sync.arrive_and_wait();  // A: all set up
      sync.arrive_and_wait();  // B: window opened
      w->run();
      sync.arrive_and_wait();  // C: all done
      sync.arrive_and_wait();  // D: window closed
      w->finish();
    });

  sync.arrive_and_wait();  // A
  int ready = 0, failed = 0;
  for (auto& w : workers) ready += w->stats().ready, failed += w->stats().failed;
  if (o.idle) {
    std::printf("{\"ready\": %d, \"failed\": %d}\n", ready, failed);
    std::fflush(stdout);
    char buf[256];
    while (true) {  // a line or EOF on stdin
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n <= 0 || std::memchr(buf, '\n', n)) break;
    }
  }
  auto [cpu0, nprocs0] = tree_cpu(o.cpu_pids);
  double self0 = self_cpu();
  auto t0 = Clock::now();
  g_deadline_ns = now_ns() + static_cast<int64_t>(o.duration * 1e9);
  sync.arrive_and_wait();  // B
  sync.arrive_and_wait();  // C
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  auto [cpu1, nprocs1] = tree_cpu(o.cpu_pids);
  double self1 = self_cpu();
  sync.arrive_and_wait();  // D
  for (auto& t : threads) t.join();

  Stats all;
  for (auto& w : workers) {
    Stats& s = w->stats();
    for (int i = 0; i < kNumOps; ++i) {
      auto& a = all.ops[i];
      auto& b = s.ops[i];
      a.lat_us.insert(a.lat_us.end(), b.lat_us.begin(), b.lat_us.end());
      a.errors += b.errors;
      a.bytes += b.bytes;
      if (a.first_us < 0) a.first_us = b.first_us;
    }
    for (auto& x : s.samples) all.sample(x);
    all.errors_other += s.errors_other;
    all.bytes_in += s.bytes_in;
    all.idle_ok += s.idle_ok;
    for (auto& [k, v] : s.search_hits) all.search_hits[k] = v;
  }
  uint64_t ops = 0, errors = all.errors_other;
  std::vector<uint32_t> lat;
  for (auto& s : all.ops) ops += s.lat_us.size(), errors += s.errors, lat.insert(lat.end(), s.lat_us.begin(), s.lat_us.end());
  std::sort(lat.begin(), lat.end());

  std::string j = "{";
  char b[512];
  std::snprintf(b, sizeof b,
                "\"mode\": \"%s\", \"clients\": %d, \"threads\": %d, \"ready\": %d, \"failed\": %d, "
                "\"seconds\": %.3f, \"ops\": %" PRIu64 ", \"errors\": %" PRIu64 ", \"ops_per_s\": %.1f, "
                "\"p50_us\": %u, \"p99_us\": %u, \"server_cpu_s\": %.3f, \"server_procs\": [%d, %d], "
                "\"client_cpu_s\": %.3f, \"bytes_in\": %" PRIu64 ", \"idle_ok\": %d",
                o.idle ? "idle" : "run", o.clients, o.threads, ready, failed, secs, ops, errors,
                secs > 0 ? ops / secs : 0.0, pct(lat, 0.5), pct(lat, 0.99), cpu1 - cpu0, nprocs0, nprocs1,
                self1 - self0, all.bytes_in, all.idle_ok);
  j += b;
  j += ", \"by_op\": {";
  bool first = true;
  for (int i = 0; i < kNumOps; ++i) {
    auto& s = all.ops[i];
    if (s.lat_us.empty() && !s.errors) continue;
    std::sort(s.lat_us.begin(), s.lat_us.end());
    double sum = 0;
    for (auto v : s.lat_us) sum += v;
    std::snprintf(b, sizeof b,
                  "%s\"%s\": {\"n\": %zu, \"errors\": %" PRIu64 ", \"p50_us\": %u, \"p99_us\": %u, \"max_us\": %u, "
                  "\"mean_us\": %.1f, \"first_us\": %" PRId64 ", \"bytes\": %" PRIu64 "}",
                  first ? "" : ", ", kOpNames[i], s.lat_us.size(), s.errors, pct(s.lat_us, 0.5),
                  pct(s.lat_us, 0.99), s.lat_us.empty() ? 0 : s.lat_us.back(),
                  s.lat_us.empty() ? 0.0 : sum / s.lat_us.size(), s.first_us, s.bytes);
    j += b;
    first = false;
  }
  j += "}, \"search_hits\": {";
  first = true;
  for (auto& [k, v] : all.search_hits) {
    j += (first ? "" : ", ") + json_str(k) + ": " + std::to_string(v);
    first = false;
  }
  j += "}, \"error_samples\": [";
  first = true;
  for (auto& s : all.samples) {
    j += (first ? "" : ", ") + json_str(s);
    first = false;
  }
  j += "]}\n";
  std::fputs(j.c_str(), stdout);
  return errors || failed ? 3 : 0;
}
