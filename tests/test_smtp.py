"""test_smtp.py - Herald's SMTP server as smtplib (a real client library) sees it.

Covers delivery (one and several recipients, aliases, relaying from
loopback), the ESMTP extensions Herald announces (PIPELINING, SIZE,
8BITMIME, ENHANCEDSTATUSCODES, SMTPUTF8, CHUNKING) and every reply code the
contract lists (RFC 5321 4.2, RFC 3463 enhanced codes).
"""

import re
import smtplib
import unittest

from harness import (HOST, HOSTNAME, QUEUE_ID_RE, Herald, HeraldTestCase, SmtpRaw,
                     make_message, split_trace, unique, wait_for)


def connect(port):
    return smtplib.SMTP(HOST, port, local_hostname="client.test", timeout=15)


def send_raw_transaction(smtp, sender, rcpts, message, mail_options=()):
    """send_raw_transaction - EHLO/MAIL/RCPT.../DATA with smtplib; returns (code, reply) of DATA's end."""
    smtp.ehlo_or_helo_if_needed()
    code, resp = smtp.mail(sender, list(mail_options))
    if code != 250:
        raise AssertionError(f"MAIL FROM:<{sender}> refused: {code} {resp!r}")
    for r in rcpts:
        code, resp = smtp.rcpt(r)
        if code != 250:
            raise AssertionError(f"RCPT TO:<{r}> refused: {code} {resp!r}")
    return smtp.data(message)


def queue_id_of(resp):
    text = resp.decode() if isinstance(resp, bytes) else resp
    m = QUEUE_ID_RE.search(text)
    if not m:
        raise AssertionError(f"no 'queued as <12 hex>' in end-of-data reply {text!r}")
    return m.group(1)


def assert_reply(testcase, got, code, enhanced=None, what=""):
    """assert_reply - smtplib (code, msg) has the code and, if given, the enhanced status code."""
    c, msg = got
    text = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else str(msg)
    testcase.assertEqual(c, code, f"{what}: expected {code} {enhanced or ''}, got {c} {text!r}")
    if enhanced:
        testcase.assertTrue(text.startswith(enhanced),
                            f"{what}: expected enhanced code {enhanced}, got {c} {text!r}")


class SmtpCase(HeraldTestCase):
    """A shared server with the contract's default limits."""

    config = {}

    @classmethod
    def setUpClass(cls):
        cls.herald = Herald(config=cls.config)

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()

    def smtp(self):
        s = connect(self.herald.smtp_port)
        self.addCleanup(self._close, s)
        return s

    @staticmethod
    def _close(s):
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            s.close()

    def assert_delivered(self, message, sender, rcpt, qid, sent):
        """assert_delivered - trace headers as the contract says, then exactly the bytes sent."""
        headers, rest = split_trace(message)
        (_, return_path), (_, delivered_to), (_, received) = headers
        self.assertEqual(return_path, f"Return-Path: <{sender}>".encode(),
                         "Return-Path must carry the envelope sender")
        self.assertRegex(delivered_to.decode("utf-8", "replace"),
                         rf"^Delivered-To: <?{re.escape(rcpt)}>?$",
                         "Delivered-To must name the recipient")
        received_text = received.decode("utf-8", "replace")
        self.assertIn(f"by {HOSTNAME}", received_text, "Received must say which host took the message")
        self.assertRegex(received_text, rf"\bid <?{qid}>?", "Received must carry the queue id")
        # RFC 5321 4.4: FROM with the EHLO name and the client's address, WITH, and a date after ";".
        self.assertRegex(received_text, r"^Received: from client\.test \(.*\[127\.0\.0\.1\]\)",
                         "Received must name the client's EHLO and address")
        self.assertRegex(received_text, r"\bwith E?SMTP", "Received must name the protocol")
        self.assertRegex(received_text, r";\s*(\w{3}, )?\d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}$",
                         "Received must end with an RFC 5322 date")
        self.assertEqual(rest, sent, "the stored message must be exactly the bytes the client sent")


