#!/usr/bin/env python3
"""test_load_quicsteer.py: quicsteer-load end to end against quicsteer-server
(the benchmark suite's pairing, bench/run.py).

    test_load_quicsteer.py LOAD_BINARY SERVER_BINARY CASE

Each case starts its own quicsteer-server on 127.0.0.1 port 0 under a
unique --name (tests/test_server_lib.py), serving a document root made for
it, runs quicsteer-load --json, and checks the exit status and the counts
on both sides (the client's JSON, the server's stats file):

  basic          keep-alive, new connection per request, /bytes/N with
                 --verify-bytes, --latency-hist (2 workers);
  rebind_bpf, migrate_bpf    every rebound / migrated connection finishes,
                 with kernel steering (nothing relayed; exit 77 if BPF
                 cannot be loaded here);
  rebind_user, migrate_user  the same with user-space forwarding only
                 (--no-bpf): the other worker relays, and still all finish;
  noforward      plain SO_REUSEPORT (--no-bpf --no-forward): rebound and
                 migrated connections that land on the other worker get a
                 stateless reset, and quicsteer-load must count them lost
                 (exit 1; keep-alive slots do not reconnect);
  hold           --hold keeps connections open idle, past the idle
                 timeout thanks to keep-alive PINGs, announces on stderr
                 when all are open, and closes them cleanly afterwards.
"""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_lib import (SKIP, Server, check, finish, sanitizer_env,  # noqa: E402
                             tmpdir)

FILES = {"index.html": b"<!doctype html><title>t</title>\n", "1k.bin": bytes(range(256)) * 4}


def load(binary, *args, timeout=120):
    """Runs quicsteer-load --json; returns (exit status, JSON or None, stderr)."""
    p = subprocess.run([binary, "--json", "--no-progress", "--initial-rtt", "10", *args],
                       capture_output=True, text=True, timeout=timeout, env=sanitizer_env())
    clean_stderr(p.stderr, args)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        check(False, "%s: stdout is one JSON object: %r %r" % (args, p.stdout, p.stderr))
        doc = None
    return p.returncode, doc, p.stderr


def clean_stderr(text, what):
    check("Sanitizer" not in text and "runtime error:" not in text,
          "%s: no sanitizer report from quicsteer-load: %s" % (what, text[-3000:]))


def no_errors(d, what):
    errs = {k: v for k, v in d["errors"].items() if v}
    check(not errs, "%s: no errors (got %s)" % (what, errs))


def start(server_bin, tmp, args):
    www = os.path.join(tmp, "www")
    os.makedirs(www, exist_ok=True)
    for name, data in FILES.items():
        with open(os.path.join(www, name), "wb") as f:
            f.write(data)
    return Server(server_bin, tmp, ["--root", www, "--initial-rtt", "10", "--drain-timeout", "1"]
                  + list(args))


