"""test_clients.py - Herald with the tools an administrator already has.

curl (smtp:// upload, pop3:// retrieval), swaks, pflogsumm reading Herald's
Postfix-shaped log, and the `herald` command line: config check/defaults,
domain, user, alias, queue and journal commands with --json, exit codes.
"""

import json
import os
import re
import shutil
import smtplib
import subprocess
import time
import tomllib
import unittest

from harness import (HOST, QUEUE_ID_RE, Herald, HeraldTestCase, SmtpRaw, pflogsumm_totals, split_trace, unique,
                     wait_for)


def run(cmd, timeout=60, **kw):
    return subprocess.run(cmd, capture_output=True, timeout=timeout, **kw)


def smtp_send(herald, sender, rcpts, message):
    """smtp_send - one transaction with smtplib; returns the queue id."""
    with smtplib.SMTP(HOST, herald.smtp_port, local_hostname="client.test", timeout=15) as s:
        s.ehlo()
        code, resp = s.mail(sender)
        assert code == 250, (code, resp)
        for r in rcpts:
            code, resp = s.rcpt(r)
            assert code == 250, (code, resp)
        code, resp = s.data(message)
        assert code == 250, (code, resp)
    return QUEUE_ID_RE.search(resp.decode()).group(1)


def entry_names(entries, *keys):
    """entry_names - the names in a --json listing, whether it lists strings or objects."""
    out = []
    for e in entries:
        if isinstance(e, str):
            out.append(e)
        elif isinstance(e, dict):
            for k in keys:
                if k in e:
                    out.append(e[k])
                    break
    return out


