"""upstream.py: a small HTTP/1.1 origin server for the proxy tests
(tests/test_server_proxy.py).  Not a test itself.

Written on raw sockets so that it can misbehave on purpose.  Paths:

  /echo...          reads the request body (Content-Length or chunked) and
                    answers JSON: method, target, headers, body length and
                    SHA-256, framing ("length", "chunked" or "none")
  /pattern/N        N octets of the /bytes/N pattern with Content-Length
  /chunked/N        the same, chunked (chunks of 7919 octets)
  /close/N          the same, close-delimited (no length, then close)
  /slow/S           answers after S seconds
  /garbage          a response that is not HTTP
  /die/N            Content-Length: N, then N/2 octets, then close
  /continue         answers 100 Continue, reads the body, then 200
  /fields/N         a response with N fields X-F0..X-F(N-1)
  /trickle/N        N octets of pattern, slowly (for aborts); records
                    whether the peer went away before the end

Every connection accepted and every request served is counted
(Upstream.conns, Upstream.requests); events are recorded for the tests.
"""
import hashlib
import json
import socket
import threading
import time

BYTES_LINE = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-\n"


def pattern(n):
    reps = n // len(BYTES_LINE) + 1
    return (BYTES_LINE * reps)[:n]


class Upstream:
    def __init__(self, family=socket.AF_INET, addr="127.0.0.1", path=None):
        if path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(path)
            self.port = None
        else:
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((addr, 0))
            self.port = self.sock.getsockname()[1]
        self.sock.listen(512)
        self.lock = threading.Lock()
        self.conns = 0
        self.requests = 0
        self.events = []
        self.last = None  # the last /echo report
        self.stop = False
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def note(self, what):
        with self.lock:
            self.events.append(what)

    def accept_loop(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns += 1
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def close(self):
        self.stop = True
        self.sock.close()

    # ---- one connection ----
    def serve(self, c):
        f = c.makefile("rb")
        try:
            while True:
                line = f.readline(65536)
                if not line:
                    return
                method, target, version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
                headers = []
                while True:
                    h = f.readline(65536)
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, v = h.decode("latin-1").rstrip("\r\n").split(":", 1)
                    headers.append((k.strip(), v.strip()))
                with self.lock:
                    self.requests += 1
                if not self.handle(c, f, method, target, headers):
                    return
        except (OSError, ValueError):
            return
        finally:
            try:
                c.close()
            except OSError:
                pass

    @staticmethod
    def hget(headers, name):
        for k, v in headers:
            if k.lower() == name:
                return v
        return None

    def read_body(self, f, headers):
        te = self.hget(headers, "transfer-encoding")
        cl = self.hget(headers, "content-length")
        h = hashlib.sha256()
        n = 0
        if te and "chunked" in te.lower():
            while True:
                size = int(f.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while f.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                left = size
                while left:
                    b = f.read(min(left, 1 << 20))
                    if not b:
                        raise OSError("short chunk")
                    h.update(b)
                    n += len(b)
                    left -= len(b)
                f.readline()
            return "chunked", n, h.hexdigest()
        if cl is not None:
            left = int(cl)
            while left:
                b = f.read(min(left, 1 << 20))
                if not b:
                    raise OSError("short body")
                h.update(b)
                n += len(b)
                left -= len(b)
            return "length", n, h.hexdigest()
        return "none", 0, h.hexdigest()

    def handle(self, c, f, method, target, headers):
        path = target.split("?", 1)[0]
        parts = path.strip("/").split("/")
        # the proxy passes the path unchanged: drop the route prefix
        while parts and parts[0] not in ("echo", "pattern", "chunked", "close", "slow",
                                         "garbage", "die", "continue", "trickle", "fields"):
            parts.pop(0)
        kind = parts[0] if parts else ""
        arg = parts[1] if len(parts) > 1 else "0"
        head_only = method == "HEAD"
        if kind in ("echo", "continue"):
            if kind == "continue":
                c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            framing, n, digest = self.read_body(f, headers)
            rep = {"method": method, "target": target, "headers": headers, "length": n,
                   "sha256": digest, "framing": framing}
            self.last = rep
            body = json.dumps(rep).encode()
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n"
                      b"X-Upstream: yes\r\n\r\n" % len(body) + (b"" if head_only else body))
            return True
        self.read_body(f, headers)
        if kind == "pattern":
            n = int(arg)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
            if not head_only:
                step = 1 << 20  # a multiple of the pattern's 64-octet period
                block = pattern(step)
                for off in range(0, n, step):
                    c.sendall(block[:min(step, n - off)])
            return True
        if kind == "fields":
            n = int(arg)
            hs = b"".join(b"X-F%d: v%d\r\n" % (i, i) for i in range(n))
            c.sendall(b"HTTP/1.1 200 OK\r\n" + hs + b"Content-Length: 2\r\n\r\nok")
            return True
        if kind == "chunked":
            n = int(arg)
            body = pattern(n)
            out = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"]
            for off in range(0, n, 7919):
                part = body[off:off + 7919]
                out.append(b"%x\r\n" % len(part) + part + b"\r\n")
            out.append(b"0\r\n\r\n")
            c.sendall(b"".join(out))
            return True
        if kind == "close":
            c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + pattern(int(arg)))
            return False
        if kind == "slow":
            time.sleep(float(arg))
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow")
            return True
        if kind == "garbage":
            c.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\x00\x01\x02 not http at all\r\n\r\n")
            time.sleep(0.2)
            return False
        if kind == "die":
            n = int(arg)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n + pattern(n // 2))
            time.sleep(0.1)
            return False
        if kind == "trickle":
            n = int(arg)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
            sent = 0
            try:
                while sent < n:
                    part = pattern(min(16384, n - sent))
                    c.sendall(part)
                    sent += len(part)
                    time.sleep(0.01)
                self.note("trickle-complete")
            except OSError:
                self.note("trickle-peer-closed")
                return False
            return True
        c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        return True
