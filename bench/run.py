#!/usr/bin/env python3
"""bench/run.py: the benchmark suite.  One command regenerates BENCHMARKS.md,
its charts (bench/charts/*.png) and the data behind them
(bench/charts/results.json):

    sudo python3 bench/run.py [--quick] [--soak SECONDS] [--rounds N]

Run as root from anywhere in the repository (BPF steering, bench_steer and
bench_bpf_aes need it).  It builds the Release tree build/bench if needed,
makes a development certificate and one document root that every server
serves, then measures, each server started in turn with equivalent
settings on loopback and driven by quicsteer-load:

  1. throughput: requests/s on small responses over keep-alive
     connections, handshakes/s with a new connection per request, goodput
     of a 100 MB download, server CPU seconds (utime + stime of all its
     threads, /proc/PID/stat) per 1000 requests; latency at a fixed rate;
  2. migration survival: the share of connections that finish after
     --rebind and after --migrate, for quicsteer with kernel steering, with
     plain SO_REUSEPORT (--no-bpf --no-forward) and with user-space
     forwarding only (--no-bpf), and the reference servers;
  3. steering cost per datagram (bench/bench_steer), the CID codec
     (bench/bench_cid) and AES-128 in BPF (bench/bench_bpf_aes);
  4. memory: server RSS with 10,000 idle connections, and a soak under
     mixed load sampling RSS every 10 s.

Rounds are interleaved (every server once per round, the order rotated)
and each figure is the median over the rounds; ratios come from this run
only.  Every process started is killed on exit, also on Ctrl-C.
Python 3 standard library only.
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (BENCH, CHARTS, CLK_TCK, PROCS, TOP, Env, bench_env,  # noqa: E402,F401
                      cpu_seconds, kill_all, kill_group, load_avg, log, main_run, need_root,
                      random_file, rotated, rss_kb, run, spawn)

CADDY_TEMPLATE = os.path.join(BENCH, "caddy", "caddy.json.in")
GTLSSERVER = "/usr/sbin/gtlsserver"
CADDY = "/usr/bin/caddy"

INITIAL_RTT_MS = 10  # for every server that lets us set it, and the client
SMALL = "1k.bin"  # the small response: 1024 octets
SMALL_LEN = 1024
BIG = "100M.bin"  # the download: 100 MB
BIG_LEN = 100 * 1000 * 1000

# client shapes (quicsteer-load arguments), the same for every server
KEEPALIVE = ["-c", "16", "-m", "4"]
NEWCONN = ["-c", "32", "--new-conn"]
FIXED_RATE = 5000  # requests/s for the latency distribution: below every server's capacity
LATENCY = ["-c", "16", "-m", "4", "--rate", str(FIXED_RATE)]
MIGRATION_CONNS = 200
MIGRATION = ["-c", str(MIGRATION_CONNS), "-n", "4", "-m", "2", "--timeout", "5"]

# ---------------------------------------------------------------- processes



def shown_cmd(cmd):
    """A recorded command as the report shows it: paths inside whichever
    checkout made the run (results.json keeps them absolute) relative to
    its top, so the table reads the same from any clone."""
    return re.sub(r"(?<![\w.$])/[^\s'\"`]*?/(build/|bench/|www/)", r"\1", cmd)

def machine_busy():
    """CPU seconds the whole machine spent busy so far (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / CLK_TCK


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 (caddy binds both)."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free port")


def udp_bound(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))
        return False
    except OSError:
        return True
    finally:
        s.close()


# ------------------------------------------------------------------ servers


class Server:
    """One server under test, started from a ServerSpec."""

    def __init__(self, spec, env):
        self.spec = spec
        self.env = env
        self.proc = None
        self.port = None
        self.stats_path = None
        self.name = None
        self.errpath = os.path.join(env.work, "server-%s.err" % spec["id"])
        self.wrap = []  # a command prefix, e.g. valgrind (bench/instr.py)

    def start(self):
        kind = self.spec["kind"]
        err = open(self.errpath, "w")
        if kind == "quicsteer":
            self.name = "bench-%s-%d" % (self.spec["id"], os.getpid())
            outpath = os.path.join(self.env.work, "server-%s.out" % self.spec["id"])
            cmd = [self.env.server_bin, "--cert", self.env.cert, "--key", self.env.key,
                   "--listen", "127.0.0.1:0", "--root", self.env.www, "--name", self.name,
                   "--bytes-endpoint",
                   "--initial-rtt", str(INITIAL_RTT_MS), "--drain-timeout", "1",
                   "--log-level", "warn", "--workers", str(self.spec["workers"])]
            cmd += self.spec.get("flags", [])
            self.cmd = cmd
            with open(outpath, "w") as out:
                self.proc = spawn(self.wrap + cmd, stdout=out, stderr=err)
            deadline = time.time() + 20
            report = ""
            while time.time() < deadline:
                with open(outpath) as f:
                    report = f.read()
                if "stats:" in report:
                    break
                if self.proc.poll() is not None:
                    raise RuntimeError("%s exited: %s" % (cmd, open(self.errpath).read()))
                time.sleep(0.05)
            else:
                raise RuntimeError("quicsteer-server did not start: %s" % report)
            self.port = int(re.search(r"listening on \S+:(\d+)", report).group(1))
            self.stats_path = re.search(r"stats: (\S+)", report).group(1)
            want = self.spec.get("steering")
            got = "kernel" if "steering: kernel" in report else "user"
            if want and want != got:
                raise RuntimeError("%s: wanted %s steering, got: %s" % (self.spec["id"], want,
                                                                        report))
        elif kind == "gtlsserver":
            self.port = free_port()
            cmd = [GTLSSERVER, "-q", "-d", self.env.www, "--initial-rtt=%dms" % INITIAL_RTT_MS,
                   "--max-window=24M", "--max-stream-window=16M", "--timeout=30s",
                   "127.0.0.1", str(self.port), self.env.key, self.env.cert]
            self.cmd = cmd
            self.proc = spawn(self.wrap + cmd, stdout=subprocess.DEVNULL, stderr=err)
            self._wait_bound()
        elif kind == "caddy":
            self.port = free_port()
            conf = os.path.join(self.env.work, "caddy-%s.json" % self.spec["id"])
            with open(CADDY_TEMPLATE) as f:
                text = f.read()
            for k, v in (("@ADDR@", "127.0.0.1"), ("@PORT@", str(self.port)),
                         ("@ROOT@", self.env.www), ("@CERT@", self.env.cert),
                         ("@KEY@", self.env.key)):
                text = text.replace(k, v)
            with open(conf, "w") as f:
                f.write(text)
            home = os.path.join(self.env.work, "caddy-home")
            os.makedirs(home, exist_ok=True)
            cenv = dict(os.environ, HOME=home, XDG_DATA_HOME=home, XDG_CONFIG_HOME=home,
                        GOMAXPROCS=str(self.spec["workers"]))
            cmd = [CADDY, "run", "--config", conf]
            self.cmd = ["GOMAXPROCS=%d" % self.spec["workers"]] + cmd
            self.proc = spawn(cmd, stdout=subprocess.DEVNULL, stderr=err, env=cenv)
            self._wait_bound()
        else:
            raise ValueError(kind)
        err.close()
        return self

    def _wait_bound(self):
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited: %s" % (self.cmd, open(self.errpath).read()))
            if udp_bound(self.port):
                return
            time.sleep(0.05)
        raise RuntimeError("%s did not bind its port" % self.cmd)

    @property
    def pid(self):
        return self.proc.pid

    def url(self, path):
        return "https://127.0.0.1:%d/%s" % (self.port, path.lstrip("/"))

    def stats(self):
        """quicsteer only: per-worker counters (include/quicsteer/wstats.h)."""
        fields = ("conns_open", "conns_accepted", "conns_completed", "conns_closed",
                  "streams_open", "requests", "bytes_rx", "bytes_tx", "dgrams_rx", "dgrams_tx",
                  "fwd_out", "fwd_in", "fwd_fail", "resets_tx", "retry_tx", "vneg_tx",
                  "drop_bad", "migrations")
        with open(self.stats_path, "rb") as f:
            data = f.read()
        magic, _, _, _, nworkers, _, _ = struct.unpack_from("<6IQ", data)
        if magic != 0x71737773:
            raise RuntimeError("bad stats magic")
        total = dict.fromkeys(fields, 0)
        for w in range(nworkers):
            vals = struct.unpack_from("<64Q", data, 32 + w * 512)  # 64 counters a record
            for k, v in zip(fields, vals):
                total[k] += v
        return total

    def stop(self):
        """SIGTERM; returns the exit status (quicsteer drains for 1 s)."""
        if self.proc is None:
            return None
        p = self.proc
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
        try:
            rc = p.wait(15)
        except subprocess.TimeoutExpired:
            kill_group(p, signal.SIGKILL)
            rc = "killed"
        if p in PROCS:
            PROCS.remove(p)
        self.proc = None
        return rc


