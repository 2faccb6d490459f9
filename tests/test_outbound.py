"""test_outbound.py - outbound delivery to real SMTP servers on loopback (issue 12).

The receiving peers are aiosmtpd servers (Debian's python3-aiosmtpd) that
record what they are given and answer as scripted: accept, greylist once
(451), refuse (550). Herald relays to them through delivery.smarthost and a
[[delivery.route]], retries what was deferred, bounces what was refused,
and says so in its queue, its journal and Postfix-shaped log lines.
"""

import email
import email.policy
import json
import os
import re
import socket
import subprocess
import unittest

from harness import Herald, HeraldTestCase, Peer, free_ports, unique, wait_for


def refused_port():
    """refused_port - a loopback port nothing listens on."""
    return free_ports(1)[0]


class OutboundTest(HeraldTestCase):
    @classmethod
    def setUpClass(cls):
        cls.smarthost = Peer()
        cls.routed = Peer()
        dead = refused_port()
        cls.herald = Herald(
            config={"delivery": {"smarthost": f"[127.0.0.1]:{cls.smarthost.port}", "retry_interval": "1s",
                                 "tls": "may"}},
            raw_config=(f'[[delivery.route]]\ndomain = "routed.test"\n'
                        f'targets = ["[127.0.0.1]:{dead}", "[127.0.0.1]:{cls.routed.port}"]\n'
                        f'[[delivery.route]]\ndomain = "*.down.test"\ntargets = ["[127.0.0.1]:{dead}"]\n'))

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()
        cls.smarthost.stop()
        cls.routed.stop()

    def send(self, rcpts, subject):
        """send - a message from a loopback client (a relay network) to rcpts; its body."""
        body = (f"From: a@client.test\r\nSubject: {subject}\r\nMessage-ID: <{subject}@client.test>\r\n\r\n"
                f".a line with a leading dot\r\nHello.\r\n").encode()
        self.transaction("a@client.test", rcpts, body)
        return body

    def journal_events(self, rcpt):
        return [e["event"] for e in self.herald.journal() if e.get("recipient") == rcpt]

    def test_relayed_whole_through_the_smarthost(self):
        rcpt = f"{unique('far')}@far.test"
        body = self.send([rcpt], unique("relay"))
        wait_for(lambda: self.smarthost.received(rcpt), message="the message at the smarthost")
        mail_from, rcpts, data, _ = self.smarthost.received(rcpt)[0]
        self.assertEqual(mail_from, "a@client.test")
        self.assertEqual(rcpts, [rcpt])
        # Herald's Received on top, then the message as sent, dot and all.
        self.assertTrue(data.startswith(b"Received: from client.test"), data[:200])
        self.assertTrue(data.endswith(body), data[-300:])
        wait_for(lambda: "delivered" in self.journal_events(rcpt), message="the delivered journal row")
        self.assertEqual([r for r in self.herald.queue() if r.get("recipient") == rcpt], [])
        wait_for(lambda: re.search(rf"herald/smtp\[\d+\]: [0-9A-F]+: to=<{re.escape(rcpt)}>, "
                                   rf"relay=127\.0\.0\.1\[127\.0\.0\.1\]:{self.smarthost.port}, delay=[\d.]+, "
                                   rf"dsn=2\.0\.0, status=sent \(host .* said: 250 2\.0\.0 Ok: queued as PEER",
                                   self.herald.log()),
                 message="a Postfix 'status=sent' line")

    def test_a_large_message_goes_in_pieces_octet_for_octet(self):
        # Over a megabyte (the agent's piece): dot-stuffed lines cut across
        # pieces, and 8-bit text in the last piece, which MAIL must declare.
        rcpt = f"{unique('big')}@far.test"
        lines = [f".{i:07d} a line that starts with a dot, as dot-stuffing must show\r\n" for i in range(40000)]
        body = (f"Subject: {unique('big')}\r\n\r\n" + "".join(lines) + "Grüße, the last line\r\n").encode()
        s = self.raw()
        s.ehlo()
        s.cmd("MAIL FROM:<a@client.test> BODY=8BITMIME").check(250)
        s.cmd(f"RCPT TO:<{rcpt}>").check(250)
        s.data(body).check(250)
        got = wait_for(lambda: self.smarthost.received(rcpt), timeout=30, message="the large message at the peer")
        _, _, data, options = got[0]
        self.assertGreater(len(body), 2 << 20)
        self.assertTrue(data.endswith(body), "the whole body, unstuffed by the peer, as sent")
        self.assertIn("BODY=8BITMIME", options)

    def test_greylisted_recipient_is_retried_and_refused_one_bounced(self):
        grey, bad, good = (f"{unique(p)}@far.test" for p in ("grey", "bad", "good"))
        self.smarthost.script[grey] = ["451 4.7.1 Greylisted, try again later"]
        self.smarthost.script[bad] = ["550 5.1.1 No such user"]
        self.send([grey, bad, good], unique("grey"))
        wait_for(lambda: self.smarthost.received(good), message="the good recipient delivered")
        wait_for(lambda: "bounced" in self.journal_events(bad), message="the refused recipient bounced")
        bounced = [e for e in self.herald.journal() if e.get("recipient") == bad and e["event"] == "bounced"][0]
        self.assertIn("550 5.1.1 No such user (in reply to RCPT TO command)", bounced["reply"])
        # Deferred first (its row says why), then delivered on the retry.
        wait_for(lambda: self.smarthost.received(grey), timeout=30, message="the greylisted recipient delivered")
        self.assertEqual(self.journal_events(grey)[-2:], ["deferred", "delivered"])
        self.assertEqual(self.smarthost.rcpt_attempts[grey], 2)
        self.assertEqual(self.smarthost.rcpt_attempts[bad], 1, "a 5xx is not retried")

    def test_refused_recipient_is_reported_to_its_sender(self):
        # A local sender: the report (RFC 3464) lands in its mailbox.
        user = self.new_user("sender")
        bad = f"{unique('bad')}@far.test"
        self.smarthost.script[bad] = ["550 5.1.1 <x>: Recipient address rejected: User unknown"]
        subject = unique("bounce")
        self.transaction(user, bad, f"Subject: {subject}\r\n\r\nHello.\r\n".encode())
        report = email.message_from_bytes(self.herald.wait_mailbox(user, 1)[0], policy=email.policy.default)
        self.assertEqual(report.get_content_type(), "multipart/report")
        self.assertEqual(report.get_param("report-type"), "delivery-status")
        self.assertEqual(report["Auto-Submitted"], "auto-replied")
        self.assertIn("MAILER-DAEMON@", report["From"])
        notice, status, returned = report.get_payload()
        self.assertIn(bad, notice.get_content())
        self.assertEqual(status.get_content_type(), "message/delivery-status")
        per_message, per_recipient = status.get_payload()[0], status.get_payload()[1]
        self.assertEqual(per_message["Reporting-MTA"], "dns; mx.example.test")
        self.assertEqual(per_recipient["Final-Recipient"], f"rfc822; {bad}")
        self.assertEqual(per_recipient["Action"], "failed")
        self.assertEqual(per_recipient["Status"], "5.1.1")
        self.assertIn("smtp; 550 5.1.1", per_recipient["Diagnostic-Code"])
        self.assertEqual(returned.get_content_type(), "message/rfc822")
        self.assertEqual(returned.get_payload()[0]["Subject"], subject)
        wait_for(lambda: re.search(r"herald/bounce\[\d+\]: [0-9A-F]+: sender non-delivery notification: [0-9A-F]+",
                                   self.herald.log()), message="the bounce log line")

        # A remote sender: the report goes out with the null sender, and a
        # report about a report is never made.
        remote = f"{unique('rs')}@far.test"
        bad2 = f"{unique('bad')}@far.test"
        self.smarthost.script[bad2] = ["550 5.1.1 No such user"]
        self.transaction(remote, bad2, b"Subject: x\r\n\r\nx\r\n")
        got = wait_for(lambda: self.smarthost.received(remote), message="the report at the sender's server")
        mail_from, _, data, _ = got[0]
        self.assertIn(mail_from, ("", "<>"))
        self.assertEqual(email.message_from_bytes(data).get_content_type(), "multipart/report")

    def test_route_tries_its_targets_in_order(self):
        rcpt = f"{unique('r')}@routed.test"
        self.send([rcpt], unique("route"))
        # The first target refuses connections; the second takes it.
        wait_for(lambda: self.routed.received(rcpt), message="the message at the route's second target")
        self.assertEqual(self.smarthost.received(rcpt), [])

    def test_a_next_hop_that_is_down_defers_with_the_reason(self):
        rcpt = f"{unique('d')}@mx.down.test"
        self.send([rcpt], unique("down"))

        def deferred_row():
            rows = [r for r in self.herald.queue() if r.get("recipient") == rcpt and r.get("status") == "deferred"]
            return rows[0] if rows else None
        row = wait_for(deferred_row, message="a deferred queue row")
        self.assertIn("Connection refused", row["last_reply"])
        wait_for(lambda: re.search(rf"to=<{re.escape(rcpt)}>, relay=none, delay=[\d.]+, dsn=4\.4\.1, "
                                   rf"status=deferred \(connect to \[127\.0\.0\.1\]:\d+: Connection refused\)",
                                   self.herald.log()),
                 message="a Postfix 'status=deferred' line")

    def test_targets_view_counts_per_server(self):
        # CSSMTP's D,TARGET: what the running daemon saw of each server,
        # through the control socket (owner-only) in data_dir.
        sent, down = f"{unique('t')}@far.test", f"{unique('d')}@mx.down.test"
        self.send([sent, down], unique("targets"))
        wait_for(lambda: self.smarthost.received(sent), message="the message at the smarthost")

        def seen():
            view = self.herald.cli_json("targets")
            by = {t["target"]: t for t in view["targets"]}
            ok = by.get(f"127.0.0.1[127.0.0.1]:{self.smarthost.port}")
            failed = [t for name, t in by.items() if t["state"] == "connect-failed"]
            return (view, ok, failed) if ok and ok["mail_sent"] >= 1 and failed else None
        view, ok, failed = wait_for(seen, message="both servers in the targets view")
        self.assertEqual(ok["state"], "ready")
        self.assertTrue(ok["esmtp"])
        self.assertGreaterEqual(ok["mail_attempts"], ok["mail_sent"])
        self.assertIn("250", ok["last_reply"])
        self.assertGreaterEqual(failed[0]["connect_failures"], 1)
        self.assertIn("Connection refused", failed[0]["last_reply"])
        self.assertGreaterEqual(view["totals"]["sent"], 1)
        self.assertGreaterEqual(view["totals"]["retried"], 1)
        self.assertGreaterEqual(view["queue"]["deferred"], 1)
        text = self.herald.cli("targets").stdout
        self.assertRegex(text, r"^TARGET +STATE +ESMTP")
        self.assertRegex(text, r"queue now: \d+ pending, \d+ waiting for retry, \d+ held, \d+ dead letters kept")
        mode = os.stat(os.path.join(self.herald.data_dir, "control.sock")).st_mode & 0o777
        self.assertEqual(mode, 0o600)

    def test_the_control_socket_refuses_what_is_not_a_request(self):
        path = os.path.join(self.herald.data_dir, "control.sock")

        def ask(data):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(10)
                s.connect(path)
                s.sendall(data)
                answer = b""
                while chunk := s.recv(4096):
                    answer += chunk
                return json.loads(answer)
        self.assertEqual(ask(b"x" * 5000), {"error": "request too long"})
        self.assertEqual(ask(b"shutdown now\n"), {"error": "unknown command: shutdown"})
        self.assertIn("targets", ask(b"targets\r\n"))
        self.assertEqual(self.herald.cli("targets").returncode, 0, "the daemon still answers")

    def test_targets_needs_the_daemon(self):
        h = self.start_herald()
        h.stop()
        res = h.cli("targets", check=False)
        self.assertEqual(res.returncode, 1)
        self.assertIn("herald is not running", res.stderr)
        self.assertFalse(os.path.exists(os.path.join(h.data_dir, "control.sock")), "removed at a clean stop")


