"""test_slow_peers.py - peers that send or take octets too slowly (issue 11, items 2 and 3).

Slowloris clients: one octet of a command, of a DATA body or of a POP3
command every half second, against a read timeout that such a trickle would
restart for ever; the line deadline (command_deadline, Postfix's
smtpd_per_record_deadline) and the minimum data rate (min_data_rate,
smtpd_min_data_rate) must end them in bounded time. Clients that never read
our replies: the write deadline (write_timeout) must end them, keep the
server's memory bounded, and let go of a POP3 maildrop lock.

The limits are small so each case runs in seconds. Trickling with
time.sleep-like pacing is the behaviour under test; waiting for the server
is polling (wait_for, select).
"""

import poplib
import select
import socket
import time
import unittest

from harness import HOST, Herald, HeraldTestCase, unique, wait_for

LINE_DEADLINE = 2.0     # smtp/pop3 command_deadline
DATA_TIMEOUT = 1.0      # smtp data_timeout
WRITE_TIMEOUT = 2.0     # smtp/pop3 write_timeout
MIN_RATE = 1000         # smtp/pop3 min_data_rate, octets/s
INTERVAL = 0.5          # one octet every INTERVAL
SLACK = 1.5             # scheduling on a shared 2-core box
GIVE_UP = 10.0          # a trickle still accepted after this long is the bug

CONFIG = {
    # The idle timeouts are far longer than the trickle's gaps: only the
    # new deadlines can end these sessions.
    "smtp": {"command_timeout": "20s", "data_timeout": "1s", "command_deadline": "2s",
             "min_data_rate": MIN_RATE, "write_timeout": "2s",
             # The never-reading client pipelines NOOPs: junk, but here the
             # write deadline, not the junk limit, must be what ends it.
             "junk_command_limit": 1000000000},
    "pop3": {"idle_timeout": "20s", "command_deadline": "2s", "min_data_rate": MIN_RATE,
             "write_timeout": "2s"},
}


def trickle(sock, data, interval=INTERVAL, give_up=GIVE_UP):
    """trickle - send data one octet every interval until the server says
    something (or closes) or give_up passes; returns the seconds from the
    first octet to the server's answer (None if it never answered)."""
    start = time.monotonic()
    for i in range(len(data)):
        try:
            sock.sendall(data[i:i + 1])
        except OSError:
            return time.monotonic() - start
        # The pause between octets doubles as the watch for an answer.
        readable, _, _ = select.select([sock], [], [], interval)
        if readable:
            return time.monotonic() - start
        if time.monotonic() - start > give_up:
            return None
    return None


