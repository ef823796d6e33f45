#!/usr/bin/env python3
"""bench/instr.py: what a request and a handshake cost, in instructions and
in the kernel's steering program, side by side with gtlsserver.

    sudo python3 bench/instr.py [--only callgrind,steer] [--servers qs1,qs2,gtls]

Two measures, both printed as markdown, written to bench/charts/instr.md
and bench/charts/instr.json, and spliced into BENCHMARKS.md as its section
"Instructions per request, and steering in real traffic" (bench/run.py
keeps that section when it regenerates the rest):

  1. callgrind: each server runs under valgrind --tool=callgrind
     --instr-atstart=no --trace-children=no (every thread counted into one
     profile).  After an uninstrumented warm-up, `callgrind_control -i on`;
     then for each load, the counters are zeroed (`callgrind_control -z`),
     quicsteer-load runs a fixed number of requests to completion and the
     profile is dumped (`callgrind_control -d`).  Each load runs twice with
     different request counts on the same number of connections, and the
     figure is the difference of the two profiles divided by the
     difference of the requests completed, so connection setup, teardown
     and idle timers cancel out: user-space instructions per keep-alive
     request, and per new connection (full handshake + one 1 KiB request +
     close).  The same difference, per function and per object, gives the
     profile tables.  Instruction counts do not depend on what else runs on
     the machine.
  2. steering: quicsteer-server (2 workers, kernel steering) runs natively;
     with the kernel's BPF run-time statistics on (a BPF_ENABLE_STATS
     descriptor held for the run; kernel.bpf_stats_enabled is not written) the
     program's run_time_ns / run_cnt (bpftool prog show pinned ... --json)
     are read around keep-alive and new-connection loads, with the
     program's decision counters (quicsteer stat --json) for the path mix;
     bench_steer's tight loop is run alongside.  These are timings: other
     work on the machine inflates them.

Python 3 standard library only; shares its server and client helpers with
bench/run.py.
"""
import argparse
import collections
import contextlib
import ctypes
import json
import os
import re
import shutil
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402
import run as R  # noqa: E402

OUT_MD = os.path.join(R.CHARTS, "instr.md")
OUT_JSON = os.path.join(R.CHARTS, "instr.json")

# the loads, the same for every server (quicsteer-load adds --initial-rtt 10)
KEEPALIVE = ["-c", "8", "-m", "4"]  # -n per connection is the varied count
NEWCONN = ["-c", "4", "--new-conn"]
GT_RUNS = (5, 25)  # gtlsclient runs (one handshake each) of the two resumed-handshake counts

GROUPS = (  # object file name prefix -> group, first match wins
    ("quicsteer-server", "quicsteer (own code)"),
    ("gtlsserver", "gtlsserver (own code)"),
    ("libngtcp2_crypto", "libngtcp2_crypto_gnutls"),
    ("libngtcp2", "libngtcp2"),
    ("libnghttp3", "libnghttp3"),
    ("libgnutls", "GnuTLS"),
    ("libnettle", "nettle + hogweed + gmp"),
    ("libhogweed", "nettle + hogweed + gmp"),
    ("libgmp", "nettle + hogweed + gmp"),
    ("libc.so", "libc"),
    ("ld-linux", "libc"),
    ("libstdc++", "libstdc++ / libgcc"),
    ("libgcc", "libstdc++ / libgcc"),
    ("libev", "libev"),
)


def group_of(obj):
    base = os.path.basename(obj)
    for prefix, g in GROUPS:
        if base.startswith(prefix):
            return g
    return "other (%s)" % base if base else "other"


# ------------------------------------------------------------ callgrind


def parse_callgrind(path):
    """Self cost (Ir) per (object, function) of one callgrind output file.
    Cost lines right after a calls= line are the callee's inclusive cost,
    not the caller's own, and are skipped."""
    names = {"ob": {}, "fl": {}, "fn": {}}
    kind_of = {"ob": "ob", "cob": "ob", "fl": "fl", "fi": "fl", "fe": "fl", "cfi": "fl",
               "cfl": "fl", "fn": "fn", "cfn": "fn"}
    cost = collections.Counter()
    ob, fn = "", ""
    skip_next = False
    total = None
    with open(path, errors="replace") as f:
        for line in f:
            c = line[:1]
            if c.isdigit() or c in "+-*":
                if skip_next:
                    skip_next = False
                    continue
                parts = line.split()
                if len(parts) >= 2:
                    cost[(ob, fn)] += int(parts[1])
                continue
            if line.startswith("calls="):
                skip_next = True
                continue
            key, eq, val = line.rstrip("\n").partition("=")
            if eq and key in kind_of:
                table = names[kind_of[key]]
                m = re.match(r"\((\d+)\)(?: (.*))?$", val)
                if m:
                    if m.group(2) is not None:
                        table[m.group(1)] = m.group(2)
                    val = table.get(m.group(1), "?")
                if key == "ob":
                    ob = val
                elif key == "fn":
                    fn = val
                continue
            if line.startswith("summary:"):
                total = int(line.split()[1])
    if total is None:
        total = sum(cost.values())
    return total, cost


