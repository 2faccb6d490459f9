"""test_imapflow.py - Herald's IMAP server driven by imapflow, Node's IMAP client.

Each test runs one scenario of tests/imapflow/run.mjs with `node` against a
shared Herald (smtp, pop3, imap; plaintext login allowed on loopback) and
asserts on the JSON it prints: login, LIST with special use, STATUS,
envelope, body structure and source; APPEND (literals) with flags and a
date, flags added and removed, SEARCH, MOVE; IDLE woken by an SMTP delivery;
CONDSTORE's CHANGEDSINCE and HIGHESTMODSEQ; QRESYNC's resynchronisation
events; STARTTLS with the certificate verified; COMPRESS=DEFLATE.

imapflow (pinned in tests/imapflow/package-lock.json) is installed by
scripts/bootstrap with `npm ci --prefix tests/imapflow`.
"""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
import unittest

from harness import HOST, HOSTNAME, HeraldTestCase, Herald, split_trace, unique

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.join(HERE, "imapflow")
SCRIPT = os.path.join(PROJECT, "run.mjs")
NODE = os.environ.get("HERALD_NODE") or shutil.which("node")  # HERALD_NODE: another node to try
INSTALLED = os.path.isdir(os.path.join(PROJECT, "node_modules", "imapflow"))


def message(subject, body="Hello, imapflow.\r\n", extra="", to="bob@example.test"):
    return (f"From: Alice Example <alice@client.test>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{unique('m')}@client.test>\r\n{extra}"
            f"\r\n{body}").encode()


MULTIPART = (b"From: Alice Example <alice@client.test>\r\nTo: bob@example.test\r\n"
             b"Subject: report attached\r\nMIME-Version: 1.0\r\n"
             b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
             b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the attachment.\r\n"
             b"--b1\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\n"
             b"Content-Transfer-Encoding: base64\r\n"
             b"Content-Disposition: attachment; filename=\"report.pdf\"\r\n\r\n"
             b"JVBERi0xLjQK\r\n--b1--\r\n")


