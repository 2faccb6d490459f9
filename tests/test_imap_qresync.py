"""test_imap_qresync.py - QRESYNC resynchronisation (RFC 7162 3.2.5, 3.2.6) on the wire.

A client that saw a mailbox at UIDVALIDITY/HIGHESTMODSEQ comes back after
another session expunged UID 2 and flagged UID 3. SELECT ... (QRESYNC (uv
modseq)) must send "* VANISHED (EARLIER) 2" and a FETCH of UID 3 with its
flags and MODSEQ before the tagged OK (3.2.5.1), and UID FETCH ...
(CHANGEDSINCE modseq VANISHED) must send the VANISHED (EARLIER) (3.2.6) -
whether or not the session that made the changes is still there.
imapflow's view of the same is in test_imapflow.py.
"""

import smtplib
import unittest

from harness import HOST, HeraldTestCase, Herald, unique


def message(subject):
    return (f"From: <q@client.test>\r\nTo: <r@example.test>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{unique('qr')}@client.test>\r\n\r\nbody\r\n").encode()


class TestQresync(HeraldTestCase):
    @classmethod
    def setUpClass(cls):
        cls.herald = Herald(protocols=("smtp", "pop3", "imap"))

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()

    def imap(self, user):
        c = self.herald.imap(user)
        self.addCleanup(lambda: c.logout() if c.state != "LOGOUT" else None)
        return c

    def prepared(self, keep_open=False):
        """prepared - (user, uidvalidity, modseq) as a QRESYNC client saw
        INBOX with UIDs 1-4, after which another session expunged UID 2 and
        flagged UID 3, and logged out (keep_open: stays, INBOX selected)."""
        user = self.new_user("qresync")
        with smtplib.SMTP(HOST, self.herald.smtp_port, local_hostname="client.test", timeout=15) as s:
            for i in range(4):
                s.sendmail("q@client.test", [user], message(f"m{i}"))
        self.herald.wait_mailbox(user, 4)
        a = self.herald.imap(user)
        self.assertEqual(a._simple_command("ENABLE", "QRESYNC")[0], "OK")
        a.select("INBOX")
        uv = a.untagged_responses["UIDVALIDITY"][0].decode()
        modseq = a.untagged_responses["HIGHESTMODSEQ"][0].decode()
        a.logout()
        b = self.herald.imap(user)
        b.select("INBOX")
        self.assertEqual(b.uid("STORE", "2", "+FLAGS", "(\\Deleted)")[0], "OK")
        self.assertEqual(b.expunge()[0], "OK")
        self.assertEqual(b.uid("STORE", "3", "+FLAGS", "(\\Flagged)")[0], "OK")
        if keep_open:
            self.addCleanup(b.logout)
        else:
            b.logout()
        return user, uv, modseq

    def qresync_select(self, c, uv, modseq):
        c.untagged_responses.clear()
        typ, data = c._simple_command("SELECT", "INBOX", f"(QRESYNC ({uv} {modseq}))")
        self.assertEqual(typ, "OK", data)
        c.state = "SELECTED"  # imaplib changes state only in its own select()
        return dict(c.untagged_responses)

    def check_resync(self, seen):
        self.assertEqual(seen.get("EXISTS"), [b"3"])
        self.assertEqual(seen.get("VANISHED"), [b"(EARLIER) 2"], seen)
        fetches = seen.get("FETCH") or []
        self.assertEqual(len(fetches), 1, seen)
        self.assertRegex(fetches[0], rb"^2 \(.*UID 3\b")
        self.assertRegex(fetches[0], rb"FLAGS \(\\Flagged\)")
        self.assertRegex(fetches[0], rb"MODSEQ \(\d+\)")

    def test_select_qresync_in_a_new_session(self):
        user, uv, modseq = self.prepared()
        c = self.imap(user)
        c._simple_command("ENABLE", "QRESYNC")
        self.check_resync(self.qresync_select(c, uv, modseq))

    def test_select_qresync_while_the_changing_session_is_still_there(self):
        user, uv, modseq = self.prepared(keep_open=True)
        c = self.imap(user)
        c._simple_command("ENABLE", "QRESYNC")
        self.check_resync(self.qresync_select(c, uv, modseq))

    def test_uid_fetch_vanished(self):
        user, uv, modseq = self.prepared()
        c = self.imap(user)
        c._simple_command("ENABLE", "QRESYNC")
        c.select("INBOX")
        c.untagged_responses.clear()
        typ, data = c._simple_command("UID", "FETCH", "1:*", "(FLAGS)", f"(CHANGEDSINCE {modseq} VANISHED)")
        self.assertEqual(typ, "OK", data)
        seen = dict(c.untagged_responses)
        self.assertEqual(seen.get("VANISHED"), [b"(EARLIER) 2"], seen)
        self.assertEqual(len(seen.get("FETCH") or []), 1, seen)
        self.assertRegex(seen["FETCH"][0], rb"UID 3\b")


if __name__ == "__main__":
    unittest.main()
