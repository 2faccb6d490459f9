"""test_pop3.py - Herald's POP3 server (RFC 1939, RFC 2449 CAPA) through poplib.

Mail goes in by SMTP and comes out by POP3 byte for byte; TOP, UIDL (stable
across sessions and restarts), DELE/RSET/QUIT semantics (deletions happen
only in the UPDATE state), the maildrop lock, authentication failures that
reveal nothing, the journal's login entries, imported password hashes and
quotas.
"""

import json
import os
import poplib
import shutil
import smtplib
import socket
import subprocess
import time
import unittest
import warnings

from harness import (HOST, Herald, HeraldTestCase, ServerError, retr_bytes, split_trace, unique, wait_for)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # stdlib in 3.11 (deprecated, removed in 3.13)

AUTH_FAILED = b"-ERR [AUTH] Authentication failed."


def deliver(herald, rcpt, message, sender="pop-test@client.test"):
    """deliver - hand message to Herald by SMTP and wait until it is in rcpt's INBOX."""
    before = herald.mailbox_count(rcpt)
    with smtplib.SMTP(HOST, herald.smtp_port, local_hostname="client.test", timeout=15) as s:
        s.ehlo()
        code, resp = s.mail(sender, ["BODY=8BITMIME"])
        assert code == 250, (code, resp)
        code, resp = s.rcpt(rcpt)
        assert code == 250, (code, resp)
        code, resp = s.data(message)
        assert code == 250, (code, resp)
    return herald.wait_mailbox(rcpt, before + 1)


def numbered(i, extra=b""):
    return b"Subject: message %d\r\nX-Seq: %d\r\n\r\nbody of message %d\r\n%s" % (i, i, i, extra)


class Pop3Case(HeraldTestCase):
    config = {}

    @classmethod
    def setUpClass(cls):
        cls.herald = Herald(config=cls.config)

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()

    def login(self, user, password="secret"):
        p = self.herald.pop3(user, password)
        self.addCleanup(self._close, p)
        return p

    @staticmethod
    def _close(p):
        if p.sock is None:  # already quit
            return
        try:
            p.quit()
        except (poplib.error_proto, OSError):
            p.close()

    def check_login(self, user, password="secret"):
        """check_login - log in, STAT, QUIT (fails the test if the login is refused)."""
        p = self.herald.pop3()
        try:
            p.user(user)
            try:
                p.pass_(password)
            except poplib.error_proto as e:
                self.fail(f"login as {user} with password {password!r} refused: {e.args[0]!r}")
            return p.stat()
        finally:
            try:
                p.quit()
            except (poplib.error_proto, OSError):
                p.close()

    def login_error(self, user, password):
        """login_error - the -ERR line a failed USER/PASS login gets (fails the test if it succeeds)."""
        p = self.herald.pop3()
        try:
            try:
                p.user(user)
            except poplib.error_proto as e:
                return ("USER", e.args[0])
            try:
                p.pass_(password)
            except poplib.error_proto as e:
                return ("PASS", e.args[0])
            self.fail(f"login as {user} with password {password!r} succeeded")
        finally:
            p.close()


