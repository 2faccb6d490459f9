"""test_install.py - `make install` (issue 13): herald, herald-sendmail with
the sendmail and mailq links to it, the example configuration (never over one that exists) and the
systemd unit, under PREFIX and DESTDIR; an installed herald finds its
configuration in PREFIX/etc/herald (/etc/herald for /usr) by itself.
"""

import os
import shutil
import subprocess
import tempfile
import unittest

from harness import herald_bin

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class InstallTest(unittest.TestCase):
    def make_install(self, **variables):
        build_dir = os.path.dirname(herald_bin())
        args = ["make", "-s", "-C", ROOT, "install", f"BUILD_DIR={build_dir}"]
        args += [f"{k}={v}" for k, v in variables.items()]
        res = subprocess.run(args, capture_output=True, text=True, timeout=600)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)

    def tmp(self):
        d = tempfile.mkdtemp(prefix="herald-install-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def test_a_staged_install_for_usr(self):
        dest = self.tmp()
        self.make_install(DESTDIR=dest, PREFIX="/usr")
        herald = os.path.join(dest, "usr/sbin/herald")
        self.assertTrue(os.access(herald, os.X_OK))
        self.assertTrue(os.access(os.path.join(dest, "usr/sbin/herald-sendmail"), os.X_OK))
        self.assertEqual(os.readlink(os.path.join(dest, "usr/sbin/sendmail")), "herald-sendmail")
        self.assertEqual(os.readlink(os.path.join(dest, "usr/bin/mailq")), "../sbin/herald-sendmail")
        config = os.path.join(dest, "etc/herald/herald.toml")
        check = subprocess.run([herald, "config", "check", "--config", config], capture_output=True, text=True)
        self.assertEqual(check.returncode, 0, check.stderr)
        with open(os.path.join(dest, "usr/lib/systemd/system/herald.service")) as f:
            unit = f.read()
        self.assertIn("ExecStart=/usr/sbin/herald serve --config /etc/herald/herald.toml\n", unit)
        # Called as sendmail, the binary speaks sendmail (exit codes of sysexits.h).
        res = subprocess.run([os.path.join(dest, "usr/sbin/sendmail"), "-Z"], capture_output=True)
        self.assertEqual(res.returncode, 64)
        self.assertIn(b"sendmail: fatal: unknown option -Z", res.stderr)

    def test_an_installed_sendmail_finds_its_configuration(self):
        prefix = self.tmp()
        data = os.path.join(prefix, "var")
        os.makedirs(os.path.join(prefix, "etc/herald"))
        mine = os.path.join(prefix, "etc/herald/herald.toml")
        with open(mine, "w") as f:
            f.write(f'[server]\nhostname = "mx.example.test"\ndata_dir = "{data}"\n')
        self.make_install(PREFIX=prefix)
        with open(mine) as f:
            self.assertIn(data, f.read(), "make install left the existing configuration alone")
        env = {k: v for k, v in os.environ.items() if k != "HERALD_CONFIG"}
        res = subprocess.run([os.path.join(prefix, "bin/mailq")], capture_output=True, text=True, env=env, cwd=prefix)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertTrue(os.path.isdir(data), "mailq (herald-sendmail running herald) read the store of "
                                             "PREFIX/etc/herald/herald.toml")


if __name__ == "__main__":
    unittest.main()
