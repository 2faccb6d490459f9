"""test_outbound_peers.py - the delivery agent against real and scripted SMTP peers (issue 12).

What an administrator checks of an outbound MTA, on loopback only:

- Connections: a burst for one next hop travels over at most
  delivery.destination_concurrency connections, each carrying many
  messages, counted at the receiving server (an aiosmtpd peer).
- Hostile peers: raw-socket servers scripted in this file answer EHLO with
  megabytes, send reply lines without a code, drop the connection in the
  middle of DATA, or go silent. Each costs one deferral with a reason in
  `queue list`, and the server stays healthy: it answers on its SMTP port
  and delivers the next message to a well-behaved peer. Apart from their
  one misdeed the scripted peers are cooperative, so a client that let the
  misdeed pass would deliver - and the test would fail.
- Smarthost with AUTH over STARTTLS: a second Herald's submission port is
  the first one's smarthost (tls = "encrypt", auth_user/auth_password);
  the mail arrives there "with ESMTPSA", and a wrong password defers.
  The Date and Message-ID the smarthost adds do not split the Received
  block.
- pflogsumm reads the outbound log lines: sent, deferred and bounced are
  counted as Postfix's would be.
"""

import collections
import re
import select
import shutil
import smtplib
import socket
import threading
import unittest

from harness import (HOST, Herald, HeraldTestCase, Peer, free_ports, pflogsumm_totals, split_trace, unique,
                     wait_for)


