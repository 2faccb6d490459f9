"""test_spool.py - mail from batch jobs through spool directories (issue 13).

Files are written the way batch jobs write them (renamed in, or written in
place under a lock) into a [[spool]] directory of the real server; what
they send is read back over POP3 and parsed with Python's email package.
Refused transactions leave a transcript in error/ and a report; files that
are not mail end in quarantine/ with a log line and a journal row.
"""

import email
import email.policy
import fcntl
import json
import os
import re
import subprocess
import tempfile
import unittest

from harness import HeraldTestCase, toml_value, unique, wait_for


def write_renamed(directory, name, data):
    """write_renamed - the maildrop habit: written under a dot name, renamed in."""
    tmp = os.path.join(directory, "." + name)
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, os.path.join(directory, name))


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


class SpoolTest(HeraldTestCase):
    def start(self, **spool):
        self.spool_dir = os.path.join(self.herald_tmp(), "spool")
        os.makedirs(self.spool_dir, exist_ok=True)
        keys = {"name": "batch", "directory": self.spool_dir, "report": "both", "settle_time": "0s",
                "scan_interval": "1s"}
        keys.update(spool)
        raw = "\n[[spool]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in keys.items())
        self.admin = f"{unique('admin')}@example.test"
        self.h = self.start_herald(raw_config=raw, config={"delivery": {"mail_administrators": [self.admin]}})
        self.h.add_user(self.admin)
        return self.h

    def herald_tmp(self):
        if not hasattr(self, "_tmp"):
            self._tmp = tempfile.mkdtemp(prefix="herald-spool-")
            self.addCleanup(lambda: subprocess.run(["rm", "-rf", self._tmp]))
        return self._tmp

    def user(self, prefix="user"):
        return self.h.add_user(f"{unique(prefix)}@example.test")

    def wait_gone(self, name, timeout=20):
        wait_for(lambda: not os.path.lexists(os.path.join(self.spool_dir, name)), timeout,
                 message=f"{name} taken from the spool")

    def quarantined(self, name):
        return os.path.lexists(os.path.join(self.spool_dir, "quarantine", name))

    # -- data streams ------------------------------------------------------

    def test_three_transactions_the_middle_refused(self):
        self.start()
        a, b, sender = self.user("a"), self.user("b"), self.user("batch")
        nobody = f"{unique('nobody')}@example.test"
        stream = (
            f"HELO\n"
            f"MAIL FROM:<{sender}>\nRCPT TO:<{a}>\nDATA\nSubject: first\n\none\n.\n"
            f"MAIL FROM:<{sender}>\nRCPT TO:<{nobody}>\nDATA\nSubject: second\n\ntwo\n.\n"
            f"MAIL FROM:<{sender}>\nRCPT TO:<{b}>\nDATA\nSubject: third\n\n..three\n.\nQUIT\n"
        ).encode()
        write_renamed(self.spool_dir, "job1", stream)
        self.wait_gone("job1")
        first = parse(self.h.wait_mailbox(a, 1)[0])
        third = parse(self.h.wait_mailbox(b, 1)[0])
        self.assertEqual(first["Subject"], "first")
        self.assertEqual(third["Subject"], "third")
        self.assertEqual(third.get_content().replace("\r\n", "\n"), ".three\n")  # unstuffed
        # Old input completed as a submission server would (RFC 6409 8).
        self.assertTrue(first["Date"] and first["Message-ID"], first)
        self.assertIn("(Herald, from userid", first["Received"])
        # The transcript beside the spool: each command and its reply.
        with open(os.path.join(self.spool_dir, "error", "job1"), encoding="utf-8") as f:
            transcript = f.read()
        self.assertIn(f"> RCPT TO:<{nobody}>", transcript)
        self.assertRegex(transcript, r"< 550 5\.1\.1 .*")
        self.assertIn("> DATA\n< 503 5.5.1 Error: need RCPT command\n> RSET\n< 250", transcript)
        self.assertEqual(transcript.count("< 250 2.0.0 Ok: queued as"), 2, transcript)
        # The report, to the sender and to the administrator.
        for who in (sender, self.admin):
            report = parse(self.h.wait_mailbox(who, 1)[0])
            self.assertIn("1 of 3 transactions in job1 refused", report["Subject"])
            self.assertEqual(report["Auto-Submitted"], "auto-replied")
            self.assertIn(f"RCPT TO:<{nobody}>", report.get_content())
        # Two messages taken, a refusal journaled, the pickup lines logged.
        rows = self.h.journal("--door", "spool", "--identity", "file=job1")
        self.assertEqual(sorted(r["subject"] for r in rows if r["sender"] == sender), ["first", "third"])
        pickups = re.findall(rf"herald/pickup\[\d+\]: [0-9A-F]+: uid=\d+ from=<{re.escape(sender)}>", self.h.log())
        self.assertEqual(len(pickups), 2, pickups)

    def test_a_plain_message_goes_to_to_cc_and_bcc_without_its_bcc(self):
        self.start()
        a, c, hidden = self.user("to"), self.user("cc"), self.user("bcc")
        sender = self.user("from")
        msg = (f"From: Batch <{sender}>\nTo: A <{a}>\nCc: {c}\nBcc: {hidden}\nSubject: plain\n\nhello\n").encode()
        write_renamed(self.spool_dir, "plain.eml", msg)
        self.wait_gone("plain.eml")
        for user in (a, c, hidden):
            got = parse(self.h.wait_mailbox(user, 1)[0])
            self.assertEqual(got["Subject"], "plain")
            self.assertIsNone(got["Bcc"])
            self.assertEqual(got["Return-Path"], f"<{sender}>")
        self.assertFalse(os.listdir(os.path.join(self.spool_dir, "error")))

    def test_a_send_job_with_html_and_three_attachments(self):
        self.start()
        rcpt, sender = self.user("job"), self.user("pay")
        files = {
            "Prüfbericht März.csv": "Menge;Preis\r\n3;4,50 €\r\n".encode(),
            "noise.bin": bytes(range(256)) * 20,
            "doc.pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
        }
        data_dir = os.path.join(self.herald_tmp(), "data-files")
        os.makedirs(data_dir)
        for name, data in files.items():
            with open(os.path.join(data_dir, name), "wb") as f:
                f.write(data)
        with open(os.path.join(data_dir, "s.html"), "wb") as f:
            f.write("<p>Grüße</p>\n".encode())
        job = (f"From: Payroll <{sender}>\nTo: {rcpt}\nSubject: Lohn für März\n"
               f"Html: {data_dir}/s.html\n"
               + "".join(f"Attach: {data_dir}/{name}\n" for name in files)
               + "Body:\nDear all,\nsee attached.\n").encode()
        write_renamed(self.spool_dir, "job.txt", job)
        self.wait_gone("job.txt")
        got = parse(self.h.wait_mailbox(rcpt, 1)[0])
        self.assertEqual(got["Subject"], "Lohn für März")
        attachments = {p.get_filename(): p.get_payload(decode=True) for p in got.iter_attachments()}
        self.assertEqual(attachments, files)
        types = {p.get_filename(): p.get_content_type() for p in got.iter_attachments()}
        self.assertEqual(types["doc.pdf"], "application/pdf")
        body = got.get_body(("plain",))
        self.assertEqual(body.get_content().replace("\r\n", "\n"), "Dear all,\nsee attached.\n")
        self.assertIn("Grüße", got.get_body(("html",)).get_content())

    def test_a_send_job_may_not_attach_what_its_owner_cannot_read(self):
        # Owned by nobody, the job names a root-only file: refused, reported.
        if os.geteuid() != 0:
            self.skipTest("needs root to write a file as another user")
        self.start()
        secret = os.path.join(self.herald_tmp(), "secret")
        with open(secret, "w") as f:
            f.write("root only\n")
        os.chmod(secret, 0o600)
        # A file anyone may read, in a directory only root may enter.
        closed = os.path.join(self.herald_tmp(), "closed")
        os.mkdir(closed, 0o700)
        inside = os.path.join(closed, "doc.txt")
        with open(inside, "w") as f:
            f.write("behind a closed door\n")
        os.chmod(inside, 0o644)
        rcpt = self.user("job")
        path = os.path.join(self.spool_dir, ".nobody")
        with open(path, "w") as f:
            f.write(f"To: {rcpt}\nAttach: {secret}\nBody:\nhi\n")
        os.chown(path, 65534, 65534)
        os.rename(path, os.path.join(self.spool_dir, "nobody2"))
        path = os.path.join(self.spool_dir, ".nobody")
        with open(path, "w") as f:
            f.write(f"To: {rcpt}\nAttach: {inside}\nBody:\nhi\n")
        os.chown(path, 65534, 65534)
        os.rename(path, os.path.join(self.spool_dir, "nobody"))
        for name in ("nobody", "nobody2"):
            self.wait_gone(name)
            with open(os.path.join(self.spool_dir, "error", name), encoding="utf-8") as f:
                self.assertIn("not a file the job's owner may read", f.read())
        self.assertEqual(self.h.mailbox_count(rcpt), 0)

    # -- the sender exit ------------------------------------------------------

    def test_the_sender_exit_accepts_rejects_replaces_and_never_accepts_when_failing(self):
        exit_log = os.path.join(self.herald_tmp(), "exit.log")
        script = os.path.join(self.herald_tmp(), "exit.py")
        with open(script, "w") as f:
            f.write(f"""#!/usr/bin/python3
import json, sys, time
r = json.load(sys.stdin)
with open({exit_log!r}, "a") as log:
    log.write(json.dumps(r) + "\\n")
s = r["subject"]
if "reject" in s:
    print(json.dumps({{"action": "reject", "reason": "not on the payroll list"}}))
elif "replace" in s:
    print(json.dumps({{"action": "replace", "sender": "payroll@example.test"}}))
elif "slow" in s:
    time.sleep(30)
elif "crash" in s:
    sys.exit(3)
else:
    print(json.dumps({{"action": "accept"}}))
""")
        os.chmod(script, 0o755)
        self.start(sender_exit=script, sender_exit_timeout="1s", scan_interval="1h")
        rcpt, sender = self.user("exit"), self.user("job")

        def drop(name, subject):
            write_renamed(self.spool_dir, name, (f"HELO j\nMAIL FROM:<{sender}>\nRCPT TO:<{rcpt}>\nDATA\n"
                                                 f"From: {sender}\nSubject: {subject}\n\nx\n.\n").encode())
        for name, subject in (("ok", "accept me"), ("no", "reject me"), ("swap", "replace me"), ("crash", "crash"),
                              ("slow", "slow")):
            drop(name, subject)
        for name in ("ok", "no", "swap"):
            self.wait_gone(name)
        msgs = {parse(m)["Subject"]: parse(m) for m in self.h.wait_mailbox(rcpt, 2)}
        self.assertEqual(set(msgs), {"accept me", "replace me"})
        self.assertEqual(msgs["accept me"]["Return-Path"], f"<{sender}>")
        self.assertEqual(msgs["replace me"]["Return-Path"], "<payroll@example.test>")
        with open(os.path.join(self.spool_dir, "error", "no"), encoding="utf-8") as f:
            self.assertIn("554 5.7.1 not on the payroll list", f.read())
        # A failing or late exit refuses for the moment: those files wait.
        wait_for(lambda: self.h.log().count("sender exit failed") >= 2, 20, message="both failures logged")
        self.assertIn("no answer within 1000 ms", self.h.log())
        self.assertIn("exited with 3", self.h.log())
        self.assertTrue(os.path.exists(os.path.join(self.spool_dir, "crash")))
        self.assertTrue(os.path.exists(os.path.join(self.spool_dir, "slow")))
        self.assertEqual(len(self.h.mailbox(rcpt)), 2)
        with open(exit_log) as f:
            first = [r for r in map(json.loads, f) if r["file"] == "ok"][0]
        self.assertEqual((first["spool"], first["sender"], first["from"], first["recipients"], first["subject"]),
                         ("batch", sender, [sender], [rcpt], "accept me"))
        self.assertEqual(first["uid"], os.geteuid())

    def test_an_exit_that_answers_then_hangs_is_late(self):
        script = os.path.join(self.herald_tmp(), "hang.py")
        with open(script, "w") as f:
            f.write("#!/usr/bin/python3\nimport json, sys, time\njson.load(sys.stdin)\n"
                    "print(json.dumps({'action': 'accept'}), flush=True)\nsys.stdout.close()\ntime.sleep(60)\n")
        os.chmod(script, 0o755)
        self.start(sender_exit=script, sender_exit_timeout="1s", scan_interval="1h")
        rcpt = self.user("hang")
        write_renamed(self.spool_dir, "h", f"HELO x\nMAIL FROM:<a@x.test>\nRCPT TO:<{rcpt}>\nDATA\n\nx\n.\n".encode())
        wait_for(lambda: "sender exit failed" in self.h.log(), 20, message="the late exit refused")
        self.assertTrue(os.path.exists(os.path.join(self.spool_dir, "h")))
        self.assertEqual(self.h.mailbox_count(rcpt), 0)

    def test_a_file_renamed_onto_a_name_being_taken_is_taken_too(self):
        # The exit holds the first file's take until the second is in place.
        started, release = (os.path.join(self.herald_tmp(), n) for n in ("started", "release"))
        script = os.path.join(self.herald_tmp(), "hold.py")
        with open(script, "w") as f:
            f.write(f"#!/usr/bin/python3\nimport json, os, sys, time\njson.load(sys.stdin)\n"
                    f"open({started!r}, 'w').close()\n"
                    f"while not os.path.exists({release!r}): time.sleep(0.02)\n"
                    f"print(json.dumps({{'action': 'accept'}}))\n")
        os.chmod(script, 0o755)
        self.start(sender_exit=script, sender_exit_timeout="30s", scan_interval="1h")
        rcpt = self.user("twice")

        def job(subject):
            return f"HELO x\nMAIL FROM:<a@x.test>\nRCPT TO:<{rcpt}>\nDATA\nSubject: {subject}\n\nx\n.\n".encode()
        write_renamed(self.spool_dir, "job", job("first"))
        wait_for(lambda: os.path.exists(started), 20, message="the first file's exit called")
        os.unlink(started)
        write_renamed(self.spool_dir, "job", job("second"))  # onto the name being taken
        open(release, "w").close()
        self.wait_gone("job")
        self.assertEqual(sorted(parse(m)["Subject"] for m in self.h.wait_mailbox(rcpt, 2)), ["first", "second"])

    def test_more_recipients_than_smtp_max_recipients_all_arrive(self):
        self.start()
        hashed = subprocess.run(["openssl", "passwd", "-6", "-salt", "many", "secret"], capture_output=True,
                                text=True, check=True).stdout.strip()
        users = [f"r{i:03d}{unique('')}@example.test" for i in range(110)]
        for u in users:
            self.h.cli("user", "add", u, "--password-hash", hashed)
        msg = ("From: batch@example.test\nTo: " + ", ".join(users) + "\nSubject: all of them\n\nx\n").encode()
        write_renamed(self.spool_dir, "wide.eml", msg)
        self.wait_gone("wide.eml")
        for u in (users[0], users[105], users[-1]):
            self.assertEqual(parse(self.h.wait_mailbox(u, 1)[0])["Subject"], "all of them")
        self.assertFalse(os.listdir(os.path.join(self.spool_dir, "error")))

    def test_a_file_dated_in_the_future_is_taken(self):
        self.start(settle_time="1h")
        rcpt = self.user("future")
        path = os.path.join(self.spool_dir, "later")
        with open(path, "wb") as f:
            f.write(f"HELO x\nMAIL FROM:<a@x.test>\nRCPT TO:<{rcpt}>\nDATA\n\nx\n.\n".encode())
        os.utime(path, (4102444800, 4102444800))  # 2100: no writer's mtime
        self.wait_gone("later")
        self.h.wait_mailbox(rcpt, 1)

    # -- files that are not mail --------------------------------------------

    def test_hostile_files_end_in_quarantine(self):
        self.start(max_file_size="1M")
        rcpt = self.user("ok")
        d = self.spool_dir
        target = os.path.join(self.herald_tmp(), "target")
        with open(target, "wb") as f:
            f.write(f"HELO x\nMAIL FROM:<a@x.test>\nRCPT TO:<{rcpt}>\nDATA\nSubject: via link\n\nx\n.\n".encode())
        kinds = {
            "symlink": lambda p: os.symlink(target, p),
            "hardlink": lambda p: os.link(target, p),
            "fifo": lambda p: os.mkfifo(p),
            "truncated": lambda p: write_renamed(d, os.path.basename(p), (
                f"HELO x\nMAIL FROM:<a@x.test>\nRCPT TO:<{rcpt}>\nDATA\nSubject: cut\n\nno end\n").encode()),
            "garbage": lambda p: write_renamed(d, os.path.basename(p), os.urandom(4096).replace(b"H", b"\0")),
            "huge": lambda p: (open(p, "wb").close(), os.truncate(p, 10 << 30)),
            "adir": lambda p: os.mkdir(p),
        }
        for name, make in kinds.items():
            make(os.path.join(d, name))
        for name in kinds:
            wait_for(lambda n=name: self.quarantined(n), 20, message=f"{name} quarantined")
            self.assertFalse(os.path.lexists(os.path.join(d, name)))
        log = self.h.log()
        for name in kinds:
            self.assertRegex(log, rf"warning: batch/{name}: quarantined as quarantine/{name}: .+")
        rows = [r for r in self.h.journal() if r["event"] == "quarantined"]
        self.assertEqual({r["client"].split("file=")[1].split()[0] for r in rows}, set(kinds))
        self.assertEqual(self.h.mailbox_count(rcpt), 0)  # nothing half sent
        # The server is well: a good file is taken.
        write_renamed(d, "good", open(target, "rb").read())
        self.wait_gone("good")
        self.assertEqual(parse(self.h.wait_mailbox(rcpt, 1)[0])["Subject"], "via link")

    def test_a_hundred_thousand_files_at_once(self):
        # The backlog holds 1,000 names; the rest are found by scans as it
        # drains: all taken, memory bounded, the server answering meanwhile.
        self.start(backlog=1000, scan_interval="1h")
        rcpt = self.user("many")
        staging = os.path.join(self.herald_tmp(), "staging")
        os.mkdir(staging)
        text = f"HELO x\nMAIL FROM:<a@x.test>\nRCPT TO:<{rcpt}>\nDATA\nSubject: one of many\n\nx\n.\n".encode()
        n = 100_000
        for i in range(n):
            with open(os.path.join(staging, f"f{i}"), "wb") as f:
                f.write(text)
        for i in range(n):
            os.rename(os.path.join(staging, f"f{i}"), os.path.join(self.spool_dir, f"f{i}"))

        def left():
            with os.scandir(self.spool_dir) as it:
                return sum(1 for e in it if e.is_file(follow_symlinks=False))
        wait_for(lambda: left() == 0, 300, interval=0.5, message="100,000 files taken")
        self.assertEqual(self.h.cli("queue", "list", "--json").returncode, 0)  # answering
        db = os.path.join(self.h.data_dir, "herald.db")
        count = subprocess.run(["sqlite3", db, "SELECT count(*) FROM mailbox_messages"], capture_output=True,
                               text=True, check=True).stdout.strip()
        self.assertEqual(int(count), n)
        with open(f"/proc/{self.h.proc.pid}/status") as f:
            peak = int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1))
        self.assertLess(peak, 200 * 1024, f"peak resident memory {peak} kB")
        print(f"\n100,000 files taken; the server's peak resident memory {peak // 1024} MB")
        self.assertFalse(os.listdir(os.path.join(self.spool_dir, "quarantine")))

    def test_owners_not_named_are_quarantined(self):
        self.start(users=["nobody"])
        rcpt = self.user("ok")
        write_renamed(self.spool_dir, "mine", f"HELO x\nMAIL FROM:<a@x.test>\nRCPT TO:<{rcpt}>\nDATA\n\nx\n.\n".encode())
        if os.geteuid() == 65534:
            self.skipTest("the test runs as nobody")
        wait_for(lambda: self.quarantined("mine"), 20, message="quarantined")
        self.assertIn("may not submit here", self.h.log())

    # -- writers that write in place -----------------------------------------

    def test_a_file_written_in_place_waits_for_its_writers_lock(self):
        self.start(settle_time="0s")
        rcpt = self.user("locked")
        path = os.path.join(self.spool_dir, "inplace")
        f = open(path, "wb")
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(f"HELO x\nMAIL FROM:<a@x.test>\nRCPT TO:<{rcpt}>\nDATA\nSubject: in place\n\nx\n.\n".encode())
        f.flush()
        # A file renamed in after it is taken while the locked one waits.
        write_renamed(self.spool_dir, "after", f"HELO x\nMAIL FROM:<a@x.test>\nRCPT TO:<{rcpt}>\nDATA\n"
                                                "Subject: after\n\nx\n.\n".encode())
        self.wait_gone("after")
        self.assertTrue(os.path.exists(path))
        self.assertEqual([parse(m)["Subject"] for m in self.h.wait_mailbox(rcpt, 1)], ["after"])
        fcntl.flock(f, fcntl.LOCK_UN)
        f.close()
        self.wait_gone("inplace")
        self.assertEqual(sorted(parse(m)["Subject"] for m in self.h.wait_mailbox(rcpt, 2)), ["after", "in place"])

    def test_long_lines_are_folded_by_default(self):
        self.start()
        rcpt = self.user("long")
        long_line = "w" * 1500
        write_renamed(self.spool_dir, "folded", (f"HELO x\nMAIL FROM:<a@x.test>\nRCPT TO:<{rcpt}>\nDATA\n"
                                                 f"Subject: {'s ' * 600}\n\n{long_line}\n.\n").encode())
        self.wait_gone("folded")
        got = self.h.wait_mailbox(rcpt, 1)[0]
        self.assertTrue(all(len(line) <= 998 for line in got.split(b"\r\n")), "every line within 998 octets")
        msg = parse(got)
        self.assertEqual(msg["Subject"].replace(" ", ""), "s" * 600)  # unfolded, the same words
        self.assertEqual(msg.get_content().replace("\r\n", "").replace("\n", ""), long_line)

    def test_long_lines_refused_when_the_spool_says_so(self):
        self.start(long_lines="refuse")
        rcpt = self.user("strict")
        write_renamed(self.spool_dir, "long", (f"HELO x\nMAIL FROM:<a@x.test>\nRCPT TO:<{rcpt}>\nDATA\n\n"
                                               f"{'w' * 1500}\n.\n").encode())
        self.wait_gone("long")
        with open(os.path.join(self.spool_dir, "error", "long"), encoding="utf-8") as f:
            self.assertIn("longer than", f.read())
        self.assertEqual(self.h.mailbox_count(rcpt), 0)

    def test_keep_done_moves_taken_files(self):
        self.start(keep_done=True)
        rcpt = self.user("done")
        write_renamed(self.spool_dir, "kept", f"HELO x\nMAIL FROM:<a@x.test>\nRCPT TO:<{rcpt}>\nDATA\n\nx\n.\n".encode())
        self.wait_gone("kept")
        self.assertTrue(os.path.exists(os.path.join(self.spool_dir, "done", "kept")))
        self.h.wait_mailbox(rcpt, 1)


if __name__ == "__main__":
    unittest.main()
