"""test_outbound_crash.py - SIGKILL during outbound delivery loses nothing (issue 12).

2,000 messages for other domains are queued; while Herald relays them to a
real SMTP server (aiosmtpd), it gets SIGKILL - no shutdown, no flushing. On
restart every recipient must reach the server at least once. A message the
server had taken whose outcome was not yet committed is sent again (RFC
5321 6.1 prefers duplicates to loss): the duplicates are bounded by what
was in flight at the kill, the connections (delivery.concurrency) and the
outcomes on their way to the store.

Set HERALD_CRASH_MESSAGES to scale it.
"""

import collections
import os
import sys
import smtplib
import threading
import unittest

from harness import HOST, HeraldTestCase, Peer, wait_for

TOTAL = int(os.environ.get("HERALD_CRASH_MESSAGES", "2000"))
CONCURRENCY = 8


class OutboundCrashTest(HeraldTestCase):
    def test_every_recipient_arrives_after_a_kill_during_delivery(self):
        peer = Peer()
        self.addCleanup(peer.stop)
        h = self.start_herald(config={"delivery": {"smarthost": f"[{HOST}]:{peer.port}",
                                                   "concurrency": CONCURRENCY, "retry_interval": "1s"}})
        rcpts = [f"r{i}@far.test" for i in range(TOTAL)]

        acknowledged = set()
        lock = threading.Lock()

        def inject(part):
            try:
                with smtplib.SMTP(HOST, h.smtp_port, local_hostname="client.test", timeout=30) as s:
                    for r in part:
                        s.sendmail("load@client.test", [r], f"Subject: {r}\r\n\r\nfor {r}\r\n".encode())
                        with lock:
                            acknowledged.add(r)
            except (smtplib.SMTPException, OSError):
                pass  # the kill: what got its 250 is in acknowledged
        threads = [threading.Thread(target=inject, args=(rcpts[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        # Kill once deliveries are under way (the injection may still run).
        wait_for(lambda: len(peer.messages) >= TOTAL // 10, timeout=120, message="a tenth delivered")
        h.kill()
        for t in threads:
            t.join()
        before = len(peer.messages)

        # Every recipient queued must arrive: those acknowledged with a 250,
        # and those whose 250 the kill cut off after the commit.
        h.start()
        must = {e["recipient"] for e in h.journal("--limit", "0") if e.get("event") == "queued"}
        self.assertEqual(len(acknowledged - must), 0, "acknowledged messages that were not queued")

        def arrived():
            with peer.lock:
                return {r for m in peer.messages for r in m[1]}
        wait_for(lambda: must <= arrived(), timeout=180,
                 message=f"every queued recipient at the server ({len(must)}, {len(must - arrived())} missing)")
        counts = collections.Counter(r for m in peer.messages for r in m[1])
        duplicates = sum(n - 1 for n in counts.values() if n > 1)
        # In flight at the kill: a message per connection, and outcomes not
        # yet committed (one group commit's worth per connection).
        self.assertLessEqual(duplicates, 2 * CONCURRENCY,
                             f"{duplicates} duplicates; {before} delivered before the kill")
        print(f"\n{len(must)} queued, {before} delivered before the kill, {duplicates} sent twice",
              file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