class Callgrind:
    """One server under callgrind; dump() returns (total Ir, per-function)."""

    def __init__(self, env, spec):
        self.env, self.spec = env, spec
        self.outbase = os.path.join(env.work, "callgrind.%s" % spec["id"])
        for f in os.listdir(env.work):
            if f.startswith(os.path.basename(self.outbase)):
                os.unlink(os.path.join(env.work, f))
        self.srv = R.Server(spec, env)
        self.srv.wrap = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                         "--trace-children=no", "--callgrind-out-file=%s.%%p" % self.outbase]
        self.srv.start()
        self.dumps = 0

    def ctl(self, *args):
        p = R.run(["callgrind_control"] + list(args) + [str(self.srv.pid)], timeout=60)
        if p.returncode != 0 or "OK" not in p.stdout:
            raise RuntimeError("callgrind_control %s: %s %s" % (args, p.stdout, p.stderr))

    def dump(self):
        self.ctl("-d")
        self.dumps += 1
        path = "%s.%d.%d" % (self.outbase, self.srv.pid, self.dumps)
        deadline = time.time() + 30
        while not os.path.exists(path) and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        return parse_callgrind(path)

    def stop(self):
        self.srv.stop()


def fixed_load(env, srv, shape, per_conn):
    """quicsteer-load with |per_conn| requests per connection slot, to
    completion; returns the requests completed."""
    conns = int(shape[shape.index("-c") + 1])
    doc, _, cmd = R.load(env, [srv.url(R.SMALL)], shape + ["-n", str(per_conn),
                                                           "--timeout", "60"], timeout=900)
    ok = doc["requests"]["ok"]
    if doc["requests"]["failed"] or ok != conns * per_conn:
        raise RuntimeError("%s: %s" % (" ".join(cmd), doc["requests"]))
    return ok, cmd


GTLSCLIENT = "/usr/bin/gtlsclient"


def gtls_handshakes(env, srv, count, resume, check=True):
    """|count| gtlsclient runs one after another, each a new connection
    with one GET of the small file; with |resume|, each offers the session
    ticket the previous run saved (resumption + 0-RTT).  Returns (runs,
    command); raises if a run failed or, resuming, was not resumed."""
    d = os.path.join(env.work, "gtlsclient")
    os.makedirs(d, exist_ok=True)
    cmd = [GTLSCLIENT, "--exit-on-all-streams-close", "--timeout=10s"]
    if resume:
        cmd += ["--session-file=%s/session.pem" % d, "--tp-file=%s/tp.txt" % d]
    cmd += ["127.0.0.1", str(srv.port), srv.url(R.SMALL)]
    for _ in range(count):
        p = R.run(cmd, timeout=60)
        if p.returncode != 0:
            raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), p.returncode,
                                                   p.stderr[-500:]))
        if resume and check and ("type=0RTT" not in p.stderr or "rejected" in p.stderr):
            raise RuntimeError("%s: not resumed with 0-RTT" % " ".join(cmd))
    return count, cmd


def measure_diff(env, cg, shape, n1, n2, runner=None):
    """Per-request instructions and per-function profile from two runs."""
    runner = runner or (lambda n: fixed_load(env, cg.srv, shape, n))
    cg.ctl("-z")
    r1, _ = runner(n1)
    t1, c1 = cg.dump()
    cg.ctl("-z")
    r2, cmd = runner(n2)
    t2, c2 = cg.dump()
    dr = r2 - r1
    prof = {}
    for k in set(c1) | set(c2):
        d = c2.get(k, 0) - c1.get(k, 0)
        if d:
            prof[k] = d / dr
    return {"per_request": (t2 - t1) / dr, "requests": [r1, r2], "totals": [t1, t2],
            "profile": prof, "command": cmd}


