"""test_smtp_edge.py - SMTP edge cases driven over a raw socket.

What smtplib will not send: pipelined groups in one packet, overlong and
malformed lines, bare LF/CR and NUL in DATA (RFC 5321 2.3.8, 4.1.1.4; SMTP
smuggling), BDAT chunks (RFC 3030), talking before the greeting, the error
limit, connection limits, timeouts, a 10 MB message, and shell meta
characters in addresses.
"""

import hashlib
import os
import time
import unittest

from harness import (QUEUE_ID_RE, Herald, HeraldTestCase, SmtpRaw, split_trace,
                     wait_for)


class EdgeCase(HeraldTestCase):
    config = {}

    @classmethod
    def setUpClass(cls):
        cls.herald = Herald(config=cls.config)

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()

    def start_data(self, s, rcpt, sender="edge@client.test"):
        s.cmd(f"MAIL FROM:<{sender}>").check("250 2.1.0", "MAIL")
        s.cmd(f"RCPT TO:<{rcpt}>").check("250 2.1.5", "RCPT")
        s.cmd("DATA").check(354, "DATA")

    def assert_stays_usable(self, s, what):
        s.cmd("NOOP").check("250 2.0.0", f"NOOP after {what}: the session must continue in sync")

    def delivered_body(self, rcpt, count=1):
        msgs = self.herald.wait_mailbox(rcpt, count)
        return split_trace(msgs[count - 1])[1]


class PipeliningTest(EdgeCase):

    def test_whole_transaction_in_two_sends(self):
        rcpt = self.new_user()
        s = self.raw()
        s.ehlo()
        s.send(f"MAIL FROM:<p@client.test>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n")
        s.expect("250 2.1.0", "pipelined MAIL")
        s.expect("250 2.1.5", "pipelined RCPT")
        s.expect(354, "pipelined DATA")
        s.send(b"Subject: one\r\n\r\nfirst\r\n.\r\nRSET\r\nMAIL FROM:<p@client.test>\r\n"
               + f"RCPT TO:<{rcpt}>\r\nDATA\r\n".encode())
        r = s.expect("250 2.0.0 Ok: queued as", "end of first message")
        self.assertRegex(r.first, r"^250 2\.0\.0 Ok: queued as [0-9A-F]{12}$")
        s.expect("250 2.0.0", "RSET")
        s.expect("250 2.1.0", "second MAIL")
        s.expect("250 2.1.5", "second RCPT")
        s.expect(354, "second DATA")
        s.send(b"Subject: two\r\n\r\nsecond\r\n.\r\nQUIT\r\n")
        s.expect("250 2.0.0 Ok: queued as", "end of second message")
        s.expect("221 2.0.0", "QUIT")
        msgs = self.herald.wait_mailbox(rcpt, 2)
        bodies = sorted(split_trace(m)[1] for m in msgs)
        self.assertEqual(bodies, [b"Subject: one\r\n\r\nfirst\r\n", b"Subject: two\r\n\r\nsecond\r\n"])

    def test_commands_pipelined_with_helo_are_refused(self):
        s = self.raw()
        s.send("HELO client.test\r\nMAIL FROM:<a@client.test>\r\n")
        replies = s.read_all_replies(timeout=10)
        self.assertTrue(any(r.first.startswith("554 5.5.0") for r in replies),
                        f"expected 554 5.5.0 for commands sent before the HELO reply, got {replies}")
        self.assertTrue(s.peer_closed, "the server must disconnect the pipelining client")
        self.assertFalse(any(r.first.startswith("250 2.1.0") for r in replies),
                         f"the early MAIL must not be accepted: {replies}")

    def test_commands_pipelined_with_ehlo_are_refused(self):
        s = self.raw()
        s.send("EHLO client.test\r\nMAIL FROM:<a@client.test>\r\n")
        replies = s.read_all_replies(timeout=10)
        self.assertTrue(any(r.first.startswith("554 5.5.0") for r in replies),
                        f"expected 554 5.5.0 for a command sent in the EHLO packet, got {replies}")
        self.assertFalse(any(r.first.startswith("250 2.1.0") for r in replies),
                         f"the early MAIL must not be accepted: {replies}")

    def test_refused_pipeliner_is_disconnected(self):
        s = self.raw()
        s.send("EHLO client.test\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<b@far.example>\r\n")
        self.assertTrue(s.closed(10), "the server must disconnect a client that pipelines before EHLO's reply")


