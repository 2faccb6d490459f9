"""test_mutt.py - Herald's IMAP server as a new user of mutt sees it.

Debian's mutt runs in a detached tmux (a private server socket, 120x40)
with the system Muttrc and a muttrc that holds only what such a user types
in: the account, the folder on Herald's imap listener (plaintext on
loopback), INBOX as the spool file, no caches. The test presses keys with
send-keys and reads the screen with capture-pane, each step waiting for
the text it expects - no sleeps: it logs in, lists the folders, reads a
mail, saves it to Archive, expunges it from INBOX and opens Archive; imaplib
checks that the store agrees.
"""

import os
import shutil
import subprocess
import time
import unittest

from harness import HOST, HeraldTestCase, Herald, unique

TMUX = shutil.which("tmux")
MUTT = shutil.which("mutt")


def message(subject, body, sender="Carol Sender <carol@client.test>"):
    return (f"From: {sender}\r\nTo: reader@example.test\r\nSubject: {subject}\r\n"
            f"Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{unique('mutt')}@client.test>\r\n"
            f"\r\n{body}").encode()


class Screen:
    """Screen - a program in a detached tmux session on its own server socket."""

    def __init__(self, workdir, command, env, width=120, height=40):
        self.socket = os.path.join(workdir, "tmux.sock")
        self.env = env
        self.history = []
        self._tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height), command)

    def _tmux(self, *args, check=True):
        return subprocess.run([TMUX, "-S", self.socket, *args], env=self.env, capture_output=True,
                              text=True, check=check, timeout=10)

    def text(self):
        """text - the screen as it is now."""
        res = self._tmux("capture-pane", "-p", "-t", "t", check=False)
        return res.stdout if res.returncode == 0 else ""

    def keys(self, *keys, literal=False):
        self.history.append(("keys", keys))
        self._tmux("send-keys", "-t", "t", *(("-l",) if literal else ()), *keys)

    def type(self, text):
        self.keys(text, literal=True)

    def wait(self, predicate, what, timeout=15.0):
        """wait - poll the screen until predicate(screen) holds; returns the screen."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.text()
            if predicate(screen):
                self.history.append(("saw", what))
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"mutt: no {what} within {timeout}s; steps {self.history}\n"
                                     f"screen:\n{screen}")
            time.sleep(0.05)  # polling interval

    def wait_text(self, *needles, timeout=15.0):
        return self.wait(lambda s: all(n in s for n in needles), f"{needles!r} on screen", timeout)

    def alive(self):
        return self._tmux("has-session", "-t", "t", check=False).returncode == 0

    def close(self):
        self._tmux("kill-server", check=False)


@unittest.skipUnless(TMUX and MUTT, "tmux or mutt is not installed (scripts/bootstrap installs them)")
class TestMutt(HeraldTestCase):
    @classmethod
    def setUpClass(cls):
        cls.herald = Herald(protocols=("smtp", "pop3", "imap"))

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()

    def start_mutt(self, user):
        home = os.path.join(self.herald.tmp, unique("home"))
        os.makedirs(home)
        muttrc = os.path.join(home, ".muttrc")
        with open(muttrc, "w", encoding="utf-8") as f:
            f.write(f'set imap_user = "{user}"\n'
                    'set imap_pass = "secret"\n'
                    f'set folder = "imap://{HOST}:{self.herald.imap_port}/"\n'
                    'set spoolfile = "+INBOX"\n'
                    'set record = ""\n'  # no copy of sent mail: the test sends none
                    'set postponed = "+Drafts"\n'
                    'unset header_cache\n'
                    'unset message_cachedir\n'
                    'set ssl_starttls = no\n'  # plaintext is allowed on loopback
                    'set ssl_force_tls = no\n')
        env = dict(os.environ, HOME=home, TERM="xterm-256color", LANG="C.UTF-8", LC_ALL="C.UTF-8",
                   MAIL="", MAILDIR="", EDITOR="true", TMUX="")
        screen = Screen(home, f"{MUTT} -F {muttrc}", env)
        self.addCleanup(screen.close)
        return screen

    def test_login_list_read_and_archive(self):
        user = self.new_user("mutt")
        self.herald.deliver(user, message("Welcome to Herald", "Your mailbox is ready.\r\n"))
        self.herald.deliver(user, message("Quarterly report", "The numbers are up by 12 percent.\r\n",
                                   sender="Dave Numbers <dave@client.test>"))
        m = self.start_mutt(user)

        # Logged in: the index of INBOX with both messages and their senders.
        index = m.wait_text("Quarterly report", "Welcome to Herald")
        self.assertIn("Dave Numbers", index)
        self.assertIn("Carol Sender", index)
        self.assertRegex(index, r"Mutt: .*INBOX.*\[Msgs:2 New:2")

        # The folder list: change-folder, then "?" for the server's folders.
        m.keys("c")
        m.wait_text("Open mailbox")
        m.keys("?")
        listing = m.wait_text("Archive", "Drafts", "Junk", "Sent", "Trash", "INBOX")
        self.assertIn(f"imap://{HOST}:{self.herald.imap_port}/", listing)
        m.keys("q")  # leave the browser (and the prompt): back to the index
        m.wait_text("Quarterly report", "Welcome to Herald")

        # Read the report: find it, open it in the pager.
        m.keys("/")
        m.wait_text("Search for")
        m.type("Quarterly")
        m.keys("Enter")
        m.keys("Enter")
        pager = m.wait_text("The numbers are up by 12 percent.")
        self.assertIn("Subject: Quarterly report", pager)
        self.assertIn("From: Dave Numbers <dave@client.test>", pager)
        m.keys("i")  # back to the index
        index = m.wait_text("Welcome to Herald", "Quarterly report", "[Msgs:2 New:1")

        # Save it to Archive: "s", the name, Enter; then "$" to sync INBOX.
        m.keys("s")
        m.wait_text("Save to mailbox")
        m.keys("C-u")
        m.type("=Archive")
        m.keys("Enter")
        # $confirmappend and $delete are on by default: mutt asks, the user says yes.
        m.wait_text(f"Append message(s) to imap://{HOST}:{self.herald.imap_port}/Archive?")
        m.keys("y")
        m.wait(lambda s: "Del:1" in s, "the saved message marked deleted")
        m.keys("$")
        m.wait_text("Purge 1 deleted message?")
        m.keys("y")
        index = m.wait(lambda s: "Msgs:1" in s and "Quarterly report" not in s, "INBOX without the report")
        self.assertIn("Welcome to Herald", index)

        # Open Archive: the report is there, read.
        m.keys("c")
        m.wait_text("Open mailbox")
        m.keys("C-u")
        m.type("=Archive")
        m.keys("Enter")
        archive = m.wait_text("Quarterly report", "Mutt: =Archive [Msgs:1")
        self.assertNotIn("Welcome to Herald", archive)

        # Quit ($quit is yes by default); the server agrees with what mutt showed.
        m.keys("q")
        m.wait(lambda s: not m.alive(), "mutt gone")
        c = self.herald.imap(user)
        self.addCleanup(c.logout)
        c.select("Archive", readonly=True)
        typ, data = c.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        self.assertEqual(typ, "OK")
        self.assertEqual([d for d in data if isinstance(d, tuple)][0][1].strip(), b"Subject: Quarterly report")
        self.assertIn(b"\\Seen", data[0][0])
        c.select("INBOX", readonly=True)
        typ, data = c.search(None, "ALL")
        self.assertEqual(data, [b"1"])
        typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        self.assertEqual(data[0][1].strip(), b"Subject: Welcome to Herald")


if __name__ == "__main__":
    unittest.main()
