"""test_big_bodies.py - large messages do not make the server's memory grow (issue 11, item 1).

Forty clients each send a message of several megabytes, over DATA and BDAT,
and hold it open without its end, as a hostile client (or a slow one) would.
Postfix streams a body to its queue file; so must Herald: past
smtp.body_memory_max a body goes to data_dir as it arrives, and all bodies
together hold at most smtp.memory_budget in memory. The server's resident
memory at its peak (VmHWM) must stay within that budget above where it
started, while every message, once ended, is delivered octet for octet.
"""

import hashlib
import os
import unittest

from harness import HeraldTestCase, SmtpRaw, retr_bytes, split_trace, unique, wait_for

SESSIONS = 40
MESSAGE_SIZE = 4 * 1024 * 1024
BUDGET = 8 * 1024 * 1024
# What the server may need above its resting size besides the bodies'
# budget: per connection its buffers (a read, a command line, a partial
# DATA line), and the store's commits. Measured: the budget and 0.2 MiB.
# Holding the bodies in memory would take SESSIONS * MESSAGE_SIZE (160 MiB).
SLACK = 16 * 1024 * 1024


def status_kib(pid, field):
    """status_kib - a field of /proc/PID/status (VmRSS, VmHWM) in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def message(n, size):
    """message - session n's message of about size octets, every line numbered."""
    head = f"Subject: big {n}\r\nMessage-ID: <big{n}.{os.getpid()}@client.test>\r\n\r\n".encode()
    lines = [head]
    total = len(head)
    i = 0
    while total < size:
        line = f"line {i:07d} of message {n:02d} ................................................\r\n".encode()
        lines.append(line)
        total += len(line)
        i += 1
    return b"".join(lines)


class BigBodiesTest(HeraldTestCase):
    def test_forty_unfinished_large_messages_stay_within_the_memory_budget(self):
        h = self.start_herald(config={"smtp": {
            "max_message_size": "8M",
            # Forty bodies of up to 1 MiB each would be 40 MiB: the budget
            # of all of them together binds first.
            "body_memory_max": "1M",
            "memory_budget": "8M",
            "max_connections": 100,
            "max_connections_per_client": 100,
        }})
        user = h.add_user(f"{unique('big')}@example.test")
        # The resting size, after one message has come the whole way.
        with SmtpRaw(h.smtp_port, greet=True) as s:
            s.ehlo()
            s.cmd("MAIL FROM:<sender@client.test>").check(250)
            s.cmd(f"RCPT TO:<{user}>").check(250)
            s.data(b"Subject: warm-up\r\n\r\nHello.\r\n").check(250)
        h.wait_mailbox(user, 1)
        pid = h.proc.pid
        rest = status_kib(pid, "VmRSS")
        # From here VmHWM is the peak since rest (Linux's clear_refs "5").
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")

        sessions, digests, sent = [], {}, 0
        for n in range(SESSIONS):
            s = SmtpRaw(h.smtp_port, greet=True, timeout=60.0)
            self.addCleanup(s.close)
            s.ehlo()
            s.cmd("MAIL FROM:<sender@client.test>").check(250)
            s.cmd(f"RCPT TO:<{user}>").check(250)
            body = message(n, MESSAGE_SIZE)
            digests[n] = hashlib.sha256(body).hexdigest()
            if n % 2 == 0:
                # DATA, all of it but the final dot.
                s.cmd("DATA").check(354)
                s.send(body)
            else:
                # BDAT in chunks of 1 MiB, none of them LAST.
                for at in range(0, len(body), 1 << 20):
                    chunk = body[at:at + (1 << 20)]
                    s.send(f"BDAT {len(chunk)}\r\n".encode() + chunk)
                    s.expect(250, "BDAT chunk")
            sent += len(body)
            sessions.append(s)

        # Every octet sent has reached the server: the bodies being received
        # are in data_dir, as many octets as were sent (and the trace header).
        tmp = os.path.join(h.data_dir, "blobs", "tmp")

        def spooled():
            return sum(os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp))
        wait_for(lambda: spooled() >= sent, timeout=60,
                 message=f"{sent} octets of unfinished bodies in {tmp}")
        held = status_kib(pid, "VmRSS") - rest
        self.assertLess(held, BUDGET + SLACK,
                        f"{SESSIONS} unfinished messages of {MESSAGE_SIZE} octets grew the server by {held} octets")

        for n, s in enumerate(sessions):
            if n % 2 == 0:
                s.send(b".\r\n")
            else:
                s.send(b"BDAT 0 LAST\r\n")
        for s in sessions:
            s.expect(250, "end of message")
            s.cmd("QUIT")
        peak = status_kib(pid, "VmHWM") - rest
        self.assertLess(peak, BUDGET + SLACK, f"the server's peak was {peak} octets above its resting size")
        self.assertEqual(os.listdir(tmp), [], "every spooled body was committed under its name")

        # Delivered whole: every message, octet for octet, after the trace
        # headers Herald puts on top.
        p = h.pop3(user)
        try:
            count, _ = p.stat()
            self.assertEqual(count, SESSIONS + 1)
            got = set()
            for i in range(2, count + 1):
                _, rest_of_it = split_trace(retr_bytes(p, i))
                got.add(hashlib.sha256(rest_of_it).hexdigest())
            self.assertEqual(got, set(digests.values()))
        finally:
            p.quit()


if __name__ == "__main__":
    unittest.main()