class CommandLineTest(EdgeCase):

    def test_unknown_command(self):
        s = self.raw()
        s.ehlo()
        s.cmd("XYZZY plugh").check("500 5.5.2", "unknown command")
        self.assert_stays_usable(s, "an unknown command")

    def test_command_line_length_limit(self):
        s = self.raw()
        s.ehlo()
        s.cmd("NOOP " + "x" * 505).check("250", "a 512-octet command line (CRLF included) is allowed")
        s.cmd("NOOP " + "x" * 506).check("500 5.5.2", "a 513-octet command line")
        self.assert_stays_usable(s, "a 513-octet line")

    def test_very_long_command_line_does_not_desync(self):
        s = self.raw()
        s.ehlo()
        s.send(b"MAIL FROM:<" + b"a" * 20000 + b"@client.test>\r\nNOOP\r\n")
        s.expect("500 5.5.2", "a 20 kB command line")
        s.expect("250 2.0.0", "NOOP after the long line: the rest of the long line must be discarded")

    def test_address_injection_is_just_bad_syntax(self):
        marker = os.path.join(self.herald.tmp, "injected")
        s = self.raw()
        s.ehlo()
        started = time.monotonic()
        s.cmd("MAIL FROM:<;sleep 1;>").check("501 5.1.7", "MAIL FROM:<;sleep 1;>")
        self.assertLess(time.monotonic() - started, 0.9, "the reply to ;sleep 1; took a second: a shell ran?")
        s.cmd(f"MAIL FROM:<$(touch {marker})@client.test>").check("501 5.1.7", "MAIL FROM:<$(touch ...)>")
        s.cmd("MAIL FROM:<x@client.test>").check("250 2.1.0", "MAIL")
        s.cmd("RCPT TO:<;sleep 1;>").check("501 5.1.3", "RCPT TO:<;sleep 1;>")
        s.cmd("RCPT TO:<|/bin/true@example.test>").check("5", "RCPT TO:<|/bin/true@example.test>")
        # Backquotes and $ are legal atext; the address must be handled as data only.
        evil = f"`touch${{IFS}}{marker}`@far.example"
        s.cmd(f"RCPT TO:<{evil}>").check("250 2.1.5", "a remote address with backquotes")
        s.cmd("DATA").check(354)
        s.send(b"Subject: injection\r\n\r\nx\r\n.\r\n")
        r = s.expect("250 2.0.0 Ok: queued as", "end of data")
        qid = QUEUE_ID_RE.search(r.first).group(1)
        wait_for(lambda: any(row["queue_id"] == qid for row in self.herald.queue()),
                 message=f"queue row {qid}")
        self.assertFalse(os.path.exists(marker), "an address was run through a shell")


