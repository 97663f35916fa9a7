"""Mail delivery: bw_mail_compose + bw_smtp_send_blocking (through tests/servers/bw_sendmail)
against a real SMTP server (tests/servers/smtpd.py, aiosmtpd) on loopback; each received message
parsed back with Python's email package."""
import base64
import datetime
import email
import email.policy
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

SENDMAIL = os.environ.get("BW_SENDMAIL", "")
SOURCE = os.environ.get("BW_SOURCE_DIR", "")
SMTPD = os.path.join(SOURCE, "tests", "servers", "smtpd.py")

TEXT = ("Nightly report \u2014 all normal.\n"
        "portal-home: median 98.2 ms, ratio=1.00, \u00e9t\u00e9 \u65e5\u672c\u8a9e, and a very "
        "long line that goes on well past seventy-six characters so that soft line breaks are "
        "needed \U0001F4C8 more than once, with =3D and = signs along the way.\n"
        "trailing spaces   \n"
        ".\n"
        "..a line starting with dots\n"
        "last line without a newline  ")
HTML = ("<!doctype html><html><body><h1>Nightly report \u2014 all normal</h1>"
        "<p style=\"color:#333\">" + "x" * 200 + " \u00e9</p></body></html>\n")
SUBJECT = "benchwatch: R\u00fcckschritt \u2014 portal-home langsamer (\u65e5\u672c\u8a9e), 3 tests"
PASSWORD = "s3cret-Pa55-w0rd"


def python_with_aiosmtpd():
    """Debian's python3-aiosmtpd lives in the system interpreter, which may not be first in PATH."""
    for py in ("/usr/bin/python3", "python3"):
        if shutil.which(py) and subprocess.run([py, "-c", "import aiosmtpd"],
                                               capture_output=True).returncode == 0:
            return py
    return None


