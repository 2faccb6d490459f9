"""harness.py - start a real Herald server for end-to-end tests and talk to it.

Each `Herald` owns a fresh temporary directory (config, data_dir, log) and
free loopback ports found by binding port 0, so suites may run in parallel.
The binary comes from $HERALD_BIN (ctest sets it to build/herald).

Rules kept here for every suite: stdlib only, 127.0.0.1 only, and no sleeps
standing in for synchronisation - `wait_for` polls a condition against a
deadline instead.

    with Herald(config={"smtp": {"max_recipients": 5}}) as h:
        h.add_user("alice@example.test", "secret")
        s = SmtpRaw(h.smtp_port)
        s.expect(220)
        s.cmd("EHLO client.test").check(250)

TLS: name the listeners in protocols=("smtp", "submission", "smtps", "pop3",
"pop3s"); tls_client_context() builds client contexts (cafile=h.self_signed_cert
to verify), SmtpRaw/Pop3Raw.wrap_tls() starts TLS on a raw connection, and
OpensslClient drives `openssl s_client` line by line.
"""

import imaplib
import json
import os
import poplib
import re
import select
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HOST = "127.0.0.1"
HOSTNAME = "mx.example.test"
LOCAL_DOMAIN = "example.test"
QUEUE_ID_RE = re.compile(r"queued as ([0-9A-F]{12})\b")


def herald_bin():
    """herald_bin - the binary under test, from $HERALD_BIN (else build/herald)."""
    path = os.environ.get("HERALD_BIN")
    if not path:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "herald")
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        raise unittest.SkipTest(f"herald binary not found or not executable: {path} (set HERALD_BIN)")
    return path


def free_ports(n):
    """free_ports - n distinct loopback ports that were free a moment ago: the
    sockets are held until all are bound, so the kernel cannot hand out one
    port twice."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_for(predicate, timeout=20.0, interval=0.02, message="condition"):
    """wait_for - poll predicate() until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # the condition may raise while not yet true
            last_exc = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_exc!r})" if last_exc else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {message}{detail}")
        time.sleep(interval)  # polling interval, not a synchronisation sleep


