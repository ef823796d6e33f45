#!/usr/bin/env python3
"""test_server_accesslog.py: quicsteer-server's --access-log.

    test_server_accesslog.py SERVER LOAD

- combined format into a file, 2 workers: N requests over several
  connections give exactly N lines, with the right method, path, status,
  body size, protocol, client address and worker; then 2000 requests
  from quicsteer-load (16 connections, 4 streams each) give 2000 more
  lines, from both workers; none dropped (log_dropped 0), as many as the
  requests counter;
- logrotate: after the file is renamed and SIGUSR1 sent, the next M
  requests go to a new file at the same path (M lines), the renamed one
  keeps its N;
- json format on standard error ("-"): every line is one JSON object
  that python's json module parses, with the same fields, also for a
  path with quotes and backslashes, and a request proxied to
  tests/upstream.py has the upstream's address;
- SIGUSR1 without an access log is ignored (the server goes on serving).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_lib import (Server, check, finish, gtlsclient, make_cert,  # noqa: E402
                             need_gtlsclient, tmpdir)
from upstream import Upstream  # noqa: E402

COMBINED = re.compile(
    r'^(?P<client>\S+) - - \[(?P<time>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] '
    r'"(?P<method>\S+) (?P<path>\S+) (?P<protocol>\S+)" (?P<status>\d{3}) (?P<body_bytes>\d+) '
    r'"(?P<referer>[^"]*)" "(?P<user_agent>[^"]*)" client_port=(?P<client_port>\d+) '
    r'duration=(?P<duration>\d+\.\d{6}) '
    r'worker=(?P<worker>\d+) upstream=(?P<upstream>\S+) reset=(?P<reset>[01])$')


def requests(srv, urls_per_conn):
    """One gtlsclient per list of paths (one connection each)."""
    ok = True
    for paths in urls_per_conn:
        r = gtlsclient("127.0.0.1", srv.port, [srv.url(p) for p in paths])
        ok = ok and r.returncode == 0
    return ok


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def wait_lines(get, n, timeout=10):
    """Lines are written when each stream ends; a connection's last one
    ends when the connection does."""
    deadline = time.time() + timeout
    lines = get()
    while len(lines) < n and time.time() < deadline:
        time.sleep(0.05)
        lines = get()
    time.sleep(0.3)  # and no more than n
    return get()


# paths, status, body size
BATCH1 = [["/", "/bytes/1000", "/nope", "/bytes/12345"], ["/bytes/1"], ["/bytes/7", "/bytes/70"]]
BATCH2 = [["/bytes/2", "/bytes/3"], ["/bytes/4"]]
EXPECT = {"/bytes/1000": (200, 1000), "/nope": (404, None), "/bytes/12345": (200, 12345),
          "/bytes/1": (200, 1), "/bytes/7": (200, 7), "/bytes/70": (200, 70), "/": (200, None),
          "/bytes/2": (200, 2), "/bytes/3": (200, 3), "/bytes/4": (200, 4)}


def check_fields(recs, batch, what, upstream=None):
    want = sorted(p for conn in batch for p in conn)
    check(sorted(r["path"] for r in recs) == want, "%s: one line per request path" % what)
    good = True
    for r in recs:
        status, size = EXPECT.get(r["path"], (None, None))
        good = good and r["method"] == "GET" and r["protocol"] == "HTTP/3"
        good = good and int(r["status"]) == status and (size is None or
                                                        int(r["body_bytes"]) == size)
        good = good and r["client"] == "127.0.0.1" and 0 < int(r["client_port"]) < 65536
        good = good and int(r["worker"]) in (0, 1) and float(r["duration"]) >= 0
        proxied = r["path"].startswith("/up/")
        good = good and (r["upstream"] == upstream if proxied else r["upstream"] in ("-", None))
        good = good and r["referer"] in ("-", None)
        # the clients' own user agents; "reset" is not checked: a client that
        # closes its connection at once leaves its last stream unfinished
        good = good and r["user_agent"] not in ("-", None, "")
        if not good:
            print("bad record:", r, file=sys.stderr)
            break
    check(good, "%s: method, status, body size, protocol, client, worker in every line" % what)


def main():
    need_gtlsclient()
    binary, load = sys.argv[1], sys.argv[2]
    tmp = tmpdir("alog")
    cert = make_cert(tmp)
    log = os.path.join(tmp, "access.log")
    n1 = sum(len(c) for c in BATCH1)
    n2 = sum(len(c) for c in BATCH2)
    srv = None
    try:
        srv = Server(binary, tmp, ["--workers", "2", "--no-bpf", "--access-log", log], cert=cert)
        check(requests(srv, BATCH1), "first batch served")
        lines = wait_lines(lambda: read_lines(log), n1)
        check(len(lines) == n1, "exactly %d lines for %d requests (%d)" % (n1, n1, len(lines)))
        recs = [m.groupdict() for m in map(COMBINED.match, lines) if m]
        check(len(recs) == len(lines), "every line in the combined format")
        check_fields(recs, BATCH1, "combined")

        # many requests at once, over both workers
        nload = 2000
        r = subprocess.run([load, srv.url("/bytes/100"), "-c", "16", "-n", str(nload // 16),
                            "-m", "4", "-t", "2", "--initial-rtt=10", "--verify-bytes",
                            "--json", "--no-progress"], stdout=subprocess.PIPE, timeout=120)
        res = json.loads(r.stdout) if r.returncode == 0 else {}
        check(r.returncode == 0 and res["requests"]["ok"] == nload,
              "quicsteer-load: %d requests done (%s)" % (nload, res.get("requests")))
        lines = wait_lines(lambda: read_lines(log), n1 + nload)
        check(len(lines) == n1 + nload, "exactly %d more lines (%d)" % (nload, len(lines) - n1))
        recs = [m.groupdict() for m in map(COMBINED.match, lines[n1:]) if m]
        check(len(recs) == nload and
              all(r["path"] == "/bytes/100" and r["status"] == "200" and
                  r["body_bytes"] == "100" for r in recs), "the load's lines are right")
        check({r["worker"] for r in recs} == {"0", "1"}, "lines from both workers")
        check(srv.total("requests") == n1 + nload and srv.total("log_dropped") == 0,
              "requests counter = lines, nothing dropped (%d, %d)" %
              (srv.total("requests"), srv.total("log_dropped")))
        nold = n1 + nload

        # logrotate: move, SIGUSR1, the rest goes to the new file
        os.rename(log, log + ".1")
        srv.proc.send_signal(signal.SIGUSR1)
        deadline = time.time() + 10
        while "access log %s reopened" % log not in srv.stderr() and time.time() < deadline:
            time.sleep(0.05)
        check(os.path.exists(log), "SIGUSR1: the log is reopened at its path")
        check(requests(srv, BATCH2), "second batch served")
        lines = wait_lines(lambda: read_lines(log), n2)
        check(len(lines) == n2, "after the reopen: %d lines in the new file (%d)" %
              (n2, len(lines)))
        check_fields([m.groupdict() for m in map(COMBINED.match, lines) if m], BATCH2,
                     "reopened")
        check(len(read_lines(log + ".1")) == nold, "the renamed file keeps its %d lines" % nold)
        srv.stop_and_check()
        srv = None

        # json on standard error, mixed with the server's own messages
        odd = '/odd"quote\\back'
        up = Upstream()
        srv = Server(binary, tmp, ["--workers", "2", "--no-bpf", "--access-log", "-",
                                   "--access-log-format", "json",
                                   "--proxy", "/up/=http://127.0.0.1:%d" % up.port], cert=cert)
        batch = BATCH1 + [[odd], ["/up/pattern/100"]]

        def json_lines():
            return [l for l in srv.stderr().splitlines() if l.startswith("{")]
        check(requests(srv, batch), "json: served")
        lines = wait_lines(json_lines, n1 + 2)
        recs = []
        try:
            recs = [json.loads(l) for l in lines]
            parsed = True
        except ValueError as e:
            parsed = False
            print("json error:", e, lines, file=sys.stderr)
        check(parsed and len(recs) == n1 + 2, "json: %d lines, each parsed by json.loads (%d)" %
              (n1 + 2, len(recs)))
        EXPECT[odd] = (404, None)
        EXPECT["/up/pattern/100"] = (200, 100)
        check_fields(recs, batch, "json", upstream="127.0.0.1:%d" % up.port)
        check(any(r["path"] == "/up/pattern/100" for r in recs) and up.requests == 1,
              "json: the proxied request, with its upstream address")
        check(all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", r["time"]) for r in recs),
              "json: ISO 8601 UTC times")
        srv.stop_and_check()
        srv = None
        up.close()

        # no access log: SIGUSR1 changes nothing
        srv = Server(binary, tmp, ["--workers", "1", "--no-bpf"], cert=cert)
        srv.proc.send_signal(signal.SIGUSR1)
        time.sleep(0.2)
        check(srv.proc.poll() is None and requests(srv, [["/bytes/5"]]),
              "SIGUSR1 without an access log: still serving")
        srv.stop_and_check()
        srv = None
    finally:
        if srv:
            srv.stop_and_check()
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