def callgrind_section(env, specs, ids, ka, nc, loads):
    res = {}
    for sid in ids:
        spec = specs[sid]
        R.log("callgrind: %s" % spec["label"])
        cg = Callgrind(env, spec)
        try:
            # uninstrumented warm-up: caches, file cache, code paths
            fixed_load(env, cg.srv, KEEPALIVE, 50)
            fixed_load(env, cg.srv, NEWCONN, 5)
            cg.ctl("-i", "on")
            fixed_load(env, cg.srv, KEEPALIVE, 10)
            r = {"label": spec["label"], "server_cmd": ["valgrind"] + cg.srv.wrap[1:] +
                 cg.srv.cmd}
            if "keepalive" in loads:
                r["keepalive"] = measure_diff(env, cg, KEEPALIVE, ka[0], ka[1])
                R.log("  keep-alive: %.0f instructions per request"
                      % r["keepalive"]["per_request"])
            if "newconn" in loads:
                r["newconn"] = measure_diff(env, cg, NEWCONN, nc[0], nc[1])
                R.log("  new connection: %.0f instructions" % r["newconn"]["per_request"])
            if "resumed" in loads:
                # the same client for both kinds: a full handshake, and a resumed one
                # (the first run saves a ticket outside the measured window)
                r["gtls_full"] = measure_diff(env, cg, None, GT_RUNS[0], GT_RUNS[1],
                                              lambda n: gtls_handshakes(env, cg.srv, n, False))
                for f in ("session.pem", "tp.txt"):  # another server's ticket is no use
                    path = os.path.join(env.work, "gtlsclient", f)
                    if os.path.exists(path):
                        os.unlink(path)
                try:
                    gtls_handshakes(env, cg.srv, 1, True, check=False)  # saves a ticket
                    gtls_handshakes(env, cg.srv, 1, True)
                    r["gtls_resumed"] = measure_diff(
                        env, cg, None, GT_RUNS[0], GT_RUNS[1],
                        lambda n: gtls_handshakes(env, cg.srv, n, True))
                except RuntimeError as e:
                    r["gtls_resumed_error"] = str(e).split(": ")[-1]
                R.log("  gtlsclient: full %.0f, resumed %s" % (
                    r["gtls_full"]["per_request"],
                    "%.0f" % r["gtls_resumed"]["per_request"] if "gtls_resumed" in r
                    else r["gtls_resumed_error"]))
            if spec["kind"] == "quicsteer":
                r["server_stats"] = cg.srv.stats()
        finally:
            cg.stop()
        res[sid] = r
    return res


def by_group(prof):
    g = collections.Counter()
    for (ob, _), v in prof.items():
        g[group_of(ob)] += v
    return g


def short_fn(ob, fn):
    base = os.path.basename(ob)
    name = fn if not fn.startswith("0x") else "%s@%s" % (fn, base)
    if len(name) > 60:
        name = name[:57] + "..."
    return "%s (%s)" % (name, group_of(ob).split(" ")[0])


# ---------------------------------------------------------------- steer


SYS_BPF = {"x86_64": 321, "aarch64": 280}.get(os.uname().machine, 321)
BPF_ENABLE_STATS = 32
BPF_STATS_RUN_TIME = 0


@contextlib.contextmanager
def bpf_run_stats():
    """The kernel's run-time statistics of BPF programs on for the block, by
    holding a BPF_ENABLE_STATS descriptor: the kernel counts the holders and
    drops this one when it is closed or the process ends, and the sysctl
    kernel.bpf_stats_enabled, which other programs may toggle at the same
    time (a read-set-restore of it races with theirs), is never written."""
    libc = ctypes.CDLL(None, use_errno=True)
    attr = ctypes.create_string_buffer(struct.pack("I", BPF_STATS_RUN_TIME), 16)
    fd = libc.syscall(ctypes.c_long(SYS_BPF), ctypes.c_int(BPF_ENABLE_STATS), attr,
                      ctypes.c_uint(len(attr)))
    if fd < 0:
        raise RuntimeError("BPF_ENABLE_STATS: %s" % os.strerror(ctypes.get_errno()))
    try:
        yield
    finally:
        os.close(fd)


def prog_stats(pin):
    p = R.run(["bpftool", "prog", "show", "pinned", pin, "--json"], timeout=30)
    if p.returncode:
        raise RuntimeError("bpftool: %s" % p.stderr)
    d = json.loads(p.stdout)
    return d.get("run_time_ns", 0), d.get("run_cnt", 0), d.get("id")


