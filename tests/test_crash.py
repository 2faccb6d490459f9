"""test_crash.py - no acknowledged message is lost when Herald is killed.

2,000 messages go in over 16 concurrent SMTP connections; after a random
number of them (200-1800) got their `250 ... queued as`, the server gets
SIGKILL - no shutdown, no flushing. It is restarted, the messages that were
never acknowledged are sent again, and then every message that ever got a
250 must be in the mailbox at least once (a resend may duplicate one, which
is allowed: RFC 5321 6.1 prefers duplicates to loss), each one whole.

Set HERALD_CRASH_SEED to replay a run; HERALD_CRASH_MESSAGES to scale it.
"""

import collections
import os
import random
import re
import smtplib
import threading
import time
import unittest

from harness import HOST, HeraldTestCase, split_trace, wait_for

TOTAL = int(os.environ.get("HERALD_CRASH_MESSAGES", "2000"))
CONNECTIONS = 16
RCPT = "crash@example.test"
SUBJECT_RE = re.compile(rb"^Subject: (crash-\d+-\d+)\r$", re.M)


def message_for(token):
    """message_for - the message carrying token; its exact bytes are checked after the crash."""
    filler = "".join(f"{token} line {i:02d} of a message that must come back whole\r\n" for i in range(12))
    return (f"From: <load@client.test>\r\nTo: <{RCPT}>\r\nSubject: {token}\r\n"
            f"Message-ID: <{token}@client.test>\r\n\r\n{filler}").encode()


class Sender:
    """Sender - CONNECTIONS threads sending tokens from a shared list until it is empty or the server dies."""

    def __init__(self, port, tokens):
        self.port = port
        self.todo = collections.deque(tokens)
        self.lock = threading.Lock()
        self.acked = set()        # got 250 at end of data
        self.unknown = set()      # sent, but the connection broke before a reply
        self.refused = []         # (token, code, reply): the server said no while healthy
        self.errors = []
        self.stop = threading.Event()

    def next_token(self):
        with self.lock:
            return self.todo.popleft() if self.todo and not self.stop.is_set() else None

    def worker(self):
        try:
            s = smtplib.SMTP(HOST, self.port, local_hostname="load.client.test", timeout=60)
        except OSError as e:
            self.errors.append(f"connect: {e!r}")
            return
        try:
            s.ehlo()
            while True:
                token = self.next_token()
                if token is None:
                    break
                try:
                    s.mail("load@client.test")
                    code, resp = s.rcpt(RCPT)
                    if code != 250:
                        with self.lock:
                            self.refused.append((token, code, resp))
                        s.rset()
                        continue
                    code, resp = s.data(message_for(token))
                except (smtplib.SMTPException, OSError):
                    with self.lock:
                        self.unknown.add(token)
                    return
                with self.lock:
                    if code == 250:
                        self.acked.add(token)
                    else:
                        self.refused.append((token, code, resp))
        finally:
            try:
                s.close()
            except OSError:
                pass

    def start(self):
        self.threads = [threading.Thread(target=self.worker, daemon=True) for _ in range(CONNECTIONS)]
        for t in self.threads:
            t.start()

    def acked_count(self):
        with self.lock:
            return len(self.acked)

    def join(self, timeout=120):
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self.threads)


