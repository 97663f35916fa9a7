"""Real servers on loopback for the integration tests, and benchwatch run as a user runs it.

The servers are bw_faultd (tests/servers/bw_faultd.c) and Debian's nginx (tests/servers/nginx.sh),
each on a port the kernel picked. Paths come from the environment ctest sets:
BW_CLI, BW_FAULTD and BW_SOURCE_DIR.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

CLI = os.environ.get("BW_CLI", "")
FAULTD = os.environ.get("BW_FAULTD", "")
SOURCE = os.environ.get("BW_SOURCE_DIR", "")
NGINX_SH = os.path.join(SOURCE, "tests", "servers", "nginx.sh")


def free_port():
    """A loopback port nothing listens on right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Faultd:
    """One bw_faultd process; extra arguments such as ["--slow", "150"] make a slow node."""

    def __init__(self, *args):
        self.dir = tempfile.mkdtemp(prefix="bw-faultd-")
        port_file = os.path.join(self.dir, "port")
        self.proc = subprocess.Popen([FAULTD, "--port-file", port_file, *args])
        deadline = time.monotonic() + 10
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("bw_faultd did not start")
            time.sleep(0.01)
        with open(port_file) as f:
            self.port = int(f.read())
        self.base = "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)
        if rc != 0:
            raise RuntimeError("bw_faultd exited %d" % rc)


class Nginx:
    def __init__(self, big="64M", limit_rate=None, access_log=False, workers=None,
                 cert_days=None):
        if not os.path.exists("/usr/sbin/nginx"):
            raise unittest.SkipTest("nginx not installed (apt-get install nginx-light)")
        self.dir = tempfile.mkdtemp(prefix="bw-nginx-")
        env = dict(os.environ)
        if limit_rate:
            env["NGINX_LIMIT_RATE"] = limit_rate
        if access_log:
            env["NGINX_ACCESS_LOG"] = "1"  # "PORT CONNECTION STATUS \"REQUEST\""
        if workers:
            env["NGINX_WORKERS"] = str(workers)
        if cert_days:
            env["NGINX_CERT_DAYS"] = str(cert_days)
        out = subprocess.run([NGINX_SH, "start", self.dir, big], check=True,
                             capture_output=True, text=True, env=env)
        self.port = int(out.stdout.strip())
        self.base = "http://127.0.0.1:%d" % self.port
        self.www = os.path.join(self.dir, "www")
        self.access_log = os.path.join(self.dir, "logs", "access.log")
        tls = os.path.join(self.dir, "tls_port")
        self.tls_base = None
        if os.path.exists(tls):
            with open(tls) as f:
                self.tls_base = "https://localhost:%d" % int(f.read())

    def stop(self):
        subprocess.run([NGINX_SH, "stop", self.dir], check=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class Squid:
    """Debian's squid as a forward proxy on a free loopback port, with its own config, logs and
    no cache: every request goes to the server. The access log has one line per request, with the
    client's address and port (%>a:%>p), so that a test can count the connections the client
    opened to the proxy."""

    def __init__(self):
        squid = shutil.which("squid") or "/usr/sbin/squid"
        if not os.path.exists(squid):
            raise unittest.SkipTest("squid not installed (apt-get install squid)")
        self.dir = tempfile.mkdtemp(prefix="bw-squid-")
        os.makedirs(os.path.join(self.dir, "logs"))
        self.access_log = os.path.join(self.dir, "logs", "access.log")
        self.proc = None
        for _ in range(5):  # the port may be taken between free_port() and squid's bind
            self.port = free_port()
            conf = os.path.join(self.dir, "squid.conf")
            with open(conf, "w") as f:
                f.write("http_port 127.0.0.1:%d\n" % self.port
                        + "pid_filename %s/squid.pid\n" % self.dir
                        + "cache_log %s/logs/cache.log\n" % self.dir
                        + "logformat bw %ts.%03tu %>a:%>p %rm %ru %>Hs %<st\n"
                        + "access_log stdio:%s bw\n" % self.access_log
                        + "cache deny all\ncache_mem 8 MB\n"
                        + "coredump_dir %s\n" % self.dir
                        + "visible_hostname bw-test\nshutdown_lifetime 0 seconds\n"
                        + "pinger_enable off\nnetdb_filename none\n"
                        + "http_access allow localhost\nhttp_access deny all\n"
                        + ("cache_effective_user proxy\n" if os.getuid() == 0 else ""))
            if os.getuid() == 0:  # squid drops root for the proxy user, who must write its logs
                subprocess.run(["chown", "-R", "proxy", self.dir], check=True)
            self.proc = subprocess.Popen([squid, "-N", "-f", conf], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    self.url = "http://127.0.0.1:%d" % self.port
                    return
                except OSError:
                    time.sleep(0.05)
            self.stop_process()
        log = os.path.join(self.dir, "logs", "cache.log")
        why = open(log).read()[-2000:] if os.path.exists(log) else "no cache.log"
        shutil.rmtree(self.dir, ignore_errors=True)
        raise unittest.SkipTest("squid did not start: %s" % why)

    def stop_process(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def requests(self):
        """The access log's lines as (client address:port, method, URL, status)."""
        if not os.path.exists(self.access_log):
            return []
        with open(self.access_log) as f:
            return [tuple(line.split()[1:5]) for line in f if line.strip()]

    def stop(self):
        self.stop_process()
        shutil.rmtree(self.dir, ignore_errors=True)


def run(*args, check=True, timeout=120):
    """benchwatch run ARGS --json: (exit status, the result objects, stderr)."""
    p = subprocess.run([CLI, "run", "--json", *args], capture_output=True, text=True,
                       timeout=timeout)
    results = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    if check and p.returncode != 0:
        raise AssertionError("benchwatch run %s: exit %d: %s" % (args, p.returncode, p.stderr))
    return p.returncode, results, p.stderr


def run_one(*args, **kw):
    rc, results, err = run(*args, **kw)
    assert len(results) == 1, results
    return rc, results[0], err


def stalled_steps(result, floor_bps):
    """Timeline steps slower than floor_bps, as (start s, length s)."""
    return [(s["at_us"] / 1e6, s["duration_us"] / 1e6) for s in result["samples"]
            if s["duration_us"] > 0 and s["bytes"] * 1e6 / s["duration_us"] < floor_bps]
