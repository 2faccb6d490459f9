"""test_tls.py - Herald's TLS as mail clients and administrators meet it.

Covers STARTTLS on SMTP (RFC 3207) and STLS on POP3 (RFC 2595): what is
offered before and after, the commands pipelined behind STARTTLS/STLS that
must be thrown away (CVE-2011-0411, "STARTTLS command injection"), the
EHLO that must follow; implicit TLS on smtps and pop3s (RFC 8314); the
self-signed pair made at first start; certificate choice by SNI; the
oldest TLS version accepted; and certificates replaced under a running
server (file replacement and SIGHUP) without dropping connections.

Clients: Python's ssl/smtplib/poplib, raw sockets for what they cannot
produce, and `openssl s_client -starttls`.
"""

import base64
import os
import poplib
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import unittest
import warnings

from harness import (HOST, HOSTNAME, STRICT, Herald, HeraldTestCase, OpensslClient, Pop3Raw,
                     SharedServerCase, SmtpRaw, make_message, split_trace, tls_client_context, unique, wait_for)

MECHANISMS = "SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN LOGIN"
POP3_PLAINTEXT_REFUSED = "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections."


def plain(user, password):
    """plain - a SASL PLAIN initial response (RFC 4616), base64."""
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def make_cert(directory, name, extra_names=()):
    """make_cert - a self-signed P-256 certificate for name (and extra SANs); returns (cert, key) paths."""
    base = os.path.join(directory, f"{name}-{unique('c')}")
    cert, key = base + ".crt", base + ".key"
    san = ",".join(f"DNS:{n}" for n in (name, *extra_names))
    res = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                          "-nodes", "-days", "30", "-subj", f"/CN={name}", "-addext", f"subjectAltName={san}",
                          "-keyout", key, "-out", cert], capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        raise AssertionError(f"openssl req failed: {res.stderr}")
    return cert, key