class DataContentTest(EdgeCase):

    def test_dot_stuffing_is_undone(self):
        rcpt = self.new_user()
        s = self.raw()
        s.ehlo()
        self.start_data(s, rcpt)
        s.send(b"Subject: dots\r\n\r\n..\r\n...\r\n..x\r\n.\r\n")
        s.expect("250 2.0.0 Ok: queued as", "end of data")
        self.assertEqual(self.delivered_body(rcpt), b"Subject: dots\r\n\r\n.\r\n..\r\n.x\r\n")

    def test_long_text_lines(self):
        rcpt = self.new_user()
        s = self.raw()
        s.ehlo()
        ok = b"Subject: long\r\n\r\n" + b"a" * 998 + b"\r\n"
        self.start_data(s, rcpt)
        s.send(ok + b".\r\n")
        s.expect("250 2.0.0 Ok: queued as", "a 1000-octet line (CRLF included) is within max_line_length")
        for length in (1001, 1002, 5000):
            with self.subTest(octets=length):
                self.start_data(s, rcpt)
                s.send(b"Subject: too long\r\n\r\n" + b"b" * (length - 2) + b"\r\n.\r\n")
                r = s.read_reply()
                self.assertTrue(r.first.startswith("5"), f"a {length}-octet text line must get 5xx, got {r}")
                self.assertNotIn("bare", r.first.lower(),
                                 f"a {length}-octet line (with a proper CRLF) is reported as bare CR/LF: {r}")
                self.assert_stays_usable(s, "an overlong text line")
        msgs = self.herald.wait_mailbox(rcpt, 1)
        self.assertEqual(len(msgs), 1, "the message with the overlong line must not be stored")
        self.assertEqual(split_trace(msgs[0])[1], ok)

    def test_bare_lf_and_cr_are_refused(self):
        rcpt = self.new_user()
        cases = {
            "bare LF in a header": b"Subject: a\nX: b\r\n\r\nbody\r\n",
            "bare LF in the body": b"Subject: a\r\n\r\nline\nline\r\n",
            "bare CR in the body": b"Subject: a\r\n\r\nline\rline\r\n",
            "LF CR": b"Subject: a\r\n\r\nline\n\rline\r\n",
            "bare LF at the end": b"Subject: a\r\n\r\nend\n",
        }
        s = self.raw()
        s.ehlo()
        for name, body in cases.items():
            with self.subTest(name):
                self.start_data(s, rcpt)
                s.send(body + (b"\r\n" if not body.endswith(b"\r\n") else b"") + b".\r\n")
                s.expect("550 5.5.2", name)
                self.assert_stays_usable(s, name)
        # A clean message still goes through, and is the only one stored.
        self.start_data(s, rcpt)
        s.send(b"Subject: clean\r\n\r\nok\r\n.\r\n")
        s.expect("250 2.0.0 Ok: queued as")
        msgs = self.herald.wait_mailbox(rcpt, 1)
        self.assertEqual(len(msgs), 1, "messages with bare LF/CR must not be stored")
        self.assertTrue(msgs[0].endswith(b"Subject: clean\r\n\r\nok\r\n"))

    def test_smuggled_end_of_data_is_not_honoured(self):
        victim = self.new_user("victim")
        rcpt = self.new_user()
        fake_ends = {"LF.LF": b"\n.\n", "LF.CRLF": b"\n.\r\n", "CRLF.LF": b"\r\n.\n", "CR.CR": b"\r.\r"}
        s = self.raw()
        s.ehlo()
        for name, fake in fake_ends.items():
            with self.subTest(name):
                self.start_data(s, rcpt)
                s.send(b"Subject: outer\r\n\r\nhello" + fake
                       + f"MAIL FROM:<admin@example.test>\r\nRCPT TO:<{victim}>\r\nDATA\r\n".encode()
                       + b"Subject: smuggled\r\n\r\nevil\r\n.\r\n")
                r = s.read_reply()
                self.assertTrue(r.first.startswith("5"),
                                f"{name}: the message with a fake end-of-data must be refused as a whole, got {r}")
                self.assert_stays_usable(s, f"{name} smuggling attempt")
        self.assertEqual(self.herald.mailbox_count(victim), 0, "a smuggled message was delivered")
        self.assertEqual(self.herald.mailbox_count(rcpt), 0, "a message with bare line ends was stored")

    def test_nul_in_data_is_refused(self):
        rcpt = self.new_user()
        s = self.raw()
        s.ehlo()
        self.start_data(s, rcpt)
        s.send(b"Subject: nul\r\n\r\nbefore\x00after\r\n.\r\n")
        r = s.read_reply()
        self.assertTrue(r.first.startswith("5"), f"NUL in DATA must be refused with 5xx, got {r}")
        self.assert_stays_usable(s, "NUL in DATA")
        self.assertEqual(self.herald.mailbox_count(rcpt), 0, "a message with NUL was stored")