class RetrievalTest(Pop3Case):

    def test_greeting_and_capabilities(self):
        p = self.herald.pop3()
        self.addCleanup(p.close)
        self.assertTrue(p.getwelcome().startswith(b"+OK"), p.getwelcome())
        caps = p.capa()
        for cap in ("TOP", "UIDL", "USER", "RESP-CODES", "PIPELINING", "EXPIRE", "IMPLEMENTATION"):
            with self.subTest(capability=cap):
                self.assertIn(cap, caps, f"CAPA lacks {cap}: {caps}")
        self.assertEqual(caps.get("EXPIRE"), ["NEVER"], f"EXPIRE should be NEVER: {caps}")

    def test_round_trip_exact_bytes(self):
        user = self.new_user()
        sent = (b"From: Sender <pop-test@client.test>\r\nTo: <" + user.encode() + b">\r\n"
                b"Subject: round trip\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                b"Content-Transfer-Encoding: 8bit\r\n\r\n"
                b"First line\r\n.\r\n..\r\n.starts with dot\r\n\r\n\r\nGr\xc3\xbc\xc3\x9fe \xe2\x82\xac\r\n"
                b" leading space\r\n\ttab\r\ntrailing space \r\n" + b"w" * 990 + b"\r\nlast line\r\n")
        deliver(self.herald, user, sent)
        p = self.login(user)
        count, total = p.stat()
        self.assertEqual(count, 1)
        msg = retr_bytes(p, 1)
        headers, rest = split_trace(msg)
        self.assertEqual(rest, sent, "RETR must return exactly the bytes sent by SMTP, after the trace headers")
        self.assertEqual(total, len(msg), "STAT size must equal the octets RETR returns")
        resp, listing, _ = p.list()
        self.assertEqual(listing, [b"1 %d" % len(msg)], "LIST must give the exact size")
        self.assertEqual(p.list(1), b"+OK 1 %d" % len(msg))

    def test_sizes_are_exact_for_several_messages(self):
        user = self.new_user()
        for i in range(1, 6):
            deliver(self.herald, user, numbered(i, (b"x" * 70 + b"\r\n") * (i * 7)))
        p = self.login(user)
        count, total = p.stat()
        self.assertEqual(count, 5)
        _, listing, _ = p.list()
        sizes = {int(a): int(b) for a, b in (line.split() for line in listing)}
        got_total = 0
        for i in range(1, 6):
            with self.subTest(message=i):
                msg = retr_bytes(p, i)
                got_total += len(msg)
                self.assertEqual(sizes[i], len(msg), f"LIST {i} says {sizes[i]}, RETR gave {len(msg)}")
        self.assertEqual(total, got_total, "STAT total must be the sum of the message sizes")

    def test_top(self):
        user = self.new_user()
        sent = b"Subject: top\r\nX-A: 1\r\n\r\nbody 1\r\nbody 2\r\n.body 3\r\nbody 4\r\n"
        deliver(self.herald, user, sent)
        p = self.login(user)
        full = retr_bytes(p, 1)
        head, _, body = full.partition(b"\r\n\r\n")
        _, lines, _ = p.top(1, 0)
        self.assertEqual(b"".join(l + b"\r\n" for l in lines), head + b"\r\n\r\n",
                         "TOP n 0 must return the header and the blank line")
        _, lines, _ = p.top(1, 3)
        self.assertEqual(b"".join(l + b"\r\n" for l in lines), head + b"\r\n\r\nbody 1\r\nbody 2\r\n.body 3\r\n",
                         "TOP n 3 must add the first three body lines (dot-stuffed on the wire)")
        _, lines, _ = p.top(1, 100)
        self.assertEqual(b"".join(l + b"\r\n" for l in lines), full, "TOP with more lines than the body")
        with self.assertRaises(poplib.error_proto):
            p.top(2, 0)

    def test_commands_need_a_login(self):
        p = self.herald.pop3()
        self.addCleanup(p.close)
        for cmd in ("STAT", "LIST", "RETR 1", "DELE 1", "UIDL"):
            with self.subTest(cmd):
                with self.assertRaises(poplib.error_proto, msg=f"{cmd} before login"):
                    p._shortcmd(cmd)

    def test_pipelined_commands_are_answered_in_order(self):
        user = self.new_user()
        deliver(self.herald, user, numbered(1))
        with socket.create_connection((HOST, self.herald.pop3_port), timeout=10) as s:
            f = s.makefile("rb")
            self.assertTrue(f.readline().startswith(b"+OK"))
            s.sendall(f"USER {user}\r\nPASS secret\r\nSTAT\r\nLIST 1\r\nNOOP\r\nUIDL\r\nQUIT\r\n".encode())
            replies = [f.readline() for _ in range(5)]
            for reply, what in zip(replies, ("USER", "PASS", "STAT", "LIST 1", "NOOP")):
                self.assertTrue(reply.startswith(b"+OK"), f"pipelined {what}: {reply!r}")
            self.assertRegex(replies[2], rb"^\+OK 1 \d+\r\n$")
            self.assertRegex(replies[3], rb"^\+OK 1 \d+\r\n$")
            self.assertTrue(f.readline().startswith(b"+OK"), "UIDL")
            self.assertRegex(f.readline(), rb"^1 [\x21-\x7e]{1,70}\r\n$")
            self.assertEqual(f.readline(), b".\r\n")
            self.assertTrue(f.readline().startswith(b"+OK"), "QUIT")