def steer_counters(env, name):
    p = R.run([env.cli_bin, "stat", "--name", name, "--json"], timeout=30)
    if p.returncode:
        raise RuntimeError("quicsteer stat: %s" % p.stderr)
    d = json.loads(p.stdout.splitlines()[0])
    return d.get("kernel", {})


def flat_counters(d):
    out = {}
    for k, v in d.items():
        if isinstance(v, (int, float)):
            out[k] = v
        elif isinstance(v, dict):
            for k2, v2 in flat_counters(v).items():
                out["%s.%s" % (k, k2)] = v2
    return out


STEER_LOADS = (
    ("keep-alive", R.KEEPALIVE),
    ("new connection per request", R.NEWCONN),
    ("new connection + --migrate", ["-c", "16", "--new-conn", "--migrate"]),
)


def steer_section(env, specs, dur, rounds):
    spec = specs["qs2"]
    res = {"loads": {}, "rounds": rounds}
    srv = R.Server(spec, env).start()
    pin = "/sys/fs/bpf/quicsteer/%s/qs_steer" % srv.name
    try:
        R.load(env, [srv.url(R.SMALL)], R.KEEPALIVE + ["-D", "1"])
        R.load(env, [srv.url(R.SMALL)], R.NEWCONN + ["-D", "1"])
        for _ in range(rounds):
            for label, shape in STEER_LOADS:
                ns0, c0, pid = prog_stats(pin)
                k0 = flat_counters(steer_counters(env, srv.name))
                doc, cmd = R.measured(env, srv, [srv.url(R.SMALL)], shape + ["-D", str(dur)])
                ns1, c1, _ = prog_stats(pin)
                k1 = flat_counters(steer_counters(env, srv.name))
                mix = {k: k1[k] - k0.get(k, 0) for k in k1 if k1[k] - k0.get(k, 0) > 0}
                e = res["loads"].setdefault(label, {"command": cmd, "ns": [], "runs": [],
                                                    "mix": [], "other_cpus": []})
                e["ns"].append((ns1 - ns0) / max(1, c1 - c0))
                e["runs"].append(c1 - c0)
                e["mix"].append(mix)
                e["other_cpus"].append(doc["other_cpus"])
                R.log("steer: %s: %.0f ns per datagram over %d" % (label, e["ns"][-1], c1 - c0))
        res["prog_id"] = pid
        res["server_cmd"] = srv.cmd
    finally:
        srv.stop()
    R.log("bench_steer (tight loop)")
    bs = os.path.join(env.build, "bench", "bench_steer")
    p = R.run([bs], timeout=900)
    res["bench_steer"] = p.stdout if p.returncode == 0 else \
        "(bench_steer failed: %s)" % p.stderr.strip()
    return res


# ---------------------------------------------------------------- report


def steer_rows(text):
    """bench_steer's in-program table: {label: min ns}."""
    rows = {}
    for line in text.splitlines():
        m = re.match(r"\| (.+?) \| ([\d.]+) \| ([\d.]+) \|$", line)
        if m:
            rows[m.group(1)] = float(m.group(2))
    return rows


def goals(cg, st):
    """The targets of issue 13, from this run: (figure, measured, goal, met)."""
    out = []
    if cg and "gtls" in cg:
        ref = cg["gtls"]
        for i, what in (("qs1", "1 worker"), ("qs2", "2 workers")):
            if i in cg and "keepalive" in cg[i]:
                x = cg[i]["keepalive"]["per_request"] / ref["keepalive"]["per_request"]
                out.append(("Ir per keep-alive request, quicsteer %s / gtlsserver" % what,
                            "%.2fx" % x, "<= 0.8x", x <= 0.8))
        if "qs1" in cg and "newconn" in cg["qs1"]:
            x = cg["qs1"]["newconn"]["per_request"] / ref["newconn"]["per_request"]
            out.append(("Ir per new connection (full handshake), quicsteer / gtlsserver",
                        "%.2fx" % x, "<= 0.9x", x <= 0.9))
    if st:
        loads = st["loads"]
        for label, goal in (("keep-alive", 150), ("new connection per request", 300)):
            if label in loads:
                v = R.med(loads[label]["ns"])
                out.append(("steering program under %s load, ns per datagram" % label,
                            "%.0f" % v, "<= %d" % goal, v <= goal))
        rows = steer_rows(st.get("bench_steer", ""))
        # the issue set these against a trivial program of 50 ns; machines
        # and load differ, so they are judged as ratios to this run's trivial
        triv = rows.get(TRIVIAL_ROW)
        for label, goal, ratio in (
                ("quicsteer: Initial, hash of the client's DCID", 94, 1.9),
                ("quicsteer: 1-RTT, single-pass AES CID never seen (cache miss)", 200, 4.0)):
            if label in rows and triv:
                x = rows[label] / triv
                out.append(("tight loop, %s, min ns" % label.split(": ", 1)[1],
                            "%.0f (%.2fx trivial %.0f)" % (rows[label], x, triv),
                            "<= %d (%.1fx trivial 50)" % (goal, ratio), x <= ratio))
    return out


