"""test_pipelined_checks.py - recipient and sender checks leave the I/O
thread (they read the store), one pipelined group at a time: the replies
must still come in the order of the commands (RFC 2920 3.1), whatever lies
between the checks, and every AUTH attempt ending on the way is counted.
"""

import base64
import unittest

from harness import HeraldTestCase, Herald, SmtpRaw, unique, wait_for


class PipelinedChecksTest(HeraldTestCase):

    @classmethod
    def setUpClass(cls):
        cls.herald = Herald(protocols=("smtp", "submission", "pop3"))

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()

    def test_checks_between_other_commands_keep_their_order(self):
        a = self.herald.add_user(f"{unique('pc')}@example.test")
        b = self.herald.add_user(f"{unique('pc')}@example.test")
        with SmtpRaw(self.herald.smtp_port, greet=True) as s:
            s.ehlo()
            # A malformed AUTH response ends an attempt in the middle of the
            # group (AUTH needs no transaction: RSET first).
            s.send(f"MAIL FROM:<p@client.test>\r\nRCPT TO:<{a}>\r\nRCPT TO:<nobody-pc@example.test>\r\n"
                   f"RSET\r\nAUTH PLAIN !!!\r\nNOOP\r\nMAIL FROM:<p@client.test>\r\nRCPT TO:<{b}>\r\n"
                   f"VRFY {a}\r\n")
            for expected, what in (("250 2.1.0", "MAIL"), ("250 2.1.5", "RCPT a"), ("550 5.1.1", "RCPT unknown"),
                                   ("250 2.0.0", "RSET"), ("501 5.5.2", "malformed AUTH"), ("250 2.0.0", "NOOP"),
                                   ("250 2.1.0", "second MAIL"), ("250 2.1.5", "RCPT b"),
                                   ("252", "VRFY")):
                s.expect(expected, f"pipelined {what}")
        wait_for(lambda: [e for e in self.herald.journal() if e.get("event") == "login_failed"],
                 message="the malformed AUTH attempt in the journal")

    def test_submission_sender_check_in_a_group(self):
        user = self.herald.add_user(f"{unique('pc')}@example.test")
        rcpt = self.herald.add_user(f"{unique('pc')}@example.test")
        with SmtpRaw(self.herald.submission_port, greet=True) as s:
            s.ehlo()
            s.cmd("AUTH PLAIN " + base64.b64encode(f"\0{user}\0secret".encode()).decode()).check("235 2.7.0")
            s.send(f"MAIL FROM:<someone-else@example.test>\r\nRCPT TO:<{rcpt}>\r\n"
                   f"MAIL FROM:<{user}>\r\nRCPT TO:<{rcpt}>\r\nRSET\r\n")
            for expected, what in (("553 5.7.1", "forged MAIL"), ("503 5.5.1", "RCPT without MAIL"),
                                   ("250 2.1.0", "own MAIL"), ("250 2.1.5", "RCPT"), ("250 2.0.0", "RSET")):
                s.expect(expected, f"pipelined {what}")


if __name__ == "__main__":
    unittest.main()
