"""test_journal.py - the journal's retention (journal.keep), the event kinds
an operator turns off (journal.skip) and the export of a period as JSON
lines (`herald journal export`).
"""

import json
import os
import sqlite3
import time
import unittest

from harness import Herald, HeraldTestCase, SmtpRaw, wait_for

DAY_MS = 86_400_000


def plant(herald, rows):
    """plant - journal rows (time_ms, event, recipient) written straight into
    the database while the server is stopped, as an old journal would hold."""
    db = sqlite3.connect(os.path.join(herald.data_dir, "herald.db"), timeout=30, isolation_level=None)
    try:
        for t, event, rcpt in rows:
            key = max(db.execute("SELECT coalesce(max(id), 0) + 1 FROM journal").fetchone()[0], t << 16)
            db.execute("INSERT INTO journal(id, time_ms, event, recipient, reply) VALUES(?, ?, ?, ?, 'ok')",
                       (key, t, event, rcpt))
    finally:
        db.close()


class RetentionTest(HeraldTestCase):

    def test_rows_older_than_keep_are_pruned_at_start(self):
        h = self.start_herald(config={"journal": {"keep": "30d"}})
        h.stop()
        now = int(time.time() * 1000)
        plant(h, [(now - 40 * DAY_MS + i, "login", f"old{i}@example.test") for i in range(2500)]
              + [(now - 2 * DAY_MS, "login", "recent@example.test")])
        h.start()
        wait_for(lambda: "journal: pruned 2500 rows" in h.log(), message="the prune's log line")
        rows = [e["recipient"] for e in h.journal("--limit", "0")]
        self.assertIn("recent@example.test", rows)
        self.assertFalse([r for r in rows if r.startswith("old")], "rows older than journal.keep must go")

    def test_keep_zero_keeps_everything(self):
        h = self.start_herald(config={"journal": {"keep": "0s"}})
        h.stop()
        now = int(time.time() * 1000)
        plant(h, [(now - 4000 * DAY_MS, "login", "ancient@example.test")])
        h.start()
        # Nothing to wait for: without keep there is no pruning at all.
        self.assertIn("ancient@example.test", [e["recipient"] for e in h.journal("--limit", "0")])
        self.assertNotIn("journal: pruned", h.log())


class ExportTest(HeraldTestCase):

    def test_a_period_exports_as_json_lines(self):
        h = self.start_herald(config={"journal": {"keep": "30d"}})
        h.stop()
        now = int(time.time() * 1000)
        plant(h, [(now - 29 * DAY_MS, "login", "before@example.test"),
                  (now - 20 * DAY_MS, "login", "inside1@example.test"),
                  (now - 15 * DAY_MS, "login", "inside2\x1b[31m@example.test"),
                  (now - 5 * DAY_MS, "login", "after@example.test")])
        h.start()
        res = h.cli("journal", "--limit", "0", "--since", "25d", "--until", "10d", "--jsonl")
        lines = res.stdout.splitlines()
        rows = [json.loads(line) for line in lines]
        self.assertEqual([r["recipient"] for r in rows], ["inside1@example.test", "inside2\x1b[31m@example.test"])
        self.assertNotIn("\x1b", res.stdout, "control bytes are escaped in JSON")


class SkipTest(HeraldTestCase):

    def test_skipped_kinds_are_logged_but_not_journalled(self):
        h = self.start_herald(config={"journal": {"skip": ["rejected"]}, "smtp": {"relay_networks": []}})
        s = SmtpRaw(h.smtp_port, greet=True)
        self.addCleanup(s.close)
        s.ehlo()
        s.cmd("MAIL FROM:<skip@client.test>").check(250)
        s.cmd("RCPT TO:<someone@far.example>").check("554 5.7.1")
        s.cmd("QUIT").check(221)
        wait_for(lambda: "NOQUEUE: reject: RCPT" in h.log(), message="the log line")
        self.assertFalse([e for e in h.journal() if e.get("event") == "rejected"])

    def test_unknown_kind_is_a_config_error(self):
        h = Herald(config={"journal": {"skip": ["rejected", "everything"]}}, start=False)
        self.addCleanup(h.close)
        h.write_config()
        res = h.cli("config", "check", check=False)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("journal.skip", res.stderr + res.stdout)


if __name__ == "__main__":
    unittest.main()
