"""test_mbsync.py - Herald's IMAP server synchronised both ways with a local maildir by mbsync.

Debian's isync (mbsync 1.4) pairs the user's INBOX on Herald (plaintext on
loopback; mbsync picks SASL SCRAM-SHA-256 itself) with a maildir. The
server's messages must arrive in the maildir byte for byte with their
flags; a flag changed in the maildir, a message added to it and a flag
changed on the server must each reach the other side (checked with imaplib
and by reading the maildir); a further run changes nothing.
"""

import os
import re
import shutil
import subprocess
import unittest

from harness import HOST, HeraldTestCase, Herald, split_trace, unique

MBSYNC = shutil.which("mbsync")


def message(subject, body):
    return (f"From: Erin <erin@client.test>\r\nTo: sync@example.test\r\nSubject: {subject}\r\n"
            f"Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{unique('sync')}@client.test>\r\n"
            f"\r\n{body}").encode()


def without_tuid(data):
    """without_tuid - a message without the X-TUID header mbsync adds to find
    a message again after copying it (to the maildir and to the server)."""
    return re.sub(rb"^X-TUID: [^\r\n]*\r?\n", b"", data, count=1, flags=re.M)


def maildir(path):
    """maildir - {Subject: (flags, bytes without X-TUID, filename)} of the messages in a maildir folder."""
    out = {}
    for sub in ("new", "cur"):
        for name in os.listdir(os.path.join(path, sub)):
            with open(os.path.join(path, sub, name), "rb") as f:
                data = f.read()
            subject = re.search(rb"^Subject: (.*?)\r?$", data, re.M).group(1).decode()
            flags = name.split(":2,", 1)[1] if ":2," in name else ""
            out[subject] = (flags, without_tuid(data), os.path.join(sub, name))
    return out


@unittest.skipUnless(MBSYNC, "mbsync is not installed (scripts/bootstrap installs isync)")
class TestMbsync(HeraldTestCase):
    @classmethod
    def setUpClass(cls):
        cls.herald = Herald(protocols=("smtp", "pop3", "imap"))

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()

    def imap(self, user):
        c = self.herald.imap(user)
        self.addCleanup(c.logout)
        return c

    def server(self, c):
        """server - {Subject: (sorted flags, bytes)} of user's INBOX, read without changing it."""
        c.select("INBOX", readonly=True)
        typ, data = c.fetch("1:*", "(FLAGS BODY.PEEK[])")
        self.assertEqual(typ, "OK")
        out = {}
        for item in data:
            if not isinstance(item, tuple):
                continue
            flags = re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode().split()
            subject = re.search(rb"^Subject: (.*?)\r?$", item[1], re.M).group(1).decode()
            out[subject] = (sorted(flags), item[1])
        c.close()
        return out

    def sync(self, rc):
        res = subprocess.run([MBSYNC, "-c", rc, "-a"], capture_output=True, text=True, timeout=30)
        self.assertEqual(res.returncode, 0, f"mbsync failed:\n{res.stdout}\n{res.stderr}")
        return res

    def test_sync_both_ways(self):
        user = self.new_user("sync")
        first = message("first from the server", "Flagged and read on the server.\r\n")
        second = message("second from the server", "Not read yet.\r\n")
        self.herald.deliver(user, first)
        self.herald.deliver(user, second)
        c = self.imap(user)
        c.select("INBOX")
        self.assertEqual(c.store("1", "+FLAGS", "(\\Seen \\Flagged)")[0], "OK")
        c.close()

        home = os.path.join(self.herald.tmp, unique("mbsync"))
        mail = os.path.join(home, "Mail")
        os.makedirs(mail)
        rc = os.path.join(home, "mbsyncrc")
        with open(rc, "w", encoding="utf-8") as f:
            f.write(f"IMAPAccount herald\nHost {HOST}\nPort {self.herald.imap_port}\nUser {user}\nPass secret\n"
                    "SSLType None\n\n"
                    "IMAPStore herald-remote\nAccount herald\n\n"
                    f"MaildirStore local\nPath {mail}/\nInbox {mail}/INBOX\nSubFolders Verbatim\n\n"
                    "Channel inbox\nFar :herald-remote:\nNear :local:\nPatterns INBOX\n"
                    f"Create Both\nSyncState *\nSync All\n")

        # 1. Server to maildir: both messages, with their flags.
        self.sync(rc)
        inbox = os.path.join(mail, "INBOX")
        local = maildir(inbox)
        self.assertEqual(sorted(local), ["first from the server", "second from the server"])
        self.assertEqual(local["first from the server"][0], "FS")
        self.assertEqual(local["second from the server"][0], "")
        on_server = self.server(c)
        for subject, original in (("first from the server", first), ("second from the server", second)):
            # the stored octets, with the LF line ends a maildir keeps
            self.assertEqual(local[subject][1], on_server[subject][1].replace(b"\r\n", b"\n"))
            self.assertEqual(split_trace(on_server[subject][1])[1], original)

        # 2. Maildir to server: the second is read and answered here, a
        # message is written into the maildir; meanwhile the server's copy of
        # the first is answered elsewhere.
        flags, _, name = local["second from the server"]
        base = os.path.basename(name).split(":2,")[0]
        os.rename(os.path.join(inbox, name), os.path.join(inbox, "cur", base + ":2,RS"))
        written = message("written locally", "Composed offline, filed in the maildir.\r\n")
        with open(os.path.join(inbox, "new", f"{unique('local')}.herald-test"), "wb") as f:
            f.write(written.replace(b"\r\n", b"\n"))  # a local file has LF line ends
        c.select("INBOX")
        self.assertEqual(c.store("1", "+FLAGS", "(\\Answered)")[0], "OK")
        c.close()
        self.sync(rc)

        on_server = self.server(c)
        self.assertEqual(sorted(on_server), ["first from the server", "second from the server", "written locally"])
        self.assertEqual(on_server["second from the server"][0], ["\\Answered", "\\Seen"])
        self.assertEqual(on_server["first from the server"][0], ["\\Answered", "\\Flagged", "\\Seen"])
        self.assertEqual(on_server["written locally"][0], [])
        # as written, with CRLF line ends on the wire
        self.assertEqual(without_tuid(on_server["written locally"][1]), written)
        local = maildir(inbox)
        self.assertEqual(sorted(local), ["first from the server", "second from the server", "written locally"])
        self.assertEqual(local["first from the server"][0], "FRS")
        self.assertEqual(local["second from the server"][0], "RS")

        # 3. Nothing left to do: another run changes neither side.
        self.sync(rc)
        self.assertEqual(self.server(c), on_server)
        self.assertEqual({k: v[0] for k, v in maildir(inbox).items()}, {k: v[0] for k, v in local.items()})
        self.assertEqual(len(os.listdir(os.path.join(inbox, "new"))) + len(os.listdir(os.path.join(inbox, "cur"))), 3)


if __name__ == "__main__":
    unittest.main()