def toml_value(value):
    """toml_value - a Python value as TOML text (str, bool, int, float, list)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON string escapes are valid TOML
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # an inline table, e.g. tls.certificates = [{cert = "..", key = ".."}]
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


class ServerError(RuntimeError):
    pass


class Herald:
    """Herald - one server process with its own temp dir, config and ports.

    config: {section: {key: value}} merged over the harness defaults; a value
    of None removes a default key. raw_config: TOML text appended verbatim.
    """

    _counter = 0

    def __init__(self, config=None, raw_config="", start=True, protocols=("smtp", "pop3")):
        self.bin = herald_bin()
        self.tmp = tempfile.mkdtemp(prefix="herald-e2e-")
        self.config_path = os.path.join(self.tmp, "herald.toml")
        self.data_dir = os.path.join(self.tmp, "data")
        self.log_path = os.path.join(self.tmp, "herald.log")
        self.out_path = os.path.join(self.tmp, "server.out")
        self.protocols = tuple(protocols)
        self.ports = {}
        self.extra = config or {}
        self.raw_config = raw_config
        self.proc = None
        self._out = None
        self.failed = False
        # preexec_fn: run in the child before `herald serve` starts (e.g. to
        # set resource limits with the resource module); None = nothing.
        self.preexec_fn = None
        self._choose_ports()
        if start:
            try:
                self.start()
            except BaseException:
                self.dump_log()
                self._cleanup(keep=True)
                raise

    # -- configuration ----------------------------------------------------

    @property
    def smtp_port(self):
        return self.ports["smtp"]

    @property
    def pop3_port(self):
        return self.ports["pop3"]

    # The TLS listeners exist when named in protocols=(...), e.g.
    # Herald(protocols=("smtp", "submission", "smtps", "pop3", "pop3s")).
    @property
    def submission_port(self):
        return self.ports["submission"]

    @property
    def smtps_port(self):
        return self.ports["smtps"]

    @property
    def pop3s_port(self):
        return self.ports["pop3s"]

    @property
    def imap_port(self):
        return self.ports["imap"]

    @property
    def imaps_port(self):
        return self.ports["imaps"]

    @property
    def self_signed_cert(self):
        """self_signed_cert - the certificate Herald makes at first start when [tls] names none."""
        return os.path.join(self.data_dir, "tls", "self-signed.crt")

    def _choose_ports(self):
        self.ports = dict(zip(self.protocols, free_ports(len(self.protocols))))
        self.write_config()

    def config_sections(self):
        """config_sections - the merged {section: {key: value}} written to the file."""
        sections = {
            "server": {"hostname": HOSTNAME, "data_dir": self.data_dir},
            "domains": {"local": [LOCAL_DOMAIN]},
            "log": {"file": self.log_path},
            # The suites of the core issue log in over plaintext on loopback;
            # test_tls.py sets allow_plaintext = false to check the default.
            "auth": {"failure_delay": "10ms", "max_failure_delay": "100ms", "allow_plaintext": True},
            # No test may ask the world's DNS: a resolver that refuses at
            # once (nothing listens there) unless a suite starts dnsmasq.
            "dns": {"servers": [f"{HOST}:1"]},
        }
        for proto, port in self.ports.items():
            sections.setdefault(proto, {})["listen"] = [f"{HOST}:{port}"]
        for section, keys in self.extra.items():
            target = sections.setdefault(section, {})
            for key, value in keys.items():
                if value is None:
                    target.pop(key, None)
                else:
                    target[key] = value
        return sections

    def write_config(self):
        lines = []
        for section, keys in self.config_sections().items():
            lines.append(f"[{section}]")
            for key, value in keys.items():
                lines.append(f"{key} = {toml_value(value)}")
            lines.append("")
        text = "\n".join(lines) + self.raw_config
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(text)

    # -- process control --------------------------------------------------

    def start(self, timeout=30.0, port_retries=3):
        """start - run `herald serve` and wait until every port accepts connections."""
        for attempt in range(port_retries):
            try:
                self._start_once(timeout)
                return self
            except ServerError:
                # Another suite may have taken a port between bind(0) and our
                # server's bind; pick new ports and try again.
                if attempt + 1 == port_retries or not self._lost_port_race():
                    raise
                self._choose_ports()
        return self

    def _lost_port_race(self):
        text = self.output() + self.log()
        return "in use" in text.lower()

    def _start_once(self, timeout):
        assert self.proc is None, "server already running"
        self._out = open(self.out_path, "ab")
        self.proc = subprocess.Popen(
            [self.bin, "serve", "--config", self.config_path],
            stdout=self._out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=self.env(), cwd=self.tmp, preexec_fn=self.preexec_fn)
        deadline = time.monotonic() + timeout
        pending = dict(self.ports)
        while pending:
            code = self.proc.poll()
            if code is not None:
                self.proc = None
                self._out.close()
                raise ServerError(f"herald serve exited with status {code} before it was ready:\n"
                                  f"{self.output()}\n{self.log()}")
            for proto, port in list(pending.items()):
                try:
                    with socket.create_connection((HOST, port), timeout=1):
                        pass
                    del pending[proto]
                except OSError:
                    pass
            if pending and time.monotonic() > deadline:
                self.kill()
                raise ServerError(f"herald did not listen on {pending} within {timeout}s:\n"
                                  f"{self.output()}\n{self.log()}")
            if pending:
                time.sleep(0.02)  # readiness polling interval

    def env(self):
        env = dict(os.environ)
        env["HERALD_CONFIG"] = self.config_path
        return env

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20.0):
        """stop - SIGTERM and wait; returns the exit status (None if not running)."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.failed = True
                sys.stderr.write(f"herald did not stop within {timeout}s of SIGTERM; killing it\n")
                proc.kill()
                proc.wait()
        if self._out:
            self._out.close()
            self._out = None
        return proc.returncode

    def kill(self):
        """kill - SIGKILL, as a crash: nothing is flushed or shut down."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        if self._out:
            self._out.close()
            self._out = None
        return proc.returncode

    def restart(self):
        """restart - stop (SIGTERM) if running, then start on the same ports and data."""
        self.stop()
        self.start(port_retries=1)
        return self

    def close(self):
        self.stop()
        self._cleanup(keep=self.failed or bool(os.environ.get("HERALD_KEEP")))

    def _cleanup(self, keep):
        if keep:
            sys.stderr.write(f"(herald test directory kept: {self.tmp})\n")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and not issubclass(exc_type, unittest.SkipTest):
            self.failed = True
            self.dump_log()
        self.close()
        return False

    # -- logs -------------------------------------------------------------

    def log(self):
        try:
            with open(self.log_path, "r", encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def output(self):
        try:
            with open(self.out_path, "r", encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def dump_log(self, lines=120):
        """dump_log - print the tail of the server's log and output to stderr."""
        self.failed = True
        for title, text in (("log", self.log()), ("stdout/stderr", self.output())):
            tail = text.splitlines()[-lines:]
            sys.stderr.write(f"\n----- herald {title} ({self.tmp}) -----\n")
            sys.stderr.write("\n".join(tail) + "\n")
        sys.stderr.write("----- end of herald output -----\n")

    # -- command line -----------------------------------------------------

    def cli(self, *args, input=None, check=True, timeout=60):
        """cli - run `herald ARGS --config F`; returns CompletedProcess (text)."""
        cmd = [self.bin, *args, "--config", self.config_path]
        res = subprocess.run(cmd, input=input, capture_output=True, text=True,
                             timeout=timeout, env=self.env(), cwd=self.tmp)
        if check and res.returncode != 0:
            raise AssertionError(f"`herald {' '.join(args)}` exited {res.returncode}\n"
                                 f"stdout: {res.stdout}\nstderr: {res.stderr}")
        return res

    def cli_json(self, *args):
        res = self.cli(*args, "--json")
        try:
            return json.loads(res.stdout)
        except ValueError as exc:
            raise AssertionError(f"`herald {' '.join(args)} --json` printed invalid JSON ({exc}):\n"
                                 f"{res.stdout}") from None

    def add_user(self, address, password="secret", quota=None):
        args = ["user", "add", address, "--password", password]
        if quota:
            args += ["--quota", quota]
        self.cli(*args)
        return address

    def queue(self):
        return self.cli_json("queue", "list")

    def journal(self, *filters):
        return self.cli_json("journal", *filters)

    # -- clients ----------------------------------------------------------

    def smtp_raw(self, **kw):
        return SmtpRaw(self.smtp_port, **kw)

    def pop3(self, user=None, password="secret", timeout=10, tls=False):
        """pop3 - a poplib.POP3 session, logged in when user is given.

        tls=True: over pop3s when that listener is configured, else STLS on
        pop3 (for servers with auth.allow_plaintext = false)."""
        if tls and "pop3s" in self.ports:
            p = poplib.POP3_SSL(HOST, self.pop3s_port, timeout=timeout, context=tls_client_context())
        else:
            p = poplib.POP3(HOST, self.pop3_port, timeout=timeout)
            if tls:
                p.stls(context=tls_client_context())
        if user is not None:
            p.user(user)
            p.pass_(password)
        return p

    def deliver(self, rcpt, message, sender="sender@client.test", wait=True):
        """deliver - message by SMTP to rcpt; with wait, until it is in rcpt's INBOX."""
        before = self.mailbox_count(rcpt) if wait else 0
        with smtplib.SMTP(HOST, self.smtp_port, local_hostname="client.test", timeout=15) as s:
            s.sendmail(sender, [rcpt], message)
        if wait:
            self.wait_mailbox(rcpt, before + 1)

    def imap(self, user=None, password="secret", timeout=10, tls=False):
        """imap - an imaplib session, logged in when user is given.

        tls=True: over imaps when that listener is configured, else
        STARTTLS on imap. Needs "imap" (or "imaps") in protocols=(...)."""
        if tls and "imaps" in self.ports:
            c = imaplib.IMAP4_SSL(HOST, self.imaps_port, timeout=timeout, ssl_context=tls_client_context())
        else:
            c = imaplib.IMAP4(HOST, self.imap_port, timeout=timeout)
            if tls:
                c.starttls(ssl_context=tls_client_context())
        if user is not None:
            c.login(user, password)
        return c

    def mailbox(self, user, password="secret", tls=False):
        """mailbox - every message of user's INBOX as exact bytes, in order."""
        p = self.pop3(user, password, tls=tls)
        try:
            count, _ = p.stat()
            return [retr_bytes(p, i) for i in range(1, count + 1)]
        finally:
            p.quit()

    def wait_mailbox(self, user, count, password="secret", timeout=20.0, tls=False):
        """wait_mailbox - poll until user's INBOX holds at least count messages; returns them."""
        def ready():
            msgs = self.mailbox(user, password, tls=tls)
            return msgs if len(msgs) >= count else None
        try:
            return wait_for(ready, timeout, interval=0.05,
                            message=f"{count} message(s) in {user}'s mailbox")
        except AssertionError as exc:
            try:
                rows = [r for r in self.queue() if r.get("recipient") == user]
            except Exception as e:  # the report must not hide the timeout
                rows = f"(queue list failed: {e})"
            raise AssertionError(f"{exc}; queue rows for {user}: {rows}") from None

    def mailbox_count(self, user, password="secret"):
        p = self.pop3(user, password)
        try:
            return p.stat()[0]
        finally:
            p.quit()


