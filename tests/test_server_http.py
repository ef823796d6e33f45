#!/usr/bin/env python3
"""test_server_http.py: quicsteer-server's HTTP/3 answers.

    test_server_http.py SERVER LOAD

Status codes and headers as gtlsclient prints them: 200 with content-type
and content-length, HEAD without a body, 404, 405 with allow, 400 for ".."
segments (plain and percent-encoded) and bad percent-encoding, 403 for a
symbolic link leading out of the root (one staying inside is served),
/bytes/N limits; the defaults of issue 9 (no /bytes/N, no dotfiles, only
regular files) and the header-section bound over the wire (quicsteer-load
--header: 431 past --max-header-size, counted); conditional (304) and range
(206, 416) requests over HTTP/3.
"""
import json
import os
import shutil
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_lib import (Server, check, finish, gtlsclient, need_gtlsclient,  # noqa: E402
                             response_headers, tmpdir)


def get(srv, path, method=None):
    extra = ["-m", method] if method else []
    r = gtlsclient("127.0.0.1", srv.port, [srv.url(path)], extra=extra, quiet=False)
    return r.returncode, response_headers(r.stdout), r.stdout


def load_status(lbin, srv, header, path="/"):
    """One request from quicsteer-load carrying |header|: its status counts."""
    r = subprocess.run([lbin, srv.url(path), "-H", header, "-n", "1", "--json",
                        "--no-progress", "--timeout", "5"], stdout=subprocess.PIPE, text=True,
                       timeout=60)
    try:
        return json.loads(r.stdout).get("status", {})
    except ValueError:
        return {}