def server_specs():
    """Every configuration the suite knows, by id."""
    specs = [
        dict(id="qs1", kind="quicsteer", workers=1, steering="kernel",
             label="quicsteer 1 worker, BPF"),
        dict(id="qs1u", kind="quicsteer", workers=1, flags=["--no-bpf"], steering="user",
             label="quicsteer 1 worker, no BPF"),
        dict(id="qs2", kind="quicsteer", workers=2, steering="kernel",
             label="quicsteer 2 workers, BPF"),
        dict(id="qs2u", kind="quicsteer", workers=2, flags=["--no-bpf"], steering="user",
             label="quicsteer 2 workers, no BPF (user-space forwarding)"),
        dict(id="qs2p", kind="quicsteer", workers=2, flags=["--no-bpf", "--no-forward"],
             steering="user", label="quicsteer 2 workers, plain SO_REUSEPORT"),
        dict(id="gtls", kind="gtlsserver", workers=1, label="gtlsserver (1 thread)"),
        dict(id="caddy1", kind="caddy", workers=1, label="caddy GOMAXPROCS=1"),
        dict(id="caddy2", kind="caddy", workers=2, label="caddy GOMAXPROCS=2"),
    ]
    return {s["id"]: s for s in specs}


# ------------------------------------------------------------------- client


def load(env, urls, args, timeout=None):
    """Runs quicsteer-load --json; returns (doc, client CPU s, command)."""
    cmd = [env.load_bin, "--json", "--no-progress", "--initial-rtt", str(INITIAL_RTT_MS)]
    cmd += list(args) + list(urls)
    c0 = children_cpu()
    p = run(cmd, timeout=timeout or 600)
    c1 = children_cpu()
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        raise RuntimeError("quicsteer-load gave no JSON (exit %d): %s" % (p.returncode,
                                                                        p.stderr[-2000:]))
    doc["exit_status"] = p.returncode
    doc["stderr_tail"] = p.stderr[-500:]
    return doc, c1 - c0, cmd


def measured(env, srv, urls, args, timeout=None):
    """load() with the server's CPU time around it, and what the rest of the
    machine used meanwhile (other processes, plus interrupt time not charged
    to either side), in CPUs: the noise indicator."""
    s0, m0 = cpu_seconds(srv.pid), machine_busy()
    doc, ccpu, cmd = load(env, urls, args, timeout)
    s1, m1 = cpu_seconds(srv.pid), machine_busy()
    doc["server_cpu_s"] = s1 - s0
    doc["client_cpu_s"] = ccpu
    doc["other_cpus"] = max(0.0, (m1 - m0) - (s1 - s0) - ccpu) / doc["elapsed_s"]
    return doc, cmd


def hist_merge(a, b):
    m = {}
    for edge, n in (a or []) + (b or []):
        m[edge] = m.get(edge, 0) + n
    return sorted(m.items())


def hist_quantile(h, q):
    total = sum(n for _, n in h)
    if not total:
        return 0.0
    seen = 0
    for edge, n in h:
        seen += n
        if seen >= q * total:
            return edge
    return h[-1][0]