class DeletionTest(Pop3Case):

    def subjects(self, p):
        count, _ = p.stat()
        out = []
        for i in range(1, count + 1):
            _, lines, _ = p.top(i, 0)
            out += [l.decode() for l in lines if l.startswith(b"Subject:")]
        return out

    def test_dele_rset_and_quit(self):
        user = self.new_user()
        for i in (1, 2, 3):
            deliver(self.herald, user, numbered(i))
        p = self.herald.pop3(user)
        self.assertTrue(p.dele(1).startswith(b"+OK"))
        self.assertEqual(p.stat()[0], 2, "STAT must not count a message marked deleted")
        for cmd in ("RETR 1", "LIST 1", "DELE 1", "TOP 1 0", "UIDL 1"):
            with self.subTest(cmd):
                with self.assertRaises(poplib.error_proto, msg=f"{cmd} on a deleted message"):
                    p._shortcmd(cmd)
        self.assertTrue(p.rset().startswith(b"+OK"))
        self.assertEqual(p.stat()[0], 3, "RSET must unmark deleted messages")
        p.dele(2)
        p.quit()
        p = self.login(user)
        self.assertEqual(self.subjects(p), ["Subject: message 1", "Subject: message 3"],
                         "QUIT must remove exactly the message marked deleted")

    def test_deletions_without_quit_are_not_applied(self):
        user = self.new_user()
        for i in (1, 2):
            deliver(self.herald, user, numbered(i))
        p = self.herald.pop3(user)
        p.dele(1)
        p.dele(2)
        p.sock.close()  # connection lost: no UPDATE state (RFC 1939 6)
        p.file.close()

        def count_after_lock_released():
            p2 = self.herald.pop3(user)
            try:
                return (p2.stat()[0],)
            finally:
                p2.quit()
        (count,) = wait_for(count_after_lock_released, message="the maildrop lock to be released")
        self.assertEqual(count, 2, "a session that ended without QUIT must not delete anything")

    def test_mailbox_lock(self):
        user = self.new_user()
        deliver(self.herald, user, numbered(1))
        first = self.herald.pop3(user)
        second = self.herald.pop3()
        self.addCleanup(second.close)
        second.user(user)
        with self.assertRaises(poplib.error_proto) as cm:
            second.pass_("secret")
        self.assertTrue(cm.exception.args[0].startswith(b"-ERR [IN-USE]"),
                        f"a second login to a locked maildrop: {cm.exception.args[0]!r}")
        first.dele(1)
        first.quit()

        def login_ok():
            p = self.herald.pop3(user)
            n = p.stat()[0]
            p.quit()
            return (n,)
        (count,) = wait_for(login_ok, message="a login after the first session quit")
        self.assertEqual(count, 0)