class DeliveryTest(SmtpCase):

    def test_greeting_names_host_and_software(self):
        s = smtplib.SMTP(timeout=15)
        code, msg = s.connect(HOST, self.herald.smtp_port)
        self.addCleanup(s.close)
        self.assertEqual(code, 220, f"greeting: {code} {msg!r}")
        self.assertTrue(msg.startswith(b"mx.example.test ESMTP Herald"),
                        f"greeting should be '220 mx.example.test ESMTP Herald', got {msg!r}")

    def test_ehlo_announces_extensions(self):
        s = self.smtp()
        code, msg = s.ehlo("client.test")
        self.assertEqual(code, 250, msg)
        self.assertTrue(msg.startswith(HOSTNAME.encode()), f"EHLO reply should start with hostname: {msg!r}")
        for keyword in ("pipelining", "size", "8bitmime", "enhancedstatuscodes", "smtputf8", "chunking"):
            with self.subTest(keyword=keyword):
                self.assertTrue(s.has_extn(keyword), f"EHLO does not announce {keyword.upper()}: {msg!r}")
        size = s.esmtp_features.get("size", "")
        self.assertRegex(size, r"^\d+$", "SIZE must carry the limit in octets (RFC 1870)")
        # The default max_message_size is 25M.
        self.assertIn(int(size), (25 * 1000 * 1000, 25 * 1024 * 1024), f"default SIZE {size}")

    def test_helo_is_accepted(self):
        s = self.smtp()
        code, msg = s.helo("client.test")
        self.assertEqual(code, 250, msg)

    def test_message_arrives_with_trace_headers_and_exact_bytes(self):
        rcpt = self.new_user()
        sender = "sender@client.test"
        sent = make_message("exact bytes", body="Line one.\r\n.leading dot\r\n..two dots\r\n\r\nend\r\n",
                            to=rcpt)
        code, resp = send_raw_transaction(self.smtp(), sender, [rcpt], sent)
        self.assertEqual(code, 250, resp)
        self.assertRegex(resp.decode(), r"^2\.0\.0 Ok: queued as [0-9A-F]{12}$")
        qid = queue_id_of(resp)
        [msg] = self.herald.wait_mailbox(rcpt, 1)
        self.assert_delivered(msg, sender, rcpt, qid, sent)

    def test_sendmail_to_several_recipients(self):
        rcpts = [self.new_user() for _ in range(3)]
        sender = "multi@client.test"
        sent = make_message("three recipients", to=rcpts[0])
        code, resp = send_raw_transaction(self.smtp(), sender, rcpts, sent)
        self.assertEqual(code, 250, resp)
        qid = queue_id_of(resp)
        for r in rcpts:
            with self.subTest(recipient=r):
                msgs = self.herald.wait_mailbox(r, 1)
                self.assertEqual(len(msgs), 1, f"{r} should get exactly one copy")
                self.assert_delivered(msgs[0], sender, r, qid, sent)

    def test_smtplib_sendmail_convenience(self):
        rcpt = self.new_user()
        s = self.smtp()
        refused = s.sendmail("conv@client.test", [rcpt, "nobody-here@example.test"],
                             make_message("convenience", to=rcpt))
        self.assertEqual(list(refused), ["nobody-here@example.test"],
                         "sendmail should report the unknown recipient only")
        self.assertEqual(refused["nobody-here@example.test"][0], 550)
        msgs = self.herald.wait_mailbox(rcpt, 1)
        self.assertIn(b"Subject: convenience\r\n", msgs[0])

    def test_alias_delivers_to_every_target(self):
        a, b = self.new_user("alias_t"), self.new_user("alias_t")
        alias = f"{unique('team')}@example.test"
        self.herald.cli("alias", "add", alias, a, b)
        sent = make_message("to the team", to=alias)
        code, resp = send_raw_transaction(self.smtp(), "boss@client.test", [alias], sent)
        self.assertEqual(code, 250, resp)
        for r in (a, b):
            with self.subTest(target=r):
                msgs = self.herald.wait_mailbox(r, 1)
                self.assertEqual(len(msgs), 1)
                self.assertTrue(msgs[0].endswith(sent), "alias copy must carry the sent bytes")

    def test_alias_to_remote_address_is_queued(self):
        alias = f"{unique('fwd')}@example.test"
        remote = f"{unique('far')}@remote.example"
        self.herald.cli("alias", "add", alias, remote)
        code, resp = send_raw_transaction(self.smtp(), "x@client.test", [alias],
                                          make_message("forward me", to=alias))
        self.assertEqual(code, 250, resp)
        qid = queue_id_of(resp)
        rows = wait_for(lambda: [r for r in self.herald.queue() if r.get("recipient") == remote],
                        message=f"a queue row for {remote}")
        self.assertEqual(rows[0]["queue_id"], qid)
        # Queued for other servers: waiting for its first attempt, or deferred
        # by it (the test server has no route out).
        self.assertIn(rows[0]["status"], ("pending", "deferred"))

    def test_alias_loop_is_refused(self):
        a = f"{unique('loopa')}@example.test"
        b = f"{unique('loopb')}@example.test"
        self.herald.cli("alias", "add", a, b)
        self.herald.cli("alias", "add", b, a)
        s = self.smtp()
        s.ehlo()
        assert_reply(self, s.mail("x@client.test"), 250, "2.1.0", "MAIL")
        assert_reply(self, s.rcpt(a), 550, "5.4.6", "RCPT to an alias loop")

    def test_relay_from_loopback_stays_pending(self):
        remote = f"{unique('rcpt')}@elsewhere.example"
        s = self.smtp()
        s.ehlo()
        assert_reply(self, s.mail("relay@client.test"), 250, "2.1.0", "MAIL")
        assert_reply(self, s.rcpt(remote), 250, "2.1.5", "RCPT to a remote domain from loopback")
        code, resp = s.data(make_message("relay", to=remote))
        self.assertEqual(code, 250, resp)
        qid = queue_id_of(resp)
        rows = wait_for(lambda: [r for r in self.herald.queue() if r.get("queue_id") == qid],
                        message=f"queue row {qid}")
        self.assertEqual(len(rows), 1, rows)
        row = rows[0]
        for key in ("queue_id", "sender", "recipient", "status", "attempts", "last_reply"):
            self.assertIn(key, row, f"queue list --json row lacks {key}: {row}")
        self.assertEqual(row["sender"], "relay@client.test")
        self.assertEqual(row["recipient"], remote)
        # Queued for other servers: waiting for its first attempt, or deferred
        # by it (the test server has no route out).
        self.assertIn(row["status"], ("pending", "deferred"))

    def test_eight_bit_body_is_kept(self):
        rcpt = self.new_user()
        sent = (b"Subject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: text/plain; charset=latin1\r\n"
                b"Content-Transfer-Encoding: 8bit\r\n\r\nCaf\xe9 cr\xe8me \xff\xfe\r\n\xc3\xa9t\xc3\xa9\r\n")
        code, resp = send_raw_transaction(self.smtp(), "eight@client.test", [rcpt], sent,
                                          mail_options=["BODY=8BITMIME"])
        self.assertEqual(code, 250, resp)
        [msg] = self.herald.wait_mailbox(rcpt, 1)
        self.assertTrue(msg.endswith(sent), "8-bit octets must be stored unchanged")

    def test_utf8_addresses_with_smtputf8(self):
        rcpt = self.new_user()
        sender = "jürgen@müller.example"
        sent = "From: Jürgen <jürgen@müller.example>\r\nSubject: Grüße\r\n\r\nHallo\r\n".encode()
        s = self.smtp()
        s.ehlo()
        assert_reply(self, s.mail(sender, ["SMTPUTF8", "BODY=8BITMIME"]), 250, "2.1.0",
                     "MAIL with a UTF-8 address and SMTPUTF8")
        assert_reply(self, s.rcpt(rcpt), 250, "2.1.5", "RCPT")
        code, resp = s.data(sent)
        self.assertEqual(code, 250, resp)
        [msg] = self.herald.wait_mailbox(rcpt, 1)
        self.assertTrue(msg.startswith(f"Return-Path: <{sender}>\r\n".encode()),
                        f"Return-Path must carry the UTF-8 sender: {msg[:120]!r}")
        self.assertTrue(msg.endswith(sent))

    def test_utf8_local_mailbox(self):
        rcpt = f"zoë{unique()}@example.test"
        self.herald.add_user(rcpt, "secret")
        s = self.smtp()
        s.ehlo()
        assert_reply(self, s.mail("a@client.test", ["SMTPUTF8"]), 250, "2.1.0", "MAIL")
        assert_reply(self, s.rcpt(rcpt), 250, "2.1.5", "RCPT to a UTF-8 local mailbox")
        code, resp = s.data(b"Subject: utf8 mailbox\r\n\r\nhi\r\n")
        self.assertEqual(code, 250, resp)
        msgs = self.herald.wait_mailbox(rcpt, 1)
        self.assertTrue(msgs[0].endswith(b"Subject: utf8 mailbox\r\n\r\nhi\r\n"))

    def test_non_ascii_address_without_smtputf8(self):
        with SmtpRaw(self.herald.smtp_port, greet=True) as s:
            s.ehlo()
            s.cmd("MAIL FROM:<jürgen@müller.example>").check("553 5.6.7", "UTF-8 sender without SMTPUTF8")
            s.cmd("MAIL FROM:<ascii@client.test>").check("250 2.1.0", "MAIL")
            s.cmd("RCPT TO:<zoë@example.test>").check("553 5.6.7", "UTF-8 recipient without SMTPUTF8")

    def test_unknown_local_user(self):
        s = self.smtp()
        s.ehlo()
        assert_reply(self, s.mail("a@client.test"), 250, "2.1.0", "MAIL")
        assert_reply(self, s.rcpt("no-such-user@example.test"), 550, "5.1.1", "RCPT to unknown user")

    def test_local_domains_are_case_insensitive(self):
        rcpt = self.new_user()
        local, _ = rcpt.split("@")
        s = self.smtp()
        s.ehlo()
        assert_reply(self, s.mail("a@client.test"), 250, "2.1.0", "MAIL")
        assert_reply(self, s.rcpt(f"{local}@EXAMPLE.TEST"), 250, "2.1.5", "RCPT with upper-case domain")

    def test_address_length_limits(self):
        s = self.smtp()
        s.ehlo()
        with self.subTest("local part of 65 octets in MAIL"):
            code, msg = s.mail("a" * 65 + "@client.test")
            self.assertGreaterEqual(code, 500, f"MAIL with a 65-octet local part: {code} {msg!r}")
        s.rset()
        assert_reply(self, s.mail("a" * 64 + "@client.test"), 250, "2.1.0", "64-octet local part")
        with self.subTest("local part of 65 octets in RCPT"):
            code, msg = s.rcpt("b" * 65 + "@far.example")
            self.assertGreaterEqual(code, 500, f"RCPT with a 65-octet local part: {code} {msg!r}")
        with self.subTest("domain of 256 octets"):
            domain = ".".join(["d" * 63] * 4) + ".ab"  # 63*4 + 3 + 3 = 258 octets
            code, msg = s.rcpt("x@" + domain)
            self.assertGreaterEqual(code, 500, f"RCPT with a {len(domain)}-octet domain: {code} {msg!r}")
        assert_reply(self, s.rcpt("b" * 64 + "@far.example"), 250, "2.1.5", "64-octet local part")

    def test_bad_address_syntax(self):
        s = self.smtp()
        s.ehlo()
        bad = [";sleep 1;", "a@@client.test", "foo@", "foo@bar..test", "\"unterminated@client.test"]
        for addr in bad:
            with self.subTest(sender=addr):
                assert_reply(self, s.docmd("MAIL", f"FROM:<{addr}>"), 501, "5.1.7", f"MAIL FROM:<{addr}>")
        assert_reply(self, s.mail("ok@client.test"), 250, "2.1.0", "MAIL")
        for addr in bad:
            with self.subTest(recipient=addr):
                assert_reply(self, s.docmd("RCPT", f"TO:<{addr}>"), 501, "5.1.3", f"RCPT TO:<{addr}>")

    def test_simple_command_replies(self):
        s = self.smtp()
        s.ehlo()
        cases = [
            ("NOOP", 250, "2.0.0"), ("RSET", 250, "2.0.0"), ("HELP", 214, None),
            ("VRFY alice@example.test", 252, None), ("EXPN staff", 502, "5.5.1"),
            ("SEND FROM:<a@client.test>", 502, "5.5.1"), ("SOML FROM:<a@client.test>", 502, "5.5.1"),
            ("SAML FROM:<a@client.test>", 502, "5.5.1"), ("TURN", 502, "5.5.1"),
            ("FROBNICATE", 500, "5.5.2"), ("NOOP " + "x" * 600, 500, "5.5.2"),
        ]
        for line, code, enhanced in cases:
            with self.subTest(command=line[:30]):
                verb, _, arg = line.partition(" ")
                assert_reply(self, s.docmd(verb, arg), code, enhanced, line[:30])
        assert_reply(self, s.noop(), 250, "2.0.0", "session still usable after errors")
        assert_reply(self, s.docmd("QUIT"), 221, "2.0.0", "QUIT")
        s.close()

    def test_out_of_order_commands(self):
        s = self.smtp()
        assert_reply(self, s.docmd("MAIL", "FROM:<a@client.test>"), 503, "5.5.1", "MAIL before EHLO")
        s.ehlo()
        assert_reply(self, s.docmd("RCPT", "TO:<x@far.example>"), 503, "5.5.1", "RCPT before MAIL")
        assert_reply(self, s.docmd("DATA"), 503, "5.5.1", "DATA before MAIL")
        assert_reply(self, s.mail("a@client.test"), 250, "2.1.0", "MAIL")
        assert_reply(self, s.docmd("MAIL", "FROM:<b@client.test>"), 503, "5.5.1", "nested MAIL")
        assert_reply(self, s.docmd("DATA"), 503, "5.5.1", "DATA before RCPT")
        assert_reply(self, s.rcpt("x@far.example"), 250, "2.1.5", "RCPT")
        assert_reply(self, s.rset(), 250, "2.0.0", "RSET")
        assert_reply(self, s.docmd("DATA"), 503, "5.5.1", "DATA after RSET")
        assert_reply(self, s.docmd("RCPT", "TO:<x@far.example>"), 503, "5.5.1", "RCPT after RSET")

    def test_unsupported_parameters(self):
        s = self.smtp()
        s.ehlo()
        assert_reply(self, s.mail("a@client.test", ["FOO=BAR"]), 555, "5.5.4", "MAIL with FOO=BAR")
        assert_reply(self, s.mail("a@client.test"), 250, "2.1.0", "MAIL")
        assert_reply(self, s.rcpt("x@far.example", ["FOO=BAR"]), 555, "5.5.4", "RCPT with FOO=BAR")

    def test_pipelined_transaction_is_answered_in_order(self):
        rcpt1, rcpt2 = self.new_user(), self.new_user()
        with SmtpRaw(self.herald.smtp_port, greet=True) as s:
            s.ehlo()
            s.send(f"MAIL FROM:<pipe@client.test>\r\nRCPT TO:<{rcpt1}>\r\n"
                   f"RCPT TO:<nobody-x@example.test>\r\nRCPT TO:<{rcpt2}>\r\nDATA\r\n")
            for expected, what in (("250 2.1.0", "MAIL"), ("250 2.1.5", "RCPT 1"), ("550 5.1.1", "RCPT unknown"),
                                   ("250 2.1.5", "RCPT 2"), ("354", "DATA")):
                s.expect(expected, f"pipelined {what}")
            s.send(b"Subject: pipelined\r\n\r\nbody\r\n.\r\nNOOP\r\nQUIT\r\n")
            s.expect("250 2.0.0 Ok: queued as", "end of data")
            s.expect("250 2.0.0", "NOOP")
            s.expect("221 2.0.0", "QUIT")
        for r in (rcpt1, rcpt2):
            with self.subTest(recipient=r):
                self.assertTrue(self.herald.wait_mailbox(r, 1)[0].endswith(b"Subject: pipelined\r\n\r\nbody\r\n"))

    def test_vrfy_default_is_ambiguous(self):
        s = self.smtp()
        s.ehlo()
        code, _ = s.verify("nobody@example.test")
        self.assertEqual(code, 252, "VRFY must not reveal whether a user exists by default")