def main():
    need_gtlsclient()
    binary, lbin = sys.argv[1], sys.argv[2]
    tmp = tmpdir("http")
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "dir"))
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<!DOCTYPE html><title>index</title>\n")
    with open(os.path.join(root, "style.css"), "w") as f:
        f.write("body{}\n")
    with open(os.path.join(root, "notes.md"), "w") as f:  # only /etc/mime.types names .md
        f.write("# notes\n")
    with open(os.path.join(root, "dir", "index.html"), "w") as f:
        f.write("dir index\n")
    secret = os.path.join(tmp, "secret.txt")
    with open(secret, "w") as f:
        f.write("outside the root\n")
    os.symlink(secret, os.path.join(root, "escape.txt"))
    os.symlink(tmp, os.path.join(root, "up"))
    os.symlink("index.html", os.path.join(root, "inner.html"))

    srv = Server(binary, tmp, ["--workers", "2", "--no-bpf", "--root", root])
    try:
        rc, h, _ = get(srv, "/")
        check(rc == 0 and h.get(":status") == "200", "GET / is 200")
        check(h.get("content-type", "").startswith("text/html"), "index.html is text/html")
        check(h.get("content-length") == str(os.path.getsize(os.path.join(root, "index.html"))),
              "content-length is the file size")
        check(h.get("server", "").startswith("quicsteer/"), "server header")

        rc, h, _ = get(srv, "/style.css")
        check(h.get(":status") == "200" and h.get("content-type", "").startswith("text/css"),
              "style.css is 200 text/css")
        # conditional and range requests over HTTP/3 (the static-file rules
        # live in the HTTP layer; test_server_static drives them over TCP)
        etag, lm = h.get("etag"), h.get("last-modified")
        check(bool(etag) and bool(lm) and bool(h.get("date")), "ETag, Last-Modified and Date")
        st = load_status(lbin, srv, "if-none-match: %s" % etag, "/style.css")
        check(st == {"304": 1}, "If-None-Match with the ETag is 304 over HTTP/3 (%s)" % st)
        st = load_status(lbin, srv, "if-modified-since: %s" % lm, "/style.css")
        check(st == {"304": 1}, "If-Modified-Since is 304 over HTTP/3 (%s)" % st)
        st = load_status(lbin, srv, 'if-none-match: "other"', "/style.css")
        check(st == {"200": 1}, "another ETag is 200 (%s)" % st)
        st = load_status(lbin, srv, "range: bytes=0-3", "/style.css")
        check(st == {"206": 1}, "one range is 206 over HTTP/3 (%s)" % st)
        st = load_status(lbin, srv, "range: bytes=100-", "/style.css")
        check(st == {"416": 1}, "an unsatisfiable range is 416 (%s)" % st)
        rc, h, _ = get(srv, "/notes.md")
        check(h.get("content-type") == "text/markdown; charset=utf-8",
              "notes.md typed from /etc/mime.types (media-types): %s" % h.get("content-type"))

        rc, h, out = get(srv, "/style.css", "HEAD")
        check(h.get(":status") == "200" and h.get("content-length") == "7", "HEAD is 200 with "
              "the length")
        check("stream 0x0 body" not in out, "HEAD has no body")

        rc, h, _ = get(srv, "/missing.html")
        check(h.get(":status") == "404", "missing file is 404")

        rc, h, _ = get(srv, "/", "POST")
        check(h.get(":status") == "405", "POST is 405")
        check(h.get("allow") == "GET, HEAD", "405 carries allow: GET, HEAD")
        rc, h, _ = get(srv, "/", "DELETE")
        check(h.get(":status") == "405", "DELETE is 405")

        for p in ("/../secret.txt", "/dir/../../secret.txt", "/%2e%2e/secret.txt",
                  "/dir/%2E%2E/%2e%2e/secret.txt"):
            rc, h, _ = get(srv, p)
            check(h.get(":status") == "400", "%s is refused with 400" % p)
        rc, h, _ = get(srv, "/a%zz")
        check(h.get(":status") == "400", "bad percent-encoding is 400")
        rc, h, _ = get(srv, "/a%00b")
        check(h.get(":status") == "400", "encoded NUL is 400")

        rc, h, _ = get(srv, "/escape.txt")
        check(h.get(":status") == "403", "symlink to a file outside the root is 403")
        rc, h, _ = get(srv, "/up/secret.txt")
        check(h.get(":status") == "403", "path through a symlinked directory outside is 403")
        rc, h, _ = get(srv, "/inner.html")
        check(h.get(":status") == "200", "symlink inside the root is served")
        rc, h, _ = get(srv, "/dir/")
        check(h.get(":status") == "200" and h.get("content-length") == "10",
              "directory serves its index.html")
        rc, h, _ = get(srv, "/dir")
        check(h.get(":status") == "301" and h.get("location") == "/dir/",
              "directory without slash: 301 to /dir/ (%s)" % h)

        rc, h, _ = get(srv, "/bytes/12345")
        check(h.get(":status") == "200" and h.get("content-length") == "12345" and
              h.get("content-type") == "application/octet-stream", "/bytes/12345 headers")
        rc, h, _ = get(srv, "/bytes/12345", "HEAD")
        check(h.get(":status") == "200" and h.get("content-length") == "12345",
              "HEAD /bytes/12345")
        rc, h, _ = get(srv, "/bytes/99999999999999")
        check(h.get(":status") == "400", "/bytes/N above the cap is 400")
        rc, h, _ = get(srv, "/bytes/12x")
        check(h.get(":status") == "400", "/bytes/N with a non-number is 400")
        rc, h, _ = get(srv, "/" + "a" * 1100)
        check(h.get(":status") == "414", "a path over 1024 octets is 414")
        check(srv.proc.poll() is None, "server still running")
    finally:
        srv.stop_and_check()

    # the defaults of issue 9: no /bytes/N, no dotfiles, only regular files
    os.makedirs(os.path.join(root, ".git"))
    with open(os.path.join(root, ".git", "config"), "w") as f:
        f.write("[core]\n")
    with open(os.path.join(root, ".env"), "w") as f:
        f.write("SECRET=1\n")
    os.mkfifo(os.path.join(root, "fifo"))
    os.mknod(os.path.join(root, "zero"), stat.S_IFCHR | 0o644, os.makedev(1, 5))  # /dev/zero
    srv = Server(binary, tmp, ["--workers", "1", "--no-bpf", "--root", root],
                 bytes_endpoint=False)
    try:
        rc, h, _ = get(srv, "/bytes/100")
        check(h.get(":status") == "404", "/bytes/N is 404 without --bytes-endpoint")
        for p in ("/.env", "/.git/config", "/%2eenv"):
            rc, h, _ = get(srv, p)
            check(h.get(":status") == "403", "dotfile %s is 403" % p)
        rc, h, _ = get(srv, "/fifo")
        check(h.get(":status") == "403", "a FIFO under the root is 403, the worker not blocked")
        rc, h, _ = get(srv, "/zero")
        check(h.get(":status") == "403", "a device node under the root is 403")
        rc, h, _ = get(srv, "/")
        check(h.get(":status") == "200", "the worker still answers after the FIFO")
        check(srv.total("http_refused_dotfile") == 3, "3 dotfile refusals counted (got %d)" %
              srv.total("http_refused_dotfile"))
        check(srv.total("http_refused_special") == 2, "FIFO and device refusals counted")
        # the request header section bound (default 16384, announced in
        # SETTINGS_MAX_FIELD_SECTION_SIZE): enforced on what arrives
        st = load_status(lbin, srv, "x-pad: " + "a" * 1000)
        check(st == {"200": 1}, "a 1 KB header field is served (%s)" % st)
        st = load_status(lbin, srv, "x-pad: " + "a" * 20000)
        check(st == {"431": 1}, "a 20 KB header section is 431 (%s)" % st)
        check(srv.total("http_header_too_large") == 1, "the oversize section is counted (%d)" %
              srv.total("http_header_too_large"))
    finally:
        srv.stop_and_check()
    srv = Server(binary, tmp, ["--workers", "1", "--no-bpf", "--root", root,
                               "--serve-dotfiles"], bytes_endpoint=False)
    try:
        rc, h, _ = get(srv, "/.env")
        check(h.get(":status") == "200", "--serve-dotfiles serves /.env")
    finally:
        srv.stop_and_check()
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
