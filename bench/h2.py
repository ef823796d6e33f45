#!/usr/bin/env python3
"""bench/h2.py: the TCP front against Debian's nginx, HTTP/2 and HTTP/1.1 over TLS.

    sudo python3 bench/h2.py [--rounds N] [--duration S] [--only LOAD,...]

Two servers run side by side on loopback, from the same document root
(random 1 KiB, 100 KiB and 10 MiB files) with the same certificate and key
(scripts/dev-cert.sh: ECDSA P-256), TLS 1.3, access logs off:

  - quicsteer-server, 2 workers, kernel steering; its TCP front on the
    QUIC port (HTTP/2 with libnghttp2, HTTP/1.1 with http-parser);
  - nginx-light, 2 worker processes, `listen ... ssl http2`, with its own
    config in the work directory (NGINX_CONF below).

h2load (nghttp2-client, one thread) drives both the same way, for a bounded
time (-D) per run: HTTP/2 with 16 connections x 10 streams (4 x 1 for the
10 MiB file), HTTP/1.1 with 64 keep-alive connections, one request at a
time each.  Rounds are interleaved (per load: quicsteer, nginx, then nginx,
quicsteer in the next round) and each figure is the median over rounds.
Server CPU is utime + stime of every thread of every process of the server
(/proc/PID/stat) across the run, per request completed.

A broken server must not look fast: before the rounds each file is fetched
over both protocols with curl and compared with the file; every run must
have negotiated the expected ALPN, completed requests with 2xx only, none
failed, errored or timed out, and h2load's body octets must fit the file
size times the requests (plus at most those in flight at the end).
Otherwise the script stops without writing anything.

The result, followed by bench/levers_h2.md (the levers tried, written by
hand), is written to bench/charts/h2.md and h2.json and spliced into
BENCHMARKS.md as its section "HTTP/2 and HTTP/1.1 over TCP, against nginx"
(bench/run.py keeps it).  Python 3 standard library only; helpers from
bench/benchlib.py, bench/run.py (quicsteer-server) and bench/nginx.py.
"""
import argparse
import copy
import hashlib
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402
import nginx as N  # noqa: E402
import run as R  # noqa: E402

CURL = "/usr/bin/curl"
LEVERS = os.path.join(R.BENCH, "levers_h2.md")  # what was tried on the TCP front, by hand
FILES = {"1k.bin": 1024, "100k.bin": 100 * 1024, "10M.bin": 10 * 1024 * 1024}
# id -> (protocol h2load must negotiate, file, h2load arguments, requests in flight)
LOADS = {
    "h2-1k": ("h2", "1k.bin", ["-c", "16", "-m", "10"], 160),
    "h2-100k": ("h2", "100k.bin", ["-c", "16", "-m", "10"], 160),
    "h2-10M": ("h2", "10M.bin", ["-c", "4", "-m", "1"], 4),
    "h1-1k": ("http/1.1", "1k.bin", ["--h1", "-c", "64", "-m", "1"], 64),
    "h1-100k": ("http/1.1", "100k.bin", ["--h1", "-c", "64", "-m", "1"], 64),
}
LABEL = {"qs": "quicsteer", "nginx": "nginx", "base": "quicsteer baseline"}
NGINX_CONF = """
daemon off;
master_process on;
worker_processes 2;
pid {work}/nginx-h2.pid;
error_log {work}/nginx-h2-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  types {{ application/octet-stream bin; }}
  default_type application/octet-stream;
  keepalive_requests 10000000;
  keepalive_timeout 30s;
  open_file_cache max=1000 inactive=60s;
  ssl_protocols TLSv1.3;
  ssl_certificate {cert};
  ssl_certificate_key {key};
  client_body_temp_path {work}/nginx-h2-body;
  proxy_temp_path {work}/nginx-h2-proxy;
  fastcgi_temp_path {work}/nginx-h2-fastcgi;
  uwsgi_temp_path {work}/nginx-h2-uwsgi;
  scgi_temp_path {work}/nginx-h2-scgi;
  server {{
    listen 127.0.0.1:{port} ssl http2 backlog=4096;
    root {www};
  }}
}}
"""


