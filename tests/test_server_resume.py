#!/usr/bin/env python3
"""test_server_resume.py: TLS session resumption and 0-RTT with gtlsclient.

    test_server_resume.py SERVER CLI workers N [--no-bpf]
    test_server_resume.py SERVER CLI takeover [--no-bpf]
    test_server_resume.py SERVER CLI no-early-data

  workers   one full handshake stores a ticket; then new connections
            resume it, each sending its GET in 0-RTT, until every one of
            the N workers has accepted 0-RTT (the ticket key is the
            instance's, not the worker's); `quicsteer stat --json` counts
            them per worker.  A POST sent in 0-RTT is held until the
            handshake completes (early_deferred), then answered, never 425.
            The instance's ticket key file is 0600 and removed with the
            last generation.
  takeover  a successor started with --takeover (kernel steering, or
            --no-bpf with --secret-file) resumes the predecessor's tickets.
            A ticket issued before the successor started gets no 0-RTT
            there (its replay record starts empty: docs/server.md); a client
            connected during the takeover receives a fresh ticket with the
            GOAWAY and comes back to the successor with 0-RTT.
  no-early-data  tickets still resume; no 0-RTT is offered or accepted.
  rotation  --ticket-lifetime 2: GnuTLS's key period is 6 s; a ticket issued
            in the last second of a period resumes in the next one (the
            previous period's key is still accepted).  (Expiry is GnuTLS's
            own check; gtlsclient 0.12 cannot even start a connection from
            an expired session file, so it is not driven here.)
  proxy     through --proxy to an HTTP/1.1 upstream: a GET in 0-RTT is
            forwarded with Early-Data: 1 and the upstream's 425 reaches the
            client; a POST in 0-RTT is forwarded only after the handshake,
            without Early-Data, with its whole body; a 1-RTT GET carries none.
"""
import http.server
import json
import os
import threading
import shutil
import stat as statmod
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_lib import (GTLSCLIENT, TOP, Server, check, finish,  # noqa: E402
                             need_gtlsclient, response_headers, tmpdir, unique_name)

REJECTED = "Early data was rejected by server"
INDEX = os.path.join(TOP, "www", "index.html")