def route(domain, port, **extra):
    """route - one [[delivery.route]] table sending domain to 127.0.0.1:port."""
    lines = [f'[[delivery.route]]\ndomain = "{domain}"\ntargets = ["[{HOST}]:{port}"]']
    lines += [f'{key} = "{value}"' for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def rows_for(h, rcpt):
    return [r for r in h.queue() if r.get("recipient") == rcpt]


def wait_deferred(h, rcpt, timeout=20.0):
    """wait_deferred - rcpt's queue row once it is deferred with a reason."""
    def deferred():
        rows = [r for r in rows_for(h, rcpt) if r.get("status") == "deferred" and r.get("last_reply")]
        return rows[0] if rows else None
    try:
        return wait_for(deferred, timeout, message=f"{rcpt} deferred")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; queue rows: {rows_for(h, rcpt)}") from None


# -- a Peer that counts its connections ----------------------------------------

class CountingPeer(Peer):
    """CountingPeer - a Peer that tells its SMTP sessions apart.

    aiosmtpd makes one SMTP protocol object per connection and passes it to
    every hook as `server`: sessions are those objects (kept, so they are
    never confused), a session is open until it said QUIT or its transport
    went, and `peak` is the most sessions open when one of them greeted or
    delivered. All hooks run on the peer's one event-loop thread."""

    def __init__(self, **kw):
        self.servers = []                             # one per connection, in order of EHLO/HELO
        self.quit = set()                             # id() of sessions that said QUIT
        self.per_session = collections.Counter()      # id(server) -> messages carried
        self.peak = 0
        super().__init__(**kw)

    def _note(self, server):
        with self.lock:
            if all(s is not server for s in self.servers):
                self.servers.append(server)
            open_now = sum(1 for s in self.servers if s.transport is not None and id(s) not in self.quit)
            self.peak = max(self.peak, open_now)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self._note(server)
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        session.host_name = hostname
        self._note(server)
        return f"250 {server.hostname}"

    async def handle_QUIT(self, server, session, envelope):
        with self.lock:
            self.quit.add(id(server))
        return "221 Bye"

    async def handle_DATA(self, server, session, envelope):
        self._note(server)
        with self.lock:
            self.per_session[id(server)] += 1
        return await super().handle_DATA(server, session, envelope)

    def sessions(self):
        with self.lock:
            return len(self.servers)

    def count(self):
        with self.lock:
            return len(self.messages)


class ConnectionsTest(HeraldTestCase):
    """delivery.destination_concurrency and max_messages_per_connection, as the receiving server sees them."""

    MESSAGES = 200
    CONCURRENCY = 3

    def queue_burst(self, per_connection):
        """queue_burst - MESSAGES messages for bulk.test, all deferred because
        its next hop is down; (herald, the next hop's port, the recipients)."""
        port = free_ports(1)[0]  # nothing listens here yet
        h = self.start_herald(config={"delivery": {
            "destination_concurrency": self.CONCURRENCY, "max_messages_per_connection": per_connection,
            "retry_interval": "1h"}}, raw_config=route("bulk.test", port))
        rcpts = [f"{unique('b')}@bulk.test" for _ in range(self.MESSAGES)]
        with smtplib.SMTP(HOST, h.smtp_port, local_hostname="client.test", timeout=30) as s:
            for r in rcpts:
                s.sendmail("burst@client.test", [r], f"Subject: burst {r}\r\n\r\nfor {r}\r\n".encode())

        def all_deferred():
            rows = [r for r in h.queue() if r["recipient"].endswith("@bulk.test")]
            return len(rows) == self.MESSAGES and all(r["status"] == "deferred" for r in rows)
        wait_for(all_deferred, timeout=30, message=f"all {self.MESSAGES} recipients deferred (next hop down)")
        self.assertIn("Connection refused", rows_for(h, rcpts[0])[0]["last_reply"])
        return h, port, rcpts

    def flush_to(self, h, port, rcpts):
        """flush_to - a counting peer on the next hop's port, `queue flush`, every message at the peer."""
        peer = CountingPeer(port=port)
        self.addCleanup(peer.stop)
        self.assertEqual(h.cli("queue", "flush").stdout.strip(), f"due now: {self.MESSAGES} recipients")
        wait_for(lambda: peer.count() >= self.MESSAGES, timeout=60,
                 message=f"{self.MESSAGES} messages at the peer")
        wait_for(lambda: not [r for r in h.queue() if r["recipient"].endswith("@bulk.test")],
                 message="the queue empty")
        arrived = collections.Counter(r for m in peer.messages for r in m[1])
        self.assertEqual(set(arrived), set(rcpts), "every recipient, and no other, at the peer")
        self.assertEqual([r for r, n in arrived.items() if n > 1], [], "no message twice")
        self.assertEqual(peer.count(), self.MESSAGES)
        return peer

    def test_a_burst_shares_destination_concurrency_connections(self):
        # One connection may carry the whole burst: the only limit on the
        # sessions is destination_concurrency.
        h, port, rcpts = self.queue_burst(per_connection=1000)
        peer = self.flush_to(h, port, rcpts)
        self.assertGreaterEqual(peer.sessions(), 1)
        self.assertLessEqual(peer.sessions(), self.CONCURRENCY,
                             f"{self.MESSAGES} messages over {peer.sessions()} connections; "
                             f"destination_concurrency = {self.CONCURRENCY}")
        self.assertLessEqual(peer.peak, self.CONCURRENCY)

    def test_an_idle_connection_carries_the_next_message(self):
        # delivery.connection_cache_time: a message that comes while the
        # last connection waits for more goes over it; with 0s, a new one.
        for cache, sessions in (("30s", 1), ("0s", 2)):
            with self.subTest(connection_cache_time=cache):
                peer = CountingPeer()
                self.addCleanup(peer.stop)
                h = self.start_herald(config={"delivery": {"connection_cache_time": cache}},
                                      raw_config=route("cache.test", peer.port))
                for i in range(2):
                    rcpt = f"{unique('c')}@cache.test"
                    self.transaction("a@client.test", rcpt, b"Subject: cached\r\n\r\nx\r\n", port=h.smtp_port)
                    wait_for(lambda: peer.received(rcpt), message=f"message {i + 1} at the peer")
                self.assertEqual(peer.sessions(), sessions)

    def test_max_messages_per_connection_closes_and_reopens(self):
        per_connection = 30
        h, port, rcpts = self.queue_burst(per_connection=per_connection)
        peer = self.flush_to(h, port, rcpts)
        carried = sorted(peer.per_session.values(), reverse=True)
        self.assertLessEqual(carried[0], per_connection, f"messages per connection: {carried}")
        self.assertGreaterEqual(peer.sessions(), -(-self.MESSAGES // per_connection))
        # A replacement opens only after its predecessor said QUIT.
        self.assertLessEqual(peer.peak, self.CONCURRENCY, f"messages per connection: {carried}")


# -- scripted hostile peers ------------------------------------------------------

class PeerConn:
    """PeerConn - the server's side of one scripted connection: lines in, bytes out."""

    def __init__(self, sock, stop):
        self.sock = sock
        self.stop = stop
        self.buf = b""
        sock.settimeout(10)  # a sendall the client never takes ends, as an OSError

    def _fill(self):
        """_fill - more octets into buf; False at EOF or when the peer is stopped."""
        while not self.stop.is_set():
            ready, _, _ = select.select([self.sock], [], [], 0.1)
            if ready:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return False
                self.buf += chunk
                return True
        return False

    def readline(self):
        while b"\n" not in self.buf:
            if not self._fill():
                return None
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def read_until(self, marker, at_least=None):
        """read_until - octets up to and including marker (or at_least octets); None at EOF."""
        while marker not in self.buf and (at_least is None or len(self.buf) < at_least):
            if not self._fill():
                return None
        if at_least is not None and len(self.buf) >= at_least:
            data, self.buf = self.buf, b""
            return data
        end = self.buf.index(marker) + len(marker)
        data, self.buf = self.buf[:end], self.buf[end:]
        return data

    def send(self, data):
        self.sock.sendall(data)

    def until_closed(self):
        """until_closed - read and drop everything until the client leaves (or the peer stops)."""
        while self._fill():
            self.buf = b""

    def converse(self, ehlo=b"250 hostile.test\r\n", after_354=None):
        """converse - an obliging server from here on (after the greeting); after_354(conn)
        replaces the reading of the data and its 250."""
        while True:
            line = self.readline()
            if line is None:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.send(ehlo)
            elif verb == b"DATA":
                self.send(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                if after_354:
                    return after_354(self)
                if self.read_until(b"\r\n.\r\n") is None:
                    return
                self.send(b"250 2.0.0 Ok: queued as HOSTILE\r\n")
            elif verb == b"QUIT":
                self.send(b"221 2.0.0 Bye\r\n")
                return
            else:
                self.send(b"250 2.0.0 Ok\r\n")


class ScriptedPeer:
    """ScriptedPeer - a raw-socket SMTP server on 127.0.0.1: behaviour(PeerConn) runs
    in a thread per connection. Counts connections; close() ends them all."""

    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.stop = threading.Event()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind((HOST, 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.threads = []
        acceptor = threading.Thread(target=self._accept, daemon=True)
        self.threads.append(acceptor)
        acceptor.start()

    def _accept(self):
        while not self.stop.is_set():
            ready, _, _ = select.select([self.listener], [], [], 0.1)
            if not ready:
                continue
            sock, _ = self.listener.accept()
            self.connections += 1
            t = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, sock):
        try:
            self.behaviour(PeerConn(sock, self.stop))
        except OSError:
            pass  # the client left while we wrote: what a hostile peer expects
        finally:
            sock.close()

    def close(self):
        self.stop.set()
        for t in list(self.threads):
            t.join(15)
        self.listener.close()


GREETING = b"220 hostile.test ESMTP\r\n"


def huge_ehlo(c):
    """(a) a 250 to EHLO of about 4 MB: 4,000 lines of 1 kB, then a proper last line."""
    c.send(GREETING)
    if c.readline() is None:
        return
    c.send(b"".join(b"250-" + b"x" * 1020 + b"\r\n" for _ in range(4000)) + b"250 8BITMIME\r\n")
    c.converse()


def codeless_lines(c):
    """(b) EHLO answered with a line that has no reply code inside a 250 reply."""
    c.send(GREETING)
    c.converse(ehlo=b"250-hostile.test\r\nwelcome, friend, do come in\r\n250 8BITMIME\r\n")


def drop_in_data(c):
    """(c) everything fine until DATA; 64 kB of the body read, then the connection closed."""
    c.send(GREETING)

    def drop(conn):
        conn.read_until(b"\r\n.\r\n", at_least=65536)
        conn.sock.close()
    c.converse(after_354=drop)


def stall_after_greeting(c):
    """(d) greet, then never answer anything (delivery.command_timeout)."""
    c.send(GREETING)
    c.until_closed()


def stall_after_data(c):
    """(d') take the whole message, then never answer its end (delivery.data_timeout)."""
    c.send(GREETING)

    def stall(conn):
        conn.read_until(b"\r\n.\r\n")
        conn.until_closed()
    c.converse(after_354=stall)


class HostilePeersTest(HeraldTestCase):
    """Each hostile next hop costs one deferral with a meaningful reason, and nothing more."""

    SCENARIOS = {"huge": huge_ehlo, "nocode": codeless_lines, "drop": drop_in_data,
                 "stall": stall_after_greeting, "stalldata": stall_after_data}

    @classmethod
    def setUpClass(cls):
        cls.peers = {name: ScriptedPeer(b) for name, b in cls.SCENARIOS.items()}
        cls.good = Peer()
        routes = "".join(route(f"{name}.test", p.port) for name, p in cls.peers.items())
        routes += route("good.test", cls.good.port)
        # The timeouts at their minimum (1s, config defaults); one attempt each.
        cls.herald = Herald(config={"delivery": {"command_timeout": "1s", "data_timeout": "1s",
                                                 "retry_interval": "1h", "tls": "none"}},
                            raw_config=routes)

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()
        for p in cls.peers.values():
            p.close()
        cls.good.stop()

    def attempt(self, name, body=None):
        """attempt - a message to the scenario's domain; its deferred queue row."""
        rcpt = f"{unique(name)}@{name}.test"
        self.transaction("a@client.test", rcpt, body or f"Subject: {name}\r\n\r\nHello.\r\n".encode())
        row = wait_deferred(self.herald, rcpt)
        self.assertGreaterEqual(self.peers[name].connections, 1)
        relay = f"127.0.0.1[127.0.0.1]:{self.peers[name].port}"
        return row, relay

    def assert_healthy(self):
        """assert_healthy - the server still answers EHLO and delivers to a well-behaved peer."""
        self.assertTrue(self.herald.running(), "herald is still running")
        s = self.raw()
        self.assertEqual(s.ehlo().code, 250)
        s.cmd("QUIT")
        rcpt = f"{unique('ok')}@good.test"
        self.transaction("a@client.test", rcpt, b"Subject: after\r\n\r\nstill here\r\n")
        wait_for(lambda: self.good.received(rcpt), message="a normal message delivered afterwards")

    def test_a_multi_megabyte_ehlo_reply(self):
        row, _ = self.attempt("huge")
        self.assertIn("malformed reply: reply longer than 1000 lines", row["last_reply"])
        self.assertLess(len(row["last_reply"]), 2000, "the reply is not kept whole")
        self.assert_healthy()

    def test_reply_lines_without_a_code(self):
        row, _ = self.attempt("nocode")
        self.assertIn("malformed reply: reply line without a 3-digit code: welcome, friend", row["last_reply"])
        self.assert_healthy()

    def test_connection_dropped_in_the_middle_of_data(self):
        body = (f"Subject: {unique('drop')}\r\n\r\n" + "a line of the body, repeated\r\n" * 20000).encode()
        row, relay = self.attempt("drop", body)
        self.assertIn(f"lost connection with {relay}", row["last_reply"])
        self.assert_healthy()

    def test_a_peer_that_greets_then_stalls(self):
        row, relay = self.attempt("stall")
        self.assertIn(f"conversation with {relay} timed out", row["last_reply"])
        self.assert_healthy()

    def test_a_peer_that_never_answers_the_end_of_data(self):
        row, relay = self.attempt("stalldata")
        self.assertIn(f"conversation with {relay} timed out", row["last_reply"])
        self.assert_healthy()


# -- a second Herald as the smarthost ----------------------------------------------

class SmarthostAuthTest(HeraldTestCase):
    """The first Herald relays peer.test to the second's submission port:
    STARTTLS required, then AUTH as a relay account allowed any sender."""

    def servers(self):
        h2 = self.start_herald(config={"domains": {"local": ["peer.test"]},
                                       "auth": {"max_failures": 1000}},
                               protocols=("smtp", "submission", "pop3"))
        relay_user = h2.add_user("relay@peer.test", "relay-pw")
        h2.cli("user", "send-as", relay_user, "on")  # a smarthost account relays others' mail
        bob = h2.add_user("bob@peer.test")
        routes = (route("peer.test", h2.submission_port, tls="encrypt", auth_user=relay_user,
                        auth_password="relay-pw")
                  + route("denied.test", h2.submission_port, tls="encrypt", auth_user=relay_user,
                          auth_password="not-the-password"))
        h1 = self.start_herald(config={"delivery": {"retry_interval": "1h"}}, raw_config=routes)
        return h1, h2, bob

    def test_the_smarthost_with_its_own_credentials(self):
        # delivery.smarthost with smarthost_auth_user/password, not a route.
        _, h2, bob = self.servers()
        h3 = self.start_herald(config={"delivery": {
            "smarthost": f"[127.0.0.1]:{h2.submission_port}", "tls": "encrypt",
            "smarthost_auth_user": "relay@peer.test", "smarthost_auth_password": "relay-pw"}})
        self.transaction("a@client.test", bob, b"Subject: via the smarthost\r\n\r\nx\r\n", port=h3.smtp_port)
        [msg] = h2.wait_mailbox(bob, 1)
        self.assertRegex(split_trace(msg)[0][2][1].decode(), r"\bwith ESMTPSA\b")

    def test_auth_in_clear_only_when_allowed(self):
        _, h2, _ = self.servers()
        clear = (f'[[delivery.route]]\ndomain = "clear.test"\ntargets = ["[{HOST}]:{h2.submission_port}"]\n'
                 f'tls = "none"\nauth_user = "relay@peer.test"\nauth_password = "relay-pw"\n'
                 f'[[delivery.route]]\ndomain = "trusted.test"\ntargets = ["[{HOST}]:{h2.submission_port}"]\n'
                 f'tls = "none"\nauth_user = "relay@peer.test"\nauth_password = "relay-pw"\n'
                 f'auth_without_tls = true\n')
        h = self.start_herald(config={"delivery": {"retry_interval": "1h"}}, raw_config=clear)
        refused, trusted = f"{unique('c')}@clear.test", f"{unique('t')}@trusted.test"
        self.transaction("a@client.test", [refused, trusted], b"Subject: clear\r\n\r\nx\r\n", port=h.smtp_port)
        self.assertIn("AUTH needs TLS", wait_deferred(h, refused)["last_reply"])
        # The trusted route logged in in clear: the smarthost took the mail
        # (and queued it for its own next hop).
        wait_for(lambda: rows_for(h2, trusted), message="the message accepted by the smarthost")
        self.assertEqual(rows_for(h2, refused), [])

    def test_relayed_with_starttls_and_auth(self):
        h1, h2, bob = self.servers()
        body = (f"From: <a@client.test>\r\nTo: <{bob}>\r\nSubject: {unique('smarthost')}\r\n"
                f"Date: Sun, 6 Dec 2026 12:00:00 +0000\r\nMessage-ID: <{unique('m')}@client.test>\r\n"
                f"\r\nVia the smarthost.\r\n").encode()
        self.transaction("a@client.test", bob, body, port=h1.smtp_port)
        [msg] = h2.wait_mailbox(bob, 1)
        headers, rest = split_trace(msg)
        self.assertEqual(headers[0][1].decode(), "Return-Path: <a@client.test>")
        top_received = headers[2][1].decode()
        self.assertRegex(top_received, r"\bwith ESMTPSA\b", "authenticated, over TLS (RFC 3848)")
        self.assertRegex(top_received, r"\(using TLSv1\.[23] with cipher ")
        self.assertNotIn("relay@peer.test", top_received, "Received never names the login")
        self.assertNotIn(b"relay-pw", msg)
        # h1's own Received, then the message as sent.
        self.assertTrue(rest.startswith(b"Received: from client.test"), rest[:200])
        self.assertTrue(rest.endswith(body), rest[-300:])
        wait_for(lambda: not rows_for(h1, bob), message="the queue of the first server empty")
        sent = (rf"to=<{re.escape(bob)}>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:{h2.submission_port}, "
                rf"delay=[\d.]+, dsn=2\.0\.0, status=sent")
        wait_for(lambda: re.search(sent, h1.log()), message="the first server's status=sent line")

    def test_fields_the_smarthost_adds_keep_the_trace_block_whole(self):
        # A message relayed without Date and Message-ID reaches the
        # smarthost's submission port, which adds both (RFC 6409 8.2, 8.3)
        # below the trace fields it came with, not between them (RFC 5322
        # 3.6.7: trace blocks stay whole at the top).
        h1, h2, bob = self.servers()
        self.transaction("a@client.test", bob, b"Subject: no date, no id\r\n\r\nx\r\n", port=h1.smtp_port)
        [msg] = h2.wait_mailbox(bob, 1)
        header = msg.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        names = [line.split(":", 1)[0] for line in header.split("\r\n") if line and line[0] not in " \t"]
        self.assertIn("Date", names, "the submission server adds Date")
        self.assertIn("Message-ID", names, "the submission server adds Message-ID")
        self.assertEqual(names[:4], ["Return-Path", "Delivered-To", "Received", "Received"],
                         f"the trace fields are one block at the top: {names}")

    def test_a_wrong_password_defers(self):
        h1, h2, _ = self.servers()
        rcpt = f"{unique('d')}@denied.test"
        self.transaction("a@client.test", rcpt, b"Subject: denied\r\n\r\nx\r\n", port=h1.smtp_port)
        row = wait_deferred(h1, rcpt)
        self.assertRegex(row["last_reply"], r"said: 535 5\.7\.8 .*\(in reply to AUTH command\)")
        self.assertNotIn("not-the-password", row["last_reply"])
        failed = wait_for(lambda: [e for e in h2.journal() if e.get("event") == "login_failed"],
                          message="the smarthost's login_failed journal row")
        self.assertIn("relay@peer.test", str(failed[0]))


# -- pflogsumm ------------------------------------------------------------------------

@unittest.skipUnless(shutil.which("pflogsumm"), "pflogsumm is not installed")
class PflogsummOutboundTest(HeraldTestCase):

    def test_sent_deferred_and_bounced_are_counted(self):
        peer = Peer()
        self.addCleanup(peer.stop)
        h = self.start_herald(config={"delivery": {"smarthost": f"[{HOST}]:{peer.port}", "retry_interval": "1h"}})
        good, grey, bad = (f"{unique(p)}@far.test" for p in ("good", "grey", "bad"))
        peer.script[grey] = ["451 4.7.1 Greylisted, try again later"]
        peer.script[bad] = ["550 5.1.1 No such user here"]
        for rcpt in (good, grey, bad):
            s = self.raw(h.smtp_port)
            s.ehlo()
            s.cmd("MAIL FROM:<a@client.test>").check(250)
            # NOTIFY=NEVER: no bounce report, whose delivery would be one more "sent".
            s.cmd(f"RCPT TO:<{rcpt}> NOTIFY=NEVER").check(250)
            s.data(f"Subject: pflogsumm {rcpt}\r\n\r\nx\r\n".encode()).check(250)
            s.cmd("QUIT")
        for rcpt, status in ((good, "sent"), (grey, "deferred"), (bad, "bounced")):
            wait_for(lambda: re.search(rf"to=<{re.escape(rcpt)}>, .*status={status} ", h.log()),
                     message=f"status={status} for {rcpt} in the log")
        self.assertNotIn("non-delivery notification", h.log())

        totals = pflogsumm_totals(h.log_path)
        out = totals["_output"]
        self.assertEqual((totals.get("received"), totals.get("delivered"), totals.get("bounced")), (3, 1, 1), out)
        m = re.search(r"^\s*(\d+)\s+deferred\s+\(\s*(\d+)\s+deferrals?\s*\)\s*$", out, re.M)
        self.assertIsNotNone(m, f"pflogsumm output has no deferred line:\n{out}")
        self.assertEqual((int(m.group(1)), int(m.group(2))), (1, 1), out)
        # The detail sections quote the peer's reasons.
        self.assertIn("Greylisted", out)
        self.assertIn("No such user here", out)


if __name__ == "__main__":
    unittest.main()
