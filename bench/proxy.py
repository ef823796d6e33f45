#!/usr/bin/env python3
"""bench/proxy.py: the reverse proxy, side by side in one run.

    sudo python3 bench/proxy.py [--rounds N] [--duration S]

One nginx (Debian's nginx-light, 2 worker processes, its own config in the
work directory, loopback) serves a 1 KiB and a 100 KiB file.  In front of
it, each started in turn with equivalent settings and driven the same way:

  - quicsteer-server, 2 workers, kernel steering,
    `--proxy /=http://127.0.0.1:NGINX`, loaded over HTTP/3 by quicsteer-load;
  - caddy (GOMAXPROCS=2) with `reverse_proxy` to the same nginx over
    HTTP/3 (bench/caddy/proxy.json.in), the same quicsteer-load;
  - nginx itself over HTTP/1.1 with h2load (the ceiling: no proxy hop, no
    QUIC, no TLS), at the same number of requests in flight.

Per configuration and size: requests/s, latency p50 and p99, and CPU per
request of the front (quicsteer or caddy) and of nginx behind it (utime +
stime of every thread of every process, /proc/PID/stat).  Rounds are
interleaved and each figure is the median over them.  The result is
written to bench/charts/proxy.md and proxy.json and spliced into
BENCHMARKS.md as its section "Reverse proxy" (bench/run.py keeps it when it
regenerates the rest).  Python 3 standard library only; the server and
client helpers are bench/run.py's, nginx and h2load bench/nginx.py's.
"""
import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402
import nginx as N  # noqa: E402
import run as R  # noqa: E402

CADDY_PROXY = os.path.join(R.BENCH, "caddy", "proxy.json.in")
SIZES = (("1k.bin", 1024), ("100k.bin", 100 * 1024))
INFLIGHT = (16, 4)  # connections x requests in flight on each
NGINX_CONF = """
daemon off;
master_process on;
worker_processes 2;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  client_body_temp_path {work}/nginx-body;
  proxy_temp_path {work}/nginx-proxy;
  fastcgi_temp_path {work}/nginx-fastcgi;
  uwsgi_temp_path {work}/nginx-uwsgi;
  scgi_temp_path {work}/nginx-scgi;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    root {www};
  }}
}}
"""


class CaddyProxy:
    """caddy with reverse_proxy to |upstream| over HTTP/3."""

    def __init__(self, env, upstream_port, workers):
        self.port = R.free_port()
        conf = os.path.join(env.work, "caddy-proxy.json")
        with open(CADDY_PROXY) as f:
            text = f.read()
        for k, v in (("@ADDR@", "127.0.0.1"), ("@PORT@", str(self.port)),
                     ("@UPSTREAM@", "127.0.0.1:%d" % upstream_port), ("@CERT@", env.cert),
                     ("@KEY@", env.key)):
            text = text.replace(k, v)
        with open(conf, "w") as f:
            f.write(text)
        home = os.path.join(env.work, "caddy-home")
        os.makedirs(home, exist_ok=True)
        cenv = dict(os.environ, HOME=home, XDG_DATA_HOME=home, XDG_CONFIG_HOME=home,
                    GOMAXPROCS=str(workers))
        cmd = [R.CADDY, "run", "--config", conf]
        self.cmd = ["GOMAXPROCS=%d" % workers] + cmd
        self.proc = R.spawn(cmd, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(env.work, "caddy-proxy.err"), "w"),
                            env=cenv)
        deadline = time.time() + 20
        while time.time() < deadline and not R.udp_bound(self.port):
            time.sleep(0.05)
        if not R.udp_bound(self.port):
            raise RuntimeError("caddy did not bind")
        self.pid = self.proc.pid

    def url(self, path):
        return "https://127.0.0.1:%d/%s" % (self.port, path)

    def stop(self):
        R.kill_group(self.proc)


