#!/usr/bin/env python3
"""test_server_features.py: optional features of quicsteer-server.

    test_server_features.py SERVER CASE

CASE:
  retry     --retry always: every client goes through Retry and is served;
            --retry auto with a tiny --retry-auto-rate: a burst of new
            connections gets Retry once over the rate, and all are served
  observe   --qlog-dir writes one qlog per connection; --metrics serves
            Prometheus text with per-worker labels matching the stats file
  takeover  user space (--no-bpf), shared --secret-file: a successor
            started with --takeover joins the port as generation 2; the
            predecessor's connections keep working although the kernel now
            hashes some of their datagrams to the successor, which relays
            them to the predecessor's workers by name (fwd_out in gen 2,
            fwd_in in gen 1)
"""
import glob
import json
import os
import struct
import subprocess
import shutil
import socket
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_lib import (Server, bytes_body, check, finish, gtlsclient,  # noqa: E402
                             need_gtlsclient, sha256_file, tmpdir, unique_name)
import hashlib  # noqa: E402


def free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fetch(srv, tmp, tag, path, extra=()):
    d = os.path.join(tmp, tag)
    os.makedirs(d, exist_ok=True)
    r = gtlsclient("127.0.0.1", srv.port, [srv.url(path)], download=d, extra=extra)
    p = os.path.join(d, os.path.basename(path) or "index.html")
    return r.returncode == 0 and os.path.exists(p), p


def case_retry(binary, tmp):
    srv = Server(binary, tmp, ["--workers", "2", "--no-bpf", "--retry", "always"])
    try:
        ok = all(fetch(srv, tmp, "a%d" % i, "/bytes/1000")[0] for i in range(4))
        check(ok, "--retry always: clients are served")
        check(srv.total("retry_tx") >= 4, "--retry always: a Retry per connection (%d)" %
              srv.total("retry_tx"))
        check(srv.total("conns_completed") >= 4, "connections completed after Retry")
    finally:
        srv.stop_and_check()
    srv = Server(binary, tmp, ["--workers", "1", "--no-bpf", "--retry", "auto",
                               "--retry-auto-rate", "10"])
    try:
        res = []
        ts = [threading.Thread(target=lambda i=i: res.append(
            fetch(srv, tmp, "b%d" % i, "/bytes/1000")[0])) for i in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        check(len(res) == 8 and all(res), "--retry auto: a burst of 8 clients is served")
        n = srv.total("retry_tx")
        check(1 <= n < 8, "--retry auto: Retry only above the rate (%d of 8)" % n)
    finally:
        srv.stop_and_check()


def case_observe(binary, tmp):
    qdir = os.path.join(tmp, "qlog")
    os.makedirs(qdir)
    mport = free_tcp_port()
    srv = Server(binary, tmp, ["--workers", "2", "--no-bpf", "--qlog-dir", qdir,
                               "--metrics", "127.0.0.1:%d" % mport])
    try:
        for i in range(3):
            check(fetch(srv, tmp, "q%d" % i, "/bytes/5000")[0], "request %d served" % i)
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10).read()
        text = text.decode()
        st = srv.stats()
        for w in range(2):
            line = 'quicsteer_requests_total{worker="%d"} %d' % (w, st[w]["requests"])
            check(line in text, "metrics: %s" % line)
        check("# TYPE quicsteer_conns_open gauge" in text, "metrics: conns_open is a gauge")
        check("quicsteer_workers 2" in text, "metrics: worker count")
    finally:
        srv.stop_and_check()
    files = glob.glob(os.path.join(qdir, "*.sqlog"))
    check(len(files) == 3, "one qlog file per connection (%d)" % len(files))
    for f in files[:1]:
        with open(f) as fh:
            first = fh.readline().lstrip("\x1e")
        check(json.loads(first).get("qlog_format") == "JSON-SEQ", "qlog is JSON-SEQ")


def case_takeover(binary, tmp):
    secret = os.path.join(tmp, "secret")
    with open(secret, "wb") as f:
        f.write(os.urandom(32))
    name = unique_name("tk")
    size = 32 * 1024 * 1024
    ndl = 16  # each hashes to a successor socket with p = 1/2: none does with p = 2^-16
    expected = hashlib.sha256(bytes_body(size)).hexdigest()
    # long enough a drain for its downloads to finish: it exits by itself
    old = Server(binary, tmp, ["--workers", "2", "--no-bpf", "--secret-file", secret,
                               "--initial-rtt", "10", "--drain-timeout", "120"], name=name)
    new = None
    results = []

    def dl(i):
        d = os.path.join(tmp, "t%d" % i)
        os.makedirs(d)
        r = gtlsclient("127.0.0.1", old.port, [old.url("/bytes/%d" % size)], download=d,
                       timeout=300)
        p = os.path.join(d, str(size))
        results.append(r.returncode == 0 and os.path.exists(p) and sha256_file(p) == expected)
    try:
        ts = [threading.Thread(target=dl, args=(i,)) for i in range(ndl)]
        for t in ts:
            t.start()
        time.sleep(0.3)
        new = Server(binary, tmp, ["--workers", "2", "--no-bpf", "--secret-file", secret,
                                   "--takeover", "--listen", "127.0.0.1:%d" % old.port],
                     name=name, cert=old.cert)
        check(new.generation == 2, "successor is generation 2 (%d)" % new.generation)
        # the predecessor drains and exits on its own; sample its counters
        # while it lives
        in_old = 0
        while any(t.is_alive() for t in ts):
            try:
                in_old = max(in_old, old.total("fwd_in"))
            except (OSError, RuntimeError, struct.error):
                pass
            time.sleep(0.05)
        for t in ts:
            t.join()
        check(len(results) == ndl and all(results), "predecessor's downloads complete (%d/%d)" %
              (sum(results), ndl))
        try:
            rc = old.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            rc = None
        check(rc == 0, "the predecessor exits 0 by itself once drained (%s)" % rc)
        out_new = new.total("fwd_out")
        print("gen2 fwd_out %d fwd_fail %d, gen1 fwd_in %d" % (out_new, new.total("fwd_fail"),
                                                              in_old))
        check(out_new > 0 and in_old > 0, "successor relayed the predecessor's datagrams to it")
        ok, _ = fetch(new, tmp, "n", "/bytes/1000")
        check(ok, "successor serves new connections")
    finally:
        if new:
            new.stop_and_check()
        old.stop()
        old.check_clean()


def main():
    need_gtlsclient()
    binary, case = sys.argv[1], sys.argv[2]
    tmp = tmpdir(case)
    try:
        {"retry": case_retry, "observe": case_observe, "takeover": case_takeover}[case](binary,
                                                                                      tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