class Smtpd:
    def __init__(self, *args):
        py = python_with_aiosmtpd()
        if not py:
            raise unittest.SkipTest("aiosmtpd missing (apt-get install python3-aiosmtpd)")
        self.dir = tempfile.mkdtemp(prefix="bw-smtpd-")
        self.proc = subprocess.Popen([py, SMTPD, "--dir", self.dir, *args],
                                     stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())
        self.proc.stdout.close()
        self.url = "smtp://127.0.0.1:%d" % self.port

    def messages(self):
        out = []
        names = [n for n in os.listdir(self.dir) if n.endswith(".eml")]
        for name in sorted(names, key=lambda n: int(n.split(".")[0])):
            if name.endswith(".eml"):
                base = os.path.join(self.dir, name[:-4])
                with open(base + ".eml", "rb") as f:
                    raw = f.read()
                with open(base + ".json") as f:
                    env = json.load(f)
                out.append((raw, env))
        return out

    def transcript(self):
        """Every byte clients sent to this server so far."""
        try:
            with open(os.path.join(self.dir, "transcript"), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


class MailTest(unittest.TestCase):
    def setUp(self):
        if not SENDMAIL:
            self.skipTest("BW_SENDMAIL not set (run through ctest)")
        self.tmp = tempfile.mkdtemp(prefix="bw-mail-")
        self.text = os.path.join(self.tmp, "report.txt")
        self.html = os.path.join(self.tmp, "report.html")
        with open(self.text, "w", encoding="utf-8") as f:
            f.write(TEXT)
        with open(self.html, "w", encoding="utf-8") as f:
            f.write(HTML)
        self.pwfile = os.path.join(self.tmp, "password")
        with open(self.pwfile, "w") as f:
            f.write(PASSWORD + "\nsecond line is ignored\n")
        os.chmod(self.pwfile, 0o600)
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def server(self, *args):
        s = Smtpd(*args)
        self.servers.append(s)
        return s

    def send(self, url, *extra, to=("ops@example.org", "dev@example.org"), timeout=30, env=None,
             cwd=None):
        args = [SENDMAIL, "--url", url, "--from", "benchwatch@monitor.example.org",
                "--subject", SUBJECT, "--text-file", self.text, "--html-file", self.html]
        for t in to:
            args += ["--to", t]
        return subprocess.run(args + list(extra), capture_output=True, text=True,
                              timeout=timeout, env=env, cwd=cwd)

    def test_multipart_message_to_two_recipients(self):
        s = self.server()
        before = datetime.datetime.now(datetime.timezone.utc)
        r = self.send(s.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "sent\n")
        [(raw, env)] = s.messages()
        self.assertEqual(env["rcpt_tos"], ["ops@example.org", "dev@example.org"])
        self.assertEqual(env["mail_from"], "benchwatch@monitor.example.org")
        self.assertIsNone(env["login"])
        # 7-bit, CRLF lines of at most 78 characters.
        raw.decode("ascii")
        lines = raw.split(b"\r\n")
        self.assertEqual(lines[-1], b"")
        for line in lines:
            self.assertNotIn(b"\n", line)
            self.assertLessEqual(len(line), 78, line)
        # Stored as a local delivery agent stores it, with "\n" lines (lossless: all were CRLF).
        m = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
        self.assertEqual(m.get_content_type(), "multipart/alternative")
        parts = list(m.iter_parts())
        self.assertEqual([p.get_content_type() for p in parts], ["text/plain", "text/html"])
        for p in parts:
            self.assertEqual(p.get_content_charset(), "utf-8")
            self.assertEqual(p["Content-Transfer-Encoding"], "quoted-printable")
        self.assertEqual(parts[0].get_content(), TEXT)
        self.assertEqual(parts[1].get_content(), HTML)
        self.assertEqual(str(m["Subject"]), SUBJECT)
        self.assertEqual(str(m["From"]), "benchwatch@monitor.example.org")
        self.assertEqual([a.addr_spec for a in m["To"].addresses],
                         ["ops@example.org", "dev@example.org"])
        self.assertEqual(m["MIME-Version"], "1.0")
        date = m["Date"].datetime
        self.assertEqual(date.utcoffset(), datetime.timedelta(0))
        self.assertLess(abs((date - before).total_seconds()), 60)
        self.assertRegex(str(m["Message-ID"]), r"^<[^<>@\s]+@[^<>@\s]+>$")

    def test_message_ids_are_unique(self):
        s = self.server()
        for _ in range(3):
            self.assertEqual(self.send(s.url, to=("ops@example.org",)).returncode, 0)
        ids = set()
        for raw, _ in s.messages():
            ids.add(str(email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"]))
        self.assertEqual(len(ids), 3)

    def test_auth_with_password_from_file(self):
        s = self.server("--user", "reporter", "--password", PASSWORD)
        r = self.send(s.url, "--username", "reporter", "--password-file", self.pwfile,
                      "--tls", "none")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(PASSWORD, r.stdout + r.stderr)
        [(raw, env)] = s.messages()
        self.assertEqual(env["login"], "reporter")
        # A wrong password: refused, in one line, and the password is not echoed.
        wrong = os.path.join(self.tmp, "wrong")
        with open(wrong, "w") as f:
            f.write("not-the-password-xyz\n")
        os.chmod(wrong, 0o600)
        r = self.send(s.url, "--username", "reporter", "--password-file", wrong, "--tls", "none")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertIn(s.url, r.stderr)
        self.assertNotIn("not-the-password-xyz", r.stdout + r.stderr)
        # No credentials at all: the server requires AUTH and refuses the message.
        r = self.send(s.url)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(len(s.messages()), 1)

    def secret_forms(self, user, password):
        """The password as it would cross the wire: as is, in AUTH LOGIN, in AUTH PLAIN."""
        pw = password.encode()
        return [pw, base64.b64encode(pw), base64.b64encode(b"\0" + user.encode() + b"\0" + pw)]

    def test_auth_without_starttls_is_refused(self):
        # The default tls (opportunistic) with a username: a server without STARTTLS gets no AUTH
        # and no password, and the sender says why in one line.
        s = self.server("--user", "reporter", "--password", PASSWORD)
        r = self.send(s.url, "--username", "reporter", "--password-file", self.pwfile)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertEqual(r.stderr.splitlines(), [
            "bw_sendmail: %s: the server offers no STARTTLS; the password is not sent in clear "
            "(set report.tls: none to allow it)" % s.url])
        wire = s.transcript()
        self.assertIn(b"EHLO", wire)  # the conversation did take place
        self.assertNotIn(b"AUTH", wire.upper())
        for form in self.secret_forms("reporter", PASSWORD):
            self.assertNotIn(form, wire)
        self.assertEqual(s.messages(), [])

    def test_auth_in_clear_only_with_tls_none(self):
        s = self.server("--user", "reporter", "--password", PASSWORD)
        r = self.send(s.url, "--username", "reporter", "--password-file", self.pwfile,
                      "--tls", "none")
        self.assertEqual(r.returncode, 0, r.stderr)
        wire = s.transcript()
        self.assertIn(b"AUTH ", wire)
        self.assertTrue(any(form in wire for form in self.secret_forms("reporter", PASSWORD)))
        [(_, env)] = s.messages()
        self.assertEqual(env["login"], "reporter")

    def test_password_file_others_can_read_is_refused(self):
        s = self.server("--user", "reporter", "--password", PASSWORD)
        for mode, who in ((0o640, "its group"), (0o604, "everyone"),
                          (0o644, "its group and everyone")):
            os.chmod(self.pwfile, mode)
            r = self.send(s.url, "--username", "reporter", "--password-file", self.pwfile,
                          "--tls", "none")
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(r.stderr.splitlines(), [
                "bw_sendmail: %s: mode %04o lets %s read it; a file holding a secret must be "
                "readable by its owner only: chmod 600 %s" % (self.pwfile, mode, who,
                                                              self.pwfile)])
            self.assertNotIn(PASSWORD, r.stdout + r.stderr)
        self.assertEqual(s.transcript(), b"")  # refused before connecting
        os.chmod(self.pwfile, 0o400)
        r = self.send(s.url, "--username", "reporter", "--password-file", self.pwfile,
                      "--tls", "none")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(s.messages()), 1)

    def test_password_from_credentials_directory(self):
        # systemd's LoadCredential=smtp-password:... puts the file in $CREDENTIALS_DIRECTORY; the
        # config names it bare. A file of the same name in the working directory is not read.
        s = self.server("--user", "reporter", "--password", PASSWORD)
        creds = os.path.join(self.tmp, "credentials")
        os.mkdir(creds)
        shutil.copy(self.pwfile, os.path.join(creds, "smtp-password"))
        os.chmod(os.path.join(creds, "smtp-password"), 0o400)
        decoy = os.path.join(self.tmp, "smtp-password")
        with open(decoy, "w") as f:
            f.write("the-wrong-password\n")
        os.chmod(decoy, 0o600)
        env = dict(os.environ, CREDENTIALS_DIRECTORY=creds)
        r = self.send(s.url, "--username", "reporter", "--password-file", "smtp-password",
                      "--tls", "none", env=env, cwd=self.tmp)
        self.assertEqual(r.returncode, 0, r.stderr)
        [(_, env_seen)] = s.messages()
        self.assertEqual(env_seen["login"], "reporter")
        # Without the variable the bare name is a path again: the decoy, refused by the server.
        env.pop("CREDENTIALS_DIRECTORY")
        r = self.send(s.url, "--username", "reporter", "--password-file", "smtp-password",
                      "--tls", "none", env=env, cwd=self.tmp)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(s.messages()), 1)
        # A missing credential is named by its full path.
        env["CREDENTIALS_DIRECTORY"] = creds
        r = self.send(s.url, "--username", "reporter", "--password-file", "other-password",
                      "--tls", "none", env=env, cwd=self.tmp)
        self.assertEqual(r.returncode, 1)
        self.assertIn(os.path.join(creds, "other-password") + ": no such file", r.stderr)

    def test_missing_password_file(self):
        s = self.server("--user", "reporter", "--password", PASSWORD)
        missing = os.path.join(self.tmp, "nope")
        r = self.send(s.url, "--username", "reporter", "--password-file", missing)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(missing, r.stderr)

    def test_tls_required_without_starttls_fails(self):
        s = self.server()
        r = self.send(s.url, "--tls", "required")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stderr.splitlines(), [
            "bw_sendmail: %s: the server offers no STARTTLS, and tls: required" % s.url])
        self.assertEqual(s.messages(), [])

    def test_server_down(self):
        s = self.server("--down")
        r = self.send(s.url)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stdout, "")
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertIn("127.0.0.1:%d" % s.port, r.stderr)
        self.assertRegex(r.stderr, r"(?i)connect")

    def test_timeout_when_the_server_never_answers(self):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)  # the kernel accepts; nobody ever says 220
        try:
            port = listener.getsockname()[1]
            start = time.monotonic()
            r = self.send("smtp://127.0.0.1:%d" % port, "--timeout-ms", "1500")
            took = time.monotonic() - start
        finally:
            listener.close()
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertIn("127.0.0.1:%d" % port, r.stderr)
        self.assertRegex(r.stderr, r"(?i)time(d)? ?out")
        self.assertGreater(took, 1.2)
        self.assertLess(took, 10)


if __name__ == "__main__":
    unittest.main()