TRIVIAL_ROW = "trivial program (reads 1 octet)"

LEVERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "levers.md")


def report(env, meta, cg, st):
    L = []
    w = L.append
    w("Generated by `%s` on %s (quicsteer %s)." % (meta["command"], meta["date"], meta["git"]))
    if meta.get("callgrind_from"):
        w("The callgrind figures are those of `%s` on %s (quicsteer %s), kept from "
          "`bench/charts/instr.json`: this run measured only the steering." % tuple(
              meta["callgrind_from"]))
    g = goals(cg, st)
    if g:
        w("\n### Goals (issue 13), from this run\n")
        w("| figure | measured | goal | |\n|---|---:|---:|---|")
        for name, v, goal, ok in g:
            w("| %s | %s | %s | %s |" % (name, v, goal, "**met**" if ok else "**not met**"))
    if os.path.exists(LEVERS):
        with open(LEVERS) as f:
            w("\n" + f.read().strip())
    if cg:
        ids = [i for i in ("qs1", "qs2", "gtls") if i in cg] + \
            [i for i in cg if i not in ("qs1", "qs2", "gtls")]
        w("\n### Instructions per request (callgrind)\n")
        w("User-space instructions (Ir) of every server thread, from the difference of two "
          "profiles of the same load at two request counts (so handshakes of the keep-alive "
          "connections, teardown and idle timers cancel out), divided by the difference in "
          "requests completed. Loads (quicsteer-load, one thread, `--initial-rtt 10`, 1 KiB "
          "file): keep-alive `%s -n %d` vs `-n %d`; new connection per request `%s -n %d` vs "
          "`-n %d` (each a full handshake: X25519, ECDSA P-256, no resumption, one request, "
          "close). Counts, unlike timings, do not move with the other work on the machine.\n"
          % (" ".join(KEEPALIVE), meta["ka"][0], meta["ka"][1], " ".join(NEWCONN),
             meta["nc"][0], meta["nc"][1]))
        ref = cg.get("gtls")
        w("| server | Ir per keep-alive request | vs gtlsserver | Ir per new connection "
          "(handshake + request) | vs gtlsserver |")
        w("|---|---:|---:|---:|---:|")
        for i in ids:
            r = cg[i]
            ka, nc = r["keepalive"]["per_request"], r["newconn"]["per_request"]
            w("| %s | %.1fk | %s | %.2fM | %s |" % (
                r["label"], ka / 1e3, "%.2fx" % (ka / ref["keepalive"]["per_request"])
                if ref else "–", nc / 1e6,
                "%.2fx" % (nc / ref["newconn"]["per_request"]) if ref else "–"))
        if any("gtls_full" in cg[i] for i in ids):
            w("\nFull and resumed handshakes from the same client, Debian's gtlsclient "
              "(`%s`, one run per handshake, %d vs %d runs; resumed: `--session-file "
              "--tp-file`, the ticket the previous run saved, with the GET sent as 0-RTT; "
              "each run checked to have sent 0-RTT and not been refused):\n"
              % (" ".join(next(cg[i] for i in ids if "gtls_full" in cg[i])["gtls_full"]
                           ["command"][:3]), GT_RUNS[0], GT_RUNS[1]))
            w("| server | Ir per full handshake + GET | Ir per resumed handshake + 0-RTT GET "
              "| resumed / full |")
            w("|---|---:|---:|---:|")
            for i in ids:
                r = cg[i]
                if "gtls_full" not in r:
                    continue
                f = r["gtls_full"]["per_request"]
                if "gtls_resumed" in r:
                    rs = r["gtls_resumed"]["per_request"]
                    w("| %s | %.2fM | %.2fM | %.2f |" % (r["label"], f / 1e6, rs / 1e6, rs / f))
                else:
                    w("| %s | %.2fM | – (%s) | – |" % (r["label"], f / 1e6,
                                                      r.get("gtls_resumed_error", "")))
        for what, key, unit, div in (("keep-alive request", "keepalive", "Ir", 1),
                                     ("new connection", "newconn", "kIr", 1e3)):
            w("\n#### Per %s, by library (%s)\n" % (what, unit))
            groups = {i: by_group(cg[i][key]["profile"]) for i in ids}
            names = sorted(set().union(*[set(g) for g in groups.values()]),
                           key=lambda n: -max(groups[i].get(n, 0) for i in ids))
            w("| library | " + " | ".join(cg[i]["label"] for i in ids) + " |")
            w("|---|" + "---:|" * len(ids))
            for n in names:
                if max(abs(groups[i].get(n, 0)) for i in ids) < 0.002 * min(
                        cg[i][key]["per_request"] for i in ids):
                    continue
                w("| %s | " % n + " | ".join("%.0f" % (groups[i].get(n, 0) / div)
                                             for i in ids) + " |")
            w("| **total** | " + " | ".join("**%.0f**" % (cg[i][key]["per_request"] / div)
                                            for i in ids) + " |")
            top = 25 if key == "keepalive" else 15
            w("\n#### Per %s, top %d functions (self %s)\n" % (what, top, unit))
            cols = [i for i in ("qs1", "gtls") if i in ids] or ids[:2]
            rows = []
            for i in cols:
                prof = sorted(cg[i][key]["profile"].items(), key=lambda kv: -kv[1])[:top]
                rows.append(["%s %.0f" % (short_fn(ob, fn), v / div) for (ob, fn), v in prof])
            w("| # | " + " | ".join(cg[i]["label"] for i in cols) + " |")
            w("|---|" + "---|" * len(cols))
            for k in range(top):
                w("| %d | " % (k + 1) + " | ".join(r[k] if k < len(r) else "" for r in rows) +
                  " |")
        w("\nFunctions shown as `0x…@lib` are static functions of a library without "
          "debugging symbols. Server commands: " + "; ".join(
              "`%s`" % " ".join(cg[i]["server_cmd"]) for i in ids) + ".")
    if st:
        w("\n### Steering program in real traffic (bpf_stats)\n")
        w("quicsteer-server, 2 workers, kernel steering, natively (no valgrind): `%s`. "
          "BPF run-time statistics on for the run (a `BPF_ENABLE_STATS` descriptor held by "
          "the script; `kernel.bpf_stats_enabled` is never written), the program's "
          "`run_time_ns / run_cnt` (`bpftool prog show pinned "
          "/sys/fs/bpf/quicsteer/NAME/qs_steer --json`) around each load of %d s, %d "
          "round(s); the path mix from the program's decision counters (`quicsteer stat "
          "--json`). Timings: the client, the server and other work on the machine share "
          "its 2 vCPUs, so these include cache and TLB misses the rest of the machine "
          "causes; a tight loop does not.\n" % (" ".join(st["server_cmd"]), meta["steer_dur"],
                                                st["rounds"]))
        w("| load | ns per datagram (min–max) | datagrams | path mix |")
        w("|---|---:|---:|---|")
        for label, e in st["loads"].items():
            tot = collections.Counter()
            for m in e["mix"]:
                tot.update(m)
            n = sum(v for k, v in tot.items() if not k.endswith("rx"))
            mix = ", ".join("%s %.1f%%" % (k.split(".")[-1], 100.0 * v / n)
                            for k, v in tot.most_common() if not k.endswith("rx") and n) or "–"
            w("| %s (`%s`) | %.0f (%.0f–%.0f) | %d | %s |" % (
                label, " ".join(e["command"][e["command"].index("10") + 1:-1]),
                R.med(e["ns"]), min(e["ns"]), max(e["ns"]), sum(e["runs"]) // len(e["runs"]),
                mix))
        w("\nThe tight loop next to it (`build/bench/bench/bench_steer`, its own network "
          "namespace, same program):\n")
        w(re.sub(r"(?m)^## ", "#### ", st["bench_steer"].strip()))
    # commands relative to the repository, as in the rest of BENCHMARKS.md
    return "\n".join(L).replace(R.TOP + "/", "") + "\n"


