"""test_accounting.py - who sent what (issue 13 5): the accounting record of each door.

One message through each door - SMTP, submission with AUTH, a spool file,
sendmail, herald send - then `herald journal` filtered by door, identity,
Subject and attachment name gives each record: the submitter, the envelope
sender and recipients, Subject, Message-ID, the attachments' number and
names, the size; the log carries the same line.
"""

import os
import re
import smtplib
import subprocess
import tempfile
import shutil
from email.message import EmailMessage

from harness import HOST, HeraldTestCase, unique, wait_for


class AccountingTest(HeraldTestCase):
    def test_each_door_has_its_record(self):
        tmp = tempfile.mkdtemp(prefix="herald-acct-")
        self.addCleanup(shutil.rmtree, tmp, True)
        spool = os.path.join(tmp, "spool")
        os.mkdir(spool)
        h = self.start_herald(protocols=("smtp", "submission", "pop3"),
                              config={"sendmail": {"sender_domain": "example.test"}},
                              raw_config=f'\n[[spool]]\nname = "payroll"\ndirectory = "{spool}"\n')
        alice = h.add_user(f"{unique('alice')}@example.test", "pw-alice")
        rcpt = h.add_user(f"{unique('rcpt')}@example.test")
        tag = unique("t")

        def message(subject, files):
            m = EmailMessage()
            m["From"], m["To"], m["Subject"] = alice, rcpt, subject
            m.set_content("hello\n")
            for name, data in files.items():
                m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
            return m

        with smtplib.SMTP(HOST, h.smtp_port) as s:
            s.send_message(message(f"{tag} via smtp", {"a.txt": b"a"}), from_addr="outside@remote.test")
        with smtplib.SMTP(HOST, h.submission_port) as s:
            s.login(alice, "pw-alice")
            s.send_message(message(f"{tag} via submission", {"r.pdf": b"%PDF", "Bericht März.csv": b"1;2"}))
        with open(os.path.join(spool, ".job"), "w") as f:
            f.write(f"HELO pay\nMAIL FROM:<payroll@example.test>\nRCPT TO:<{rcpt}>\nDATA\nSubject: {tag} via spool\n\n"
                    "x\n.\n")
        os.rename(os.path.join(spool, ".job"), os.path.join(spool, "job"))
        subprocess.run([h.bin, "sendmail", "-C", h.config_path, "-t"], check=True,
                       input=f"To: {rcpt}\nSubject: {tag} via sendmail\n\nx\n".encode())
        attach = os.path.join(tmp, "list.csv")
        with open(attach, "w") as f:
            f.write("a;b\n")
        subprocess.run([h.bin, "send", "--config", h.config_path, "--to", rcpt, "--subject", f"{tag} via send",
                        "--body", "x", "--attach", attach], check=True, capture_output=True)
        h.wait_mailbox(rcpt, 5)

        def record(door):
            rows = [r for r in h.journal("--door", door, "--subject", tag)]
            self.assertEqual(len(rows), 1, rows)
            r = rows[0]
            self.assertEqual((r["event"], r["subject"]), ("received", f"{tag} via {door}"))
            self.assertEqual(r["recipients"], rcpt)
            if door != "smtp":  # submissions get one when they lack it (RFC 6409 8.3)
                self.assertTrue(r["message_id"].startswith("<"), r)
            self.assertGreater(r["size"], 0)
            return r

        smtp = record("smtp")
        self.assertRegex(smtp["identity"], r"\[127\.0\.0\.1\]$")
        self.assertEqual((smtp["sender"], smtp["attachments"], smtp["attachment_names"]),
                         ("outside@remote.test", 1, ["a.txt"]))
        sub = record("submission")
        self.assertEqual((sub["identity"], sub["sender"]), (alice, alice))
        self.assertEqual((sub["attachments"], sub["attachment_names"]), (2, ["r.pdf", "Bericht März.csv"]))
        sp = record("spool")
        self.assertRegex(sp["identity"], r"^spool=payroll file=job uid=\d+\(\w+\)$")
        self.assertEqual((sp["sender"], sp["attachments"]), ("payroll@example.test", 0))
        sm = record("sendmail")
        self.assertRegex(sm["identity"], rf"^uid={os.geteuid()}\(\w+\)$")
        sn = record("send")
        self.assertEqual((sn["attachments"], sn["attachment_names"]), (1, ["list.csv"]))
        # The other filters, and the text form.
        self.assertEqual([r["subject"] for r in h.journal("--attachment", "märz")], [f"{tag} via submission"])
        self.assertEqual(len(h.journal("--identity", "spool=payroll")), 1)
        self.assertEqual({r["event"] for r in h.journal("--event", "received")}, {"received"})
        text = h.cli("journal", "--door", "submission").stdout
        self.assertIn(f'identity="{alice}"', text)
        self.assertIn('attachments=2 "r.pdf", "Bericht März.csv"', text)
        self.assertEqual(h.cli("journal", "--door", "fax", check=False).returncode, 2)
        # The log line carries the same.
        wait_for(lambda: len(re.findall(rf"account\[\d+\]: [0-9A-F]+: door=\w+ .*subject=\"{tag} via", h.log())) == 5,
                 10, message="five account lines")