def case_basic(lb, srv):
    c, n, k = 4, 50, 2
    urls = [srv.url("/1k.bin"), srv.url("/bytes/3000"), srv.url("/index.html")]
    before = srv.total("requests")
    rc, d, err = load(lb, *urls, "-c", str(c), "-n", str(n), "-m", str(k), "--verify-bytes",
                      "--latency-hist")
    total = c * n
    check(rc == 0, "keep-alive: exit 0 (got %d: %s)" % (rc, err[-500:]))
    check(d["connections"] == {"started": c, "handshakes": c, "failed": 0},
          "keep-alive: connections %s" % d["connections"])
    check(d["requests"] == {"sent": total, "ok": total, "failed": 0, "not_sent": 0},
          "keep-alive: requests %s" % d["requests"])
    check(d["status"] == {"200": total}, "keep-alive: all 200 (%s)" % d["status"])
    # round robin over the three URLs, each thread starting at its own place
    want = sum((1024, 3000, len(FILES["index.html"]))[i % 3] for i in range(total))
    check(d["body_bytes"] == want, "keep-alive: body octets %d, want %d" % (d["body_bytes"],
                                                                            want))
    check(srv.total("requests") - before == total,
          "keep-alive: the server counted %d requests" % (srv.total("requests") - before))
    no_errors(d, "keep-alive")
    # --latency-hist: the histogram behind the percentiles
    h = d.get("latency_hist_us")
    check(isinstance(h, list) and h, "latency_hist_us present")
    if h:
        edges = [e for e, _ in h]
        check(edges == sorted(edges) and len(set(edges)) == len(edges),
              "latency histogram edges ascend")
        check(sum(n for _, n in h) == d["latency_us"]["count"] == total,
              "latency histogram counts sum to the latency count")
        seen, p50 = 0, None
        for e, cnt in h:
            seen += cnt
            if seen >= total / 2:
                p50 = e
                break
        check(p50 is not None and abs(min(p50, d["latency_us"]["max"]) - d["latency_us"]["p50"])
              < 0.002 * d["latency_us"]["p50"] + 0.01,
              "histogram median %s matches p50 %s" % (p50, d["latency_us"]["p50"]))
    rc, d, err = load(lb, srv.url("/1k.bin"))
    check("latency_hist_us" not in d, "no histogram without --latency-hist")

    # a new connection per request
    acc = srv.total("conns_accepted")
    rc, d, err = load(lb, srv.url("/bytes/1000"), "-c", "4", "-n", "10", "--new-conn",
                      "--verify-bytes")
    check(rc == 0, "new-conn: exit 0 (got %d: %s)" % (rc, err[-500:]))
    check(d["connections"] == {"started": 40, "handshakes": 40, "failed": 0},
          "new-conn: connections %s" % d["connections"])
    check(d["requests"]["ok"] == 40 and d["body_bytes"] == 40000,
          "new-conn: requests %s, %d octets" % (d["requests"], d["body_bytes"]))
    check(srv.total("conns_accepted") - acc == 40,
          "new-conn: the server accepted %d connections" % (srv.total("conns_accepted") - acc))
    no_errors(d, "new-conn")

    check(d["tls"] == {"resumed": 0}, "new-conn: no resumption without --resume")
    # --resume: one full handshake per thread, then resumed ones
    full, res = srv.total("tls_full"), srv.total("tls_resumed")
    rc, d, err = load(lb, srv.url("/bytes/1000"), "-c", "4", "-n", "10", "--new-conn",
                      "--resume", "-t", "2")
    check(rc == 0 and d["requests"]["ok"] == 40, "resume: exit 0, 40 requests (%d)" % rc)
    check(d["tls"]["resumed"] >= 40 - 2 * 2,
          "resume: at most the first connection of each slot pair is full (%s resumed)"
          % d["tls"]["resumed"])
    check(srv.total("tls_resumed") - res == d["tls"]["resumed"] and
          srv.total("tls_full") - full == 40 - d["tls"]["resumed"],
          "resume: the server counted the same resumptions (%d full, %d resumed)"
          % (srv.total("tls_full") - full, srv.total("tls_resumed") - res))
    no_errors(d, "resume")

    # the smallest body: an empty /bytes/0 is still exactly right
    rc, d, err = load(lb, srv.url("/bytes/0"), "-n", "2", "--verify-bytes")
    check(rc == 0 and d["requests"]["ok"] == 2 and d["body_bytes"] == 0,
          "/bytes/0: two empty bodies (exit %d, %s)" % (rc, d["requests"]))


def switch_case(lb, srv, mode, relayed):
    """Every connection moves (--rebind or --migrate) and finishes."""
    f0 = srv.total("fwd_out")
    c, n = 20, 10
    rc, d, err = load(lb, srv.url("/bytes/5000"), srv.url("/1k.bin"), "-c", str(c), "-n",
                      str(n), "-m", "2", "--" + mode, "--verify-bytes")
    want = {"attempted": c, "validated": c if mode == "migrate" else 0, "completed": c,
            "failed": 0, "unavailable": 0}
    check(rc == 0, "%s: exit 0 (got %d: %s)" % (mode, rc, err[-500:]))
    check(d[mode] == want, "%s: %s, want %s (100%% finish)" % (mode, d[mode], want))
    check(d["requests"] == {"sent": c * n, "ok": c * n, "failed": 0, "not_sent": 0},
          "%s: requests %s" % (mode, d["requests"]))
    no_errors(d, mode)
    # one request per connection: the change comes before it
    rc, d, err = load(lb, srv.url("/1k.bin"), "-c", "4", "-n", "5", "--new-conn", "--" + mode)
    check(rc == 0 and d[mode]["completed"] == 20 and d["requests"]["ok"] == 20,
          "%s before the only request: exit %d, %s" % (mode, rc, d[mode]))
    moved = srv.total("fwd_out") - f0
    if relayed:
        # 40 connections moved to new 4-tuples: some hash to the other worker
        check(moved > 0, "%s without BPF: the other worker relayed (%d)" % (mode, moved))
    else:
        check(moved == 0, "%s with BPF: nothing relayed (%d)" % (mode, moved))


def case_rebind_bpf(lb, srv):
    switch_case(lb, srv, "rebind", False)


def case_migrate_bpf(lb, srv):
    switch_case(lb, srv, "migrate", False)


def case_rebind_user(lb, srv):
    switch_case(lb, srv, "rebind", True)


def case_migrate_user(lb, srv):
    switch_case(lb, srv, "migrate", True)


