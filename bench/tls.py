#!/usr/bin/env python3
"""bench/tls.py: TLS resumption and 0-RTT figures for BENCHMARKS.md.

    python3 bench/tls.py [--build DIR] [--rounds N] [--seconds S] [--delay-ms D]

1. Handshakes/s over QUIC, full against resumed: quicsteer-server (2 workers,
   kernel steering) and quicsteer-load --new-conn, without and with --resume
   (one stored ticket per load thread), rounds interleaved, medians.
2. Time to first byte of a GET, full handshake / resumed in 1-RTT /
   resumed with the request in 0-RTT: gtlsclient through a user-space UDP
   relay that delays every datagram by D ms each way (netem is not
   available here), TTFB read from gtlsclient's qlog (first packet sent to
   the first packet carrying response data on stream 0), medians.

Prints a Markdown section on stdout.  Run as root from the repository; it
builds the Release tree (default build/bench) if needed.
"""
import argparse
import asyncio
import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests"))
import benchlib as B  # noqa: E402
from test_server_lib import Server, unique_name  # noqa: E402


def relay_main(listen_port, server_port, delay):
    """A UDP relay adding |delay| seconds each way (one upstream socket per client)."""
    loop = asyncio.new_event_loop()
    ups = {}

    class Up(asyncio.DatagramProtocol):
        def __init__(self, client):
            self.client = client

        def datagram_received(self, data, addr):
            loop.call_later(delay, down.transport.sendto, data, self.client)

    class Down(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            if addr not in ups:
                ups[addr] = loop.create_task(loop.create_datagram_endpoint(
                    lambda: Up(addr), remote_addr=("127.0.0.1", server_port)))

            def send():
                t = ups[addr]
                if t.done():
                    t.result()[0].sendto(data)
                else:
                    t.add_done_callback(lambda f: f.result()[0].sendto(data))
            loop.call_later(delay, send)

    down = Down()
    loop.run_until_complete(loop.create_datagram_endpoint(lambda: down,
                                                          local_addr=("127.0.0.1", listen_port)))
    print("relay ready", flush=True)
    loop.run_forever()


def load(lb, url, seconds, resume):
    args = [lb, url, "--json", "--no-progress", "--new-conn", "-c", "32", "-D", str(seconds),
            "--initial-rtt", "10"]
    if resume:
        args.append("--resume")
    p = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60)
    d = json.loads(p.stdout)
    return d["handshakes_per_s"], d["tls"]["resumed"], d["connections"]["handshakes"]


def ttfb_ms(qlog):
    start = None
    with open(qlog) as f:
        for line in f:
            line = line.strip().lstrip("\x1e")
            if not line.startswith("{"):
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            name = ev.get("name", "")
            if name.endswith("packet_sent") and start is None:
                start = ev["time"]
            if name.endswith("packet_received"):
                for fr in ev.get("data", {}).get("frames", []):
                    if fr.get("frame_type") == "stream" and str(fr.get("stream_id")) == "0":
                        return ev["time"] - start
    return None