PROFILED = ("keepalive", "newconn", "gtls_full", "gtls_resumed")


def profiles_out(cg):
    """Profiles keyed "object|function" for JSON (every function: the
    by-library sums need them all)."""
    for v in (cg or {}).values():
        for k in PROFILED:
            if k in v:
                v[k]["profile"] = {"%s|%s" % kv[0]: round(kv[1], 2)
                                   for kv in v[k]["profile"].items() if abs(kv[1]) >= 0.01}
    return cg


def profiles_in(cg):
    for v in (cg or {}).values():
        for k in PROFILED:
            if k in v:
                v[k]["profile"] = {tuple(key.split("|", 1)): x
                                   for key, x in v[k]["profile"].items()}
    return cg


def rerender():
    """--report: BENCHMARKS.md's section and bench/charts/instr.md again from
    bench/charts/instr.json (after editing bench/levers.md), no measuring."""
    with open(OUT_JSON) as f:
        d = json.load(f)
    md = report(None, d["meta"], profiles_in(d["callgrind"]), d["steer"])
    with open(OUT_MD, "w") as f:
        f.write(md)
    R.splice_instr()
    print(md)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="callgrind,steer",
                    help="comma-separated: callgrind, steer (default both)")
    ap.add_argument("--servers", default="qs1,qs2,gtls",
                    help="callgrind servers by bench/run.py id (default qs1,qs2,gtls)")
    ap.add_argument("--keepalive", default="50,300",
                    help="requests per connection of the two keep-alive runs (default 50,300)")
    ap.add_argument("--newconn", default="10,60",
                    help="requests (= handshakes) per slot of the two new-connection runs "
                    "(default 10,60)")
    ap.add_argument("--loads", default="keepalive,newconn,resumed",
                    help="callgrind loads: keepalive, newconn, resumed (default all; the "
                    "report needs all)")
    ap.add_argument("--steer-duration", type=int, default=5, help="seconds per steering load")
    ap.add_argument("--steer-rounds", type=int, default=2, help="rounds of steering loads")
    ap.add_argument("--build", default=os.path.join(R.TOP, "build", "bench"))
    ap.add_argument("--report", action="store_true",
                    help="no measuring: render the report again from bench/charts/instr.json")
    args = ap.parse_args()
    if args.report:
        return rerender()
    only = set(args.only.split(","))
    rc = B.need_root("BPF steering, bpftool")
    if rc:
        return rc
    for tool in ("valgrind", "callgrind_control", "bpftool"):
        if not shutil.which(tool):
            print("bench/instr.py: %s missing (scripts/deps.sh bench)" % tool, file=sys.stderr)
            return 2
    env = B.bench_env(args.build, "bench-instr",
                      ["quicsteer-server", "quicsteer-load", "quicsteer_cli", "bench_steer"])
    B.random_file(os.path.join(env.www, R.SMALL), R.SMALL_LEN)
    meta = B.run_meta(ka=[int(x) for x in args.keepalive.split(",")],
                      nc=[int(x) for x in args.newconn.split(",")],
                      steer_dur=args.steer_duration)
    specs = R.server_specs()
    cg = st = None
    try:
        if "callgrind" in only:
            cg = callgrind_section(env, specs, args.servers.split(","), meta["ka"], meta["nc"],
                                   args.loads.split(","))
            if set(args.loads.split(",")) < {"keepalive", "newconn", "resumed"}:
                return 0  # a quick look at the log lines: no report
        elif os.path.exists(OUT_JSON):
            # steering only: the report keeps the previous run's callgrind part
            with open(OUT_JSON) as f:
                prev = json.load(f)
            if prev.get("callgrind"):
                cg = profiles_in(prev["callgrind"])
                pm = prev["meta"]
                meta["callgrind_from"] = list(pm.get("callgrind_from") or
                                              (pm["command"], pm["date"], pm["git"]))
                meta["ka"], meta["nc"] = pm["ka"], pm["nc"]
        if "steer" in only:
            with bpf_run_stats():
                st = steer_section(env, specs, args.steer_duration, args.steer_rounds)
    finally:
        B.kill_all()
    md = report(env, meta, cg, st)
    print(md)
    R.save_section(R.INSTR_HEAD, md, {"meta": meta, "callgrind": profiles_out(cg), "steer": st})
    return 0


if __name__ == "__main__":
    B.main_run(main)
