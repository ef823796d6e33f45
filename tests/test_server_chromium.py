#!/usr/bin/env python3
"""test_server_chromium.py: headless Chromium loads the demo site over HTTP/3.

    test_server_chromium.py SERVER [tcp]

Runs in a private network namespace (loopback only: Chromium's background
services reach nowhere).  Chromium is forced to QUIC for the server's
origin and trusts the development certificate by its SPKI hash.  Checks:
the dumped DOM shows that app.js ran and that its fetch() came back, the
net-log shows a QUIC session to the server and every page resource
requested over it, and the server counted the requests.
With "tcp", Chromium gets no QUIC flag: it loads the page over HTTP/2 on
the TCP port (the TCP front), and the net-log shows the alt-svc field that
announces HTTP/3 on the response.
Chromium missing: exit 77.
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_lib import SKIP, TOP, Server, check, finish, in_netns, tmpdir  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
RESOURCES = ["/", "/style.css", "/app.js", "/img/logo.svg", "/img/dot.png", "/bytes/64"]


def load_netlog(path):
    """The net-log's events and the names of their types."""
    with open(path) as f:
        text = f.read()
    # Chromium may be killed before it closes the JSON array
    try:
        log = json.loads(text)
    except ValueError:
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    return log["events"], {v: k for k, v in log["constants"]["logEventTypes"].items()}


def netlog_requests(path, port):
    events, names = load_netlog(path)
    urls, over_quic, sessions = {}, set(), 0
    prefix = "https://127.0.0.1:%d" % port
    for e in events:
        t = names.get(e["type"], "")
        p = e.get("params", {}) or {}
        sid = e["source"]["id"]
        if t == "URL_REQUEST_START_JOB" and str(p.get("url", "")).startswith(prefix):
            urls[sid] = p["url"][len(prefix):]
        elif t == "HTTP_TRANSACTION_QUIC_SEND_REQUEST_HEADERS":
            over_quic.add(sid)
        elif t == "QUIC_SESSION" and p.get("port") == port:
            sessions += 1
    # a resource the page names twice (logo.svg: icon and image) is fetched
    # once; the other load is served from the browser's cache (the response
    # has Last-Modified, so it is heuristically fresh): any fetch over QUIC counts
    reqs = {}
    for sid, u in urls.items():
        reqs[u] = reqs.get(u, False) or sid in over_quic
    return reqs, sessions


def netlog_tcp(path, port):
    """(HTTP/2 sessions to |port|, response header lines seen)"""
    events, names = load_netlog(path)
    h2, headers = 0, []
    for e in events:
        t = names.get(e["type"], "")
        p = e.get("params", {}) or {}
        if t == "HTTP2_SESSION" and str(p.get("host", "")).endswith(":%d" % port):
            h2 += 1
        elif t == "HTTP_TRANSACTION_READ_RESPONSE_HEADERS":
            headers += [str(h) for h in p.get("headers", [])]
    return h2, headers


def main():
    binary = sys.argv[1]
    tcp = sys.argv[2:] == ["tcp"]
    if not os.access(CHROMIUM, os.X_OK):
        print("chromium is missing: skipping", file=sys.stderr)
        sys.exit(SKIP)
    in_netns()
    tmp = tmpdir("chr")
    srv = Server(binary, tmp, ["--workers", "2", "--no-bpf", "--root", os.path.join(TOP, "www")])
    try:
        with open(os.path.join(srv.cert, "spki.txt")) as f:
            spki = f.read().strip()
        netlog = os.path.join(tmp, "netlog.json")
        cmd = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
               "--user-data-dir=" + os.path.join(tmp, "profile"),
               ] + ([] if tcp else ["--origin-to-force-quic-on=127.0.0.1:%d" % srv.port]) + [
               "--ignore-certificate-errors-spki-list=" + spki,
               "--log-net-log=" + netlog, "--net-log-capture-mode=Default",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--disable-default-apps", "--virtual-time-budget=5000",
               "--dump-dom", srv.url("/")]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                           text=True, errors="replace")
        dom = r.stdout
        check(r.returncode == 0, "chromium exits 0 (got %d)" % r.returncode)
        check("<h1>quicsteer</h1>" in dom, "the page's DOM was dumped")
        check('id="status" class="ok">scripts ran' in dom, "app.js was loaded and ran")
        check('id="fetched">fetched 64 bytes' in dom, "app.js fetched /bytes/64")
        if not dom:
            print(r.stderr[-3000:], file=sys.stderr)
        if tcp:
            h2, headers = netlog_tcp(netlog, srv.port)
            check(h2 >= 1, "net-log shows an HTTP/2 session to the server's TCP port")
            alt = 'alt-svc: h3=":%d"; ma=86400' % srv.port
            check(alt in headers, "the response announced HTTP/3: %s" % alt)
            check(srv.total("tcp_accepted") >= 1, "the server accepted a TCP connection")
        else:
            reqs, sessions = netlog_requests(netlog, srv.port)
            print("requests:", reqs, "QUIC sessions:", sessions)
            check(sessions >= 1, "net-log shows a QUIC session to the server")
            for res in RESOURCES:
                check(reqs.get(res) is True, "%s was requested over HTTP/3 (QUIC)" % res)
            check(srv.total("requests") >= len(RESOURCES), "the server answered the requests")
    finally:
        srv.stop_and_check()
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
