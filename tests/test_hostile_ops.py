"""test_hostile_ops.py - what an operator's slip or an attacker's guesses
must not turn into an outage (issue 11, items 11 to 13).

- `herald config check` refuses, with the file:line of the key, every value
  that `herald serve` would refuse or trip on later (a host name that would
  inject lines into the greeting, timeouts that overflow or fire at once,
  SIZE 0, an address that cannot be bound, certificates that do not load,
  a cipher list OpenSSL rejects, a data_dir that is a file, a thread count
  that exhausts descriptors), and `serve` refuses them with the same words.
- `serve` raises its soft RLIMIT_NOFILE to the hard limit and warns when
  even that is below what max_connections need; when descriptors run out,
  accept() failures are logged once in a while, not in a flood, and the
  server serves again once descriptors are free.
- Ten wrong passwords from one address lock that address, not the user:
  the right password from another address still gets in (after
  auth.user_penalty), unless auth.user_lockout says otherwise.
"""

import base64
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import HeraldTestCase, SmtpRaw, herald_bin, unique, wait_for

AUTH_FAILED = "535 5.7.8 Error: authentication failed"


def plain(user, password):
    """plain - a SASL PLAIN response (RFC 4616), base64."""
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode("ascii")


class ConfigCheckTest(unittest.TestCase):
    """Each bad value on line 2 of an otherwise good file."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="herald-hostile-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.data_dir = os.path.join(self.tmp, "data")
        self.a_file = os.path.join(self.tmp, "a-file")
        with open(self.a_file, "w") as f:
            f.write("not a directory\n")

    def write(self, section, line):
        """write - a config whose line 2 is `line`, in [section]; returns its path."""
        path = os.path.join(self.tmp, f"{unique('h')}.toml")
        server = {"data_dir": f'"{self.data_dir}"', "hostname": '"mx.example.test"'}
        given = line.split(" = ")[0]
        rest = "\n".join(f"{k} = {v}" for k, v in server.items() if not (section == "server" and k == given))
        if section == "server":
            text = f"[server]\n{line}\n{rest}\n"
        else:
            text = f"[{section}]\n{line}\n[server]\n{rest}\n"
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def run_herald(self, *args):
        return subprocess.run([herald_bin(), *args], capture_output=True, text=True, timeout=60, cwd=self.tmp)

    def test_a_good_file_passes(self):
        res = self.run_herald("config", "check", "--config", self.write("smtp", 'listen = ["127.0.0.1:2525"]'))
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertFalse(os.path.exists(self.data_dir), "config check creates nothing")

    def test_values_that_break_serve_fail_the_check_at_their_line(self):
        cases = [
            ("hostname with CR LF", "server", 'hostname = "mx.example.test\\r\\n250 injected"', "server.hostname"),
            ("hostname with a space", "server", 'hostname = "mx example.test"', "server.hostname"),
            ("a timeout that overflows", "smtp", 'command_timeout = "1000000d"', "smtp.command_timeout"),
            ("a timeout of zero", "smtp", 'command_timeout = "0s"', "smtp.command_timeout"),
            ("a data timeout of zero", "smtp", 'data_timeout = "0s"', "smtp.data_timeout"),
            ("a listen address that is no IP", "smtp", 'listen = ["mail.example.test:25"]', "smtp.listen"),
            ("a port out of range", "smtp", 'listen = ["127.0.0.1:70000"]', "smtp.listen"),
            ("a missing certificate", "tls", 'cert = "missing.pem"\nkey = "missing.key"', "tls.cert"),
            ("a cipher list OpenSSL rejects", "tls", 'ciphers = "NO-SUCH-CIPHER"', "tls.ciphers"),
            ("TLS 1.3 suites OpenSSL rejects", "tls", 'ciphersuites = "TLS_NO_SUCH_SUITE"', "tls.ciphersuites"),
            ("a data_dir that is a file", "server", f'data_dir = "{self.a_file}"', "server.data_dir"),
            ("a billion threads", "server", "threads = 1000000000", "server.threads"),
            ("max_message_size = 0 (SIZE 0 means no limit, RFC 1870 6)", "smtp", "max_message_size = 0",
             "smtp.max_message_size"),
        ]
        for what, section, line, key in cases:
            with self.subTest(what):
                path = self.write(section, line)
                check = self.run_herald("config", "check", "--config", path)
                self.assertNotEqual(check.returncode, 0, f"{what}: config check passed:\n{check.stdout}")
                self.assertIn(f"{path}:2: {key}", check.stderr, what)
                # serve refuses the same file with the same words, before it
                # listens on anything.
                serve = self.run_herald("serve", "--config", path)
                self.assertNotEqual(serve.returncode, 0, what)
                self.assertIn(check.stderr.strip(), serve.stderr + serve.stdout, what)

    def test_defaults_list_a_range_for_the_new_bounds(self):
        out = self.run_herald("config", "defaults").stdout
        for key in ("accept_backoff", "user_penalty", "user_lockout", "max_message_size", "threads",
                    "command_timeout"):
            self.assertRegex(out, rf"(?m)^{key} = ", key)
        self.assertRegex(out, r'(?m)^max_message_size = "25M" .*\(1k to 2G\)$')
        self.assertRegex(out, r"(?m)^threads = 0 .*\(0 to 256\)$")


def soft_hard_nofile(pid):
    """soft_hard_nofile - (soft, hard) "Max open files" of a process, from /proc/PID/limits."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError("no Max open files in /proc/PID/limits")


