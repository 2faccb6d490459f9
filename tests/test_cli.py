"""test_cli.py - the `herald` list commands page and filter: --limit, --after
(continuing where the last page stopped, no row repeated or skipped),
--prefix, --domain, the queue's --sender/--recipient, the journal's --after,
and --json that stays one valid JSON array page after page.
"""

import json
import smtplib
import unittest

from harness import HOST, QUEUE_ID_RE, Herald, HeraldTestCase, unique, wait_for

# An imported SHA512-CRYPT hash: `user add` stores it without hashing (argon2
# for each of dozens of users would only slow the suite).
HASH = "$6$salt$abcdefghijklmnopqrstuv"


def send(herald, sender, rcpts):
    """send - one message over SMTP; returns its queue id."""
    with smtplib.SMTP(HOST, herald.smtp_port, local_hostname="client.test", timeout=15) as s:
        s.ehlo()
        s.mail(sender)
        for r in rcpts:
            code, resp = s.rcpt(r)
            assert code == 250, (code, resp)
        code, resp = s.data(b"Subject: paged\r\n\r\nx\r\n")
        assert code == 250, (code, resp)
    return QUEUE_ID_RE.search(resp.decode()).group(1)


class CliListsTest(HeraldTestCase):

    @classmethod
    def setUpClass(cls):
        cls.herald = Herald()

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()

    def pages(self, *args, limit, key, json_out=False):
        """pages - every page of a list, each asked for with --after the
        continuation key the one before named on stderr; returns the rows
        (keys for text, objects for JSON) and the number of pages."""
        rows, after, n = [], None, 0
        while True:
            extra = ["--after", after] if after is not None else []
            res = self.herald.cli(*args, "--limit", str(limit), *extra, *(["--json"] if json_out else []))
            page = json.loads(res.stdout) if json_out else res.stdout.splitlines()
            self.assertLessEqual(len(page), limit, f"a page holds at most --limit rows: {res.stdout}")
            rows += page
            n += 1
            if "continue with --after" not in res.stderr:
                self.assertEqual(res.stderr, "", "stderr is empty once the list is done")
                return rows, n
            named = res.stderr.split("--after ")[1].strip()
            self.assertEqual(named, key(page[-1]), "stderr names the last key printed")
            after = named
            self.assertLess(n, 100, "paging must end")

    def test_user_pages_continue_with_no_row_repeated_or_skipped(self):
        h = self.herald
        p = unique("pg")
        other = f"{unique('dom')}.test"
        h.cli("domain", "add", other)
        mine = [f"{p}{i:02}@example.test" for i in range(13)] + [f"{p}{i:02}@{other}" for i in range(7)]
        mine.append(f"{p}zz@x{other}")  # ends with other.test, not with @other.test
        h.cli("domain", "add", f"x{other}")
        for a in mine:
            h.cli("user", "add", a, "--password-hash", HASH)
        everything = [u["address"] for u in h.cli_json("user", "list", "--prefix", p)]
        self.assertEqual(everything, sorted(mine), "--prefix keeps these users, in address order")

        text, n = self.pages("user", "list", "--prefix", p.upper(), limit=4, key=lambda line: line.split()[0])
        self.assertEqual([line.split()[0] for line in text], sorted(mine), "text pages: each user once, in order")
        self.assertEqual(n, 6)
        rows, n = self.pages("user", "list", "--prefix", p, limit=5, key=lambda u: u["address"], json_out=True)
        self.assertEqual([u["address"] for u in rows], sorted(mine), "JSON pages: each user once, in order")
        self.assertEqual(n, 5)
        for u in rows:
            self.assertEqual(set(u), {"address", "quota_bytes", "used_bytes", "scram", "send_as_any"})

        of_other = [u["address"] for u in h.cli_json("user", "list", "--domain", other.upper())]
        self.assertEqual(of_other, sorted(a for a in mine if a.endswith("@" + other)), "--domain, in any case")
        rows, _ = self.pages("user", "list", "--domain", other, "--prefix", p, limit=3,
                             key=lambda u: u["address"], json_out=True)
        self.assertEqual([u["address"] for u in rows], of_other)

        tail = [u["address"] for u in h.cli_json("user", "list", "--prefix", p, "--after", sorted(mine)[-3])]
        self.assertEqual(tail, sorted(mine)[-2:], "--after alone: the rest after that address")
        self.assertEqual(h.cli_json("user", "list", "--prefix", p + "-none"), [], "an empty page is []")
        self.assertEqual(h.cli("user", "list", "--prefix", p + "-none").stdout, "")

    def test_bad_list_requests_are_usage_errors(self):
        h = self.herald
        for args in (["user", "list", "--domain", "not a domain"], ["user", "list", "--limit", "-1"],
                     ["alias", "list", "--limit", "many"], ["queue", "list", "--after", "Q1"],
                     ["journal", "--after", "yesterday"]):
            with self.subTest(args=args):
                res = h.cli(*args, check=False)
                self.assertEqual(res.returncode, 2, f"`herald {' '.join(args)}`: {res}")
                self.assertTrue(res.stderr.strip())

    def test_alias_pages_keep_each_alias_whole(self):
        h = self.herald
        p = unique("al")
        aliases = {f"{p}{i}@example.test": [f"t{j}@remote.test" for j in range(i + 1)] for i in range(7)}
        for a, targets in aliases.items():
            h.cli("alias", "add", a, *targets)
        rows, n = self.pages("alias", "list", "--prefix", p, limit=3, key=lambda a: a["alias"], json_out=True)
        self.assertEqual(n, 3)
        self.assertEqual({a["alias"]: a["targets"] for a in rows}, aliases, "every alias once, all its targets")
        self.assertEqual([a["alias"] for a in rows], sorted(aliases))
        text, _ = self.pages("alias", "list", "--prefix", p, limit=2, key=lambda line: line.split(":")[0])
        self.assertEqual([line.split(":")[0] for line in text], sorted(aliases))
        self.assertEqual(h.cli_json("alias", "list", "--prefix", p, "--domain", "remote.test"), [])

    def test_domain_pages(self):
        h = self.herald
        p = unique("d")
        names = [f"{p}{i}.test" for i in range(5)]
        for d in names:
            h.cli("domain", "add", d)
        rows, n = self.pages("domain", "list", "--prefix", p, limit=2, key=lambda d: d["name"], json_out=True)
        self.assertEqual([d["name"] for d in rows], sorted(names))
        self.assertEqual(n, 3)
        listed = h.cli_json("domain", "list")
        self.assertIn({"name": "example.test", "source": "config"}, listed)
        self.assertEqual([d["name"] for d in listed], sorted(d["name"] for d in listed), "in name order")

    def test_queue_pages_and_filters(self):
        h = self.herald
        senders = [f"{unique('qs')}@client.test" for _ in range(3)]
        sent = {}
        for s in senders:
            rcpts = [f"{unique('qr')}@remote.example" for _ in range(4)]
            sent[s] = (send(h, s, rcpts), rcpts)
        # The delivery agent's first attempt (no route here) defers each row;
        # after it the rows stay as they are for delivery.retry_interval.
        for s in senders:
            wait_for(lambda s=s: [r["status"] for r in h.cli_json("queue", "list", "--sender", s)] == ["deferred"] * 4,
                     message=f"queue rows of {s}, deferred")
        everything = h.cli_json("queue", "list")
        ours = [r for r in everything if r["sender"] in senders]
        self.assertEqual(len(ours), 12)
        self.assertEqual([r["row"] for r in everything], sorted(r["row"] for r in everything), "in row order")

        rows, n = self.pages("queue", "list", limit=5, key=lambda r: str(r["row"]), json_out=True)
        self.assertEqual(rows, everything, "pages by --after ROW: every row once, in order")
        self.assertEqual(n, (len(everything) + 4) // 5)
        res = h.cli("queue", "list", "--sender", senders[1].upper(), "--limit", "3")
        lines = res.stdout.splitlines()
        self.assertEqual(len(lines), 3)
        self.assertTrue(all(sent[senders[1]][0] in line for line in lines), res.stdout)
        last = res.stderr.split("--after ")[1].strip()
        rest = h.cli("queue", "list", "--sender", senders[1], "--after", last).stdout.splitlines()
        self.assertEqual(len(rest), 1, "the fourth recipient, after the row stderr named")
        self.assertEqual(sorted(lines + rest), sorted(line for line in h.cli("queue", "list").stdout.splitlines()
                                                      if sent[senders[1]][0] in line))

        one = sent[senders[2]][1][2]
        by_rcpt = h.cli_json("queue", "list", "--recipient", one.upper())
        self.assertEqual([(r["queue_id"], r["recipient"]) for r in by_rcpt], [(sent[senders[2]][0], one)])
        self.assertEqual(h.cli_json("queue", "list", "--sender", senders[0], "--recipient", one), [])
        self.assertEqual(h.cli("queue", "list", "--sender", "nobody@client.test").stdout, "",
                         "an empty filter prints nothing (the queue is not empty)")

    def test_journal_continues_after_a_key(self):
        h = self.herald
        user = f"{unique('jr')}@example.test"
        h.cli("user", "add", user, "--password-hash", HASH)
        qids = [send(h, "j@client.test", [user]) for _ in range(4)]
        wait_for(lambda: len(h.journal("--address", user, "--limit", "0")) == 4, message="4 deliveries journaled")
        newest = h.journal("--limit", "3")
        self.assertEqual(len(newest), 3)
        keys = [int(e["key"]) for e in newest]
        self.assertEqual(keys, sorted(keys), "oldest first")
        everything = h.journal("--limit", "0")
        self.assertEqual(everything[-3:], newest, "the newest 3 are the last 3 of everything")
        # Forward from the start, 4 at a time, each page after the last key.
        after, seen = "0", []
        while True:
            page = h.cli_json("journal", "--after", after, "--limit", "4")
            if not page:
                break
            seen += page
            after = page[-1]["key"]
        self.assertEqual(seen, everything, "pages after a key: every event once, in order")
        mine = h.journal("--address", user, "--after", everything[0]["key"], "--limit", "0")
        self.assertEqual([e["queue_id"] for e in mine], qids)

    def test_help_names_the_paging_flags(self):
        h = self.herald
        for args, flags in ((["user", "list"], ["--limit", "--after", "--prefix", "--domain", "--json"]),
                            (["alias", "list"], ["--limit", "--after", "--prefix", "--domain"]),
                            (["domain", "list"], ["--limit", "--after", "--prefix"]),
                            (["queue", "list"], ["--limit", "--after", "--sender", "--recipient"]),
                            (["journal"], ["--limit", "--after", "--since", "--address"])):
            with self.subTest(args=args):
                out = h.cli(*args, "--help").stdout
                for flag in flags:
                    self.assertIn(flag, out)


if __name__ == "__main__":
    unittest.main()
