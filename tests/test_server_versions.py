#!/usr/bin/env python3
"""test_server_versions.py: packet protection keys (src/server/quic/pkey.c)
with a real peer, for every QUIC version, cipher suite and key phase the
server supports.

    test_server_versions.py SERVER

gtlsclient downloads /bytes/N (checked byte for byte) over QUIC v1 and the
v2 draft (0x709a50c4), once with each TLS 1.3 cipher suite the server
offers (AES-128-GCM, AES-256-GCM with SHA-384 secrets, ChaCha20-Poly1305,
AES-128-CCM), each time initiating a key update, which the client must see
confirmed (the server decrypted the new key phase and answered in it).
Then the same through Retry (--retry always): the Initial keys come from
the DCID the Retry chose.
"""
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_lib import (Server, bytes_body, check, finish, gtlsclient,  # noqa: E402
                             need_gtlsclient, tmpdir)

N = 300 * 1024 + 5  # long enough to outlast the key update
BASE = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:"
SUITES = ("AES-128-GCM", "AES-256-GCM", "CHACHA20-POLY1305", "AES-128-CCM")
VERSIONS = (("v1", 0x00000001), ("v2draft", 0x709a50c4))


def fetch(srv, tmp, tag, version, suite):
    d = os.path.join(tmp, tag)
    os.makedirs(d)
    r = gtlsclient("127.0.0.1", srv.port, [srv.url("/bytes/%d" % N)], download=d, quiet=False,
                   extra=["-v", version, "--ciphers=" + BASE + "+" + suite,
                          "--key-update=1ms"])
    out = r.stdout
    p = os.path.join(d, str(N))
    body_ok = os.path.exists(p) and open(p, "rb").read() == bytes_body(N)
    m = re.search(r"the negotiated version is (0x[0-9a-f]+)", out)
    neg = int(m.group(1), 16) if m else None
    shutil.rmtree(d, ignore_errors=True)
    return (r.returncode, body_ok, neg, "key update confirmed" in out,
            "Negotiated cipher suite is %s\n" % suite in out)


def main():
    need_gtlsclient()
    binary = sys.argv[1]
    tmp = tmpdir("ver")
    for retry in (False, True):
        args = ["--workers", "1", "--no-bpf"] + (["--retry", "always"] if retry else [])
        srv = Server(binary, tmp, args)
        how = " through Retry" if retry else ""
        try:
            for vname, vnum in VERSIONS:
                # every suite over v1; v2's labels with both key lengths
                suites = SUITES[:1] if retry else SUITES if vnum == 1 else SUITES[:2]
                for suite in suites:
                    tag = "%s-%s-%d" % (vname, suite, retry)
                    rc, body_ok, neg, ku, cs = fetch(srv, tmp, tag, vname, suite)
                    what = "%s, %s%s" % (vname, suite, how)
                    check(rc == 0 and body_ok, "%s: /bytes/%d downloaded byte-identical" %
                          (what, N))
                    check(neg == vnum, "%s: version 0x%08x negotiated (%s)" %
                          (what, vnum, "none" if neg is None else "0x%08x" % neg))
                    check(cs, "%s: the suite negotiated" % what)
                    check(ku, "%s: the client's key update is confirmed" % what)
            if retry:
                n = srv.total("retry_tx")
                check(n >= len(VERSIONS), "a Retry per connection (%d)" % n)
        finally:
            srv.stop_and_check()
    shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