class QueueActionsTest(HeraldTestCase):
    """The operator's queue actions (Postfix's postsuper and postqueue) on
    recipients a greylisting server deferred for an hour."""

    @classmethod
    def setUpClass(cls):
        cls.peer = Peer()
        cls.herald = Herald(config={"delivery": {"smarthost": f"[127.0.0.1]:{cls.peer.port}",
                                                 "retry_interval": "1h"},
                                    "smtp": {"etrn_networks": ["127.0.0.0/8"]}})

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()
        cls.peer.stop()

    def deferred(self, sender=None):
        """deferred - a queued recipient the peer greylisted once: (queue id, recipient)."""
        rcpt = f"{unique('q')}@far.test"
        self.peer.script[rcpt] = ["451 4.7.1 Greylisted"]
        reply = self.transaction(sender or "ops@client.test", rcpt, b"Subject: ops\r\n\r\nx\r\n")
        qid = re.search(r"queued as ([0-9A-F]+)", reply.text).group(1)
        wait_for(lambda: self.status(rcpt) == "deferred", message=f"{rcpt} deferred")
        return qid, rcpt

    def status(self, rcpt):
        rows = [r for r in self.herald.queue() if r["recipient"] == rcpt]
        return rows[0]["status"] if rows else None

    def cli(self, *args):
        return self.herald.cli("queue", *args).stdout.strip()

    def test_etrn_starts_a_domains_queue(self):
        # RFC 1985, from a client in smtp.etrn_networks.
        _, rcpt = self.deferred()
        s = self.raw()
        self.assertIn("ETRN", s.ehlo().text)
        self.assertEqual(s.cmd("ETRN nothing.example").first, "251 2.0.0 OK, no messages waiting for node <nothing.example>")
        self.assertRegex(s.cmd("ETRN far.test").first, r"^253 2\.0\.0 OK, [1-9]\d* pending messages for node <far\.test> started$")
        wait_for(lambda: self.peer.received(rcpt), message="the recipient ETRN made due, delivered")
        _, below = self.deferred()
        self.assertRegex(s.cmd("ETRN @test").first, r"^253 ", "far.test is below test")
        wait_for(lambda: self.peer.received(below), message="delivered by ETRN @test")

    def test_hold_release_retry_delete(self):
        held_id, held = self.deferred()
        self.assertEqual(self.cli("hold", held_id), "held 1 recipient")
        self.assertEqual(self.status(held), "held")
        # flush takes everything waiting, but not what is held.
        flushed_id, flushed = self.deferred()
        self.assertEqual(self.herald.cli_json("queue", "flush", "--json"), {"changed": 1})
        wait_for(lambda: self.peer.received(flushed), message="the flushed recipient delivered")
        self.assertEqual(self.status(held), "held")
        self.assertEqual(self.peer.received(held), [])
        self.assertEqual(self.cli("release", held_id), "released 1 recipient")
        wait_for(lambda: self.peer.received(held), message="the released recipient delivered")

        gone_id, gone = self.deferred()
        self.assertEqual(self.cli("delete", gone_id), "deleted 1 recipient")
        self.assertIsNone(self.status(gone))
        self.assertEqual(self.cli("flush"), "due now: 0 recipients")
        self.assertEqual(self.peer.received(gone), [])
        events = [e["event"] for e in self.herald.journal("--queue-id", gone_id)]
        self.assertEqual(events[-1], "deleted")
        self.assertEqual([e["event"] for e in self.herald.journal("--queue-id", held_id)][-3:],
                         ["held", "released", "delivered"])

    def test_select_by_state_and_age(self):
        old_id, old = self.deferred(sender="age@client.test")
        _, fresh = self.deferred(sender="age@client.test")
        subprocess.run(["sqlite3", "-cmd", ".timeout 5000", os.path.join(self.herald.data_dir, "herald.db"),
                        f"UPDATE queue SET created = created - 7200 WHERE queue_id = '{old_id}'"], check=True)
        listed = self.herald.cli_json("queue", "list", "--state", "deferred", "--older-than", "1h")
        self.assertIn(old, [r["recipient"] for r in listed])
        self.assertNotIn(fresh, [r["recipient"] for r in listed])
        self.assertEqual(self.herald.cli_json("queue", "list", "--state", "held", "--sender", "age@client.test"), [])
        res = self.herald.cli("queue", "list", "--state", "sent", check=False)
        self.assertEqual(res.returncode, 2)
        self.assertIn("one of pending, deferred, held, dead", res.stderr)
        self.assertEqual(self.cli("delete", "--older-than", "1h", "--sender", "age@client.test"), "deleted 1 recipient")
        self.assertIsNone(self.status(old))
        self.assertEqual(self.status(fresh), "deferred")
        self.assertEqual(self.cli("delete", "--state", "deferred", "--sender", "age@client.test"), "deleted 1 recipient")

    def test_bulk_actions_need_a_selector(self):
        _, rcpt = self.deferred(sender="bulk@client.test")
        res = self.herald.cli("queue", "hold", check=False)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("--all", res.stderr)
        self.assertEqual(self.cli("hold", "--domain", "elsewhere.test"), "held 0 recipients")
        # LIKE's wildcards in a domain match only themselves.
        self.assertEqual(self.cli("hold", "--domain", "%"), "held 0 recipients")
        self.assertEqual(self.cli("hold", "--domain", "far.tes_"), "held 0 recipients")
        self.assertEqual(self.cli("hold", "--sender", "BULK@client.test", "--domain", "FAR.test"), "held 1 recipient")
        self.assertEqual(self.cli("retry", "--domain", "far.test"), "due now: 0 recipients", "held is not retried")
        self.assertEqual(self.cli("release", "--all"), "released 1 recipient")
        wait_for(lambda: self.peer.received(rcpt), message="released and delivered")


