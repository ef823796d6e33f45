#!/usr/bin/env python3
"""test_server_proxy.py: quicsteer-server as a reverse proxy (docs/proxy.md).

    test_server_proxy.py SERVER CASE [QUICSTEER-LOAD]

CASE is one of:
  basic   against tests/upstream.py (IPv4, IPv6 and a unix socket): the
          request mapping the upstream sees (Host, X-Forwarded-For,
          X-Forwarded-Proto, Forwarded extended, hop-by-hop removed), GET,
          HEAD, POST and PUT with bodies of 0 B, 1 B, 64 KiB and 10 MiB
          (SHA-256 compared at the upstream), 100 Continue, chunked and
          close-delimited responses, longest prefix, unmatched paths from
          --root, round-robin with a dead upstream skipped and counted;
          failures: refused (502), slow (504), garbage (502), dying
          mid-body (stream reset, never a short 200), each counted
  nginx   against Debian's nginx on loopback: GET and HEAD of files,
          PUT of 0 B, 1 B, 64 KiB and 10 MiB (SHA-256 of the stored files),
          and 10,000 requests with quicsteer-load after which nginx has
          accepted at most workers x pool-size connections
  big     a 100 MB response streamed with the server's peak RSS bounded;
          a client that goes away mid-download: the upstream connection
          is closed, counted
"""
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_lib import (GTLSCLIENT, Server, check, finish,  # noqa: E402
                             need_gtlsclient, response_headers, tmpdir)
from upstream import Upstream, pattern  # noqa: E402


def fetch(srv, path, method=None, data=None, dl=None, timeout=60, quiet=False):
    """One request with gtlsclient: (status, headers, body or None, output).
    gtlsclient cannot send an empty file (it maps it): a 0-octet body is a
    request without DATA, which the proxy sends as Content-Length: 0.
    |quiet| for big bodies (gtlsclient would hex-dump them): no status,
    only the body."""
    if data and os.path.getsize(data) == 0:
        data = None
    cmd = [GTLSCLIENT, "-q" if quiet else "--no-quic-dump", "--exit-on-all-streams-close",
           "--timeout=10s"]
    if method:
        cmd += ["-m", method]
    if data:
        cmd += ["-d", data]
    if dl:
        cmd += ["--download", dl]
    cmd += ["127.0.0.1", str(srv.port), srv.url(path)]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    out = r.stdout.decode("latin-1")
    h = response_headers(out)
    body = None
    if dl:
        p = os.path.join(dl, path.rsplit("/", 1)[1] or "index.html")
        if os.path.exists(p):
            with open(p, "rb") as f:
                body = f.read()
            os.unlink(p)
    return h.get(":status"), h, body, out


def sha(b):
    return hashlib.sha256(b).hexdigest()


def make_bodies(tmp):
    out = {}
    for name, n in (("0B", 0), ("1B", 1), ("64KiB", 65536), ("10MiB", 10 << 20)):
        p = os.path.join(tmp, "body-" + name)
        data = os.urandom(n)
        with open(p, "wb") as f:
            f.write(data)
        out[name] = (p, sha(data), n)
    return out


def hv(headers, name):
    """All values of |name| in the upstream's report, in order."""
    return [v for k, v in headers if k.lower() == name]


# ---------------------------------------------------------------- basic

