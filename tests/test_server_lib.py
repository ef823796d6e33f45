"""test_server_lib.py: helpers for the quicsteer-server system tests
(tests/test_server_*.py).  Not a test itself.

Each test starts its own server on 127.0.0.1 port 0 (the kernel picks a
free port, printed in the start-up report) with a unique --name, so tests
run concurrently.  Sanitizer reports in the server's stderr fail the test.
"""
import hashlib
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
DEV_CERT = os.path.join(TOP, "scripts", "dev-cert.sh")
GTLSCLIENT = "/usr/bin/gtlsclient"
SKIP = 77

BYTES_LINE = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-\n"

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: ThreadSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")

failures = []


def check(cond, what):
    """Record a failed expectation (the test goes on, and fails at the end)."""
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr, flush=True)
    else:
        print("ok:", what, flush=True)
    return cond


def finish():
    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        sys.exit(1)
    print("all checks passed")
    sys.exit(0)


def bytes_body(n):
    """The body of GET /bytes/N."""
    reps = n // len(BYTES_LINE) + 1
    return (BYTES_LINE * reps)[:n]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def make_cert(tmp):
    d = os.path.join(tmp, "cert")
    subprocess.run(["bash", DEV_CERT, d], check=True, stdout=subprocess.DEVNULL)
    return d


def unique_name(tag):
    return "t%s-%d-%d" % (tag, os.getpid(), int(time.time() * 1000) % 100000)


def sanitizer_env():
    env = dict(os.environ)
    # a sanitizer report must end the process with a visible failure
    env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    supp = os.path.join(HERE, "tsan.supp")
    if os.path.exists(supp):
        env.setdefault("TSAN_OPTIONS", "suppressions=%s:halt_on_error=0:exitcode=66" % supp)
    return env


class Server:
    """One quicsteer-server process."""

    def __init__(self, binary, tmp, args, name=None, cert=None, timeout=30, bare=False,
                 bytes_endpoint=True, prefix=()):
        """bare: run exactly |args| (a --conf file names cert, key, name and
        listen address); |name| is then only the tag of the output files.
        bytes_endpoint: pass --bytes-endpoint (most tests download /bytes/N,
        which is off by default).
        prefix: runs it elsewhere, e.g. ("nsenter", "--net=/run/netns/NS")."""
        self.tmp = tmp
        self.cert = cert if bare else (cert or make_cert(tmp))
        self.name = name or unique_name("s")
        self.errpath = os.path.join(tmp, "server-%s-%d.err" % (self.name, time.monotonic_ns()))
        self.outpath = self.errpath[:-4] + ".out"
        if bare:
            cmd = list(prefix) + [binary] + list(args)
        else:
            cmd = list(prefix) + [binary, "--cert", os.path.join(self.cert, "cert.pem"),
                   "--key", os.path.join(self.cert, "key.pem"), "--name", self.name] + list(args)
        if bytes_endpoint and not bare:
            cmd.append("--bytes-endpoint")
        if not bare and not any(a == "--listen" or a.startswith("--listen=") for a in args):
            cmd += ["--listen", "127.0.0.1:0"]
        self.cmd = cmd
        self.out = open(self.outpath, "w")
        self.err = open(self.errpath, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=self.err,
                                     env=sanitizer_env())
        self.port = None
        self.ports = []
        self.report = ""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with open(self.outpath) as f:
                self.report = f.read()
            if "steering:" in self.report:
                break
            if self.proc.poll() is not None:
                raise RuntimeError("server exited with %d: %s" % (self.proc.returncode,
                                                                  self.stderr()))
            time.sleep(0.05)
        else:
            self.kill()
            raise RuntimeError("server did not start: %s" % self.stderr())
        m = re.search(r"listening on (.*)", self.report)
        for a in m.group(1).split(", "):
            self.ports.append(int(a.rsplit(":", 1)[1]))
        self.port = self.ports[0]
        m = re.search(r"generation (\d+)", self.report)
        self.generation = int(m.group(1)) if m else 1
        m = re.search(r"stats: (\S+)", self.report)
        self.stats_path = m.group(1) if m else None
        self.kernel_steering = "steering: kernel" in self.report

    def url(self, path):
        return "https://127.0.0.1:%d%s" % (self.port, path)

    def stderr(self):
        if not self.err.closed:
            self.err.flush()
        with open(self.errpath) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Stop the server; returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            check(False, "server stopped within %ds" % timeout)
        self.out.close()
        self.err.close()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def check_clean(self):
        text = self.stderr()
        bad = [m for m in SANITIZER_MARKS if m in text]
        check(not bad, "no sanitizer report from the server")
        if bad:
            print(text[-6000:], file=sys.stderr)

    def stop_and_check(self):
        rc = self.stop()
        check(rc == 0, "server exits 0 on SIGTERM (got %s)" % rc)
        self.check_clean()
        return rc

    # ---- statistics ----
    # the record's counters in order, read from the header the server is
    # built from, so a new counter needs no second list here
    FIELDS = tuple(re.findall(r"^\s*uint64_t (\w+);", re.search(
        r"struct qs_wstats \{(.*?)\};", open(os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "..", "include", "quicsteer",
            "wstats.h")).read(), re.S).group(1), re.M))
    RECORD = 64  # counters a worker record (include/quicsteer/wstats.h)

    def stats(self):
        """Per-worker counters from the wstats file: a list of dicts."""
        with open(self.stats_path, "rb") as f:
            data = f.read()
        magic, version, pid, gen, nworkers, steering, started = struct.unpack_from("<6IQ", data)
        if magic != 0x71737773:
            raise RuntimeError("bad stats magic")
        out = []
        for w in range(nworkers):
            vals = struct.unpack_from("<%dQ" % self.RECORD, data, 32 + w * 8 * self.RECORD)
            out.append(dict(zip(self.FIELDS, vals)))
        return out

    def total(self, field):
        return sum(w[field] for w in self.stats())


def gtlsclient(host, port, urls, download=None, extra=(), timeout=120, quiet=True):
    """Run Debian's gtlsclient; returns the CompletedProcess (text output)."""
    cmd = [GTLSCLIENT]
    if quiet:
        cmd.append("-q")
    else:
        cmd += ["--no-quic-dump"]
    cmd += ["--exit-on-all-streams-close", "--timeout=10s"]
    if download:
        cmd += ["--download", download]
    cmd += list(extra) + [host, str(port)] + list(urls)
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout, text=not quiet, errors="replace" if not quiet else None)


def response_headers(output):
    """Header fields gtlsclient printed for stream 0, as a dict."""
    hdrs = {}
    for m in re.finditer(r"http: stream 0x0 \[([^:\]]*|:[^:\]]*): ([^\]]*)\]", output):
        hdrs[m.group(1)] = m.group(2)
    return hdrs


def need_gtlsclient():
    if not os.access(GTLSCLIENT, os.X_OK):
        print("gtlsclient (package ngtcp2-client) is missing: skipping", file=sys.stderr)
        sys.exit(SKIP)


def in_netns():
    """Re-run this script in a private network namespace with loopback up,
    so nothing it starts can reach beyond it."""
    if os.environ.get("QS_TEST_NETNS") == "1":
        return
    env = dict(os.environ, QS_TEST_NETNS="1")
    cmd = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
           sys.executable] + sys.argv
    try:
        rc = subprocess.call(cmd, env=env)
    except OSError as e:
        print("cannot create a network namespace: %s" % e, file=sys.stderr)
        sys.exit(1)
    sys.exit(rc)


def tmpdir(tag):
    return tempfile.mkdtemp(prefix="qs-%s-" % tag)