class DelayWarningTest(HeraldTestCase):
    def test_a_long_delay_is_reported_once_then_the_mail_goes(self):
        peer = Peer()
        self.addCleanup(peer.stop)
        h = self.start_herald(config={"delivery": {
            "smarthost": f"[127.0.0.1]:{peer.port}", "retry_interval": "1s", "delay_warning": "2s"}})
        user = h.add_user(f"{unique('late')}@example.test")
        rcpt = f"{unique('slow')}@far.test"
        peer.script[rcpt] = ["451 4.7.1 Try again later"] * 5
        self.transaction(user, rcpt, b"Subject: slow\r\n\r\nx\r\n", port=h.smtp_port)
        wait_for(lambda: peer.received(rcpt), timeout=30, message="delivered after five refusals")
        reports = h.wait_mailbox(user, 1)
        self.assertEqual(len(reports), 1, "warned once, not at every attempt")
        report = email.message_from_bytes(reports[0], policy=email.policy.default)
        self.assertEqual(report["Subject"], "Delayed Mail (still being retried)")
        per_recipient = report.get_payload()[1].get_payload()[1]
        self.assertEqual(per_recipient["Action"], "delayed")
        self.assertEqual(per_recipient["Status"], "4.7.1")
        self.assertIsNotNone(per_recipient["Will-Retry-Until"])
        self.assertEqual(report.get_payload()[2].get_content_type(), "text/rfc822-headers")
        wait_for(lambda: re.search(r"herald/bounce\[\d+\]: [0-9A-F]+: sender delay notification: [0-9A-F]+",
                                   h.log()), message="the delay notification log line")


