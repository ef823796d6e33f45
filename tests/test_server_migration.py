#!/usr/bin/env python3
"""test_server_migration.py: connections survive client address changes.

    test_server_migration.py SERVER WORKERS (--no-bpf | --bpf) CLI

Many parallel gtlsclient downloads whose client moves to a new local
address 200 ms after the handshake, half of them with a new connection ID
and path validation (--change-local-addr, in the middle of the transfer),
half as a NAT rebinding (same connection ID).  The kernel hashes the new
4-tuple to an arbitrary worker:

  --no-bpf  the receiving worker must relay those datagrams to the owner,
            so the stats file shows fwd_out/fwd_in > 0;
  --bpf     the BPF program must deliver them to the owner directly, so
            nothing is relayed (fwd_out == 0) and `quicsteer stat` shows
            them routed by CID in the kernel.  Without BPF: exit 77.

Every download must complete byte-identical.

gtlsclient 0.12.1 limitation: after --nat-rebinding a client that only
receives never sends from its new port (it ignores the server's packets
still arriving at its old socket, so it has nothing to acknowledge), and
the transfer stalls until the idle timeout -- against Debian's gtlsserver
too.  The rebinding clients therefore rebind while idle and send their
request afterwards (--delay-stream), which the server sees as a NAT
rebinding of an established connection.
"""
import json
import os
import shutil
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_lib import (SKIP, Server, bytes_body, check, finish, gtlsclient,  # noqa: E402
                             need_gtlsclient, sha256_file, tmpdir)
import hashlib  # noqa: E402

SIZE = 4 * 1024 * 1024
NCONN = 100  # 50 active migrations (new CID), 50 NAT rebindings (same CID)
WAVE = 20


def main():
    need_gtlsclient()
    binary, workers, mode, cli = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    tmp = tmpdir("mig")
    args = ["--workers", str(workers), "--initial-rtt", "10"]
    if mode == "--no-bpf":
        args.append("--no-bpf")
    srv = Server(binary, tmp, args)
    if mode == "--bpf" and not srv.kernel_steering:
        print("kernel steering unavailable here: skipping", file=sys.stderr)
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        sys.exit(SKIP)
    expected = hashlib.sha256(bytes_body(SIZE)).hexdigest()
    nconn = NCONN
    results = {}

    def one(i):
        d = os.path.join(tmp, "c%d" % i)
        os.makedirs(d, exist_ok=True)
        extra = ["--change-local-addr=200ms"]
        if i % 2:
            extra += ["--nat-rebinding", "--delay-stream=500ms"]
        r = gtlsclient("127.0.0.1", srv.port, [srv.url("/bytes/%d" % SIZE)], download=d,
                       extra=extra, timeout=300)
        p = os.path.join(d, str(SIZE))
        results[i] = (r.returncode, os.path.exists(p) and sha256_file(p) == expected)
        if os.path.exists(p):
            os.unlink(p)

    try:
        # in waves: 100 downloads at once overflow the clients' receive
        # buffers on two cores, and gtlsclient 0.12.1 cannot recover a NAT
        # rebinding whose path validation was lost (see above)
        for first in range(0, nconn, WAVE):
            ts = [threading.Thread(target=one, args=(i,))
                  for i in range(first, min(nconn, first + WAVE))]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        ok = [i for i, (rc, same) in results.items() if rc == 0 and same]
        for i, (rc, same) in sorted(results.items()):
            if i not in ok:
                print("download %d (%s) failed: gtlsclient exit %s, body %s" %
                      (i, "nat-rebinding" if i % 2 else "migration", rc,
                       "complete" if same else "incomplete"), file=sys.stderr)
        st = srv.stats()
        path_failed = sum(w["path_failed"] for w in st)
        print("path validations failed: %d" % path_failed)
        # The one loss the server may show: a NAT rebinding whose path
        # challenges were all lost (on two loaded cores, 20 clients'
        # receive buffers overflow).  The server then keeps the old path
        # (RFC 9000 s9.3.2), where gtlsclient 0.12.1 no longer listens, and
        # the download stalls (see above).  Such a failure is excused only
        # when the server counted that many failed validations, and the
        # download must then succeed when repeated alone.
        redo = [i for i in results if i not in ok and i % 2]
        if redo and len(redo) <= path_failed and len(redo) + len(ok) == nconn:
            for i in redo:
                one(i)
            ok = [i for i, (rc, same) in results.items() if rc == 0 and same]
            print("%d rebinding download(s) repeated after a failed path validation" %
                  len(redo))
        check(len(ok) == nconn, "%d/%d migrating downloads complete byte-identical" %
              (len(ok), nconn))
        fwd_out = sum(w["fwd_out"] for w in st)
        fwd_in = sum(w["fwd_in"] for w in st)
        mig = sum(w["migrations"] for w in st)
        print("per worker: accepted %s fwd_out %s fwd_in %s migrations %s fwd_fail %s" %
              ([w["conns_accepted"] for w in st], [w["fwd_out"] for w in st],
               [w["fwd_in"] for w in st], [w["migrations"] for w in st],
               [w["fwd_fail"] for w in st]))
        check(mig >= nconn // 2, "the server validated the new paths (%d migrations)" % mig)
        r = subprocess.run([cli, "stat", "--name", srv.name, "--json"], stdout=subprocess.PIPE,
                           text=True, timeout=30)
        st_cli = json.loads(r.stdout) if r.returncode == 0 else {}
        cli_fwd = sum(w["fwd_out"] for g in st_cli.get("generations", []) for w in g["workers"])
        check(cli_fwd == fwd_out, "quicsteer stat reports the same relays (%d)" % cli_fwd)
        if mode == "--no-bpf":
            check(st_cli.get("steering") == "user", "quicsteer stat: steering in user space")
            check(fwd_out > 0 and fwd_in > 0,
                  "misrouted datagrams were relayed in user space (out %d, in %d)" %
                  (fwd_out, fwd_in))
            check(fwd_in <= fwd_out, "every relayed datagram was sent by a worker")
        else:
            check(fwd_out == 0, "the kernel delivered every datagram to its owner "
                  "(relayed: %d)" % fwd_out)
            k = st_cli.get("kernel", {})
            krx = sum(w["kernel_rx"] for g in st_cli.get("generations", []) for w in g["workers"])
            print("kernel: %s; kernel_rx per worker total %d" % (k, krx))
            check(st_cli.get("steering") == "kernel" and k.get("cid_routed", 0) > 0,
                  "quicsteer stat: datagrams routed by CID in the kernel (%d)" %
                  k.get("cid_routed", 0))
            check(krx > 0 and krx >= k.get("cid_routed", 0),
                  "quicsteer stat: per-worker kernel deliveries (%d)" % krx)
    finally:
        srv.stop_and_check()
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
