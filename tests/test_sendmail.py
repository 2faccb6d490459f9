"""test_sendmail.py - the sendmail door (issue 13): Postfix's command line.

`herald sendmail` (and herald called as sendmail) leaves each message in the
maildrop as a file the calling user owns; the daemon takes it, knowing from
the kernel who sent it. Round trips of -t, -f, -F, -i, -bs and -bv as root
and as an unprivileged user the test makes, a forged sender refused, the
daemon down while mail is written, Debian's bsd-mailx sending through it,
and sysexits.h exit codes. Mail is read back over POP3 and parsed with
Python's email package.
"""

import email
import email.policy
import os
import pwd
import shutil
import subprocess
import tempfile
import unittest

from harness import Herald, HeraldTestCase, unique, wait_for

EX_USAGE, EX_DATAERR, EX_CONFIG = 64, 65, 78


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


class SendmailTest(HeraldTestCase):
    def setUp(self):
        super().setUp()
        self.h = self.start_herald(config={"sendmail": {"sender_domain": "example.test"}})
        # Other users go through the test's directory to the config and the maildrop.
        os.chmod(self.h.tmp, 0o711)
        os.chmod(self.h.config_path, 0o644)

    def sendmail(self, *args, input=b"", user=None, env=None):
        cmd = [self.h.bin, "sendmail", "-C", self.h.config_path, *args]
        if user:
            cmd = ["runuser", "-u", user, "--"] + cmd
        return subprocess.run(cmd, input=input, capture_output=True, timeout=30, env=env)

    def user(self, login=None):
        return self.h.add_user(f"{login or unique('sm')}@example.test")

    def system_user(self):
        """system_user - a local Unix user made for this test (and removed after)."""
        if os.geteuid() != 0 or not shutil.which("useradd"):
            self.skipTest("needs root and useradd to make a local user")
        login = f"hsm{os.getpid() % 10000}{unique('')[-3:]}"[:30]
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", login], check=True)
        self.addCleanup(subprocess.run, ["userdel", login], capture_output=True)
        return login

    def test_t_reads_the_header_drops_bcc_and_adds_from(self):
        a, b, c = self.user(), self.user(), self.user()
        self.user("root")
        msg = f"To: {a}\nBcc: {b}\nSubject: from cron\n\nline one\n.hidden dot\n".encode()
        res = self.sendmail("-t", "-F", "Cron Daemon", c, input=msg)
        self.assertEqual(res.returncode, 0, res.stderr)
        for rcpt in (a, b, c):
            got = parse(self.h.wait_mailbox(rcpt, 1)[0])
            self.assertEqual(got["Subject"], "from cron")
            self.assertIsNone(got["Bcc"])
            self.assertEqual(got["From"], "Cron Daemon <root@example.test>")
            self.assertEqual(got["Return-Path"], "<root@example.test>")
            self.assertIn("(Herald, from userid 0)", got["Received"])
            self.assertEqual(got.get_content().replace("\r\n", "\n"), "line one\n.hidden dot\n")

    def test_a_lone_dot_ends_the_message_unless_i(self):
        a = self.user()
        self.sendmail(a, input=b"Subject: dot\n\nkept\n.\nlost\n")
        self.sendmail("-oi", a, input=b"Subject: oi\n\nkept\n.\nkept too\n")
        got = {parse(m)["Subject"]: parse(m).get_content().replace("\r\n", "\n") for m in self.h.wait_mailbox(a, 2)}
        self.assertEqual(got, {"dot": "kept\n", "oi": "kept\n.\nkept too\n"})

    def test_f_by_a_trusted_user(self):
        a = self.user()
        res = self.sendmail("-f", "alerts@monitor.test", a, input=b"Subject: f\n\nx\n")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(parse(self.h.wait_mailbox(a, 1)[0])["Return-Path"], "<alerts@monitor.test>")

    def test_bs_speaks_smtp_on_stdin_and_stdout(self):
        a = self.user()
        script = (f"EHLO client\r\nMAIL FROM:<root@example.test>\r\nRCPT TO:<{a}>\r\nDATA\r\n"
                  "Subject: bs\r\n\r\n..stuffed\r\n.\r\nQUIT\r\n").encode()
        res = self.sendmail("-bs", input=script)
        self.assertEqual(res.returncode, 0, res.stderr)
        codes = [line[:3] for line in res.stdout.decode().split("\r\n") if line[:3].isdigit() and line[3:4] == " "]
        self.assertEqual(codes, ["220", "250", "250", "250", "354", "250", "221"], res.stdout)
        got = parse(self.h.wait_mailbox(a, 1)[0])
        self.assertEqual(got["Subject"], "bs")
        self.assertEqual(got.get_content().replace("\r\n", "\n"), ".stuffed\n")

    def test_bs_drops_a_refused_message_whole(self):
        a = self.user()
        script = (f"EHLO c\r\nMAIL FROM:<root@example.test>\r\nRCPT TO:<{a}>\r\nDATA\r\nSubject: refused\r\n\r\n"
                  "secret \0 text\r\n.\r\nMAIL FROM:<root@example.test>\r\nRCPT TO:<" + a + ">\r\nDATA\r\n"
                  "Subject: kept\r\n\r\nclean\r\n.\r\nQUIT\r\n").encode()
        res = self.sendmail("-bs", input=script)
        self.assertEqual(res.returncode, 0, res.stderr)
        got = self.h.wait_mailbox(a, 1)
        self.assertEqual(len(got), 1)
        self.assertEqual(parse(got[0])["Subject"], "kept")
        self.assertNotIn(b"secret", got[0])

    def test_recipients_cannot_smuggle_smtp(self):
        a = self.user()
        res = self.sendmail(a, f"x@example.test> NOTIFY=NEVER\nRCPT TO:<{a}", input=b"Subject: s\n\nx\n")
        self.assertEqual(res.returncode, EX_DATAERR, res.stderr)
        self.assertEqual(self.sendmail("-N", "never\nDATA", a, input=b"x\n").returncode, EX_USAGE)
        self.assertEqual(self.sendmail("-N", "success,delay", a, input=b"Subject: n\n\nx\n").returncode, 0)
        self.assertEqual(parse(self.h.wait_mailbox(a, 1)[0])["Subject"], "n")

    def test_bv_mails_a_verification_report(self):
        root, a = self.user("root"), self.user()
        nobody = f"{unique('nobody')}@example.test"
        res = self.sendmail("-bv", a, nobody)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn(b"Mail Delivery Status Report will be mailed to <root@example.test>", res.stdout)
        report = parse(self.h.wait_mailbox(root, 1)[0])
        self.assertEqual(report["Subject"], "Recipient address verification")
        text = report.get_content()
        self.assertRegex(text, rf"< 250 .*{a}")
        self.assertRegex(text, r"< 550 5\.1\.1 ")
        self.assertEqual(self.h.mailbox_count(a), 0)  # nothing sent

    def test_an_unprivileged_user_sends_and_cannot_forge(self):
        login = self.system_user()
        uid = pwd.getpwnam(login).pw_uid
        own, a = self.user(login), self.user()
        res = self.sendmail("-t", input=f"To: {a}\nSubject: mine\n\nx\n".encode(), user=login)
        self.assertEqual(res.returncode, 0, res.stderr)
        got = parse(self.h.wait_mailbox(a, 1)[0])
        self.assertEqual(got["Return-Path"], f"<{own}>")
        self.assertIn(f"(Herald, from userid {uid})", got["Received"])
        forged = self.sendmail("-f", "ceo@example.test", a, input=b"Subject: forged\n\nx\n", user=login)
        self.assertEqual(forged.returncode, 0, forged.stderr)  # refused by the daemon, reported by mail
        report = parse(self.h.wait_mailbox(own, 1)[0])
        self.assertIn("Sender address rejected: not owned by user " + login, report.get_content())
        # A From that is not theirs is refused as well, however deep in a
        # long header section it hides.
        padding = "".join(f"X-Pad-{i}: {'p' * 70}\n" for i in range(1000))
        self.sendmail(a, input=f"{padding}From: ceo@example.test\nSubject: deep\n\nx\n".encode(), user=login)
        deep = parse(self.h.wait_mailbox(own, 2)[1]).get_content()
        self.assertIn("cannot be verified", deep)
        self.sendmail(a, input=b"From: ceo@example.test\nSubject: forged from\n\nx\n", user=login)
        reports = self.h.wait_mailbox(own, 3)
        self.assertIn("From address rejected", parse(reports[2]).get_content())
        self.assertEqual([parse(m)["Subject"] for m in self.h.mailbox(a)], ["mine"])
        # The maildrop: theirs to write into, not to list.
        listing = subprocess.run(["runuser", "-u", login, "--", "ls", os.path.join(self.h.data_dir, "maildrop")],
                                 capture_output=True)
        self.assertNotEqual(listing.returncode, 0)

    def test_mail_waits_in_the_maildrop_while_the_daemon_is_down(self):
        a = self.user()
        self.h.stop()
        res = self.sendmail(a, input=b"Subject: later\n\nx\n")
        self.assertEqual(res.returncode, 0, res.stderr)
        maildrop = os.path.join(self.h.data_dir, "maildrop")
        self.assertEqual(len([n for n in os.listdir(maildrop) if os.path.isfile(os.path.join(maildrop, n))]), 1)
        self.h.start(port_retries=1)
        self.assertEqual(parse(self.h.wait_mailbox(a, 1)[0])["Subject"], "later")

    def test_bsd_mailx_sends_through_it(self):
        mailx = shutil.which("bsd-mailx") or shutil.which("mailx")
        if not mailx:
            self.skipTest("bsd-mailx is not installed (scripts/bootstrap installs it)")
        a = self.user()
        self.user("root")
        d = tempfile.mkdtemp(prefix="herald-mailx-")
        self.addCleanup(shutil.rmtree, d, True)
        link = os.path.join(d, "sendmail")
        os.symlink(self.h.bin, link)  # herald called as sendmail
        rc = os.path.join(d, "mailrc")
        with open(rc, "w") as f:
            f.write(f"set sendmail={link}\n")
        env = dict(os.environ, MAILRC=rc, HERALD_CONFIG=self.h.config_path, HOME=d)
        res = subprocess.run([mailx, "-s", "Grüße from mailx", a], input="body from mailx\n".encode(),
                             capture_output=True, timeout=30, env=env)
        self.assertEqual(res.returncode, 0, res.stderr)
        got = parse(self.h.wait_mailbox(a, 1)[0])
        self.assertEqual(got["Subject"], "Grüße from mailx")
        self.assertIn("body from mailx", got.get_content())

    def test_herald_sendmail_the_lean_binary(self):
        # What make install links sendmail to: deliveries in its own process,
        # -bs and -bp through herald beside it.
        lean = os.path.join(os.path.dirname(self.h.bin), "herald-sendmail")
        a = self.user()

        def run(*args, input=b""):
            return subprocess.run([lean, "-C", self.h.config_path, *args], input=input, capture_output=True,
                                  timeout=30)
        self.assertEqual(run("-t", input=f"To: {a}\nSubject: lean\n\nx\n".encode()).returncode, 0)
        script = f"HELO c\r\nMAIL FROM:<root@example.test>\r\nRCPT TO:<{a}>\r\nDATA\r\nSubject: lean bs\r\n\r\nx\r\n.\r\nQUIT\r\n"
        bs = run("-bs", input=script.encode())
        self.assertEqual(bs.returncode, 0, bs.stderr)
        self.assertIn(b"250 2.0.0 Ok: queued as maildrop", bs.stdout)
        self.assertEqual(sorted(parse(m)["Subject"] for m in self.h.wait_mailbox(a, 2)), ["lean", "lean bs"])
        self.assertEqual(run("-bp").returncode, 0)
        self.assertEqual(run("-Z").returncode, EX_USAGE)

    def test_a_maildrop_directory_made_by_a_user_is_not_used(self):
        # Who made maildrop/error first (it is world-writable) could read or
        # move what the server puts there: the server refuses it.
        if os.geteuid() != 0:
            self.skipTest("needs root to make a directory as another user")
        h = Herald(start=False)
        self._heralds.append(h)
        self.addCleanup(h.stop)
        planted = os.path.join(h.data_dir, "maildrop", "error")
        os.makedirs(planted)
        os.chown(planted, 65534, 65534)
        h.start()
        wait_for(lambda: "is not this server's own directory" in h.log(), 20, message="the planted directory refused")

    def test_exit_codes(self):
        self.assertEqual(self.sendmail("-Z", "a@example.test").returncode, EX_USAGE)
        self.assertEqual(self.sendmail("-F", "two\nlines", "a@example.test").returncode, EX_USAGE)
        self.assertEqual(self.sendmail("-t", input=b"Subject: nobody\n\nx\n").returncode, EX_USAGE)
        self.assertEqual(self.sendmail("bad address@", input=b"x\n").returncode, EX_DATAERR)
        bad = subprocess.run([self.h.bin, "sendmail", "-C", "/nonexistent.toml", "a@example.test"], input=b"x\n",
                             capture_output=True)
        self.assertEqual(bad.returncode, EX_CONFIG)
        self.assertIn(b"sendmail: fatal:", bad.stderr)
        # -bp is the queue's list.
        self.assertEqual(self.sendmail("-bp").returncode, 0)


if __name__ == "__main__":
    unittest.main()
