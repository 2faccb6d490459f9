"""test_hostile_smtp.py - the SMTP server against hostile clients (issue 11).

Raw sockets send what a spam engine or a smuggler sends: whole transactions
pipelined behind DATA, BDAT chunks with bare line ends and NULs, thousands
of junk commands and surplus recipients. Each must be refused as Postfix
refuses it, leave a "NOQUEUE: reject:" log line that pflogsumm and fail2ban
count and a journal row - and nothing refused may be queued. Mail to
postmaster (RFC 5321 4.5.1) must always find someone.
"""

import os
import re
import subprocess
import tempfile
import unittest

from harness import HOSTNAME, Herald, HeraldTestCase, SmtpRaw, split_trace, wait_for

SYNC = f"554 5.5.0 {HOSTNAME} Error: SMTP protocol synchronization"


# Loopback is in the default relay_networks; these tests want a stranger.
STRANGER = {"relay_networks": []}


class HostileCase(HeraldTestCase):
    config = {"smtp": STRANGER}

    @classmethod
    def setUpClass(cls):
        cls.herald = Herald(config=cls.config)

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()

    def received(self, rcpt):
        """received - queue ids of the messages received for rcpt (journal)."""
        return [e["queue_id"] for e in self.herald.journal()
                if e.get("event") == "received" and rcpt in str(e)]

    def assert_logged(self, pattern):
        """assert_logged - the log gets a line matching pattern (lines are flushed within a second)."""
        wait_for(lambda: re.search(pattern, self.herald.log()), message=f"a log line matching {pattern}")

    def rejected(self, **match):
        """rejected - journal rows of refusals whose fields contain match's values."""
        rows = [e for e in self.herald.journal() if e.get("event") == "rejected"]
        return [e for e in rows if all(v in str(e.get(k, "")) for k, v in match.items())]


class PipeliningTest(HostileCase):
    """RFC 2920 3.1: DATA, BDAT LAST, QUIT and STARTTLS end a command group."""

    def test_two_transactions_in_one_write_are_refused(self):
        rcpt = self.new_user()
        s = self.raw()
        s.ehlo()
        tx = f"MAIL FROM:<a@client.test>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\nSubject: one\r\n\r\nx\r\n.\r\n"
        s.send(tx + tx.replace("one", "two") + "QUIT\r\n")
        replies = s.read_all_replies(timeout=10)
        self.assertEqual([r.first for r in replies], ["250 2.1.0 Ok", "250 2.1.5 Ok", SYNC])
        self.assertTrue(s.peer_closed)
        # Nothing of it queued, and the refusal is on record.
        self.assertEqual(self.received(rcpt), [])
        wait_for(lambda: self.rejected(reply="554 5.5.0", detail="DATA", recipient=""), message="journal row")
        self.assert_logged(r"NOQUEUE: reject: DATA from \S+\[127\.0\.0\.1\]: 554 5\.5\.0 .*"
                         r"synchronization; from=<a@client\.test> proto=ESMTP helo=<client\.test>")

    def test_body_after_refused_rcpt_never_runs_as_commands(self):
        # The smuggling shape of the issue: a refused RCPT, DATA answered
        # 503, and the "body" then read as a second transaction.
        rcpt = self.new_user()
        s = self.raw()
        s.ehlo()
        s.send("MAIL FROM:<a@client.test>\r\nRCPT TO:<nobody@far.example>\r\nDATA\r\n"
               f"MAIL FROM:<forged@example.test>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n"
               "Subject: smuggled\r\n\r\n.\r\n")
        replies = s.read_all_replies(timeout=10)
        self.assertEqual([r.code for r in replies], [250, 554, 554], [r.first for r in replies])
        self.assertEqual(replies[-1].first, SYNC)
        self.assertEqual(self.received(rcpt), [])

    def test_commands_after_bdat_last_are_refused(self):
        rcpt = self.new_user()
        s = self.raw()
        s.ehlo()
        s.send(f"MAIL FROM:<a@client.test>\r\nRCPT TO:<{rcpt}>\r\nBDAT 5 LAST\r\nhi\r\nQUIT\r\n")
        replies = s.read_all_replies(timeout=10)
        self.assertEqual([r.first for r in replies][-1], SYNC)
        self.assertTrue(s.peer_closed)
        self.assertEqual(self.received(rcpt), [])

    def test_quit_followed_by_more_is_refused(self):
        s = self.raw()
        s.ehlo()
        s.send("QUIT\r\nNOOP\r\n")
        self.assertEqual([r.first for r in s.read_all_replies(timeout=10)], [SYNC])

    def test_next_transaction_after_the_final_dot_is_allowed(self):
        # RFC 2920 3.1: the message content may be followed in its group.
        rcpt = self.new_user()
        s = self.raw()
        s.ehlo()
        s.send(f"MAIL FROM:<a@client.test>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n")
        for code in (250, 250, 354):
            s.expect(code)
        s.send(f"Subject: one\r\n\r\n.\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n")
        for code in ("250 2.0.0 Ok: queued as", 250, 250, 354):
            s.expect(code)
        s.send("Subject: two\r\n\r\n.\r\nQUIT\r\n")
        s.expect("250 2.0.0 Ok: queued as")
        s.expect(221)
        self.herald.wait_mailbox(rcpt, 2)