def retr_bytes(pop, which):
    """retr_bytes - RETR a message and rebuild its exact octets (poplib strips CRLF and unstuffs dots)."""
    _, lines, _ = pop.retr(which)
    return b"".join(line + b"\r\n" for line in lines)


def split_trace(message):
    """split_trace - (trace headers dict-ish list, rest) of a delivered message.

    Herald prepends Return-Path, Delivered-To and one Received header (which
    may be folded); everything after them must be exactly what was sent.
    Returns ([(name, full_header_text)], rest_bytes).
    """
    headers = []
    pos = 0
    for expected in (b"Return-Path", b"Delivered-To", b"Received"):
        end = message.find(b"\r\n", pos)
        if end < 0:
            raise AssertionError(f"message ends inside the trace headers: {message[:400]!r}")
        # a folded header continues on lines starting with SP or HTAB
        while message[end + 2:end + 3] in (b" ", b"\t"):
            end = message.find(b"\r\n", end + 2)
        field = message[pos:end]
        name = field.split(b":", 1)[0]
        if name.lower() != expected.lower():
            raise AssertionError(f"expected a {expected.decode()} header at offset {pos}, got "
                                 f"{field[:200]!r}; message starts {message[:400]!r}")
        headers.append((name.decode(), field))
        pos = end + 2
    return headers, message[pos:]


