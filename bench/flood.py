#!/usr/bin/env python3
"""bench/flood.py: servers under an Initial flood, side by side.

    sudo python3 bench/flood.py [--rounds N] [--duration S] [--servers qs2,gtls,caddy2]

For each server (bench/run.py's ids and settings: quicsteer with default
admission control, 2 workers, kernel steering; gtlsserver; caddy with
GOMAXPROCS=2), started fresh for each measurement:

  1. baseline: a legitimate client, quicsteer-load --new-conn -c 4 for
     --duration seconds (a new connection per 1 KiB request), alone;
  2. flood: quicsteer-flood (src/load/flood.c: QUIC v1 Initials, each with
     a real TLS 1.3 ClientHello and fresh CIDs, never completed, from one
     socket) as fast as one process sends them for --duration + 2 seconds;
     one second in, the same legitimate client runs for --duration seconds.

Reported: Initials/s the flood sent (the server "absorbs" them: it keeps
serving), what came back to the flood (Retry, first flights), server RSS
before and at its peak (VmHWM), and the legitimate client's handshakes/s,
failures and p99 handshake and request latency, with and without the
flood.  Rounds are interleaved; each figure is the median over rounds.
Everything runs on loopback on the same vCPUs: the flood, the server and
the client compete for them, which is part of what is measured.  The
output is markdown, written to bench/charts/flood.md and .json and
spliced into BENCHMARKS.md as its section "Initial flood" (bench/run.py
keeps the section when it regenerates the rest).

Python 3 standard library only; shares its helpers with bench/run.py.
"""
import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402
import run as R  # noqa: E402

CLIENT = ["--new-conn", "-c", "4", "--timeout", "5"]


def client(env, srv, dur):
    doc, _ = R.measured(env, srv, [srv.url(R.SMALL)], CLIENT + ["-D", str(dur)],
                        timeout=dur + 60)
    return {"handshakes_per_s": doc["handshakes_per_s"],
            "started": doc["connections"]["started"],
            "handshakes": doc["connections"]["handshakes"],
            "failed": doc["connections"]["failed"],
            "hs_p99_ms": doc["handshake_us"]["p99"] / 1e3,
            "req_p99_ms": doc["latency_us"]["p99"] / 1e3,
            "retry": doc.get("address", {}).get("retry", 0),
            "other_cpus": doc["other_cpus"]}


def one(env, spec, dur):
    """Baseline and flood for one server; returns a dict of figures."""
    res = {}
    srv = R.Server(spec, env).start()
    try:
        time.sleep(0.3)
        res["base"] = client(env, srv, dur)
    finally:
        srv.stop()
    srv = R.Server(spec, env).start()
    try:
        time.sleep(0.3)
        res["rss_before_kb"] = R.rss_kb(srv.pid)
        fcmd = [env.flood_bin, "-n", "100000000", "-t", str(dur + 2), "-w", "0.5", "127.0.0.1",
                str(srv.port)]
        out = {}

        def flood():
            p = R.run(fcmd, timeout=dur + 60)
            out.update(json.loads(p.stdout))
        ft = threading.Thread(target=flood)
        ft.start()
        time.sleep(1.0)
        res["during"] = client(env, srv, dur)
        ft.join()
        res["flood"] = out
        res["rss_peak_kb"] = B.status_kb(srv.pid, "VmHWM")
        res["rss_after_kb"] = R.rss_kb(srv.pid)
        if spec["kind"] == "quicsteer":
            st = srv.stats()
            res["server"] = {k: st[k] for k in ("conns_accepted", "conns_completed", "retry_tx",
                                                "dgrams_rx")}
        res["flood_cmd"] = " ".join(fcmd)
        res["server_cmd"] = " ".join(srv.cmd)
    finally:
        srv.stop()
    R.log("%s: flood %.0f/s, RSS %d -> %d kB, client %.0f hs/s (%d failed) vs %.0f alone" % (
        spec["id"], out.get("rate", 0), res["rss_before_kb"], res["rss_peak_kb"],
        res["during"]["handshakes_per_s"], res["during"]["failed"],
        res["base"]["handshakes_per_s"]))
    return res


def med(rounds, *path):
    vals = []
    for r in rounds:
        v = r
        for p in path:
            v = v.get(p) if isinstance(v, dict) else None
        if v is not None:
            vals.append(v)
    return R.med(vals) if vals else None