def url_of(port, path):
    return "https://127.0.0.1:%d/%s" % (port, path)


def check_content(env, port, who):
    """Every file over both protocols, by curl, octet for octet."""
    out = os.path.join(env.work, "h2-curl.out")
    for path in FILES:
        want = hashlib.sha256(open(os.path.join(env.www, path), "rb").read()).hexdigest()
        for flag, ver in (("--http2", "2"), ("--http1.1", "1.1")):
            p = R.run([CURL, "-sk", flag, "-o", out, "-w", "%{http_version} %{http_code}",
                       url_of(port, path)], timeout=60)
            got = hashlib.sha256(open(out, "rb").read()).hexdigest() \
                if os.path.exists(out) else ""
            if p.returncode != 0 or p.stdout.split() != [ver, "200"] or got != want:
                raise RuntimeError("%s: curl %s %s: exit %d, %r, body %s" % (
                    who, flag, path, p.returncode, p.stdout,
                    "intact" if got == want else "differs"))
            os.unlink(out)


def check_run(d, proto, size, inflight):
    """Why run |d| (h2load's figures) cannot be trusted, or None."""
    ok = d["succeeded"]
    if not ok:
        return "no request succeeded"
    if d["alpn"] != proto:
        return "negotiated %s, not %s" % (d["alpn"], proto)
    if d["failed"] or d["errored"] or d["timeout"]:
        return "%d failed, %d errored, %d timed out" % (d["failed"], d["errored"],
                                                        d["timeout"])
    # status codes count at the response header: those still in flight at
    # the end of -D are among them
    if d["s3xx"] or d["s4xx"] or d["s5xx"] or not ok <= d["s2xx"] <= ok + inflight:
        return "%s 2xx, %s 3xx, %s 4xx, %s 5xx for %d succeeded" % (
            d["s2xx"], d["s3xx"], d["s4xx"], d["s5xx"], ok)
    if d["data_octets"] is None or not ok * size <= d["data_octets"] <= (ok + inflight) * size:
        return "%s body octets for %d responses of %d" % (d["data_octets"], ok, size)
    return None


def measure(pid, port, load, dur):
    proto, path, args, inflight = LOADS[load]
    s0, b0 = B.tree_cpu(pid), R.machine_busy()
    d, ccpu, cmd = N.h2load(args + ["-t", "1", "-D", str(dur), url_of(port, path)],
                            timeout=dur + 60)
    s1, b1 = B.tree_cpu(pid), R.machine_busy()
    bad = check_run(d, proto, FILES[path], inflight)
    if bad:
        raise RuntimeError("%s: %s: %s\n%s" % (" ".join(cmd), load, bad, d["tail"]))
    ok = d["succeeded"]
    return {"rps": d["rps"], "server_us": (s1 - s0) / ok * 1e6, "client_us": ccpu / ok * 1e6,
            "server_cores": (s1 - s0) / dur, "other_cores": (b1 - b0 - (s1 - s0) - ccpu) / dur,
            "mean_ms": d["mean_ms"], "cipher": d["cipher"], "requests": ok}, cmd


def fmt(v, spec="%.0f"):
    return R.fmt(v, spec)


