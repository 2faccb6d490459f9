"""test_store_failure.py - what clients hear while the store cannot be read.

A lookup that fails is not an answer about the client: SMTP says 4xx and the
client tries again later (RFC 5321 4.2.5; RFC 4954 6: 454 4.7.0 for AUTH),
POP3 says -ERR [SYS/TEMP] (RFC 3206 4). Never a 535, 553 or [AUTH], which
would tell a good user that their password or address is wrong, and never
a count towards the lockout.

The store is made to fail by renaming its users table from another
connection while the server runs (BrokenUsers): every user lookup then ends
in "no such table", as a damaged or locked database would, and renaming it
back heals it.
"""

import base64
import os
import sqlite3
import unittest

from harness import Herald, HeraldTestCase, Pop3Raw, SmtpRaw, unique


def b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def plain(user, password):
    return b64(f"\0{user}\0{password}")


class BrokenUsers:
    """BrokenUsers - inside the with block, user lookups fail."""

    def __init__(self, herald):
        self.path = os.path.join(herald.data_dir, "herald.db")
        self.db = None

    def __enter__(self):
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.db.execute("ALTER TABLE users RENAME TO users_unavailable")
        return self

    def __exit__(self, *exc):
        self.db.execute("ALTER TABLE users_unavailable RENAME TO users")
        self.db.close()
        return False


class StoreFailureTest(HeraldTestCase):

    @classmethod
    def setUpClass(cls):
        # One failure would lock a user out: a temporary failure must not count.
        cls.herald = Herald(protocols=("smtp", "submission", "pop3"),
                            config={"auth": {"max_failures": 1}})

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()

    def new_user(self):
        user = self.herald.add_user(f"{unique('sf')}@example.test", "secret")
        return user, "secret"

    def submission(self):
        s = SmtpRaw(self.herald.submission_port, greet=True)
        self.addCleanup(s.close)
        s.ehlo()
        return s

    def test_smtp_auth_plain_is_454_then_works(self):
        user, pw = self.new_user()
        s = self.submission()
        with BrokenUsers(self.herald):
            s.cmd("AUTH PLAIN " + plain(user, pw)).check("454 4.7.0", "a lookup failure is no wrong password")
        s.cmd("AUTH PLAIN " + plain(user, pw)).check("235 2.7.0", "not locked out by a temporary failure")

    def test_smtp_auth_scram_is_454_not_a_fake_challenge(self):
        user, pw = self.new_user()
        s = self.submission()
        with BrokenUsers(self.herald):
            # Before the credentials could be read, SCRAM must not go on as
            # for an unknown user (a made-up salt, then 535).
            s.cmd("AUTH SCRAM-SHA-256 " + b64(f"n,,n={user},r=abcdefghijkl")).check("454 4.7.0")
        s.cmd("AUTH PLAIN " + plain(user, pw)).check("235 2.7.0", "not locked out by a temporary failure")
        log = self.herald.log()
        self.assertNotIn(f"authentication failed: authentication failure, sasl_username={user}", log,
                         "fail2ban must not ban clients for our store's failure")
        self.assertIn("could not be checked", log)

    def test_submission_sender_lookup_failure_is_451_not_553(self):
        user, pw = self.new_user()
        s = self.submission()
        s.cmd("AUTH PLAIN " + plain(user, pw)).check("235 2.7.0")
        with BrokenUsers(self.herald):
            s.cmd(f"MAIL FROM:<{user}>").check("451 4.3.0", "a lookup failure is not a forged sender")
        s.cmd(f"MAIL FROM:<{user}>").check(250)

    def test_recipient_lookup_failure_is_451(self):
        user, pw = self.new_user()
        s = SmtpRaw(self.herald.smtp_port, greet=True)
        self.addCleanup(s.close)
        s.ehlo()
        s.cmd("MAIL FROM:<sender@client.test>").check(250)
        with BrokenUsers(self.herald):
            # Never asked before: not in the directory cache.
            s.cmd(f"RCPT TO:<{user}>").check("451 4.3.0")
        s.cmd(f"RCPT TO:<{user}>").check(250)

    def test_pop3_auth_is_sys_temp(self):
        user, pw = self.new_user()
        p = Pop3Raw(self.herald.pop3_port)
        self.addCleanup(p.close)
        self.assertTrue(p.status().startswith("+OK"))
        with BrokenUsers(self.herald):
            self.assertTrue(p.cmd("AUTH PLAIN " + plain(user, pw)).startswith("-ERR [SYS/TEMP]"))
            self.assertTrue(p.cmd("AUTH SCRAM-SHA-256 " + b64(f"n,,n={user},r=abcdefghijkl"))
                            .startswith("-ERR [SYS/TEMP]"))
            self.assertTrue(p.cmd(f"USER {user}").startswith("+OK"))
            self.assertTrue(p.cmd(f"PASS {pw}").startswith("-ERR [SYS/TEMP]"))
        self.assertTrue(p.cmd("AUTH PLAIN " + plain(user, pw)).startswith("+OK"))


if __name__ == "__main__":
    unittest.main()