def med(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None


# ---------------------------------------------------------------- sections


def throughput(env, specs, rounds, dur, lat_dur):
    """Section 1.  Returns {server id: {metric: [per round]}}, commands."""
    ids = ["qs1", "qs1u", "qs2", "qs2u", "gtls", "caddy1", "caddy2"]
    res = {i: {"rps": [], "rps_cpu": [], "rps_client_cpu": [], "rps_cores": [], "hs": [],
               "hs_cpu": [], "hs_client_cpu": [], "hs_cores": [],
               "dl": [], "dl_cpu": [], "lat_hist": [], "ka_p50": [], "ka_p99": [],
               "fails": [], "bytes_rps": [], "other": []} for i in ids}
    cmds = {}
    for r in range(rounds):
        order = rotated(ids, r)
        for sid in order:
            spec = specs[sid]
            log("throughput round %d/%d: %s" % (r + 1, rounds, spec["label"]))
            srv = Server(spec, env).start()
            out = res[sid]
            try:
                cmds.setdefault("server " + sid, " ".join(srv.cmd))
                # warm up: handshakes, page cache, allocator
                load(env, [srv.url(SMALL)], ["-c", "8", "-n", "200", "-m", "4"])
                load(env, [srv.url(SMALL)], ["-c", "8", "-n", "5", "--new-conn"])

                d, cmd = measured(env, srv, [srv.url(SMALL)], KEEPALIVE + ["-D", str(dur)])
                cmds.setdefault("keepalive", " ".join(cmd))
                check_run(d, out, "keep-alive", SMALL_LEN)
                ok = d["requests"]["ok"]
                out["rps"].append(d["requests_per_s"])
                out["rps_cpu"].append(d["server_cpu_s"] / ok * 1000 if ok else None)
                out["rps_client_cpu"].append(d["client_cpu_s"] / ok * 1000 if ok else None)
                out["rps_cores"].append(d["server_cpu_s"] / d["elapsed_s"])
                out["other"].append(d["other_cpus"])
                out["ka_p50"].append(d["latency_us"]["p50"])
                out["ka_p99"].append(d["latency_us"]["p99"])

                d, cmd = measured(env, srv, [srv.url(SMALL)], NEWCONN + ["-D", str(dur)])
                cmds.setdefault("newconn", " ".join(cmd))
                check_run(d, out, "new connection per request", SMALL_LEN)
                hs = d["connections"]["handshakes"]
                out["hs"].append(d["handshakes_per_s"])
                out["hs_cpu"].append(d["server_cpu_s"] / hs * 1000 if hs else None)
                out["hs_client_cpu"].append(d["client_cpu_s"] / hs * 1000 if hs else None)
                out["hs_cores"].append(d["server_cpu_s"] / d["elapsed_s"])
                out["other"].append(d["other_cpus"])

                d, cmd = measured(env, srv, [srv.url(SMALL)],
                                  LATENCY + ["-D", str(lat_dur), "--latency-hist"])
                cmds.setdefault("latency", " ".join(cmd))
                check_run(d, out, "fixed rate", SMALL_LEN)
                out["lat_hist"] = hist_merge(out["lat_hist"],
                                             [tuple(x) for x in d["latency_hist_us"]])

                d, cmd = measured(env, srv, [srv.url(BIG)], ["-c", "1", "-n", "1",
                                                             "--timeout", "60"])
                cmds.setdefault("download", " ".join(cmd))
                if d["body_bytes"] != BIG_LEN or not d["ok"]:
                    out["fails"].append("download: %d octets, ok=%s" % (d["body_bytes"], d["ok"]))
                    out["dl"].append(None)
                else:
                    out["dl"].append(d["goodput_bytes_per_s"] / 1e6)
                out["dl_cpu"].append(d["server_cpu_s"])

                if sid == "qs1":
                    # the same load on a generated body: what file I/O costs
                    d, cmd = measured(env, srv, [srv.url("/bytes/%d" % SMALL_LEN)],
                                      KEEPALIVE + ["-D", str(dur), "--verify-bytes"])
                    cmds.setdefault("keepalive_bytes", " ".join(cmd))
                    check_run(d, out, "keep-alive /bytes", SMALL_LEN)
                    ok = d["requests"]["ok"]
                    out["bytes_rps"].append((d["requests_per_s"],
                                             d["server_cpu_s"] / ok * 1000 if ok else None))
            finally:
                rc = srv.stop()
                if spec["kind"] == "quicsteer" and rc != 0:
                    out["fails"].append("server exit status %s" % rc)
    return res, cmds


def check_run(d, out, what, body_len):
    """Record anything that went wrong in a measuring run."""
    errs = {k: v for k, v in d["errors"].items() if v}
    ok = d["requests"]["ok"]
    if errs or d["requests"]["failed"] or not ok:
        out["fails"].append("%s: errors %s, requests %s" % (what, errs, d["requests"]))
    elif d["body_bytes"] != ok * body_len:
        out["fails"].append("%s: %d body octets for %d responses" % (what, d["body_bytes"], ok))


def migration(env, specs, rounds):
    """Section 2: share of rebound / migrated connections that finish."""
    ids = ["qs2", "qs2p", "qs2u", "gtls", "caddy2"]
    res = {i: {m: {"attempted": 0, "completed": 0, "failed": 0, "unavailable": 0,
                   "conns": 0, "errors": {}, "fwd": 0, "resets": 0, "requests_ok": 0,
                   "requests_planned": 0} for m in ("rebind", "migrate")} for i in ids}
    cmds = {}
    for r in range(rounds):
        for sid in ids:
            spec = specs[sid]
            log("migration round %d/%d: %s" % (r + 1, rounds, spec["label"]))
            srv = Server(spec, env).start()
            try:
                cmds.setdefault("server " + sid, " ".join(srv.cmd))
                for mode in ("rebind", "migrate"):
                    st0 = srv.stats() if spec["kind"] == "quicsteer" else None
                    d, _, cmd = load(env, [srv.url(SMALL)], MIGRATION + ["--" + mode])
                    cmds.setdefault(mode, " ".join(cmd))
                    o = res[sid][mode]
                    for k in ("attempted", "completed", "failed", "unavailable"):
                        o[k] += d[mode][k]
                    o["conns"] += d["connections"]["handshakes"]
                    o["requests_ok"] += d["requests"]["ok"]
                    o["requests_planned"] += MIGRATION_CONNS * 4
                    for k, v in d["errors"].items():
                        if v:
                            o["errors"][k] = o["errors"].get(k, 0) + v
                    if st0 is not None:
                        st1 = srv.stats()
                        o["fwd"] += st1["fwd_out"] - st0["fwd_out"]
                        o["resets"] += st1["resets_tx"] - st0["resets_tx"]
            finally:
                srv.stop()
    return res, cmds


def wait_line(path, pattern, timeout, proc):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(path) as f:
            text = f.read()
        m = re.search(pattern, text)
        if m:
            return m
        if proc.poll() is not None:
            return None
        time.sleep(0.2)
    return None


def memory(env, specs, nconns):
    """Section 4a: RSS with |nconns| idle connections."""
    plan = [("qs2", 2000), ("gtls", 1500), ("caddy2", 400)]
    res = {}
    cmds = {}
    for sid, rate in plan:
        spec = specs[sid]
        log("memory: %d idle connections on %s" % (nconns, spec["label"]))
        srv = Server(spec, env).start()
        o = res[sid] = {"conns": nconns}
        try:
            load(env, [srv.url(SMALL)], ["-c", "8", "-n", "200", "-m", "4"])
            load(env, [srv.url(SMALL)], ["-c", "16", "-n", "20", "--new-conn"])
            time.sleep(2)
            o["rss_before_kb"] = rss_kb(srv.pid)
            hold = nconns / rate + 20
            cmd = [env.load_bin, "--json", "--no-progress", "--initial-rtt",
                   str(INITIAL_RTT_MS), "-c", str(nconns), "-t", "2", "--new-conn", "-n", "1",
                   "--rate", str(rate), "--hold", "%.0f" % hold, "--timeout", "60",
                   srv.url(SMALL)]
            cmds.setdefault(sid, " ".join(cmd))
            errpath = os.path.join(env.work, "hold-%s.err" % sid)
            with open(errpath, "w") as err, tempfile.TemporaryFile("w+") as out:
                p = spawn(cmd, stdout=out, stderr=err, text=True)
                m = wait_line(errpath, r"holding (\d+) idle", hold + 60, p)
                if m:
                    time.sleep(1)
                    samples = []
                    for _ in range(5):
                        samples.append(rss_kb(srv.pid))
                        time.sleep(0.5)
                    o["rss_idle_kb"] = max(samples)
                    o["held"] = int(m.group(1))
                    if spec["kind"] == "quicsteer":
                        o["server_conns_open"] = srv.stats()["conns_open"]
                    # measured: end the hold now (the client counts the held
                    # connections as stopped, not failed, and exits 1)
                    p.send_signal(signal.SIGINT)
                p.wait(hold + 120)
                PROCS.remove(p)
                out.seek(0)
                try:
                    d = json.loads(out.read())
                    o["client_requests_ok"] = d["requests"]["ok"]
                    o["client_errors"] = {k: v for k, v in d["errors"].items() if v}
                except ValueError:
                    o["client_errors"] = {"no JSON": 1}
            time.sleep(3)
            o["rss_after_kb"] = rss_kb(srv.pid)
            if "rss_idle_kb" in o:
                o["per_conn_kb"] = (o["rss_idle_kb"] - o["rss_before_kb"]) / o["held"]
        finally:
            srv.stop()
    return res, cmds


def soak(env, specs, seconds):
    """Section 4b: mixed load for |seconds|, RSS every 10 s."""
    spec = specs["qs2"]
    log("soak: %d s on %s" % (seconds, spec["label"]))
    srv = Server(spec, env).start()
    clients = [
        ("keep-alive", ["-c", "8", "-m", "4", "--rate", "10000"]),
        ("new connections", ["-c", "8", "--new-conn", "--rate", "200"]),
        ("new connections, rebinding", ["-c", "4", "--new-conn", "--rebind", "--rate", "20"]),
        ("new connections, migrating", ["-c", "4", "--new-conn", "--migrate", "--rate", "20"]),
    ]
    res = {"seconds": seconds, "samples": [], "clients": []}
    procs = []
    try:
        load(env, [srv.url(SMALL)], ["-c", "8", "-n", "200", "-m", "4"])
        t0 = time.time()
        cpu0 = cpu_seconds(srv.pid)
        for what, args in clients:
            cmd = [env.load_bin, "--json", "--no-progress", "--initial-rtt",
                   str(INITIAL_RTT_MS), "-D", str(seconds)] + args + [srv.url(SMALL)]
            out = tempfile.TemporaryFile("w+")
            procs.append((what, cmd, out, spawn(cmd, stdout=out, stderr=subprocess.DEVNULL,
                                                text=True)))
        next_t = t0
        while any(p.poll() is None for _, _, _, p in procs):
            now = time.time()
            if now >= next_t:
                res["samples"].append((round(now - t0, 1), rss_kb(srv.pid),
                                       srv.stats()["conns_open"]))
                next_t += 10
            time.sleep(0.2)
        res["server_cpu_s"] = cpu_seconds(srv.pid) - cpu0
        for what, cmd, out, p in procs:
            PROCS.remove(p)
            out.seek(0)
            try:
                d = json.loads(out.read())
            except ValueError:
                d = None
            res["clients"].append({
                "what": what, "cmd": " ".join(cmd), "exit": p.returncode,
                "args": " ".join(a for a in cmd[1:] if not a.startswith("https://")),
                "requests_ok": d["requests"]["ok"] if d else None,
                "handshakes": d["connections"]["handshakes"] if d else None,
                "errors": {k: v for k, v in d["errors"].items() if v} if d else None,
                "rebind": d["rebind"] if d else None, "migrate": d["migrate"] if d else None})
        time.sleep(3)
        res["rss_after_kb"] = rss_kb(srv.pid)
        res["server_cmd"] = " ".join(srv.cmd)
    finally:
        for _, _, _, p in procs:
            kill_group(p, signal.SIGKILL)
        srv.stop()
    warm = min(60, seconds / 4)
    after = [s for s in res["samples"] if s[0] >= warm]
    if len(after) >= 2:
        res["warmup_s"] = warm
        res["first_kb"] = after[0][1]
        res["last_kb"] = after[-1][1]
        res["growth_kb"] = after[-1][1] - after[0][1]
        res["max_kb"] = max(s[1] for s in after)
    return res


def micro(env, quick):
    """Section 3: the steering, CID and BPF AES benchmarks, verbatim."""
    b = os.path.join(env.build, "bench")
    out = {}
    steer = [os.path.join(b, "bench_steer")] + (["--count", "60000", "--trials", "5"]
                                                  if quick else [])
    cid = [os.path.join(b, "bench_cid")] + (["200000"] if quick else [])
    aes_args = ["-t", "11", "-r", "50000"] if quick else ["-t", "41", "-r", "200000"]
    aes = ["taskset", "-c", "1", os.path.join(b, "bench_bpf_aes")] + aes_args
    v1obj = os.path.join(env.build, "bench", "bpf_aes_probe.v1.bpf.o")
    v1build = ["clang-14", "-g", "-O2", "-target", "bpf", "-mcpu=v1", "-fno-builtin",
               "-D__TARGET_ARCH_x86", "-I", "include", "-I", "bpf",
               "-I/usr/include/%s-linux-gnu" % platform.machine(),
               "-c", "bench/bpf_aes_probe.bpf.c", "-o", os.path.relpath(v1obj, TOP)]
    for key, cmd in (("steer", steer), ("cid", cid), ("aes", aes), ("aes_v1_build", v1build),
                     ("aes_v1", aes + [v1obj])):
        log("micro: %s" % " ".join(cmd))
        p = run(cmd, cwd=TOP, timeout=900)
        if p.returncode != 0:
            raise RuntimeError("%s failed (%d): %s" % (cmd, p.returncode, p.stderr[-2000:]))
        out[key] = {"cmd": " ".join(os.path.relpath(c, TOP) if c.startswith(TOP) else c
                                    for c in cmd), "out": p.stdout}
    return out


# ------------------------------------------------------------------ report


def fmt(v, spec="%.0f", none="–"):
    return none if v is None else spec % v


def span(v):
    """'a–b' for a range of values, or one value when they agree."""
    lo, hi = round(min(v)), round(max(v))
    return "%d" % lo if lo == hi else "%d–%d" % (lo, hi)


def ratio(a, b):
    return a / b if a and b else None


def parse_md_rows(text):
    """Rows of the markdown tables in |text|, as lists of cells."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def parse_aes(text):
    """bench_bpf_aes's table: {program: dict}."""
    progs = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 7 and f[0].startswith("probe_"):
            progs[f[0]] = {"verified": int(f[1]), "xlated": int(f[2]), "jit": int(f[3]),
                           "blocks": int(f[4]), "best": float(f[5]), "median": float(f[6]),
                           "per_block": float(f[7]) if len(f) > 7 else None}
    return progs


def machine_info():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    aes = "aes" in open("/proc/cpuinfo").read().split()

    def dpkg(pkg):
        p = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                           text=True)
        return p.stdout.strip() or "?"

    rev = subprocess.run(["git", "-C", TOP, "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip() or "?"
    cc = subprocess.run(["clang", "--version"], capture_output=True, text=True).stdout
    return {
        "cpu": model, "cpus": os.cpu_count(), "aes_ni": aes, "kernel": platform.release(),
        "mem_gb": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
        "clang": cc.splitlines()[0] if cc else "?", "git": rev,
        "libngtcp2": dpkg("libngtcp2-dev"), "libnghttp3": dpkg("libnghttp3-dev"),
        "gnutls": dpkg("libgnutls30"), "ngtcp2_server": dpkg("ngtcp2-server"),
        "caddy": dpkg("caddy"), "gnuplot": dpkg("gnuplot-nox"),
    }


def write_charts(env, specs, thr, soak_res):
    """Data files and PNGs in bench/charts/ (gnuplot scripts live there)."""
    os.makedirs(CHARTS, exist_ok=True)
    order = ["qs1", "qs1u", "qs2", "qs2u", "gtls", "caddy1", "caddy2"]
    short = {"qs1": "quicsteer\\n1 worker\\nBPF", "qs1u": "quicsteer\\n1 worker\\nno BPF",
             "qs2": "quicsteer\\n2 workers\\nBPF", "qs2u": "quicsteer\\n2 workers\\nno BPF",
             "gtls": "gtlsserver\\n1 thread", "caddy1": "caddy\\nGOMAX-\\nPROCS=1",
             "caddy2": "caddy\\nGOMAX-\\nPROCS=2"}
    with open(os.path.join(CHARTS, "throughput.dat"), "w") as f:
        f.write("# label rps rps_min rps_max hs hs_min hs_max\n")
        for i, sid in enumerate(order):
            r = thr[sid]
            rps = [x for x in r["rps"] if x is not None] or [0]
            hs = [x for x in r["hs"] if x is not None] or [0]
            f.write('%d "%s" %.1f %.1f %.1f %.1f %.1f %.1f\n' % (
                i, short[sid], med(rps), min(rps), max(rps), med(hs), min(hs), max(hs)))
    with open(os.path.join(CHARTS, "latency_cdf.dat"), "w") as f:
        for sid in order:
            h = thr[sid]["lat_hist"]
            total = sum(n for _, n in h)
            f.write('# %s\n' % specs[sid]["label"])
            seen = 0
            for edge, n in h:
                seen += n
                f.write("%.3f %.6f\n" % (edge / 1000.0, seen / total if total else 0))
            f.write("\n\n")
    names = " ".join('"%s"' % specs[s]["label"].replace('"', "") for s in order)
    if soak_res and soak_res.get("samples"):
        with open(os.path.join(CHARTS, "soak_rss.dat"), "w") as f:
            f.write("# seconds rss_MiB conns_open\n")
            for t, kb, conns in soak_res["samples"]:
                f.write("%.1f %.2f %d\n" % (t, kb / 1024.0, conns))
    for gp in ("throughput.gp", "latency_cdf.gp", "soak_rss.gp"):
        if gp == "soak_rss.gp" and not (soak_res and soak_res.get("samples")):
            continue
        cmd = ["gnuplot", "-e", "names='%s'; rate=%d" % (names.replace("'", ""), FIXED_RATE),
               os.path.join(CHARTS, gp)]
        p = run(cmd, cwd=CHARTS, timeout=120)
        if p.returncode != 0:
            raise RuntimeError("gnuplot %s: %s" % (gp, p.stderr))


def write_report(env, specs, runs, info, thr, thr_cmds, mig, mig_cmds, mem, mem_cmds,
                 soak_res, mic):
    L = []
    w = L.append
    args = argparse.Namespace(**runs["throughput"])
    args.idle = runs["memory"]["idle"]
    args.soak = runs["memory"]["soak"]
    quick = any(r["quick"] for r in runs.values())
    w("# Benchmarks\n")
    w("Generated by `bench/run.py`; regenerate everything here (tables, "
      "`bench/charts/*.png`, `bench/charts/results.json`) with one command, as root, "
      "from the repository:\n")
    distinct = []
    for sec, r in runs.items():
        for d, secs in distinct:
            if d == r:
                secs.append(sec)
                break
        else:
            distinct.append((r, [sec]))
    if len(distinct) == 1:
        r = distinct[0][0]
        w("```\n%s\n```\n" % r["command"])
        w("This is the output of that command, run on %s (quicsteer %s); load average "
          "before the run %s.\n" % (r["date"], r["git"], r["load_before"]))
    else:
        w("```\npython3 bench/run.py --soak 600\n```\n")
        w("The sections below come from separate invocations:\n")
        for r, secs in distinct:
            w("- %s: `%s`, %s (quicsteer %s), load average before %s" % (
                ", ".join(secs), r["command"], r["date"], r["git"], r["load_before"]))
        w("")
    if quick:
        w("> **This is (partly) a `--quick` run**: short measurements, one round, %d idle "
          "connections and a %d s soak. Its numbers show the suite works; they are not the "
          "figures to quote. Run `python3 bench/run.py --soak 600` on a quiet machine for "
          "those.\n" % (args.idle, args.soak))
    w("Machine: %d vCPUs (%s%s), %.0f GiB, Linux %s; %s. Other work on the VM inflates "
      "noise; rounds are interleaved and medians reported. Release build (`-O3 -DNDEBUG`). "
      "libngtcp2 %s, libnghttp3 %s, GnuTLS %s, gtlsserver (ngtcp2-server) %s, caddy %s.\n" % (
          info["cpus"], info["cpu"], ", AES-NI" if info["aes_ni"] else "", info["mem_gb"],
          info["kernel"], info["clang"], info["libngtcp2"], info["libnghttp3"], info["gnutls"],
          info["ngtcp2_server"], info["caddy"]))
    w("Client and servers share the machine's %d vCPUs: quicsteer-load (one event-loop "
      "thread unless noted) takes most of one of them, so a server can use about one CPU "
      "and a half at most.\n" % info["cpus"])

    # ---- targets
    q2, q1, g, c2 = thr["qs2"], thr["qs1"], thr["gtls"], thr["caddy2"]
    rq, rg, rc = med(q2["rps"]), med(g["rps"]), med(c2["rps"])
    hq, hg = med(q2["hs"]), med(g["hs"])
    cq, cg = med(q2["rps_cpu"]), med(g["rps_cpu"])
    cq1 = med(q1["rps_cpu"])
    rows = []

    def target(name, value, want, ok):
        rows.append("| %s | %s | %s | %s |" % (name, value, want,
                                               "**met**" if ok else "**not met**"))

    r1 = ratio(rq, rg)
    target("requests/s, quicsteer (2 workers, BPF) / gtlsserver", fmt(r1, "%.2fx"), "≥ 1.5x",
           r1 is not None and r1 >= 1.5)
    r2 = ratio(rq, rc)
    target("requests/s, quicsteer (2 workers, BPF) / caddy", fmt(r2, "%.2fx"), "≥ 2.5x",
           r2 is not None and r2 >= 2.5)
    r3 = ratio(hq, hg)
    target("handshakes/s, quicsteer (2 workers, BPF) / gtlsserver", fmt(r3, "%.2fx"), "≥ 1.5x",
           r3 is not None and r3 >= 1.5)
    r4 = ratio(cq, cg)
    target("server CPU per request, quicsteer (2 workers, BPF) / gtlsserver",
           fmt(r4, "%.2fx") + " (1 worker: %s)" % fmt(ratio(cq1, cg), "%.2fx"), "≤ 0.7x",
           r4 is not None and r4 <= 0.7)
    for mode in ("rebind", "migrate"):
        o = mig["qs2"][mode]
        share = o["completed"] / o["attempted"] if o["attempted"] else None
        target("%s: connections that finish, kernel steering" % mode,
               "%d / %d (%s)" % (o["completed"], o["attempted"], fmt(share and share * 100,
                                                                      "%.1f%%")),
               "100%", share == 1.0 and o["attempted"] > 0)
    if mem.get("qs2", {}).get("per_conn_kb") is not None:
        target("memory per idle connection recorded", "%.1f KiB" % mem["qs2"]["per_conn_kb"],
               "recorded", True)
    else:
        target("memory per idle connection recorded", "–", "recorded", False)
    if soak_res and soak_res.get("growth_kb") is not None:
        ok_soak = soak_res["seconds"] >= 600
        grow = soak_res["growth_kb"]
        target("RSS growth over a %d s soak" % soak_res["seconds"],
               "%+.1f MiB%s" % (grow / 1024.0, "" if ok_soak else " (soak shorter than 10 min)"),
               "no growth over ≥ 600 s (≤ 1 MiB: allocator noise)",
               ok_soak and grow <= 1024)
    # steering (bench_steer): nghttpx's program, measured on this machine with
    # the same method, spends ~765 ns per datagram on its AES path and ~148
    # ns on its Initial path; the loopback receive path costs ~3.1-3.3 us
    steer = {r[0]: r for r in parse_md_rows(mic["steer"]["out"]) if len(r) >= 3}

    def steer_ns(label):
        for k, r in steer.items():
            if k.startswith(label):
                try:
                    return float(r[1])
                except ValueError:
                    return None
        return None
    aes_ns, init_ns = steer_ns("quicsteer: 1-RTT, single-pass AES"), steer_ns("quicsteer: Initial")
    target("steering, CID path (single-pass AES), min ns per datagram in the program",
           fmt(aes_ns, "%.0f ns") + (" (%.1fx faster than nghttpx's ~765)" % (765 / aes_ns)
                                     if aes_ns else ""),
           "< 150 ns", aes_ns is not None and aes_ns < 150)
    target("steering, Initial path, min ns per datagram in the program", fmt(init_ns, "%.0f ns"),
           "≤ nghttpx's ~148 ns", init_ns is not None and init_ns <= 148)
    lb = [r for k, r in steer.items() if k.startswith("quicsteer, single-pass")]
    try:
        over = float(lb[0][2]) - 1.0 if lb else None
    except ValueError:
        over = None
    target("steering, added to the loopback per-datagram send + receive cost",
           fmt(over and over * 100, "%+.1f%%"), "< 5%", over is not None and over < 0.05)
    w("## Targets\n")
    w("Ratios are of medians from this run (%d round%s).\n" % (args.rounds,
                                                               "" if args.rounds == 1 else "s"))
    w("| target | measured | wanted | |\n|---|---|---|---|")
    L.extend(rows)
    w("")

    # ---- servers
    w("## Servers and settings\n")
    w("Every server serves the same document root (`%s`, 1024 octets; `%s`, 100,000,000 "
      "octets; random content) with the same development certificate "
      "(`scripts/dev-cert.sh`, ECDSA P-256) on 127.0.0.1, one at a time.\n" % (SMALL, BIG))
    w("| server | command | initial RTT | idle timeout | flow-control windows |")
    w("|---|---|---|---|---|")
    allcmds = dict(mig_cmds)
    allcmds.update(thr_cmds)
    for sid in ["qs1", "qs1u", "qs2", "qs2u", "qs2p", "gtls", "caddy1", "caddy2"]:
        key = "server " + sid
        if key not in allcmds:
            continue
        kind = specs[sid]["kind"]
        rtt = {"quicsteer": "%d ms (`--initial-rtt`)" % INITIAL_RTT_MS,
               "gtlsserver": "%d ms (`--initial-rtt`)" % INITIAL_RTT_MS,
               "caddy": "100 ms (quic-go's fixed default; caddy has no setting)"}[kind]
        idle = {"quicsteer": "30 s (fixed)", "gtlsserver": "30 s", "caddy": "30 s (quic-go)"}[kind]
        win = {"quicsteer": "256 KiB stream / 1 MiB conn., auto-tuned to 16 / 24 MiB",
               "gtlsserver": "256 KiB / 1 MiB, auto-tuned to 16 / 24 MiB (flags)",
               "caddy": "quic-go defaults (auto-tuned to 6 / 15 MiB)"}[kind]
        cmd = shown_cmd(allcmds[key]).replace(
            os.path.relpath(env.work, TOP) + "/", "$W/")
        w("| %s | `%s` | %s | %s | %s |" % (specs[sid]["label"], cmd, rtt, idle, win))
    w("\n`$W` is the run's scratch directory (`%s`). quicsteer-load always runs with "
      "`--initial-rtt %d`. quicsteer's `--name` is unique per run; `--drain-timeout 1` only "
      "shortens its exit.\n" % (os.path.relpath(env.work, TOP), INITIAL_RTT_MS))

    # ---- throughput
    order = ["qs1", "qs1u", "qs2", "qs2u", "gtls", "caddy1", "caddy2"]
    w("## Throughput\n")
    w("Per server, per round: a warm-up, then\n")
    w("- keep-alive: `%s -D %d` on `/%s` (16 connections × 4 concurrent requests);" % (
        " ".join(KEEPALIVE), args.duration, SMALL))
    w("- new connection per request: `%s -D %d` (32 concurrent handshakes; every handshake "
      "is a full one: X25519, ECDSA P-256 signature, no resumption);" % (
          " ".join(NEWCONN), args.duration))
    w("- latency at a fixed rate: `%s -D %d --latency-hist`;" % (" ".join(LATENCY),
                                                                 args.lat_duration))
    w("- download: `-c 1 -n 1` on `/%s` (one connection).\n" % BIG)
    other = [x for sid in order for x in thr[sid].get("other", [])]
    w("Server CPU is utime + stime of all the server's threads from `/proc/PID/stat` "
      "(10 ms ticks) across each measurement; client CPU likewise from the finished "
      "quicsteer-load (`getrusage`). Medians of %d round%s; min–max across rounds in "
      "brackets. Noise: during the keep-alive and new-connection measurements the rest of "
      "the machine (other processes, and interrupt time charged to neither side) used "
      "%s CPUs (median %s, highest %s).\n" % (
          args.rounds, "" if args.rounds == 1 else "s",
          "–" if not other else "%.2f–%.2f" % (min(other), max(other)),
          fmt(med(other), "%.2f"), fmt(max(other) if other else None, "%.2f")))
    def m1000(v):
        m = med(v)
        return None if m is None else m * 1000

    w("**Keep-alive** (requests/s; CPU per 1000 requests; server cores = server CPU "
      "seconds per second):\n")
    w("| server | requests/s (min–max) | server CPU ms / 1000 req | server cores "
      "| client CPU ms / 1000 req | latency p50 / p99 ms |")
    w("|---|---:|---:|---:|---:|---:|")
    for sid in order:
        r = thr[sid]
        rps = [x for x in r["rps"] if x is not None]
        w("| %s | %s (%s–%s) | %s | %s | %s | %s / %s |" % (
            specs[sid]["label"], fmt(med(rps)), fmt(min(rps) if rps else None),
            fmt(max(rps) if rps else None), fmt(m1000(r["rps_cpu"]), "%.1f"),
            fmt(med(r.get("rps_cores", [])), "%.2f"), fmt(m1000(r["rps_client_cpu"]), "%.1f"),
            fmt(med(r["ka_p50"]) and med(r["ka_p50"]) / 1000, "%.2f"),
            fmt(med(r["ka_p99"]) and med(r["ka_p99"]) / 1000, "%.2f")))
    w("\n**New connection per request** and **100 MB download**:\n")
    w("| server | handshakes/s (min–max) | server CPU ms / 1000 handshakes | server cores "
      "| client CPU ms / 1000 handshakes | 100 MB goodput MB/s | server CPU s / 100 MB |")
    w("|---|---:|---:|---:|---:|---:|---:|")
    for sid in order:
        r = thr[sid]
        hs = [x for x in r["hs"] if x is not None]
        w("| %s | %s (%s–%s) | %s | %s | %s | %s | %s |" % (
            specs[sid]["label"], fmt(med(hs)), fmt(min(hs) if hs else None),
            fmt(max(hs) if hs else None), fmt(m1000(r["hs_cpu"]), "%.0f"),
            fmt(med(r.get("hs_cores", [])), "%.2f"),
            fmt(m1000(r.get("hs_client_cpu", [])), "%.0f"),
            fmt(med(r["dl"]), "%.0f"), fmt(med(r["dl_cpu"]), "%.2f")))
    w("")
    # what the shared machine allows: the client's own CPU per request bounds
    # what any server could reach
    ccpu, gcpu = med(thr["gtls"]["rps_client_cpu"]), med(thr["gtls"]["rps_cpu"])
    hcc, hgc = med(thr["gtls"].get("hs_client_cpu", [])), med(thr["gtls"]["hs_cpu"])
    ncpu = info["cpus"]
    if ccpu and gcpu and hcc and hgc:
        # all in CPU seconds per 1000 requests (handshakes)
        need = 1.5 * med(thr["gtls"]["rps"])
        room = ncpu / need * 1000 - ccpu
        hneed = 1.5 * med(thr["gtls"]["hs"])
        hroom = ncpu / hneed * 1000 - hcc
        w("What this machine allows: quicsteer-load itself spends %.1f ms of CPU per 1000 "
          "requests and %.0f ms per 1000 handshakes (against gtlsserver), on the same %d "
          "vCPUs as the server. At 1.5x gtlsserver's requests/s (%.0f/s) the client alone "
          "would keep %.2f vCPUs busy, leaving a server %.1f ms per 1000 requests "
          "(gtlsserver needs %.1f); at 1.5x its handshakes/s (%.0f/s) the client would keep "
          "%.2f vCPUs busy, leaving %.0f ms per 1000 handshakes (gtlsserver needs %.0f). "
          "gtlsserver is single-threaded and runs at about one vCPU; a second quicsteer "
          "worker can only use what the client leaves of the second one, so on this machine "
          "the ratios measure CPU per request more than parallelism.\n" % (
              ccpu * 1000, hcc * 1000, ncpu, need, need * ccpu / 1000, room * 1000,
              gcpu * 1000, hneed, hneed * hcc / 1000, hroom * 1000, hgc * 1000))
    if thr["qs1"]["bytes_rps"]:
        b_rps = med([x[0] for x in thr["qs1"]["bytes_rps"]])
        b_cpu = med([x[1] for x in thr["qs1"]["bytes_rps"]])
        w("Where quicsteer's time goes: the same keep-alive load on `/bytes/%d` (a generated "
          "body, no file system) gave quicsteer 1 worker %s requests/s at %s server CPU ms "
          "per 1000 requests, against %s and %s for the 1 KiB file, which comes from the "
          "worker's small-file cache (src/server/http/filecache.c). Profiled separately (not by "
          "this command: `perf record -e cpu-clock -g -p SERVER_PID` during `-c 16 -m 4` on "
          "the 1 KiB file, 1 worker, 2026-11-25), about 32%% of the server's CPU in the kernel (UDP send "
          "and, on loopback, the client's receive path), 26%% in nghttp3, 16%% in ngtcp2, 15%% "
          "in libc (malloc, memcpy), 7%% in GnuTLS (AEAD) and 3%% in quicsteer's own code: "
          "per request it does the same protocol work as gtlsserver, on the same libraries, "
          "so their CPU per request is equal, and a 0.7x ratio is out of reach of the "
          "server's own code. With 2 workers the second one shares a vCPU with the client.\n" % (
              SMALL_LEN, fmt(b_rps), fmt(b_cpu and b_cpu * 1000, "%.1f"),
              fmt(med(thr["qs1"]["rps"])),
              fmt(med(thr["qs1"]["rps_cpu"]) and med(thr["qs1"]["rps_cpu"]) * 1000, "%.1f")))
    fails = ["- %s: %s" % (specs[s]["label"], f) for s in order for f in thr[s]["fails"]]
    if fails:
        w("Problems seen during the measurements:\n")
        L.extend(fails)
        w("")
    w("![requests/s and handshakes/s by server and worker count](bench/charts/throughput.png)\n")

    # ---- latency
    w("### Latency at %d requests/s\n" % FIXED_RATE)
    w("Open loop, %d requests/s over 16 connections × 4 streams, latency from sending a "
      "request to the end of its response (quicsteer-load's histogram, < 1.6%% bucket error; "
      "all rounds merged).\n" % FIXED_RATE)
    w("| server | p50 ms | p90 ms | p99 ms | p99.9 ms |\n|---|---:|---:|---:|---:|")
    for sid in order:
        h = thr[sid]["lat_hist"]
        w("| %s | %s |" % (specs[sid]["label"], " | ".join(
            fmt(hist_quantile(h, q) / 1000 if h else None, "%.3f")
            for q in (0.5, 0.9, 0.99, 0.999))))
    w("\n![latency CDF at a fixed rate](bench/charts/latency_cdf.png)\n")

    # ---- migration
    w("## Migration survival\n")
    w("Each round, per server: `%s --rebind` and `... --migrate` on `/%s`: %d connections, "
      "4 requests each (2 concurrent); after the first response every connection moves "
      "to a new local port (`--rebind`: NAT rebinding, same DCID, old port closed) or "
      "validates a new path with a new DCID (`--migrate`), and the other 3 requests use the "
      "new path. *Finished* = moved, then completed all its requests. quicsteer runs 2 "
      "workers. Totals over %d round%s.\n" % (
          " ".join(MIGRATION), SMALL, MIGRATION_CONNS, args.rounds,
          "" if args.rounds == 1 else "s"))
    w("| server | rebind: finished / moved | lost | migrate: finished / moved | lost | "
      "stateless resets sent | datagrams relayed between workers |")
    w("|---|---:|---|---:|---|---:|---:|")
    for sid in ["qs2", "qs2p", "qs2u", "gtls", "caddy2"]:
        cells = [specs[sid]["label"]]
        for mode in ("rebind", "migrate"):
            o = mig[sid][mode]
            share = "%.1f%%" % (100.0 * o["completed"] / o["attempted"]) if o["attempted"] \
                else "–"
            cells.append("%d / %d (%s)" % (o["completed"], o["attempted"], share))
            lost = []
            if o["failed"]:
                lost.append("%d failed" % o["failed"])
            if o["unavailable"]:
                lost.append("%d could not move" % o["unavailable"])
            errs = ", ".join("%s %d" % kv for kv in sorted(o["errors"].items()))
            if errs:
                lost.append("errors: " + errs)
            cells.append("; ".join(lost) or "none")
        q = specs[sid]["kind"] == "quicsteer"
        cells.append(str(mig[sid]["rebind"]["resets"] + mig[sid]["migrate"]["resets"])
                     if q else "–")
        cells.append(str(mig[sid]["rebind"]["fwd"] + mig[sid]["migrate"]["fwd"]) if q else "–")
        w("| " + " | ".join(cells) + " |")
    w("\n*failed* without an error kind: the migration's path validation failed and the "
      "connection finished its requests on the old path. "
      "*could not move*: `--migrate` found no spare connection ID from the server (caddy "
      "2.6's quic-go issues none). With plain `SO_REUSEPORT` the kernel hashes the new "
      "4-tuple, so about half of the moved connections land on the worker that does not "
      "know them, which answers with a stateless reset (`--no-forward`).\n")

    # ---- memory
    w("## Memory\n")
    w("### Idle connections\n")
    w("Each server gets a warm-up (1,600 requests on 8 connections, 320 new connections), "
      "then RSS (`VmRSS`) is read; then %d connections are opened at a steady rate, each "
      "makes one request and stays open idle (quicsteer-load `--hold`, PING keep-alives "
      "every 15 s keep the 30 s idle timeout away), and RSS is read again (highest of 5 "
      "readings over 2 s once the client reports all of them open). Per connection = "
      "difference / connections held.\n" % args.idle)
    w("| server | connections held | RSS before | RSS with them | per connection | "
      "RSS 3 s after they closed | command |")
    w("|---|---:|---:|---:|---:|---:|---|")
    for sid in ("qs2", "gtls", "caddy2"):
        o = mem.get(sid)
        if not o:
            continue
        extra = ""
        if "server_conns_open" in o:
            extra = " (server: %d open)" % o["server_conns_open"]
        w("| %s | %s%s | %s MiB | %s MiB | %s KiB | %s MiB | `%s` |" % (
            specs[sid]["label"], o.get("held", "–"), extra,
            fmt(o.get("rss_before_kb", 0) / 1024, "%.1f"),
            fmt(o.get("rss_idle_kb") and o["rss_idle_kb"] / 1024, "%.1f"),
            fmt(o.get("per_conn_kb"), "%.1f"),
            fmt(o.get("rss_after_kb") and o["rss_after_kb"] / 1024, "%.1f"),
            shown_cmd(mem_cmds.get(sid, ""))))
    w("\nquicsteer and gtlsserver hold each connection in libngtcp2 0.12 + GnuTLS + nghttp3 "
      "state, most of the per-connection figure; malloc keeps freed memory, so RSS does not "
      "fall back after the connections close.\n")
    if soak_res:
        w("### Soak\n")
        w("quicsteer 2 workers (BPF) under %d s of mixed load from four concurrent clients, "
          "RSS sampled every 10 s; growth is the last sample minus the first after a %.0f s "
          "warm-up.\n" % (soak_res["seconds"], soak_res.get("warmup_s", 0)))
        w("| client | quicsteer-load arguments | exit | requests ok | handshakes | errors "
          "| path changes |")
        w("|---|---|---:|---:|---:|---|---|")
        for c in soak_res["clients"]:
            sw = c["rebind"] if "--rebind" in c["args"] else c["migrate"] \
                if "--migrate" in c["args"] else None
            w("| %s | `%s` | %s | %s | %s | %s | %s |" % (
                c["what"], c["args"], c["exit"], c["requests_ok"], c["handshakes"],
                c["errors"] or "none",
                ("%d of %d finished" % (sw["completed"], sw["attempted"])) if sw else "–"))
        if soak_res.get("growth_kb") is not None:
            w("\nRSS after warm-up: first %.1f MiB, last %.1f MiB, highest %.1f MiB: growth "
              "%+.1f MiB over %.0f s; server CPU %.1f s in all; RSS 3 s after the load "
              "stopped: %.1f MiB.\n" % (
                  soak_res["first_kb"] / 1024, soak_res["last_kb"] / 1024,
                  soak_res["max_kb"] / 1024, soak_res["growth_kb"] / 1024,
                  soak_res["samples"][-1][0] - soak_res["warmup_s"], soak_res["server_cpu_s"],
                  soak_res["rss_after_kb"] / 1024))
        w("![server RSS during the soak](bench/charts/soak_rss.png)\n")

    # ---- steering, CID, AES
    w("## Steering cost per datagram\n")
    w("From `bench/bench_steer.c` (root; its own network namespace): the BPF program's "
      "run time per datagram from the kernel's BPF statistics, and the whole loopback "
      "send + receive path with and without the program.\n")
    w("```\n%s\n```\n" % mic["steer"]["cmd"])
    w(re.sub(r"^## ", "### ", mic["steer"]["out"].strip(), flags=re.M) + "\n")
    w("Reading it: *min* is the program's own cost (noise only ever adds time), *median* "
      "what the busy VM added; the run time includes the BPF run-time statistics' own "
      "timing overhead, which is also in the trivial program's figure.\n")

    cid_rows = parse_md_rows(mic["cid"]["out"])
    w("## CID codec (user space)\n")
    w("What one QUIC-LB connection-ID operation costs in user space (`lib/lb.c` over "
      "`include/quicsteer/lb_core.h`, AES-128 from nettle), per algorithm, from "
      "`bench/bench_cid.c`: best of 5 runs, nanoseconds per operation.\n")
    w("```\n%s\n```\n" % mic["cid"]["cmd"])
    w(mic["cid"]["out"].strip() + "\n")
    try:
        byname = {(r[0], r[1]): r for r in cid_rows}
        plain = float(byname[("plaintext", "6 + 10")][2])
        aes1 = float(byname[("single-pass AES", "6 + 10")][2])
        f4 = float(byname[("four-pass Feistel", "6 + 13")][2])
        mint = float(byname[("single-pass AES", "17")][2])
        route = float(byname[("single-pass AES", "17")][3])
        w("Reading it:")
        w("- single-pass AES adds one AES-128 block to the plaintext cost (%.1f ns here: "
          "%.1f vs %.1f ns to encode); four-pass Feistel adds four (three when decoding "
          "only a server ID that fits in the left half: the \"3 + 4\" and \"6 + 13\" rows, "
          "not \"10 + 5\", whose 10-octet server ID is longer than half the 15-octet body), "
          "%.1f ns for \"6 + 13\"." % (aes1 - plain, aes1, plain, f4))
        w("- The same rule explains route: a 12-octet layout CID has an 11-octet body and a "
          "6-octet server ID (host ID + routing key), more than half, so it needs all four "
          "passes; the 20-octet one (19-octet body) stops after three.")
        w("- Mint (%.0f ns with single-pass AES) is dominated by the `getrandom(2)` system "
          "call for the nonce; minting happens a few times per connection, routing "
          "(%.1f ns) once per datagram.\n" % (mint, route))
    except (KeyError, ValueError, IndexError):
        w("(bench_cid's output format changed: no reading generated.)\n")

    a3, a1 = parse_aes(mic["aes"]["out"]), parse_aes(mic["aes_v1"]["out"])
    w("## AES-128 inside BPF\n")
    w("What one AES-128 block costs in the kernel with the hand-written table AES of "
      "`bpf/aes128.h` (the only crypto the steering program can use), from "
      "`bench/bench_bpf_aes.c` running the socket-filter programs of "
      "`bench/bpf_aes_probe.bpf.c` with `BPF_PROG_TEST_RUN` (JIT on). Each program reads "
      "the round keys from a map value and the block into the stack, as the steering "
      "program does; ns/block is (program − `probe_empty`) / blocks, from the fastest "
      "trial, trials taken round-robin over the programs. Every trial's result is checked "
      "against the same AES in user space (which `tests/test_aes128.c` checks against "
      "nettle). The build compiles BPF with `-mcpu=v3` (`cmake/bpf.cmake`); the v1 column "
      "is the same probe compiled with `-mcpu=v1`.\n")
    w("```\n%s\n%s\n%s\n```\n" % (mic["aes"]["cmd"], mic["aes_v1_build"]["cmd"],
                                  mic["aes_v1"]["cmd"]))
    w("| program | blocks per run | verified insns v3 / v1 | xlated insns v3 / v1 "
      "| JIT bytes v3 / v1 | ns/block, `-mcpu=v3` | ns/block, `-mcpu=v1` |")
    w("|---|---:|---:|---:|---:|---:|---:|")
    for name in ("probe_empty", "probe_dec1", "probe_enc1", "probe_dec_n", "probe_enc_n",
                 "probe_dec_call", "probe_enc_call"):
        p3, p1 = a3.get(name), a1.get(name)
        if not p3 or not p1:
            continue
        w("| `%s` | %d | %d / %d | %d / %d | %d / %d | %s | %s |" % (
            name, p3["blocks"], p3["verified"], p1["verified"], p3["xlated"], p1["xlated"],
            p3["jit"], p1["jit"], fmt(p3["per_block"], "%.1f", "(baseline)"),
            fmt(p1["per_block"], "%.1f", "(baseline)")))
    w("")
    try:
        one3 = (a3["probe_dec1"]["per_block"], a3["probe_enc1"]["per_block"])
        chain3 = (a3["probe_dec_n"]["per_block"], a3["probe_enc_n"]["per_block"])
        one1 = (a1["probe_dec1"]["per_block"], a1["probe_enc1"]["per_block"])
        call3 = (a3["probe_dec_call"]["per_block"] + a3["probe_enc_call"]["per_block"]) / 2
        save = 1 - sum(one3) / sum(one1)
        code = 1 - a3["probe_dec1"]["jit"] / a1["probe_dec1"]["jit"]
        w("Reading it:")
        w("- A block costs %s ns when it is the only one in the run (what the steering "
          "program does per datagram with single-pass AES CIDs) and %s ns when blocks "
          "depend on each other (four-pass Feistel: three or four chained encryptions per "
          "CID)." % (span(one3), span(chain3)))
        w("- `-mcpu=v3` (alu32 and 32-bit jumps; any kernel since 5.1) saves %.0f%% of the "
          "time of a single block and %.0f%% of the JIT code here." % (save * 100, code * 100))
        w("- Calling the AES as a BPF-to-BPF function, as `bpf/steer.bpf.c` does to keep "
          "verification bounded and four-pass code from being inlined four times, adds "
          "~%.0f ns per call." % (call3 - sum(one3) / 2))
        w("- BPF run-time statistics (which bench_steer turns on) add a fixed cost to "
          "every run, baseline included; the subtraction removes it.")
        w("- Tables: 4 KiB per direction plus 256-octet S-boxes, in the program's read-only "
          "`.rodata` map.\n")
    except (KeyError, TypeError, ZeroDivisionError):
        w("(bench_bpf_aes's output format changed: no reading generated.)\n")
    w("Alternatives tried once while writing `bpf/aes128.h` (same probe and runner, "
      "`-mcpu` v1 / v3, ns per block; the variants are not in the tree, so this table is "
      "not regenerated):\n")
    w("| variant | decrypt 1 | decrypt chained | xlated insns (dec1) | JIT bytes (dec1) |")
    w("|---|---:|---:|---:|---:|")
    w("| kept: 4 T-tables per direction, rounds unrolled | 70 / 58 | 78 / 64 | 1564 / 1407 "
      "| 6727 / 5936 |")
    w("| same, 32-bit state variables (v3 only differs) | 70 / 64 | 78 / 70 | 1564 / 1470 "
      "| 6727 / 5814 |")
    w("| same, rounds as a `for (r = 1; r < 10; r++)` loop | 76 / 66 | 84 / 70 | 402 / 379 "
      "| 1822 / 1678 |")
    w("| one table per direction + rotations (`Te_n = ror(Te0, 8n)`) | 99 / 91 | 106 / 93 "
      "| 2098 / 1930 | 8602 / 7441 |")
    w("| byte-oriented, xtime MixColumns (no T-tables) | 373 / 365 | 370 / 379 | 535 / 534 "
      "| 2269 / 2180 |")
    w("\nThe loop variant is a quarter of the code for 6–8 ns more per block; this "
      "benchmark keeps code and tables hot in L1, so it cannot show what a smaller "
      "footprint would win when the network stack evicts them between datagrams.\n")

    for head, _, _ in SAVED_SECTIONS:
        sec = saved_section(head)
        if sec:
            w(sec)
    w("## Raw data\n")
    w("`bench/charts/results.json` holds every figure above per round, the exact client "
      "and server command lines, and the machine description; `bench/charts/*.gp` are the "
      "gnuplot scripts (data files `*.dat` beside them).\n")
    with open(os.path.join(TOP, "BENCHMARKS.md"), "w") as f:
        f.write("\n".join(L).rstrip() + "\n")


INSTR_HEAD = "## Instructions per request, and steering in real traffic"


FLOOD_HEAD = "## Initial flood"
PROXY_HEAD = "## Reverse proxy"
H2_HEAD = "## HTTP/2 and HTTP/1.1 over TCP, against nginx"

# sections measured by other scripts: (heading, file in bench/charts, script)
SAVED_SECTIONS = [(INSTR_HEAD, "instr.md", "bench/instr.py"),
                  (FLOOD_HEAD, "flood.md", "bench/flood.py"),
                  (PROXY_HEAD, "proxy.md", "bench/proxy.py"),
                  (H2_HEAD, "h2.md", "bench/h2.py"),
                  ("## TLS resumption and 0-RTT", "tls.md", "bench/tls.py")]


def saved_section(head):
    """BENCHMARKS.md's section |head| from its script's last run (its own
    command; bench/charts/NAME.md), or "" if it never ran."""
    _, name, script = [s for s in SAVED_SECTIONS if s[0] == head][0]
    path = os.path.join(CHARTS, name)
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        body = f.read().strip()
    return ("%s\n\nNot measured by `bench/run.py`: this section is the output of "
            "`%s`, which writes it here and into `bench/charts/%s`.\n\n%s\n"
            % (head, script, name, body))


def instr_section():
    return saved_section(INSTR_HEAD)


def splice_section(head):
    """Puts saved_section(head) into BENCHMARKS.md in place of the old one
    (or before "## Raw data"), leaving the rest as it is."""
    path = os.path.join(TOP, "BENCHMARKS.md")
    with open(path) as f:
        text = f.read()
    raw = text.find("## Raw data")
    if raw < 0:
        raw = len(text)
    start = text.find(head + "\n")
    if start < 0:
        start = end = raw
    else:
        end = text.find("\n## ", start + len(head))
        end = raw if end < 0 else end + 1
    text = text[:start] + saved_section(head) + "\n" + text[end:]
    with open(path, "w") as f:
        f.write(text)


def splice_instr():
    splice_section(INSTR_HEAD)


def save_section(head, md, doc):
    """A script's result: the section body |md| into bench/charts/NAME.md,
    |doc| into NAME.json (NAME from SAVED_SECTIONS), and the section into
    BENCHMARKS.md."""
    name = [s for s in SAVED_SECTIONS if s[0] == head][0][1]
    md_path = os.path.join(CHARTS, name)
    json_path = md_path[:-3] + ".json"
    os.makedirs(CHARTS, exist_ok=True)
    with open(md_path, "w") as f:
        f.write(shown_cmd(md))
    with open(json_path, "w") as f:
        json.dump(doc, f, indent=1)
    splice_section(head)
    log("wrote %s, %s and its section of BENCHMARKS.md" % (md_path, json_path))


# --------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="short runs, one round, 1000 idle connections, 30 s soak")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default 3; quick 1)")
    ap.add_argument("--duration", type=float, help="seconds per throughput run (10; quick 2)")
    ap.add_argument("--soak", type=int, help="soak seconds (default 600; quick 30; 0: none)")
    ap.add_argument("--idle", type=int, help="idle connections for the memory test "
                    "(10000; quick 1000)")
    ap.add_argument("--only", default="throughput,migration,memory,micro",
                    help="comma-separated sections to measure: throughput, migration, "
                    "memory (with the soak), micro; the others are taken from "
                    "bench/charts/results.json (e.g. --only report: no measuring, just "
                    "re-render BENCHMARKS.md and the charts)")
    ap.add_argument("--build", default=os.path.join(TOP, "build", "bench"),
                    help="Release build directory (default build/bench)")
    args = ap.parse_args()
    q = args.quick
    args.rounds = args.rounds or (1 if q else 3)
    args.duration = args.duration or (2 if q else 10)
    args.lat_duration = max(2, args.duration / 2)
    args.soak = (30 if q else 600) if args.soak is None else args.soak
    args.idle = args.idle or (1000 if q else 10000)
    only = set(args.only.split(","))

    rc = need_root("BPF steering, bench_steer, bench_bpf_aes")
    if rc:
        return rc
    t0 = time.time()
    t_start = datetime.datetime.utcnow()
    command = ("python3 bench/run.py " + " ".join(sys.argv[1:])).strip()
    load_before = load_avg()
    log("load average: %s" % " ".join(load_before))
    if float(load_before[0]) > 0.7:
        log("WARNING: the machine is busy (load %s): numbers will be noisy" % load_before[0])

    missing = [p for p in (GTLSSERVER, CADDY, shutil.which("gnuplot") or "/nonexistent/gnuplot")
               if not os.access(p, os.X_OK)]
    if missing:
        log("missing %s: running scripts/deps.sh bench" % missing)
        subprocess.run(["bash", os.path.join(TOP, "scripts", "deps.sh"), "bench"], check=True)

    # build, certificate and document root
    env = bench_env(args.build, "bench-run", ["quicsteer-server", "quicsteer-load", "bench_cid",
                                              "bench_bpf_aes", "bench_steer"])
    env.t0, env.command = t0, command
    for name, size in ((SMALL, SMALL_LEN), (BIG, BIG_LEN)):
        random_file(os.path.join(env.www, name), size)
    with open(os.path.join(env.www, "index.html"), "w") as f:
        f.write("<!doctype html><title>bench</title>\n")

    specs = server_specs()
    resfile = os.path.join(CHARTS, "results.json")
    old = {}
    if only != {"throughput", "migration", "memory", "micro"} and os.path.exists(resfile):
        with open(resfile) as f:
            old = json.load(f)
    info = machine_info()
    meta = {"command": env.command, "date": t_start.strftime("%Y-%m-%d %H:%M UTC"),
            "load_before": " ".join(load_before), "quick": q, "rounds": args.rounds,
            "duration": args.duration, "lat_duration": args.lat_duration, "idle": args.idle,
            "soak": args.soak, "git": info["git"]}
    runs = {}
    for sec in ("throughput", "migration", "memory", "micro"):
        runs[sec] = meta if sec in only else old.get("runs", {}).get(sec, meta)
    try:
        if "throughput" in only:
            thr, thr_cmds = throughput(env, specs, args.rounds, args.duration, args.lat_duration)
        else:
            thr, thr_cmds = old["throughput"], old["throughput_cmds"]
        if "migration" in only:
            mig, mig_cmds = migration(env, specs, args.rounds)
        else:
            mig, mig_cmds = old["migration"], old["migration_cmds"]
        if "memory" in only:
            mem, mem_cmds = memory(env, specs, args.idle)
            soak_res = soak(env, specs, args.soak) if args.soak > 0 else None
        else:
            mem, mem_cmds, soak_res = old["memory"], old["memory_cmds"], old["soak"]
        mic = micro(env, q) if "micro" in only else old["micro"]
    finally:
        kill_all()
    os.makedirs(CHARTS, exist_ok=True)
    with open(resfile, "w") as f:
        json.dump({"runs": runs, "machine": info,
                   "throughput": thr, "throughput_cmds": thr_cmds, "migration": mig,
                   "migration_cmds": mig_cmds, "memory": mem, "memory_cmds": mem_cmds,
                   "soak": soak_res, "micro": mic}, f, indent=1)
    write_charts(env, specs, thr, soak_res)
    write_report(env, specs, runs, info, thr, thr_cmds, mig, mig_cmds, mem, mem_cmds,
                 soak_res, mic)
    log("wrote BENCHMARKS.md, bench/charts/ (%.1f min)" % ((time.time() - env.t0) / 60))
    return 0


if __name__ == "__main__":
    main_run(main)