def report(meta, res, cmds):
    L = []
    w = L.append
    w("Measured %s at git %s with `%s` (Release build), load average before the run %s. "
      "quicsteer-server 2 workers and nginx-light %s (2 worker processes), both on 127.0.0.1, "
      "same document root (random files of 1 KiB, 100 KiB, 10 MiB), same certificate and key "
      "(`scripts/dev-cert.sh`, ECDSA P-256), TLS 1.3 (cipher: %s), access logs off, keep-alive "
      "idle timeout 30 s on both; nginx with `open_file_cache` (its counterpart of quicsteer's "
      "small-file cache: no open/fstat/close per request). h2load %s, one thread, `-D %d` per run; %d rounds, "
      "interleaved (per load quicsteer then nginx, nginx first in the next round); medians."
      % (meta["date"], meta["git"], meta["command"], " ".join(meta["load_before"]),
         meta["nginx"], ", ".join(sorted(meta["ciphers"])), meta["h2load"], meta["duration"],
         meta["rounds"]))
    w("")
    w("Client and servers share this machine's 2 vCPUs (and other jobs on the VM used "
      "%s of a CPU during the runs, median %s): h2load's one thread takes most of one vCPU, "
      "so requests/s are what each server reaches next to that client, and server CPU per "
      "request is the figure that compares the servers' own work. Server CPU counts every "
      "thread of quicsteer-server, and nginx's master and workers. Peak resident memory "
      "over the whole run (VmHWM; nginx: master and workers added): quicsteer %.1f MiB, "
      "nginx %.1f MiB."
      % (meta["other_span"], meta["other_med"], meta["peak_rss_mib"]["qs"],
         meta["peak_rss_mib"]["nginx"]))
    w("")
    w("| load (h2load) | requests/s quicsteer | nginx | quicsteer / nginx "
      "| server CPU µs/request quicsteer | nginx | quicsteer / nginx "
      "| server cores quicsteer / nginx | client CPU µs/request quicsteer / nginx |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for load, (proto, path, args, _) in LOADS.items():
        q, n = res["qs"].get(load), res["nginx"].get(load)
        if not q or not n:
            continue
        m = {k: (R.med(q[k]), R.med(n[k])) for k in q}
        w("| %s `%s` %s | %s | %s | **%s** | %s | %s | **%s** | %s / %s | %s / %s |" % (
            "HTTP/2" if proto == "h2" else "HTTP/1.1", " ".join(args), path,
            fmt(m["rps"][0]), fmt(m["rps"][1]), fmt(R.ratio(*m["rps"]), "%.2fx"),
            fmt(m["server_us"][0], "%.1f"), fmt(m["server_us"][1], "%.1f"),
            fmt(R.ratio(*m["server_us"]), "%.2fx"),
            fmt(m["server_cores"][0], "%.2f"), fmt(m["server_cores"][1], "%.2f"),
            fmt(m["client_us"][0], "%.1f"), fmt(m["client_us"][1], "%.1f")))
    w("")
    w("Every run was checked: the expected ALPN, only 2xx responses, no failed, errored or "
      "timed-out request, body octets = file size × responses (plus at most those in "
      "flight when the time ran out); each file was fetched once with curl over each "
      "protocol from each server and compared. Per-round figures are in "
      "`bench/charts/h2.json`.")
    w("")
    w("Commands (`PORT`: the server's; quicsteer's TCP front is on its QUIC port):")
    w("")
    L.extend(B.commands_md(cmds))
    if os.path.exists(LEVERS):
        with open(LEVERS) as f:
            L += ["", f.read().strip()]
    return "\n".join(L) + "\n"


def compare(res, other, what):
    """quicsteer against another build of it, per load (medians)."""
    L = ["quicsteer (this tree) against `%s`, same rounds:" % what, "",
         "| load | requests/s this / other | ratio | server CPU µs/request this / other "
         "| ratio |", "|---|---:|---:|---:|---:|"]
    for load in res["qs"]:
        q, o = res["qs"][load], res[other][load]
        rq, ro = R.med(q["rps"]), R.med(o["rps"])
        cq, co = R.med(q["server_us"]), R.med(o["server_us"])
        L.append("| %s | %s / %s | %s | %s / %s | %s |" % (
            load, fmt(rq), fmt(ro), fmt(R.ratio(rq, ro), "%.3fx"), fmt(cq, "%.1f"),
            fmt(co, "%.1f"), fmt(R.ratio(cq, co), "%.3fx")))
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--build", default=os.path.join(R.TOP, "build", "bench"))
    ap.add_argument("--only", help="comma-separated loads of: " + ",".join(LOADS))
    ap.add_argument("--no-write", action="store_true",
                    help="print only (for measuring a change), do not write the section")
    ap.add_argument("--baseline", metavar="BIN",
                    help="another quicsteer-server build run as a third server, in the same "
                    "rounds (for measuring a change; implies --no-write)")
    args = ap.parse_args()
    loads = args.only.split(",") if args.only else list(LOADS)
    if any(x not in LOADS for x in loads):
        ap.error("--only: loads are " + ",".join(LOADS))
    rc = B.need_root("BPF steering")
    if rc:
        return rc
    env = B.bench_env(args.build, "bench-h2", ["quicsteer-server"])
    for path, size in FILES.items():
        B.random_file(os.path.join(env.www, path), size)
    h2v = subprocess.run([N.H2LOAD, "--version"], stdout=subprocess.PIPE, text=True).stdout
    meta = B.run_meta(rounds=args.rounds, duration=args.duration, nginx=N.nginx_version(),
                      h2load=h2v.split()[-1] if h2v else "?")
    servers = ["qs", "nginx"] + (["base"] if args.baseline else [])
    res = {s: {ld: {} for ld in loads} for s in servers}
    cmds = {}
    qs = nginx = base = None
    try:
        qs = R.Server(dict(id="qsh2", kind="quicsteer", workers=2, steering="kernel"),
                      env).start()
        if args.baseline:
            benv = copy.copy(env)
            benv.server_bin = os.path.abspath(args.baseline)
            base = R.Server(dict(id="qsh2base", kind="quicsteer", workers=2,
                                 steering="kernel"), benv).start()
        nginx = N.Nginx(env, NGINX_CONF, tag="nginx-h2", cert=env.cert, key=env.key,
                        www=env.www)
        cmds["quicsteer"] = " ".join(qs.cmd)
        cmds["nginx"] = " ".join(nginx.cmd) + "  (config: NGINX_CONF in bench/h2.py)"
        ports = {"qs": qs.port, "nginx": nginx.port}
        pids = {"qs": qs.pid, "nginx": nginx.pid}
        if base:
            ports["base"], pids["base"] = base.port, base.pid
        for s in servers:
            check_content(env, ports[s], LABEL[s])
            for ld in loads:  # warm-up: file caches, connections' first use
                N.h2load(LOADS[ld][2] + ["-t", "1", "-D", "1",
                                         url_of(ports[s], LOADS[ld][1])], timeout=60)
        ciphers = set()
        for r in range(args.rounds):
            for ld in loads:
                for s in B.rotated(servers, r):
                    R.log("h2 round %d/%d: %s %s" % (r + 1, args.rounds, ld, s))
                    d, cmd = measure(pids[s], ports[s], ld, args.duration)
                    ciphers.add(d.pop("cipher"))
                    cmds["h2load " + ld] = " ".join(cmd).replace(str(ports[s]), "PORT")
                    for k, v in d.items():
                        res[s][ld].setdefault(k, []).append(v)
        meta["peak_rss_mib"] = {s: B.tree_sum(pids[s], lambda p: B.status_kb(p, "VmHWM"))
                                / 1024 for s in servers}
    finally:
        for q in (qs, base):
            if q:
                q.stop()
        if nginx:
            nginx.stop()
        B.kill_all()
    other = [v for s in servers for ld in loads for v in res[s][ld]["other_cores"]]
    meta.update(ciphers=sorted(ciphers), other_med="%.2f" % R.med(other),
                other_span="%.2f–%.2f" % (min(other), max(other)))
    md = report(meta, res, cmds)
    print(md)
    if base:
        print(compare(res, "base", args.baseline))
    if args.no_write or base:
        return 0
    R.save_section(R.H2_HEAD, md, {"meta": meta, "results": res, "commands": cmds})
    return 0


if __name__ == "__main__":
    B.main_run(main)
