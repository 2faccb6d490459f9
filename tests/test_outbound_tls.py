"""test_outbound_tls.py - how outbound connections present themselves (issue 12).

A peer that requires STARTTLS and a client certificate (aiosmtpd with an
ssl context of Python's ssl module, CERT_REQUIRED), certificates made by
the openssl command: Herald verifies the peer against delivery.tls_ca_file
and shows delivery.tls_cert; and delivery.source_address / a route's
source_address choose the local address connections come from.
"""

import os
import shutil
import ssl
import subprocess
import tempfile
import unittest

from harness import HeraldTestCase, Peer, unique, wait_for


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d):
    """make_pki - a CA, a server certificate for 127.0.0.1 and a client certificate, in d."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Test CA",
            "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN=herald-{name}", "-keyout", f"{name}.key",
                "-out", f"{name}.csr", cwd=d)
        with open(os.path.join(d, f"{name}.ext"), "w") as f:
            f.write(ext + "\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=d)


class RecordingPeer(Peer):
    """RecordingPeer - a Peer that also notes, per message, where the
    connection came from and the CN of the client certificate it showed."""

    def __init__(self, **kw):
        self.sessions = []  # (peer address, client certificate CN or None), one per message
        super().__init__(**kw)

    async def handle_DATA(self, server, session, envelope):
        tls = server.transport.get_extra_info("ssl_object") if server.transport else None
        cert = tls.getpeercert() if tls else None
        cn = dict(x[0] for x in cert["subject"]).get("commonName") if cert else None
        with self.lock:
            self.sessions.append((session.peer[0], cn))
        return await super().handle_DATA(server, session, envelope)


class OutboundTlsTest(HeraldTestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = tempfile.mkdtemp(prefix="herald-pki-")
        make_pki(cls.pki)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=os.path.join(cls.pki, "ca.pem"))
        ctx.load_cert_chain(os.path.join(cls.pki, "server.pem"), os.path.join(cls.pki, "server.key"))
        ctx.verify_mode = ssl.CERT_REQUIRED
        cls.peer = RecordingPeer(tls_context=ctx, require_starttls=True)

    @classmethod
    def tearDownClass(cls):
        cls.peer.stop()
        shutil.rmtree(cls.pki, ignore_errors=True)

    def pki_path(self, name):
        return os.path.join(self.pki, name)

    def route(self, **extra):
        lines = [f'[[delivery.route]]\ndomain = "tls.test"\ntargets = ["[127.0.0.1]:{self.peer.port}"]\ntls = "verify"']
        lines += [f'{k} = "{v}"' for k, v in extra.items()]
        return "\n".join(lines) + "\n"

    def test_verified_with_the_ca_file_and_the_client_certificate_shown(self):
        h = self.start_herald(config={"delivery": {"tls_ca_file": self.pki_path("ca.pem"),
                                                   "tls_cert": self.pki_path("client.pem"),
                                                   "tls_key": self.pki_path("client.key")}},
                              raw_config=self.route())
        rcpt = f"{unique('v')}@tls.test"
        self.transaction("a@client.test", rcpt, b"Subject: verified\r\n\r\nx\r\n", port=h.smtp_port)
        wait_for(lambda: self.peer.received(rcpt), message="the message over verified TLS")
        self.assertIn(("127.0.0.1", "herald-client"), self.peer.sessions)

    def test_without_the_ca_the_peer_is_not_trusted(self):
        # The system store does not know the test CA: verify fails, the mail waits.
        h = self.start_herald(config={"delivery": {"tls_cert": self.pki_path("client.pem"),
                                                   "tls_key": self.pki_path("client.key")}},
                              raw_config=self.route())
        rcpt = f"{unique('u')}@tls.test"
        self.transaction("a@client.test", rcpt, b"Subject: untrusted\r\n\r\nx\r\n", port=h.smtp_port)
        row = wait_for(lambda: [r for r in h.queue() if r["recipient"] == rcpt and r["status"] == "deferred"],
                       message="the untrusted peer deferred")[0]
        self.assertIn("TLS", row["last_reply"])
        self.assertEqual(self.peer.received(rcpt), [])

    def test_config_check_refuses_half_a_client_certificate_and_a_bad_source(self):
        h = self.start_herald(start=False, config={"delivery": {"tls_cert": self.pki_path("client.pem")}})
        res = h.cli("config", "check", check=False)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("delivery.tls_cert and delivery.tls_key go together", res.stderr)
        h = self.start_herald(start=False, config={"delivery": {"source_address": "not-an-ip"}})
        res = h.cli("config", "check", check=False)
        self.assertIn("delivery.source_address", res.stderr)


class SourceAddressTest(HeraldTestCase):
    def test_connections_come_from_the_configured_address(self):
        peer = RecordingPeer()
        self.addCleanup(peer.stop)
        route = (f'[[delivery.route]]\ndomain = "src.test"\ntargets = ["[127.0.0.1]:{peer.port}"]\n'
                 f'source_address = "127.0.0.3"\n')
        h = self.start_herald(config={"delivery": {"source_address": "127.0.0.2",
                                                   "smarthost": f"[127.0.0.1]:{peer.port}"}},
                              raw_config=route)
        routed, other = f"{unique('r')}@src.test", f"{unique('o')}@far.test"
        self.transaction("a@client.test", [routed, other], b"Subject: from\r\n\r\nx\r\n", port=h.smtp_port)
        wait_for(lambda: peer.received(routed) and peer.received(other), message="both messages at the peer")
        sources = {tuple(m[1]): s for m, s in zip(peer.messages, peer.sessions)}
        self.assertEqual(sources[(routed,)][0], "127.0.0.3", "the route's own source address")
        self.assertEqual(sources[(other,)][0], "127.0.0.2", "delivery.source_address")


if __name__ == "__main__":
    unittest.main()