def make_message(subject, body="Hello.\r\n", sender="sender@client.test",
                 to="alice@example.test", extra_headers=""):
    """make_message - a small RFC 5322 message as CRLF bytes."""
    text = (f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{abs(hash((subject, time.time_ns())))}@client.test>\r\n"
            f"{extra_headers}\r\n{body}")
    return text.encode("utf-8")


class Reply:
    """Reply - one SMTP reply: code, lines (without code), and the raw text."""

    def __init__(self, code, lines, raw):
        self.code = code
        self.lines = lines
        self.raw = raw

    @property
    def text(self):
        return self.raw.decode("utf-8", "replace")

    @property
    def first(self):
        return self.raw.split(b"\r\n", 1)[0].decode("utf-8", "replace")

    def matches(self, code):
        if isinstance(code, int):
            return self.code == code
        return self.first.startswith(str(code))

    def check(self, code, what=""):
        if not self.matches(code):
            raise AssertionError(f"{what or 'reply'}: expected {code!r}, got {self.text.strip()!r}")
        return self

    def __repr__(self):
        return f"Reply({self.text.strip()!r})"


class SmtpRaw:
    """SmtpRaw - a plain socket SMTP client for edge cases smtplib cannot produce.

    send() writes bytes as given (str is UTF-8 encoded); read_reply() reads one
    complete (possibly multi-line) reply; expect(code) reads one and asserts its
    code (int) or its first line's prefix (str such as "550 5.5.2" or "5").
    """

    def __init__(self, port, host=HOST, timeout=10.0, greet=False, source_address=None):
        # source_address: e.g. ("127.0.0.2", 0) to come from another loopback address
        self.sock = socket.create_connection((host, port), timeout=timeout, source_address=source_address)
        self.buf = b""
        self.peer_closed = False
        self.timeout = timeout
        if greet:
            self.expect(220, "greeting")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"server closed the connection (unread: {self.buf!r})")
        self.buf += chunk

    def read_line(self):
        """read_line - one line including its CRLF."""
        while b"\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def read_reply(self):
        raw = b""
        lines = []
        while True:
            line = self.read_line()
            raw += line
            m = re.match(rb"^(\d{3})([ -])(.*?)\r?\n$", line, re.S)
            if not m:
                raise AssertionError(f"malformed SMTP reply line {line!r} (so far {raw!r})")
            lines.append(m.group(3).decode("utf-8", "replace"))
            if m.group(2) == b" ":
                return Reply(int(m.group(1)), lines, raw)

    def expect(self, code, what=""):
        try:
            reply = self.read_reply()
        except (ConnectionError, socket.timeout, OSError) as exc:
            raise AssertionError(f"{what or 'reply'}: expected {code!r}, got {exc!r}") from None
        return reply.check(code, what)

    def cmd(self, line):
        """cmd - send one command line (CRLF added) and read its reply."""
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\r\n")
        return self.read_reply()

    def ehlo(self, name="client.test"):
        return self.cmd(f"EHLO {name}").check(250, "EHLO")

    def wrap_tls(self, context, server_hostname=HOSTNAME):
        """wrap_tls - TLS handshake on this connection (after 220 to STARTTLS, or at once for smtps).

        Bytes the server sent in clear after its last reply would be taken
        for TLS records and fail the handshake; bytes already read are an error."""
        if self.buf:
            raise AssertionError(f"server sent more in clear before the TLS handshake: {self.buf!r}")
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)
        self.sock.settimeout(self.timeout)
        return self.sock

    def data(self, message):
        """data - DATA, then message (bytes, CRLF lines, dot-stuffed here) and the final dot."""
        self.cmd("DATA").check(354, "DATA")
        self.send(dot_stuff(message) + b".\r\n")
        return self.read_reply()

    def closed(self, timeout=5.0):
        """closed - True when the server closes the connection within timeout (reads and drops data)."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = self.sock.recv(65536)
                if not chunk:
                    self.peer_closed = True
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            self.peer_closed = True
            return True
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(self.timeout)
        return False

    def read_all_replies(self, timeout=5.0):
        """read_all_replies - replies until the server closes (or timeout); list of Reply.

        Sets peer_closed when the server closed the connection."""
        self.closed(timeout)
        replies = []
        data = self.buf
        self.buf = b""
        for m in re.finditer(rb"(?:\d{3}-[^\n]*\n)*\d{3} [^\n]*\n", data):
            first = m.group(0)
            last = first.rstrip(b"\r\n").split(b"\n")[-1]
            replies.append(Reply(int(last[:3]), [], first))
        return replies


def dot_stuff(message):
    """dot_stuff - RFC 5321 4.5.2 transparency: a line starting with "." gets one more."""
    if message.startswith(b"."):
        message = b"." + message
    return message.replace(b"\r\n.", b"\r\n..")


class HeraldTestCase(unittest.TestCase):
    """HeraldTestCase - prints the server log tail when a test fails or errs.

    A test class may start one shared server in setUpClass (cls.herald) or
    per test with start_herald(); either is shown on failure, and a per-test
    server's directory is kept then (removed otherwise).
    """

    herald = None

    def run(self, result=None):
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        self._heralds = []
        try:
            return super().run(result)
        finally:
            failed = len(result.failures) + len(result.errors) > before
            shown = self._heralds or ([type(self).herald] if type(self).herald else [])
            if failed:
                sys.stderr.write(f"\n[{self.id()} failed]")
                for h in shown:
                    h.dump_log(lines=60)
            for h in self._heralds:
                h.stop()
                h._cleanup(keep=failed or h.failed or bool(os.environ.get("HERALD_KEEP")))

    def new_user(self, prefix="user", password="secret", quota=None):
        """new_user - a user of example.test with a unique name, on the class's server."""
        return self.herald.add_user(f"{unique(prefix)}@example.test", password, quota=quota)

    def raw(self, port=None, greet=True, timeout=15.0, **kw):
        """raw - an SmtpRaw to port (the class's server's smtp by default), closed at cleanup."""
        s = SmtpRaw(port or self.herald.smtp_port, greet=greet, timeout=timeout, **kw)
        self.addCleanup(s.close)
        return s

    def transaction(self, sender, rcpts, body, port=None):
        """transaction - one message over a raw SMTP session (EHLO, MAIL, each
        RCPT, DATA), each step checked for its 2xx; the 250 to the data."""
        s = self.raw(port)
        s.ehlo()
        s.cmd(f"MAIL FROM:<{sender}>").check(250, "MAIL")
        for r in ([rcpts] if isinstance(rcpts, str) else rcpts):
            s.cmd(f"RCPT TO:<{r}>").check(250, "RCPT")
        reply = s.data(body).check(250, "end of data")
        s.cmd("QUIT")
        return reply

    def start_herald(self, **kw):
        """start_herald - a server for this test only, stopped at cleanup."""
        h = Herald(**kw)
        self._heralds.append(h)
        self.addCleanup(h.stop)
        return h


