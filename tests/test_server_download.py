#!/usr/bin/env python3
"""test_server_download.py: quicsteer-server serves files byte-identical.

    test_server_download.py SERVER WORKERS [--big MB] [--no-bpf | --cli QUICSTEER]

Serves a directory of files of many sizes (empty, odd sizes around the read
chunk and ring sizes, and with --big a file of MB megabytes that must
stream through the bounded ring) and downloads them with gtlsclient, several
per connection and several connections at once; every file must match by
SHA-256.  /bytes/N must produce the documented pattern.  The server must
then stop cleanly on SIGTERM.  With kernel steering (no --no-bpf) the
kernel must have done the steering: `quicsteer stat --json` (--cli) shows
cid_routed grown and no fallback of any reason, and no worker relayed a
datagram, so the test cannot pass on user-space relaying alone.
"""
import json
import os
import shutil
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_lib import (Server, bytes_body, check, finish, gtlsclient,  # noqa: E402
                             need_gtlsclient, sha256_file, tmpdir)
import hashlib  # noqa: E402


def write_file(path, size, seed):
    # cheap pseudo-random content: a hash chain, so offsets are distinguishable
    block = hashlib.sha256(seed.encode()).digest() * 2048  # 64 KiB
    with open(path, "wb") as f:
        left, i = size, 0
        while left:
            chunk = hashlib.sha256(b"%d" % i).digest() + block[32:]
            n = min(left, len(chunk))
            f.write(chunk[:n])
            left -= n
            i += 1


def main():
    need_gtlsclient()
    binary, workers = sys.argv[1], sys.argv[2]
    big = 0
    args = sys.argv[3:]
    extra = []
    if "--big" in args:
        big = int(args[args.index("--big") + 1])
    if "--no-bpf" in args:
        extra.append("--no-bpf")
    cli = args[args.index("--cli") + 1] if "--cli" in args else None
    tmp = tmpdir("dl")
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "sub"))
    sizes = {"empty.bin": 0, "one.txt": 1, "small.html": 1000, "k64.bin": 65536,
             "k64p1.bin": 65537, "ring.bin": 512 * 1024, "ringp7.bin": 512 * 1024 + 7,
             "m3.bin": 3 * 1024 * 1024 + 13, "sub/index.html": 321}
    if big:
        sizes["big.bin"] = big * 1024 * 1024 + 3
    for rel, size in sizes.items():
        write_file(os.path.join(root, rel), size, rel)
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<!DOCTYPE html><title>t</title>\n")

    srv = Server(binary, tmp, ["--workers", workers, "--root", root] + extra)

    def kernel_counters():
        r = subprocess.run([cli, "stat", "--name", srv.name, "--json"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        check(r.returncode == 0, "quicsteer stat --json exits 0 (%s)" % r.stderr.strip())
        st = json.loads(r.stdout) if r.returncode == 0 else {}
        check(st.get("steering") == "kernel", "quicsteer stat: steering in the kernel")
        return st.get("kernel", {})

    try:
        if "--no-bpf" not in extra:
            check(cli is not None, "kernel-steering run given the CLI (--cli)")
            check(srv.kernel_steering, "the server steers in the kernel (CI has BPF)")
            k0 = kernel_counters()
        # several files on one connection
        names = [n for n in sizes if n != "big.bin" and n != "sub/index.html"]
        dl = os.path.join(tmp, "dl1")
        os.makedirs(dl)
        r = gtlsclient("127.0.0.1", srv.port, [srv.url("/" + n) for n in names], download=dl)
        check(r.returncode == 0, "gtlsclient with %d requests exits 0" % len(names))
        for n in names:
            p = os.path.join(dl, os.path.basename(n))
            ok = os.path.exists(p) and sha256_file(p) == sha256_file(os.path.join(root, n))
            check(ok, "%s (%d octets) downloaded byte-identical" % (n, sizes[n]))

        # a directory serves its index.html, / serves the root's
        dl = os.path.join(tmp, "dl2")
        os.makedirs(dl)
        r = gtlsclient("127.0.0.1", srv.port, [srv.url("/sub/")], download=dl)
        check(r.returncode == 0 and
              sha256_file(os.path.join(dl, "index.html")) ==
              sha256_file(os.path.join(root, "sub/index.html")), "/sub/ serves sub/index.html")

        # parallel connections: the kernel spreads them over the workers
        results = []

        def one(i):
            d = os.path.join(tmp, "par%d" % i)
            os.makedirs(d)
            rr = gtlsclient("127.0.0.1", srv.port, [srv.url("/m3.bin"), srv.url("/k64p1.bin")],
                            download=d)
            results.append(rr.returncode == 0 and
                           sha256_file(os.path.join(d, "m3.bin")) ==
                           sha256_file(os.path.join(root, "m3.bin")) and
                           sha256_file(os.path.join(d, "k64p1.bin")) ==
                           sha256_file(os.path.join(root, "k64p1.bin")))
        ts = [threading.Thread(target=one, args=(i,)) for i in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        check(len(results) == 8 and all(results), "8 parallel connections download correctly")

        # generated bytes
        dl = os.path.join(tmp, "dl3")
        os.makedirs(dl)
        n = 5 * 1024 * 1024 + 11
        r = gtlsclient("127.0.0.1", srv.port, [srv.url("/bytes/%d" % n)], download=dl)
        p = os.path.join(dl, str(n))
        check(r.returncode == 0 and os.path.exists(p) and
              open(p, "rb").read() == bytes_body(n), "/bytes/%d has the documented body" % n)

        if big:
            dl = os.path.join(tmp, "dl4")
            os.makedirs(dl)
            r = gtlsclient("127.0.0.1", srv.port, [srv.url("/big.bin")], download=dl,
                           timeout=600)
            p = os.path.join(dl, "big.bin")
            check(r.returncode == 0 and os.path.exists(p) and
                  sha256_file(p) == sha256_file(os.path.join(root, "big.bin")),
                  "%d MB file downloaded byte-identical" % big)
            if os.path.exists(p):
                os.unlink(p)

        st = srv.stats()
        if "--no-bpf" not in extra:
            k1 = kernel_counters()
            grew = {k: k1.get(k, 0) - k0.get(k, 0) for k in k1}
            print("kernel decisions during the downloads:", grew)
            check(grew.get("cid_routed", 0) > 100,
                  "the kernel routed datagrams by CID (%d)" % grew.get("cid_routed", 0))
            fb = {k: v for k, v in grew.items()
                  if (k.startswith("fallback_") or k == "initial_reused_cid") and v}
            check(not fb, "no kernel fallback of any reason (%s)" % fb)
            check(sum(w["fwd_out"] for w in st) == 0,
                  "no worker relayed a datagram: the kernel delivered each to its owner")
        check(len(st) == int(workers), "stats file has %s worker records" % workers)
        reqs = sum(w["requests"] for w in st)
        check(reqs >= len(names) + 1 + 16 + 1, "stats count the requests (%d)" % reqs)
        check(sum(w["conns_completed"] for w in st) >= 11, "stats count completed handshakes")
        if int(workers) > 1:
            busy = sum(1 for w in st if w["conns_accepted"] > 0)
            print("connections per worker:", [w["conns_accepted"] for w in st])
            check(busy >= 2, "connections spread over more than one worker")
    finally:
        srv.stop_and_check()
        check(not os.path.exists(srv.stats_path or "/nonexistent"),
              "stats file removed at exit")
        check(not os.path.exists(os.path.dirname(srv.stats_path or "/nonexistent/x")),
              "empty instance directory removed at exit")
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