def case_basic(binary, tmp):
    up4 = Upstream()
    up6 = Upstream(socket.AF_INET6, "::1")
    sock = os.path.join(tmp, "up.sock")
    upu = Upstream(path=sock)
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()  # nobody listens there
    root = os.path.join(tmp, "root")
    os.makedirs(root)
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("static index\n")
    bodies = make_bodies(tmp)
    dl = os.path.join(tmp, "dl")
    os.makedirs(dl)
    srv = Server(binary, tmp, [
        "--workers", "2", "--no-bpf", "--root", root,
        "--proxy", "/up/=http://127.0.0.1:%d" % up4.port,
        "--proxy", "/up/v6/=http://[::1]:%d" % up6.port,
        "--proxy", "/unix/=unix:%s" % sock,
        "--proxy", "/rr/=http://127.0.0.1:%d,http://127.0.0.1:%d" % (dead_port, up4.port),
        "--proxy", "/down/=http://127.0.0.1:%d" % dead_port,
        "--proxy-first-byte-timeout", "1"])
    try:
        # ---- mapping
        st, h, body, _ = fetch(srv, "/up/echo/map?q=1&r=%20", dl=dl)
        check(st == "200", "GET through the proxy is 200")
        rep = json.loads(body) if body else {"headers": []}
        hs = rep["headers"]
        check(rep.get("target") == "/up/echo/map?q=1&r=%20", "path and query reach the upstream "
              "unchanged (%s)" % rep.get("target"))
        check(hv(hs, "host") == ["127.0.0.1:%d" % srv.port], "Host is the :authority (%s)" %
              hv(hs, "host"))
        check(hv(hs, "x-forwarded-for") == ["127.0.0.1"], "X-Forwarded-For: the client")
        check(hv(hs, "x-forwarded-proto") == ["https"], "X-Forwarded-Proto: https")
        check(hv(hs, "forwarded") == ['for=127.0.0.1;proto=https;host="127.0.0.1:%d"' % srv.port],
              "Forwarded added (%s)" % hv(hs, "forwarded"))
        check(not hv(hs, "connection") and not hv(hs, "transfer-encoding"),
              "no hop-by-hop fields upstream")
        check(rep.get("framing") == "none", "a GET without body has no framing fields")
        check(h.get("x-upstream") == "yes", "the upstream's fields reach the client")
        check("connection" not in h and "keep-alive" not in h,
              "hop-by-hop fields of the response are stripped")
        check(h.get("content-length") == str(len(body or b"")), "content-length passed on")

        st, h, body, _ = fetch(srv, "/up/v6/echo/six", dl=dl)
        check(st == "200" and body and json.loads(body)["target"] == "/up/v6/echo/six",
              "IPv6 upstream, the longer prefix wins")
        check(up6.requests == 1, "the IPv6 upstream got it")
        st, h, body, _ = fetch(srv, "/unix/echo/u", dl=dl)
        check(st == "200" and upu.requests == 1, "unix:/PATH upstream")
        st, h, body, _ = fetch(srv, "/index.html", dl=dl)
        check(st == "200" and body == b"static index\n", "unmatched paths come from --root")

        # ---- methods and bodies
        for method in ("POST", "PUT"):
            for name, (p, digest, n) in bodies.items():
                st, h, body, _ = fetch(srv, "/up/echo/%s-%s" % (method, name), method=method,
                                       data=p, dl=dl, timeout=120)
                rep = json.loads(body) if body else {}
                check(st == "200" and rep.get("method") == method and rep.get("length") == n and
                      rep.get("sha256") == digest,
                      "%s %s: the upstream got the body intact (%s, %s)" %
                      (method, name, rep.get("length"), rep.get("framing")))
        st, h, body, out = fetch(srv, "/up/echo/head", method="HEAD", dl=dl)
        check(st == "200" and h.get("content-length") and not body,
              "HEAD: the upstream's fields, no body")
        check(up4.last and up4.last["method"] == "HEAD", "HEAD reached the upstream as HEAD")
        st, h, body, out = fetch(srv, "/up/continue/c", method="POST", data=bodies["64KiB"][0],
                                 dl=dl)
        check(st == "200" and body and json.loads(body)["sha256"] == bodies["64KiB"][1],
              "100 Continue from the upstream, then the body and the final answer")
        check("[:status: 100]" in out, "the interim 100 reaches the client")

        st, h, body, _ = fetch(srv, "/up/fields/300", dl=dl)
        check(st == "200" and all(h.get("x-f%d" % i) == "v%d" % i for i in range(300)),
              "a response with 300 fields: every one passed on")

        # ---- framings of the response
        for kind in ("chunked", "close", "pattern"):
            st, h, body, _ = fetch(srv, "/up/%s/300001" % kind, dl=dl, quiet=True)
            check(body == pattern(300001), "%s response streamed intact" % kind)

        # ---- round robin with a dead member, passive health
        for i in range(6):
            st, h, body, _ = fetch(srv, "/rr/echo/rr%d" % i, dl=dl)
            check(st == "200", "round robin %d answered despite the dead member" % i)
        check(srv.total("proxy_marked_down") >= 1, "the dead upstream was put out of rotation")
        refused = srv.total("proxy_refused")
        check(refused <= 2, "while down it is skipped (refused %d times, <= 1 per worker)" % refused)

        # ---- failures are answers
        st, h, body, _ = fetch(srv, "/down/x", dl=dl)
        check(st == "502", "upstream refused: 502 (got %s)" % st)
        t0 = time.time()
        st, h, body, _ = fetch(srv, "/up/slow/3", dl=dl)
        check(st == "504" and time.time() - t0 < 3, "first-byte timeout: 504 (got %s)" % st)
        check(srv.total("proxy_first_byte_timeout") == 1, "first-byte timeout counted")
        st, h, body, _ = fetch(srv, "/up/garbage", dl=dl)
        check(st == "502", "garbage from the upstream: 502 (got %s)" % st)
        check(srv.total("proxy_bad_response") >= 1, "bad response counted")
        st, h, body, out = fetch(srv, "/up/die/100000", dl=dl)
        check(body is None or len(body) < 100000, "an upstream dying mid-body: no full body")
        check(st == "200" and "closed with error code" in out,
              "the client saw its stream reset, not a clean end")
        check(srv.total("proxy_upstream_died") == 1, "mid-body death counted")
        # the server still serves everything afterwards
        st, h, body, _ = fetch(srv, "/up/echo/after", dl=dl)
        check(st == "200", "still serving after the failures")
        check(srv.total("proxy_requests") >= 20, "proxied requests counted")
        check(srv.proc.poll() is None, "server still running")
    finally:
        srv.stop_and_check()
        for u in (up4, up6, upu):
            u.close()