class BareLfAllowedTest(EdgeCase):
    config = {"smtp": {"allow_bare_lf": True}}

    def test_bare_lf_is_normalised(self):
        rcpt = self.new_user()
        s = self.raw()
        s.ehlo()
        self.start_data(s, rcpt)
        s.send(b"Subject: lf\nX-Test: 1\n\nbody line\nlast\r\n.\r\n")
        s.expect("250 2.0.0 Ok: queued as", "bare LF with allow_bare_lf = true")
        body = self.delivered_body(rcpt)
        self.assertEqual(body, b"Subject: lf\r\nX-Test: 1\r\n\r\nbody line\r\nlast\r\n",
                         "bare LF must be stored as CRLF")


class BigMessageTest(EdgeCase):
    config = {"smtp": {"max_message_size": "20M"}}

    def test_ten_megabyte_message(self):
        rcpt = self.new_user("big")
        line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_=+0123456789\r\n"  # 78
        body = b"Subject: ten megabytes\r\n\r\n" + line * (10 * 1024 * 1024 // len(line))
        s = self.raw(timeout=60)
        s.ehlo()
        s.cmd(f"MAIL FROM:<big@client.test> SIZE={len(body)}").check("250 2.1.0", "MAIL with SIZE")
        s.cmd(f"RCPT TO:<{rcpt}>").check("250 2.1.5")
        s.cmd("DATA").check(354)
        for i in range(0, len(body), 256 * 1024):
            s.send(body[i:i + 256 * 1024])
        s.send(b".\r\n")
        s.expect("250 2.0.0 Ok: queued as", "end of a 10 MB message")
        s.cmd("QUIT").check(221)

        def fetch():
            p = self.herald.pop3(rcpt)
            try:
                count, _ = p.stat()
                if count < 1:
                    return None
                size = int(p.list(1).split()[2])
                _, lines, _ = p.retr(1)
                return size, b"".join(l + b"\r\n" for l in lines)
            finally:
                p.quit()
        size, msg = wait_for(fetch, timeout=60, message="the 10 MB message in the mailbox")
        rest = split_trace(msg)[1]
        self.assertEqual(len(rest), len(body), "stored size differs from sent size")
        self.assertEqual(hashlib.sha256(rest).hexdigest(), hashlib.sha256(body).hexdigest(),
                         "the 10 MB message came back different")
        self.assertEqual(size, len(msg), "LIST size must be the exact octet count of RETR")
        blobs = os.path.join(self.herald.data_dir, "blobs")
        files = [os.path.join(d, f) for d, _, fs in os.walk(blobs) for f in fs]
        self.assertTrue(any(os.path.getsize(f) >= len(body) // 2 for f in files),
                        f"a body over inline_body_max should be a file under {blobs}: {files[:5]}")


class SmallLimitsTest(EdgeCase):
    config = {"smtp": {"max_message_size": 10000}}

    def test_oversized_data_is_drained_and_refused(self):
        rcpt = self.new_user()
        s = self.raw()
        s.ehlo()
        self.start_data(s, rcpt)
        s.send(b"Subject: big\r\n\r\n" + (b"y" * 78 + b"\r\n") * 300 + b".\r\nNOOP\r\n")
        s.expect("552 5.3.4", "message over max_message_size")
        s.expect("250 2.0.0", "NOOP after the refused message")

    def test_oversized_bdat_is_drained_and_refused(self):
        rcpt = self.new_user()
        s = self.raw()
        s.ehlo()
        s.cmd("MAIL FROM:<b@client.test>").check("250 2.1.0")
        s.cmd(f"RCPT TO:<{rcpt}>").check("250 2.1.5")
        s.send(b"BDAT 20000 LAST\r\n" + b"NOOP\r\n" * 3333 + b"xx")
        s.expect("552 5.3.4", "BDAT chunk over max_message_size")
        s.cmd("NOOP").check("250 2.0.0", "NOOP after the drained chunk: the chunk's octets must be consumed")
        self.assertEqual(self.herald.mailbox_count(rcpt), 0)


class BdatTest(EdgeCase):

    def test_chunks_are_stored_verbatim(self):
        rcpt = self.new_user()
        s = self.raw()
        s.ehlo()
        s.cmd("MAIL FROM:<chunk@client.test>").check("250 2.1.0", "MAIL")
        s.cmd(f"RCPT TO:<{rcpt}>").check("250 2.1.5")
        part1 = b"Subject: chunked\r\n\r\n.starts with a dot\r\n"
        part2 = b"..two dots, and a fake end\r\n.\r\nstill body\r\n"
        s.send(b"BDAT %d\r\n" % len(part1) + part1)
        r = s.expect(250, "first BDAT")
        self.assertEqual(r.first, f"250 2.0.0 {len(part1)} octets received")
        s.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
        r = s.expect("250 2.0.0 Ok: queued as", "BDAT LAST")
        self.assertRegex(r.first, r"queued as [0-9A-F]{12}$")
        self.assertEqual(self.delivered_body(rcpt), part1 + part2, "BDAT octets must be stored as sent")

    def test_pipelined_chunks_and_empty_last(self):
        rcpt = self.new_user()
        s = self.raw()
        s.ehlo()
        s.send(f"MAIL FROM:<c@client.test>\r\nRCPT TO:<{rcpt}>\r\n".encode()
               + b"BDAT 9\r\nSubject: BDAT 13\r\npipelined\r\n\r\nBDAT 0 LAST\r\n")
        s.expect("250 2.1.0")
        s.expect("250 2.1.5")
        s.expect("250 2.0.0 9 octets received")
        s.expect("250 2.0.0 13 octets received")
        s.expect("250 2.0.0 Ok: queued as", "BDAT 0 LAST")
        self.assertEqual(self.delivered_body(rcpt), b"Subject: pipelined\r\n\r\n")

    def test_bdat_before_mail_consumes_its_octets(self):
        s = self.raw()
        s.ehlo()
        s.send(b"BDAT 12\r\nNOOP\r\nNOOP\r\nNOOP\r\n")
        s.expect(503, "BDAT before MAIL")
        s.expect("250 2.0.0", "the NOOP after the chunk")
        s.send(b"NOOP\r\n")
        s.expect("250 2.0.0", "exactly one NOOP answered: the chunk's octets were consumed")

    def test_data_after_bdat_is_refused(self):
        rcpt = self.new_user()
        s = self.raw()
        s.ehlo()
        s.cmd("MAIL FROM:<c@client.test>").check("250 2.1.0")
        s.cmd(f"RCPT TO:<{rcpt}>").check("250 2.1.5")
        s.send(b"BDAT 5\r\nhello")
        s.expect("250 2.0.0 5 octets received")
        s.cmd("DATA").check(503, "DATA after BDAT")
        s.send(b"BDAT 2 LAST\r\n\r\n")
        s.expect("250 2.0.0 Ok: queued as", "BDAT LAST after the refused DATA")
        self.assertEqual(self.delivered_body(rcpt), b"hello\r\n")


class PregreetTest(EdgeCase):
    config = {"smtp": {"pregreet_wait": "1s"}}

    def test_client_talking_first_is_refused(self):
        s = SmtpRaw(self.herald.smtp_port, timeout=15)
        self.addCleanup(s.close)
        s.send("EHLO hasty.client.test\r\n")
        replies = s.read_all_replies(timeout=10)
        self.assertTrue(any(r.first.startswith("554") for r in replies),
                        f"a client talking before the greeting must get 554, got {replies}")
        self.assertFalse(any(r.first.startswith("250") for r in replies),
                         f"the hasty EHLO must not be answered: {replies}")

    def test_patient_client_is_greeted(self):
        s = SmtpRaw(self.herald.smtp_port, timeout=15)
        self.addCleanup(s.close)
        started = time.monotonic()
        s.expect("220 mx.example.test ESMTP Herald", "greeting after pregreet_wait")
        self.assertGreaterEqual(time.monotonic() - started, 0.9, "the greeting came before pregreet_wait")
        s.ehlo()
        s.cmd("QUIT").check("221 2.0.0")


class ErrorLimitTest(EdgeCase):
    config = {"smtp": {"max_errors": 3}}

    def test_client_is_dropped_after_too_many_errors(self):
        s = self.raw()
        s.ehlo()
        for i in range(3):
            s.cmd(f"BOGUS{i}").check("500 5.5.2", f"error {i + 1} of 3")
        replies = []
        for i in range(2):
            try:
                r = s.cmd(f"BOGUS{3 + i}")
            except (ConnectionError, OSError):
                break
            replies.append(r)
            if r.first.startswith("421"):
                break
        self.assertTrue(replies and replies[-1].first.startswith("421 4.7.0"),
                        f"more than max_errors=3 errors must end in 421 4.7.0, got {replies}")
        self.assertTrue(s.closed(5), "the server must close the connection after 421")


class TimeoutTest(EdgeCase):
    config = {"smtp": {"command_timeout": "1s", "data_timeout": "1s"}}

    def test_idle_client_gets_421(self):
        s = self.raw()
        s.ehlo()
        started = time.monotonic()
        s.expect("421 4.4.2", "idle client after command_timeout")
        self.assertGreaterEqual(time.monotonic() - started, 0.9)
        self.assertTrue(s.closed(5), "the server must close after the timeout")

    def test_stalled_data_gets_421(self):
        rcpt = self.new_user()
        s = self.raw()
        s.ehlo()
        self.start_data(s, rcpt)
        s.send(b"Subject: stalled\r\n\r\nhalf a messa")
        s.expect("421 4.4.2", "stalled DATA after data_timeout")
        self.assertTrue(s.closed(5))
        self.assertEqual(self.herald.mailbox_count(rcpt), 0, "a half message must not be stored")


class ConnectionLimitTest(EdgeCase):
    limit = 3
    config = {"smtp": {"max_connections": 3, "max_connections_per_client": 100}}

    def open_up_to_limit(self):
        """open_up_to_limit - exactly `limit` greeted sessions (retrying while old ones wind down)."""
        def attempt():
            conns = []
            try:
                for _ in range(self.limit):
                    s = SmtpRaw(self.herald.smtp_port, timeout=10)
                    conns.append(s)
                    s.expect(220)
                return conns
            except (AssertionError, OSError):
                for c in conns:
                    c.close()
                raise
        conns = wait_for(attempt, timeout=20, message=f"{self.limit} greeted connections")
        for c in conns:
            self.addCleanup(c.close)
        return conns

    def test_connection_over_limit_gets_421(self):
        conns = self.open_up_to_limit()
        extra = SmtpRaw(self.herald.smtp_port, timeout=10)
        self.addCleanup(extra.close)
        extra.expect("421 4.7.0", f"connection {self.limit + 1} with a limit of {self.limit}")
        self.assertTrue(extra.closed(5), "the refused connection must be closed")
        for c in conns:
            c.cmd("NOOP").check("250 2.0.0", "sessions within the limit keep working")
        conns[0].cmd("QUIT").check(221)
        conns[0].close()

        def greeted():
            with SmtpRaw(self.herald.smtp_port, timeout=10) as s:
                return s.read_reply().code == 220
        wait_for(greeted, message="a new connection to be greeted after one closed")


class PerClientLimitTest(ConnectionLimitTest):
    limit = 2
    config = {"smtp": {"max_connections": 50, "max_connections_per_client": 2}}


if __name__ == "__main__":
    unittest.main()