class CrashTest(HeraldTestCase):

    def setUp(self):
        self.seed = int(os.environ.get("HERALD_CRASH_SEED", str(time.time_ns() % 1_000_000_007)))
        self.rng = random.Random(self.seed)

    def read_mailbox(self, h):
        """read_mailbox - {token: [message bytes...]} of everything in the crash mailbox."""
        p = h.pop3(RCPT, timeout=60)
        try:
            count, _ = p.stat()
            found = collections.defaultdict(list)
            for i in range(1, count + 1):
                _, lines, _ = p.retr(i)
                msg = b"".join(l + b"\r\n" for l in lines)
                m = SUBJECT_RE.search(msg)
                found[m.group(1).decode() if m else f"<no token in message {i}>"].append(msg)
            return count, found
        finally:
            p.quit()

    def test_acknowledged_messages_survive_sigkill(self):
        h = self.start_herald()
        h.add_user(RCPT)
        tokens = [f"crash-{self.seed}-{i}" for i in range(TOTAL)]
        low, high = TOTAL // 10, TOTAL * 9 // 10          # 200..1800 for 2,000 messages
        kill_after = self.rng.randint(low, high)
        print(f"\ncrash test: seed={self.seed} messages={TOTAL} connections={CONNECTIONS} "
              f"kill after {kill_after} acknowledged")

        first = Sender(h.smtp_port, tokens)
        started = time.monotonic()
        first.start()
        wait_for(lambda: first.acked_count() >= kill_after or not any(t.is_alive() for t in first.threads),
                 timeout=400, interval=0.001, message=f"{kill_after} acknowledged messages")
        h.kill()
        killed_at = time.monotonic() - started
        self.assertTrue(first.join(), "sender threads did not notice the dead server")
        self.assertEqual(first.refused, [], f"a healthy server refused messages: {first.refused[:5]}")
        self.assertEqual(first.errors, [], f"could not connect before the kill: {first.errors[:5]}")
        acked_before = set(first.acked)
        self.assertGreaterEqual(len(acked_before), kill_after,
                                "the load ended before the kill point (server too fast or threads died)")
        print(f"crash test: killed after {killed_at:.1f}s with {len(acked_before)} acknowledged, "
              f"{len(first.unknown)} in flight, {len(first.todo)} never sent")

        h.start()
        resend = [t for t in tokens if t not in acked_before]
        second = Sender(h.smtp_port, resend)
        second.start()
        self.assertTrue(second.join(timeout=400), "the resend did not finish")
        self.assertEqual(second.errors, [], f"could not connect after restart: {second.errors[:5]}")
        self.assertEqual(second.refused, [], f"messages refused after restart: {second.refused[:5]}")
        self.assertEqual(second.unknown, set(), "connections broke after restart")
        self.assertEqual(len(second.todo), 0)
        acked_after = set(second.acked)
        self.assertEqual(acked_before | acked_after, set(tokens), "every message must get a 250 in the end")

        # Delivery to the mailbox may lag the 250: poll the count, then read everything.
        try:
            wait_for(lambda: h.mailbox_count(RCPT) >= TOTAL, timeout=180, interval=0.2,
                     message=f"{TOTAL} messages in the mailbox")
        except AssertionError:
            pass  # reported below with the numbers
        state = {}

        def all_there():
            count, found = self.read_mailbox(h)
            state.update(count=count, found=found)
            return all(t in found for t in tokens)
        try:
            wait_for(all_there, timeout=30, interval=1, message="every acknowledged message in the mailbox")
        except AssertionError:
            pass  # reported below with the numbers
        count, found = state.get("count", 0), state.get("found", {})
        lost_before = sorted(t for t in acked_before if t not in found)
        lost_after = sorted(t for t in acked_after if t not in found)
        duplicates = {t: len(m) for t, m in found.items() if len(m) > 1}
        strangers = sorted(t for t in found if t not in set(tokens))
        print(f"crash test: mailbox holds {count} messages for {len(found)} distinct tokens; "
              f"acknowledged before kill {len(acked_before)}, after restart {len(acked_after)}; "
              f"lost {len(lost_before)} + {len(lost_after)}; duplicated {len(duplicates)} "
              f"(extra copies {sum(duplicates.values()) - len(duplicates)}); unknown {len(strangers)}")

        self.assertEqual(lost_before, [], f"acknowledged before SIGKILL but lost (seed {self.seed}): "
                                          f"{lost_before[:10]}")
        self.assertEqual(lost_after, [], f"acknowledged after restart but lost: {lost_after[:10]}")
        self.assertEqual(strangers, [], "messages without a known token (torn or corrupt)")
        torn = []
        for token, msgs in found.items():
            for msg in msgs:
                try:
                    rest = split_trace(msg)[1]
                except AssertionError:
                    rest = None
                if rest != message_for(token):
                    torn.append(token)
        self.assertEqual(torn, [], f"messages that came back different from what was sent: {torn[:10]}")
        for token in set(tokens) - acked_before - first.unknown:
            # never sent before the crash: must be there exactly once
            if token in found and token in acked_after:
                self.assertEqual(len(found[token]), 1, f"{token} was sent once but delivered twice")

        def queue_drained():
            return not [r for r in h.queue() if r.get("recipient") == RCPT and
                        r.get("status") in ("pending", "deferred", "held")]
        wait_for(queue_drained, timeout=60, message="no local delivery left in the queue")


if __name__ == "__main__":
    unittest.main()