class VrfyDisabledTest(SmtpCase):
    config = {"smtp": {"vrfy": "disabled"}}

    def test_vrfy_disabled(self):
        s = self.smtp()
        s.ehlo()
        code, msg = s.verify("alice@example.test")
        self.assertEqual(code, 502, f"VRFY with vrfy=disabled: {code} {msg!r}")


class RelayDeniedTest(SmtpCase):
    """A client outside smtp.relay_networks may send only to local domains."""
    config = {"smtp": {"relay_networks": ["192.0.2.0/24"]}}

    def test_remote_recipient_is_refused_local_accepted(self):
        s = self.smtp()
        s.ehlo()
        assert_reply(self, s.mail("outsider@client.test"), 250, "2.1.0", "MAIL")
        assert_reply(self, s.rcpt(f"{unique('far')}@elsewhere.example"), 554, "5.7.1",
                     "RCPT to a remote domain from a client that may not relay")
        rcpt = self.new_user()
        assert_reply(self, s.rcpt(rcpt), 250, "2.1.5", "RCPT to a local user")
        self.assertEqual(self.herald.queue(), [], "nothing may be queued for relay")


class AliasLimitTest(SmtpCase):
    """aliases.max_targets: an alias that expands past it is refused, never cut short."""
    config = {"aliases": {"max_targets": 2}}

    def test_alias_past_max_targets_is_refused_whole(self):
        small = f"{unique('pair')}@example.test"
        big = f"{unique('trio')}@example.test"
        self.herald.cli("alias", "add", small, *[f"{unique(n)}@elsewhere.example" for n in ("p", "q")])
        self.herald.cli("alias", "add", big, *[f"{unique(n)}@elsewhere.example" for n in ("x", "y", "z")])
        s = self.smtp()
        s.ehlo()
        assert_reply(self, s.mail("x@client.test"), 250, "2.1.0", "MAIL")
        assert_reply(self, s.rcpt(big), 550, "5.2.4", "RCPT to an alias of three with max_targets = 2")
        assert_reply(self, s.rcpt(small), 250, "2.1.5", "RCPT to an alias of two")


