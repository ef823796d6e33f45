#!/usr/bin/env python3
"""test_restart.py: zero-downtime restart and key rotation, with kernel steering.

    test_restart.py SERVER LOAD CLI

Under continuous quicsteer-load traffic (keep-alive requests, a new
connection per request, connections that rebind their port):
  - three takeovers in a row, 2 -> 3 -> 1 -> 2 workers: zero failed requests
    and connections; every old generation exits 0 within its drain timeout;
  - while the first old generation drains, `quicsteer stat` shows it
    draining and the kernel still delivering its connections' datagrams to
    its own sockets;
  - `quicsteer rotate-key` under the same load: zero failures; the server's
    CIDs for a connection made afterwards carry the new config-rotation
    codepoint and decode with the new key only;
then SIGKILL of the serving generation, and a fresh start: it serves under a
generation number never used before, and the dead generation's pinned state
was replaced.  Without BPF: exit 77.
"""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_lib import (SKIP, Server, check, finish, gtlsclient, need_gtlsclient,  # noqa: E402
                             tmpdir, unique_name)

DRAIN = 60          # --drain-timeout of every generation (s): a deadline only, room for a slow machine
LOAD_S = 24         # how long the load runs (s)
BIG = 400_000_000   # a download still running while its generation drains
RTT = ["--initial-rtt", "10"]


