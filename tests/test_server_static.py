#!/usr/bin/env python3
"""test_server_static.py: static-file rules over the TCP front (docs/server.md,
"Static files"), with curl over HTTP/1.1 and HTTP/2.

    test_server_static.py SERVER

A document root made here: Date on every response (200 and 404);
ETag and Last-Modified on GET and HEAD alike; If-None-Match with the ETag
-> 304 without a body, another tag -> 200; If-Modified-Since at or after
Last-Modified -> 304, before it -> 200; If-None-Match decides over
If-Modified-Since; a changed file gets a new ETag.  Range: one range -> 206
with Content-Range (a small cached file and a 600 KB streamed one),
unsatisfiable -> 416 with "bytes */SIZE", several -> 206 multipart/byteranges
(parts in the order asked), overlapping ones -> 200 with the whole body, If-Range with a stale ETag -> 200, with the current one -> 206.
--cache-control on file responses.  A directory without its slash -> 301 to the slash form, the query kept.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_lib import Server, check, finish, tmpdir  # noqa: E402
from test_server_tcp import curl  # noqa: E402

MTIME = 784111777  # Sun, 06 Nov 1994 08:49:37 GMT


def multipart(h, body):
    """The parts of a multipart/byteranges body: [(content-range, octets)],
    each part's content-type the file's; None if it is not one."""
    ct = (h.get("content-type") or [""])[0]
    prefix = "multipart/byteranges; boundary="
    if not ct.startswith(prefix):
        return None
    bnd = ct[len(prefix):].encode()
    if not body.startswith(b"--" + bnd + b"\r\n") or not body.endswith(b"\r\n--" + bnd +
                                                                      b"--\r\n"):
        return None
    out = []
    for chunk in body[len(bnd) + 4:-(len(bnd) + 8)].split(b"\r\n--" + bnd + b"\r\n"):
        head, _, data = chunk.partition(b"\r\n\r\n")
        fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        if "Content-Type" not in fields:
            return None
        out.append((fields.get("Content-Range"), data))
    return out


def main():
    binary = sys.argv[1]
    tmp = tmpdir("static")
    www = os.path.join(tmp, "www")
    os.mkdir(www)
    os.mkdir(os.path.join(www, "sub"))
    with open(os.path.join(www, "sub", "index.html"), "wb") as f:
        f.write(b"<p>sub</p>\n")
    page = os.path.join(www, "page.txt")
    with open(page, "wb") as f:
        f.write(b"a static page\n")
    os.utime(page, ns=(MTIME * 10**9 + 5, MTIME * 10**9 + 5))
    big = bytes((i * 7 + i // 251) % 256 for i in range(600000))
    with open(os.path.join(www, "big.bin"), "wb") as f:
        f.write(big)
    srv = Server(binary, tmp, ["--workers", "1", "--no-bpf", "--root", www,
                                "--cache-control", "max-age=60"])
    lm = "Sun, 06 Nov 1994 08:49:37 GMT"
    try:
        for proto in ("--http1.1", "--http2"):
            st, h, body = curl(srv, "/page.txt", proto)
            check(st == 200 and body == b"a static page\n", "%s: GET 200 (%s)" % (proto, st))
            etag = (h.get("etag") or [""])[0]
            check(etag.startswith('"') and etag.endswith('"') and len(etag) > 2,
                  "%s: a strong quoted ETag (%s)" % (proto, etag))
            check(h.get("cache-control") == ["max-age=60"], "%s: --cache-control on a file" % proto)
            check(h.get("last-modified") == [lm], "%s: Last-Modified %s" % (proto, h.get("last-modified")))
            date = (h.get("date") or [""])[0]
            check(date.endswith(" GMT") and len(date) == 29, "%s: Date (%s)" % (proto, date))
            st, hh, body = curl(srv, "/page.txt", proto, ["-I"])
            check(st == 200 and b"a static page" not in body and hh.get("etag") == [etag] and
                  hh.get("last-modified") == [lm] and hh.get("content-length") == ["14"] and
                  bool(hh.get("date")), "%s: HEAD has GET's fields (%s)" % (proto, hh))
            st, h3, body = curl(srv, "/page.txt", proto, ["-H", "If-None-Match: " + etag])
            check(st == 304 and body == b"" and h3.get("etag") == [etag] and h3.get("date"),
                  "%s: If-None-Match with the ETag -> 304 (%s)" % (proto, st))
            st, _, body = curl(srv, "/page.txt", proto, ["-H", 'If-None-Match: "x", W/' + etag])
            check(st == 304, "%s: a list with W/ETag -> 304 (%s)" % (proto, st))
            st, _, body = curl(srv, "/page.txt", proto, ["-H", 'If-None-Match: "other"'])
            check(st == 200 and body == b"a static page\n", "%s: another tag -> 200 (%s)" % (proto, st))
            st, _, body = curl(srv, "/page.txt", proto, ["-H", "If-Modified-Since: " + lm])
            check(st == 304 and body == b"", "%s: If-Modified-Since = Last-Modified -> 304 (%s)" % (proto, st))
            st, _, _ = curl(srv, "/page.txt", proto,
                            ["-H", "If-Modified-Since: Sun, 06 Nov 1994 08:49:36 GMT"])
            check(st == 200, "%s: If-Modified-Since before it -> 200 (%s)" % (proto, st))
            st, _, _ = curl(srv, "/page.txt", proto,
                            ["-H", "If-Modified-Since: " + lm, "-H", 'If-None-Match: "other"'])
            check(st == 200, "%s: If-None-Match decides over If-Modified-Since (%s)" % (proto, st))
            st, h4, _ = curl(srv, "/nope", proto)
            check(st == 404 and h4.get("date") and "etag" not in h4, "%s: 404 with Date" % proto)
            for path, data in (("/page.txt", b"a static page\n"), ("/big.bin", big)):
                size = len(data)
                st, h, body = curl(srv, path, proto, ["-H", "Range: bytes=3-9"])
                check(st == 206 and body == data[3:10] and
                      h.get("content-range") == ["bytes 3-9/%d" % size] and
                      h.get("accept-ranges") == ["bytes"],
                      "%s %s: one range -> 206 (%s %s)" % (proto, path, st, h.get("content-range")))
                st, h, body = curl(srv, path, proto, ["-H", "Range: bytes=-5"])
                check(st == 206 and body == data[-5:], "%s %s: suffix range (%s)" % (proto, path, st))
                st, h, body = curl(srv, path, proto, ["-H", "Range: bytes=%d-" % (size - 2)])
                check(st == 206 and body == data[-2:], "%s %s: open range (%s)" % (proto, path, st))
                st, h, body = curl(srv, path, proto, ["-H", "Range: bytes=%d-" % size])
                check(st == 416 and h.get("content-range") == ["bytes */%d" % size],
                      "%s %s: unsatisfiable -> 416 (%s %s)" % (proto, path, st, h.get("content-range")))
                st, h, body = curl(srv, path, proto, ["-H", "Range: bytes=4-5,0-1,-3"])
                parts = multipart(h, body)
                check(st == 206 and parts == [("bytes 4-5/%d" % size, data[4:6]),
                                              ("bytes 0-1/%d" % size, data[:2]),
                                              ("bytes %d-%d/%d" % (size - 3, size - 1, size),
                                               data[-3:])] and
                      h.get("content-length") == [str(len(body))],
                      "%s %s: several ranges -> 206 multipart/byteranges (%s %s)" %
                      (proto, path, st, parts))
                if size > 500000:  # parts larger than the 512 KiB ring: it wraps and waits
                    st, h, body = curl(srv, path, proto,
                                       ["-H", "Range: bytes=300000-,0-299999"])
                    parts = multipart(h, body)
                    check(st == 206 and parts == [("bytes 300000-%d/%d" % (size - 1, size),
                                                   data[300000:]),
                                                  ("bytes 0-299999/%d" % size, data[:300000])],
                          "%s %s: two large parts, streamed (%s)" % (proto, path, st))
                st, h, body = curl(srv, path, proto, ["-H", "Range: bytes=0-5,4-9"])
                check(st == 200 and body == data, "%s %s: overlapping ranges -> whole body (%s)" %
                      (proto, path, st))
                st, h, body = curl(srv, path, proto, ["-H", "Range: bytes=0-1", "-H",
                                                      'If-Range: "stale"'])
                check(st == 200 and body == data, "%s %s: stale If-Range -> 200 (%s)" % (proto, path, st))
                tag = h.get("etag", [""])[0]
                st, h, body = curl(srv, path, proto, ["-H", "Range: bytes=0-1", "-H",
                                                      "If-Range: " + tag])
                check(st == 206 and body == data[:2], "%s %s: current If-Range -> 206 (%s)" %
                      (proto, path, st))
            st, h, _ = curl(srv, "/sub?q=1", proto)
            check(st == 301 and h.get("location") == ["/sub/?q=1"],
                  "%s: a directory without its slash -> 301 to /sub/?q=1 (%s %s)" %
                  (proto, st, h.get("location")))
            st, h, body = curl(srv, "/sub/", proto)
            check(st == 200 and body == b"<p>sub</p>\n", "%s: /sub/ serves index.html" % proto)
        # a changed file: a new ETag (after the filecache's 1 s recheck)
        st, h, _ = curl(srv, "/page.txt", "--http2")
        old = h.get("etag")
        with open(page, "wb") as f:
            f.write(b"a changed page!\n")
        time.sleep(1.2)
        st, h, body = curl(srv, "/page.txt", "--http2", ["-H", "If-None-Match: " + old[0]])
        check(st == 200 and body == b"a changed page!\n" and h.get("etag") != old,
              "a changed file: 200 with a new ETag (%s %s)" % (st, h.get("etag")))
    finally:
        srv.stop_and_check()
    finish()


if __name__ == "__main__":
    main()
