#!/usr/bin/env python3
"""test_server_precompressed.py: precompressed siblings (docs/server.md,
"Precompressed siblings") over HTTP/1.1 and HTTP/2 (curl, TCP front) and
HTTP/3 (quicsteer-load --header, --dump).

    test_server_precompressed.py SERVER LOAD

A document root with app.js and its siblings app.js.br (Debian's brotli)
and app.js.gz (gzip), a 600 KB big.js with a stored (uncompressed) gzip
sibling larger than the file cache keeps, a directory index with a br
sibling, and a stale sibling older than its file.  Asserted: the sibling's
bytes (sha256) and length for Accept-Encoding br / gzip / q-values, br
preferred at equal weight, Content-Encoding, Content-Type of the original,
Vary on every response of a file with a sibling (identity, HEAD, 304, 206)
and on none without; ETags distinct per representation, If-None-Match 304
per representation, Range 206 on the sibling's bytes; curl --compressed
decodes what it gets back to the original; a stale sibling is ignored;
counted once in http_sibling_stale; /app.js.gz itself is application/gzip without Content-Encoding;
--no-precompressed serves the file itself.
"""
import gzip
import hashlib
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_lib import Server, check, finish, tmpdir  # noqa: E402
from test_server_static import multipart  # noqa: E402
from test_server_tcp import curl  # noqa: E402


def sha(b):
    return hashlib.sha256(b).hexdigest()


def write(path, data, mtime=None):
    with open(path, "wb") as f:
        f.write(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def h3(lbin, srv, path, headers):
    """One HTTP/3 request from quicsteer-load --dump: (status, fields, body);
    the status counts and body octets of its report must agree."""
    dump = os.path.join(srv.tmp, "h3.dump")
    cmd = [lbin, srv.url(path), "-n", "1", "--json", "--no-progress", "--timeout", "5",
           "--dump", dump]
    for h in headers:
        cmd += ["-H", h]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=60)
    try:
        j = json.loads(r.stdout)
        with open(dump, "rb") as f:
            raw = f.read()
    except (ValueError, OSError):
        return None, {}, b""
    head, _, body = raw.partition(b"\n\n")
    fields = {}
    for line in head.decode("latin-1").split("\n"):
        k, _, v = line.partition(": ")
        fields.setdefault(k, []).append(v)
    status = int(fields.get(":status", ["0"])[0])
    if j.get("status") != {str(status): 1} or j.get("body_bytes") != len(body):
        return None, fields, body
    return status, fields, body