class EtrnRefusedTest(HeraldTestCase):
    def test_etrn_is_refused_to_clients_not_named(self):
        h = self.start_herald()  # smtp.etrn_networks = [] by default
        s = self.raw(h.smtp_port)
        self.assertNotIn("ETRN", s.ehlo().text)
        self.assertEqual(s.cmd("ETRN far.test").first, "459 4.7.1 <far.test>: ETRN is not allowed for this client")


class NoDnsTest(HeraldTestCase):
    def test_mail_by_mx_waits_while_dns_fails(self):
        # The harness's resolver refuses every query: a temporary failure,
        # never a bounce.
        h = self.start_herald()
        rcpt = f"{unique('x')}@nowhere.test"
        self.transaction("a@client.test", rcpt, b"Subject: x\r\n\r\nx\r\n", port=h.smtp_port)

        def row():
            rows = [r for r in h.queue() if r.get("recipient") == rcpt and r.get("status") == "deferred"]
            return rows[0] if rows else None
        reply = wait_for(row, message="a deferred row")["last_reply"]
        self.assertIn("Name service error for name=nowhere.test type=MX", reply)


class FallbackRelayTest(HeraldTestCase):
    """delivery.fallback_relay takes what its own next hop could not: a
    route whose targets are down, a domain whose MX cannot be asked."""

    def queued(self, h, rcpt):
        return [r for r in h.queue() if r.get("recipient") == rcpt]

    def test_what_cannot_go_goes_to_the_fallback_relay(self):
        spare = Peer()
        self.addCleanup(spare.stop)
        dead = refused_port()
        route = f'[[delivery.route]]\ndomain = "*.down.test"\ntargets = ["[127.0.0.1]:{dead}"]\n'
        h = self.start_herald(config={"delivery": {"fallback_relay": f"[127.0.0.1]:{spare.port}"}}, raw_config=route)
        routed, by_mx = f"{unique('r')}@a.down.test", f"{unique('m')}@nowhere.test"
        self.transaction("a@client.test", [routed, by_mx], b"Subject: spare\r\n\r\nx\r\n", port=h.smtp_port)
        for rcpt in (routed, by_mx):
            wait_for(lambda: spare.received(rcpt), message=f"{rcpt} at the fallback relay")
        wait_for(lambda: not self.queued(h, routed) and not self.queued(h, by_mx), message="the queue empty")
        tried = rf"to=<{re.escape(routed)}>, trying the fallback relay after: connect to \[127\.0\.0\.1\]:{dead}: "
        sent = rf"to=<{re.escape(by_mx)}>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:{spare.port}, delay=[\d.]+, dsn=2\.0\.0, status=sent"
        wait_for(lambda: re.search(tried, h.log()) and re.search(sent, h.log()), message="the log lines")
        self.assertNotRegex(h.log(), rf"to=<{re.escape(routed)}>.*status=deferred", "one attempt, not a deferral")

    def test_a_young_message_waits_for_its_own_next_hop(self):
        spare = Peer()
        self.addCleanup(spare.stop)
        route = f'[[delivery.route]]\ndomain = "*.down.test"\ntargets = ["[127.0.0.1]:{refused_port()}"]\n'
        h = self.start_herald(config={"delivery": {"fallback_relay": f"[127.0.0.1]:{spare.port}",
                                                   "fallback_relay_after": "1h"}}, raw_config=route)
        rcpt = f"{unique('y')}@a.down.test"
        self.transaction("a@client.test", rcpt, b"Subject: young\r\n\r\nx\r\n", port=h.smtp_port)
        row = wait_for(lambda: [r for r in self.queued(h, rcpt) if r.get("status") == "deferred"],
                       message="a deferred row")[0]
        self.assertIn("Connection refused", row["last_reply"])
        self.assertEqual(spare.received(rcpt), [])