class BdatContentTest(HostileCase):
    """RFC 3030 3: a BDAT message obeys DATA's content rules."""

    def bdat(self, rcpt, chunk):
        s = self.raw()
        s.ehlo()
        s.send(f"MAIL FROM:<a@client.test>\r\nRCPT TO:<{rcpt}>\r\n".encode() + b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        s.expect(250)
        s.expect(250)
        return s.read_reply()

    def test_bare_line_ends_and_nul_are_refused(self):
        rcpt = self.new_user()
        cases = {
            b"Subject: x\r\n\r\nbare\nLF\r\n": "550 5.5.2",
            b"Subject: x\r\n\r\nbare\rCR\r\n": "550 5.5.2",
            b"Subject: x\r\n\r\nnul\x00here\r\n": "554 5.6.0",
        }
        for chunk, code in cases.items():
            with self.subTest(chunk=chunk):
                self.bdat(rcpt, chunk).check(code, "BDAT content")
        self.assertEqual(self.received(rcpt), [])
        wait_for(lambda: len(self.rejected(detail="END-OF-MESSAGE", sender="a@client.test")) >= 3,
                 message="three END-OF-MESSAGE refusals in the journal")

    def test_clean_bdat_is_stored_as_sent(self):
        rcpt = self.new_user()
        body = b"Subject: clean\r\n\r\nline one\r\n.line two\r\n"
        self.bdat(rcpt, body).check("250 2.0.0 Ok: queued as")
        msgs = self.herald.wait_mailbox(rcpt, 1)
        self.assertEqual(split_trace(msgs[0])[1], body)


class JunkTest(HostileCase):
    config = {"smtp": {**STRANGER, "junk_command_limit": 5, "max_errors": 3, "max_recipients": 2,
                       "recipient_overshoot_limit": 3}}

    def test_junk_commands_end_the_session(self):
        s = self.raw()
        s.ehlo()
        s.send("NOOP\r\nRSET\r\nHELP\r\nNOOP\r\nNOOP\r\n" + "NOOP\r\n" * 100)
        replies = s.read_all_replies(timeout=10)
        # Five free, then three counted errors: the eighth is followed by 421.
        self.assertEqual([r.code for r in replies][:8], [250, 250, 214, 250, 250, 250, 250, 250])
        self.assertEqual(replies[8].first, f"421 4.7.0 {HOSTNAME} Error: too many errors")
        self.assertEqual(len(replies), 9)
        self.assertTrue(s.peer_closed)

    def test_recipients_past_the_overshoot_limit_end_the_session(self):
        rcpt = self.new_user()
        s = self.raw()
        s.ehlo()
        s.send("MAIL FROM:<a@client.test>\r\n" + f"RCPT TO:<{rcpt}>\r\n" * 100)
        codes = [r.code for r in s.read_all_replies(timeout=10)]
        # 2 accepted, 3 overshoots free, 3 counted: 421 after the eighth RCPT.
        self.assertEqual(codes, [250, 250, 250, 452, 452, 452, 452, 452, 452, 421])
        self.assertTrue(s.peer_closed)

    def test_a_delivered_message_restarts_the_count(self):
        rcpt = self.new_user()
        s = self.raw()
        s.ehlo()
        for _ in range(3):
            for _ in range(6):
                s.cmd("NOOP").check(250)
            s.cmd("MAIL FROM:<a@client.test>").check(250)
            s.cmd(f"RCPT TO:<{rcpt}>").check(250)
            s.data(b"Subject: between junk\r\n\r\nx\r\n").check("250 2.0.0 Ok: queued as")
        s.cmd("QUIT").check(221)


class RefusalLogTest(HostileCase):
    """Every refusal leaves a Postfix-shaped log line and a journal row."""

    def test_refusals_are_logged_and_journalled(self):
        rcpt = self.new_user()
        s = self.raw()
        s.ehlo("refuser.test")
        s.cmd("MAIL FROM:<spammer@client.test>").check(250)
        s.cmd("RCPT TO:<victim@far.example>").check("554 5.7.1")
        s.cmd("RCPT TO:<nobody@example.test>").check("550 5.1.1")
        s.cmd(f"RCPT TO:<{rcpt}>").check(250)
        s.cmd("DATA").check(354)
        s.send(b"Subject: x\r\n\r\nbare\nLF\r\n.\r\n")
        s.expect("550 5.5.2")
        s.cmd("QUIT").check(221)
        # The lines fail2ban's postfix filter and pflogsumm match.
        self.assert_logged(r"herald/smtpd\[\d+\]: NOQUEUE: reject: RCPT from \S+\[127\.0\.0\.1\]: 554 5\.7\.1 "
                              r"<victim@far\.example>: Relay access denied; from=<spammer@client\.test> "
                              r"to=<victim@far\.example> proto=ESMTP helo=<refuser\.test>")
        self.assert_logged(r"NOQUEUE: reject: RCPT from \S+\[127\.0\.0\.1\]: 550 5\.1\.1 <nobody@example\.test>: "
                              r"Recipient address rejected: User unknown; from=<spammer@client\.test> "
                              r"to=<nobody@example\.test>")
        self.assert_logged(r"NOQUEUE: reject: END-OF-MESSAGE from \S+\[127\.0\.0\.1\]: 550 5\.5\.2 Error: bare "
                              r"<CR> or <LF> in message data; from=<spammer@client\.test>")
        wait_for(lambda: len(self.rejected(sender="spammer@client.test")) == 3, message="three journal rows")
        rows = {e["detail"]: e for e in self.rejected(sender="spammer@client.test", recipient="victim")}
        self.assertEqual(rows["RCPT"]["reply"], "554 5.7.1 <victim@far.example>: Relay access denied")
        self.assertIn("127.0.0.1", rows["RCPT"]["client"])

    def test_pflogsumm_counts_the_rejects(self):
        import shutil
        if not shutil.which("pflogsumm"):
            self.skipTest("pflogsumm not installed (scripts/bootstrap installs it)")
        s = self.raw()
        s.ehlo()
        s.cmd("MAIL FROM:<pf@client.test>").check(250)
        for i in range(3):
            s.cmd(f"RCPT TO:<r{i}@far.example>").check("554 5.7.1")
        s.cmd("QUIT").check(221)
        self.assert_logged(r"reject: RCPT .*<r2@far\.example>")
        out = subprocess.run(["pflogsumm", "--syslog-name=herald", self.herald.log_path],
                             capture_output=True, text=True, timeout=60).stdout
        m = re.search(r"^\s*(\d+)\s+rejected\b", out, re.M)
        self.assertIsNotNone(m, out)
        self.assertGreaterEqual(int(m.group(1)), 3, out)

    def test_too_many_errors_is_logged(self):
        s = self.raw()
        s.ehlo()
        s.send("XYZZY\r\n" * 30)
        replies = s.read_all_replies(timeout=10)
        self.assertTrue(replies[-1].first.startswith("421 4.7.0"))
        self.assert_logged(r"NOQUEUE: reject: UNKNOWN from \S+\[127\.0\.0\.1\]: 421 4\.7\.0 .*"
                                            r"too many errors")


class PostmasterTest(HeraldTestCase):
    """RFC 5321 4.5.1: postmaster is accepted, bare or at any local domain."""

    def test_postmaster_goes_to_the_configured_address(self):
        h = self.start_herald(config={"server": {"postmaster": "admin@example.test"},
                                      "domains": {"local": ["example.test", "other.test"]}})
        h.add_user("admin@example.test")
        s = SmtpRaw(h.smtp_port, greet=True)
        self.addCleanup(s.close)
        s.ehlo()
        s.cmd("MAIL FROM:<a@client.test>").check(250)
        for rcpt in ("<postmaster>", "<Postmaster>", "<postmaster@example.test>", "<POSTMASTER@other.test>"):
            s.cmd(f"RCPT TO:{rcpt}").check("250 2.1.5", rcpt)
        s.data(b"Subject: to the postmaster\r\n\r\nhello\r\n").check("250 2.0.0 Ok: queued as")
        msgs = h.wait_mailbox("admin@example.test", 1)
        self.assertIn(b"Subject: to the postmaster", msgs[0])

    def test_an_existing_postmaster_user_wins(self):
        h = self.start_herald(config={"server": {"postmaster": "admin@example.test"}})
        h.add_user("admin@example.test")
        h.add_user("postmaster@example.test")
        s = SmtpRaw(h.smtp_port, greet=True)
        self.addCleanup(s.close)
        s.ehlo()
        s.cmd("MAIL FROM:<a@client.test>").check(250)
        s.cmd("RCPT TO:<postmaster@example.test>").check(250)
        s.data(b"Subject: pm\r\n\r\nhello\r\n").check(250)
        h.wait_mailbox("postmaster@example.test", 1)
        self.assertEqual(h.mailbox_count("admin@example.test"), 0)

    def test_default_is_the_user_added_first(self):
        h = self.start_herald()
        s = SmtpRaw(h.smtp_port, greet=True)
        self.addCleanup(s.close)
        s.ehlo()
        s.cmd("MAIL FROM:<a@client.test>").check(250)
        # Nobody yet: refused, with a clean address in the reply, and the
        # operator was told at start.
        r = s.cmd("RCPT TO:<postmaster>")
        r.check("550 5.1.1")
        self.assertIn("<postmaster>:", r.first)
        self.assertIn("no postmaster", h.log())
        h.add_user("zed@example.test")
        h.add_user("amy@example.test")
        s.cmd("RCPT TO:<postmaster>").check(250)
        s.data(b"Subject: first user\r\n\r\nhello\r\n").check(250)
        h.wait_mailbox("zed@example.test", 1)

    def test_bad_postmaster_setting_is_a_config_error(self):
        h = Herald(config={"server": {"postmaster": "not an address"}}, start=False)
        self.addCleanup(h.close)
        h.write_config()
        res = h.cli("config", "check", check=False)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("server.postmaster", res.stderr + res.stdout)


class StorageTest(HeraldTestCase):
    """Postfix's queue_minfree: MAIL waits (452 4.3.1) while data_dir is short of room."""

    def test_mail_waits_while_the_disk_is_full(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to mount a small tmpfs")
        mnt = tempfile.mkdtemp(prefix="herald-tmpfs-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", mnt], check=True)
        self.addCleanup(os.rmdir, mnt)
        self.addCleanup(subprocess.run, ["umount", "-l", mnt], check=False)
        h = self.start_herald(config={"server": {"data_dir": os.path.join(mnt, "data")},
                                      "store": {"min_free_space": "24M"}})
        rcpt = h.add_user("disk@example.test")
        s = SmtpRaw(h.smtp_port, greet=True)
        self.addCleanup(s.close)
        s.ehlo()

        def mail_reply():
            r = s.cmd("MAIL FROM:<a@client.test>")
            if r.code == 250:
                s.cmd("RSET").check(250)
            return r

        mail_reply().check(250, "room enough")
        filler = os.path.join(mnt, "filler")
        st = os.statvfs(mnt)
        with open(filler, "wb") as f:
            f.write(b"\0" * (st.f_bavail * st.f_frsize - (12 << 20)))
        wait_for(lambda: mail_reply().code == 452, timeout=10, interval=0.1, message="452 while the disk is full")
        r = mail_reply()
        self.assertEqual(r.first, "452 4.3.1 Insufficient system storage")
        self.assertIn("refusing mail with 452 4.3.1", h.log())
        self.assertTrue([e for e in h.journal() if e.get("event") == "rejected"
                         and e.get("reply", "").startswith("452 4.3.1")], "the refusal is journalled")
        os.unlink(filler)
        wait_for(lambda: mail_reply().code == 250, timeout=10, interval=0.1, message="mail taken again once there is room")
        s.cmd("MAIL FROM:<a@client.test>").check(250)
        s.cmd(f"RCPT TO:<{rcpt}>").check(250)
        s.data(b"Subject: after the disk was full\r\n\r\nhello\r\n").check("250 2.0.0 Ok: queued as")
        h.wait_mailbox(rcpt, 1)


if __name__ == "__main__":
    unittest.main()