# ---------------------------------------------------------------- nginx

NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  server {{
    listen 127.0.0.1:{port};
    root {tmp}/www;
    client_max_body_size 200m;
    location /ng/dav/ {{ dav_methods PUT; create_full_put_path on; }}
    location = /nginx_status {{ stub_status; }}
  }}
}}
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_nginx(tmp):
    port = free_port()
    www = os.path.join(tmp, "www", "ng")
    os.makedirs(os.path.join(www, "dav"))
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(tmp=tmp, port=port))
    proc = subprocess.Popen(["/usr/sbin/nginx", "-p", tmp, "-c", conf, "-e",
                             os.path.join(tmp, "nginx-error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc, port, www
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("nginx did not start: " + open(os.path.join(tmp, "nginx-error.log")).read())


def nginx_accepts(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /nginx_status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    s.close()
    m = re.search(rb"\n\s*(\d+)\s+(\d+)\s+(\d+)", data)
    return int(m.group(1))  # accepted connections, this one included


def case_nginx(binary, tmp, load):
    proc, port, www = start_nginx(tmp)
    bodies = make_bodies(tmp)
    files = {"1k.bin": os.urandom(1024), "64k.bin": os.urandom(65536),
             "10m.bin": os.urandom(10 << 20)}
    for n, b in files.items():
        with open(os.path.join(www, n), "wb") as f:
            f.write(b)
    dl = os.path.join(tmp, "dl")
    os.makedirs(dl)
    workers, pool = 2, 4
    srv = Server(binary, tmp, ["--workers", str(workers), "--no-bpf",
                               "--proxy", "/ng/=http://127.0.0.1:%d" % port,
                               "--proxy-pool-idle", str(pool), "--proxy-pool-max", str(pool)])
    try:
        for n, b in files.items():
            st, h, body, _ = fetch(srv, "/ng/" + n, dl=dl, quiet=len(b) > 65536)
            check(body == b, "nginx: GET %s intact" % n)
            st, h, body, _ = fetch(srv, "/ng/" + n, method="HEAD", dl=dl)
            check(st == "200" and h.get("content-length") == str(len(b)) and not body,
                  "nginx: HEAD %s" % n)
        st, h, body, _ = fetch(srv, "/ng/missing", dl=dl)
        check(st == "404", "nginx's 404 passed on")
        for name, (p, digest, n) in bodies.items():
            st, h, body, _ = fetch(srv, "/ng/dav/put-%s" % name, method="PUT", data=p, dl=dl,
                                   timeout=120)
            stored = os.path.join(www, "dav", "put-" + name)
            ok = os.path.exists(stored) and sha(open(stored, "rb").read()) == digest
            check(st in ("201", "204") and ok, "nginx: PUT %s stored intact (status %s)" %
                  (name, st))
        st, h, body, _ = fetch(srv, "/ng/1k.bin", method="POST", data=bodies["1B"][0], dl=dl)
        check(st == "405", "nginx: POST to a static file is nginx's 405 (got %s)" % st)

        before = nginx_accepts(port)
        r = subprocess.run([load, srv.url("/ng/1k.bin"), "-c", "8", "-n", "1250", "--json",
                            "--no-progress", "--timeout", "30"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        check(r.returncode == 0, "quicsteer-load: 10,000 requests succeeded (rc %d, %s)" %
              (r.returncode, r.stderr.decode()[-300:]))
        after = nginx_accepts(port)
        new = after - before - 1  # minus our status query
        check(new <= workers * pool, "nginx accepted %d new connections for 10,000 requests "
              "(at most workers x pool = %d)" % (new, workers * pool))
        reused = srv.total("proxy_conns_reused")
        check(reused >= 10000 - workers * pool, "proxy_conns_reused %d" % reused)
    finally:
        srv.stop_and_check()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


# ---------------------------------------------------------------- big

def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def case_big(binary, tmp):
    up = Upstream()
    dl = os.path.join(tmp, "dl")
    os.makedirs(dl)
    srv = Server(binary, tmp, ["--workers", "1", "--no-bpf", "--idle-timeout", "1",
                               "--proxy", "/up/=http://127.0.0.1:%d" % up.port])
    try:
        fetch(srv, "/up/pattern/1000", dl=dl)  # warm up
        base = vm_hwm_kb(srv.proc.pid)
        n = 100 * 1000 * 1000
        st, h, body, _ = fetch(srv, "/up/pattern/%d" % n, dl=dl, timeout=300, quiet=True)
        check(body is not None and len(body) == n and body == pattern(n),
              "100 MB through the proxy, intact")
        body = None
        grown = vm_hwm_kb(srv.proc.pid) - base
        check(grown < 64 * 1024, "server peak RSS grew by %d KiB for a 100 MB body (< 64 MiB)"
              % grown)

        # a client that goes away mid-download
        cmd = [GTLSCLIENT, "-q", "--exit-on-all-streams-close", "--timeout=30s", "--download", dl,
               "127.0.0.1", str(srv.port), srv.url("/up/trickle/50000000")]
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        p.kill()
        p.wait()
        deadline = time.time() + 10
        while time.time() < deadline and "trickle-peer-closed" not in up.events:
            time.sleep(0.1)
        check("trickle-peer-closed" in up.events, "the client gone, the upstream connection "
              "was closed (events %s)" % up.events)
        check(srv.total("proxy_client_abort") == 1, "client abort counted")
        st, h, body, _ = fetch(srv, "/up/echo/after", dl=dl)
        check(st == "200", "still serving")
    finally:
        srv.stop_and_check()
        up.close()


def main():
    need_gtlsclient()
    binary, case = sys.argv[1], sys.argv[2]
    tmp = tmpdir("proxy-" + case)
    try:
        if case == "basic":
            case_basic(binary, tmp)
        elif case == "nginx":
            case_nginx(binary, tmp, sys.argv[3])
        elif case == "big":
            case_big(binary, tmp)
        else:
            print("unknown case", case, file=sys.stderr)
            sys.exit(2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
