#!/usr/bin/env python3
"""test_server_tcp.py: the TCP front (docs/server.md, "TCP front").

    test_server_tcp.py SERVER

curl over HTTP/1.1 and HTTP/2 against the TCP port of the --listen
address: the demo page, HEAD, 404, a large /bytes/N body, proxied POSTs
(tests/upstream.py; 3 MB over HTTP/1.1); 600 pipelined HTTP/1.1 requests;
a session ticket resuming on both workers (counted); the alt-svc field on every response; h2load bounded
runs (HTTP/2 and HTTP/1.1) with no failure; a client sending one header
octet every half second is cut off by --header-timeout and counted; the
--max-tcp-conns cap; --idle-timeout; --alt-svc off; --no-tcp; a graceful stop, and a
takeover, finishing a request in flight while an idle HTTP/1.1 keep-alive
connection is closed (the successor serving new TCP connections).
"""
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_lib import (Server, bytes_body, check, finish, tmpdir,  # noqa: E402
                             unique_name)
from upstream import Upstream  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def curl(srv, path, proto, extra=(), port=None):
    """(status, headers dict of lists, body) over TCP with curl."""
    url = "https://127.0.0.1:%d%s" % (port or srv.port, path)
    hdr_path = os.path.join(srv.tmp, "curl.hdr")
    body_path = os.path.join(srv.tmp, "curl.body")
    for p in (hdr_path, body_path):
        if os.path.exists(p):
            os.unlink(p)
    r = subprocess.run(["curl", "-sS", "-k", "--max-time", "20", proto, "-D", hdr_path,
                        "-o", body_path] + list(extra) + [url], capture_output=True, timeout=30)
    if r.returncode != 0:
        return None, {}, r.stderr
    status, headers = None, {}
    with open(hdr_path, "rb") as f:
        for line in f.read().decode("latin-1").split("\r\n"):
            m = re.match(r"HTTP/(\S+) (\d+)", line)
            if m:
                status, headers = int(m.group(2)), {"_version": [m.group(1)]}
            elif ":" in line:
                k, v = line.split(":", 1)
                headers.setdefault(k.strip().lower(), []).append(v.strip())
    body = b""
    if os.path.exists(body_path):
        with open(body_path, "rb") as f:
            body = f.read()
    return status, headers, body


def tls_conn(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))


def read_response(f):
    """One HTTP/1.1 response with a content-length from the buffered reader
    |f| (the socket's makefile("rb"), kept for the connection): (status, body)."""
    line = f.readline()
    if not line:
        return None, b""
    n = 0
    while True:
        h = f.readline()
        if h in (b"\r\n", b""):
            break
        if h.lower().startswith(b"content-length:"):
            n = int(h.split(b":")[1])
    body = f.read(n)
    return int(line.split(b" ")[1]), body


def closed_within(s, seconds):
    """Whether the server closes |s| within |seconds| (no data expected)."""
    s.settimeout(seconds)
    try:
        return s.recv(1) == b""
    except (ssl.SSLError, ConnectionError):
        return True
    except socket.timeout:
        return False


