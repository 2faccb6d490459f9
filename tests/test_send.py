"""test_send.py - `herald send`: the MIME builder, printed and submitted (issue 13).

The message Herald builds from text, HTML and three attachments (one with a
non-ASCII name, one binary) is parsed back with Python's email package:
every part's type, name and bytes as given, the Subject and display names
decoded, Bcc nowhere in the header.
"""

import email
import email.policy
import os
import pty
import pwd
import subprocess
import tempfile
import unittest

from harness import HeraldTestCase, herald_bin, unique


class SendPrintTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="herald-send-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", self.dir]))

    def file(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def send(self, *args, stdin=b""):
        return subprocess.run([herald_bin(), "send", *args], input=stdin, capture_output=True, timeout=30)

    def test_text_html_and_three_attachments_round_trip(self):
        files = {
            "Prüfbericht März.csv": "Menge;Preis\r\n3;4,50 €\r\n".encode(),
            "noise.bin": bytes(range(256)) * 20,
            "doc.pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
        }
        paths = [self.file(name, data) for name, data in files.items()]
        html = self.file("body.html", "<p>Grüße aus <b>Zürich</b></p>\n".encode())
        text = "Grüße,\nanbei der Bericht.\n" + "x" * 1200 + "\n"  # a line over 998 octets
        res = self.send("--from", "Jürgen Müller <j@example.test>", "--to", "a@example.test",
                        "--to", "Bö <b@example.test>", "--cc", "c@example.test", "--bcc", "secret@example.test",
                        "--subject", "Monatsbericht für März", "--html", html, "--header", "X-Job: nightly 42",
                        *[a for p in paths for a in ("--attach", p)], "--print", stdin=text.encode())
        self.assertEqual(res.returncode, 0, res.stderr.decode())
        raw = res.stdout
        self.assertTrue(all(len(line) <= 998 for line in raw.split(b"\r\n")), "lines within 998 octets")
        self.assertTrue(raw.isascii(), "7-bit clean")
        self.assertNotIn(b"secret@example.test", raw, "Bcc is never in the header")
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.assertEqual(msg["Subject"], "Monatsbericht für März")
        self.assertEqual(msg["From"].addresses[0].display_name, "Jürgen Müller")
        self.assertEqual([a.addr_spec for a in msg["To"].addresses], ["a@example.test", "b@example.test"])
        self.assertEqual(msg["To"].addresses[1].display_name, "Bö")
        self.assertEqual(msg["X-Job"], "nightly 42")
        self.assertIsNotNone(msg["Date"])
        self.assertRegex(msg["Message-ID"], r"^<[0-9A-F]+@.+>$")
        self.assertEqual(msg["MIME-Version"], "1.0")
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        alternative = msg.get_payload()[0]
        self.assertEqual(alternative.get_content_type(), "multipart/alternative")
        plain, rich = alternative.get_payload()
        self.assertEqual(plain.get_content().replace("\r\n", "\n"), text)
        self.assertEqual(rich.get_content_type(), "text/html")
        self.assertIn("Grüße aus <b>Zürich</b>", rich.get_content())
        attached = {p.get_filename(): p for p in msg.iter_attachments()}
        self.assertEqual(set(attached), set(files))
        for name, data in files.items():
            self.assertEqual(attached[name].get_payload(decode=True), data, name)
        self.assertEqual(attached["doc.pdf"].get_content_type(), "application/pdf")
        self.assertEqual(attached["Prüfbericht März.csv"].get_content_maintype(), "text")

    def test_refusals(self):
        res = self.send("--from", "a@example.test", "--to", "b@example.test", "--body", "x",
                        "--header", "X-Evil: a\r\nBcc: c@example.test", "--print")
        self.assertEqual(res.returncode, 2)
        self.assertNotIn(b"Bcc:", res.stdout)
        res = self.send("--to", "b@example.test", "--body", "x", "--print")
        self.assertEqual(res.returncode, 2, "--print has no user's address to default to")


class SendSubmitTest(HeraldTestCase):
    """herald send without --print: submitted through the maildrop, as sendmail submits."""

    def test_text_html_and_attachments_arrive_whole(self):
        h = self.start_herald(config={"sendmail": {"sender_domain": "example.test"}})
        to, bcc = h.add_user(f"{unique('to')}@example.test"), h.add_user(f"{unique('bcc')}@example.test")
        d = tempfile.mkdtemp(prefix="herald-send-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", d]))
        files = {"Prüfbericht März.csv": "Menge;Preis\r\n3;4,50 €\r\n".encode(), "noise.bin": bytes(range(256)) * 9,
                 "doc.pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"}
        paths = []
        for name, data in files.items():
            paths.append(os.path.join(d, name))
            with open(paths[-1], "wb") as f:
                f.write(data)
        with open(os.path.join(d, "b.html"), "wb") as f:
            f.write("<p>Grüße</p>".encode())
        args = ["send", "--config", h.config_path, "--to", to, "--bcc", bcc, "--subject", "Bericht für März",
                "--body", "see the files\n", "--html", os.path.join(d, "b.html")]
        for p in paths:
            args += ["--attach", p]
        res = subprocess.run([herald_bin(), *args], capture_output=True, timeout=30)
        self.assertEqual(res.returncode, 0, res.stderr)
        for rcpt in (to, bcc):
            msg = email.message_from_bytes(h.wait_mailbox(rcpt, 1)[0], policy=email.policy.default)
            self.assertEqual(msg["Subject"], "Bericht für März")
            self.assertIsNone(msg["Bcc"])
            self.assertEqual(msg["Return-Path"], f"<{pwd.getpwuid(os.geteuid()).pw_name}@example.test>")  # the caller
            attached = {p.get_filename(): p.get_payload(decode=True) for p in msg.iter_attachments()}
            self.assertEqual(attached, files)
            self.assertIn("Grüße", msg.get_body(("html",)).get_content())


    def test_a_broadcast_reaches_every_mailbox_with_the_body_stored_once(self):
        h = self.start_herald(config={"sendmail": {"sender_domain": "example.test"}})
        domain = f"{unique('crowd')}.test"
        h.cli("domain", "add", domain)
        users = [f"u{i:03d}@{domain}" for i in range(120)]
        # A SHA512-CRYPT hash of "secret" (openssl's): no argon2 run per user.
        hashed = subprocess.run(["openssl", "passwd", "-6", "-salt", "broadcast", "secret"], capture_output=True,
                                text=True, check=True).stdout.strip()
        for u in users:
            h.cli("user", "add", u, "--password-hash", hashed)
        # On a terminal it shows its progress.
        main, sub = pty.openpty()
        proc = subprocess.Popen([herald_bin(), "send", "--config", h.config_path, "--to-all", domain, "--subject",
                                 "all hands", "--body", "meeting at ten\n", "--attach", h.config_path],
                                stdin=subprocess.DEVNULL, stdout=sub, stderr=subprocess.PIPE)
        os.close(sub)
        out = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.close(main)
        self.assertEqual(proc.wait(timeout=60), 0, proc.stderr.read())
        proc.stderr.close()
        text = out.decode()
        self.assertIn("recipients: 120", text)
        self.assertIn("addressing: [" + "#" * 30 + "] 120/120", text)
        self.assertRegex(text, r"queued as [0-9A-F]+: 120 recipients")
        for u in (users[0], users[57], users[-1]):
            got = email.message_from_bytes(h.wait_mailbox(u, 1)[0], policy=email.policy.default)
            self.assertEqual(got["Subject"], "all hands")
        # One message in the store for all of them (sqlite3, Debian's).
        rows = subprocess.run(["sqlite3", os.path.join(h.data_dir, "herald.db"), "SELECT count(*) FROM messages"],
                              capture_output=True, text=True, check=True).stdout.strip()
        self.assertEqual(rows, "1")
        record = [r for r in h.journal("--door", "send") if r["event"] == "received"]
        self.assertEqual(len(record), 1)
        self.assertIn(f"--to-all {domain}", record[0]["identity"])
        self.assertEqual(record[0]["attachments"], 1)


if __name__ == "__main__":
    unittest.main()