_unique = [0]


def unique(prefix="u"):
    """unique - a name unique in this process (for users, subjects, tokens)."""
    _unique[0] += 1
    return f"{prefix}{os.getpid()}x{_unique[0]}"


# -- TLS clients ------------------------------------------------------------

def tls_client_context(cafile=None, minimum=None, maximum=None):
    """tls_client_context - a client SSLContext for Herald's test certificates.

    With cafile the chain is verified against it (the host name is not: the
    suites connect to 127.0.0.1); without, any certificate is accepted.
    minimum/maximum are ssl.TLSVersion values."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if cafile:
        ctx.load_verify_locations(cafile)
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


# -- the TLS and AUTH suites' shared server ------------------------------------

ALL_LISTENERS = ("smtp", "submission", "smtps", "pop3", "pop3s")
# allow_plaintext as shipped; max_failures high so that the failures the
# suites provoke on purpose never lock out the shared loopback address.
STRICT = {"auth": {"allow_plaintext": False, "max_failures": 1000}}


class SharedServerCase(HeraldTestCase):
    """One server per test class with every listener and its self-signed pair."""

    config = STRICT

    @classmethod
    def setUpClass(cls):
        cls.herald = Herald(config=cls.config, protocols=ALL_LISTENERS)

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()

    def verified(self, **kw):
        """verified - a client context that trusts only Herald's generated certificate."""
        return tls_client_context(cafile=self.herald.self_signed_cert, **kw)


