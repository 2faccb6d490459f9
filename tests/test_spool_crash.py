"""test_spool_crash.py - a spool is taken exactly once across SIGKILLs (issue 13).

500 files of three transactions each wait in a spool directory; Herald is
started and killed with SIGKILL at random moments while it takes them,
again and again, then left to finish. Every transaction must then be in its
mailbox exactly once: none lost (a file goes only after all of it is
committed) and none twice (each commit records how far its file is taken,
and a restart goes on from there).

Set HERALD_CRASH_SEED to replay a run; HERALD_SPOOL_FILES to scale it.
"""

import collections
import os
import random
import re
import shutil
import tempfile
import unittest

from harness import Herald, HeraldTestCase, toml_value, unique, wait_for

FILES = int(os.environ.get("HERALD_SPOOL_FILES", "500"))
KILLS = 6


class SpoolCrashTest(HeraldTestCase):
    def test_every_transaction_once_across_kills(self):
        seed = int(os.environ.get("HERALD_CRASH_SEED", random.randrange(1 << 30)))
        rnd = random.Random(seed)
        tmp = tempfile.mkdtemp(prefix="herald-spool-crash-")
        self.addCleanup(shutil.rmtree, tmp, True)
        spool = os.path.join(tmp, "spool")
        os.mkdir(spool)
        raw = ("\n[[spool]]\n" + f"name = \"jobs\"\ndirectory = {toml_value(spool)}\nsettle_time = \"0s\"\n"
               "scan_interval = \"1s\"\n")
        h = Herald(raw_config=raw)
        self._heralds.append(h)
        self.addCleanup(h.stop)
        users = [h.add_user(f"{unique('crash')}@example.test") for _ in range(3)]
        expected = collections.Counter()
        for f in range(FILES):
            text = "HELO batch\r\n"
            for t in range(3):
                token = f"f{f}t{t}"
                rcpt = users[(f + t) % len(users)]
                expected[(rcpt, token)] += 1
                text += (f"MAIL FROM:<jobs@example.test>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\nSubject: {token}\r\n\r\n"
                         f"{token} body\r\n.\r\n")
            with open(os.path.join(spool, f".f{f}"), "w") as out:
                out.write(text + "QUIT\r\n")
            os.rename(os.path.join(spool, f".f{f}"), os.path.join(spool, f"f{f}"))

        def left():
            return len([n for n in os.listdir(spool) if n.startswith("f")])

        killed_midway = 0
        for _ in range(KILLS):
            before = left()
            if before < 10:
                break
            # The crash comes once a random share of what is left is taken.
            target = int(before * rnd.uniform(0.3, 0.9))
            wait_for(lambda: left() <= target, 60, interval=0.001, message="files being taken")
            h.kill()
            killed_midway += 0 < left() < before
            h.start(port_retries=1)
        self.assertGreater(killed_midway, 0, f"no kill came while files were being taken (seed {seed})")
        resumed = len(re.findall(r"resumed after \d+", h.log()))
        wait_for(lambda: left() == 0, 120, message=f"the spool emptied (seed {seed})")
        subject = re.compile(rb"^Subject: (f\d+t\d)\r?$", re.M)
        got = collections.Counter()

        def all_delivered():
            got.clear()
            for rcpt in users:
                for m in h.mailbox(rcpt):
                    got[(rcpt, subject.search(m).group(1).decode())] += 1
            return sum(got.values()) >= sum(expected.values())

        wait_for(all_delivered, 60, interval=0.5, message=f"every transaction delivered (seed {seed})")
        twice = {k: n for k, n in got.items() if n > 1}
        lost = [k for k in expected if k not in got]
        self.assertEqual(twice, {}, f"sent twice (seed {seed})")
        self.assertEqual(lost, [], f"lost (seed {seed})")
        self.assertEqual(got, expected)
        self.assertFalse(os.listdir(os.path.join(spool, "error")), "no transaction was refused")
        self.assertFalse(os.listdir(os.path.join(spool, "quarantine")))
        print(f"\n{killed_midway} kills while taking, {resumed} files resumed from their checkpoint (seed {seed})")


if __name__ == "__main__":
    unittest.main()