def main():
    binary, lbin = sys.argv[1], sys.argv[2]
    tmp = tmpdir("precomp")
    www = os.path.join(tmp, "www")
    os.makedirs(os.path.join(www, "sub"))
    t0 = 1700000000
    js = b"".join(b"console.log('line %d of a script');\n" % i for i in range(400))
    write(os.path.join(www, "app.js"), js, t0)
    gz = gzip.compress(js, 9, mtime=0)
    write(os.path.join(www, "app.js.gz"), gz, t0)  # the same mtime: fresh
    subprocess.run(["brotli", "-k", "-f", "-q", "11", os.path.join(www, "app.js")], check=True)
    with open(os.path.join(www, "app.js.br"), "rb") as f:
        br = f.read()
    check(0 < len(br) < len(gz) < len(js), "the siblings are smaller (%d %d %d)" %
          (len(br), len(gz), len(js)))
    big = bytes((i * 7 + i // 251) % 256 for i in range(600000))
    write(os.path.join(www, "big.js"), big, t0)
    bgz = gzip.compress(big, 0, mtime=0)  # stored: larger than the file cache keeps
    write(os.path.join(www, "big.js.gz"), bgz, t0 + 1)
    index = b"<!DOCTYPE html><title>sub</title>\n" * 40
    write(os.path.join(www, "sub", "index.html"), index, t0)
    subprocess.run(["brotli", "-k", "-f", os.path.join(www, "sub", "index.html")], check=True)
    with open(os.path.join(www, "sub", "index.html.br"), "rb") as f:
        ibr = f.read()
    write(os.path.join(www, "old.txt"), b"the new text\n", t0)
    write(os.path.join(www, "old.txt.gz"), gzip.compress(b"the old text\n"), t0 - 60)
    write(os.path.join(www, "plain.txt"), b"no siblings\n", t0)

    srv = Server(binary, tmp, ["--workers", "1", "--no-bpf", "--root", www])
    try:
        for proto in ("--http1.1", "--http2"):
            tags = {}
            for ae, want, data in (("gzip, deflate, br", "br", br), ("gzip", "gzip", gz),
                                   ("br;q=0.5, gzip;q=0.9", "gzip", gz),
                                   ("GZIP;q=0.2, BR", "br", br), ("*", "br", br),
                                   ("br;q=0, gzip;q=0", None, js), (None, None, js)):
                st, h, body = curl(srv, "/app.js", proto,
                                   ["-H", "Accept-Encoding: " + ae] if ae else [])
                check(st == 200 and sha(body) == sha(data) and
                      h.get("content-encoding") == ([want] if want else None) and
                      h.get("content-length") == [str(len(data))] and
                      h.get("vary") == ["accept-encoding"] and
                      h.get("content-type") == ["text/javascript; charset=utf-8"],
                      "%s AE %r: %s, its bytes, Vary, the file's type (%s %s)" %
                      (proto, ae, want or "identity", st, {k: h.get(k) for k in (
                          "content-encoding", "content-length", "vary", "content-type")}))
                tags.setdefault(want, set()).update(h.get("etag", []))
            check(all(len(t) == 1 for t in tags.values()) and
                  len(set.union(*tags.values())) == 3,
                  "%s: one ETag per representation, three distinct (%s)" % (proto, tags))
            etag_br, etag_gz = list(tags["br"])[0], list(tags["gzip"])[0]
            etag_id = list(tags[None])[0]
            st, h, body = curl(srv, "/app.js", proto, ["-H", "Accept-Encoding: deflate",
                                                      "-H", "Accept-Encoding: br;q=0.5, x"])
            check(st == 200 and body == br and h.get("content-encoding") == ["br"],
                  "%s: two Accept-Encoding lines are one list (%s %s)" %
                  (proto, st, h.get("content-encoding")))
            st, h, body = curl(srv, "/app.js", proto, ["--compressed"])
            check(st == 200 and body == js and h.get("content-encoding") == ["br"],
                  "%s: curl --compressed decodes the br sibling to the file (%s)" % (proto, st))
            st, h, body = curl(srv, "/app.js", proto, ["-I", "-H", "Accept-Encoding: br"])
            check(st == 200 and h.get("content-encoding") == ["br"] and
                  h.get("content-length") == [str(len(br))] and h.get("etag") == [etag_br] and
                  h.get("vary") == ["accept-encoding"], "%s: HEAD has GET's fields (%s)" %
                  (proto, h))
            for ae, tag, want in (("br", etag_br, 304), ("gzip", etag_gz, 304),
                                  ("gzip", etag_br, 200), ("identity", etag_id, 304),
                                  ("br", etag_id, 200)):
                st, h, body = curl(srv, "/app.js", proto, ["-H", "Accept-Encoding: " + ae,
                                                          "-H", "If-None-Match: " + tag])
                check(st == want and (want == 200 or (body == b"" and
                                                      h.get("vary") == ["accept-encoding"] and
                                                      h.get("etag") == [tag])),
                      "%s: If-None-Match %s with AE %s -> %d (%s)" % (proto, tag, ae, want, st))
            st, h, body = curl(srv, "/app.js", proto, ["-H", "Accept-Encoding: br",
                                                      "-H", "Range: bytes=10-99"])
            check(st == 206 and body == br[10:100] and
                  h.get("content-range") == ["bytes 10-99/%d" % len(br)] and
                  h.get("content-encoding") == ["br"] and h.get("vary") == ["accept-encoding"],
                  "%s: Range on the br sibling -> 206 of its bytes (%s %s)" %
                  (proto, st, h.get("content-range")))
            st, h, body = curl(srv, "/app.js", proto, ["-H", "Accept-Encoding: gzip",
                                                      "-H", "Range: bytes=0-9",
                                                      "-H", "If-Range: " + etag_br])
            check(st == 200 and body == gz, "%s: If-Range with another representation's "
                  "ETag -> 200 whole (%s)" % (proto, st))
            # a sibling too large for the file cache: streamed, ranges too
            st, h, body = curl(srv, "/big.js", proto, ["-H", "Accept-Encoding: gzip"])
            check(st == 200 and sha(body) == sha(bgz) and h.get("content-encoding") == ["gzip"],
                  "%s: a 600 KB gzip sibling streamed (%s %d)" % (proto, st, len(body)))
            st, h, body = curl(srv, "/big.js", proto, ["-H", "Accept-Encoding: gzip",
                                                      "-H", "Range: bytes=-1000"])
            check(st == 206 and body == bgz[-1000:], "%s: a suffix range of it (%s)" % (proto, st))
            st, h, body = curl(srv, "/big.js", proto, ["-H", "Accept-Encoding: br"])
            check(st == 200 and body == big and h.get("vary") == ["accept-encoding"] and
                  "content-encoding" not in h, "%s: no br sibling -> identity, Vary" % proto)
            st, h, body = curl(srv, "/sub/", proto, ["-H", "Accept-Encoding: br, gzip"])
            check(st == 200 and body == ibr and h.get("content-encoding") == ["br"] and
                  h.get("content-type") == ["text/html; charset=utf-8"],
                  "%s: a directory's index.html.br (%s)" % (proto, st))
            st, h, body = curl(srv, "/old.txt", proto, ["-H", "Accept-Encoding: gzip"])
            check(st == 200 and body == b"the new text\n" and "content-encoding" not in h and
                  "vary" not in h, "%s: a stale sibling is ignored (%s)" % (proto, h))
            st, h, body = curl(srv, "/app.js.gz", proto, ["-H", "Accept-Encoding: gzip"])
            check(st == 200 and body == gz and "content-encoding" not in h and
                  h.get("content-type") == ["application/gzip"] and "vary" not in h,
                  "%s: /app.js.gz is a plain application/gzip file (%s)" % (proto, h))
            st, h, body = curl(srv, "/plain.txt", proto, ["-H", "Accept-Encoding: gzip, br"])
            check(st == 200 and "vary" not in h, "%s: no Vary without a sibling" % proto)

        # HTTP/3: the same layer, the same answers
        for hdrs, want, data, enc in (
                (["accept-encoding: gzip, br"], 200, br, "br"),
                (["accept-encoding: gzip"], 200, gz, "gzip"),
                ([], 200, js, None),
                (["accept-encoding: br", "if-none-match: " + etag_br], 304, b"", None),
                (["accept-encoding: gzip", "if-none-match: " + etag_gz], 304, b"", None),
                (["accept-encoding: gzip", "if-none-match: " + etag_br], 200, gz, "gzip"),
                (["accept-encoding: br", "range: bytes=10-99"], 206, br[10:100], "br")):
            st, h, body = h3(lbin, srv, "/app.js", hdrs)
            check(st == want and sha(body) == sha(data) and h.get("vary") == ["accept-encoding"]
                  and h.get("content-encoding") == ([enc] if enc else None) and
                  (want == 304 or h.get("content-type") == ["text/javascript; charset=utf-8"]),
                  "HTTP/3 %s -> %d, %s bytes, Vary (%s %s)" %
                  (hdrs, want, enc or "identity", st, {k: h.get(k) for k in (
                      "vary", "content-encoding", "content-type")}))
            if want == 200:
                tag = {"br": etag_br, "gzip": etag_gz, None: etag_id}[enc]
                check(h.get("etag") == [tag], "HTTP/3: the same ETag as over TCP (%s)" %
                      h.get("etag"))
        # several ranges: multipart/byteranges of the file itself; of a
        # coded sibling the whole sibling
        st, h, body = h3(lbin, srv, "/big.js", ["range: bytes=599990-,0-299999"])
        check(st == 206 and multipart({"content-type": h.get("content-type")}, body) ==
              [("bytes 599990-599999/600000", big[599990:]), ("bytes 0-299999/600000",
                                                               big[:300000])],
              "HTTP/3: two ranges of big.js -> multipart/byteranges (%s %s)" %
              (st, h.get("content-type")))
        st, h, body = h3(lbin, srv, "/app.js", ["accept-encoding: br", "range: bytes=0-1,5-9"])
        check(st == 200 and body == br and h.get("content-encoding") == ["br"],
              "HTTP/3: several ranges of the br sibling -> 200 whole (%s)" % st)
        st, h, body = h3(lbin, srv, "/big.js", ["accept-encoding: gzip"])
        check(st == 200 and sha(body) == sha(bgz) and h.get("content-encoding") == ["gzip"],
              "HTTP/3: the streamed gzip sibling (%s %d)" % (st, len(body)))
        st, h, body = h3(lbin, srv, "/old.txt", ["accept-encoding: gzip"])
        check(st == 200 and body == b"the new text\n" and "vary" not in h,
              "HTTP/3: a stale sibling is ignored (%s)" % h)
        check(srv.total("http_sibling_stale") == 1,
              "the stale old.txt.gz counted once, not per request (%d)" %
              srv.total("http_sibling_stale"))
    finally:
        srv.stop_and_check()
    srv = Server(binary, tmp, ["--workers", "1", "--no-bpf", "--root", www,
                                "--no-precompressed"])
    try:
        st, h, body = curl(srv, "/app.js", "--http2", ["-H", "Accept-Encoding: br, gzip"])
        check(st == 200 and body == js and "content-encoding" not in h and "vary" not in h,
              "--no-precompressed: the file itself, no Vary (%s)" % h)
        st, h, body = curl(srv, "/app.js.br", "--http2")
        check(st == 200 and body == br, "--no-precompressed: app.js.br by name (%s)" % st)
    finally:
        srv.stop_and_check()
    finish()


if __name__ == "__main__":
    main()