class Pop3Raw(SmtpRaw):
    """Pop3Raw - a plain socket POP3 client (SmtpRaw's socket and line reading).

    cmd() sends a line and returns the status line as str; multi() reads a
    multi-line body up to the "." line (list of str)."""

    def status(self):
        return self.read_line().decode("utf-8", "replace").rstrip("\r\n")

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.status()

    def multi(self):
        lines = []
        while True:
            line = self.read_line().decode("utf-8", "replace").rstrip("\r\n")
            if line == ".":
                return lines
            lines.append(line[1:] if line.startswith("..") else line)


class OpensslClient:
    """OpensslClient - `openssl s_client` driven line by line, as a person at a terminal would.

    starttls: None (implicit TLS), "smtp" or "pop3". Lines are sent with
    -crlf (LF becomes CRLF); -nocommands keeps lines such as "RCPT TO" from
    being taken as s_client's own commands. read_line() waits against a
    deadline. stderr (verification notes) goes to a file, see stderr()."""

    def __init__(self, port, starttls=None, args=(), quiet=True, timeout=20.0, workdir=None):
        cmd = ["openssl", "s_client", "-connect", f"{HOST}:{port}", "-ign_eof", "-nocommands", "-crlf"]
        if starttls:
            cmd += ["-starttls", starttls]
        if quiet:
            cmd += ["-quiet"]
        cmd += list(args)
        self.timeout = timeout
        self._err = tempfile.TemporaryFile(dir=workdir)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err)
        self.buf = b""
        self.eof = False
        self.transcript = []

    def send(self, line):
        self.transcript.append(f"C: {line}")
        self.proc.stdin.write(line.encode("utf-8") + b"\n")
        self.proc.stdin.flush()

    def read_line(self, timeout=None):
        """read_line - the next output line without its line end; None at EOF."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buf:
            if self.eof:
                if self.buf:
                    line, self.buf = self.buf, b""
                    return line.decode("utf-8", "replace")
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"openssl s_client: no complete line within the deadline; "
                                     f"unread {self.buf!r}; transcript {self.transcript}; stderr {self.stderr()!r}")
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if chunk:
                    self.buf += chunk
                else:
                    self.eof = True
        line, self.buf = self.buf.split(b"\n", 1)
        text = line.decode("utf-8", "replace").rstrip("\r")
        self.transcript.append(f"S: {text}")
        return text

    def read_until(self, predicate, what="a line"):
        """read_until - lines up to and including the first for which predicate(line) is true."""
        lines = []
        while True:
            line = self.read_line()
            if line is None:
                raise AssertionError(f"openssl s_client ended before {what}; transcript {self.transcript}; "
                                     f"stderr {self.stderr()!r}")
            lines.append(line)
            if predicate(line):
                return lines

    def smtp_reply(self):
        """smtp_reply - one SMTP reply as (code, [lines]); skips anything that is not a reply line."""
        lines = []
        while True:
            line = self.read_line()
            if line is None:
                raise AssertionError(f"connection ended while waiting for a reply; transcript {self.transcript}")
            m = re.match(r"^(\d{3})([ -])(.*)$", line)
            if not m:
                continue
            lines.append(line)
            if m.group(2) == " ":
                return int(m.group(1)), lines

    def stderr(self):
        self._err.seek(0)
        return self._err.read().decode("utf-8", "replace")

    def close(self):
        """close - end stdin, then wait for s_client to finish (killed after the deadline)."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self._err.close()