class DeadLetterTest(HeraldTestCase):
    """A report that cannot be delivered (its recipient, the original
    sender, is refused too) is a dead letter: kept in the store, written to
    data_dir/deadletter/, listed, shown, resent and deleted by the CLI."""

    @classmethod
    def setUpClass(cls):
        cls.peer = Peer()
        cls.herald = Herald(config={"delivery": {"smarthost": f"[127.0.0.1]:{cls.peer.port}"}})

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()
        cls.peer.stop()

    def dead_letter(self, sender):
        """dead_letter - a message from sender refused, its report refused: the dead row."""
        rcpt = f"{unique('r')}@far.test"
        self.peer.script[rcpt] = ["550 5.1.1 <r>: no such user"]
        self.peer.script[sender] = ["550 5.1.1 <s>: no such user either"]  # the report's RCPT, once
        self.transaction(sender, rcpt, f"Subject: {unique('dl')}\r\n\r\nx\r\n".encode())
        return wait_for(lambda: [r for r in self.herald.cli_json("deadletter", "list") if r["recipient"] == sender],
                        message="a dead letter for the sender")[0]

    def files(self, queue_id):
        d = os.path.join(self.herald.data_dir, "deadletter")
        return sorted(f for f in os.listdir(d) if f.startswith(queue_id)) if os.path.isdir(d) else []

    def test_kept_shown_written_and_resent(self):
        sender = f"{unique('s')}@far.test"
        row = self.dead_letter(sender)
        self.assertEqual(row["status"], "dead")
        self.assertIn("no such user either", row["last_reply"])
        queue_id = row["queue_id"]
        # The store keeps it with its message; show gives both.
        shown = self.herald.cli_json("deadletter", "show", queue_id)
        report = email.message_from_string(shown["message"], policy=email.policy.default)
        self.assertEqual(report.get_content_type(), "multipart/report")
        self.assertEqual([r["recipient"] for r in shown["rows"]], [sender])
        # The file: the envelope above the message, which email parses.
        wait_for(lambda: self.files(queue_id), message="the dead letter's file")
        with open(os.path.join(self.herald.data_dir, "deadletter", f"{queue_id}.eml"), "rb") as f:
            kept = email.message_from_bytes(f.read(), policy=email.policy.default)
        self.assertEqual(kept["Return-Path"], "<>")
        self.assertIn(f"to=<{sender}>", kept["X-Herald-Dead-Letter"])
        self.assertEqual(kept.get_content_type(), "multipart/report")
        self.assertIn("dead_letter", [e["event"] for e in self.herald.journal("--queue-id", queue_id)])
        wait_for(lambda: re.search(rf"{queue_id}: dead letter: to=<{re.escape(sender)}>", self.herald.log()),
                 message="the dead letter's log line")
        # Resent: the peer now takes it (its script refused only once).
        self.assertEqual(self.herald.cli("deadletter", "resend", queue_id).stdout, "resent 1 dead letter\n")
        wait_for(lambda: self.peer.received(sender), message="the resent report at the peer")
        mail_from, _, data, _ = self.peer.received(sender)[0]
        self.assertEqual(mail_from, "<>")
        self.assertIn(b"multipart/report", data)
        wait_for(lambda: not [r for r in self.herald.queue() if r["queue_id"] == queue_id], message="the queue empty")
        self.assertEqual(self.herald.cli_json("deadletter", "list"), [])

    def test_deleted_with_its_file(self):
        row = self.dead_letter(f"{unique('s')}@far.test")
        queue_id = row["queue_id"]
        wait_for(lambda: self.files(queue_id), message="the dead letter's file")
        res = self.herald.cli("deadletter", "delete", check=False)
        self.assertNotEqual(res.returncode, 0, "a bulk delete needs --all")
        self.assertEqual(self.herald.cli("deadletter", "delete", queue_id).stdout, "deleted 1 dead letter\n")
        self.assertEqual(self.files(queue_id), [])
        self.assertEqual([r for r in self.herald.queue() if r["queue_id"] == queue_id], [])
        self.assertIn("no such dead letter", self.herald.cli("deadletter", "show", queue_id, check=False).stderr)

    def test_administrators_are_told_and_reports_copied(self):
        # delivery.mail_administrators hear of each dead letter (CSSMTP's
        # Report ADMIN); delivery.bounce_copy gets a copy of every
        # non-delivery report (the i5/OS NONDELIVERY mailbox).
        h = self.start_herald(config={"delivery": {"smarthost": f"[127.0.0.1]:{self.peer.port}"}})
        admin, copies = h.add_user(f"{unique('admin')}@example.test"), h.add_user(f"{unique('ndn')}@example.test")
        h.stop()
        h.extra.setdefault("delivery", {}).update({"mail_administrators": [admin], "bounce_copy": copies})
        h.write_config()
        h.start()
        rcpt, sender = f"{unique('r')}@far.test", f"{unique('s')}@far.test"
        self.peer.script[rcpt] = ["550 5.1.1 no"]
        self.peer.script[sender] = ["550 5.1.1 no either"]
        self.transaction(sender, rcpt, b"Subject: admins\r\n\r\nthe body\r\n", port=h.smtp_port)
        copy = email.message_from_bytes(h.wait_mailbox(copies, 1)[0], policy=email.policy.default)
        self.assertEqual(copy["To"].addresses[0].addr_spec, sender, "the sender's report, copied")
        self.assertEqual(copy.get_payload()[1].get_payload()[1]["Final-Recipient"], f"rfc822; {rcpt}")
        notice = email.message_from_bytes(h.wait_mailbox(admin, 1)[0], policy=email.policy.default)
        self.assertEqual(notice["To"].addresses[0].addr_spec, admin)
        status = notice.get_payload()[1].get_payload()[1]
        self.assertEqual(status["Final-Recipient"], f"rfc822; {sender}")
        self.assertIn("no either", status["Diagnostic-Code"])
        self.assertEqual(notice.get_payload()[2].get_content_type(), "text/rfc822-headers")
        self.assertNotIn(b"the body", notice.as_bytes())

    def test_dead_letter_action_delete_drops_it(self):
        h = self.start_herald(config={"delivery": {"smarthost": f"[127.0.0.1]:{self.peer.port}",
                                                   "dead_letter_action": "delete"}})
        rcpt, sender = f"{unique('r')}@far.test", f"{unique('s')}@far.test"
        self.peer.script[rcpt] = ["550 5.1.1 no"]
        self.peer.script[sender] = ["550 5.1.1 no either"]
        self.transaction(sender, rcpt, b"Subject: drop\r\n\r\nx\r\n", port=h.smtp_port)
        wait_for(lambda: [e for e in h.journal() if e.get("recipient") == sender and e["event"] == "bounced"],
                 message="the report bounced")
        self.assertEqual(h.cli_json("deadletter", "list"), [])
        self.assertFalse(os.path.exists(os.path.join(h.data_dir, "deadletter")))