def limit_nofile(soft, hard):
    """limit_nofile - a preexec_fn: RLIMIT_NOFILE soft/hard in the child."""
    def apply():
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return apply


class FdLimitTest(HeraldTestCase):

    def setUp(self):
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < 1024:
            self.skipTest(f"hard RLIMIT_NOFILE {hard} is below 1024")

    def start_limited(self, soft, hard, config=None):
        h = self.start_herald(config=config, start=False)
        h.preexec_fn = limit_nofile(soft, hard)
        h.start()
        return h

    def test_soft_limit_raised_and_warning_when_the_hard_limit_is_short(self):
        # smtp and pop3 with max_connections 1000 each need far more than 1024.
        h = self.start_limited(256, 1024)
        self.assertEqual(soft_hard_nofile(h.proc.pid), (1024, 1024), "soft limit raised to the hard limit")
        wait_for(lambda: "warning: open file limit 1024 (hard limit 1024) is below the" in h.log(),
                 message="the warning about the descriptor limit")
        need = int(re.search(r"is below the (\d+) that", h.log()).group(1))
        self.assertGreater(need, 4000, "two descriptors per connection of max_connections 2 x 1000")

    def test_no_warning_when_the_hard_limit_suffices(self):
        config = {"smtp": {"max_connections": 50}, "pop3": {"max_connections": 50}}
        h = self.start_limited(256, 1024, config)
        self.assertEqual(soft_hard_nofile(h.proc.pid), (1024, 1024))
        wait_for(lambda: "open file limit raised from 256 to 1024" in h.log(), message="the raise logged")
        self.assertNotIn("is below the", h.log())

    def test_running_out_of_descriptors_is_logged_once_and_survived(self):
        # 64 descriptors in all: a few dozen connections exhaust them.
        h = self.start_limited(64, 64, {"server": {"threads": 1, "accept_backoff": "50ms"}})
        clients = []
        try:
            for _ in range(100):
                clients.append(SmtpRaw(h.smtp_port, timeout=10))  # queued in the backlog when not accepted
            wait_for(lambda: "accept: Too many open files" in h.log(), message="accept to fail with EMFILE")
            # Not synchronisation: a window in which the acceptor, pausing
            # 50ms after each failure, fails some twenty times more.
            time.sleep(1.0)
            self.assertTrue(h.running(), "the server survives")
            failures = h.log().count("accept: Too many open files")
            self.assertEqual(failures, 1, f"one warning per minute, not one per failure:\n{h.log()[-2000:]}")
        finally:
            for c in clients:
                c.close()
        # The descriptors come back with the connections' ends: a new client is greeted.
        def greeted():
            try:
                with SmtpRaw(h.smtp_port, timeout=5) as s:
                    return s.read_reply().code == 220
            except OSError:
                return False
        wait_for(greeted, timeout=30, interval=0.2, message="a greeting once descriptors are free")


class LockoutTest(HeraldTestCase):
    """auth.max_failures = 10 (default) from 127.0.0.2; the owner on 127.0.0.3."""

    def start(self, **auth):
        return self.start_herald(config={"auth": {"user_penalty": "300ms", **auth}}, protocols=("submission",))

    def login(self, h, user, password, source):
        with SmtpRaw(h.submission_port, greet=True, source_address=(source, 0)) as s:
            s.cmd("EHLO client.test")
            started = time.monotonic()
            reply = s.cmd("AUTH PLAIN " + plain(user, password))
            return reply.first, time.monotonic() - started

    def guess_ten_times(self, h, user):
        with SmtpRaw(h.submission_port, greet=True, source_address=("127.0.0.2", 0)) as s:
            s.cmd("EHLO guesser.test")
            for n in range(10):
                self.assertEqual(s.cmd("AUTH PLAIN " + plain(user, f"guess-{n}")).first, AUTH_FAILED, n)

    def test_guesses_from_one_address_do_not_lock_the_owner_out(self):
        h = self.start()
        user = h.add_user(f"{unique('victim')}@example.test", "right-password")
        self.guess_ten_times(h, user)
        reply, _ = self.login(h, user, "right-password", "127.0.0.2")
        self.assertEqual(reply, AUTH_FAILED, "the guessing address is locked, even with the right password")
        reply, took = self.login(h, user, "right-password", "127.0.0.3")
        self.assertTrue(reply.startswith("235"), f"the owner from an address that has not failed: {reply}")
        self.assertGreaterEqual(took, 0.3 * 0.9, "slowed by auth.user_penalty while the user is under attack")
        reply, _ = self.login(h, user, "right-password", "127.0.0.2")
        self.assertEqual(reply, AUTH_FAILED, "the guessing address stays locked after the owner's login")

    def test_user_lockout_on_locks_the_user_everywhere(self):
        h = self.start(user_lockout=True)
        user = h.add_user(f"{unique('victim')}@example.test", "right-password")
        self.guess_ten_times(h, user)
        reply, _ = self.login(h, user, "right-password", "127.0.0.3")
        self.assertEqual(reply, AUTH_FAILED, "auth.user_lockout = true refuses the user from every address")


if __name__ == "__main__":
    unittest.main()