def stat(cli, name):
    r = subprocess.run([cli, "stat", "--name", name, "--json"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    if r.returncode != 0:
        return None
    return json.loads(r.stdout)


def gen_of(st, generation):
    for g in (st or {}).get("generations", []):
        if g["generation"] == generation:
            return g
    return None


def lbconf(name):
    """The instance's config table: {cr: (generation, key hex)} of valid entries."""
    r = subprocess.run(["bpftool", "-j", "map", "dump", "pinned",
                        "/sys/fs/bpf/quicsteer/%s/qs_lbconf" % name],
                       stdout=subprocess.PIPE, text=True, check=True)
    out = {}
    for e in json.loads(r.stdout):
        v = e["formatted"]["value"]
        if v["valid"]:
            out[e["formatted"]["key"]] = (v["generation"], "".join("%02x" % b for b in v["key"]))
    return out


class Load(threading.Thread):
    def __init__(self, binary, url, tag, args):
        super().__init__()
        self.cmd = [binary, url, "--json", "--no-progress", "--duration", str(LOAD_S)] + RTT + args
        self.tag = tag
        self.rc = None
        self.res = None

    def run(self):
        r = subprocess.run(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=LOAD_S + 120)
        self.rc = r.returncode
        try:
            self.res = json.loads(r.stdout)
        except ValueError:
            print("%s: no JSON; stderr: %s" % (self.tag, r.stderr[-2000:]), file=sys.stderr)


def server_cids(qlog_dir):
    """Connection IDs the server chose: SCIDs of its long-header packets and
    CIDs of its NEW_CONNECTION_ID frames, from a client qlog."""
    cids = set()
    for fn in os.listdir(qlog_dir):
        with open(os.path.join(qlog_dir, fn), errors="replace") as f:
            for line in f:
                line = line.strip().lstrip("\x1e")
                if not line.startswith("{"):
                    continue
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if ev.get("name") != "transport:packet_received":
                    continue
                data = ev.get("data", {})
                scid = data.get("header", {}).get("scid")
                if scid:
                    cids.add(scid)
                for fr in data.get("frames", []):
                    if fr.get("frame_type") == "new_connection_id" and fr.get("connection_id"):
                        cids.add(fr["connection_id"])
    return cids


def decodes(cli, key, cid):
    r = subprocess.run([cli, "cid", "decode", "--layout", "--no-encode-len", "--host-id", "0001",
                        "--key", key, "--json", cid], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    return json.loads(r.stdout) if r.returncode == 0 else None


def main():
    need_gtlsclient()
    server, loadbin, cli = sys.argv[1:4]
    tmp = tmpdir("restart")
    name = unique_name("rs")
    gens = []      # (Server, drain deadline set when its successor serves)
    try:
        first = Server(server, tmp, ["--workers", "2", "--drain-timeout", str(DRAIN)] + RTT,
                       name=name)
        if not first.kernel_steering:
            first.stop()
            print("no kernel steering here: skipped")
            sys.exit(SKIP)
        port = first.port
        url = first.url("/bytes/1000")
        gens.append([first, None])
        loads = [Load(loadbin, url, "keepalive", ["-c", "4", "-m", "2"]),
                 Load(loadbin, url, "newconn", ["--new-conn", "-c", "2"]),
                 Load(loadbin, url, "rebind", ["--rebind", "-c", "4"])]
        for ld in loads:
            ld.start()

        # a big download on generation 1, still running when it drains
        big = {}

        def download():
            d = os.path.join(tmp, "big")
            os.makedirs(d)
            r = gtlsclient("127.0.0.1", port, [first.url("/bytes/%d" % BIG)], download=d,
                           extra=["--max-data=4M", "--max-stream-data-bidi-local=2M"],
                           timeout=DRAIN + 60)
            p = os.path.join(d, str(BIG))
            big["ok"] = r.returncode == 0 and os.path.exists(p) and os.path.getsize(p) == BIG
            if os.path.exists(p):
                os.unlink(p)
        dl = threading.Thread(target=download)
        dl.start()
        time.sleep(3)

        cert = first.cert
        for i, workers in enumerate((3, 1, 2)):
            new = Server(server, tmp, ["--workers", str(workers), "--takeover", "--listen",
                                       "127.0.0.1:%d" % port, "--drain-timeout", str(DRAIN)] + RTT,
                         name=name, cert=cert)
            check(new.kernel_steering, "takeover %d: successor steers in the kernel" % (i + 1))
            check(new.generation == gens[-1][0].generation + 1,
                  "takeover %d: successor is generation %d" % (i + 1, new.generation))
            gens[-1][1] = time.time() + DRAIN + 5
            if i == 0:
                # the old generation drains, and its datagrams still reach
                # its own sockets in the kernel
                time.sleep(0.3)
                s1 = stat(cli, name)
                time.sleep(1.0)
                s2 = stat(cli, name)
                g1a, g1b = gen_of(s1, first.generation), gen_of(s2, first.generation)
                check(g1a is not None and g1a["state"] == "draining",
                      "stat shows generation %d draining" % first.generation)
                rx_a = sum(w["kernel_rx"] for w in g1a["workers"]) if g1a else 0
                rx_b = sum(w["kernel_rx"] for w in g1b["workers"]) if g1b else 0
                print("generation %d kernel_rx during the drain: %d -> %d" %
                      (first.generation, rx_a, rx_b))
                check(rx_b > rx_a, "the kernel delivers the draining generation's datagrams to "
                      "its own sockets")
                check(s2 is not None and s2["kernel"]["cid_routed"] > 0, "cid_routed counted")
            gens.append([new, None])
            time.sleep(3)

        # key rotation on the serving generation, under the same load
        serving = gens[-1][0]
        before = lbconf(name)
        r = subprocess.run([cli, "rotate-key", "--name", name], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        m = re.search(r"cr=(\d+)", r.stdout)
        check(r.returncode == 0 and m is not None, "rotate-key: %s%s" % (r.stdout.strip(),
                                                                      r.stderr.strip()))
        new_cr = int(m.group(1)) if m else -1
        after = lbconf(name)
        old_keys = [k for cr, (g, k) in before.items() if g == serving.generation]
        check(new_cr in after and after[new_cr][0] == serving.generation and
              new_cr not in before, "the new configuration %d is installed in the kernel" % new_cr)
        qdir = os.path.join(tmp, "qlog")
        os.makedirs(qdir)
        rr = gtlsclient("127.0.0.1", port, [serving.url("/bytes/100")],
                        extra=["--qlog-dir", qdir], timeout=60)
        cids = server_cids(qdir)
        check(rr.returncode == 0 and cids, "a connection after the rotation (%d server CIDs)" %
              len(cids))
        for cid in sorted(cids):
            cr = int(cid[:2], 16) >> 5
            dec = decodes(cli, after[new_cr][1], cid) if new_cr in after else None
            check(cr == new_cr and dec is not None and dec.get("generation") == serving.generation,
                  "CID %s: codepoint %d, decodes with the new key" % (cid, cr))
            for k in old_keys:
                check(decodes(cli, k, cid) is None, "CID %s does not decode with the old key" % cid)

        for ld in loads:
            ld.join()
        dl.join()
        check(big.get("ok"), "the download running on generation 1 while it drained completed")
        for ld in loads:
            res = ld.res or {}
            errs = {k: v for k, v in res.get("errors", {}).items() if v}
            print("%s: exit %s, %s requests ok, %s handshakes, rebind %s, errors %s" %
                  (ld.tag, ld.rc, res.get("requests", {}).get("ok"),
                   res.get("connections", {}).get("handshakes"), res.get("rebind"), errs))
            check(ld.rc == 0 and res.get("ok") is True, "%s load: exit 0" % ld.tag)
            check(res.get("requests", {}).get("failed") == 0 and
                  res.get("requests", {}).get("not_sent") == 0, "%s: zero failed requests" % ld.tag)
            check(res.get("connections", {}).get("failed") == 0,
                  "%s: zero failed connections" % ld.tag)
            check(res.get("requests", {}).get("ok", 0) > 0, "%s: requests served" % ld.tag)
        rb = loads[2].res.get("rebind", {}) if loads[2].res else {}
        check(rb.get("attempted", 0) > 0 and rb.get("completed") == rb.get("attempted"),
              "every rebound connection completed (%s)" % rb)

        for srv, deadline in gens[:-1]:
            left = max(1, deadline - time.time())
            try:
                rc = srv.proc.wait(timeout=left)
            except subprocess.TimeoutExpired:
                rc = None
            check(rc == 0, "generation %d exited 0 within its drain timeout (%s)" %
                  (srv.generation, rc))
            srv.stop()
            srv.check_clean()

        # SIGKILL of the serving generation, then a fresh start
        last = gens[-1][0]
        last.proc.send_signal(signal.SIGKILL)
        last.proc.wait()
        check(os.path.exists("/sys/fs/bpf/quicsteer/%s/qs_gens" % name),
              "the killed generation left its pins behind")
        fresh = Server(server, tmp, ["--workers", "2", "--listen", "127.0.0.1:%d" % port] + RTT,
                       name=name, cert=cert)
        gens.append([fresh, None])
        # its number is new: the killed generation's CIDs may still be in flight
        check(fresh.kernel_steering and fresh.generation == last.generation + 1,
              "a fresh start after SIGKILL serves as generation %d, never used before (got %d)"
              % (last.generation + 1, fresh.generation))
        st = stat(cli, name)
        live = [g["generation"] for g in (st or {}).get("generations", [])]
        check(live == [fresh.generation], "only the fresh generation is live in the instance (%s)"
              % live)
        r = subprocess.run([loadbin, fresh.url("/bytes/1000"), "--json", "-c", "2", "-n", "5"] + RTT,
                           stdout=subprocess.PIPE, text=True, timeout=60)
        check(r.returncode == 0, "the fresh generation serves")
        fresh.stop_and_check()
    finally:
        for srv, _ in gens:
            srv.kill()
    finish()


if __name__ == "__main__":
    main()