class SuspensionTest(HeraldTestCase):
    """A next hop that cannot be reached is suspended as a whole: mail that
    comes for it meanwhile waits without a connection attempt, until the
    retry interval passes or the operator flushes the queue."""

    def test_a_dead_next_hop_is_suspended_until_flushed(self):
        port = refused_port()
        route = f'[[delivery.route]]\ndomain = "susp.test"\ntargets = ["[127.0.0.1]:{port}"]\n'
        h = self.start_herald(config={"delivery": {"retry_interval": "1h"}}, raw_config=route)

        def deferred(rcpt):
            rows = [r for r in h.queue() if r["recipient"] == rcpt and r["status"] == "deferred"]
            return rows[0] if rows else None
        first, second = f"{unique('a')}@susp.test", f"{unique('b')}@susp.test"
        self.transaction("a@client.test", first, b"Subject: first\r\n\r\nx\r\n", port=h.smtp_port)
        self.assertIn("Connection refused", wait_for(lambda: deferred(first), message="the first deferred")["last_reply"])
        self.transaction("a@client.test", second, b"Subject: second\r\n\r\nx\r\n", port=h.smtp_port)
        reply = wait_for(lambda: deferred(second), message="the second deferred")["last_reply"]
        self.assertTrue(reply.startswith("delivery temporarily suspended: connect to"), reply)
        # The server is back; the operator's flush ends the suspension.
        peer = Peer(port=port)
        self.addCleanup(peer.stop)
        self.assertEqual(h.cli("queue", "flush").stdout, "due now: 2 recipients\n")
        for rcpt in (first, second):
            wait_for(lambda: peer.received(rcpt), message=f"{rcpt} delivered after the flush")