@unittest.skipUnless(NODE and INSTALLED, "node or tests/imapflow/node_modules is missing: run scripts/bootstrap")
class ImapflowCase(HeraldTestCase):
    @classmethod
    def setUpClass(cls):
        cls.herald = Herald(protocols=("smtp", "pop3", "imap"))

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()

    def scenario(self, name, user, args=None, on_line=None, timeout=45):
        """scenario - run run.mjs NAME as user; returns the RESULT object.

        on_line(line) is called for every other line the script prints (a
        signal such as IDLING) while it runs."""
        env = dict(os.environ, HERALD_IMAP_HOST=HOST, HERALD_IMAP_PORT=str(self.herald.imap_port),
                   HERALD_IMAP_USER=user, HERALD_IMAP_PASS="secret")
        cmd = [NODE, SCRIPT, name] + ([json.dumps(args)] if args is not None else [])
        proc = subprocess.Popen(cmd, cwd=PROJECT, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stderr = []
        t = threading.Thread(target=lambda: stderr.append(proc.stderr.read()), daemon=True)
        t.start()
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        result = error = None
        try:
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if line.startswith("RESULT "):
                    result = json.loads(line[7:])
                elif line.startswith("ERROR "):
                    error = json.loads(line[6:])
                elif on_line:
                    on_line(line)
            code = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            t.join(5)
            proc.stdout.close()
            proc.stderr.close()
        if code != 0 or result is None:
            log = b"".join(stderr).decode("utf-8", "replace")[-6000:]
            self.fail(f"imapflow scenario {name} failed (exit {code}): "
                      f"{json.dumps(error, indent=1) if error else '(no ERROR line)'}\nimapflow log tail:\n{log}")
        return result

    def imap(self, user):
        c = self.herald.imap(user)
        self.addCleanup(lambda: c.logout() if c.state != "LOGOUT" else None)
        return c


class TestReading(ImapflowCase):
    def test_login_list_status_and_read(self):
        user = self.new_user("flowread")
        plain = message("plain text")
        self.herald.deliver(user, plain)
        self.herald.deliver(user, MULTIPART)
        r = self.scenario("read", user)
        self.assertTrue(r["authenticated"])
        for cap in ("IDLE", "CONDSTORE", "QRESYNC", "MOVE", "UIDPLUS", "SPECIAL-USE"):
            self.assertIn(cap, r["capabilities"])
        self.assertIn("CONDSTORE", r["enabled"])  # imapflow ENABLEs it when offered
        uses = {f["path"]: f["specialUse"] for f in r["list"]}
        self.assertEqual(uses, {"INBOX": "\\Inbox", "Sent": "\\Sent", "Drafts": "\\Drafts",
                                "Trash": "\\Trash", "Junk": "\\Junk", "Archive": "\\Archive"})
        st = r["status"]
        self.assertEqual((st["messages"], st["unseen"], st["uidNext"]), (2, 2, 3), st)
        self.assertTrue(int(st["highestModseq"]) > 0, st)
        self.assertEqual(r["mailbox"]["exists"], 2)
        self.assertEqual(r["mailbox"]["uidValidity"], st["uidValidity"])
        m1, m2 = r["messages"]
        self.assertEqual((m1["uid"], m2["uid"]), (1, 2))
        self.assertEqual(m1["envelope"]["subject"], "plain text")
        self.assertEqual(m1["envelope"]["from"], [{"name": "Alice Example", "address": "alice@client.test"}])
        self.assertEqual(m1["envelope"]["to"], [{"name": "", "address": "bob@example.test"}])
        self.assertEqual(m1["envelope"]["date"], "2026-12-07T10:00:00.000Z")
        self.assertEqual(m1["flags"], [])  # read-only open, source fetched: still unseen
        # the source is the message as delivered: trace headers, then the octets sent
        source = base64.b64decode(m1["source"])
        self.assertEqual(split_trace(source)[1], plain)
        self.assertEqual(m1["size"], len(source))
        self.assertEqual(split_trace(base64.b64decode(m2["source"]))[1], MULTIPART)
        bs = m2["bodyStructure"]
        self.assertEqual(bs["type"], "multipart/mixed")
        text, pdf = bs["childNodes"]
        self.assertEqual((text["part"], text["type"], text["parameters"]["charset"]), ("1", "text/plain", "utf-8"))
        self.assertEqual((pdf["part"], pdf["type"], pdf["encoding"]), ("2", "application/pdf", "base64"))
        self.assertEqual(pdf["disposition"], "attachment")
        self.assertEqual(pdf["dispositionParameters"], {"filename": "report.pdf"})
        self.assertEqual(m2["envelope"]["subject"], "report attached")

    def test_starttls_with_the_certificate_verified(self):
        user = self.new_user("flowtls")
        with open(self.herald.self_signed_cert, encoding="ascii") as f:
            ca = f.read()
        r = self.scenario("starttls", user, {"ca": ca, "servername": HOSTNAME})
        self.assertTrue(r["secure"])
        self.assertTrue(r["authenticated"])
        self.assertEqual(r["mailbox"]["path"], "INBOX")


class TestChanging(ImapflowCase):
    def test_append_flags_search_move(self):
        user = self.new_user("flowappend")
        small = message("a draft", body="Dear Bob,\r\n\r\nsee you.\r\n")
        date = "2024-02-29T13:14:15.000Z"
        r = self.scenario("append_move", user, {"small": base64.b64encode(small).decode(),
                                                "date": date, "bigSize": 300000})
        self.assertEqual(r["appendSmall"]["destination"], "Drafts")
        self.assertEqual(r["appendSmall"]["uid"], 1)  # APPENDUID (UIDPLUS)
        self.assertEqual(r["appendBig"]["uid"], 2)
        self.assertEqual(r["appendSmall"]["uidValidity"], r["drafts"]["uidValidity"])
        self.assertEqual(r["drafts"]["exists"], 2)
        self.assertEqual(r["drafts"]["specialUse"], "\\Drafts")
        s, b = r["fetched"]
        self.assertEqual(base64.b64decode(s["source"]), small)  # APPEND stores the octets as given
        self.assertEqual(s["flags"], ["$Herald", "\\Draft", "\\Seen"])
        self.assertEqual(s["internalDate"], date)
        self.assertEqual(b["internalDate"], date)
        self.assertEqual((b["sourceLength"], b["sourceSha"]), (r["bigSize"], r["bigSha"]))
        self.assertEqual(b["size"], r["bigSize"])
        self.assertEqual(b["flags"], [])
        self.assertTrue(r["flagsAdd"])
        self.assertTrue(r["flagsRemove"])
        self.assertEqual(r["afterFlags"], [{"uid": 1, "flags": ["$Herald", "\\Draft"]},
                                           {"uid": 2, "flags": ["$Important", "\\Flagged"]}])
        self.assertEqual(r["search"], {"flagged": [2], "unseen": [1, 2], "keyword": [2], "subject": [2],
                                       "body": [2], "draft": [1], "larger": [2], "none": []})
        move = r["move"]
        self.assertEqual(move["destination"], "Archive")
        self.assertEqual(move["uidMap"], {"1": 1})  # COPYUID: Drafts UID 1 is Archive UID 1
        self.assertEqual(r["draftsAfterMove"], [2])
        self.assertEqual((r["archiveStatus"]["messages"], r["archiveStatus"]["uidNext"]), (1, 2))
        archived, = r["archived"]
        self.assertEqual(base64.b64decode(archived["source"]), small)
        self.assertEqual(archived["flags"], ["$Herald", "\\Draft"])  # MOVE keeps flags and date
        self.assertEqual(archived["internalDate"], date)
        # another client sees the same
        c = self.imap(user)
        self.assertIn(b"MESSAGES 1", c.status("Drafts", "(MESSAGES)")[1][0])


class TestIdle(ImapflowCase):
    def test_idle_hears_a_delivery_within_two_seconds(self):
        user = self.new_user("flowidle")
        self.herald.deliver(user, message("already there"))
        sent = {}

        def on_line(line):
            if line == "IDLING":
                sent["at"] = time.monotonic()
                self.herald.deliver(user, message("wake up"), wait=False)
                sent["done"] = time.monotonic()

        r = self.scenario("idle", user, {"wait": 5000}, on_line=on_line)
        self.assertIn("at", sent, "the script never said it was idling")
        self.assertEqual(r["before"], 1)
        self.assertIsNotNone(r["exists"], "no 'exists' event within 5 s of the delivery")
        self.assertEqual((r["exists"]["count"], r["exists"]["prevCount"], r["exists"]["path"]), (2, 1, "INBOX"))
        self.assertLess(r["ms"], 2000, f"'exists' came {r['ms']} ms after IDLE started")
        self.assertEqual(r["last"], [{"uid": 2, "subject": "wake up"}])


class TestCondstoreQresync(ImapflowCase):
    def test_condstore_changedsince_and_highestmodseq(self):
        user = self.new_user("flowcond")
        for i in range(3):
            self.herald.deliver(user, message(f"cond {i}"))
        r = self.scenario("condstore", user)
        self.assertIn("CONDSTORE", r["enabled"])
        h0 = int(r["open"]["highestModseq"])
        self.assertGreater(h0, 0)
        self.assertEqual([m["uid"] for m in r["all"]], [1, 2, 3])
        self.assertTrue(all(0 < int(m["modseq"]) <= h0 for m in r["all"]), r["all"])
        self.assertTrue(r["flagged"])
        changed, = r["changed"]  # only the message whose flags changed since h0
        self.assertEqual(changed["uid"], 2)
        self.assertEqual(changed["flags"], ["\\Flagged"])
        self.assertGreater(int(changed["modseq"]), h0)
        self.assertEqual(r["unchanged"], [])  # nothing changed since that modseq
        self.assertEqual(int(r["status"]["highestModseq"]), int(changed["modseq"]))
        self.assertEqual(int(r["mailboxAfter"]["highestModseq"]), int(changed["modseq"]))

    def test_qresync_reports_expunges_and_flag_changes_on_reopen(self):
        user = self.new_user("flowqr")
        for i in range(4):
            self.herald.deliver(user, message(f"qr {i}"))
        r = self.scenario("qresync", user)
        self.assertIn("QRESYNC", r["enabled"])
        self.assertEqual(r["firstUids"], [1, 2, 3, 4])
        self.assertTrue(r["deleted"])
        self.assertTrue(r["flagged"])
        self.assertTrue(r["second"]["qresync"], r["second"])
        self.assertEqual(r["second"]["uidValidity"], r["first"]["uidValidity"])
        self.assertEqual(r["second"]["exists"], 3)
        self.assertGreater(int(r["second"]["highestModseq"]), int(r["first"]["highestModseq"]))
        expunges = [e for e in r["events"] if e["type"] == "expunge"]
        flags = [e for e in r["events"] if e["type"] == "flags"]
        self.assertEqual([(e["uid"], e["vanished"], e["earlier"]) for e in expunges], [(2, True, True)], r["events"])
        self.assertEqual([(e["uid"], sorted(e["flags"])) for e in flags], [(3, ["$Later", "\\Flagged"])], r["events"])
        self.assertEqual(r["secondUids"], [1, 3, 4])


class TestCompress(ImapflowCase):
    def test_compress_deflate_is_negotiated_and_messages_read(self):
        user = self.new_user("flowzip")
        original = message("squeeze me", body="".join(f"line {i} of a compressible body\r\n" for i in range(2000)))
        self.herald.deliver(user, original)
        doc = message("appended through deflate", body=("x" * 70 + "\r\n") * 700)
        r = self.scenario("compress", user, {"append": base64.b64encode(doc).decode()})
        self.assertTrue(r["offered"], "the server does not advertise COMPRESS=DEFLATE")
        self.assertTrue(r["compressed"], "imapflow did not negotiate COMPRESS DEFLATE")
        m, = r["messages"]
        self.assertEqual(m["envelope"]["subject"], "squeeze me")
        delivered = self.herald.mailbox(user)[0]
        self.assertEqual(m["sourceSha"], hashlib.sha256(delivered).hexdigest())
        self.assertEqual(split_trace(delivered)[1], original)
        a, = r["appended"]
        self.assertEqual(a["uid"], 2)
        self.assertEqual(a["flags"], ["\\Seen"])
        self.assertEqual(a["sourceSha"], hashlib.sha256(doc).hexdigest())


if __name__ == "__main__":
    unittest.main()