class ClientCase(HeraldTestCase):

    @classmethod
    def setUpClass(cls):
        cls.herald = Herald()

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()

    def write(self, name, data):
        path = os.path.join(self.herald.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path


@unittest.skipUnless(shutil.which("curl"), "curl is not installed")
class CurlTest(ClientCase):

    def test_curl_smtp_upload_and_pop3_retrieval(self):
        user = self.new_user("curl", "curl-pass")
        sent = (b"From: curl <curl@client.test>\r\nTo: <" + user.encode() + b">\r\n"
                b"Subject: via curl\r\n\r\nsent with curl\r\n.a dotted line\r\n")
        path = self.write(f"{unique('curl')}.eml", sent)
        res = run(["curl", "-sS", "--max-time", "30", f"smtp://{HOST}:{self.herald.smtp_port}/client.test",
                   "--mail-from", "curl@client.test", "--mail-rcpt", user, "--upload-file", path])
        self.assertEqual(res.returncode, 0, f"curl smtp:// failed: {res.stderr.decode()}")
        msgs = self.herald.wait_mailbox(user, 1, password="curl-pass")
        self.assertEqual(split_trace(msgs[0])[1], sent, "curl's upload must arrive byte for byte")

        base = f"pop3://{HOST}:{self.herald.pop3_port}"
        res = run(["curl", "-sS", "--max-time", "30", "-u", f"{user}:curl-pass", f"{base}/"])
        self.assertEqual(res.returncode, 0, f"curl pop3:// LIST failed: {res.stderr.decode()}")
        self.assertEqual(res.stdout, b"1 %d\r\n" % len(msgs[0]), "curl's LIST output")
        res = run(["curl", "-sS", "--max-time", "30", "-u", f"{user}:curl-pass", f"{base}/1"])
        self.assertEqual(res.returncode, 0, f"curl pop3:// RETR failed: {res.stderr.decode()}")
        self.assertEqual(res.stdout, msgs[0], "curl's RETR must give the same bytes as poplib")

    def test_curl_pop3_wrong_password(self):
        user = self.new_user("curlbad")
        res = run(["curl", "-sS", "--max-time", "30", "-u", f"{user}:wrong",
                   f"pop3://{HOST}:{self.herald.pop3_port}/"])
        self.assertEqual(res.returncode, 67, f"curl should report a login failure (67): {res}")


@unittest.skipUnless(shutil.which("swaks"), "swaks is not installed")
class SwaksTest(ClientCase):

    def swaks(self, *args):
        return run(["swaks", "--server", HOST, "--port", str(self.herald.smtp_port), "--helo", "client.test",
                    "--timeout", "30", *args], timeout=60)

    def test_swaks_send(self):
        user = self.new_user("swaks")
        token = unique("swaks-token")
        res = self.swaks("--from", "swaks@client.test", "--to", user, "--header", f"Subject: {token}",
                         "--body", "hello from swaks")
        out = res.stdout.decode("utf-8", "replace")
        self.assertEqual(res.returncode, 0, f"swaks failed:\n{out}\n{res.stderr.decode()}")
        self.assertRegex(out, r"<-\s+250 2\.0\.0 Ok: queued as [0-9A-F]{12}")
        self.assertRegex(out, r"<-\s+220 mx\.example\.test ESMTP Herald")
        [msg] = self.herald.wait_mailbox(user, 1)
        self.assertIn(f"Subject: {token}".encode(), msg)
        self.assertIn(b"hello from swaks", msg)

    def test_swaks_pipelining(self):
        user = self.new_user("swakspipe")
        res = self.swaks("--pipeline", "--from", "swaks@client.test", "--to", f"{user},nobody-x@example.test",
                         "--header", "Subject: pipelined swaks")
        out = res.stdout.decode("utf-8", "replace")
        self.assertIn("550 5.1.1", out, f"swaks should show the refused recipient:\n{out}")
        self.assertRegex(out, r"250 2\.0\.0 Ok: queued as [0-9A-F]{12}", out)
        self.herald.wait_mailbox(user, 1)

    def test_swaks_unknown_recipient_fails(self):
        res = self.swaks("--from", "swaks@client.test", "--to", "nobody-at-all@example.test")
        self.assertNotEqual(res.returncode, 0, "swaks must fail when the only recipient is refused")
        self.assertIn("550 5.1.1", res.stdout.decode("utf-8", "replace"))


@unittest.skipUnless(shutil.which("pflogsumm"), "pflogsumm is not installed")
class PflogsummTest(HeraldTestCase):

    def test_pflogsumm_counts_received_and_delivered(self):
        h = self.start_herald()
        users = [h.add_user(f"{unique('pfl')}@example.test") for _ in range(3)]
        for i in range(4):
            smtp_send(h, f"s{i}@client.test", [users[i % 3]], b"Subject: pflogsumm %d\r\n\r\nx\r\n" % i)
        smtp_send(h, "both@client.test", users[:2], b"Subject: two recipients\r\n\r\nx\r\n")
        # 5 messages received, 6 deliveries.
        wait_for(lambda: h.log().count("status=sent") >= 6, message="six status=sent lines in the log")
        log = h.log()
        with self.subTest("Postfix-shaped lines"):
            self.assertRegex(log, r"herald/smtpd\[\d+\]: [0-9A-F]{12}: client=\S*\[127\.0\.0\.1\]")
            self.assertRegex(log, r"herald/qmgr\[\d+\]: [0-9A-F]{12}: from=<both@client\.test>, size=\d+, "
                                  r"nrcpt=2 \(queue active\)")
            self.assertRegex(log, r"herald/local\[\d+\]: [0-9A-F]{12}: to=<[^>]+>, relay=local, delay=[\d.]+, "
                                  r"(delays=[\d./]+, )?dsn=2\.0\.0, status=sent \(")
        totals = pflogsumm_totals(h.log_path)
        out = totals["_output"]
        self.assertEqual(totals.get("received"), 5, f"pflogsumm received count:\n{out}")
        self.assertEqual(totals.get("delivered"), 6, f"pflogsumm delivered count:\n{out}")
        m = re.search(r"^\s*(\d+)[km]?\s+bytes received\s*$", out, re.M)
        self.assertTrue(m and int(m.group(1)) > 0, f"pflogsumm must see message sizes:\n{out}")


class ConfigCliTest(HeraldTestCase):

    def setUp(self):
        self.h = Herald(start=False)
        self.addCleanup(self.h.close)

    def check(self, text):
        path = os.path.join(self.h.tmp, f"{unique('cfg')}.toml")
        with open(path, "w") as f:
            f.write(text)
        return path, run([self.h.bin, "config", "check", "--config", path], text=True)

    def test_config_check_accepts_the_harness_config(self):
        res = self.h.cli("config", "check", check=False)
        self.assertEqual(res.returncode, 0, f"config check of a good file: {res.stderr}")

    def test_config_check_names_unknown_key_and_line(self):
        path, res = self.check('[server]\nhostname = "mx.example.test"\n\n[smtp]\nlisten = ["127.0.0.1:0"]\n'
                               'max_mesage_size = "10M"\n')
        self.assertNotEqual(res.returncode, 0, "an unknown key must fail the check")
        self.assertEqual(res.returncode, 1)
        err = res.stderr + res.stdout
        self.assertIn("max_mesage_size", err, f"the message must name the key: {err!r}")
        self.assertRegex(err, r"\b6\b", f"the message must name line 6: {err!r}")
        self.assertIn(os.path.basename(path), err, f"the message must name the file: {err!r}")

    def test_config_check_names_bad_value(self):
        path, res = self.check('[smtp]\nmax_recipients = "lots"\n')
        self.assertEqual(res.returncode, 1, res)
        err = res.stderr + res.stdout
        self.assertIn("max_recipients", err)
        self.assertRegex(err, r"\b2\b", f"the message must name line 2: {err!r}")

    def test_serve_refuses_a_bad_config(self):
        path, _ = self.check('[smtp]\nlisten = ["127.0.0.1:0"]\nbogus_key = 1\n')
        res = run([self.h.bin, "serve", "--config", path], timeout=20, text=True)
        self.assertNotEqual(res.returncode, 0, "serve must not start with an unknown key")
        err = res.stderr + res.stdout
        self.assertIn("bogus_key", err)
        self.assertRegex(err, r"\b3\b", f"the message must name line 3: {err!r}")

    def test_config_defaults(self):
        res = run([self.h.bin, "config", "defaults"], text=True)
        self.assertEqual(res.returncode, 0, res.stderr)
        parsed = tomllib.loads(res.stdout)
        self.assertEqual(parsed["smtp"]["max_message_size"], "25M")
        self.assertEqual(parsed["smtp"]["max_recipients"], 100)
        self.assertEqual(parsed["smtp"]["max_line_length"], 1000)
        self.assertEqual(parsed["smtp"]["max_errors"], 20)
        self.assertEqual(parsed["smtp"]["pregreet_wait"], "0s")
        self.assertIs(parsed["smtp"]["allow_bare_lf"], False)
        self.assertEqual(parsed["smtp"]["vrfy"], "ambiguous")
        self.assertEqual(parsed["store"]["inline_body_max"], "128k")
        for line in res.stdout.splitlines():
            if re.match(r"^\w+ = ", line):
                with self.subTest(line=line):
                    self.assertIn("#", line, "every key has a one-line comment")
        path, chk = self.check(res.stdout)
        self.assertEqual(chk.returncode, 0, f"the defaults must pass config check: {chk.stderr}")

    def test_version_and_usage_errors(self):
        res = run([self.h.bin, "version"], text=True)
        self.assertEqual(res.returncode, 0)
        self.assertRegex(res.stdout, r"\d+\.\d+\.\d+", "version must print a version number")
        for args in (["frobnicate"], ["user", "add"], ["domain"], ["alias", "add", "only-alias@example.test"]):
            with self.subTest(args=args):
                res = self.h.cli(*args, check=False)
                self.assertEqual(res.returncode, 2, f"`herald {' '.join(args)}` is a usage error: {res}")
                self.assertTrue(res.stderr.strip(), "a usage error must explain itself on stderr")


class AdminCliTest(ClientCase):

    def rcpt_reply(self, rcpt):
        with SmtpRaw(self.herald.smtp_port, greet=True) as s:
            s.ehlo()
            s.cmd("MAIL FROM:<cli@client.test>").check(250)
            return s.cmd(f"RCPT TO:<{rcpt}>")

    def test_domains(self):
        h = self.herald
        domain = f"{unique('dom')}.test"
        self.assertIn("example.test", entry_names(h.cli_json("domain", "list"), "name", "domain"))
        h.cli("domain", "add", domain)
        self.assertIn(domain, entry_names(h.cli_json("domain", "list"), "name", "domain"))
        self.assertIn(domain, h.cli("domain", "list").stdout)
        user = h.add_user(f"someone@{domain}")
        self.rcpt_reply(user).check("250 2.1.5", "RCPT to a user of a domain added at run time")
        self.rcpt_reply(f"nobody@{domain}").check("550 5.1.1", "unknown user of the new domain")
        res = h.cli("domain", "del", "example.test", check=False)
        self.assertEqual(res.returncode, 1, f"a domain from the config file cannot be deleted: {res}")
        self.assertIn("example.test", res.stderr)
        h.cli("user", "del", user)
        h.cli("domain", "del", domain)
        self.assertNotIn(domain, entry_names(h.cli_json("domain", "list"), "name", "domain"))
        res = h.cli("domain", "del", domain, check=False)
        self.assertEqual(res.returncode, 1, "deleting a missing domain fails")

    def test_users(self):
        h = self.herald
        user = f"{unique('cliuser')}@example.test"
        h.cli("user", "add", user, "--password", "pw-1", "--quota", "1M")
        listing = h.cli_json("user", "list")
        self.assertIn(user, entry_names(listing, "address", "user", "name"))
        self.assertNotIn("pw-1", json.dumps(listing), "user list must not show passwords")
        res = h.cli("user", "add", user, "--password", "again", check=False)
        self.assertEqual(res.returncode, 1, f"adding an existing user fails: {res}")
        self.rcpt_reply(user).check("250 2.1.5")
        h.cli("user", "del", user)
        self.assertNotIn(user, entry_names(h.cli_json("user", "list"), "address", "user", "name"))
        self.rcpt_reply(user).check("550 5.1.1", "RCPT to a user deleted a moment ago")
        res = h.cli("user", "del", user, check=False)
        self.assertEqual(res.returncode, 1)

    def test_user_changes_reach_the_servers_lookup_cache_at_once(self):
        # Without a quota the server answers RCPT from its cache: the CLI's
        # change must still show at the very next RCPT, both ways.
        h = self.herald
        user = f"{unique('cached')}@example.test"
        self.rcpt_reply(user).check("550 5.1.1", "not a user yet")
        self.rcpt_reply(user).check("550 5.1.1", "still not (the answer is cached now)")
        h.cli("user", "add", user, "--password", "pw-1")
        self.rcpt_reply(user).check("250 2.1.5", "RCPT right after user add")
        self.rcpt_reply(user).check("250 2.1.5")
        h.cli("user", "del", user)
        self.rcpt_reply(user).check("550 5.1.1", "RCPT right after user del")

    def test_aliases(self):
        h = self.herald
        a, b = self.new_user(), self.new_user()
        alias = f"{unique('list')}@example.test"
        h.cli("alias", "add", alias, a, b)
        listing = h.cli_json("alias", "list")
        self.assertIn(alias, json.dumps(listing), f"alias list --json lacks {alias}: {listing}")
        self.assertIn(a, json.dumps(listing))
        self.rcpt_reply(alias).check("250 2.1.5")
        smtp_send(h, "cli@client.test", [alias], b"Subject: alias via cli\r\n\r\nx\r\n")
        for u in (a, b):
            self.assertEqual(len(h.wait_mailbox(u, 1)), 1)
        h.cli("alias", "del", alias)
        self.assertNotIn(alias, json.dumps(h.cli_json("alias", "list")))
        self.rcpt_reply(alias).check("550 5.1.1", "RCPT to a deleted alias")

    def test_queue(self):
        h = self.herald
        remote = f"{unique('q')}@remote.example"
        qid = smtp_send(h, "queue@client.test", [remote], b"Subject: for the queue\r\n\r\nx\r\n")
        rows = wait_for(lambda: [r for r in h.queue() if r["queue_id"] == qid], message=f"queue row {qid}")
        row = rows[0]
        self.assertEqual(row["sender"], "queue@client.test")
        self.assertEqual(row["recipient"], remote)
        # Waiting for its first attempt, or deferred by it (no route here).
        self.assertIn(row["status"], ("pending", "deferred"))
        self.assertIsInstance(row["attempts"], int)
        self.assertIn(qid, h.cli("queue", "list").stdout, "the plain listing shows the queue id")
        shown = h.cli("queue", "show", qid)
        self.assertIn(remote, shown.stdout, "queue show must name the recipient")
        self.assertIn("queue@client.test", shown.stdout, "queue show must name the sender")
        res = h.cli("queue", "show", "000000000000", check=False)
        self.assertEqual(res.returncode, 1, "queue show of an unknown id fails")

    def test_journal(self):
        h = self.herald
        user = self.new_user("jr")
        msgid = f"<{unique('jmsg')}@client.test>"
        sent = f"Message-ID: {msgid}\r\nSubject: journal\r\n\r\nx\r\n".encode()
        qid = smtp_send(h, "journal@client.test", [user], sent)
        h.wait_mailbox(user, 1)

        def both():
            es = h.journal("--queue-id", qid)
            return es if {"received", "delivered"} <= {e["event"] for e in es} else None
        entries = wait_for(both, message=f"received and delivered entries for {qid}")
        for e in entries:
            with self.subTest(event=e["event"]):
                self.assertEqual(e["queue_id"], qid, "--queue-id must filter")
                for key in ("time", "event", "queue_id", "message_id", "sender", "recipient", "client",
                            "size", "reply", "detail"):
                    self.assertIn(key, e)
        received = next(e for e in entries if e["event"] == "received")
        delivered = next(e for e in entries if e["event"] == "delivered")
        self.assertEqual(received["sender"], "journal@client.test")
        self.assertIn("127.0.0.1", str(received["client"]))
        self.assertEqual(received["message_id"].strip("<>"), msgid.strip("<>"))
        self.assertGreaterEqual(int(received["size"]), len(sent))
        self.assertEqual(delivered["recipient"], user)
        by_address = h.journal("--address", user)
        self.assertTrue(by_address and all(user in json.dumps(e) for e in by_address),
                        f"--address must keep only entries about {user}")
        self.assertTrue(any(e["queue_id"] == qid for e in h.journal("--since", "1h")))
        plain = h.cli("journal", "--queue-id", qid).stdout
        self.assertIn(qid, plain)


class ShutdownTest(HeraldTestCase):

    def test_sigterm_stops_cleanly_and_data_survives(self):
        h = self.start_herald()
        user = h.add_user(f"{unique('term')}@example.test")
        smtp_send(h, "t@client.test", [user], b"Subject: before restart\r\n\r\nx\r\n")
        h.wait_mailbox(user, 1)
        started = time.monotonic()
        status = h.stop()
        self.assertEqual(status, 0, "herald serve must exit 0 on SIGTERM")
        self.assertLess(time.monotonic() - started, 10, "SIGTERM must stop the server promptly")
        h.start()
        msgs = h.mailbox(user)
        self.assertEqual(len(msgs), 1)
        self.assertTrue(msgs[0].endswith(b"Subject: before restart\r\n\r\nx\r\n"))


if __name__ == "__main__":
    unittest.main()