def case_noforward(lb, srv):
    c, n = 40, 4
    for mode in ("rebind", "migrate"):
        r0 = srv.total("resets_tx")
        rc, d, err = load(lb, srv.url("/1k.bin"), "-c", str(c), "-n", str(n), "-m", "2",
                          "--" + mode, "--timeout", "5")
        sw = d[mode]
        after = "after_rebind" if mode == "rebind" else "after_migration"
        lost = sw["failed"]
        # each connection lands on the wrong worker with probability 1/2
        check(rc == 1 and 0 < lost < c, "%s, plain SO_REUSEPORT: exit 1 and some lost "
              "(exit %d, %s)" % (mode, rc, sw))
        check(sw["attempted"] == c and sw["completed"] + lost == c,
              "%s: every connection moved once, finished or lost (%s)" % (mode, sw))
        check(d["errors"][after] == lost and d["connections"]["failed"] == lost,
              "%s: the lost ones are %s errors (%s)" % (mode, after, d["errors"]))
        # a stateless reset is not a graceful close: no reconnecting for the
        # rest of a keep-alive slot's requests
        check(d["connections"]["started"] == c,
              "%s: lost slots do not reconnect (%d started)" % (mode,
                                                               d["connections"]["started"]))
        check(d["requests"]["not_sent"] > 0 and
              d["requests"]["ok"] + d["requests"]["failed"] + d["requests"]["not_sent"] == c * n,
              "%s: the lost slots' requests are accounted (%s)" % (mode, d["requests"]))
        check(srv.total("resets_tx") > r0, "%s: the server sent stateless resets" % mode)


def case_hold(lb, srv):
    # --timeout 3: the idle timeout both ends agree on (the server's is 30 s),
    # and the handshake limit, generous for a sanitizer build on a busy box
    c, hold, idle = 30, 7.0, 3.0
    cmd = [lb, "--json", "--no-progress", "--initial-rtt", "10", srv.url("/1k.bin"), "-c",
           str(c), "-n", "1", "-t", "2", "--hold", str(hold), "--timeout", str(idle)]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=sanitizer_env())
    line = p.stderr.readline()
    t_line = time.monotonic() - t0
    check("holding %d idle connections (0 slots ended without one)" % c in line,
          "hold: announced on stderr (%r)" % line)
    open_now = srv.total("conns_open")
    check(open_now == c, "hold: the server has %d connections open (want %d)" % (open_now, c))
    # past the idle timeout: PINGs keep them
    time.sleep(max(0.0, idle + 1.5 - (time.monotonic() - t0 - t_line)))
    open_later = srv.total("conns_open")
    check(open_later == c, "hold: still %d open after %.1f s idle (want %d)" % (
        open_later, time.monotonic() - t0 - t_line, c))
    out, err = p.communicate(timeout=60)
    clean_stderr(err, "hold")
    dt = time.monotonic() - t0
    d = json.loads(out)
    check(p.returncode == 0, "hold: exit 0 (got %d: %s)" % (p.returncode, err[-500:]))
    check(d["held_connections"] == c and d["config"]["hold_s"] == hold,
          "hold: %s held, config %s" % (d["held_connections"], d["config"]["hold_s"]))
    check(d["requests"]["ok"] == c and d["connections"]["failed"] == 0,
          "hold: %s, %s" % (d["requests"], d["connections"]))
    check(dt >= hold and d["elapsed_s"] >= hold, "hold: lasted %.1f s >= %.1f" % (dt, hold))
    no_errors(d, "hold")
    # closed with CONNECTION_CLOSE: the server sees them go (draining aside)
    deadline = time.time() + 10
    while time.time() < deadline and srv.total("conns_open"):
        time.sleep(0.1)
    check(srv.total("conns_open") == 0, "hold: the server closed them all afterwards")
    # usage: --hold is for --requests mode
    r = subprocess.run([lb, "--hold", "1", "-D", "1", srv.url("/")], capture_output=True,
                       text=True, timeout=30)
    check(r.returncode == 2 and "--hold" in r.stderr, "--hold with --duration: exit 2 (%d %r)" %
          (r.returncode, r.stderr))
    r = subprocess.run([lb, "--hold", "0", srv.url("/")], capture_output=True, text=True,
                       timeout=30)
    check(r.returncode == 2, "--hold 0: exit 2 (%d)" % r.returncode)


CASES = {
    "basic": (case_basic, ["--workers", "2", "--no-bpf"]),
    "rebind_bpf": (case_rebind_bpf, ["--workers", "2"]),
    "migrate_bpf": (case_migrate_bpf, ["--workers", "2"]),
    "rebind_user": (case_rebind_user, ["--workers", "2", "--no-bpf"]),
    "migrate_user": (case_migrate_user, ["--workers", "2", "--no-bpf"]),
    "noforward": (case_noforward, ["--workers", "2", "--no-bpf", "--no-forward"]),
    "hold": (case_hold, ["--workers", "2", "--no-bpf"]),
}


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in CASES:
        print("usage: %s LOAD_BINARY SERVER_BINARY {%s}" % (sys.argv[0], "|".join(CASES)),
              file=sys.stderr)
        return 2
    lb, server_bin, name = sys.argv[1:]
    fn, args = CASES[name]
    tmp = tmpdir("load-" + name)
    srv = start(server_bin, tmp, args)
    try:
        if name.endswith("_bpf") and not srv.kernel_steering:
            print("kernel steering unavailable here: skipping", file=sys.stderr)
            srv.stop()
            return SKIP
        fn(lb, srv)
        srv.stop_and_check()
    finally:
        srv.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    sys.exit(main())