class SizeLimitTest(SmtpCase):
    config = {"smtp": {"max_message_size": 10000}}

    def test_size_announced(self):
        s = self.smtp()
        s.ehlo()
        self.assertEqual(s.esmtp_features.get("size"), "10000", "SIZE must announce max_message_size")

    def test_size_parameter_over_limit_refused_at_mail(self):
        s = self.smtp()
        s.ehlo()
        assert_reply(self, s.mail("a@client.test", ["SIZE=10001"]), 552, "5.3.4", "MAIL SIZE=10001")
        assert_reply(self, s.mail("a@client.test", ["SIZE=9000"]), 250, "2.1.0", "MAIL SIZE=9000")

    def test_message_over_limit_refused_at_end_of_data(self):
        rcpt = self.new_user()
        s = self.smtp()
        s.ehlo()
        assert_reply(self, s.mail("big@client.test"), 250, "2.1.0", "MAIL without SIZE")
        assert_reply(self, s.rcpt(rcpt), 250, "2.1.5", "RCPT")
        big = b"Subject: too big\r\n\r\n" + b"x" * 70 + b"\r\n"
        big = big * 200  # about 18 kB
        assert_reply(self, s.data(big), 552, "5.3.4", "end of data over max_message_size")
        assert_reply(self, s.noop(), 250, "2.0.0", "session continues")
        # A message under the limit still goes through in the same session.
        small = b"Subject: small\r\n\r\nfits\r\n"
        code, resp = send_raw_transaction(s, "big@client.test", [rcpt], small)
        self.assertEqual(code, 250, resp)
        msgs = self.herald.wait_mailbox(rcpt, 1)
        self.assertEqual(len(msgs), 1, "the oversized message must not be stored")
        self.assertTrue(msgs[0].endswith(small))

    def test_smtplib_sendmail_refuses_oversized_by_size(self):
        rcpt = self.new_user()
        s = self.smtp()
        with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
            s.sendmail("a@client.test", [rcpt], b"Subject: x\r\n\r\n" + b"y" * 20000 + b"\r\n")
        self.assertEqual(cm.exception.smtp_code, 552)