def stat(cli, name):
    r = subprocess.run([cli, "stat", "--name", name, "--json"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    if r.returncode != 0:
        print(r.stderr, file=sys.stderr)
        return None
    return json.loads(r.stdout.splitlines()[0])


def workers_of(cli, name, generation):
    for g in (stat(cli, name) or {}).get("generations", []):
        if g["generation"] == generation:
            return g["workers"]
    return []


def total(ws, field):
    return sum(w[field] for w in ws)


class Client:
    """gtlsclient runs sharing one session (ticket) and transport parameter file."""

    def __init__(self, tmp, tag):
        self.sess = os.path.join(tmp, tag + ".session")
        self.tp = os.path.join(tmp, tag + ".tp")

    def copy(self, tmp, tag):
        c = Client(tmp, tag)
        shutil.copy(self.sess, c.sess)
        shutil.copy(self.tp, c.tp)
        return c

    def cmd(self, port, path="/", extra=()):
        # not -q: the 0-RTT refusal and the response headers are printed
        return [GTLSCLIENT, "--no-quic-dump", "--no-http-dump", "--session-file", self.sess,
                "--tp-file", self.tp] + list(extra) + ["127.0.0.1", str(port),
                                                       "https://127.0.0.1:%d%s" % (port, path)]

    def run(self, port, path="/", extra=(), download=None):
        args = ["--exit-on-all-streams-close", "--timeout=10s"] + list(extra)
        if download:
            args += ["--download", download]
        r = subprocess.run(self.cmd(port, path, args), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, errors="replace", timeout=60)
        return r.returncode, r.stdout


def index_ok(d):
    p = os.path.join(d, "index.html")
    if not os.path.exists(p):
        return False
    with open(p, "rb") as f, open(INDEX, "rb") as g:
        return f.read() == g.read()


def key_file(name):
    return "/run/quicsteer/%s/ticket.key" % name


def case_workers(server, cli, tmp, nworkers, args):
    name = unique_name("rs")
    srv = Server(server, tmp, ["--workers", str(nworkers)] + args, name=name)
    try:
        c = Client(tmp, "w")
        rc, out = c.run(srv.port)
        check(rc == 0 and os.path.exists(c.sess) and os.path.exists(c.tp),
              "first connection: full handshake, ticket and transport parameters stored")
        st = os.stat(key_file(name))
        check(statmod.S_IMODE(st.st_mode) == 0o600 and st.st_size == 32,
              "instance ticket key %s: 32 octets, mode 0600" % key_file(name))
        runs, refused, bad = 0, 0, 0
        # every worker must accept 0-RTT; the Initials spread by a hash of
        # the client's random DCID: bounded, 60 runs miss a worker of 4
        # with p < 4 * (3/4)^60
        while runs < 60:
            d = os.path.join(tmp, "dl%d" % runs)
            os.makedirs(d)
            rc, out = c.run(srv.port, download=d)
            runs += 1
            refused += REJECTED in out
            bad += rc != 0 or not index_ok(d)
            ws = workers_of(cli, name, srv.generation)
            if len(ws) == nworkers and all(w["early_accepted"] > 0 for w in ws) and runs >= 4:
                break
        ws = workers_of(cli, name, srv.generation)
        print("per worker: resumed %s early_accepted %s early_rejected %s full %s" % (
            [w["tls_resumed"] for w in ws], [w["early_accepted"] for w in ws],
            [w["early_rejected"] for w in ws], [w["tls_full"] for w in ws]))
        check(bad == 0, "%d resumed GETs answered with the right body" % runs)
        check(refused == 0, "no 0-RTT refused (gtlsclient)")
        check(len(ws) == nworkers and all(w["early_accepted"] > 0 for w in ws),
              "each of the %d workers accepted 0-RTT" % nworkers)
        check(total(ws, "tls_full") == 1 and total(ws, "tls_resumed") == runs,
              "1 full and %d resumed handshakes counted (%d, %d)" % (
                  runs, total(ws, "tls_full"), total(ws, "tls_resumed")))
        check(total(ws, "early_accepted") == runs and total(ws, "early_rejected") == 0,
              "%d 0-RTT accepted, none refused (%d, %d)" % (
                  runs, total(ws, "early_accepted"), total(ws, "early_rejected")))

        text = subprocess.run([cli, "stat", "--name", name], stdout=subprocess.PIPE,
                              text=True, timeout=30).stdout
        check("tls: tls_full 1 tls_resumed %d early_accepted %d early_rejected 0" % (runs, runs)
              in text, "`quicsteer stat` shows the sums on its tls: line")

        # a POST in 0-RTT: held until the handshake completes, then answered
        body = os.path.join(tmp, "body")
        with open(body, "wb") as f:
            f.write(os.urandom(3000))
        rc, out = c.run(srv.port, extra=["-m", "POST", "-d", body])
        ws2 = workers_of(cli, name, srv.generation)
        hdrs = response_headers(out)
        check(REJECTED not in out and total(ws2, "early_accepted") == runs + 1,
              "the POST's connection had 0-RTT accepted")
        check(total(ws2, "early_deferred") == 1, "the POST from 0-RTT waited for the handshake "
              "(early_deferred %d)" % total(ws2, "early_deferred"))
        check(rc == 0 and hdrs.get(":status") not in (None, "425"),
              "the POST was answered after the handshake, not refused with 425 (%s)"
              % hdrs.get(":status"))
        check(total(ws2, "early_deferred") == 1 and
              total(ws2, "requests") == total(ws, "requests") + 1,
              "the deferred request counted once")
    finally:
        srv.stop_and_check()
    check(not os.path.exists(key_file(name)), "the last generation removed the ticket key")


def case_takeover(server, cli, tmp, args):
    name = unique_name("rt")
    base = ["--workers", "2"] + args
    if "--no-bpf" in args:
        secret = os.path.join(tmp, "secret")
        with open(secret, "wb") as f:
            f.write(os.urandom(32))
        base += ["--secret-file", secret]
    old = Server(server, tmp, base + ["--drain-timeout", "10"], name=name)
    new = None
    try:
        a = Client(tmp, "a")
        rc, _ = a.run(old.port)
        check(rc == 0, "generation 1: full handshake, ticket stored")
        if "--no-bpf" in args:
            check(not os.path.exists(key_file(name)),
                  "with --secret-file the ticket key comes from it (no key file)")
        stale = a.copy(tmp, "stale")
        # a client that stays connected (idle) through the takeover
        b = a.copy(tmp, "b")
        idle = subprocess.Popen(b.cmd(old.port, extra=["--timeout=20s"]),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace")
        deadline = time.time() + 10
        while time.time() < deadline:
            ws = workers_of(cli, name, old.generation)
            if total(ws, "tls_resumed") >= 1:
                break
            time.sleep(0.05)
        check(total(ws, "early_accepted") == 1, "generation 1: the idle client resumed with 0-RTT")
        before = os.stat(b.sess).st_mtime_ns
        new = Server(server, tmp, base + ["--takeover", "--listen", "127.0.0.1:%d" % old.port],
                     name=name, cert=old.cert)
        check(new.generation == old.generation + 1, "successor is generation %d" % new.generation)
        try:
            out, _ = idle.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            idle.kill()
            out, _ = idle.communicate()
        check(os.stat(b.sess).st_mtime_ns != before,
              "the draining predecessor sent the connected client a fresh ticket")

        rc, out = b.run(new.port)
        ws = workers_of(cli, name, new.generation)
        check(rc == 0 and REJECTED not in out, "after the takeover: GET resumed (exit %d)" % rc)
        check(total(ws, "tls_resumed") == 1 and total(ws, "early_accepted") == 1,
              "the successor resumed the predecessor's ticket with 0-RTT accepted "
              "(resumed %d, early %d)" % (total(ws, "tls_resumed"), total(ws, "early_accepted")))
        rc, out = stale.run(new.port)
        ws = workers_of(cli, name, new.generation)
        check(rc == 0, "a ticket from before the takeover resumes")
        check(total(ws, "tls_resumed") == 2 and total(ws, "early_rejected") == 1 and
              REJECTED in out,
              "... but its 0-RTT is refused: the successor never recorded its ClientHellos")
        check(total(ws, "tls_full") == 0, "no full handshake on the successor")
    finally:
        if new:
            new.stop_and_check()
        old.stop()
        old.check_clean()


def case_no_early_data(server, cli, tmp):
    name = unique_name("rn")
    srv = Server(server, tmp, ["--workers", "2", "--no-early-data"], name=name)
    try:
        c = Client(tmp, "n")
        rc, _ = c.run(srv.port)
        check(rc == 0, "full handshake")
        for _ in range(3):
            rc, out = c.run(srv.port)
            check(rc == 0, "resumed GET answered")
        ws = workers_of(cli, name, srv.generation)
        check(total(ws, "tls_resumed") == 3, "3 resumed handshakes (%d)" % total(ws, "tls_resumed"))
        check(total(ws, "early_accepted") == 0, "no 0-RTT accepted with --no-early-data")
    finally:
        srv.stop_and_check()


class Upstream(http.server.BaseHTTPRequestHandler):
    """Records what reached it; /too-early answers 425 to early data."""
    seen = []
    protocol_version = "HTTP/1.1"

    def answer(self, body=b""):
        early = self.headers.get("Early-Data")
        Upstream.seen.append((self.command, self.path, early, body))
        status = 425 if self.path.endswith("/too-early") and early == "1" else 200
        out = b"upstream %s %s early=%s body=%d\n" % (self.command.encode(), self.path.encode(),
                                                      str(early).encode(), len(body))
        self.send_response(status)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_GET(self):
        self.answer()

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.answer(self.rfile.read(n))

    def log_message(self, *args):
        pass


def case_proxy(server, cli, tmp):
    up = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=up.serve_forever, daemon=True).start()
    name = unique_name("rp")
    srv = Server(server, tmp, ["--workers", "2", "--proxy",
                               "/up=http://127.0.0.1:%d" % up.server_address[1]], name=name)
    try:
        c = Client(tmp, "p")
        rc, out = c.run(srv.port, "/up/first")
        check(rc == 0 and Upstream.seen and Upstream.seen[-1][2] is None,
              "1-RTT GET proxied without Early-Data (%s)" % (Upstream.seen[-1:],))
        rc, out = c.run(srv.port, "/up/early")
        check(REJECTED not in out and response_headers(out).get(":status") == "200",
              "0-RTT GET proxied and answered")
        check(Upstream.seen[-1][:3] == ("GET", "/up/early", "1"),
              "the upstream saw Early-Data: 1 (%s)" % (Upstream.seen[-1][:3],))
        rc, out = c.run(srv.port, "/up/too-early")
        check(REJECTED not in out and response_headers(out).get(":status") == "425",
              "the upstream's 425 Too Early reaches the client (%s)"
              % response_headers(out).get(":status"))
        body = os.path.join(tmp, "pbody")
        data = os.urandom(20000)
        with open(body, "wb") as f:
            f.write(data)
        rc, out = c.run(srv.port, "/up/post", extra=["-m", "POST", "-d", body])
        ws = workers_of(cli, name, srv.generation)
        check(REJECTED not in out and response_headers(out).get(":status") == "200",
              "0-RTT POST proxied and answered")
        check(total(ws, "early_deferred") == 1, "the POST waited for the handshake")
        check(Upstream.seen[-1][:3] == ("POST", "/up/post", None) and
              Upstream.seen[-1][3] == data,
              "the upstream got the POST after the handshake: no Early-Data, whole body")
        check(total(ws, "early_accepted") == 3, "3 connections with 0-RTT accepted (%d)"
              % total(ws, "early_accepted"))
    finally:
        srv.stop_and_check()
        up.shutdown()


def case_rotation(server, cli, tmp):
    life = 2
    period = 3 * life  # GnuTLS rotates every 3 lifetimes (docs/tls.md)
    name = unique_name("rr")
    srv = Server(server, tmp, ["--workers", "2", "--ticket-lifetime", str(life)], name=name)
    try:
        c = Client(tmp, "rot")
        # a ticket issued in the last second of a period: the run must start
        # and end within it (bounded: 3 tries of at most one period each)
        for _ in range(3):
            while time.time() % period < period - 1.0 or time.time() % period > period - 0.6:
                time.sleep(0.02)
            t0 = time.time()
            rc, _ = c.run(srv.port)
            t1 = time.time()
            if t0 // period == t1 // period:
                break
        check(rc == 0 and t0 // period == t1 // period,
              "ticket issued %.2f s before a key rotation" % (period - t1 % period))
        nxt = (t0 // period + 1) * period
        while time.time() < nxt + 0.05:
            time.sleep(0.01)
        check(time.time() - t0 < life, "the ticket is still within its %d s lifetime" % life)
        before = total(workers_of(cli, name, srv.generation), "tls_resumed")
        rc, _ = c.run(srv.port)
        ws = workers_of(cli, name, srv.generation)
        check(rc == 0 and total(ws, "tls_resumed") == before + 1,
              "the ticket of the previous period resumes (resumed %d -> %d)"
              % (before, total(ws, "tls_resumed")))
    finally:
        srv.stop_and_check()


def main():
    server, cli, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    need_gtlsclient()
    tmp = tmpdir("resume")
    if mode == "workers":
        case_workers(server, cli, tmp, int(sys.argv[4]), sys.argv[5:])
    elif mode == "takeover":
        case_takeover(server, cli, tmp, sys.argv[4:])
    elif mode == "no-early-data":
        case_no_early_data(server, cli, tmp)
    elif mode == "rotation":
        case_rotation(server, cli, tmp)
    elif mode == "proxy":
        case_proxy(server, cli, tmp)
    else:
        print("unknown mode %s" % mode, file=sys.stderr)
        sys.exit(2)
    shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
