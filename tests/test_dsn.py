"""test_dsn.py - the DSN extension on the server side (RFC 3461), issue 12.

Clients are Python's smtplib, which sends RET, ENVID, NOTIFY and ORCPT
only to a server that offers DSN. The reports are read from the sender's
mailbox over POP3 (a local sender) or at an aiosmtpd peer (a remote one),
and parsed with Python's email package as multipart/report.
"""

import email
import email.policy
import smtplib
import unittest

from harness import HOST, Herald, HeraldTestCase, Peer, unique, wait_for


def delivery_status(report):
    """delivery_status - (the per-message fields, [each recipient's fields]) of a report."""
    parts = report.get_payload()
    status = parts[1].get_payload()  # message/delivery-status: a list of header blocks
    return status[0], status[1:]


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


class DsnTest(HeraldTestCase):
    @classmethod
    def setUpClass(cls):
        cls.peer = Peer()  # aiosmtpd: no DSN offered
        cls.herald = Herald(config={"delivery": {"smarthost": f"[127.0.0.1]:{cls.peer.port}"}})

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()
        cls.peer.stop()

    def send(self, sender, rcpt, subject, mail_options=(), rcpt_options=(), port=None):
        with smtplib.SMTP(HOST, port or self.herald.smtp_port, timeout=10) as s:
            s.ehlo()
            self.assertTrue(s.has_extn("dsn"), "DSN offered in EHLO")
            s.sendmail(sender, [rcpt], f"From: {sender}\r\nSubject: {subject}\r\n\r\nthe body text\r\n",
                       mail_options=list(mail_options), rcpt_options=list(rcpt_options))

    def test_relayed_when_the_next_server_does_not_speak_dsn(self):
        alice = self.new_user("alice")
        rcpt = f"{unique('far')}@far.test"
        self.send(alice, rcpt, "relay me", ["ENVID=job+2B42"], ["NOTIFY=SUCCESS,FAILURE", f"ORCPT=rfc822;Orig+2B{rcpt}"])
        wait_for(lambda: self.peer.received(rcpt), message="the message at the peer")
        self.assertEqual([o for o in self.peer.received(rcpt)[0][3] if o.split("=")[0] in ("RET", "ENVID")], [],
                         "no DSN parameters to a server without DSN")
        report = parse(self.herald.wait_mailbox(alice, 1)[0])
        self.assertEqual(report["Subject"], "Successful Mail Relay Report")
        self.assertEqual(report.get_content_type(), "multipart/report")
        message, recipients = delivery_status(report)
        self.assertEqual(message["Original-Envelope-Id"], "job+42")
        self.assertEqual(recipients[0]["Action"], "relayed")
        self.assertEqual(recipients[0]["Final-Recipient"], f"rfc822; {rcpt}")
        self.assertEqual(recipients[0]["Original-Recipient"], f"rfc822; Orig+{rcpt}")

    def test_never_sends_no_report_and_hdrs_returns_the_header_only(self):
        alice = self.new_user("alice")
        quiet, hdrs = f"{unique('q')}@far.test", f"{unique('h')}@far.test"
        self.peer.script[quiet] = ["550 5.1.1 no such user"]
        self.peer.script[hdrs] = ["550 5.1.1 no such user"]
        self.send(alice, quiet, "never", rcpt_options=["NOTIFY=NEVER"])

        def bounced(rcpt):
            return [e for e in self.herald.journal() if e.get("recipient") == rcpt and e["event"] == "bounced"]
        wait_for(lambda: bounced(quiet), message="the NOTIFY=NEVER recipient bounced")
        # A report is queued before the bounce is recorded: none came.
        self.assertEqual(self.herald.mailbox(alice), [])
        self.send(alice, hdrs, "headers only", ["RET=HDRS"])
        report = parse(self.herald.wait_mailbox(alice, 1)[0])
        self.assertEqual(report["Subject"], "Undelivered Mail Returned to Sender")
        returned = report.get_payload()[2]
        self.assertEqual(returned.get_content_type(), "text/rfc822-headers")
        self.assertIn("Subject: headers only", returned.get_content())
        self.assertNotIn(b"the body text", report.as_bytes())

    def test_delivered_to_a_local_mailbox(self):
        alice, bob = self.new_user("alice"), self.new_user("bob")
        self.send(alice, bob, "confirm", ["ENVID=local1"], ["NOTIFY=SUCCESS"])
        self.assertEqual(len(self.herald.wait_mailbox(bob, 1)), 1)
        report = parse(self.herald.wait_mailbox(alice, 1)[0])
        self.assertEqual(report["Subject"], "Successful Mail Delivery Report")
        message, recipients = delivery_status(report)
        self.assertEqual(message["Original-Envelope-Id"], "local1")
        self.assertEqual(recipients[0]["Action"], "delivered")
        self.assertEqual(recipients[0]["Status"], "2.0.0")
        self.assertIn("Subject: confirm", report.get_payload()[2].get_content())
        # Without NOTIFY=SUCCESS, a delivery is not reported: the reports
        # that come are those of the first message and of a marker sent
        # after the quiet one.
        self.send(alice, bob, "quiet")
        self.send(alice, bob, "marker", rcpt_options=["NOTIFY=SUCCESS"])
        reports = [parse(r) for r in self.herald.wait_mailbox(alice, 2)]
        self.herald.wait_mailbox(bob, 3)
        returned = [r.get_payload()[2].get_content() for r in reports]
        self.assertEqual(len(reports), 2, returned)
        self.assertTrue(any("Subject: marker" in t for t in returned), returned)
        self.assertFalse(any("Subject: quiet" in t for t in returned), returned)

    def test_passed_on_to_a_server_that_speaks_dsn(self):
        # A second Herald serves peer.test and offers DSN: the NOTIFY goes on
        # with the message, so it, not this one, reports the delivery (to
        # the remote sender, through its smarthost: the aiosmtpd peer).
        other = self.start_herald(config={"domains": {"local": ["peer.test"]},
                                          "delivery": {"smarthost": f"[127.0.0.1]:{self.peer.port}"}})
        carol = other.add_user(f"{unique('carol')}@peer.test")
        h = self.start_herald(raw_config=(f'[[delivery.route]]\ndomain = "peer.test"\n'
                                          f'targets = ["[127.0.0.1]:{other.smtp_port}"]\n'))
        sender = f"{unique('s')}@far.test"
        self.send(sender, carol, "end to end", ["ENVID=e2e"], ["NOTIFY=SUCCESS"], port=h.smtp_port)
        self.assertEqual(len(other.wait_mailbox(carol, 1)), 1)
        wait_for(lambda: self.peer.received(sender), message="the delivery report at the sender's server")
        mail_from, _, data, _ = self.peer.received(sender)[0]
        self.assertEqual(mail_from, "<>")
        message, recipients = delivery_status(parse(data))
        self.assertEqual(message["Original-Envelope-Id"], "e2e")
        self.assertEqual(recipients[0]["Action"], "delivered")
        # The first server sent no "relayed" report of its own: it committed
        # none (a report is committed before the delivery is recorded).
        wait_for(lambda: [e for e in h.journal() if e.get("recipient") == carol and e["event"] == "delivered"],
                 message="the relay's delivered row")
        self.assertEqual([e for e in h.journal() if e["event"] == "received" and e.get("sender") == ""], [])


if __name__ == "__main__":
    unittest.main()