def report(meta, specs, ids, res):
    L = []
    w = L.append
    w("%s\n" % R.FLOOD_HEAD)
    w("Command: `%s` (%s, git %s; load average before: %s). Each server started fresh; "
      "median of %d interleaved round(s), %g s of legitimate load each. The flood is "
      "`quicsteer-flood -n 100000000 -t %g 127.0.0.1 PORT` (src/load/flood.c: real "
      "ClientHellos from fresh CIDs, never completed, one socket, as fast as it goes); the "
      "legitimate client is `quicsteer-load --new-conn -c 4 --timeout 5 -D %g "
      "--initial-rtt %d` (a new connection per 1 KiB request), alone and starting 1 s into "
      "the flood.\n" % (meta["command"], meta["date"], meta["git"],
                       " ".join(meta["load_before"]), meta["rounds"], meta["duration"],
                       meta["duration"] + 2, meta["duration"], R.INITIAL_RTT_MS))
    w("| Server | flood sent (Initials/s) | answers to the flood | RSS before → peak | "
      "client alone: handshakes/s, p99 hs / req | during the flood: handshakes/s, done / started, "
      "p99 hs / req |")
    w("|---|---|---|---|---|---|")
    for sid in ids:
        rs = res[sid]
        fl = med(rs, "flood", "rate")
        sent = med(rs, "flood", "sent") or 0
        rx = {k: med(rs, "flood", "rx", k) or 0 for k in ("retry", "initial", "close",
                                                            "handshake")}
        ans = "%.0f%% Retry, %.0f%% first flights, %.0f%% close" % tuple(
            100.0 * rx[k] / sent if sent else 0 for k in ("retry", "initial", "close"))
        w("| %s | %s | %s | %s → %s MB | %s, %s / %s ms | %s, %s / %s, %s / %s ms |" % (
            specs[sid]["label"], R.fmt(fl), ans,
            R.fmt((med(rs, "rss_before_kb") or 0) / 1024, "%.1f"),
            R.fmt((med(rs, "rss_peak_kb") or 0) / 1024, "%.1f"),
            R.fmt(med(rs, "base", "handshakes_per_s")), R.fmt(med(rs, "base", "hs_p99_ms"), "%.1f"),
            R.fmt(med(rs, "base", "req_p99_ms"), "%.1f"),
            R.fmt(med(rs, "during", "handshakes_per_s")), R.fmt(med(rs, "during", "handshakes")),
            R.fmt(med(rs, "during", "started")),
            R.fmt(med(rs, "during", "hs_p99_ms"), "%.1f"),
            R.fmt(med(rs, "during", "req_p99_ms"), "%.1f")))
    q = res.get("qs2")
    if q:
        w("\nquicsteer's own counters during the flood (median): %s connections accepted, "
          "%s completed, %s Retry sent, %s datagrams received; the legitimate client went "
          "through Retry on %s of its connections." % (
              R.fmt(med(q, "server", "conns_accepted")), R.fmt(med(q, "server",
                                                                   "conns_completed")),
              R.fmt(med(q, "server", "retry_tx")), R.fmt(med(q, "server", "dgrams_rx")),
              R.fmt(med(q, "during", "retry"))))
    other = [r["during"]["other_cpus"] for sid in ids for r in res[sid]]
    w("\nNotes. The flood generator makes a real ClientHello (an X25519 key share) per "
      "packet, so one process reaches 10,000–20,000 Initials/s on one vCPU (a few "
      "thousand on a busy machine); flood, server and client share the machine's %d vCPUs, so a server that "
      "spends more per Initial also slows the flood it receives. *Answers* are what the "
      "flood read back (its socket buffer drops some under load: a lower bound). "
      "*p99 hs* is connection start to handshake completion on the client (a Retry adds "
      "one round trip), *p99 req* the request alone; a p99 of 0 means no handshake completed. "
      "*done / started*: connections whose handshake completed, of those the client "
      "started (each waits up to 5 s). The machine is shared with other "
      "work: CPUs busy outside server and client during these runs (the flood generator "
      "itself, about one, included), median %.2f (max "
      "%.2f), disturb the timings; memory figures are not affected.\n" % (
          os.cpu_count(), R.med(other) if other else 0, max(other) if other else 0))
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=float, default=5,
                    help="seconds of legitimate load (the flood lasts 2 s longer)")
    ap.add_argument("--servers", default="qs2,gtls,caddy2",
                    help="bench/run.py server ids (default qs2,gtls,caddy2)")
    ap.add_argument("--build", default=os.path.join(R.TOP, "build", "bench"))
    args = ap.parse_args()
    rc = B.need_root("BPF steering")
    if rc:
        return rc
    env = B.bench_env(args.build, "bench-flood",
                      ["quicsteer-server", "quicsteer-load", "quicsteer-flood"])
    B.random_file(os.path.join(env.www, R.SMALL), R.SMALL_LEN)
    meta = B.run_meta(rounds=args.rounds, duration=args.duration)
    specs = R.server_specs()
    ids = args.servers.split(",")
    res = {sid: [] for sid in ids}
    try:
        for r in range(args.rounds):
            order = B.rotated(ids, r)
            for sid in order:
                res[sid].append(one(env, specs[sid], args.duration))
    finally:
        B.kill_all()
    md = report(meta, specs, ids, res)
    print(md)
    R.save_section(R.FLOOD_HEAD, md.split("\n", 1)[1].lstrip("\n"),
                   {"meta": meta, "results": res})
    return 0


if __name__ == "__main__":
    B.main_run(main)