class UidlTest(Pop3Case):

    def uidls(self, user):
        p = self.herald.pop3(user)
        try:
            _, lines, _ = p.uidl()
            out = {}
            for line in lines:
                n, uid = line.split()
                out[int(n)] = uid.decode()
                self.assertEqual(p.uidl(int(n)), b"+OK %s %s" % (n, uid), "UIDL n must match the listing")
            return out
        finally:
            p.quit()

    def test_uidl_is_stable(self):
        user = self.new_user()
        for i in (1, 2, 3):
            deliver(self.herald, user, numbered(i))
        first = self.uidls(user)
        self.assertEqual(sorted(first), [1, 2, 3])
        self.assertEqual(len(set(first.values())), 3, f"UIDs must be unique: {first}")
        for uid in first.values():
            self.assertRegex(uid, r"^[\x21-\x7e]{1,70}$", "RFC 1939: 1-70 printable characters")
        self.assertEqual(self.uidls(user), first, "UIDL changed between sessions")

        self.herald.restart()
        self.assertEqual(self.uidls(user), first, "UIDL changed across a server restart")

        p = self.herald.pop3(user)
        p.dele(1)
        p.quit()
        after = self.uidls(user)
        self.assertEqual(after, {1: first[2], 2: first[3]},
                         "the remaining messages must keep their UIDs after a deletion")
        deliver(self.herald, user, numbered(4))
        newest = self.uidls(user)
        self.assertNotIn(newest[3], first.values(), "a UID must never be reused")