class RecipientLimitTest(SmtpCase):
    config = {"smtp": {"max_recipients": 3}}

    def test_recipients_beyond_limit_get_452(self):
        users = [self.new_user() for _ in range(4)]
        s = self.smtp()
        s.ehlo()
        assert_reply(self, s.mail("many@client.test"), 250, "2.1.0", "MAIL")
        for u in users[:3]:
            assert_reply(self, s.rcpt(u), 250, "2.1.5", f"RCPT {u}")
        assert_reply(self, s.rcpt(users[3]), 452, "4.5.3", "fourth RCPT with max_recipients=3")
        code, resp = s.data(b"Subject: limited\r\n\r\nx\r\n")
        self.assertEqual(code, 250, resp)
        for u in users[:3]:
            with self.subTest(recipient=u):
                self.assertEqual(len(self.herald.wait_mailbox(u, 1)), 1)
        self.assertEqual(self.herald.mailbox_count(users[3]), 0, "the refused recipient must get nothing")


class QuotaTest(SmtpCase):

    def test_over_quota_mailbox_gets_452_at_rcpt(self):
        rcpt = self.new_user("quota", quota="10k")
        body = b"Subject: filler\r\n\r\n" + (b"z" * 98 + b"\r\n") * 40  # about 4 kB
        accepted = 0
        refusal = None
        for i in range(6):
            s = self.smtp()
            try:
                # sendmail declares SIZE=, so the server knows whether the message fits.
                s.sendmail("q@client.test", [rcpt], body)
            except smtplib.SMTPRecipientsRefused as e:
                refusal = e.recipients[rcpt]
                break
            accepted += 1
            self.herald.wait_mailbox(rcpt, accepted)
        self.assertIsNotNone(refusal, f"a 10k mailbox took {accepted} messages of 4 kB without a 452 at RCPT")
        assert_reply(self, refusal, 452, "4.2.2", "RCPT to a full mailbox")
        self.assertGreaterEqual(accepted, 2, "two 4 kB messages fit a 10k quota")


class BareConnectionTest(SmtpCase):

    def test_quit_closes(self):
        s = connect(self.herald.smtp_port)
        s.ehlo()
        code, msg = s.quit()
        self.assertEqual(code, 221, msg)
        self.assertTrue(msg.startswith(b"2.0.0"), msg)


if __name__ == "__main__":
    unittest.main()