def h3_run(env, front_pid, nginx, url, size, dur):
    """quicsteer-load against |url|: its JSON plus both sides' CPU."""
    args = ["-c", str(INFLIGHT[0]), "-m", str(INFLIGHT[1]), "-D", str(dur)]
    f0, n0 = B.tree_cpu(front_pid), B.tree_cpu(nginx.pid)
    doc, ccpu, cmd = R.load(env, [url], args, timeout=dur + 60)
    f1, n1 = B.tree_cpu(front_pid), B.tree_cpu(nginx.pid)
    ok = doc["requests"]["ok"]
    bad = doc["requests"]["failed"] or doc["body_bytes"] != ok * size
    return {"rps": doc["requests_per_s"], "p50_ms": doc["latency_us"]["p50"] / 1000,
            "p99_ms": doc["latency_us"]["p99"] / 1000,
            "front_us": (f1 - f0) / ok * 1e6 if ok else None,
            "nginx_us": (n1 - n0) / ok * 1e6 if ok else None,
            "client_us": ccpu / ok * 1e6 if ok else None,
            "fails": ["%s: %s, %d body octets" % (url, doc["requests"], doc["body_bytes"])]
            if bad else []}, " ".join(cmd)


def h1_run(env, nginx, path, size, dur):
    """h2load over HTTP/1.1 straight to nginx, as many requests in flight."""
    url = "http://127.0.0.1:%d/%s" % (nginx.port, path)
    n0 = B.tree_cpu(nginx.pid)
    d, ccpu, cmd = N.h2load(["--h1", "-c", str(INFLIGHT[0] * INFLIGHT[1]), "-m", "1", "-t", "1",
                             "-D", str(max(1, int(dur))), url], timeout=dur + 60)
    n1 = B.tree_cpu(nginx.pid)
    ok = d["succeeded"] or 0
    return {"rps": d["rps"], "mean_ms": d["mean_ms"],
            "nginx_us": (n1 - n0) / ok * 1e6 if ok else None,
            "client_us": ccpu / ok * 1e6 if ok else None,
            "fails": [] if ok and d["total"] >= ok else
            ["h2load: %s" % d["tail"][-300:]]}, " ".join(cmd)


def fmt(v, spec="%.0f"):
    return "–" if v is None else spec % v