class AuthTest(Pop3Case):

    def test_failures_look_identical(self):
        user = self.new_user()
        wrong_password = self.login_error(user, "not-the-password")
        unknown_user = self.login_error(f"{unique('ghost')}@example.test", "secret")
        self.assertEqual(wrong_password, ("PASS", AUTH_FAILED), "wrong password")
        self.assertEqual(unknown_user, ("PASS", AUTH_FAILED),
                         "an unknown user must fail exactly like a wrong password (at PASS, same text)")

    def test_failed_logins_slow_down(self):
        h = self.start_herald(config={"auth": {"failure_delay": "150ms", "max_failure_delay": "2s"}})
        user = h.add_user(f"{unique('slow')}@example.test", "secret")
        p = h.pop3()
        self.addCleanup(p.close)
        delays = []
        for attempt in range(3):
            p.user(user)
            started = time.monotonic()
            with self.assertRaises(poplib.error_proto):
                p.pass_("wrong")
            delays.append(time.monotonic() - started)
        self.assertGreaterEqual(delays[0], 0.14, f"first failure answered too fast: {delays}")
        self.assertGreaterEqual(delays[2], 0.5, f"the delay must grow with each failure: {delays}")
        self.assertGreater(delays[2], delays[0], f"the delay must grow with each failure: {delays}")

    def test_logins_are_journaled(self):
        user = self.new_user()
        ghost = f"{unique('ghost')}@example.test"
        self.check_login(user)
        self.login_error(user, "bad")
        self.login_error(ghost, "bad")

        def events():
            entries = self.herald.journal("--address", user)
            kinds = {e.get("event") for e in entries}
            return entries if {"login", "login_failed"} <= kinds else None
        entries = wait_for(events, timeout=10, message=f"login and login_failed entries for {user}")
        for e in entries:
            if e["event"] in ("login", "login_failed"):
                with self.subTest(entry=e):
                    self.assertIn("127.0.0.1", str(e.get("client")), "the journal must name the client")
                    for key in ("time", "event", "queue_id", "message_id", "sender", "recipient",
                                "client", "size", "reply", "detail"):
                        self.assertIn(key, e)
        everything = self.herald.journal()
        self.assertTrue(any(e.get("event") == "login_failed" and ghost in json.dumps(e, ensure_ascii=False)
                            for e in everything),
                        f"a failed login for an unknown user must be journaled too ({ghost})")

    def test_password_from_stdin_and_passwd(self):
        user = f"{unique('stdin')}@example.test"
        self.herald.cli("user", "add", user, "--password-stdin", input="first pass phrase\n")
        self.check_login(user, "first pass phrase")
        self.herald.cli("user", "passwd", user, "--password-stdin", input="second pass phrase\n")
        self.assertEqual(self.login_error(user, "first pass phrase"), ("PASS", AUTH_FAILED),
                         "the old password must stop working at once")
        self.check_login(user, "second pass phrase")

    def import_hash(self, prefix, hashed, password):
        user = f"{unique(prefix)}@example.test"
        self.herald.cli("user", "add", user, "--password-hash", hashed)
        self.check_login(user, password)
        self.assertEqual(self.login_error(user, password + "x"), ("PASS", AUTH_FAILED))
        listing = self.herald.cli("user", "list", "--json").stdout
        self.assertNotIn(hashed, listing, "user list must not reveal password hashes")

    def test_imported_sha512_crypt(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            hashed = crypt.crypt("imported secret", crypt.mksalt(crypt.METHOD_SHA512))
        self.assertTrue(hashed.startswith("$6$"))
        self.import_hash("sha", hashed, "imported secret")

    def test_imported_bcrypt_2y(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            hashed = crypt.crypt("bcrypt secret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 5))
        if not hashed or not hashed.startswith("$2b$"):
            self.skipTest(f"this libcrypt does not make bcrypt hashes ({hashed!r})")
        self.import_hash("bcrypt", "$2y$" + hashed[4:], "bcrypt secret")

    @unittest.skipUnless(shutil.which("argon2"), "the argon2 command is not installed")
    def test_imported_argon2id(self):
        out = subprocess.run(["argon2", "saltsaltsalt", "-id", "-e", "-t", "2", "-m", "12"],
                             input=b"argon secret", capture_output=True, check=True).stdout.decode().strip()
        self.assertTrue(out.startswith("$argon2id$"), out)
        self.import_hash("argon", out, "argon secret")

    def test_bad_hash_is_refused(self):
        res = self.herald.cli("user", "add", f"{unique('bad')}@example.test", "--password-hash", "plaintext",
                              check=False)
        self.assertIn(res.returncode, (1, 2), f"an unrecognised hash must be refused: {res}")
        self.assertTrue(res.stderr.strip(), "the refusal must say why on stderr")


class QuotaTest(Pop3Case):

    def test_quota_fills_and_frees(self):
        user = self.new_user("quota", quota="10k")
        filler = b"Subject: filler\r\n\r\n" + (b"q" * 98 + b"\r\n") * 30  # about 3 kB

        def send():
            """send - smtplib.sendmail (declares SIZE=); the RCPT refusal or None."""
            with smtplib.SMTP(HOST, self.herald.smtp_port, local_hostname="client.test", timeout=15) as s:
                try:
                    s.sendmail("q@client.test", [user], filler)
                except smtplib.SMTPRecipientsRefused as e:
                    return e.recipients[user]
            return None

        stored = 0
        refusal = None
        for _ in range(6):
            refusal = send()
            if refusal:
                break
            stored += 1
            self.herald.wait_mailbox(user, stored)
        self.assertIsNotNone(refusal, f"a 10k mailbox took {stored} messages of 3 kB")
        self.assertEqual((refusal[0], refusal[1][:5]), (452, b"4.2.2"), f"a full mailbox: {refusal}")
        self.assertGreaterEqual(stored, 2)
        p = self.login(user)
        count, total = p.stat()
        self.assertEqual(count, stored, "every accepted message must be in the mailbox")
        self.assertLessEqual(total, 10 * 1024, "the mailbox holds more than its quota")
        for i in range(1, count + 1):
            p.dele(i)
        p.quit()
        wait_for(lambda: send() is None, message="the mailbox to accept mail again after deletions")
        self.assertEqual(len(self.herald.wait_mailbox(user, 1)), 1)


class QuotaRetryTest(Pop3Case):
    config = {"queue": {"retry_interval": "1s"}}

    def test_a_copy_deferred_for_a_full_mailbox_arrives_once_there_is_room(self):
        # Through an alias the RCPT quota check does not apply (the alias has
        # other members); the full member's copy is deferred, stays visible
        # in the queue and is tried again until it fits: never stuck.
        user = self.new_user("qretry", quota="4k")
        other = self.new_user("qother")
        alias = f"{unique('qlist')}@example.test"
        self.herald.cli("alias", "add", alias, user, other)
        big = b"Subject: big\r\n\r\n" + (b"z" * 98 + b"\r\n") * 25  # about 2.5 kB
        for subject in (b"first", b"second"):
            with smtplib.SMTP(HOST, self.herald.smtp_port, local_hostname="client.test", timeout=15) as s:
                s.sendmail("q@client.test", [alias], big.replace(b"big", subject))
        self.herald.wait_mailbox(other, 2)
        self.assertEqual(self.herald.mailbox_count(user), 1)
        rows = wait_for(lambda: [r for r in self.herald.queue() if r["recipient"] == user] or None,
                        message="the deferred copy in the queue")
        self.assertEqual(rows[0]["status"], "deferred")
        self.assertTrue(rows[0]["last_reply"].startswith("452 4.2.2"), rows[0])
        p = self.login(user)
        p.dele(1)
        p.quit()
        delivered = self.herald.wait_mailbox(user, 1)
        self.assertIn(b"Subject: second", delivered[0])
        wait_for(lambda: not [r for r in self.herald.queue() if r["recipient"] == user],
                 message="the queue row to go once delivered")
        self.assertIn(f"to=<{user}>, orig_to=<{alias}>, relay=local", self.herald.log())


class IdleTimeoutTest(Pop3Case):
    config = {"pop3": {"idle_timeout": "1s"}}

    def test_idle_session_is_closed(self):
        user = self.new_user()
        p = self.login(user)
        p.sock.settimeout(15)
        started = time.monotonic()
        try:
            data = p.sock.recv(4096)
            while data:
                data = p.sock.recv(4096)
        except (ConnectionResetError, socket.timeout) as e:
            if isinstance(e, socket.timeout):
                self.fail("the idle POP3 session was not closed within 15s of a 1s idle_timeout")
        self.assertGreaterEqual(time.monotonic() - started, 0.9, "closed before idle_timeout")
        # The lock must be gone: a new session can log in.
        wait_for(lambda: self.herald.mailbox_count(user) == 0, message="a new login after the autologout")


class ErrorLimitTest(Pop3Case):
    config = {"pop3": {"max_errors": 2}}

    def test_max_errors_comes_from_the_config(self):
        # The default is 10; with pop3.max_errors = 2 the second bad command
        # ends the session, as Postfix-style hard error limits do.
        with socket.create_connection((HOST, self.herald.pop3_port), timeout=10) as s:
            f = s.makefile("rb")
            self.assertTrue(f.readline().startswith(b"+OK"))
            s.sendall(b"XYZZY\r\nPLUGH\r\nNOOP\r\n")
            self.assertEqual(f.readline(), b"-ERR unknown command\r\n")
            self.assertEqual(f.readline(), b"-ERR unknown command\r\n")
            self.assertEqual(f.readline(), b"-ERR too many errors\r\n")
            self.assertEqual(f.readline(), b"", "the session should be closed after max_errors")


class SaslSecretTest(HeraldTestCase):
    def test_a_damaged_sasl_secret_stops_the_server_with_its_name(self):
        # The fake-salt secret keeps unknown users' SCRAM salts stable; a
        # damaged one must not be replaced silently (that changes them).
        h = Herald(start=False)
        self.addCleanup(h.close)
        os.makedirs(h.data_dir, exist_ok=True)
        with open(os.path.join(h.data_dir, "sasl.secret"), "wb") as f:
            f.write(b"short")
        h.write_config()
        with self.assertRaises(ServerError) as e:
            h.start(port_retries=1)
        self.assertIn("sasl.secret", str(e.exception))
        with open(os.path.join(h.data_dir, "sasl.secret"), "rb") as f:
            self.assertEqual(f.read(), b"short", "the damaged secret was overwritten")


if __name__ == "__main__":
    unittest.main()