def rss_kib(pid):
    """rss_kib - the resident set of a process, from /proc/PID/status."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def gone(sock):
    """gone - True once the server has reset the connection (a send fails);
    sends one more command otherwise (the socket is non-blocking)."""
    try:
        sock.send(b"NOOP\r\n")
    except (BlockingIOError, InterruptedError):
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        return err != 0
    except (ConnectionResetError, BrokenPipeError):
        return True
    return False


class SlowPeers(HeraldTestCase):

    @classmethod
    def setUpClass(cls):
        cls.herald = Herald(config=CONFIG)

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()

    def assert_cut_off(self, s, elapsed, bound, reply, what):
        self.assertIsNotNone(elapsed, f"{what}: still accepted after {GIVE_UP}s of trickling")
        self.assertLess(elapsed, bound, f"{what}: cut off only after {elapsed:.1f}s")
        replies = s.read_all_replies(timeout=5)
        self.assertTrue(replies and replies[-1].first.startswith(reply),
                        f"{what}: expected {reply!r} before the close, got {replies}")
        self.assertTrue(s.peer_closed, f"{what}: the server must close the connection")

    # -- items 2: reads --------------------------------------------------

    def test_command_line_trickle_gets_421_within_the_line_deadline(self):
        s = self.raw()
        s.ehlo()
        line = f"MAIL FROM:<{'x' * 40}@client.test>\r\n".encode()
        elapsed = trickle(s.sock, line)
        self.assert_cut_off(s, elapsed, LINE_DEADLINE + SLACK, "421 4.4.2", "SMTP command trickle")
        self.assertGreater(elapsed, LINE_DEADLINE - 0.3, "cut off before its deadline")

    def test_data_trickle_gets_421_by_the_minimum_data_rate(self):
        rcpt = self.herald.add_user(f"{unique('slow')}@example.test")
        s = self.raw()
        s.ehlo()
        s.cmd("MAIL FROM:<slow@client.test>").check("250 2.1.0", "MAIL")
        s.cmd(f"RCPT TO:<{rcpt}>").check("250 2.1.5", "RCPT")
        s.cmd("DATA").check(354, "DATA")
        # Each octet earns 1 ms against 500 ms spent: data_timeout's budget
        # runs out after about a second, although no single wait reaches it.
        body = b"Subject: slow\r\n\r\n" + b"x" * 200 + b"\r\n.\r\n"
        elapsed = trickle(s.sock, body)
        self.assert_cut_off(s, elapsed, DATA_TIMEOUT + SLACK, "421 4.4.2", "DATA trickle")
        self.assertEqual(self.herald.mailbox_count(rcpt), 0, "a half message must not be stored")

    def test_a_fast_body_is_not_cut_off(self):
        # 2 MB at loopback speed is far above the minimum rate: the budget
        # stays full however long the body.
        rcpt = self.herald.add_user(f"{unique('fast')}@example.test")
        s = self.raw(timeout=30)
        s.ehlo()
        s.cmd("MAIL FROM:<fast@client.test>").check("250 2.1.0", "MAIL")
        s.cmd(f"RCPT TO:<{rcpt}>").check("250 2.1.5", "RCPT")
        body = b"Subject: fast\r\n\r\n" + (b"y" * 998 + b"\r\n") * 2000
        s.data(body).check("250 2.0.0", "a 2 MB body sent at full speed")

    def test_pop3_command_trickle_is_disconnected_within_the_line_deadline(self):
        sock = socket.create_connection((HOST, self.herald.pop3_port), timeout=15)
        self.addCleanup(sock.close)
        greeting = sock.recv(512)
        self.assertTrue(greeting.startswith(b"+OK"), greeting)
        elapsed = trickle(sock, f"USER {'x' * 40}@example.test\r\n".encode())
        self.assertIsNotNone(elapsed, f"POP3 trickle: still accepted after {GIVE_UP}s")
        self.assertLess(elapsed, LINE_DEADLINE + SLACK, f"POP3 trickle: cut off only after {elapsed:.1f}s")
        got = b""
        def closed():
            nonlocal got
            chunk = sock.recv(4096)
            got += chunk
            return not chunk
        wait_for(closed, timeout=5, message="the POP3 server to close the connection")
        self.assertTrue(got.startswith(b"-ERR"), got)

    # -- item 3: writes --------------------------------------------------

    def test_a_client_that_never_reads_is_cut_off_and_memory_stays_bounded(self):
        pid = self.herald.proc.pid
        before = rss_kib(pid)
        # Greeting and EHLO read: talking first, or pipelining before EHLO,
        # would be refused (554 5.5.0) before any write could stall.
        s = self.raw()
        s.ehlo()
        sock = s.sock
        sock.setblocking(False)
        # Pipelined NOOPs, never a read: each one's 14-octet reply piles up
        # in the socket buffers until the server can write no more, stops
        # reading, and, after write_timeout without progress, hangs up.
        stream = b"NOOP\r\n" * 10000
        started = time.monotonic()
        last_progress = started
        peak = before
        while time.monotonic() - started < 30:
            try:
                if sock.send(stream) > 0:
                    last_progress = time.monotonic()
                    continue
            except (BlockingIOError, InterruptedError):
                pass
            except (ConnectionResetError, BrokenPipeError):
                break
            peak = max(peak, rss_kib(pid))
            if time.monotonic() - last_progress > WRITE_TIMEOUT + 5:
                break
            select.select([], [sock], [], 0.05)  # wait until it may take more
        stalled_for = time.monotonic() - last_progress
        self.assertTrue(wait_for(lambda: gone(sock), timeout=1, message="the server to reset the connection"),
                        "a client that never reads must be disconnected")
        self.assertLess(stalled_for, WRITE_TIMEOUT + SLACK + 1.0,
                        f"disconnected only {stalled_for:.1f}s after the server stopped taking input")
        self.assertLess(peak - before, 32 * 1024, f"server RSS grew from {before} to {peak} KiB")
        wait_for(lambda: "timeout after reply from" in self.herald.log(), timeout=5,
                 message="the write timeout in the log")

    def test_a_pop3_client_that_does_not_take_its_retr_loses_the_maildrop_lock(self):
        user = self.herald.add_user(f"{unique('retr')}@example.test")
        # Larger than the socket buffers on both sides can hold.
        s = self.raw(timeout=60)
        s.ehlo()
        s.cmd("MAIL FROM:<big@client.test>").check("250 2.1.0", "MAIL")
        s.cmd(f"RCPT TO:<{user}>").check("250 2.1.5", "RCPT")
        s.data(b"Subject: big\r\n\r\n" + (b"z" * 998 + b"\r\n") * 8000).check("250 2.0.0", "an 8 MB message")
        wait_for(lambda: self.herald.mailbox_count(user) == 1, message="the message in the mailbox")

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window
        sock.settimeout(15)
        sock.connect((HOST, self.herald.pop3_port))
        self.addCleanup(sock.close)
        got = b""
        sock.sendall(f"USER {user}\r\nPASS secret\r\n".encode())
        while got.count(b"\r\n") < 3:
            got += sock.recv(4096)
        self.assertEqual(got.split(b"\r\n")[2][:3], b"+OK", got)
        sock.sendall(b"RETR 1\r\n")  # and never read again
        asked = time.monotonic()

        with self.assertRaises(poplib.error_proto) as cm:
            self.herald.pop3(user)
        self.assertTrue(cm.exception.args[0].startswith(b"-ERR [IN-USE]"), cm.exception.args)

        def login():
            try:
                p = self.herald.pop3(user)
            except poplib.error_proto as exc:
                if exc.args[0].startswith(b"-ERR [IN-USE]"):
                    return False
                raise
            count, _ = p.stat()
            p.quit()
            return count == 1
        wait_for(login, timeout=WRITE_TIMEOUT + 10, interval=0.1, message="the maildrop lock to be released")
        released = time.monotonic() - asked
        self.assertLess(released, WRITE_TIMEOUT + SLACK + 1.5, f"the lock was held {released:.1f}s")
        wait_for(lambda: "maildrop unlocked" in self.herald.log(), timeout=5,
                 message="the write timeout in the log")


if __name__ == "__main__":
    unittest.main()