def der_of(pem_path):
    """der_of - the first certificate of a PEM file, as DER bytes."""
    with open(pem_path, encoding="ascii") as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def implicit_tls_cert(port, server_hostname=None, context=None):
    """implicit_tls_cert - DER of the certificate a new handshake on port (smtps/pop3s) presents."""
    ctx = context or tls_client_context()
    with socket.create_connection((HOST, port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_hostname) as s:
            return s.getpeercert(binary_form=True)


def starttls_cert(port, server_hostname=None, context=None):
    """starttls_cert - DER of the certificate presented after EHLO/STARTTLS on an SMTP port."""
    with SmtpRaw(port, greet=True) as s:
        s.ehlo()
        s.cmd("STARTTLS").check("220 2.0.0")
        tls = s.wrap_tls(context or tls_client_context(), server_hostname=server_hostname)
        return tls.getpeercert(binary_form=True)


def ehlo_keywords(reply):
    """ehlo_keywords - {KEYWORD: params} of an EHLO reply (lines after the first)."""
    out = {}
    for line in reply.lines[1:]:
        word, _, params = line.partition(" ")
        out[word.upper()] = params
    return out


def old_tls_context(maximum):
    """old_tls_context - a client that offers only TLS versions up to maximum (deprecated ones included)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = tls_client_context(minimum=ssl.TLSVersion.TLSv1, maximum=maximum)
    # OpenSSL 3 refuses TLS < 1.2 at security level 1 and above on the
    # client side too; level 0 lets this client put the old hello on the wire.
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


class TlsCase(SharedServerCase):
    """A shared server with every listener, the default self-signed pair and allow_plaintext = false."""

    def pop_raw(self, port):
        p = Pop3Raw(port)
        self.addCleanup(p.close)
        self.assertTrue(p.status().startswith("+OK"), "POP3 greeting")
        return p


class SelfSignedTest(TlsCase):

    def test_pair_is_generated_and_served_on_every_listener(self):
        h = self.herald
        key = os.path.join(h.data_dir, "tls", "self-signed.key")
        self.assertTrue(os.path.isfile(h.self_signed_cert), "data_dir/tls/self-signed.crt must be made at first start")
        self.assertTrue(os.path.isfile(key), "data_dir/tls/self-signed.key must be made at first start")
        self.assertEqual(os.stat(key).st_mode & 0o077, 0, "the private key must not be readable by group or others")
        expected = der_of(h.self_signed_cert)
        ctx = self.verified()
        self.assertEqual(implicit_tls_cert(h.smtps_port, context=ctx), expected, "smtps")
        self.assertEqual(implicit_tls_cert(h.pop3s_port, context=ctx), expected, "pop3s")
        self.assertEqual(starttls_cert(h.smtp_port, context=ctx), expected, "smtp STARTTLS")
        self.assertEqual(starttls_cert(h.submission_port, context=ctx), expected, "submission STARTTLS")
        p = self.pop_raw(h.pop3_port)
        self.assertEqual(p.cmd("STLS"), "+OK Begin TLS negotiation")
        self.assertEqual(p.wrap_tls(ctx).getpeercert(binary_form=True), expected, "pop3 STLS")

    def test_certificate_names_the_server(self):
        # A client that checks host names accepts it for server.hostname.
        ctx = self.verified()
        ctx.check_hostname = True
        with socket.create_connection((HOST, self.herald.smtps_port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=HOSTNAME) as s:
                self.assertEqual(s.recv(4096)[:4], b"220 ")

    def test_pair_is_kept_across_restarts(self):
        h = self.start_herald(config=STRICT, protocols=("smtp", "smtps"))
        before = der_of(h.self_signed_cert)
        self.assertEqual(implicit_tls_cert(h.smtps_port), before)
        h.restart()
        self.assertEqual(der_of(h.self_signed_cert), before, "a restart must not make a new self-signed pair")
        self.assertEqual(implicit_tls_cert(h.smtps_port), before, "the same certificate is served after a restart")


class SmtpStarttlsTest(TlsCase):

    def test_ehlo_offers_starttls_and_no_auth_in_clear(self):
        for name, port in (("smtp", self.herald.smtp_port), ("submission", self.herald.submission_port)):
            with self.subTest(listener=name):
                kw = ehlo_keywords(self.raw(port).ehlo())
                self.assertIn("STARTTLS", kw, f"{name}: EHLO must offer STARTTLS before TLS")
                self.assertNotIn("AUTH", kw, f"{name}: no AUTH in clear when allow_plaintext is false")

    def test_after_starttls_auth_is_offered_and_starttls_is_not(self):
        for name, port in (("smtp", self.herald.smtp_port), ("submission", self.herald.submission_port)):
            with self.subTest(listener=name):
                s = self.raw(port)
                s.ehlo()
                self.assertEqual(s.cmd("STARTTLS").first, "220 2.0.0 Ready to start TLS")
                s.wrap_tls(self.verified())
                kw = ehlo_keywords(s.ehlo())
                self.assertNotIn("STARTTLS", kw, f"{name}: STARTTLS must not be offered inside TLS")
                self.assertEqual(kw.get("AUTH"), MECHANISMS, f"{name}: AUTH mechanisms inside TLS")

    def test_commands_pipelined_behind_starttls_are_refused(self):
        # CVE-2011-0411: what the client sent in clear behind STARTTLS must
        # never run, in clear or inside TLS. RFC 2920 3.1: STARTTLS ends a
        # group, so such a client is refused and dropped (as Postfix's
        # smtpd_forbid_unauth_pipelining); what arrives after the 220 but
        # before the handshake is discarded (the session's unit tests).
        for name, port, injected in (
                ("smtp", self.herald.smtp_port,
                 b"NOOP\r\nMAIL FROM:<injected@client.test>\r\nRCPT TO:<postmaster>\r\n"),
                ("submission", self.herald.submission_port, b"AUTH PLAIN AGFAYgBj\r\n")):
            with self.subTest(listener=name):
                s = self.raw(port)
                s.ehlo()
                s.send(b"STARTTLS\r\n" + injected)
                replies = s.read_all_replies(timeout=10)
                self.assertEqual([r.first for r in replies],
                                 [f"554 5.5.0 {HOSTNAME} Error: SMTP protocol synchronization"])
                self.assertTrue(s.peer_closed, "the pipelining client must be disconnected")

    def test_mail_after_starttls_needs_a_new_ehlo(self):
        s = self.raw(self.herald.smtp_port)
        s.ehlo()
        s.cmd("STARTTLS").check(220)
        s.wrap_tls(self.verified())
        s.cmd("MAIL FROM:<sender@client.test>").check("503 5.5.1", "MAIL before the EHLO that must follow STARTTLS")
        s.ehlo()
        s.cmd("MAIL FROM:<sender@client.test>").check("250 2.1.0")

    def test_second_starttls_is_refused(self):
        s = self.raw(self.herald.smtp_port)
        s.ehlo()
        s.cmd("STARTTLS").check(220)
        s.wrap_tls(self.verified())
        s.ehlo()
        s.cmd("STARTTLS").check("503 5.5.1", "STARTTLS inside TLS")
        s.cmd("NOOP").check("250 2.0.0", "the session goes on after the refused STARTTLS")

    def test_failed_handshake_closes_the_connection(self):
        s = self.raw(self.herald.smtp_port)
        s.ehlo()
        s.cmd("STARTTLS").check(220)
        s.send(b"EHLO this is not a TLS ClientHello\r\n")
        self.assertTrue(s.closed(timeout=15), "the server must close a connection whose handshake failed")
        self.assertNotRegex(s.buf, rb"^\d{3}[ -]", f"no SMTP reply in clear after the 220: {s.buf!r}")
        with SmtpRaw(self.herald.smtp_port, greet=True) as again:
            again.cmd("NOOP").check(250, "a new connection after the failed handshake")

    def test_received_says_esmtps_with_the_cipher(self):
        rcpt = self.new_user()
        sent = make_message("over starttls", to=rcpt)
        with smtplib.SMTP(HOST, self.herald.smtp_port, local_hostname="client.test", timeout=15) as s:
            s.starttls(context=self.verified())
            s.ehlo()
            self.assertFalse(s.has_extn("starttls"))
            s.sendmail("sender@client.test", [rcpt], sent)
        [msg] = self.herald.wait_mailbox(rcpt, 1, tls=True)
        headers, rest = split_trace(msg)
        received = headers[2][1].decode()
        self.assertRegex(received, r"\bwith ESMTPS\b", "mail received over STARTTLS without AUTH")
        self.assertNotRegex(received, r"\bESMTPSA\b", "no AUTH happened")
        self.assertRegex(received, r"\(using TLSv1\.3 with cipher [A-Z0-9_-]+ \((\d+)/\1 bits\)\)",
                         "Received must name the TLS version and cipher (Postfix's wording)")
        self.assertEqual(rest, sent)

    def test_received_without_tls_says_esmtp(self):
        rcpt = self.new_user()
        with smtplib.SMTP(HOST, self.herald.smtp_port, local_hostname="client.test", timeout=15) as s:
            s.sendmail("sender@client.test", [rcpt], make_message("in clear", to=rcpt))
        [msg] = self.herald.wait_mailbox(rcpt, 1, tls=True)
        received = split_trace(msg)[0][2][1].decode()
        self.assertRegex(received, r"\bwith ESMTP\b")
        self.assertNotIn("using TLS", received)

    def test_require_tls_on_port_25(self):
        h = self.start_herald(config={**STRICT, "smtp": {"require_tls": True}}, protocols=("smtp",))
        rcpt = h.add_user(f"{unique('reqtls')}@example.test")
        with SmtpRaw(h.smtp_port, greet=True) as s:
            s.ehlo()
            s.cmd("MAIL FROM:<sender@client.test>").check("530 5.7.0", "MAIL in clear when require_tls is set")
            s.cmd("STARTTLS").check(220)
            s.wrap_tls(tls_client_context(cafile=h.self_signed_cert))
            s.ehlo()
            s.cmd("MAIL FROM:<sender@client.test>").check("250 2.1.0", "MAIL inside TLS")
            s.cmd(f"RCPT TO:<{rcpt}>").check(250)
            s.data(make_message("require_tls", to=rcpt)).check("250 2.0.0")


class ImplicitTlsTest(TlsCase):

    def test_smtps_speaks_smtp_inside_tls(self):
        with smtplib.SMTP_SSL(HOST, self.herald.smtps_port, local_hostname="client.test", timeout=15,
                              context=self.verified()) as s:
            code, msg = s.ehlo()
            self.assertEqual(code, 250)
            self.assertFalse(s.has_extn("starttls"), "no STARTTLS inside implicit TLS")
            self.assertEqual(s.esmtp_features.get("auth", "").strip(), MECHANISMS)
            self.assertEqual(s.sock.version(), "TLSv1.3")

    def test_starttls_inside_smtps_is_refused_as_tls_already_active(self):
        s = SmtpRaw(self.herald.smtps_port)
        self.addCleanup(s.close)
        s.wrap_tls(self.verified())
        s.expect(220)
        s.ehlo()
        s.cmd("STARTTLS").check("503 5.5.1", "STARTTLS inside implicit TLS is a second STARTTLS")

    def test_pop3s_speaks_pop3_inside_tls(self):
        p = poplib.POP3_SSL(HOST, self.herald.pop3s_port, timeout=15, context=self.verified())
        self.addCleanup(p.close)
        self.assertTrue(p.getwelcome().startswith(b"+OK"), p.getwelcome())
        capa = p.capa()
        self.assertIn("USER", capa)
        self.assertNotIn("STLS", capa, "no STLS inside implicit TLS")
        self.assertEqual(capa.get("SASL"), MECHANISMS.split())
        p.quit()

    def test_clear_text_client_on_tls_ports_gets_no_answer(self):
        for name, port, line in (("smtps", self.herald.smtps_port, b"EHLO client.test\r\n"),
                                 ("pop3s", self.herald.pop3s_port, b"CAPA\r\n")):
            with self.subTest(listener=name):
                s = SmtpRaw(port)
                self.addCleanup(s.close)
                s.send(line)
                self.assertTrue(s.closed(timeout=15), f"{name}: a client that does not start TLS is disconnected")
                self.assertNotIn(b"220 ", s.buf, f"{name}: nothing in clear")
                self.assertNotIn(b"+OK", s.buf, f"{name}: nothing in clear")


class Pop3StlsTest(TlsCase):

    def test_capa_before_and_after_stls(self):
        p = self.pop_raw(self.herald.pop3_port)
        self.assertTrue(p.cmd("CAPA").startswith("+OK"))
        before = p.multi()
        self.assertIn("STLS", before)
        self.assertNotIn("USER", before, "USER must not be offered in clear when allow_plaintext is false")
        self.assertFalse([c for c in before if c.startswith("SASL")], f"no SASL in clear: {before}")
        self.assertEqual(p.cmd("STLS"), "+OK Begin TLS negotiation")
        p.wrap_tls(self.verified())
        self.assertTrue(p.cmd("CAPA").startswith("+OK"))
        after = p.multi()
        self.assertNotIn("STLS", after)
        self.assertIn("USER", after)
        self.assertIn(f"SASL {MECHANISMS}", after)

    def test_commands_pipelined_behind_stls_are_discarded(self):
        user = self.new_user()
        p = self.pop_raw(self.herald.pop3_port)
        p.send(f"STLS\r\nUSER {user}\r\nPASS secret\r\nNOOP\r\n")
        self.assertEqual(p.status(), "+OK Begin TLS negotiation")
        p.wrap_tls(self.verified())
        first = p.cmd("CAPA")
        self.assertEqual(first, "+OK Capability list follows",
                         "the first answer inside TLS must be to our CAPA, not to the clear USER/PASS")
        p.multi()
        # Not logged in: the injected USER/PASS must not have run.
        self.assertTrue(p.cmd("STAT").startswith("-ERR"), "STAT must fail: nobody is logged in")
        self.assertTrue(p.cmd("QUIT").startswith("+OK"))
        self.assertTrue(p.closed(timeout=10))
        self.assertEqual(p.buf, b"", "nothing may follow the QUIT reply")

    def test_user_pass_and_auth_refused_in_clear(self):
        user = self.new_user()
        p = self.pop_raw(self.herald.pop3_port)
        self.assertEqual(p.cmd(f"USER {user}"), POP3_PLAINTEXT_REFUSED)
        self.assertEqual(p.cmd("PASS secret"), POP3_PLAINTEXT_REFUSED)
        self.assertEqual(p.cmd("AUTH PLAIN " + plain(user, "secret")), POP3_PLAINTEXT_REFUSED)
        self.assertTrue(p.cmd("STAT").startswith("-ERR"), "still not logged in")

    def test_second_stls_is_refused(self):
        p = self.pop_raw(self.herald.pop3_port)
        self.assertEqual(p.cmd("STLS"), "+OK Begin TLS negotiation")
        p.wrap_tls(self.verified())
        self.assertTrue(p.cmd("STLS").startswith("-ERR"), "STLS inside TLS")
        self.assertTrue(p.cmd("CAPA").startswith("+OK"), "the session goes on")
        p.multi()

    def test_poplib_stls(self):
        user = self.new_user()
        p = poplib.POP3(HOST, self.herald.pop3_port, timeout=15)
        self.addCleanup(p.close)
        p.stls(context=self.verified())
        p.user(user)
        p.pass_("secret")
        self.assertEqual(p.stat(), (0, 0))
        p.quit()


@unittest.skipUnless(shutil.which("openssl"), "openssl is not installed")
class OpensslSClientTest(TlsCase):

    def s_client(self, port, starttls, *args):
        c = OpensslClient(port, starttls=starttls, workdir=self.herald.tmp,
                          args=["-CAfile", self.herald.self_signed_cert, "-verify_hostname", HOSTNAME,
                                "-servername", HOSTNAME, "-verify_return_error", *args])
        self.addCleanup(c.close)
        return c

    def test_starttls_smtp_verifies_and_offers_auth(self):
        c = self.s_client(self.herald.smtp_port, "smtp")
        c.send("EHLO client.test")
        code, lines = c.smtp_reply()
        self.assertEqual(code, 250)
        self.assertEqual(lines[0], f"250-{HOSTNAME}", f"first reply inside TLS must answer EHLO: {lines}")
        self.assertIn(f"250-AUTH {MECHANISMS}", lines)
        self.assertFalse([l for l in lines if "STARTTLS" in l], lines)
        c.send("QUIT")
        self.assertEqual(c.smtp_reply()[0], 221)
        self.assertNotIn("verify error", c.stderr())

    def test_starttls_pop3_verifies_and_offers_user(self):
        c = self.s_client(self.herald.pop3_port, "pop3")
        c.send("CAPA")
        lines = c.read_until(lambda l: l == ".", "the end of CAPA")
        self.assertEqual(lines[0], "+OK Capability list follows", lines)
        self.assertIn("USER", lines)
        self.assertIn(f"SASL {MECHANISMS}", lines)
        self.assertNotIn("STLS", lines)
        c.send("QUIT")
        self.assertTrue(c.read_line().startswith("+OK"))
        self.assertNotIn("verify error", c.stderr())

    def test_implicit_tls_smtps(self):
        c = self.s_client(self.herald.smtps_port, None)
        self.assertTrue(c.read_line().startswith(f"220 {HOSTNAME}"), c.transcript)
        c.send("QUIT")
        self.assertEqual(c.smtp_reply()[0], 221)

    def test_wrong_host_name_fails_verification(self):
        res = subprocess.run(["openssl", "s_client", "-connect", f"{HOST}:{self.herald.smtps_port}",
                              "-CAfile", self.herald.self_signed_cert, "-verify_hostname", "other.example.org",
                              "-verify_return_error"],
                             input=b"", capture_output=True, timeout=30)
        self.assertNotEqual(res.returncode, 0, "the certificate must not be valid for another name")
        self.assertIn(b"hostname mismatch", res.stdout + res.stderr)


class VersionTest(TlsCase):

    def handshake(self, port, ctx):
        with socket.create_connection((HOST, port), timeout=10) as raw:
            with ctx.wrap_socket(raw) as s:
                return s.version(), s.cipher()

    def assert_refused_by_server(self, port, ctx, what):
        with self.assertRaises(ssl.SSLError, msg=f"{what} must be refused") as cm:
            self.handshake(port, ctx)
        reason = cm.exception.reason or str(cm.exception)
        if "NO_PROTOCOLS_AVAILABLE" in reason or "NO_CIPHERS_AVAILABLE" in reason:
            self.skipTest(f"this OpenSSL cannot offer {what} as a client: {reason}")
        # The alert came from the server: it saw the hello and refused the version.
        self.assertIn("PROTOCOL_VERSION", reason, f"{what}: expected the server's protocol_version alert, got {reason}")

    def test_tls_1_1_and_1_0_refused_by_default(self):
        for maximum, name in ((ssl.TLSVersion.TLSv1_1, "TLS 1.1"), (ssl.TLSVersion.TLSv1, "TLS 1.0")):
            with self.subTest(version=name):
                self.assert_refused_by_server(self.herald.smtps_port, old_tls_context(maximum), name)

    def test_tls_1_2_accepted_by_default_with_aead_ecdhe(self):
        version, cipher = self.handshake(self.herald.smtps_port, tls_client_context(maximum=ssl.TLSVersion.TLSv1_2))
        self.assertEqual(version, "TLSv1.2")
        self.assertRegex(cipher[0], r"^ECDHE-.*(GCM|CHACHA20)", "default TLS 1.2 ciphers: ECDHE with AEAD only")

    def test_tls_1_2_cbc_ciphers_refused_by_default(self):
        ctx = tls_client_context(maximum=ssl.TLSVersion.TLSv1_2)
        ctx.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256")
        with self.assertRaises(ssl.SSLError):
            self.handshake(self.herald.smtps_port, ctx)

    def test_tls_1_3_is_the_default(self):
        version, _ = self.handshake(self.herald.smtps_port, tls_client_context())
        self.assertEqual(version, "TLSv1.3")


class MinVersion13Test(TlsCase):

    config = {**STRICT, "tls": {"min_version": "1.3"}}

    def test_tls_1_2_refused(self):
        ctx = tls_client_context(maximum=ssl.TLSVersion.TLSv1_2)
        for name, port in (("smtps", self.herald.smtps_port), ("pop3s", self.herald.pop3s_port)):
            with self.subTest(listener=name):
                with self.assertRaises(ssl.SSLError) as cm:
                    implicit_tls_cert(port, context=ctx)
                self.assertIn("PROTOCOL_VERSION", str(cm.exception.reason), str(cm.exception))
        with SmtpRaw(self.herald.smtp_port, greet=True) as s:
            s.ehlo()
            s.cmd("STARTTLS").check(220)
            with self.assertRaises(ssl.SSLError):
                s.wrap_tls(ctx)

    def test_tls_1_3_accepted(self):
        with socket.create_connection((HOST, self.herald.smtps_port), timeout=10) as raw:
            with tls_client_context(minimum=ssl.TLSVersion.TLSv1_3).wrap_socket(raw) as s:
                self.assertEqual(s.version(), "TLSv1.3")


@unittest.skipUnless(shutil.which("openssl"), "openssl is needed to make the test certificates")
class SniTest(HeraldTestCase):
    """Two certificates in tls.certificates; the client's SNI chooses."""

    @classmethod
    def setUpClass(cls):
        cls.certdir = tempfile.mkdtemp(prefix="herald-certs-")
        cls.a = make_cert(cls.certdir, "a.example.test")
        cls.b = make_cert(cls.certdir, "b.example.test", extra_names=("mail.b.example.test",))
        config = {**STRICT, "tls": {"certificates": [{"cert": cls.a[0], "key": cls.a[1]},
                                                     {"cert": cls.b[0], "key": cls.b[1]}]}}
        try:
            cls.herald = Herald(config=config, protocols=("smtp", "smtps", "pop3s"))
        except BaseException:
            shutil.rmtree(cls.certdir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()
        shutil.rmtree(cls.certdir, ignore_errors=True)

    def test_each_name_gets_its_certificate(self):
        h = self.herald
        for name, (cert, _) in (("a.example.test", self.a), ("b.example.test", self.b),
                                ("mail.b.example.test", self.b)):
            ctx = tls_client_context(cafile=cert)
            ctx.check_hostname = True
            with self.subTest(sni=name):
                self.assertEqual(implicit_tls_cert(h.smtps_port, name, ctx), der_of(cert), "smtps")
                self.assertEqual(implicit_tls_cert(h.pop3s_port, name, ctx), der_of(cert), "pop3s")
                self.assertEqual(starttls_cert(h.smtp_port, name, ctx), der_of(cert), "smtp STARTTLS")

    def test_unknown_or_missing_name_still_gets_a_certificate(self):
        known = {der_of(self.a[0]), der_of(self.b[0])}
        self.assertIn(implicit_tls_cert(self.herald.smtps_port, "unknown.example.org"), known)
        self.assertIn(implicit_tls_cert(self.herald.smtps_port, None), known)


@unittest.skipUnless(shutil.which("openssl"), "openssl is needed to make the test certificates")
class ReloadTest(HeraldTestCase):
    """tls.cert/key replaced under a running server."""

    def start(self):
        self.certdir = tempfile.mkdtemp(prefix="herald-certs-")
        self.addCleanup(shutil.rmtree, self.certdir, True)
        self.cert, self.key = make_cert(self.certdir, HOSTNAME)
        h = self.start_herald(config={**STRICT, "tls": {"cert": self.cert, "key": self.key}},
                              protocols=("smtp", "smtps", "pop3s"))
        self.assertEqual(implicit_tls_cert(h.smtps_port), der_of(self.cert))
        return h

    def replace(self, new_cert, new_key):
        """replace - what certbot-like tools do: write new files, then rename them over the old."""
        for src, dst in ((new_key, self.key), (new_cert, self.cert)):
            tmp = dst + ".new"
            shutil.copyfile(src, tmp)
            os.rename(tmp, dst)

    def test_replaced_files_are_served_without_dropping_connections(self):
        h = self.start()
        rcpt = h.add_user(f"{unique('reload')}@example.test")
        old = der_of(self.cert)
        # An established TLS session, mid-transaction, across the reload.
        s = SmtpRaw(h.smtp_port, greet=True)
        self.addCleanup(s.close)
        s.ehlo()
        s.cmd("STARTTLS").check(220)
        s.wrap_tls(tls_client_context())
        s.ehlo()
        s.cmd("MAIL FROM:<sender@client.test>").check(250)
        s.cmd(f"RCPT TO:<{rcpt}>").check(250)
        p = poplib.POP3_SSL(HOST, h.pop3s_port, timeout=15, context=tls_client_context())
        self.addCleanup(p.close)
        p.user(rcpt)
        p.pass_("secret")

        new_cert, new_key = make_cert(self.certdir, HOSTNAME)
        self.replace(new_cert, new_key)
        new = der_of(new_cert)
        self.assertNotEqual(new, old)
        wait_for(lambda: implicit_tls_cert(h.smtps_port) == new, timeout=15,
                 message="new smtps handshakes to present the replaced certificate")
        self.assertEqual(starttls_cert(h.smtp_port), new, "STARTTLS presents the replaced certificate too")
        self.assertEqual(implicit_tls_cert(h.pop3s_port), new, "pop3s presents the replaced certificate too")

        self.assertEqual(s.sock.getpeercert(binary_form=True), old)
        s.data(make_message("across a reload", to=rcpt)).check("250 2.0.0", "the open session goes on")
        s.cmd("QUIT").check(221)
        self.assertEqual(p.stat()[0], 0, "the open POP3 session goes on")
        p.quit()
        self.assertEqual(len(h.wait_mailbox(rcpt, 1, tls=True)), 1)
        self.assertTrue(h.running())

    def test_sighup_reloads(self):
        h = self.start()
        # Rewrite both files in place with the same sizes and put the old
        # mtimes back, so that only SIGHUP can reveal the change (the file
        # poller compares inode, size and mtime).
        for _ in range(50):
            new_cert, new_key = make_cert(self.certdir, HOSTNAME)
            if (os.path.getsize(new_cert) == os.path.getsize(self.cert)
                    and os.path.getsize(new_key) == os.path.getsize(self.key)):
                break
        else:
            self.skipTest("could not make a certificate of the same size to rewrite in place")
        for src, dst in ((new_key, self.key), (new_cert, self.cert)):
            st = os.stat(dst)
            with open(src, "rb") as f:
                data = f.read()
            with open(dst, "r+b") as f:
                f.write(data)
            os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
        pid = h.proc.pid
        h.proc.send_signal(signal.SIGHUP)
        new = der_of(new_cert)
        wait_for(lambda: implicit_tls_cert(h.smtps_port) == new, timeout=15,
                 message="the certificate rewritten in place to be served after SIGHUP")
        self.assertTrue(h.running(), "SIGHUP must not stop the server")
        self.assertEqual(h.proc.pid, pid)

    def test_broken_replacement_keeps_the_old_certificate(self):
        h = self.start()
        old = der_of(self.cert)
        tmp = self.cert + ".new"
        with open(tmp, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
        os.rename(tmp, self.cert)
        wait_for(lambda: "reload failed" in h.log(), timeout=15, message="a log line saying the reload failed")
        self.assertTrue(h.running())
        self.assertEqual(implicit_tls_cert(h.smtps_port), old, "the old certificate stays in service")
        with SmtpRaw(h.smtp_port, greet=True) as s:
            s.ehlo()
            s.cmd("STARTTLS").check(220)
            s.wrap_tls(tls_client_context())
            s.ehlo()


if __name__ == "__main__":
    unittest.main()
