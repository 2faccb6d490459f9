"""test_mx.py - delivery by MX records served by a real DNS server (issue 12).

dnsmasq (Debian's dnsmasq-base) answers on a loopback port for *.test only
(every other name is NXDOMAIN, and nothing is asked of the world): MX
records with preferences pointing at 127.0.0.x, a domain with an address
and no MX (implicit MX, RFC 5321 5.1), a null MX (RFC 7505) and a name that
does not exist. The receiving peers are aiosmtpd servers on 127.0.0.x at
the port delivery.mx_port names.
"""

import email
import email.policy
import socket
import struct
import subprocess
import unittest

from harness import HOST, HeraldTestCase, Herald, Peer, free_ports, unique, wait_for


def dns_answers(port, name, qtype=15):
    """dns_answers - (rcode, answer count) of one UDP query to 127.0.0.1:port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    try:
        header = struct.pack(">HHHHHH", 0x4852, 0x0100, 1, 0, 0, 0)
        qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
        s.sendto(header + qname + struct.pack(">HH", qtype, 1), (HOST, port))
        data = s.recv(512)
        return struct.unpack(">H", data[2:4])[0] & 0xF, struct.unpack(">H", data[6:8])[0]
    finally:
        s.close()


class Dnsmasq:
    """Dnsmasq - a DNS server for *.test on a loopback port, from records
    given as dnsmasq options."""

    def __init__(self, options):
        # A port free a moment ago may be taken before dnsmasq binds it (by
        # a suite running beside this one): then it exits, and another port
        # is tried.
        for _ in range(5):
            self.port = free_ports(1)[0]
            self.proc = subprocess.Popen(
                ["/usr/sbin/dnsmasq", "--keep-in-foreground", f"--port={self.port}", f"--listen-address={HOST}",
                 "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=", "--pid-file=", "--user=root",
                 "--local=/test/", *options],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

            def answering():
                if self.proc.poll() is not None:
                    return "exited"
                try:
                    return dns_answers(self.port, "ready.test")[0] == 3  # NXDOMAIN: it answers
                except OSError:
                    return False
            if wait_for(answering, message="dnsmasq answering") is True:
                return
        raise AssertionError("dnsmasq did not start on a free port")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class MxTest(HeraldTestCase):
    @classmethod
    def setUpClass(cls):
        port = free_ports(1)[0]
        # mx1 (preference 10) refuses connections: nothing listens on
        # 127.0.0.2; mx2 (20) takes the mail.
        cls.mx2 = Peer(host="127.0.0.3", port=port)
        cls.implicit = Peer(host="127.0.0.4", port=port)
        cls.v6 = Peer(host="::1", port=port)  # reached by an AAAA record only
        cls.dns = Dnsmasq([
            "--mx-host=far.test,mx1.far.test,10", "--mx-host=far.test,mx2.far.test,20",
            "--host-record=mx1.far.test,127.0.0.2", "--host-record=mx2.far.test,127.0.0.3",
            "--host-record=implicit.test,127.0.0.4",
            "--mx-host=six.test,mx.six.test,10", "--host-record=mx.six.test,::1",
            "--mx-host=ghost.test,nohost.ghost.test,10",
            # RFC 7505: one MX, preference 0, exchange "." (rdata 0000 00).
            "--dns-rr=nullmx.test,15,000000",
        ])
        cls.port = port
        cls.herald = Herald(config={
            "dns": {"servers": [f"{HOST}:{cls.dns.port}"]},
            "delivery": {"mx_port": port, "retry_interval": "1s"},
        }, raw_config=(f'[[delivery.route]]\ndomain = "named.test"\ntargets = ["[mx2.far.test]:{port}"]\n'
                       f'[[delivery.route]]\ndomain = "viamx.test"\ntargets = ["far.test:{port}"]\n'))

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()
        cls.dns.stop()
        cls.mx2.stop()
        cls.implicit.stop()
        cls.v6.stop()

    def send(self, sender, rcpt):
        self.transaction(sender, rcpt, f"Subject: {unique('mx')}\r\n\r\nHello.\r\n".encode())

    def journal_row(self, rcpt, event):
        rows = [e for e in self.herald.journal() if e.get("recipient") == rcpt and e["event"] == event]
        return rows[0] if rows else None

    def test_mx_by_preference_falls_back_when_the_best_refuses(self):
        rcpt = f"{unique('m')}@far.test"
        self.send("a@client.test", rcpt)
        wait_for(lambda: self.mx2.received(rcpt), message="the message at mx2 (preference 20)")
        row = wait_for(lambda: self.journal_row(rcpt, "delivered"), message="the delivered row")
        self.assertIn("relay=mx2.far.test[127.0.0.3]", row["detail"])

    def test_a_domain_without_mx_gets_mail_at_its_address(self):
        rcpt = f"{unique('i')}@implicit.test"
        self.send("a@client.test", rcpt)
        wait_for(lambda: self.implicit.received(rcpt), message="the message at implicit.test's address")

    def test_targets_by_host_name(self):
        # A route's "[host]:port" goes to the host's address, no MX asked.
        rcpt = f"{unique('n')}@named.test"
        self.send("a@client.test", rcpt)
        wait_for(lambda: self.mx2.received(rcpt), message="the routed message at mx2.far.test's address")
        # A bare smarthost "domain:port" goes to that domain's MX hosts
        # (Postfix's relayhost without brackets).
        h = self.start_herald(config={"dns": {"servers": [f"{HOST}:{self.dns.port}"]},
                                      "delivery": {"smarthost": f"far.test:{self.port}"}})
        rcpt = f"{unique('s')}@anywhere.example"
        self.transaction("a@client.test", rcpt, b"Subject: via MX\r\n\r\nx\r\n", port=h.smtp_port)
        wait_for(lambda: self.mx2.received(rcpt), message="the relayed message at far.test's MX")

    def test_an_mx_host_with_only_an_ipv6_address(self):
        rcpt = f"{unique('six')}@six.test"
        self.send("a@client.test", rcpt)
        wait_for(lambda: self.v6.received(rcpt), message="the message at [::1]")
        row = wait_for(lambda: self.journal_row(rcpt, "delivered"), message="the delivered row")
        self.assertIn("relay=mx.six.test[::1]", row["detail"])

    def test_a_route_to_the_mx_hosts_of_a_name(self):
        # CSSMTP's TargetMx: a route target without brackets is the MX hosts
        # of that name (far.test's: mx1 refuses, mx2 takes it).
        rcpt = f"{unique('r')}@viamx.test"
        self.send("a@client.test", rcpt)
        wait_for(lambda: self.mx2.received(rcpt), message="the routed message at far.test's MX")

    def test_null_mx_and_missing_domains_bounce_at_once(self):
        user = self.new_user("mxs")
        for rcpt, status in ((f"{unique('n')}@nullmx.test", "5.1.10"),
                             (f"{unique('x')}@nx.test", "5.1.2"),
                             (f"{unique('g')}@ghost.test", "5.4.4")):
            with self.subTest(rcpt=rcpt):
                self.send(user, rcpt)
                row = wait_for(lambda: self.journal_row(rcpt, "bounced"), message=f"{rcpt} bounced")
                self.assertEqual(row["detail"], "relay=none", "no server was reached")
                self.assertNotIn("deferred", [e["event"] for e in self.herald.journal()
                                              if e.get("recipient") == rcpt], "never deferred first")
        reports = self.herald.wait_mailbox(user, 3, timeout=60)
        statuses = set()
        for raw in reports:
            report = email.message_from_bytes(raw, policy=email.policy.default)
            statuses.add(report.get_payload()[1].get_payload()[1]["Status"])
        self.assertEqual(statuses, {"5.1.10", "5.1.2", "5.4.4"})

    def test_a_domain_not_found_goes_to_the_fallback_relay(self):
        # NXDOMAIN bounces (above) unless a fallback relay may know the name;
        # a null MX is the domain's own refusal and bounces still.
        h = self.start_herald(config={"dns": {"servers": [f"{HOST}:{self.dns.port}"]},
                                      "delivery": {"fallback_relay": f"[127.0.0.3]:{self.port}"}})
        internal, refused = f"{unique('x')}@nx.test", f"{unique('n')}@nullmx.test"
        self.transaction("a@client.test", [internal, refused], b"Subject: fb\r\n\r\nx\r\n", port=h.smtp_port)
        wait_for(lambda: self.mx2.received(internal), message="the message for nx.test at the fallback relay")
        wait_for(lambda: [e for e in h.journal() if e.get("recipient") == refused and e["event"] == "bounced"],
                 message="the null MX recipient bounced")
        self.assertEqual(self.mx2.received(refused), [])


class DnsCacheTest(HeraldTestCase):
    """Answers are kept for their TTL: with the DNS server gone, mail to a
    domain asked about a moment ago still goes, where a server keeping
    nothing (dns.cache_entries = 0) has to wait."""

    def test_answers_are_kept_for_their_ttl(self):
        port = free_ports(1)[0]
        peer = Peer(host="127.0.0.5", port=port)
        self.addCleanup(peer.stop)
        # dnsmasq gives its own records this TTL (--local-ttl; 0 by default).
        dns = Dnsmasq(["--local-ttl=300", "--mx-host=kept.test,mx.kept.test,10",
                       "--host-record=mx.kept.test,127.0.0.5"])
        stopped = False
        try:
            # No connection kept for reuse: every message asks the DNS (or the cache).
            config = {"dns": {"servers": [f"{HOST}:{dns.port}"]},
                      "delivery": {"mx_port": port, "retry_interval": "1s", "connection_cache_time": "0s"}}
            keeping = self.start_herald(config=config)
            config_off = {**config, "dns": {**config["dns"], "cache_entries": 0}}
            forgetting = self.start_herald(config=config_off)
            for h in (keeping, forgetting):
                rcpt = f"{unique('first')}@kept.test"
                self.transaction("a@client.test", rcpt, b"Subject: first\r\n\r\nx\r\n", port=h.smtp_port)
                wait_for(lambda: peer.received(rcpt), message="the first message, DNS up")
            dns.stop()
            stopped = True
            kept = f"{unique('kept')}@kept.test"
            self.transaction("a@client.test", kept, b"Subject: kept\r\n\r\nx\r\n", port=keeping.smtp_port)
            wait_for(lambda: peer.received(kept), message="the second message, from the kept answer")
            lost = f"{unique('lost')}@kept.test"
            self.transaction("a@client.test", lost, b"Subject: lost\r\n\r\nx\r\n", port=forgetting.smtp_port)
            row = wait_for(lambda: [r for r in forgetting.queue()
                                    if r.get("recipient") == lost and r.get("status") == "deferred"],
                           message="the server keeping nothing defers")[0]
            self.assertIn("Name service error", row["last_reply"])
            self.assertFalse(peer.received(lost))
        finally:
            if not stopped:
                dns.stop()


if __name__ == "__main__":
    unittest.main()