# -- SMTP peers ---------------------------------------------------------------

class Peer:
    """Peer - an aiosmtpd server (Debian's python3-aiosmtpd) that records each
    message it accepts, for the outbound suites.

    script maps a recipient to the replies its RCPTs get, one per attempt
    (None: accept); recipients not in it are accepted."""

    def __init__(self, host=HOST, port=None, **controller_options):
        """controller_options: aiosmtpd Controller's (tls_context, require_starttls, ...)."""
        from aiosmtpd.controller import Controller  # only the outbound suites need it
        self.messages = []  # (mail_from, [rcpt], bytes, [MAIL parameters])
        self.script = {}
        self.rcpt_attempts = {}
        self.lock = threading.Lock()
        self.host = host
        self.port = port or free_ports(1)[0]
        self.controller = Controller(self, hostname=host, port=self.port, **controller_options)
        self.controller.start()

    def stop(self):
        self.controller.stop()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            n = self.rcpt_attempts.get(address, 0)
            self.rcpt_attempts[address] = n + 1
            replies = self.script.get(address, [])
            reply = replies[n] if n < len(replies) else None
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content,
                                  list(envelope.mail_options)))
        return "250 2.0.0 Ok: queued as PEER"

    def received(self, rcpt):
        with self.lock:
            return [m for m in self.messages if rcpt in m[1]]


def pflogsumm_totals(log_path):
    """pflogsumm_totals - {"received": N, "delivered": N, ...}: the totals
    Postfix's pflogsumm reads from a Herald log (its grand-totals lines)."""
    res = subprocess.run(["pflogsumm", "--syslog-name=herald", log_path], capture_output=True, timeout=60)
    out = res.stdout.decode("utf-8", "replace")
    if res.returncode != 0:
        raise AssertionError(f"pflogsumm failed: {res.stderr.decode()}")
    totals = {}
    for m in re.finditer(r"^\s*(\d+)\s+(\w+)\s*$", out, re.M):
        totals.setdefault(m.group(2), int(m.group(1)))
    totals["_output"] = out
    return totals
