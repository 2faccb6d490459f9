"""test_imap.py - Herald's IMAP server (RFC 9051, RFC 3501) through imaplib.

Mail delivered by SMTP is read over IMAP byte for byte; folders (the
special-use ones every new user has, create, rename, delete, subscribe),
flags, search, APPEND, COPY and MOVE with their UIDs, two sessions on one
mailbox seeing each other's changes, IDLE woken by a delivery, POP3 and
IMAP over one store, STARTTLS and imaps, curl's imap:// client.
"""

import base64
import datetime
import email
import imaplib
import re
import select
import shutil
import smtplib
import socket
import subprocess
import time
import unittest
import zlib

from harness import HOST, HeraldTestCase, Herald, split_trace, tls_client_context, unique


def message(subject, body="Hello over IMAP.\r\n", extra=""):
    return (f"From: Alice <alice@client.test>\r\nTo: bob@example.test\r\nSubject: {subject}\r\n"
            f"Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{unique('m')}@client.test>\r\n{extra}"
            f"\r\n{body}").encode()


def ok(result):
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


class ImapCase(HeraldTestCase):
    @classmethod
    def setUpClass(cls):
        cls.herald = Herald(protocols=("smtp", "pop3", "imap", "imaps"))

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()

    def login(self, user, password="secret", tls=False):
        c = self.herald.imap(user, password, tls=tls)
        self.addCleanup(self._logout, c)
        return c

    def raw_session(self, user=None):
        """raw_session - a plain socket to the imap port past the greeting
        (and logged in as user): the socket and a reader of it."""
        s = socket.create_connection((HOST, self.herald.imap_port), timeout=10)
        self.addCleanup(s.close)
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"* OK"))
        if user:
            s.sendall(f"a LOGIN {user} secret\r\n".encode())
            self.assertTrue(f.readline().startswith(b"a OK"))
        return s, f

    @staticmethod
    def _logout(c):
        try:
            c.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


class TestReading(ImapCase):
    def test_a_delivered_message_reads_back_byte_for_byte(self):
        user = self.new_user("read")
        original = message("first")
        self.herald.deliver(user, original)
        c = self.login(user)
        self.assertEqual(ok(c.select("INBOX")), [b"1"])
        data = ok(c.fetch("1", "(RFC822.SIZE BODY.PEEK[])"))
        fetched = data[0][1]
        _, body = split_trace(fetched)
        self.assertEqual(body, original)
        size = int(re.search(rb"RFC822.SIZE (\d+)", data[0][0]).group(1))
        self.assertEqual(size, len(fetched))
        # PEEK leaves it unseen; BODY[] marks it \Seen (RFC 9051 6.4.5).
        self.assertNotIn(b"\\Seen", ok(c.fetch("1", "(FLAGS)"))[0])
        ok(c.fetch("1", "(BODY[TEXT])"))
        self.assertIn(b"\\Seen", ok(c.fetch("1", "(FLAGS)"))[0])

    def test_envelope_bodystructure_and_parts(self):
        user = self.new_user("parts")
        mime = (b"From: Alice <alice@client.test>\r\nTo: bob@example.test\r\nSubject: with attachment\r\n"
                b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
                b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe text part.\r\n"
                b"--XX\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\n"
                b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"data.bin\"\r\n\r\n"
                b"AAECAwQFBgc=\r\n--XX--\r\n")
        self.herald.deliver(user, mime)
        c = self.login(user)
        c.select("INBOX", readonly=True)
        data = ok(c.fetch("1", "(ENVELOPE BODYSTRUCTURE)"))[0]
        self.assertIn(b'"with attachment"', data)
        self.assertIn(b'(("Alice" NIL "alice" "client.test"))', data)
        self.assertIn(b'"MIXED"', data.upper())
        self.assertIn(b'"DATA.BIN"', data.upper())
        part1 = ok(c.fetch("1", "(BODY.PEEK[1])"))[0][1]
        self.assertEqual(part1, b"The text part.")
        mime2 = ok(c.fetch("1", "(BODY.PEEK[2.MIME])"))[0][1]
        self.assertIn(b"Content-Disposition: attachment", mime2)
        binary = ok(c.fetch("1", "(BINARY.PEEK[2] BINARY.SIZE[2])"))
        self.assertEqual(binary[0][1], bytes(range(8)))
        self.assertIn(b"BINARY.SIZE[2] 8", binary[1] if isinstance(binary[1], bytes) else binary[0][0])
        fields = ok(c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))[0][1]
        self.assertEqual(fields, b"Subject: with attachment\r\n\r\n")
        partial = ok(c.fetch("1", "(BODY.PEEK[1]<4.4>)"))[0]
        self.assertIn(b"BODY[1]<4>", partial[0])
        self.assertEqual(partial[1], b"text")


