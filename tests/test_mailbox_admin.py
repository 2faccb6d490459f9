"""test_mailbox_admin.py - the operator's commands on a user's mail, as
doveadm's: `herald mailbox list|create|delete|rename`, `quota get|set`,
`flags`, `expunge`, `import maildir|mbox` and `export maildir`, driven
through the real binary while the daemon runs, each result checked where
a user sees it: over IMAP (imaplib), and SMTP for the quota.
"""

import imaplib
import os
import pty
import re
import select
import shutil
import smtplib
import subprocess
import tempfile
import time
import unittest

from harness import HOST, Herald, HeraldTestCase, unique, wait_for


def message(subject, body="Hello.\r\n", size=0):
    text = (f"From: Alice <alice@client.test>\r\nTo: bob@example.test\r\nSubject: {subject}\r\n"
            f"Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{unique('m')}@client.test>\r\n\r\n{body}")
    if size:
        text += ("x" * 76 + "\r\n") * (size // 78)
    return text.encode()


def ok(result):
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


def quoted(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


LIST_LINE = re.compile(rb'^\((?P<attrs>[^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (?P<name>.*)$')


def listing(c, pattern="*"):
    """listing - {name: attributes} of an IMAP LIST."""
    out = {}
    for line in ok(c.list('""', pattern)):
        if not line:
            continue
        m = LIST_LINE.match(line)
        assert m, line
        name = m.group("name")
        if name.startswith(b'"'):
            name = name[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
        out[name.decode()] = m.group("attrs").decode().split()
    return out


def fetch_all(c, mailbox):
    """fetch_all - [(flags set, INTERNALDATE, exact bytes)] of a mailbox, in UID order."""
    typ, data = c.select(quoted(mailbox), readonly=True)
    assert typ == "OK", (mailbox, data)
    if data[0] == b"0":
        return []
    out = []
    for item in ok(c.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")):
        if not isinstance(item, tuple):
            continue
        head = item[0]
        flags = set(re.search(rb"FLAGS \(([^)]*)\)", head).group(1).decode().split())
        flags.discard("\\Recent")
        date = re.search(rb'INTERNALDATE "([^"]+)"', head).group(1).decode()
        out.append((flags, date, item[1]))
    return out


def write(path, content, mtime=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(content)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


class MailAdminCase(HeraldTestCase):
    @classmethod
    def setUpClass(cls):
        cls.herald = Herald(protocols=("smtp", "pop3", "imap"))
        cls.files = tempfile.mkdtemp(prefix="herald-mail-files-")

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()
        shutil.rmtree(cls.files, ignore_errors=True)

    def login(self, user):
        c = self.herald.imap(user)
        self.addCleanup(self._logout, c)
        return c

    @staticmethod
    def _logout(c):
        try:
            c.logout()
        except (imaplib.IMAP4.error, OSError):
            pass

    def cli_fails(self, code, *args):
        res = self.herald.cli(*args, check=False)
        self.assertEqual(res.returncode, code, f"herald {' '.join(args)}: {res.stdout} {res.stderr}")
        self.assertTrue(res.stderr.startswith("herald: "), res.stderr)
        return res.stderr

    def deliver(self, rcpt, msg):
        before = self.herald.mailbox_count(rcpt)
        with smtplib.SMTP(HOST, self.herald.smtp_port, local_hostname="client.test", timeout=15) as s:
            s.sendmail("admin-test@client.test", [rcpt], msg)
        self.herald.wait_mailbox(rcpt, before + 1)

    def path(self, name):
        return os.path.join(self.files, unique(name))


class TestMailboxes(MailAdminCase):
    def test_create_list_rename_delete_as_imap_sees_them(self):
        user = self.new_user("boxes")
        self.herald.cli("mailbox", "create", user, "Projects/Herald")
        self.herald.cli("mailbox", "create", user, "Old Sent", "--special-use", "\\sent")
        c = self.login(user)
        names = listing(c)
        self.assertIn("Projects/Herald", names)
        self.assertIn("\\HasChildren", names["Projects"])
        self.assertIn("\\Sent", names["Old Sent"])
        self.assertIn("Projects/Herald", listing_subscribed(c), "created mailboxes are subscribed")

        self.deliver(user, message("to the inbox"))
        ok(c.append("Projects/Herald", "(\\Seen)", None, message("filed")))
        ok(c.append("Projects/Herald", None, None, message("unread")))
        rows = {r["name"]: r for r in self.herald.cli_json("mailbox", "list", user)}
        self.assertEqual(rows["INBOX"]["messages"], 1)
        self.assertEqual(rows["INBOX"]["unseen"], 1)
        self.assertEqual(rows["Projects/Herald"]["messages"], 2)
        self.assertEqual(rows["Projects/Herald"]["unseen"], 1)
        self.assertGreater(rows["Projects/Herald"]["size"], 200)
        self.assertEqual(rows["Sent"]["special_use"], "\\Sent")
        self.assertTrue(rows["Old Sent"]["subscribed"])
        text = self.herald.cli("mailbox", "list", user).stdout.splitlines()
        self.assertEqual(text[0].split(), ["MAILBOX", "SPECIAL-USE", "MESSAGES", "UNSEEN", "SIZE"])
        self.assertTrue(any(line.split()[:3] == ["Projects/Herald", "2", "1"] for line in text), text)

        self.herald.cli("mailbox", "rename", user, "Projects", "Work")
        c2 = self.login(user)
        names = listing(c2)
        self.assertIn("Work/Herald", names)
        self.assertNotIn("Projects/Herald", names)
        self.assertNotIn("Projects", names)
        self.assertIn("Work/Herald", listing_subscribed(c2), "the subscription moved with the name")
        self.assertEqual(ok(c2.status("Work/Herald", "(MESSAGES)"))[0].split(b"MESSAGES ")[1], b"2)")

        self.herald.cli("mailbox", "delete", user, "Work/Herald")
        names = listing(self.login(user))
        self.assertNotIn("Work/Herald", names)
        self.assertEqual(self.herald.cli_json("quota", "get", user)["used_bytes"],
                         sum(r["size"] for r in self.herald.cli_json("mailbox", "list", user)),
                         "the deleted mailbox's messages left the quota")

    def test_refusals(self):
        user = self.new_user("refuse")
        self.assertIn("INBOX", self.cli_fails(1, "mailbox", "delete", user, "INBOX"))
        self.assertIn("exists", self.cli_fails(1, "mailbox", "create", user, "Sent"))
        self.cli_fails(2, "mailbox", "create", user, "Odd", "--special-use", "\\Important-ish")
        self.cli_fails(2, "mailbox", "create", user, "bad//name")
        self.assertIn("no such user", self.cli_fails(1, "mailbox", "list", "nobody@example.test"))
        self.cli_fails(2, "mailbox", "list", "not-an-address")
        self.assertIn("no such mailbox", self.cli_fails(1, "mailbox", "rename", user, "Nothing", "Else"))


def listing_subscribed(c):
    return {line.rsplit(b" ", 1)[-1].strip(b'"').decode() for line in ok(c.lsub('""', "*")) if line}


class TestQuota(MailAdminCase):
    def test_set_get_and_what_smtp_and_imap_then_do(self):
        user = self.new_user("quota")
        q = self.herald.cli_json("quota", "get", user)
        self.assertEqual((q["quota_bytes"], q["unlimited"]), (0, True))
        self.assertIn("limit: unlimited", self.herald.cli("quota", "get", user).stdout)
        self.deliver(user, message("first", size=3000))
        out = self.herald.cli("quota", "set", user, "10k").stdout
        self.assertIn("limit: 10k (10240 octets)", out)
        used = self.herald.cli_json("quota", "get", user)["used_bytes"]
        self.assertGreater(used, 3000)
        self.assertRegex(out, rf"used:  [0-9.]+k \({used} octets\), [0-9.]+%")

        # SMTP with SIZE: refused at RCPT with 452 4.2.2, the sender's server retries.
        big = message("too big", size=9000)
        with smtplib.SMTP(HOST, self.herald.smtp_port, local_hostname="client.test", timeout=15) as s:
            with self.assertRaises(smtplib.SMTPRecipientsRefused) as e:
                s.sendmail("admin-test@client.test", [user], big)
        code, text = e.exception.recipients[user]
        self.assertEqual(code, 452, text)
        self.assertTrue(text.startswith(b"4.2.2"), text)
        # Without SIZE the message is taken and its local copy deferred.
        s = self.raw()
        s.ehlo()
        s.cmd("MAIL FROM:<admin-test@client.test>").check(250)
        s.cmd(f"RCPT TO:<{user}>").check(250)
        s.data(big).check(250)
        rows = wait_for(lambda: [r for r in self.herald.queue()
                                 if r["recipient"] == user and r["status"] == "deferred"],
                        message="the over-quota copy deferred")
        self.assertIn("452 4.2.2", rows[0]["last_reply"])
        self.assertEqual(self.herald.mailbox_count(user), 1)

        # IMAP APPEND: NO [OVERQUOTA] (RFC 9208 4.3), nothing kept.
        c = self.login(user)
        typ, data = c.append("INBOX", None, None, big)
        self.assertEqual(typ, "NO")
        self.assertIn(b"[OVERQUOTA]", data[0])
        self.assertEqual(self.herald.cli_json("quota", "get", user)["used_bytes"], used)

        # 0 lifts it: the APPEND goes in.
        self.assertIn("limit: unlimited", self.herald.cli("quota", "set", user, "0").stdout)
        ok(c.append("INBOX", None, None, big))

    def test_bad_sizes_and_users(self):
        user = self.new_user("qbad")
        self.cli_fails(2, "quota", "set", user, "lots")
        self.cli_fails(2, "quota", "set", user, "-5M")
        self.assertIn("no such user", self.cli_fails(1, "quota", "set", "nobody@example.test", "1G"))
        self.assertIn("no such user", self.cli_fails(1, "quota", "get", "nobody@example.test"))


class TestAcl(MailAdminCase):
    def test_acl_set_get_delete_as_imap_sees_them(self):
        owner, reader = self.new_user("acl-owner"), self.new_user("acl-reader")
        self.deliver(owner, message("shared with the team"))
        self.herald.cli("acl", "set", owner, "INBOX", reader.upper(), "lr")
        got = self.herald.cli_json("acl", "set", owner, "INBOX", reader, "+s")
        self.assertEqual(got["owner"], owner)
        self.assertEqual(got["entries"], [{"identifier": reader, "rights": "lrs"}])
        text = self.herald.cli("acl", "get", owner, "inbox").stdout
        self.assertIn(f"{owner}  lrswipkxtea  (owner)", text)
        self.assertIn(f"{reader}  lrs", text)
        c = self.login(reader)
        shared = f'"Other Users/{owner}/INBOX"'
        typ, data = c.select(shared)
        self.assertEqual((typ, data), ("OK", [b"1"]))
        self.assertIn(b"shared with the team", ok(c.fetch("1", "(BODY[HEADER.FIELDS (SUBJECT)])"))[0][1])
        c.close()
        self.assertEqual(self.herald.cli_json("acl", "delete", owner, "INBOX", reader)["entries"], [])
        typ, data = c.select(shared)
        self.assertEqual(typ, "NO")
        self.assertIn(b"NONEXISTENT", data[0])

    def test_bad_rights_identifiers_and_mailboxes(self):
        owner = self.new_user("acl-bad")
        self.assertIn("lrswipkxtea", self.cli_fails(2, "acl", "set", owner, "INBOX", "anyone", "lrz"))
        self.cli_fails(2, "acl", "set", owner, "INBOX", "not an address", "lr")
        self.assertIn("owner", self.cli_fails(2, "acl", "set", owner, "INBOX", owner, "l"))
        self.assertIn("no mailbox", self.cli_fails(1, "acl", "get", owner, "Nope"))
        self.assertIn("shared", self.cli_fails(2, "mailbox", "create", owner, "Other Users/x"))


class TestFlags(MailAdminCase):
    def test_flags_set_by_the_cli_are_seen_over_imap(self):
        user = self.new_user("flags")
        for i in range(3):
            self.deliver(user, message(f"number {i}"))
        out = self.herald.cli("flags", user, "INBOX", "1", "3", "--add", "\\Seen \\Flagged", "$Label1").stdout
        self.assertEqual(out.splitlines(), ["1  (\\Seen \\Flagged $Label1)", "3  (\\Seen \\Flagged $Label1)"])
        c = self.login(user)
        got = fetch_all(c, "INBOX")
        self.assertEqual([g[0] for g in got],
                         [{"\\Seen", "\\Flagged", "$Label1"}, set(), {"\\Seen", "\\Flagged", "$Label1"}])
        self.herald.cli("flags", user, "INBOX", "1:*", "--remove", "\\Flagged,$Label1")
        self.herald.cli("flags", user, "INBOX", "2", "--set", "\\Answered \\Draft")
        rows = self.herald.cli_json("flags", user, "INBOX", "*", "1")
        self.assertEqual(rows, [{"uid": 1, "flags": ["\\Seen"]}, {"uid": 3, "flags": ["\\Seen"]}])
        self.assertEqual([g[0] for g in fetch_all(self.login(user), "INBOX")],
                         [{"\\Seen"}, {"\\Answered", "\\Draft"}, {"\\Seen"}])
        self.herald.cli("flags", user, "INBOX", "2", "--set", "")
        self.assertEqual(self.herald.cli("flags", user, "INBOX", "2").stdout, "2  ()\n")

    def test_refusals(self):
        user = self.new_user("flagbad")
        self.deliver(user, message("one"))
        self.assertIn("UID 7", self.cli_fails(1, "flags", user, "INBOX", "7", "--add", "\\Seen"))
        self.cli_fails(2, "flags", user, "INBOX", "1", "--add", "\\Recent")
        self.cli_fails(2, "flags", user, "INBOX", "1", "--add", "bad(keyword")
        self.cli_fails(2, "flags", user, "INBOX", "1", "--add", "\\Seen", "--remove", "\\Seen")
        self.cli_fails(2, "flags", user, "INBOX", "x")
        self.assertIn("no such mailbox", self.cli_fails(1, "flags", user, "Nowhere", "1"))


class TestExpunge(MailAdminCase):
    def test_before_and_deleted(self):
        user = self.new_user("expunge")
        c = self.login(user)
        old = time.time() - 60 * 86400
        ok(c.append("INBOX", None, imaplib.Time2Internaldate(old), message("old one")))
        ok(c.append("INBOX", "(\\Deleted)", imaplib.Time2Internaldate(old), message("old deleted")))
        ok(c.append("INBOX", "(\\Deleted)", None, message("new deleted")))
        ok(c.append("INBOX", None, None, message("new one")))
        self.cli_fails(2, "expunge", user, "INBOX")
        self.cli_fails(2, "expunge", user, "INBOX", "--before", "a while")
        used = self.herald.cli_json("quota", "get", user)["used_bytes"]
        self.assertEqual(self.herald.cli("expunge", user, "INBOX", "--before", "30d").stdout,
                         "expunged 2 messages\n")
        self.assertLess(self.herald.cli_json("quota", "get", user)["used_bytes"], used)
        self.assertEqual(self.herald.cli_json("expunge", user, "INBOX", "--deleted"), {"expunged": 1})
        self.assertEqual(self.herald.cli("expunge", user, "INBOX", "--before", "30d", "--deleted").stdout,
                         "expunged 0 messages\n")
        got = fetch_all(self.login(user), "INBOX")
        self.assertEqual(len(got), 1)
        self.assertIn(b"Subject: new one", got[0][2])


class TestImportExport(MailAdminCase):
    def build_maildir(self):
        root = self.path("Maildir")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(root, sub))
        self.inbox_seen = b"From: a@client.test\nSubject: seen\n\nLF line ends.\n"
        write(f"{root}/cur/1600000000.M1P1.old,S=48:2,S", self.inbox_seen, mtime=1650000000)
        write(f"{root}/new/1600000100.M2P1.old", b"Subject: new\r\n\r\nCRLF already.\r\n", mtime=1650000100)
        write(f"{root}/tmp/1600000200.M3P1.old", b"Subject: being written\n\n")
        write(f"{root}/cur/1600000300.M4P1.old:2,", b"")
        sub = f"{root}/.Work.Projects"
        write(f"{sub}/dovecot-keywords", b"0 $Label1\n1 Urgent\n")
        write(f"{sub}/cur/1600000400.M5P1.old:2,FRTb", b"Subject: work\n\nkeywords\n", mtime=1660000000)
        write(f"{sub}/cur/1600000500.M6P1.old:2,Da", b"Subject: draft\n\n", mtime=1660000100)
        write(f"{root}/.sent/cur/1600000600.M7P1.old:2,S", b"Subject: sent\n\n", mtime=1670000000)
        write(f"{root}/.Entw&APw-rfe/cur/1600000700.M8P1.old:2,", b"Subject: entwurf\n\n", mtime=1670000100)
        return root

    def test_import_maildir_as_imap_sees_it(self):
        user = self.new_user("maildir")
        root = self.build_maildir()
        report = self.herald.cli_json("import", "maildir", user, root)
        self.assertEqual(report["imported"], 6)
        self.assertEqual(report["skipped"], 1, report)
        self.assertEqual(report["failed"], 0)
        self.assertEqual(report["mailboxes"], {"INBOX": 2, "Work/Projects": 2, "Sent": 1, "Entw\u00fcrfe": 1})
        self.assertEqual(sorted(report["created"]), ["Entw\u00fcrfe", "Work/Projects"])
        self.assertTrue(any("empty" in p for p in report["problems"]), report["problems"])
        self.assertEqual(report["octets"], sum(
            len(b) for b in (b"From: a@client.test\r\nSubject: seen\r\n\r\nLF line ends.\r\n",
                             b"Subject: new\r\n\r\nCRLF already.\r\n", b"Subject: work\r\n\r\nkeywords\r\n",
                             b"Subject: draft\r\n\r\n", b"Subject: sent\r\n\r\n", b"Subject: entwurf\r\n\r\n")))

        c = self.login(user)
        names = listing(c)
        self.assertIn("Work/Projects", names)
        self.assertIn("Entw&APw-rfe", names)
        self.assertNotIn("sent", names, ".sent goes to the user's Sent")
        inbox = fetch_all(c, "INBOX")
        self.assertEqual(inbox, [
            ({"\\Seen"}, "15-Apr-2022 05:20:00 +0000", self.inbox_seen.replace(b"\n", b"\r\n")),
            (set(), "15-Apr-2022 05:21:40 +0000", b"Subject: new\r\n\r\nCRLF already.\r\n"),
        ])
        work = fetch_all(c, "Work/Projects")
        self.assertEqual(work[0][0], {"\\Flagged", "\\Answered", "\\Deleted", "Urgent"})
        self.assertEqual(work[0][1], " 8-Aug-2022 23:06:40 +0000")
        self.assertEqual(work[0][2], b"Subject: work\r\n\r\nkeywords\r\n")
        self.assertEqual(work[1][0], {"\\Draft", "$Label1"})
        self.assertEqual(fetch_all(c, "Sent")[0][0], {"\\Seen"})
        self.assertEqual(fetch_all(c, "Entw&APw-rfe")[0][2], b"Subject: entwurf\r\n\r\n")
        # The structure is kept as APPEND's is: IMAP answers BODYSTRUCTURE.
        c.select("INBOX", readonly=True)
        self.assertIn(b'("TEXT" "PLAIN"', ok(c.fetch("1", "(BODYSTRUCTURE)"))[0])

    def test_import_mbox_as_imap_sees_it(self):
        user = self.new_user("mbox")
        path = self.path("mbox")
        write(path, b"From alice@client.test Tue Nov 14 22:13:20 2023\n"
                    b"From: alice@client.test\n"
                    b"Subject: one\n"
                    b"Status: RO\n"
                    b"X-Status: AF\n"
                    b"\n"
                    b">From the start, quoted.\n"
                    b">>From twice quoted.\n"
                    b"\n"
                    b"From bob@client.test Wed Nov 15 22:13:20 2023 +0100\n"
                    b"Subject: two\n"
                    b"Status: O\n"
                    b"\n"
                    b"body two\n"
                    b"\n"
                    b"From carol@client.test Thu Nov 16 22:13:20 2023\n"
                    b"Subject: three\n"
                    b"X-Status: T\n"
                    b"\n"
                    b"body three\n")
        out = self.herald.cli("import", "mbox", user, path, "--mailbox", "Lists/Old").stdout
        self.assertIn("imported 3 messages", out)
        self.assertRegex(out, r"Lists/Old\s+3 messages")
        self.assertIn("created: Lists/Old", out)
        got = fetch_all(self.login(user), "Lists/Old")
        self.assertEqual(got, [
            ({"\\Seen", "\\Answered", "\\Flagged"}, "14-Nov-2023 22:13:20 +0000",
             b"From: alice@client.test\r\nSubject: one\r\n\r\nFrom the start, quoted.\r\n>From twice quoted.\r\n"),
            (set(), "15-Nov-2023 21:13:20 +0000", b"Subject: two\r\n\r\nbody two\r\n"),
            ({"\\Draft"}, "16-Nov-2023 22:13:20 +0000", b"Subject: three\r\n\r\nbody three\r\n"),
        ])
        # Into INBOX by default; not an mbox: refused.
        self.assertIn("imported 3 messages", self.herald.cli("import", "mbox", user, path).stdout)
        not_mbox = self.path("notmbox")
        write(not_mbox, b"Subject: hi\n\nno separator\n")
        self.assertIn("not an mbox", self.cli_fails(2, "import", "mbox", user, not_mbox))
        self.cli_fails(1, "import", "maildir", user, not_mbox)

    def test_export_then_import_into_another_user_round_trips(self):
        alice = self.new_user("exporter")
        bob = self.new_user("importer")
        self.herald.cli("import", "maildir", alice, self.build_maildir())
        self.herald.cli("mailbox", "create", alice, "Reports/2024.01")
        c = self.login(alice)
        ok(c.append("Reports/2024.01", "(\\Seen $Label9)", imaplib.Time2Internaldate(1700000000),
                    message("dotted folder")))
        self.deliver(alice, message("delivered, with its trace"))
        out = self.path("export")
        res = self.herald.cli_json("export", "maildir", alice, out)
        self.assertEqual(res["exported"], 8)
        self.assertTrue(os.path.isdir(os.path.join(out, ".Reports.2024&AC4-01", "cur")))
        self.assertTrue(os.path.isdir(os.path.join(out, "cur")), "INBOX at the root")
        # Idempotent: again, after a flag change, the same files.
        self.herald.cli("flags", alice, "INBOX", "1", "--add", "\\Flagged")
        text = self.herald.cli("export", "maildir", alice, out).stdout
        self.assertIn("exported 8 messages", text)
        files = [f for d, _, fs in os.walk(out) if d.endswith("/cur") for f in fs]
        self.assertEqual(len(files), 8, files)
        self.assertEqual(self.herald.cli_json("import", "maildir", bob, out)["imported"], 8)

        a, b = self.login(alice), self.login(bob)
        boxes = [n for n, attrs in listing(a).items() if "\\Noselect" not in attrs]
        self.assertEqual(sorted(boxes), sorted(n for n, attrs in listing(b).items() if "\\Noselect" not in attrs))
        for name in boxes:
            with self.subTest(mailbox=name):
                self.assertEqual(fetch_all(b, name), fetch_all(a, name))
        self.assertIn({"\\Seen", "$Label9"}, [m[0] for m in fetch_all(b, "Reports/2024.01")])

    def test_progress_on_a_terminal(self):
        user = self.new_user("progress")
        root = self.build_maildir()
        master, slave = pty.openpty()
        proc = subprocess.Popen([self.herald.bin, "import", "maildir", user, root, "--config", self.herald.config_path],
                                stdout=slave, stderr=subprocess.PIPE, env=self.herald.env())
        os.close(slave)
        output = b""
        while True:
            ready, _, _ = select.select([master], [], [], 30)
            if not ready:
                break
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        os.close(master)
        self.assertEqual(proc.wait(30), 0, proc.stderr.read())
        self.assertIn(b"\rimporting: [", output)
        self.assertIn(b"7/7", output)
        self.assertIn(b"imported 6 messages", output)


if __name__ == "__main__":
    unittest.main()