def report(meta, res, cmds):
    L = []
    w = L.append
    w("Measured %s at git %s with `%s`, on the machine described at the top (2 cores, "
      "shared: load average before the run %s). Every process on loopback; nginx-light %s "
      "(2 worker processes, `sendfile`, keep-alive) is the upstream of the two HTTP/3 "
      "fronts and, on its own over HTTP/1.1, the ceiling. %d rounds of %g s per figure, "
      "interleaved; medians. %d connections x %d requests in flight over HTTP/3 "
      "(quicsteer-load); %d connections over HTTP/1.1 (h2load)."
      % (meta["date"], meta["git"], meta["command"], " ".join(meta["load_before"]),
         meta["nginx"], meta["rounds"], meta["duration"], INFLIGHT[0], INFLIGHT[1],
         INFLIGHT[0] * INFLIGHT[1]))
    w("")
    w("| Configuration | Response | Requests/s | p50 ms | p99 ms | front CPU µs/request "
      "| nginx CPU µs/request |")
    w("|---|---|---|---|---|---|---|")
    labels = {"qs": "quicsteer 2 workers → nginx (HTTP/3 in, HTTP/1.1 out)",
              "caddy": "caddy GOMAXPROCS=2 `reverse_proxy` → nginx (HTTP/3 in)",
              "nginx": "nginx direct, HTTP/1.1 (ceiling)"}
    for cfg in ("qs", "caddy", "nginx"):
        for path, _ in SIZES:
            v = res.get(cfg, {}).get(path)
            if not v:
                continue
            if cfg == "nginx":
                w("| %s | %s | %s | mean %s | – | – | %s |" % (
                    labels[cfg], path, fmt(R.med(v["rps"])), fmt(R.med(v["mean_ms"]), "%.2f"),
                    fmt(R.med(v["nginx_us"]), "%.1f")))
            else:
                w("| %s | %s | %s | %s | %s | %s | %s |" % (
                    labels[cfg], path, fmt(R.med(v["rps"])), fmt(R.med(v["p50_ms"]), "%.2f"),
                    fmt(R.med(v["p99_ms"]), "%.2f"), fmt(R.med(v["front_us"]), "%.1f"),
                    fmt(R.med(v["nginx_us"]), "%.1f")))
    fails = [f for c in res.values() for v in c.values() for f in v["fails"]]
    w("")
    w("Front CPU is the proxy's own (all its threads), nginx CPU the upstream's (master and "
      "workers) per request served; the client's CPU is in `bench/charts/proxy.json`. "
      "h2load reports only a mean latency. On two shared cores the client, the front and "
      "nginx compete for the same CPUs, so requests/s are a lower bound for each front and "
      "CPU per request is the comparable figure.%s"
      % ("" if not fails else " Failures: " + "; ".join(fails[:5])))
    w("")
    w("Commands:")
    w("")
    L.extend(B.commands_md(cmds))
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--build", default=os.path.join(R.TOP, "build", "bench"))
    ap.add_argument("--no-caddy", action="store_true")
    args = ap.parse_args()
    env = B.bench_env(args.build, "bench-proxy", ["quicsteer-server", "quicsteer-load"])
    for path, size in SIZES:
        B.random_file(os.path.join(env.www, path), size)
    meta = B.run_meta(rounds=args.rounds, duration=args.duration, nginx=N.nginx_version())
    cfgs = ["qs", "nginx"] + ([] if args.no_caddy or not os.access(R.CADDY, os.X_OK)
                              else ["caddy"])
    res = {c: {p: {} for p, _ in SIZES} for c in cfgs}
    cmds = {}
    nginx = N.Nginx(env, NGINX_CONF, www=env.www)
    cmds["nginx"] = " ".join(nginx.cmd)
    try:
        for r in range(args.rounds):
            order = B.rotated(cfgs, r)
            for cfg in order:
                R.log("proxy round %d/%d: %s" % (r + 1, args.rounds, cfg))
                front = None
                try:
                    if cfg == "qs":
                        spec = dict(id="qsproxy", kind="quicsteer", workers=2,
                                    steering="kernel",
                                    flags=["--proxy", "/=http://127.0.0.1:%d" % nginx.port])
                        front = R.Server(spec, env).start()
                        cmds["quicsteer"] = " ".join(front.cmd)
                        pid, url = front.pid, front.url
                    elif cfg == "caddy":
                        front = CaddyProxy(env, nginx.port, 2)
                        cmds["caddy"] = " ".join(front.cmd)
                        pid, url = front.pid, front.url
                    for path, size in SIZES:
                        out = res[cfg][path]
                        if cfg == "nginx":
                            R.run([N.H2LOAD, "--h1", "-c", "16", "-n", "2000",
                                   "http://127.0.0.1:%d/%s" % (nginx.port, path)], timeout=60)
                            d, cmd = h1_run(env, nginx, path, size, args.duration)
                            cmds["h2load " + path] = cmd
                        else:
                            R.load(env, [url(path)], ["-c", "16", "-n", "100", "-m", "4"])
                            d, cmd = h3_run(env, pid, nginx, url(path), size, args.duration)
                            cmds["quicsteer-load " + path] = cmd.replace(url(path), "URL")
                        for k, v in d.items():
                            if k == "fails":
                                out.setdefault("fails", []).extend(v)
                            else:
                                out.setdefault(k, []).append(v)
                finally:
                    if front:
                        front.stop()
    finally:
        nginx.stop()
        B.kill_all()
    md = report(meta, res, cmds)
    print(md)
    R.save_section(R.PROXY_HEAD, md, {"meta": meta, "results": res, "commands": cmds})
    return 0


if __name__ == "__main__":
    B.main_run(main)
