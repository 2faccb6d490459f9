"""test_auth.py - logging in and submitting mail, as users' mail clients do it.

Covers SMTP AUTH (RFC 4954) with PLAIN, LOGIN, SCRAM-SHA-256 and
SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677; channel bindings tls-unique,
RFC 5929, and tls-exporter, RFC 9266), POP3 USER/PASS and AUTH (RFC 1939,
RFC 5034), the refusal of passwords in clear unless auth.allow_plaintext
says so, submission's rules (RFC 6409: authentication first, a sender the
user owns, Message-ID and Date added, relaying for users), the replies
that must not tell an unknown user from a wrong password, the growing
delay and the lockout after failed logins, and what the journal and the
log (fail2ban's postfix-sasl shape) keep of it.

Clients: smtplib, poplib, raw sockets, curl, swaks, `openssl s_client`
and Cyrus SASL's smtptest/pop3test. Python 3.11's ssl has no tls-exporter,
so SCRAM-SHA-256-PLUS on TLS 1.3 is driven through `openssl s_client
-keymatexport`; on TLS 1.2 Python's get_channel_binding("tls-unique") is
used. Cyrus SASL 2.1.28 (Debian 12) has no tls-exporter either, and names
the mechanism SCRAM-SHA-256 while sending a "p=tls-unique" header, so its
-PLUS is not usable against a strict server: see CyrusTest.
"""

import base64
import email.utils
import hashlib
import hmac
import os
import poplib
import re
import shutil
import smtplib
import ssl
import subprocess
import time
import unittest

from harness import (HOST, HOSTNAME, STRICT, HeraldTestCase, OpensslClient, Pop3Raw,
                     SharedServerCase, SmtpRaw, make_message, split_trace, tls_client_context, unique, wait_for)

AUTH_FAILED = "535 5.7.8 Error: authentication failed"
POP3_AUTH_FAILED = "-ERR [AUTH] Authentication failed."
POP3_PLAINTEXT_REFUSED = "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections."
CYRUS_BIN = "/usr/lib/cyrus/bin"
OTHER_LOOPBACK = "127.0.0.2"