def gtls(port, tmp, tag, sess, early):
    q = os.path.join(tmp, tag + ".sqlog")
    if os.path.exists(q):
        os.unlink(q)
    cmd = ["gtlsclient", "-q", "--exit-on-all-streams-close", "--timeout=5s", "--qlog-file", q]
    if sess:
        cmd += ["--session-file", sess + ".s", "--tp-file", sess + ".tp"]
    if not early:
        cmd.append("--disable-early-data")
    cmd += ["127.0.0.1", str(port), "https://127.0.0.1:%d/1k.bin" % port]
    out = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=30)
    rejected = "Early data was rejected" in (out.stdout + out.stderr)
    return ttfb_ms(q), rejected


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(TOP, "build", "bench"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--delay-ms", type=float, default=10)
    ap.add_argument("--ttfb-runs", type=int, default=15)
    ap.add_argument("--relay", nargs=3, type=float, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.relay:
        relay_main(int(a.relay[0]), int(a.relay[1]), a.relay[2] / 1000)
        return
    rc = B.need_root("BPF steering")
    if rc:
        return rc
    env = B.bench_env(a.build, "bench-tls", ["quicsteer-server", "quicsteer-load",
                                             "quicsteer_cli"])
    lb = env.load_bin
    B.random_file(os.path.join(env.www, "1k.bin"), 1024)
    tmp = tempfile.mkdtemp(prefix="qs-bench-tls-")
    load_avg = B.load_avg()
    srv = Server(env.server_bin, tmp, ["--workers", "2", "--root", env.www, "--initial-rtt",
                                       "10", "--log-level", "warn", "--drain-timeout", "1"],
                 name=unique_name("btls"), cert=env.certdir)
    url = srv.url("/1k.bin")
    full, res = [], []
    try:
        load(lb, url, 1, False)  # warm-up
        for _ in range(a.rounds):
            hs, r, n = load(lb, url, a.seconds, False)
            full.append(hs)
            hs, r, n = load(lb, url, a.seconds, True)
            res.append((hs, r, n))
        relay_port = 20000 + os.getpid() % 20000
        relay = subprocess.Popen([sys.executable, __file__, "--relay", str(relay_port),
                                  str(srv.port), str(a.delay_ms)], stdout=subprocess.PIPE,
                                 text=True)
        relay.stdout.readline()
        sess = os.path.join(tmp, "sess")
        t = {"full": [], "resumed": [], "early": []}
        rejected = 0
        try:
            gtls(relay_port, tmp, "first", sess, True)  # stores the ticket
            for _ in range(a.ttfb_runs):
                v, _ = gtls(relay_port, tmp, "f", None, False)
                t["full"].append(v)
                v, _ = gtls(relay_port, tmp, "r", sess, False)
                t["resumed"].append(v)
                v, rej = gtls(relay_port, tmp, "e", sess, True)
                t["early"].append(v)
                rejected += rej
        finally:
            relay.kill()
            relay.wait()
        stats = json.loads(subprocess.run(
            [env.cli_bin, "stat", "--name", srv.name,
             "--json"], capture_output=True, text=True).stdout.splitlines()[0])
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    ws = stats["generations"][0]["workers"]
    tot = {k: sum(w[k] for w in ws) for k in ("tls_full", "tls_resumed", "early_accepted",
                                               "early_rejected")}
    mf, mr = statistics.median(full), statistics.median(h for h, _, _ in res)
    med = {k: statistics.median(x for x in v if x is not None) for k, v in t.items()}
    rev = B.git_rev()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        report(a, full, res, t, med, mf, mr, tot, rejected, rev, load_avg)
    # BENCHMARKS.md's section, kept by bench/run.py (SAVED_SECTIONS)
    with open(os.path.join(TOP, "bench", "charts", "tls.md"), "w") as f:
        f.write(out.getvalue())
    print(TLS_HEAD + "\n")
    print(out.getvalue())


TLS_HEAD = "## TLS resumption and 0-RTT"


def report(a, full, res, t, med, mf, mr, tot, rejected, rev, load_avg):
    print("Made by `python3 bench/tls.py --rounds %d --seconds %g "
          "--delay-ms %g --ttfb-runs %d` on %s (quicsteer %s), Release build; load average "
          "before the run %s. The machine's 2 vCPUs were shared with several other jobs at the "
          "time: absolute rates are low and noisy, the ratios are what matters.\n"
          % (a.rounds, a.seconds, a.delay_ms, a.ttfb_runs,
             time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), rev, " ".join(load_avg)))
    print("### Handshakes/s over QUIC, full vs resumed\n")
    print("quicsteer-server `--workers 2` (kernel steering), `quicsteer-load URL/1k.bin "
          "--new-conn -c 32 -D %g` (one thread), without and with `--resume`; %d interleaved "
          "rounds, medians.\n" % (a.seconds, a.rounds))
    print("| handshakes | per round (handshakes/s) | median | |")
    print("|---|---|---|---|")
    print("| full (certificate + ECDSA signature each) | %s | %.0f | |" % (
        ", ".join("%.0f" % x for x in full), mf))
    print("| resumed (session ticket, `--resume`) | %s | %.0f | %.2fx |" % (
        ", ".join("%.0f" % h for h, _, _ in res), mr, mr / mf))
    print("\nWith `--resume` %s of %s handshakes resumed (the first of each slot before a "
          "ticket arrived is full).\n" % (sum(r for _, r, _ in res), sum(n for _, _, n in res)))
    print("### Time to first byte, 0-RTT vs 1-RTT\n")
    print("gtlsclient GET /1k.bin through a UDP relay delaying each datagram %g ms each way "
          "(RTT %g ms; netem is unavailable here), %d runs per kind, interleaved; TTFB from "
          "the client's qlog: its first packet sent to the first packet carrying response data "
          "on stream 0.\n" % (a.delay_ms, 2 * a.delay_ms, a.ttfb_runs))
    print("| connection | median TTFB (ms) | min | max |")
    print("|---|---|---|---|")
    names = {"full": "full handshake, request in 1-RTT",
             "resumed": "resumed, request in 1-RTT (`--disable-early-data`)",
             "early": "resumed, request in 0-RTT"}
    for k in ("full", "resumed", "early"):
        v = [x for x in t[k] if x is not None]
        print("| %s | %.1f | %.1f | %.1f |" % (names[k], med[k], min(v), max(v)))
    print("\n0-RTT saves %.1f ms of %.1f (one RTT is %g ms); 0-RTT refused in %d of %d runs. "
          "Server counters at the end: %s.\n" % (
              med["resumed"] - med["early"], med["resumed"], 2 * a.delay_ms, rejected,
              a.ttfb_runs, ", ".join("%s %d" % kv for kv in tot.items())))


if __name__ == "__main__":
    B.main_run(main)