class LocalExpiryTest(HeraldTestCase):
    """A local copy deferred for a full mailbox is retried, and bounced to
    its sender once past delivery.max_queue_lifetime, like remote mail."""

    def test_a_full_mailbox_past_the_lifetime_bounces(self):
        h = self.start_herald(config={"queue": {"retry_interval": "1s"}})
        alice = h.add_user(f"{unique('alice')}@example.test")
        small = h.add_user(f"{unique('small')}@example.test", quota="10k")
        team = f"{unique('team')}@example.test"
        h.cli("alias", "add", team, small)
        filler = b"Subject: filler\r\n\r\n" + (b"z" * 98 + b"\r\n") * 80  # about 8 kB
        self.transaction(alice, small, filler, port=h.smtp_port)
        h.wait_mailbox(small, 1)
        # Through the alias no quota is checked at RCPT: accepted, then
        # deferred at delivery (452 4.2.2), and tried every second.
        self.transaction(alice, team, b"Subject: too much\r\n\r\n" + filler[19:], port=h.smtp_port)
        row = wait_for(lambda: [r for r in h.queue() if r["recipient"] == small and r["status"] == "deferred"],
                       message="the copy deferred")[0]
        self.assertIn("4.2.2", row["last_reply"])
        wait_for(lambda: [r for r in h.queue() if r["recipient"] == small and r["attempts"] >= 1],
                 message="a retry")
        # Its message came long ago (the row made older, as time would).
        subprocess.run(["sqlite3", "-cmd", ".timeout 5000", os.path.join(h.data_dir, "herald.db"),
                        f"UPDATE queue SET created = created - 864000 WHERE queue_id = '{row['queue_id']}'"],
                       check=True)
        report = email.message_from_bytes(h.wait_mailbox(alice, 1)[0], policy=email.policy.default)
        self.assertEqual(report["Subject"], "Undelivered Mail Returned to Sender")
        status = report.get_payload()[1].get_payload()[1]
        self.assertEqual(status["Action"], "failed")
        self.assertEqual(status["Final-Recipient"], f"rfc822; {small}")
        self.assertIn("expired", status["Diagnostic-Code"])
        wait_for(lambda: not [r for r in h.queue() if r["recipient"] == small], message="the row gone")
        self.assertIn("expired", [e["event"] for e in h.journal() if e.get("recipient") == small])

    def test_remote_mail_past_the_lifetime_is_bounced(self):
        port = refused_port()
        route = f'[[delivery.route]]\ndomain = "gone.test"\ntargets = ["[127.0.0.1]:{port}"]\n'
        h = self.start_herald(config={"delivery": {"retry_interval": "1s"}}, raw_config=route)
        alice = h.add_user(f"{unique('alice')}@example.test")
        rcpt = f"{unique('g')}@gone.test"
        self.transaction(alice, rcpt, b"Subject: never\r\n\r\nx\r\n", port=h.smtp_port)
        row = wait_for(lambda: [r for r in h.queue() if r["recipient"] == rcpt and r["status"] == "deferred"],
                       message="deferred")[0]
        # Six days old, as time would make it (the lifetime is five).
        subprocess.run(["sqlite3", "-cmd", ".timeout 5000", os.path.join(h.data_dir, "herald.db"),
                        f"UPDATE queue SET created = created - 518400 WHERE queue_id = '{row['queue_id']}';"
                        f"UPDATE messages SET received = received - 518400 WHERE queue_id = '{row['queue_id']}'"],
                       check=True)
        report = email.message_from_bytes(h.wait_mailbox(alice, 1)[0], policy=email.policy.default)
        status = report.get_payload()[1].get_payload()[1]
        self.assertEqual((status["Action"], status["Final-Recipient"]), ("failed", f"rfc822; {rcpt}"))
        self.assertIn("expired after", status["Diagnostic-Code"])
        wait_for(lambda: re.search(rf"to=<{re.escape(rcpt)}>, relay=none, .*status=bounced \(message expired",
                                   h.log()), message="the bounced log line")
        events = h.journal("--queue-id", row["queue_id"])
        self.assertIn("expired", [e["event"] for e in events if e.get("recipient") == rcpt])
        sent = [e for e in events if e["event"] == "dsn_sent"]
        self.assertEqual([e["recipient"] for e in sent], [alice], "the report went to the sender")
        self.assertRegex(sent[0]["detail"], r"^failed notification: [0-9A-F]+$")

    def test_a_copy_delivered_on_retry_is_reported_when_asked(self):
        # NOTIFY=SUCCESS on a copy that waited for room: the sender hears of
        # it when the retry delivers it, not only at once.
        h = self.start_herald(config={"queue": {"retry_interval": "1s"}})
        alice = h.add_user(f"{unique('alice')}@example.test")
        small = h.add_user(f"{unique('small')}@example.test", quota="10k")
        team = f"{unique('team')}@example.test"
        h.cli("alias", "add", team, small)
        filler = b"Subject: filler\r\n\r\n" + (b"z" * 98 + b"\r\n") * 80
        self.transaction(alice, small, filler, port=h.smtp_port)
        h.wait_mailbox(small, 1)
        s = self.raw(h.smtp_port)
        s.ehlo()
        s.cmd(f"MAIL FROM:<{alice}>").check(250)
        s.cmd(f"RCPT TO:<{team}> NOTIFY=SUCCESS").check(250)
        s.data(b"Subject: waited\r\n\r\n" + filler[19:]).check(250)
        wait_for(lambda: [r for r in h.queue() if r["recipient"] == small and r["status"] == "deferred"],
                 message="the copy deferred")
        self.assertEqual(h.mailbox(alice), [], "not delivered yet: no report")
        p = h.pop3(small)
        p.dele(1)
        p.quit()
        report = email.message_from_bytes(h.wait_mailbox(alice, 1)[0], policy=email.policy.default)
        self.assertEqual(report["Subject"], "Successful Mail Delivery Report")
        self.assertEqual(report.get_payload()[1].get_payload()[1]["Action"], "delivered")
        self.assertIn("Subject: waited", report.get_payload()[2].get_content())


if __name__ == "__main__":
    unittest.main()