def b64(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def plain(user, password, authzid=""):
    """plain - a SASL PLAIN response (RFC 4616), base64."""
    return b64(f"{authzid}\0{user}\0{password}")


def dated_message(subject, sender, to):
    """dated_message - make_message with a Date header too, so that submission has nothing to add."""
    return make_message(subject, sender=sender, to=to, extra_headers=f"Date: {email.utils.formatdate()}\r\n")


def run(cmd, timeout=90, **kw):
    return subprocess.run(cmd, capture_output=True, timeout=timeout, **kw)


class ScramClient:
    """ScramClient - the client side of SCRAM-SHA-256 (RFC 5802 5, RFC 7677).

    cb_name/cb_data: channel binding for -PLUS ("p=cb_name"); flag: the
    gs2-cbind-flag without binding ("n", or "y" for "I could, but you did
    not offer it")."""

    def __init__(self, user, password, cb_name=None, cb_data=b"", flag="n"):
        self.user = user
        self.password = password
        self.gs2 = (f"p={cb_name}" if cb_name else flag) + ",,"
        self.cb_data = cb_data if cb_name else b""
        self.nonce = b64(os.urandom(18))
        name = user.replace("=", "=3D").replace(",", "=2C")
        self.bare = f"n={name},r={self.nonce}"
        self.server_signature = None

    def first(self):
        return (self.gs2 + self.bare).encode()

    def final(self, server_first):
        text = server_first.decode()
        attrs = dict(kv.split("=", 1) for kv in text.split(","))
        if not attrs["r"].startswith(self.nonce):
            raise AssertionError(f"server nonce does not extend ours: {text!r}")
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), base64.b64decode(attrs["s"]),
                                     int(attrs["i"]))
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = f"c={b64(self.gs2.encode() + self.cb_data)},r={attrs['r']}"
        auth_message = f"{self.bare},{text},{without_proof}".encode()
        signature = hmac.digest(stored_key, auth_message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.digest(salted, b"Server Key", "sha256")
        self.server_signature = hmac.digest(server_key, auth_message, "sha256")
        return f"{without_proof},p={b64(proof)}".encode()

    def verify(self, server_final):
        """verify - the server proved it knows the credentials (v=ServerSignature)."""
        return server_final.decode() == f"v={b64(self.server_signature)}"


def smtp_scram(s, client, mechanism):
    """smtp_scram - a SCRAM exchange in SMTP (RFC 4954 4); returns (final Reply, server verified)."""
    r = s.cmd(f"AUTH {mechanism} {b64(client.first())}")
    if r.code != 334:
        return r, False
    r = s.cmd(b64(client.final(base64.b64decode(r.lines[0]))))
    if r.code != 334:
        return r, False
    verified = client.verify(base64.b64decode(r.lines[0]))
    return s.cmd(""), verified


def pop3_scram(p, client, mechanism):
    """pop3_scram - a SCRAM exchange in POP3 (RFC 5034 4); returns (final status line, server verified)."""
    line = p.cmd(f"AUTH {mechanism} {b64(client.first())}")
    if not line.startswith("+ "):
        return line, False
    line = p.cmd(b64(client.final(base64.b64decode(line[2:]))))
    if not line.startswith("+ "):
        return line, False
    verified = client.verify(base64.b64decode(line[2:]))
    return p.cmd(""), verified


def smtp_tls(port, implicit=False, context=None, source_address=None, ehlo=True):
    """smtp_tls - a raw SMTP session inside TLS (implicit, or EHLO + STARTTLS), EHLO said."""
    ctx = context or tls_client_context()
    if implicit:
        s = SmtpRaw(port, source_address=source_address)
        s.wrap_tls(ctx)
        s.expect(220, "greeting inside TLS")
    else:
        s = SmtpRaw(port, greet=True, source_address=source_address)
        s.ehlo()
        s.cmd("STARTTLS").check("220 2.0.0")
        s.wrap_tls(ctx)
    if ehlo:
        s.ehlo()
    return s


def pop3_tls(port, implicit=False, context=None, source_address=None):
    """pop3_tls - a raw POP3 session inside TLS (pop3s, or STLS)."""
    ctx = context or tls_client_context()
    p = Pop3Raw(port, source_address=source_address)
    if implicit:
        p.wrap_tls(ctx)
    greeting = p.status()
    assert greeting.startswith("+OK"), greeting
    if not implicit:
        line = p.cmd("STLS")
        assert line == "+OK Begin TLS negotiation", line
        p.wrap_tls(ctx)
    return p


class AuthCase(SharedServerCase):
    """A shared server with every listener, allow_plaintext = false (the default)."""

    def new_user(self, prefix="auth"):
        """new_user - (address, password), both unique."""
        password = f"pw-{unique('p')}"
        return self.herald.add_user(f"{unique(prefix)}@example.test", password), password

    def session(self, listener="submission", **kw):
        port = self.herald.ports[listener]
        s = smtp_tls(port, implicit=listener == "smtps", **kw)
        self.addCleanup(s.close)
        return s

    def pop_session(self, listener="pop3", **kw):
        p = pop3_tls(self.herald.ports[listener], implicit=listener == "pop3s", **kw)
        self.addCleanup(p.close)
        return p

    def logged_in(self, user, password, listener="submission"):
        s = self.session(listener)
        s.cmd("AUTH PLAIN " + plain(user, password)).check("235 2.7.0")
        return s

    def mailbox(self, user, password, count):
        return self.herald.wait_mailbox(user, count, password=password, tls=True)

    def journal_entries(self, user, event):
        def found():
            rows = [e for e in self.herald.journal() if e.get("event") == event and e.get("recipient") == user]
            return rows or None
        return wait_for(found, timeout=10, message=f"a journal {event} entry for {user}")


class SubmissionTest(AuthCase):

    def assert_submitted(self, sender, sender_pw, rcpt, rcpt_pw, sent):
        [msg] = self.mailbox(rcpt, rcpt_pw, 1)
        headers, rest = split_trace(msg)
        received = headers[2][1].decode()
        self.assertNotIn(sender, received, "Received must not name the authenticated user")
        self.assertNotIn(sender_pw.encode(), msg, "the password must appear nowhere in the message")
        self.assertRegex(received, r"\(using TLSv1\.3 with cipher [A-Z0-9_-]+ \((\d+)/\1 bits\)\)")
        self.assertRegex(received, r"\bwith ESMTPSA\b", "authenticated submission over TLS is ESMTPSA (RFC 3848)")
        return rest

    def test_smtplib_starttls_login_on_submission(self):
        user, pw = self.new_user()
        rcpt, rpw = self.new_user("rcpt")
        sent = dated_message("submitted", sender=user, to=rcpt)
        with smtplib.SMTP(HOST, self.herald.submission_port, local_hostname="client.test", timeout=15) as s:
            s.starttls(context=self.verified())
            code, msg = s.login(user, pw)
            self.assertEqual((code, msg), (235, b"2.7.0 Authentication successful"))
            self.assertEqual(s.sendmail(user, [rcpt], sent), {})
        rest = self.assert_submitted(user, pw, rcpt, rpw, sent)
        self.assertEqual(rest, sent, "a message with Message-ID and Date is stored unchanged")

    def test_smtp_ssl_login_on_smtps(self):
        user, pw = self.new_user()
        rcpt, rpw = self.new_user("rcpt")
        sent = dated_message("over smtps", sender=user, to=rcpt)
        with smtplib.SMTP_SSL(HOST, self.herald.smtps_port, local_hostname="client.test", timeout=15,
                              context=self.verified()) as s:
            s.login(user, pw)
            self.assertEqual(s.sendmail(user, [rcpt], sent), {})
        self.assert_submitted(user, pw, rcpt, rpw, sent)

    def test_mail_before_auth_is_refused(self):
        for listener in ("submission", "smtps"):
            with self.subTest(listener=listener):
                s = self.session(listener)
                s.cmd("MAIL FROM:<someone@example.test>").check("530 5.7.0", "MAIL before AUTH")

    def test_forged_sender_is_refused(self):
        user, pw = self.new_user()
        other, _ = self.new_user("other")
        for listener in ("submission", "smtps"):
            for forged in (other, "ceo@bank.example.org", "<>"):
                with self.subTest(listener=listener, sender=forged):
                    s = self.logged_in(user, pw, listener)
                    path = "<>" if forged == "<>" else f"<{forged}>"
                    s.cmd(f"MAIL FROM:{path}").check("553 5.7.1", f"MAIL FROM:{path} as {user}")
                    s.cmd(f"MAIL FROM:<{user}>").check("250 2.1.0", "the user's own address")

    def test_alias_sender_needs_the_user_among_its_targets(self):
        alice, apw = self.new_user("alice")
        bob, _ = self.new_user("bob")
        carol, cpw = self.new_user("carol")
        team = f"{unique('team')}@example.test"
        self.herald.cli("alias", "add", team, alice, bob)
        s = self.logged_in(alice, apw)
        s.cmd(f"MAIL FROM:<{team}>").check("250 2.1.0", "an alias that delivers to the user")
        s = self.logged_in(carol, cpw)
        s.cmd(f"MAIL FROM:<{team}>").check("553 5.7.1", "an alias that does not deliver to the user")

    def test_send_as_allows_any_sender(self):
        user, pw = self.new_user("sendas")
        other, _ = self.new_user("other")
        self.herald.cli("user", "send-as", user, "on")
        s = self.logged_in(user, pw)
        s.cmd(f"MAIL FROM:<{other}>").check("250 2.1.0", "send-as on: another user's address")
        s.cmd("RSET").check(250)
        s.cmd("MAIL FROM:<newsletter@elsewhere.example.org>").check("250 2.1.0", "send-as on: any address")
        self.herald.cli("user", "send-as", user, "off")
        s = self.logged_in(user, pw)
        s.cmd(f"MAIL FROM:<{other}>").check("553 5.7.1", "send-as off again")

    def test_authenticated_user_may_relay(self):
        user, pw = self.new_user()
        remote = f"{unique('far')}@remote.example.org"
        s = self.logged_in(user, pw)
        s.cmd(f"MAIL FROM:<{user}>").check(250)
        s.cmd(f"RCPT TO:<{remote}>").check("250 2.1.5", "an authenticated user may relay")
        s.data(make_message("relayed", sender=user, to=remote)).check("250 2.0.0")
        rows = wait_for(lambda: [r for r in self.herald.queue() if r.get("recipient") == remote],
                        timeout=10, message=f"a queue row for {remote}")
        self.assertEqual(rows[0]["sender"], user)
        # Queued for other servers: waiting for its first attempt, or deferred
        # by it (the test server has no route out).
        self.assertIn(rows[0]["status"], ("pending", "deferred"))

    def test_message_id_and_date_are_added_when_missing(self):
        user, pw = self.new_user()
        rcpt, rpw = self.new_user("rcpt")
        sent = f"From: <{user}>\r\nTo: <{rcpt}>\r\nSubject: bare\r\n\r\nno id, no date\r\n".encode()
        s = self.logged_in(user, pw)
        s.cmd(f"MAIL FROM:<{user}>").check(250)
        s.cmd(f"RCPT TO:<{rcpt}>").check(250)
        s.data(sent).check("250 2.0.0")
        [msg] = self.mailbox(rcpt, rpw, 1)
        rest = split_trace(msg)[1]
        header, _, body = rest.partition(b"\r\n\r\n")
        fields = [f for f in re.split(rb"\r\n(?![ \t])", header)]
        names = [f.split(b":", 1)[0].lower() for f in fields]
        self.assertEqual(names.count(b"message-id"), 1, f"exactly one Message-ID: {header!r}")
        self.assertEqual(names.count(b"date"), 1, f"exactly one Date: {header!r}")
        msgid = next(f for f in fields if f.lower().startswith(b"message-id:")).split(b":", 1)[1].strip()
        self.assertRegex(msgid.decode(), r"^<[^<>@\s]+@[^<>@\s]+>$", "Message-ID syntax (RFC 5322 3.6.4)")
        date = next(f for f in fields if f.lower().startswith(b"date:")).split(b":", 1)[1].strip()
        when = email.utils.parsedate_to_datetime(date.decode())
        self.assertLess(abs(time.time() - when.timestamp()), 300, f"Date must be now: {date!r}")
        self.assertEqual(body, b"no id, no date\r\n")
        for line in (b"From: <" + user.encode() + b">", b"Subject: bare"):
            self.assertIn(line, fields, "the client's own headers are kept")

    def test_mail_auth_parameter_is_accepted(self):
        # RFC 4954 5: a server that advertises AUTH must support the AUTH=
        # parameter of MAIL FROM (curl sends it with --mail-auth).
        user, pw = self.new_user()
        for value in ("<>", f"<{user}>"):
            with self.subTest(auth=value):
                s = self.logged_in(user, pw)
                s.cmd(f"MAIL FROM:<{user}> AUTH={value}").check("250 2.1.0", f"MAIL FROM with AUTH={value}")
        if shutil.which("curl"):
            rcpt, rpw = self.new_user("rcpt")
            path = os.path.join(self.herald.tmp, f"{unique('m')}.eml")
            with open(path, "wb") as f:
                f.write(dated_message("mail-auth", user, rcpt))
            res = run(["curl", "-sS", "--max-time", "30", "-k", f"smtps://{HOST}:{self.herald.smtps_port}",
                       "-u", f"{user}:{pw}", "--mail-from", user, "--mail-auth", user, "--mail-rcpt", rcpt,
                       "-T", path])
            self.assertEqual(res.returncode, 0, f"curl --mail-auth: {res.stderr.decode()}")

    def test_port_25_auth_in_tls_relays_and_says_esmtpsa(self):
        user, pw = self.new_user()
        rcpt, rpw = self.new_user("rcpt")
        s = self.logged_in(user, pw, "smtp")
        s.cmd(f"MAIL FROM:<{user}>").check(250)
        s.cmd(f"RCPT TO:<{rcpt}>").check(250)
        s.data(make_message("port 25 with auth", sender=user, to=rcpt)).check("250 2.0.0")
        [msg] = self.mailbox(rcpt, rpw, 1)
        self.assertRegex(split_trace(msg)[0][2][1].decode(), r"\bwith ESMTPSA\b")


class SmtpAuthRepliesTest(AuthCase):

    def test_unknown_user_and_wrong_password_get_the_same_reply(self):
        user, pw = self.new_user()
        ghost = f"{unique('ghost')}@example.test"
        replies = {}
        for what, (u, p) in (("wrong password", (user, pw + "x")), ("unknown user", (ghost, pw)),
                             ("unknown domain", ("nobody@nowhere.example.org", pw))):
            s = self.session()
            replies[what] = s.cmd("AUTH PLAIN " + plain(u, p)).text
            r = s.cmd("AUTH LOGIN")
            self.assertEqual(r.first, "334 VXNlcm5hbWU6")
            s.cmd(b64(u)).check("334 UGFzc3dvcmQ6")
            replies[what + " (LOGIN)"] = s.cmd(b64(p)).text
        for what, text in replies.items():
            self.assertEqual(text, AUTH_FAILED + "\r\n", f"{what}: {text!r}")

    def test_plain_with_and_without_initial_response(self):
        user, pw = self.new_user()
        s = self.session()
        self.assertEqual(s.cmd("AUTH PLAIN " + plain(user, pw)).first, "235 2.7.0 Authentication successful")
        s = self.session()
        self.assertEqual(s.cmd("AUTH PLAIN").first.rstrip(), "334", "PLAIN without initial response: empty challenge")
        s.cmd(plain(user, pw)).check("235 2.7.0")
        s = self.session()
        s.cmd("AUTH PLAIN " + plain(user, pw, authzid=user)).check("235 2.7.0", "authzid equal to the user")

    def test_login_mechanism(self):
        user, pw = self.new_user()
        s = self.session()
        s.cmd("AUTH LOGIN").check("334 VXNlcm5hbWU6")
        s.cmd(b64(user)).check("334 UGFzc3dvcmQ6")
        s.cmd(b64(pw)).check("235 2.7.0")
        s = self.session("smtps")
        s.cmd("AUTH LOGIN " + b64(user)).check("334 UGFzc3dvcmQ6", "LOGIN with the user name as initial response")
        s.cmd(b64(pw)).check("235 2.7.0")

    def test_authzid_of_another_user_is_refused(self):
        user, pw = self.new_user()
        other, _ = self.new_user("other")
        s = self.session()
        s.cmd("AUTH PLAIN " + plain(user, pw, authzid=other)).check("535 5.7.8", "acting as another user")
        s.cmd(f"MAIL FROM:<{other}>").check("530 5.7.0", "not logged in")

    def test_second_auth_is_refused(self):
        user, pw = self.new_user()
        s = self.logged_in(user, pw)
        s.cmd("AUTH PLAIN " + plain(user, pw)).check("503 5.5.1")

    def test_malformed_base64_is_501(self):
        user, pw = self.new_user()
        for bad in ("%%%%", "A", "=AAA", "AAA=AAA=", "@" * 5000, plain(user, pw)[:-2] + "!!"):
            with self.subTest(response=bad[:20]):
                s = self.session()
                s.cmd(f"AUTH PLAIN {bad}").check("501 5.5.2", "malformed base64 as initial response")
                s.cmd("NOOP").check(250, "the session goes on")
                s.cmd("AUTH PLAIN").check(334)
                s.cmd(bad).check("501 5.5.2", "malformed base64 as a continuation line")
        s = self.session()
        s.cmd("AUTH LOGIN").check(334)
        s.cmd("%%%%").check("501 5.5.2", "LOGIN user name in bad base64")

    def test_malformed_plain_message_is_501(self):
        user, pw = self.new_user()
        for bad in (f"\0{user}\0{pw}\0extra", f"{user}{pw}", f"\0{user}", f"\0{user}\r\n\0{pw}",
                    f"\0{user}\0{pw}\r\n", f"\0\0{pw}"):
            with self.subTest(decoded=bad):
                s = self.session()
                s.cmd("AUTH PLAIN " + b64(bad)).check("501 5.5.2")
                s.cmd("NOOP").check(250, "the session goes on")

    def test_cancel_is_501_5_0_0(self):
        for mechanism in ("PLAIN", "LOGIN", "SCRAM-SHA-256"):
            with self.subTest(mechanism=mechanism):
                s = self.session()
                s.cmd(f"AUTH {mechanism}").check(334)
                s.cmd("*").check("501 5.0.0")
                s.cmd("NOOP").check(250)

    def test_unknown_mechanisms_are_504(self):
        for mechanism in ("CRAM-MD5", "DIGEST-MD5", "XOAUTH2 dXNlcj0=", "GSSAPI", "ANONYMOUS"):
            with self.subTest(mechanism=mechanism):
                self.session().cmd(f"AUTH {mechanism}").check("504 5.5.4")

    def test_successful_login_is_journaled(self):
        user, pw = self.new_user()
        self.logged_in(user, pw)
        [entry] = self.journal_entries(user, "login")
        self.assertIn("submission", entry["detail"])
        self.assertIn("PLAIN", entry["detail"])
        self.assertIn("127.0.0.1", entry["client"])

    def test_failed_login_is_journaled_and_logged_for_fail2ban(self):
        user, pw = self.new_user()
        secret_guess = f"guess-{unique('g')}"
        self.session().cmd("AUTH PLAIN " + plain(user, secret_guess)).check("535 5.7.8")
        s = self.session("smtps")
        s.cmd("AUTH LOGIN").check(334)
        s.cmd(b64(user)).check(334)
        s.cmd(b64(secret_guess)).check("535 5.7.8")
        entries = wait_for(lambda: len(self.journal_entries(user, "login_failed")) >= 2 and
                           self.journal_entries(user, "login_failed"), timeout=10, message="two login_failed")
        details = sorted(e["detail"] for e in entries)
        self.assertTrue(any("PLAIN" in d and "submission" in d for d in details), details)
        self.assertTrue(any("LOGIN" in d for d in details), details)
        for e in entries:
            self.assertIn("127.0.0.1", e["client"])
        pattern = (r"herald/smtpd\[\d+\]: warning: localhost\[127\.0\.0\.1\]: SASL (PLAIN|LOGIN) "
                   r"authentication failed: authentication failure, sasl_username=" + re.escape(user) + "$")
        lines = wait_for(lambda: len(re.findall(pattern, self.herald.log(), re.M)) >= 2 and
                         re.findall(pattern, self.herald.log(), re.M), timeout=10,
                         message="two postfix-sasl shaped warnings in the log")
        self.assertEqual(sorted(lines), ["LOGIN", "PLAIN"])
        self.assertNotIn(secret_guess, self.herald.log(), "a guessed password must not be logged")
        self.assertNotIn(secret_guess, str(self.herald.journal()), "a guessed password must not be journaled")


class PlaintextTest(AuthCase):
    """allow_plaintext = false (the default): no password travels in clear."""

    def test_smtp_auth_in_clear_is_538(self):
        user, pw = self.new_user()
        for name, port in (("smtp", self.herald.smtp_port), ("submission", self.herald.submission_port)):
            with self.subTest(listener=name):
                with SmtpRaw(port, greet=True) as s:
                    ehlo = s.ehlo()
                    self.assertNotIn("AUTH", ehlo.text, "AUTH must not be offered in clear")
                    s.cmd("AUTH PLAIN " + plain(user, pw)).check("538 5.7.11", "valid credentials in clear")
                    s.cmd("AUTH LOGIN").check("538 5.7.11")
                    s.cmd("AUTH SCRAM-SHA-256").check("538 5.7.11")
                    if name == "submission":
                        s.cmd(f"MAIL FROM:<{user}>").check("530 5.7.0", "not logged in after the refusal")
        self.assertFalse([e for e in self.herald.journal() if e.get("event") == "login" and e.get("recipient") == user],
                         "no login may have happened")

    def test_smtplib_login_in_clear_fails(self):
        user, pw = self.new_user()
        with smtplib.SMTP(HOST, self.herald.submission_port, timeout=15) as s:
            s.ehlo("client.test")
            with self.assertRaises(smtplib.SMTPNotSupportedError):
                s.login(user, pw)

    def test_pop3_in_clear_is_refused(self):
        user, pw = self.new_user()
        p = poplib.POP3(HOST, self.herald.pop3_port, timeout=15)
        self.addCleanup(p.close)
        with self.assertRaises(poplib.error_proto) as cm:
            p.user(user)
        self.assertEqual(cm.exception.args[0].decode(), POP3_PLAINTEXT_REFUSED)
        with self.assertRaises(poplib.error_proto) as cm:
            p.pass_(pw)
        self.assertEqual(cm.exception.args[0].decode(), POP3_PLAINTEXT_REFUSED)
        with Pop3Raw(self.herald.pop3_port) as raw:
            raw.status()
            self.assertEqual(raw.cmd("AUTH PLAIN " + plain(user, pw)), POP3_PLAINTEXT_REFUSED)
            self.assertTrue(raw.cmd("STAT").startswith("-ERR"))

    @unittest.skipUnless(shutil.which("curl"), "curl is not installed")
    def test_curl_without_tls_cannot_log_in(self):
        user, pw = self.new_user()
        path = os.path.join(self.herald.tmp, f"{unique('m')}.eml")
        with open(path, "wb") as f:
            f.write(b"Subject: clear\r\n\r\nin clear\r\n")
        res = run(["curl", "-sS", "--max-time", "30", f"smtp://{HOST}:{self.herald.submission_port}",
                   "-u", f"{user}:{pw}", "--mail-from", user, "--mail-rcpt", user, "-T", path])
        self.assertNotEqual(res.returncode, 0, "curl in clear must not get mail through submission")
        res = run(["curl", "-sS", "--max-time", "30", f"pop3://{HOST}:{self.herald.pop3_port}/", "-u", f"{user}:{pw}"])
        self.assertEqual(res.returncode, 67, f"curl pop3:// in clear: login denied expected: {res}")


class PlaintextAllowedTest(AuthCase):
    """auth.allow_plaintext = true: passwords in clear are accepted (trusted networks)."""

    config = {"auth": {"allow_plaintext": True, "max_failures": 1000}}

    def test_smtp_auth_in_clear_is_offered_without_plus(self):
        user, pw = self.new_user()
        with SmtpRaw(self.herald.submission_port, greet=True) as s:
            kw = {line.split(" ", 1)[0]: line for line in s.ehlo().lines}
            self.assertEqual(kw.get("AUTH"), "AUTH SCRAM-SHA-256 PLAIN LOGIN",
                             "in clear, AUTH is offered, but not -PLUS (there is no channel to bind)")
            self.assertIn("STARTTLS", kw)
            s.cmd("AUTH PLAIN " + plain(user, pw)).check("235 2.7.0")
            s.cmd(f"MAIL FROM:<{user}>").check(250)

    def test_pop3_user_pass_in_clear(self):
        user, pw = self.new_user()
        p = poplib.POP3(HOST, self.herald.pop3_port, timeout=15)
        self.addCleanup(p.close)
        capa = p.capa()
        self.assertIn("USER", capa)
        self.assertEqual(capa.get("SASL"), ["SCRAM-SHA-256", "PLAIN", "LOGIN"])
        p.user(user)
        self.assertTrue(p.pass_(pw).startswith(b"+OK"))
        p.quit()

    def test_scram_in_clear(self):
        user, pw = self.new_user()
        with SmtpRaw(self.herald.submission_port, greet=True) as s:
            s.ehlo()
            reply, verified = smtp_scram(s, ScramClient(user, pw), "SCRAM-SHA-256")
            reply.check("235 2.7.0")
            self.assertTrue(verified)


class Pop3AuthTest(AuthCase):

    def test_poplib_stls_user_pass(self):
        user, pw = self.new_user()
        p = poplib.POP3(HOST, self.herald.pop3_port, timeout=15)
        self.addCleanup(p.close)
        p.stls(context=self.verified())
        p.user(user)
        self.assertTrue(p.pass_(pw).startswith(b"+OK"))
        self.assertEqual(p.stat(), (0, 0))
        p.quit()

    def test_poplib_pop3_ssl_user_pass(self):
        user, pw = self.new_user()
        p = poplib.POP3_SSL(HOST, self.herald.pop3s_port, timeout=15, context=self.verified())
        self.addCleanup(p.close)
        p.user(user)
        self.assertTrue(p.pass_(pw).startswith(b"+OK"))
        self.assertEqual(p.stat(), (0, 0))
        p.quit()

    def test_auth_plain_and_login(self):
        user, pw = self.new_user()
        for listener in ("pop3", "pop3s"):
            with self.subTest(listener=listener, mechanism="PLAIN initial"):
                p = self.pop_session(listener)
                self.assertTrue(p.cmd("AUTH PLAIN " + plain(user, pw)).startswith("+OK maildrop has "))
                self.assertTrue(p.cmd("STAT").startswith("+OK 0 0"))
                p.cmd("QUIT")
            with self.subTest(listener=listener, mechanism="PLAIN"):
                p = self.pop_session(listener)
                self.assertEqual(p.cmd("AUTH PLAIN").rstrip(), "+")
                self.assertTrue(p.cmd(plain(user, pw)).startswith("+OK maildrop has "))
                p.cmd("QUIT")
            with self.subTest(listener=listener, mechanism="LOGIN"):
                p = self.pop_session(listener)
                self.assertTrue(p.cmd("AUTH LOGIN").startswith("+ "))
                self.assertTrue(p.cmd(b64(user)).startswith("+ "))
                self.assertTrue(p.cmd(b64(pw)).startswith("+OK maildrop has "))
                p.cmd("QUIT")

    def test_failures_look_identical(self):
        user, pw = self.new_user()
        ghost = f"{unique('ghost')}@example.test"
        answers = {}
        for what, (u, w) in (("wrong password", (user, pw + "x")), ("unknown user", (ghost, pw))):
            p = self.pop_session("pop3s")
            answers[what + " AUTH PLAIN"] = p.cmd("AUTH PLAIN " + plain(u, w))
            p = self.pop_session("pop3")
            p.cmd(f"USER {u}")
            answers[what + " USER/PASS"] = p.cmd(f"PASS {w}")
        for what, line in answers.items():
            self.assertEqual(line, POP3_AUTH_FAILED, what)

    def test_malformed_and_cancelled(self):
        p = self.pop_session("pop3s")
        self.assertTrue(p.cmd("AUTH PLAIN %%%%").startswith("-ERR"), "malformed base64")
        self.assertTrue(p.cmd("AUTH PLAIN").startswith("+"))
        self.assertTrue(p.cmd("*").startswith("-ERR"), "cancelled")
        self.assertTrue(p.cmd("AUTH CRAM-MD5").startswith("-ERR"), "unknown mechanism")
        self.assertTrue(p.cmd("CAPA").startswith("+OK"), "the session goes on")
        p.multi()

    def test_pop3_login_is_journaled(self):
        user, pw = self.new_user()
        p = self.pop_session("pop3s")
        self.assertEqual(p.cmd("AUTH PLAIN " + plain(user, "bad")), POP3_AUTH_FAILED)
        self.assertTrue(p.cmd("AUTH PLAIN " + plain(user, pw)).startswith("+OK"))
        [ok] = self.journal_entries(user, "login")
        [failed] = self.journal_entries(user, "login_failed")
        for e in (ok, failed):
            self.assertIn("pop3", e["detail"])
            self.assertIn("PLAIN", e["detail"])


class ScramTest(AuthCase):
    """SCRAM-SHA-256 and -PLUS with a SCRAM client written from RFC 5802."""

    def test_scram_sha_256_on_tls_1_3(self):
        user, pw = self.new_user()
        s = self.session("smtps")
        self.assertEqual(s.sock.version(), "TLSv1.3")
        reply, verified = smtp_scram(s, ScramClient(user, pw), "SCRAM-SHA-256")
        reply.check("235 2.7.0")
        self.assertTrue(verified, "the server signature must verify (mutual authentication)")
        s.cmd(f"MAIL FROM:<{user}>").check(250)

    def test_scram_plus_tls_unique_on_tls_1_2(self):
        user, pw = self.new_user()
        for listener in ("smtps", "submission"):
            with self.subTest(listener=listener):
                s = self.session(listener, context=tls_client_context(maximum=ssl.TLSVersion.TLSv1_2))
                self.assertEqual(s.sock.version(), "TLSv1.2")
                cb = s.sock.get_channel_binding("tls-unique")
                client = ScramClient(user, pw, cb_name="tls-unique", cb_data=cb)
                reply, verified = smtp_scram(s, client, "SCRAM-SHA-256-PLUS")
                reply.check("235 2.7.0")
                self.assertTrue(verified)

    def test_scram_plus_with_foreign_binding_fails(self):
        # What a man in the middle would present: another channel's binding.
        user, pw = self.new_user()
        s = self.session("smtps", context=tls_client_context(maximum=ssl.TLSVersion.TLSv1_2))
        client = ScramClient(user, pw, cb_name="tls-unique", cb_data=os.urandom(12))
        reply, _ = smtp_scram(s, client, "SCRAM-SHA-256-PLUS")
        self.assertEqual(reply.text, AUTH_FAILED + "\r\n")

    def test_scram_plus_with_wrong_binding_type_fails(self):
        user, pw = self.new_user()
        s = self.session("smtps")  # TLS 1.3: tls-unique is not defined there (RFC 9266 3)
        client = ScramClient(user, pw, cb_name="tls-unique", cb_data=os.urandom(12))
        reply, _ = smtp_scram(s, client, "SCRAM-SHA-256-PLUS")
        self.assertTrue(reply.first.startswith("535 5.7.8"), reply.text)

    def test_scram_downgrade_flag_y_fails(self):
        # RFC 5802 6: "y" says the client could bind but thinks the server
        # cannot; the server offered -PLUS, so someone removed it.
        user, pw = self.new_user()
        s = self.session("smtps")
        reply, _ = smtp_scram(s, ScramClient(user, pw, flag="y"), "SCRAM-SHA-256")
        self.assertTrue(reply.first.startswith("535 5.7.8"), reply.text)

    def test_scram_wrong_password_and_unknown_user_fail_alike(self):
        user, pw = self.new_user()
        answers = {}
        for what, (u, w) in (("wrong password", (user, pw + "x")),
                             ("unknown user", (f"{unique('ghost')}@example.test", pw))):
            s = self.session("smtps")
            reply, verified = smtp_scram(s, ScramClient(u, w), "SCRAM-SHA-256")
            self.assertFalse(verified)
            answers[what] = reply.text
        self.assertEqual(answers["wrong password"], AUTH_FAILED + "\r\n")
        self.assertEqual(answers["unknown user"], answers["wrong password"])

    def test_pop3_scram_plus_tls_unique(self):
        user, pw = self.new_user()
        p = self.pop_session("pop3s", context=tls_client_context(maximum=ssl.TLSVersion.TLSv1_2))
        client = ScramClient(user, pw, cb_name="tls-unique", cb_data=p.sock.get_channel_binding("tls-unique"))
        line, verified = pop3_scram(p, client, "SCRAM-SHA-256-PLUS")
        self.assertTrue(line.startswith("+OK maildrop has "), line)
        self.assertTrue(verified)

    def test_pop3_scram_on_tls_1_3(self):
        user, pw = self.new_user()
        p = self.pop_session("pop3")
        line, verified = pop3_scram(p, ScramClient(user, pw), "SCRAM-SHA-256")
        self.assertTrue(line.startswith("+OK maildrop has "), line)
        self.assertTrue(verified)

    @unittest.skipUnless(shutil.which("openssl"), "openssl is not installed")
    def test_scram_plus_tls_exporter_on_tls_1_3(self):
        # RFC 9266: tls-exporter, 32 octets of EXPORTER-Channel-Binding with
        # no context; openssl s_client -keymatexport prints exactly that.
        user, pw = self.new_user()
        for mangle in (False, True):
            with self.subTest(foreign_binding=mangle):
                c = OpensslClient(self.herald.submission_port, starttls="smtp", quiet=False,
                                  workdir=self.herald.tmp,
                                  args=["-keymatexport", "EXPORTER-Channel-Binding", "-keymatexportlen", "32"])
                self.addCleanup(c.close)
                lines = c.read_until(lambda l: "Keying material:" in l, "the exported keying material")
                self.assertTrue(any("TLSv1.3" in l for l in lines), "the session must be TLS 1.3")
                binding = bytes.fromhex(lines[-1].split(":", 1)[1].strip())
                self.assertEqual(len(binding), 32)
                if mangle:
                    binding = bytes([binding[0] ^ 1]) + binding[1:]
                # s_client echoes the end of the clear EHLO reply; a NOOP marks where TLS replies begin.
                c.send("NOOP")
                c.read_until(lambda l: l == "250 2.0.0 Ok", "the NOOP reply")
                c.send("EHLO client.test")
                code, ehlo = c.smtp_reply()
                self.assertIn("250-AUTH SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN LOGIN", ehlo)
                client = ScramClient(user, pw, cb_name="tls-exporter", cb_data=binding)
                c.send(f"AUTH SCRAM-SHA-256-PLUS {b64(client.first())}")
                code, lines = c.smtp_reply()
                self.assertEqual(code, 334, lines)
                c.send(b64(client.final(base64.b64decode(lines[0][4:]))))
                code, lines = c.smtp_reply()
                if mangle:
                    self.assertEqual(lines, [AUTH_FAILED], "a foreign tls-exporter binding must fail")
                else:
                    self.assertEqual(code, 334, lines)
                    self.assertTrue(client.verify(base64.b64decode(lines[0][4:])))
                    c.send("")
                    self.assertEqual(c.smtp_reply(), (235, ["235 2.7.0 Authentication successful"]))
                c.send("QUIT")
                self.assertEqual(c.smtp_reply()[0], 221)


@unittest.skipUnless(shutil.which("curl"), "curl is not installed")
class CurlTest(AuthCase):

    def curl(self, scheme, port, *args):
        return run(["curl", "-sS", "--max-time", "30", "--cacert", self.herald.self_signed_cert,
                    "--resolve", f"{HOSTNAME}:{port}:{HOST}", *args, f"{scheme}://{HOSTNAME}:{port}/"])

    def message_file(self, sender, rcpt, subject):
        path = os.path.join(self.herald.tmp, f"{unique('m')}.eml")
        data = dated_message(subject, sender=sender, to=rcpt)
        with open(path, "wb") as f:
            f.write(data)
        return path, data

    def test_smtp_starttls_and_smtps_submission(self):
        user, pw = self.new_user()
        rcpt, rpw = self.new_user("rcpt")
        for n, (scheme, port, extra) in enumerate((("smtp", self.herald.submission_port, ["--ssl-reqd"]),
                                                   ("smtps", self.herald.smtps_port, []))):
            with self.subTest(scheme=scheme):
                path, data = self.message_file(user, rcpt, f"curl {scheme}")
                res = self.curl(scheme, port, *extra, "-u", f"{user}:{pw}", "--mail-from", user,
                                "--mail-rcpt", rcpt, "-T", path)
                self.assertEqual(res.returncode, 0, f"curl {scheme}: {res.stderr.decode()}")
                msgs = self.mailbox(rcpt, rpw, n + 1)
                self.assertEqual(split_trace(msgs[n])[1], data)

    def test_forged_sender_and_wrong_password(self):
        user, pw = self.new_user()
        other, _ = self.new_user("other")
        path, _ = self.message_file(other, user, "forged")
        res = self.curl("smtps", self.herald.smtps_port, "-u", f"{user}:{pw}", "--mail-from", other,
                        "--mail-rcpt", user, "-T", path)
        self.assertEqual(res.returncode, 55, f"curl must fail at MAIL: {res}")
        self.assertIn(b"553", res.stderr)
        res = self.curl("smtps", self.herald.smtps_port, "-u", f"{user}:wrong", "--mail-from", user,
                        "--mail-rcpt", user, "-T", path)
        self.assertEqual(res.returncode, 67, f"curl must report 'login denied': {res}")

    def test_pop3_stls_and_pop3s(self):
        user, pw = self.new_user()
        sender, spw = self.new_user("sender")
        s = self.logged_in(sender, spw, "smtps")
        s.cmd(f"MAIL FROM:<{sender}>").check(250)
        s.cmd(f"RCPT TO:<{user}>").check(250)
        s.data(make_message("for curl", sender=sender, to=user)).check(250)
        [msg] = self.mailbox(user, pw, 1)
        res = self.curl("pop3", self.herald.pop3_port, "--ssl-reqd", "-u", f"{user}:{pw}")
        self.assertEqual(res.returncode, 0, res.stderr.decode())
        self.assertEqual(res.stdout, b"1 %d\r\n" % len(msg))
        res = run(["curl", "-sS", "--max-time", "30", "--cacert", self.herald.self_signed_cert, "--resolve",
                   f"{HOSTNAME}:{self.herald.pop3s_port}:{HOST}", "-u", f"{user}:{pw}",
                   f"pop3s://{HOSTNAME}:{self.herald.pop3s_port}/1"])
        self.assertEqual(res.returncode, 0, res.stderr.decode())
        self.assertEqual(res.stdout, msg, "curl pop3s:// RETR gives the stored bytes")
        res = self.curl("pop3s", self.herald.pop3s_port, "-u", f"{user}:wrong")
        self.assertEqual(res.returncode, 67)


def swaks_has_tls():
    """swaks_has_tls - swaks can do TLS only with Net::SSLeay (Debian: libnet-ssleay-perl)."""
    if not shutil.which("swaks"):
        return False
    res = run(["swaks", "--support"], timeout=30)
    return b"TLS supported" in res.stdout + res.stderr


@unittest.skipUnless(swaks_has_tls(), "swaks with TLS support is not installed (swaks, libnet-ssleay-perl)")
class SwaksTest(AuthCase):

    def swaks(self, port, *args):
        return run(["swaks", "--server", HOST, "--port", str(port), "--helo", "client.test", "--timeout", "30",
                    *args])

    def test_plain_and_login_over_starttls_and_smtps(self):
        user, pw = self.new_user()
        rcpt, rpw = self.new_user("rcpt")
        cases = (("PLAIN", self.herald.submission_port, "--tls"), ("LOGIN", self.herald.submission_port, "--tls"),
                 ("PLAIN", self.herald.smtps_port, "--tls-on-connect"))
        for n, (mechanism, port, tls) in enumerate(cases):
            with self.subTest(mechanism=mechanism, tls=tls):
                res = self.swaks(port, tls, "--auth", mechanism, "--auth-user", user, "--auth-password", pw,
                                 "--from", user, "--to", rcpt, "--header", f"Subject: swaks {n}")
                out = res.stdout.decode(errors="replace")
                self.assertEqual(res.returncode, 0, out[-2000:])
                self.assertIn("235 2.7.0", out)
                self.assertEqual(len(self.mailbox(rcpt, rpw, n + 1)), n + 1)

    def test_cram_md5_is_not_offered(self):
        user, pw = self.new_user()
        res = self.swaks(self.herald.submission_port, "--tls", "--auth", "CRAM-MD5", "--auth-user", user,
                         "--auth-password", pw, "--from", user, "--to", user)
        out = res.stdout.decode(errors="replace") + res.stderr.decode(errors="replace")
        self.assertNotEqual(res.returncode, 0, out[-2000:])
        self.assertNotIn("235 ", out)
        self.assertNotIn("CRAM-MD5", [l for l in out.splitlines() if "250-AUTH" in l or "250 AUTH" in l][0])

    def test_wrong_password_and_plaintext_fail(self):
        user, pw = self.new_user()
        res = self.swaks(self.herald.submission_port, "--tls", "--auth", "PLAIN", "--auth-user", user,
                         "--auth-password", "wrong", "--from", user, "--to", user)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn(AUTH_FAILED, res.stdout.decode(errors="replace"))
        res = self.swaks(self.herald.submission_port, "--auth", "PLAIN", "--auth-user", user,
                         "--auth-password", pw, "--from", user, "--to", user)
        out = res.stdout.decode(errors="replace")
        self.assertNotEqual(res.returncode, 0, "swaks must not log in without TLS")
        self.assertNotIn("235 ", out)


@unittest.skipUnless(shutil.which("openssl"), "openssl is not installed")
class OpensslSClientTest(AuthCase):

    def s_client(self, port, starttls):
        c = OpensslClient(port, starttls=starttls, workdir=self.herald.tmp,
                          args=["-CAfile", self.herald.self_signed_cert, "-verify_hostname", HOSTNAME,
                                "-verify_return_error"])
        self.addCleanup(c.close)
        return c

    def expect(self, c, code):
        got, lines = c.smtp_reply()
        self.assertEqual(got, code, f"{lines}; transcript {c.transcript}")
        return lines

    def test_starttls_smtp_auth_plain_and_send(self):
        user, pw = self.new_user()
        rcpt, rpw = self.new_user("rcpt")
        c = self.s_client(self.herald.submission_port, "smtp")
        c.send("EHLO client.test")
        self.expect(c, 250)
        c.send("AUTH PLAIN " + plain(user, pw))
        self.expect(c, 235)
        c.send(f"MAIL FROM:<{user}>")
        self.expect(c, 250)
        c.send(f"RCPT TO:<{rcpt}>")
        self.expect(c, 250)
        c.send("DATA")
        self.expect(c, 354)
        for line in ("Subject: via s_client", "", "typed at a terminal", "."):
            c.send(line)
        self.assertTrue(self.expect(c, 250)[0].startswith("250 2.0.0 Ok: queued as "))
        c.send("QUIT")
        self.expect(c, 221)
        [msg] = self.mailbox(rcpt, rpw, 1)
        self.assertTrue(split_trace(msg)[1].endswith(b"Subject: via s_client\r\n\r\ntyped at a terminal\r\n"))

    def test_starttls_smtp_auth_login(self):
        user, pw = self.new_user()
        c = self.s_client(self.herald.smtp_port, "smtp")
        c.send("EHLO client.test")
        self.expect(c, 250)
        c.send("AUTH LOGIN")
        self.expect(c, 334)
        c.send(b64(user))
        self.expect(c, 334)
        c.send(b64(pw))
        self.expect(c, 235)
        c.send("QUIT")
        self.expect(c, 221)

    def test_starttls_pop3_user_pass(self):
        user, pw = self.new_user()
        c = self.s_client(self.herald.pop3_port, "pop3")
        c.send(f"USER {user}")
        self.assertTrue(c.read_until(lambda l: l.startswith(("+OK", "-ERR")))[-1].startswith("+OK"), c.transcript)
        c.send(f"PASS {pw}")
        self.assertTrue(c.read_line().startswith("+OK maildrop has "), c.transcript)
        c.send("STAT")
        self.assertEqual(c.read_line(), "+OK 0 0")
        c.send("QUIT")
        self.assertTrue(c.read_line().startswith("+OK"))


@unittest.skipUnless(os.access(os.path.join(CYRUS_BIN, "smtptest"), os.X_OK),
                     "Cyrus smtptest/pop3test are not installed (Debian package cyrus-clients)")
class CyrusTest(AuthCase):
    """SCRAM as Cyrus SASL (libsasl2-modules) does it, through smtptest and pop3test."""

    def cyrus(self, tool, listener, mechanism, user, password, stdin="QUIT\r\n", env=None):
        implicit = listener in ("smtps", "pop3s")
        cmd = [os.path.join(CYRUS_BIN, tool), "-m", mechanism, "-a", user, "-u", user, "-w", password,
               "-p", str(self.herald.ports[listener]), *(["-s"] if implicit else ["-t", ""]), HOST]
        res = run(cmd, input=stdin.encode(), env=env)
        return (res.stdout + res.stderr).decode("utf-8", "replace")

    def test_smtptest_scram_sha_256(self):
        user, pw = self.new_user()
        rcpt, rpw = self.new_user("rcpt")
        for n, listener in enumerate(("submission", "smtps")):
            with self.subTest(listener=listener):
                mail = (f"MAIL FROM:<{user}>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n"
                        f"Subject: cyrus {n}\r\n\r\nsent by smtptest\r\n.\r\nQUIT\r\n")
                out = self.cyrus("smtptest", listener, "SCRAM-SHA-256", user, pw, stdin=mail)
                self.assertIn("C: AUTH SCRAM-SHA-256 ", out)
                self.assertIn("235 2.7.0", out)
                self.assertIn("Authenticated.", out)
                self.assertRegex(out, r"250 2\.0\.0 Ok: queued as [0-9A-F]{12}")
                self.assertEqual(len(self.mailbox(rcpt, rpw, n + 1)), n + 1)

    def test_pop3test_scram_sha_256(self):
        user, pw = self.new_user()
        for listener in ("pop3", "pop3s"):
            with self.subTest(listener=listener):
                out = self.cyrus("pop3test", listener, "SCRAM-SHA-256", user, pw, stdin="STAT\r\nQUIT\r\n")
                self.assertIn("+OK maildrop has 0 messages", out)
                self.assertIn("Authenticated.", out)
                self.assertIn("+OK 0 0", out)

    def test_wrong_password_fails(self):
        user, pw = self.new_user()
        out = self.cyrus("smtptest", "submission", "SCRAM-SHA-256", user, pw + "x")
        self.assertIn(AUTH_FAILED, out)
        self.assertNotIn("Authenticated.", out)
        out = self.cyrus("pop3test", "pop3s", "SCRAM-SHA-256", user, pw + "x")
        self.assertIn(POP3_AUTH_FAILED, out)
        self.assertNotIn("Authenticated.", out)

    def test_plain_and_login(self):
        user, pw = self.new_user()
        for mechanism in ("PLAIN", "LOGIN"):
            with self.subTest(mechanism=mechanism):
                self.assertIn("Authenticated.", self.cyrus("smtptest", "submission", mechanism, user, pw))
                self.assertIn("Authenticated.", self.cyrus("pop3test", "pop3", mechanism, user, pw))

    def test_smtptest_scram_plus_on_tls_1_2(self):
        # Cyrus binds with tls-unique only, so TLS 1.2 is forced through an
        # OpenSSL configuration file for the client process.
        conf = os.path.join(self.herald.tmp, "tls12-client.cnf")
        with open(conf, "w") as f:
            f.write("openssl_conf = init\n[init]\nssl_conf = ssl\n[ssl]\nsystem_default = sd\n"
                    "[sd]\nMaxProtocol = TLSv1.2\n")
        user, pw = self.new_user()
        out = self.cyrus("smtptest", "submission", "SCRAM-SHA-256-PLUS", user, pw,
                         env={**os.environ, "OPENSSL_CONF": conf})
        self.assertIn("TLSv1.2", out)
        if "Authenticated." in out:
            return
        m = re.search(r"C: AUTH (\S+) (\S+)", out)
        if m and m.group(1) == "SCRAM-SHA-256" and base64.b64decode(m.group(2)).startswith(b"p=tls-unique,"):
            self.skipTest("Cyrus SASL client (Debian 12, 2.1.28) names the mechanism SCRAM-SHA-256 while "
                          "sending gs2 flag p=tls-unique; RFC 5802 requires the server to refuse that, so "
                          "Cyrus cannot test -PLUS (ScramTest covers it)")
        self.fail(f"smtptest -m SCRAM-SHA-256-PLUS failed:\n{out[-3000:]}")


class ThrottleCase(HeraldTestCase):
    """A server per test: failed logins change state that other tests would see."""

    def start(self, **auth):
        # max_failures, failure_window and lockout keep their defaults (10, 15m, 15m) unless given.
        config = {"auth": {"allow_plaintext": False, "failure_delay": "50ms", "max_failure_delay": "400ms",
                           **auth}}
        h = self.start_herald(config=config, protocols=("submission", "smtps", "pop3s"))
        return h

    def session(self, h, listener="submission", source=None):
        port = h.ports[listener]
        s = smtp_tls(port, implicit=listener == "smtps", source_address=(source, 0) if source else None)
        self.addCleanup(s.close)
        return s

    def timed_auth(self, s, user, password):
        started = time.monotonic()
        reply = s.cmd("AUTH PLAIN " + plain(user, password))
        return reply, time.monotonic() - started

    def login_works(self, h, user, password, listener="submission", source=None):
        s = self.session(h, listener, source)
        reply = s.cmd("AUTH PLAIN " + plain(user, password))
        s.close()
        return reply


class ThrottleTest(ThrottleCase):

    def test_twenty_wrong_passwords_are_slowed_down_and_locked_out(self):
        h = self.start()
        user = h.add_user(f"{unique('victim')}@example.test", "right-password")
        bystander = h.add_user(f"{unique('bystander')}@example.test", "bystander-password")
        # failure_delay 50ms doubling per failure in a session, capped at 400ms.
        schedule = [min(0.05 * 2 ** k, 0.4) for k in range(10)]
        started = time.monotonic()
        s = self.session(h)
        times = []
        for attempt in range(10):
            reply, took = self.timed_auth(s, user, f"guess-{attempt}")
            self.assertEqual(reply.first, AUTH_FAILED, f"attempt {attempt + 1}")
            times.append(took)
        for attempt, (took, least) in enumerate(zip(times, schedule)):
            self.assertGreaterEqual(took, least * 0.9, f"failure {attempt + 1} answered after {took:.3f}s, "
                                    f"expected at least {least}s (all: {[round(t, 3) for t in times]})")
        # Lockout after max_failures = 10: the right password is refused, with the same answer.
        reply, _ = self.timed_auth(s, user, "right-password")
        self.assertEqual(reply.first, AUTH_FAILED, "the 11th attempt, with the right password, during the lockout")
        s2 = self.session(h, "smtps")
        more = []
        for attempt in range(10, 19):
            reply, took = self.timed_auth(s2, user, f"guess-{attempt}")
            self.assertEqual(reply.first, AUTH_FAILED, f"attempt {attempt + 2}")
            more.append(took)
        elapsed = time.monotonic() - started
        least = sum(schedule) + 0.4 + sum(schedule[:9])
        self.assertGreaterEqual(elapsed, least * 0.9, f"twenty failures took only {elapsed:.2f}s")

        # Locked out everywhere, whatever the mechanism or protocol.
        self.assertEqual(self.login_works(h, user, "right-password", "smtps").first, AUTH_FAILED)
        p = pop3_tls(h.pop3s_port, implicit=True)
        self.addCleanup(p.close)
        p.cmd(f"USER {user}")
        self.assertEqual(p.cmd("PASS right-password"), POP3_AUTH_FAILED, "POP3 during the lockout")
        s3 = self.session(h, "smtps")
        reply, _ = smtp_scram(s3, ScramClient(user, "right-password"), "SCRAM-SHA-256")
        self.assertEqual(reply.first, AUTH_FAILED, "SCRAM during the lockout")
        # The address is locked too: another account from 127.0.0.1 ...
        self.assertEqual(self.login_works(h, bystander, "bystander-password").first, AUTH_FAILED,
                         "another user from the locked-out address")
        # ... but not from another address, which has not failed: the attacked
        # user gets in there too (auth.user_lockout = false, the default).
        self.assertTrue(self.login_works(h, bystander, "bystander-password", source=OTHER_LOOPBACK)
                        .first.startswith("235"), "another user from another address")
        self.assertTrue(self.login_works(h, user, "right-password", source=OTHER_LOOPBACK).first.startswith("235"),
                        "the attacked user from an address that has not failed")
        failures = [e for e in h.journal() if e.get("event") == "login_failed" and e.get("recipient") == user]
        self.assertGreaterEqual(len(failures), 20, "every failure is journaled")

    def test_guessing_many_users_locks_the_address(self):
        h = self.start(failure_delay="10ms", max_failure_delay="20ms", max_failures=5)
        user = h.add_user(f"{unique('real')}@example.test", "right-password")
        for n in range(5):
            s = self.session(h)
            reply, _ = self.timed_auth(s, f"{unique('guess')}@example.test", "123456")
            self.assertEqual(reply.first, AUTH_FAILED)
            s.close()
        self.assertEqual(self.login_works(h, user, "right-password").first, AUTH_FAILED,
                         "an address that guessed at 5 accounts is locked out")
        self.assertTrue(self.login_works(h, user, "right-password", source=OTHER_LOOPBACK).first.startswith("235"))

    def test_scram_failures_count_towards_the_lockout(self):
        h = self.start(failure_delay="10ms", max_failure_delay="20ms", max_failures=3)
        user = h.add_user(f"{unique('scram')}@example.test", "right-password")
        for n in range(3):
            s = self.session(h, "smtps")
            reply, _ = smtp_scram(s, ScramClient(user, f"guess-{n}"), "SCRAM-SHA-256")
            self.assertEqual(reply.first, AUTH_FAILED)
        self.assertEqual(self.login_works(h, user, "right-password").first, AUTH_FAILED,
                         "three SCRAM failures lock the user out (max_failures = 3)")

    def test_lockout_ends(self):
        # user_penalty 0s: its wait after the third failure would outlast the 2s lockout.
        h = self.start(failure_delay="10ms", max_failure_delay="20ms", max_failures=3, lockout="2s",
                       user_penalty="0s")
        user = h.add_user(f"{unique('patient')}@example.test", "right-password")
        s = self.session(h)
        for n in range(3):
            self.assertEqual(self.timed_auth(s, user, f"guess-{n}")[0].first, AUTH_FAILED)
        locked_at = time.monotonic()
        self.assertEqual(self.login_works(h, user, "right-password").first, AUTH_FAILED, "locked out")
        wait_for(lambda: self.login_works(h, user, "right-password").first.startswith("235"), timeout=20,
                 interval=0.25, message="the lockout to end")
        self.assertGreaterEqual(time.monotonic() - locked_at, 1.5, "the lockout lasted about lockout = 2s")


class RequireAuthTest(HeraldTestCase):
    """smtp.require_auth on the port-25 listener."""

    def test_always(self):
        h = self.start_herald(config={**STRICT, "smtp": {"require_auth": "always"}}, protocols=("smtp",))
        user = h.add_user(f"{unique('ra')}@example.test", "pw")
        s = smtp_tls(h.smtp_port)
        self.addCleanup(s.close)
        s.cmd("MAIL FROM:<sender@client.test>").check("530 5.7.0", "require_auth = always, not logged in")
        s.cmd("AUTH PLAIN " + plain(user, "pw")).check(235)
        s.cmd(f"MAIL FROM:<{user}>").check(250)

    def test_relay(self):
        h = self.start_herald(config={**STRICT, "smtp": {"require_auth": "relay"}}, protocols=("smtp",))
        user = h.add_user(f"{unique('rr')}@example.test", "pw")
        s = smtp_tls(h.smtp_port)
        self.addCleanup(s.close)
        s.cmd("MAIL FROM:<sender@client.test>").check(250)
        s.cmd(f"RCPT TO:<{user}>").check(250, "local mail needs no AUTH")
        s.cmd("RCPT TO:<someone@remote.example.org>").check("554 5.7.1", "relaying needs AUTH even from loopback")
        s.cmd("RSET").check(250)
        s.cmd("AUTH PLAIN " + plain(user, "pw")).check(235)
        s.cmd(f"MAIL FROM:<{user}>").check(250)
        s.cmd("RCPT TO:<someone@remote.example.org>").check(250, "relaying after AUTH")

    def test_never_keeps_loopback_relay(self):
        h = self.start_herald(config=STRICT, protocols=("smtp",))
        with SmtpRaw(h.smtp_port, greet=True) as s:
            s.ehlo()
            s.cmd("MAIL FROM:<sender@client.test>").check(250)
            s.cmd("RCPT TO:<someone@remote.example.org>").check(250, "default: relay_networks without AUTH")


if __name__ == "__main__":
    unittest.main()