def main():
    binary = sys.argv[1]
    for tool in ("curl", "h2load"):
        check(shutil.which(tool) is not None, "%s is installed" % tool)
    tmp = tmpdir("tcp")
    up = Upstream()
    www = os.path.join(TOP, "www")
    with open(os.path.join(www, "index.html"), "rb") as f:
        index = f.read()
    srv = Server(binary, tmp, ["--workers", "2", "--no-bpf", "--root", www, "--header-timeout",
                               "2", "--proxy", "/up=http://127.0.0.1:%d" % up.port])
    alt = 'h3=":%d"; ma=86400' % srv.port
    try:
        for proto, ver in (("--http1.1", "1.1"), ("--http2", "2")):
            st, h, body = curl(srv, "/", proto)
            check(st == 200 and h.get("_version") == [ver] and body == index,
                  "%s: GET / is the demo page over HTTP/%s (%s)" % (proto, ver, st))
            check(h.get("alt-svc") == [alt], "%s: 200 carries alt-svc %s (%s)" %
                  (proto, alt, h.get("alt-svc")))
            st, h, body = curl(srv, "/nope", proto)
            check(st == 404 and h.get("alt-svc") == [alt], "%s: 404 with alt-svc" % proto)
            st, h, body = curl(srv, "/", proto, ["-I"])
            # with -I curl writes the header section where the body would go
            check(st == 200 and body.endswith(b"\r\n\r\n") and index[:20] not in body and h.get("content-length") == [str(len(index))] and
                  h.get("alt-svc") == [alt], "%s: HEAD / has the length, no body" % proto)
            n = 3 * 1000 * 1000 + 17
            st, h, body = curl(srv, "/bytes/%d" % n, proto)
            check(st == 200 and body == bytes_body(n), "%s: /bytes/%d intact" % (proto, n))
            payload = os.path.join(tmp, "post.bin")
            with open(payload, "wb") as f:
                f.write(bytes_body(200000))
            st, h, body = curl(srv, "/up/fields/300", proto)
            check(st == 200 and all(h.get("x-f%d" % i) == ["v%d" % i] for i in range(300)),
                  "%s: a proxied response with 300 fields: every one passed on" % proto)
            st, h, body = curl(srv, "/up/echo", proto, ["--data-binary", "@" + payload])
            rep = json.loads(body) if st == 200 else {}
            check(st == 200 and rep.get("method") == "POST" and rep.get("length") == 200000 and
                  rep.get("sha256") == hashlib.sha256(bytes_body(200000)).hexdigest() and
                  h.get("alt-svc") == [alt],
                  (proto, st, body[:200]))

        # a body far over what the HTTP/1.1 front holds unconsumed (256 KiB)
        big = os.path.join(tmp, "big.bin")
        with open(big, "wb") as f:
            f.write(bytes_body(3000000))
        st, h, body = curl(srv, "/up/echo", "--http1.1", ["--data-binary", "@" + big])
        rep = json.loads(body) if st == 200 else {}
        check(st == 200 and rep.get("length") == 3000000 and
              rep.get("sha256") == hashlib.sha256(bytes_body(3000000)).hexdigest(),
              "HTTP/1.1: a proxied 3 MB POST arrives intact (%s)" % st)

        # 600 pipelined requests (120 kB, more than the front keeps unparsed:
        # it stops reading and resumes), all sent before the answers are
        # read: one thread, since an SSL socket must not be read and written
        # from two at once (the kernel's socket buffers hold what the server
        # has not read yet)
        s = tls_conn(srv.port)
        reqs = b"".join(b"GET /bytes/%d HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n\r\n" %
                        (1000 + i, b"p" * 150) for i in range(600))
        s.sendall(reqs)
        ok, f = True, s.makefile("rb")
        for i in range(600):
            st, body = read_response(f)
            ok = ok and st == 200 and body == bytes_body(1000 + i)
        s.close()
        check(ok, "HTTP/1.1: 600 pipelined requests answered in order")

        for args, n in ((["-n", "2000", "-c", "10", "-m", "10"], 2000),
                        (["--h1", "-n", "1000", "-c", "10"], 1000)):
            r = subprocess.run(["h2load"] + args + [srv.url("/")], capture_output=True,
                               text=True, timeout=60)
            check(("%d succeeded, 0 failed, 0 errored" % n) in r.stdout and
                  ("status codes: %d 2xx" % n) in r.stdout,
                  "h2load %s: every request 200" % " ".join(args))

        # a session ticket from one connection resumes on new ones, whichever
        # worker takes them (the keys are shared, tickets.h)
        full0, res0 = srv.total("tls_full"), srv.total("tls_resumed")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        first = ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.port), timeout=10))
        first.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while first.recv(65536):
            pass  # TLS 1.3 tickets come after the handshake: read to the end
        sess = first.session
        first.close()
        resumed = tried = 0
        while tried < 40 and (tried < 8 or min(w["tls_resumed"] for w in srv.stats()) == 0):
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.port), timeout=10),
                                session=sess)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while s.recv(65536):
                pass
            resumed += s.session_reused
            tried += 1
            s.close()
        check(resumed == tried, "a TCP session ticket resumes every new connection (%d of %d)" %
              (resumed, tried))
        check(srv.total("tls_resumed") - res0 == tried and srv.total("tls_full") - full0 == 1,
              "counted: tls_full +%d, tls_resumed +%d" % (srv.total("tls_full") - full0,
                                                         srv.total("tls_resumed") - res0))
        check(min(w["tls_resumed"] for w in srv.stats()) >= 1,
              "resumed on every worker (%s)" % [w["tls_resumed"] for w in srv.stats()])

        # one header octet every half second: cut off by the 2 s header timeout
        before = srv.total("http_header_timeout")
        s = tls_conn(srv.port)
        t0 = time.time()
        cut = None
        for b in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40:
            try:
                s.send(bytes([b]))
            except (ssl.SSLError, OSError):
                cut = time.time() - t0
                break
            if closed_within(s, 0.5):
                cut = time.time() - t0
                break
        s.close()
        check(cut is not None and cut < 5, "a slow header section is cut off (after %s s)" % cut)
        check(srv.total("http_header_timeout") == before + 1, "and counted in http_header_timeout")
        check(srv.total("tcp_accepted") >= 20 and srv.total("tcp_conns_open") >= 0,
              "TCP connections counted (%d)" % srv.total("tcp_accepted"))

        # graceful stop: a request in flight finishes; an idle keep-alive closes
        idle = tls_conn(srv.port)
        idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        st, body = read_response(idle.makefile("rb"))
        check(st == 200 and body == index, "keep-alive connection served once")
        busy = tls_conn(srv.port)
        busy.sendall(b"GET /up/slow/1 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)
        srv.proc.send_signal(signal.SIGTERM)
        check(closed_within(idle, 2), "drain closes the idle keep-alive connection")
        busy.settimeout(10)
        st, body = read_response(busy.makefile("rb"))
        check(st == 200, "drain finishes the request in flight (%s)" % st)
        check(closed_within(busy, 3), "and then closes its connection")
    finally:
        srv.stop_and_check()

    # the cap, --alt-svc off
    srv = Server(binary, tmp, ["--workers", "1", "--no-bpf", "--max-tcp-conns", "1",
                               "--alt-svc", "off"])
    try:
        hold = tls_conn(srv.port)
        st, h, _ = curl(srv, "/", "--http2")
        check(st is None, "a second TCP connection over --max-tcp-conns 1 is refused")
        check(srv.total("tcp_refused") == 1, "and counted in tcp_refused")
        hold.close()
        time.sleep(0.3)
        st, h, _ = curl(srv, "/", "--http2")
        check(st == 200 and "alt-svc" not in h, "--alt-svc off: no alt-svc field")
    finally:
        srv.stop_and_check()

    # takeover: the successor takes new TCP connections; the predecessor
    # finishes its request in flight, closes its idle keep-alive, exits
    name = unique_name("tcptk")
    old = Server(binary, tmp, ["--workers", "2", "--no-bpf", "--drain-timeout", "20",
                               "--proxy", "/up=http://127.0.0.1:%d" % up.port], name=name)
    new = None
    try:
        idle = tls_conn(old.port)
        idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        st, _ = read_response(idle.makefile("rb"))
        busy = tls_conn(old.port)
        busy.sendall(b"GET /up/slow/2 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        new = Server(binary, tmp, ["--workers", "2", "--no-bpf", "--takeover", "--listen",
                                   "127.0.0.1:%d" % old.port], name=name, cert=old.cert)
        check(closed_within(idle, 3), "takeover: the predecessor closes its idle keep-alive")
        busy.settimeout(10)
        st, _ = read_response(busy.makefile("rb"))
        check(st == 200, "takeover: the predecessor finishes its request in flight (%s)" % st)
        accepted = new.total("tcp_accepted")
        results = [curl(new, "/", "--http2")[0] for _ in range(5)]
        check(results == [200] * 5 and new.total("tcp_accepted") - accepted == 5,
              "takeover: the successor serves new TCP connections (%s)" % results)
        try:
            rc = old.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            rc = None
        check(rc == 0, "takeover: the predecessor exits 0 by itself once drained (%s)" % rc)
    finally:
        if new:
            new.stop_and_check()
        old.stop()
        old.check_clean()

    # --idle-timeout: a keep-alive connection without a request is closed
    srv = Server(binary, tmp, ["--workers", "1", "--no-bpf", "--idle-timeout", "1"])
    try:
        s = tls_conn(srv.port)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        st, _ = read_response(s.makefile("rb"))
        t0 = time.time()
        closed = closed_within(s, 5)
        took = time.time() - t0
        check(st == 200 and closed and 0.5 < took < 4,
              "an idle keep-alive connection is closed after --idle-timeout 1 (%.1f s)" % took)
        check(srv.total("tcp_idle_closed") == 1, "and counted in tcp_idle_closed")
    finally:
        srv.stop_and_check()

    srv = Server(binary, tmp, ["--workers", "1", "--no-bpf", "--no-tcp"])
    try:
        try:
            socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()
            refused = False
        except ConnectionRefusedError:
            refused = True
        check(refused, "--no-tcp: nothing listens on the TCP port")
    finally:
        srv.stop_and_check()
    up.close()
    finish()


if __name__ == "__main__":
    main()