class TestFolders(ImapCase):
    def test_new_users_have_the_special_use_folders(self):
        user = self.new_user("folders")
        c = self.login(user)
        listing = b"\n".join(ok(c.list()))
        for name, use in (("INBOX", None), ("Sent", b"\\Sent"), ("Drafts", b"\\Drafts"), ("Trash", b"\\Trash"),
                          ("Junk", b"\\Junk"), ("Archive", b"\\Archive")):
            line = [l for l in listing.split(b"\n") if l.endswith(b" " + name.encode())]
            self.assertEqual(len(line), 1, (name, listing))
            if use:
                self.assertIn(use, line[0])

    def test_create_rename_delete_subscribe(self):
        user = self.new_user("tree")
        c = self.login(user)
        ok(c.create("Projects/Herald"))
        names = [l.decode() for l in ok(c.list('""', "Projects*"))]
        self.assertTrue(any(n.endswith(" Projects") and "\\HasChildren" in n for n in names), names)
        self.assertTrue(any(n.endswith(" Projects/Herald") and "\\HasNoChildren" in n for n in names), names)
        ok(c.rename("Projects", "Work"))
        names = b" ".join(ok(c.list('""', "*")))
        self.assertIn(b"Work/Herald", names)
        self.assertNotIn(b"Projects", names)
        ok(c.subscribe("Work/Herald"))
        self.assertIn(b"Work/Herald", b" ".join(ok(c.lsub('""', "*"))))
        ok(c.unsubscribe("Work/Herald"))
        self.assertNotIn(b"Work/Herald", b" ".join(x for x in ok(c.lsub('""', "*")) if x))
        ok(c.delete("Work/Herald"))
        typ, data = c.select("Work/Herald")
        self.assertEqual(typ, "NO")
        self.assertIn(b"NONEXISTENT", data[0])
        typ, data = c.delete("INBOX")
        self.assertEqual(typ, "NO")
        typ, data = c.create("Sent")
        self.assertEqual(typ, "NO")
        self.assertIn(b"ALREADYEXISTS", data[0])

    def test_international_names_in_modified_utf7(self):
        user = self.new_user("intl")
        c = self.login(user)
        ok(c.create("Entw&APw-rfe"))
        self.assertIn(b"Entw&APw-rfe", b" ".join(ok(c.list('""', "Entw*"))))
        with self.assertRaises(imaplib.IMAP4.error) as e:
            c.create("Bad&Name")  # "&" must be written "&-" (RFC 3501 5.1.3)
        self.assertIn("BAD", str(e.exception))

    def test_metadata_annotations(self):
        """RFC 5464: a mailbox's comment kept across sessions and renames,
        gone with the mailbox; the user's private server entries."""
        imaplib.Commands.setdefault("GETMETADATA", ("AUTH", "SELECTED"))
        imaplib.Commands.setdefault("SETMETADATA", ("AUTH", "SELECTED"))
        user, other = self.new_user("meta"), self.new_user("meta-other")
        c = self.login(user)
        self.assertIn(b"METADATA", ok(c.capability())[0].split())
        ok(c.create("Projects"))
        typ, _ = c._simple_command("SETMETADATA", "Projects",
                                   '(/shared/comment "Herald work" /private/Comment "mine")')
        self.assertEqual(typ, "OK")
        typ, _ = c._simple_command("SETMETADATA", '""', '(/private/vendor/test/theme "dark")')
        self.assertEqual(typ, "OK")
        ok(c.rename("Projects", "Work"))
        d = self.login(user)
        typ, _ = d._simple_command("GETMETADATA", "Work", "(/shared/comment /private/comment)")
        self.assertEqual(typ, "OK")
        got = b" ".join(x for x in d.response("METADATA")[1] if isinstance(x, bytes))
        self.assertIn(b'/private/comment "mine"', got)
        self.assertIn(b'/shared/comment "Herald work"', got)
        typ, _ = d._simple_command("GETMETADATA", "(DEPTH infinity)", '""', "/private")
        self.assertEqual(typ, "OK")
        self.assertIn(b'/private/vendor/test/theme "dark"', d.response("METADATA")[1][0])
        # Another user's private server entries are their own.
        e = self.login(other)
        typ, _ = e._simple_command("GETMETADATA", "(DEPTH infinity)", '""', "/private")
        self.assertEqual(typ, "OK")
        self.assertEqual(e.response("METADATA")[1], [None])
        # A deleted mailbox's annotations go with it.
        ok(d.delete("Work"))
        ok(d.create("Work"))
        typ, _ = d._simple_command("GETMETADATA", "Work", "/shared/comment")
        self.assertEqual(typ, "OK")
        self.assertIn(b"/shared/comment NIL", d.response("METADATA")[1][0])

    def test_status(self):
        user = self.new_user("status")
        self.herald.deliver(user, message("one"))
        self.herald.deliver(user, message("two"))
        c = self.login(user)
        status = ok(c.status("INBOX", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY SIZE)"))[0]
        self.assertRegex(status, rb"MESSAGES 2 UNSEEN 2 UIDNEXT 3 UIDVALIDITY \d+ SIZE \d+\)")
        self.assertRegex(status, rb"SIZE \d+")


class TestSharing(ImapCase):
    """RFC 4314: a folder shared with another user, seen under Other Users
    with what its access list allows."""

    def setUp(self):
        for verb in ("SETACL", "GETACL", "MYRIGHTS", "LISTRIGHTS", "DELETEACL"):
            imaplib.Commands.setdefault(verb, ("AUTH", "SELECTED"))

    def test_a_shared_folder(self):
        alice, bob, carol = self.new_user("owner"), self.new_user("reader"), self.new_user("stranger")
        a = self.login(alice)
        ok(a.create("Projects"))
        report = message("quarterly report")
        ok(a.append("Projects", None, None, report))
        typ, _ = a._simple_command("SETACL", "Projects", bob, "lrs")
        self.assertEqual(typ, "OK")
        typ, _ = a._simple_command("GETACL", "Projects")
        self.assertEqual(typ, "OK")
        self.assertIn(f"{bob} lrs".encode(), a.response("ACL")[1][0])
        shared = f'"Other Users/{alice}/Projects"'

        b = self.login(bob)
        typ, data = b._simple_command("NAMESPACE")
        self.assertIn(b'(("Other Users/" "/"))', b.response("NAMESPACE")[1][0])
        listing = b" ".join(ok(b.list('""', "*")))
        self.assertIn(f"Other Users/{alice}/Projects".encode(), listing)
        typ, data = b.select(shared)
        self.assertEqual(typ, "OK", data)
        self.assertEqual(data, [b"1"])
        self.assertEqual(ok(b.fetch("1", "(BODY[])"))[0][1], report)
        typ, data = b.store("1", "+FLAGS", "(\\Flagged)")
        self.assertEqual(typ, "NO")
        self.assertIn(b"NOPERM", data[0])
        typ, _ = b._simple_command("MYRIGHTS", shared)
        self.assertIn(b"lrs", b.response("MYRIGHTS")[1][0])
        # A copy into bob's own INBOX is bob's; an APPEND into alice's
        # folder needs the 'i' right she has not given.
        typ, data = b.copy("1", "INBOX")
        self.assertEqual(typ, "OK", data)
        self.assertIn(b"MESSAGES 1", ok(b.status("INBOX", "(MESSAGES)"))[0])
        typ, data = b.append(shared, None, None, message("from bob"))
        self.assertEqual(typ, "NO")
        self.assertIn(b"NOPERM", data[0])
        typ, _ = a._simple_command("SETACL", "Projects", bob, "+i")
        self.assertEqual(typ, "OK")
        ok(b.append(shared, None, None, message("from bob")))
        self.assertIn(b"MESSAGES 2", ok(a.status("Projects", "(MESSAGES)"))[0])

        # Someone without rights learns nothing: the folder is as absent as
        # one that does not exist.
        c = self.login(carol)
        self.assertNotIn(b"Other Users", b" ".join(x for x in ok(c.list('""', "*")) if x))
        for name in (shared, f'"Other Users/{alice}/Nope"'):
            typ, data = c.select(name)
            self.assertEqual(typ, "NO")
            self.assertIn(b"NONEXISTENT", data[0])

        # RFC 5464 with ACL: the folder's /shared comment is one for both,
        # a /private one each reader's own.
        for verb in ("SETMETADATA", "GETMETADATA"):
            imaplib.Commands.setdefault(verb, ("AUTH", "SELECTED"))
        typ, _ = a._simple_command("SETMETADATA", "Projects", '(/shared/comment "Q3" /private/comment "mine")')
        self.assertEqual(typ, "OK")
        typ, _ = b._simple_command("SETMETADATA", shared, '(/private/comment "bob\'s")')
        self.assertEqual(typ, "OK")
        typ, _ = b._simple_command("GETMETADATA", shared, "(/shared/comment /private/comment)")
        self.assertEqual(typ, "OK")
        got = b.response("METADATA")[1][0]
        self.assertIn(b'/shared/comment "Q3"', got)
        self.assertIn(b'/private/comment "bob\'s"', got)
        typ, _ = a._simple_command("GETMETADATA", "Projects", "/private/comment")
        self.assertIn(b'/private/comment "mine"', a.response("METADATA")[1][0])

        # Nobody's own folder may live in that namespace.
        for name in ('"Other Users"', f'"Other Users/{bob}/Mine"'):
            typ, data = b.create(name)
            self.assertEqual(typ, "NO")
            self.assertIn(b"NOPERM", data[0])

        # Taken back, it is gone from bob's list.
        typ, _ = a._simple_command("DELETEACL", "Projects", bob)
        self.assertEqual(typ, "OK")
        b2 = self.login(bob)
        self.assertNotIn(b"Other Users", b" ".join(x for x in ok(b2.list('""', "*")) if x))


class TestChanging(ImapCase):
    def test_flags_search_expunge(self):
        user = self.new_user("flags")
        for i in range(4):
            self.herald.deliver(user, message(f"number {i}", body=f"body {i} {'needle' if i == 2 else ''}\r\n"))
        c = self.login(user)
        c.select("INBOX")
        ok(c.store("1:2", "+FLAGS", "(\\Seen $Important)"))
        self.assertEqual(ok(c.search(None, "UNSEEN")), [b"3 4"])
        self.assertEqual(ok(c.search(None, "KEYWORD", "$Important")), [b"1 2"])
        self.assertEqual(ok(c.search(None, "SUBJECT", '"number 3"')), [b"4"])
        self.assertEqual(ok(c.search(None, "BODY", "needle")), [b"3"])
        self.assertEqual(ok(c.uid("SEARCH", "SEEN")), [b"1 2"])
        ok(c.store("2:3", "+FLAGS", "\\Deleted"))
        expunged = ok(c.expunge())
        self.assertEqual(expunged, [b"3", b"2"])  # highest first: the numbers as the client renumbers
        self.assertEqual(ok(c.search(None, "ALL")), [b"1 2"])
        subjects = [email.message_from_bytes(d[1])["Subject"] for d in ok(c.fetch("1:*", "(BODY.PEEK[HEADER])"))
                    if isinstance(d, tuple)]
        self.assertEqual(subjects, ["number 0", "number 3"])

    def test_body_search_finds_decoded_words(self):
        """SEARCH BODY reads the index of decoded text: a word inside a
        base64 or quoted-printable body is found, its encoding is not."""
        user = self.new_user("fts")
        encoded = base64.b64encode("the secret word is zebracorn\r\n".encode()).decode()
        self.herald.deliver(user, message("b64", body=encoded + "\r\n",
                                           extra="MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n"))
        self.herald.deliver(user, message("qp", body="caf=C3=A9 au lait\r\n",
                                           extra="MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                                 "Content-Transfer-Encoding: quoted-printable\r\n"))
        c = self.login(user)
        c.select("INBOX")
        self.assertEqual(ok(c.search(None, "BODY", "zebracorn")), [b"1"])
        self.assertEqual(ok(c.search(None, "BODY", encoded[:12])), [b""])
        self.assertEqual(ok(c.search("UTF-8", "BODY", '"caf\u00e9"'.encode())), [b"2"])
        self.assertEqual(ok(c.search(None, "TEXT", "b64")), [b"1"])  # the Subject is text
        self.assertEqual(ok(c.search(None, "BODY", "b64")), [b""])   # not body

    def test_append_copy_move_with_uids(self):
        user = self.new_user("append")
        c = self.login(user)
        draft = message("a draft")
        typ, data = c.append("Drafts", "(\\Draft \\Seen)", imaplib.Time2Internaldate(1700000000), draft)
        self.assertEqual(typ, "OK")
        m = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
        self.assertIsNotNone(m, data)
        self.assertEqual(m.group(2), b"1")
        c.select("Drafts")
        fetched = ok(c.fetch("1", "(FLAGS INTERNALDATE BODY.PEEK[])"))
        self.assertEqual(fetched[0][1], draft)
        self.assertIn(b"\\Draft", fetched[0][0])
        self.assertIn(b'INTERNALDATE "14-Nov-2023 22:13:20 +0000"', fetched[0][0])
        typ, data = c.copy("1", "Archive")
        self.assertEqual(typ, "OK")
        self.assertRegex(data[0], rb"COPYUID \d+ 1 1")
        typ, data = c._simple_command("MOVE", "1", "Trash")
        self.assertEqual(typ, "OK")
        self.assertEqual(c.response("EXPUNGE")[1], [b"1"])
        self.assertEqual(ok(c.search(None, "ALL")), [b""])
        for box in ("Archive", "Trash"):
            status = ok(c.status(box, "(MESSAGES)"))[0]
            self.assertIn(b"MESSAGES 1", status)
        # RFC 8514: the moved message was saved into Trash now, though its
        # internal date is 2023's.
        c.select("Trash")
        fetched = ok(c.fetch("1", "(INTERNALDATE SAVEDATE)"))[0]
        self.assertIn(b'INTERNALDATE "14-Nov-2023 22:13:20 +0000"', fetched)
        saved = re.search(rb'SAVEDATE "([^"]+)"', fetched)
        self.assertIsNotNone(saved, fetched)
        when = datetime.datetime.strptime(saved.group(1).decode().strip(), "%d-%b-%Y %H:%M:%S %z")
        self.assertLess(abs(when.timestamp() - time.time()), 120)
        self.assertEqual(ok(c.uid("SEARCH", "SAVEDBEFORE", "1-Jan-2024")), [b""])
        typ, data = c.append("Nowhere", None, None, draft)
        self.assertEqual(typ, "NO")
        self.assertIn(b"TRYCREATE", data[0])

    def test_multiappend_stores_all_or_none(self):
        """RFC 3502: two messages in one APPEND, each literal asked for."""
        user = self.new_user("multi")
        first, second = message("first of two"), message("second of two")
        s, f = self.raw_session(user)
        s.sendall(b"b APPEND Sent (\\Seen) {%d}\r\n" % len(first))
        self.assertTrue(f.readline().startswith(b"+"))
        s.sendall(first + b' (\\Flagged) "14-Nov-2023 22:13:20 +0000" {%d}\r\n' % len(second))
        self.assertTrue(f.readline().startswith(b"+"))
        s.sendall(second + b"\r\n")
        done = f.readline()
        self.assertRegex(done, rb"^b OK \[APPENDUID \d+ 1:2\]")
        # One refused (a zero-octet message) refuses the others.
        s.sendall(b"c APPEND Sent {%d+}\r\n%s {0+}\r\n\r\n" % (len(first), first))
        self.assertTrue(f.readline().startswith(b"c NO [CANNOT]"))
        c = self.login(user)
        c.select("Sent")
        fetched = ok(c.fetch("1:*", "(FLAGS INTERNALDATE BODY.PEEK[])"))
        self.assertEqual([part[1] for part in fetched if isinstance(part, tuple)], [first, second])
        self.assertIn(b"\\Seen", fetched[0][0])
        self.assertIn(b"\\Flagged", fetched[2][0])
        self.assertIn(b'"14-Nov-2023 22:13:20 +0000"', fetched[2][0])

    def test_imap_and_pop3_share_the_inbox(self):
        user = self.new_user("shared")
        c = self.login(user)
        ok(c.append("INBOX", None, None, message("appended over IMAP")))
        msgs = self.herald.mailbox(user)
        self.assertEqual(len(msgs), 1)
        self.assertIn(b"appended over IMAP", msgs[0])


class TestTwoSessions(ImapCase):
    def test_each_sees_the_others_changes(self):
        user = self.new_user("two")
        self.herald.deliver(user, message("one"))
        self.herald.deliver(user, message("two"))
        a = self.login(user)
        b = self.login(user)
        a.select("INBOX")
        b.select("INBOX")
        ok(b.store("1", "+FLAGS", "\\Flagged"))
        ok(a.noop())
        self.assertTrue(any(b"\\Flagged" in x for x in a.response("FETCH")[1] or []), a.untagged_responses)
        self.herald.deliver(user, message("three"))
        ok(a.noop())
        self.assertEqual(a.response("EXISTS")[1][-1], b"3")
        ok(b.store("2", "+FLAGS", "\\Deleted"))
        ok(b.expunge())
        ok(a.noop())
        self.assertEqual(a.response("EXPUNGE")[1], [b"2"])
        self.assertEqual(ok(a.search(None, "ALL")), [b"1 2"])

    class Idle:
        """Idle - a selected session in IDLE, read one line at a time."""

        def __init__(self, case, c):
            self.case, self.sock = case, c.socket()
            self.sock.sendall(b"i1 IDLE\r\n")
            self.reader = self.sock.makefile("rb")
            case.assertTrue(self.reader.readline().startswith(b"+ "))

        def next_line(self, why="no untagged response within 5 s"):
            ready, _, _ = select.select([self.sock], [], [], 5)
            self.case.assertTrue(ready, why)
            return self.reader.readline()

        def done(self):
            self.sock.sendall(b"DONE\r\n")
            self.case.assertTrue(self.reader.readline().startswith(b"i1 OK"))

    def idle(self, user):
        c = self.login(user)
        c.select("INBOX")
        return c, self.Idle(self, c)

    def test_idle_wakes_on_delivery(self):
        user = self.new_user("idle")
        _, idle = self.idle(user)
        started = time.monotonic()
        with smtplib.SMTP(HOST, self.herald.smtp_port, local_hostname="client.test", timeout=15) as s:
            s.sendmail("imap-test@client.test", [user], message("wake up"))
        self.assertEqual(idle.next_line("no untagged response within 5 s of the delivery"), b"* 1 EXISTS\r\n")
        self.assertLess(time.monotonic() - started, 5)
        idle.done()

    def test_idle_wakes_on_another_sessions_changes(self):
        user = self.new_user("idle2")
        self.herald.deliver(user, message("one"))
        self.herald.deliver(user, message("two"))
        other = self.login(user)
        other.select("INBOX")
        c, idle = self.idle(user)
        ok(other.store("2", "+FLAGS", "\\Flagged"))
        self.assertEqual(idle.next_line(), b"* 2 FETCH (UID 2 FLAGS (\\Flagged))\r\n")
        ok(other.store("1", "+FLAGS", "\\Deleted"))
        self.assertEqual(idle.next_line(), b"* 1 FETCH (UID 1 FLAGS (\\Deleted))\r\n")
        ok(other.expunge())
        self.assertEqual(idle.next_line(), b"* 1 EXPUNGE\r\n")
        idle.done()
        self.assertEqual(ok(c.search(None, "ALL")), [b"1"])

    def test_idle_wakes_on_a_herald_command(self):
        """A change made by `herald` (another process) reaches IDLE too."""
        user = self.new_user("idlecli")
        self.herald.deliver(user, message("one"))
        _, idle = self.idle(user)
        started = time.monotonic()
        self.herald.cli("flags", user, "INBOX", "1", "--add", "\\Flagged")
        self.assertEqual(idle.next_line("IDLE was not told of the command's change"),
                         b"* 1 FETCH (UID 1 FLAGS (\\Flagged))\r\n")
        self.assertLess(time.monotonic() - started, 5)
        idle.done()


class TestNotify(ImapCase):
    """NOTIFY (RFC 5465): told between commands, without asking."""

    @staticmethod
    def until_tagged(f, tag):
        lines = []
        while True:
            line = f.readline()
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    def notify_session(self, user, notify):
        s, f = self.raw_session(user)
        s.sendall(b"s SELECT INBOX\r\n")
        self.until_tagged(f, b"s")
        s.sendall(b"n NOTIFY " + notify + b"\r\n")
        lines = self.until_tagged(f, b"n")
        self.assertTrue(lines[-1].startswith(b"n OK"), lines)
        return s, f, lines[:-1]

    def test_other_folders_and_the_selected_one_are_told_without_a_command(self):
        user = self.new_user("notify")
        s, f, status = self.notify_session(
            user, b"SET STATUS (SELECTED (MessageNew (UID BODY.PEEK[HEADER.FIELDS (Subject)]) MessageExpunge FlagChange)) "
                  b"(PERSONAL (MessageNew MessageExpunge))")
        # SET STATUS: the state of every other personal folder, now.
        self.assertEqual(sorted(re.match(rb"\* STATUS (\S+) \(MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+\)\r\n$",
                                         line).group(1) for line in status),
                         [b"Archive", b"Drafts", b"Junk", b"Sent", b"Trash"])
        other = self.login(user)
        started = time.monotonic()
        ok(other.append("Sent", None, None, message("sent elsewhere")))
        self.assertRegex(f.readline(), rb"^\* STATUS Sent \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+\)\r\n$")
        self.assertLess(time.monotonic() - started, 5)
        with smtplib.SMTP(HOST, self.herald.smtp_port, local_hostname="client.test", timeout=15) as smtp:
            smtp.sendmail("imap-test@client.test", [user], message("notify me"))
        self.assertEqual(f.readline(), b"* 1 EXISTS\r\n")
        fetch = re.match(rb"^\* 1 FETCH \(UID 1 BODY\[HEADER\.FIELDS \(Subject\)\] \{(\d+)\}\r\n$", f.readline())
        self.assertTrue(fetch)
        self.assertEqual(f.read(int(fetch.group(1))), b"Subject: notify me\r\n\r\n")
        self.assertEqual(f.readline(), b")\r\n")
        # Telling of it did not read it; another session's expunge is told too.
        other.select("INBOX")
        self.assertEqual(ok(other.fetch("1", "FLAGS")), [b"1 (FLAGS ())"])
        ok(other.store("1", "+FLAGS", "\\Deleted"))
        self.assertEqual(f.readline(), b"* 1 FETCH (UID 1 FLAGS (\\Deleted))\r\n")
        ok(other.expunge())
        self.assertEqual(f.readline(), b"* 1 EXPUNGE\r\n")
        s.sendall(b"z NOOP\r\n")
        self.assertEqual(self.until_tagged(f, b"z"), [b"z OK NOOP completed\r\n"])

    def test_a_herald_command_is_told_as_status(self):
        """A flag change by `herald flags` (another process) in a folder not
        selected reaches the NOTIFY session as STATUS, UNSEEN included."""
        user = self.new_user("notifycli")
        self.herald.deliver(user, message("one"))
        s, f = self.raw_session(user)
        s.sendall(b"n NOTIFY SET STATUS (INBOXES (MessageNew MessageExpunge FlagChange))\r\n")
        self.assertRegex(f.readline(), rb"^\* STATUS INBOX \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1\)\r\n$")
        self.assertEqual(f.readline(), b"n OK NOTIFY completed\r\n")
        started = time.monotonic()
        self.herald.cli("flags", user, "INBOX", "1", "--add", "\\Seen")
        self.assertRegex(f.readline(), rb"^\* STATUS INBOX \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 0\)\r\n$")
        self.assertLess(time.monotonic() - started, 5)

    def test_unsupported_events_and_none(self):
        user = self.new_user("notify2")
        self.assertIn(b"NOTIFY", ok(self.login(user).capability())[0].split())
        s, f = self.raw_session(user)
        s.sendall(b"a NOTIFY SET (PERSONAL (MailboxName))\r\nb NOTIFY SET (INBOXES (MessageNew))\r\n"
                  b"c NOTIFY SET (INBOXES (MessageNew MessageExpunge))\r\nd NOTIFY NONE\r\n")
        self.assertEqual(f.readline(), b"a NO [BADEVENT (MessageNew MessageExpunge FlagChange)] Event not supported\r\n")
        self.assertEqual(f.readline(), b"b BAD MessageNew and MessageExpunge go together\r\n")
        self.assertEqual(f.readline(), b"c OK NOTIFY completed\r\n")
        self.assertEqual(f.readline(), b"d OK NOTIFY completed\r\n")
        # After NONE nothing more is told: a delivery, then our own NOOP's reply first.
        self.herald.deliver(user, message("unheard"))
        s.sendall(b"e NOOP\r\n")
        self.assertEqual(f.readline(), b"e OK NOOP completed\r\n")


class TestLoginAndTransport(ImapCase):
    def test_bad_password_reveals_nothing(self):
        user = self.new_user("login")
        for who in (user, "nobody@example.test"):
            c = self.herald.imap()
            with self.assertRaises(imaplib.IMAP4.error) as e:
                c.login(who, "wrong")
            self.assertIn("[AUTHENTICATIONFAILED] Authentication failed.", str(e.exception))
            c.logout()

    def test_authenticate_plain_and_capabilities(self):
        user = self.new_user("sasl")
        c = self.herald.imap()
        self.addCleanup(self._logout, c)
        self.assertIn("IMAP4REV2", c.capabilities)
        self.assertIn("AUTH=PLAIN", c.capabilities)
        ok(c.authenticate("PLAIN", lambda _: f"\0{user}\0secret".encode()))
        ok(c.select("INBOX"))

    def test_imaps_and_starttls(self):
        user = self.new_user("tls")
        self.herald.deliver(user, message("over tls"))
        c = self.login(user, tls=True)
        self.assertEqual(ok(c.select("INBOX")), [b"1"])
        c2 = self.herald.imap()
        c2.starttls(ssl_context=tls_client_context())
        c2.login(user, "secret")
        self.assertEqual(ok(c2.select("INBOX")), [b"1"])
        c2.logout()

    def test_bad_commands_end_the_session(self):
        s, f = self.raw_session()
        s.sendall(b"".join(b"x%d FROBNICATE\r\n" % i for i in range(25)))
        lines = []
        while True:
            line = f.readline()
            if not line:
                break
            lines.append(line)
        self.assertTrue(any(l.startswith(b"* BYE") for l in lines), lines[-3:])
        self.assertLessEqual(sum(1 for l in lines if b" BAD " in l), 20)

    def test_compress_deflate(self):
        """RFC 4978: after COMPRESS DEFLATE both directions are raw DEFLATE."""
        user = self.new_user("deflate")
        original = message("compressed", body="compress me, compress me\r\n" * 300)
        self.herald.deliver(user, original)
        s, f = self.raw_session(user)
        s.sendall(b"b COMPRESS DEFLATE\r\n")
        self.assertEqual(f.readline(), b"b OK DEFLATE active\r\n")
        out, inflate = zlib.compressobj(wbits=-15), zlib.decompressobj(wbits=-15)
        s.sendall(out.compress(b"c SELECT INBOX\r\nd FETCH 1 BODY.PEEK[TEXT]\r\ne LOGOUT\r\n") +
                  out.flush(zlib.Z_SYNC_FLUSH))
        plain, wire = b"", 0
        while b"e OK" not in plain:
            chunk = s.recv(65536)
            if not chunk:
                break
            wire += len(chunk)
            plain += inflate.decompress(chunk)
        self.assertIn(b"c OK [READ-WRITE]", plain)
        self.assertIn(b"compress me, compress me\r\n" * 300, plain)
        self.assertLess(wire, len(plain) / 5, "the FETCH came compressed")

    def test_huge_literal_is_refused(self):
        s, f = self.raw_session()
        s.sendall(b"a1 LOGIN {4294967296}\r\n")
        self.assertTrue(f.readline().startswith(b"a1 BAD"))
        s.sendall(b"a2 NOOP\r\n")
        self.assertTrue(f.readline().startswith(b"a2 OK"))

    @unittest.skipUnless(shutil.which("curl"), "curl is not installed")
    def test_curl_reads_a_message(self):
        user = self.new_user("curl")
        original = message("for curl")
        self.herald.deliver(user, original)
        out = subprocess.run(["curl", "-s", "--max-time", "20", "-u", f"{user}:secret",
                              f"imap://{HOST}:{self.herald.imap_port}/INBOX;UID=1"],
                             capture_output=True, check=True).stdout
        self.assertEqual(split_trace(out)[1], original)


if __name__ == "__main__":
    unittest.main()
