#!/usr/bin/env python3
"""test_server_robust.py: quicsteer-server under hostile datagrams.

    test_server_robust.py SERVER

Sends malformed and unexpected datagrams straight to the server's UDP port
and checks the answers and counters:
  - an unknown version in a >=1200-octet datagram gets Version Negotiation
    (also with 30-octet CIDs, legal for unknown versions); a small one gets
    nothing (no amplification);
  - a short header for an unknown CID gets a stateless reset whose token is
    HKDF(secret, "stateless reset", CID) -- checked with the --secret-file --
    shorter than the trigger; small triggers get none; a flood is rate-limited;
  - truncated headers, oversized CIDs, undersized Initials and random noise
    are counted in drop_bad;
  - an undecryptable Initial leaves no connection behind;
  - through all of it a real client is still served, and nothing crashes.
"""
import hashlib
import hmac
import os
import random
import shutil
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_lib import (Server, check, finish, gtlsclient, need_gtlsclient,  # noqa: E402
                             tmpdir)

CIDLEN = 17  # QS_CID_LEN_DEFAULT


def hkdf_token(secret, cid):
    prk = hmac.new(b"quicsteer v1", secret, hashlib.sha256).digest()
    info = b"stateless reset\x00" + cid
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()[:16]


def long_header(version, dcid, scid, first=0xc0, total=1200):
    h = bytes([first]) + struct.pack(">I", version) + bytes([len(dcid)]) + dcid + \
        bytes([len(scid)]) + scid
    return h + os.urandom(max(0, total - len(h)))


class Probe:
    def __init__(self, port):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.addr = ("127.0.0.1", port)

    def send(self, data):
        self.s.sendto(data, self.addr)

    def recv_all(self, wait=0.3):
        out = []
        self.s.settimeout(wait)
        try:
            while True:
                out.append(self.s.recv(65536))
                self.s.settimeout(0.05)
        except socket.timeout:
            pass
        return out


def main():
    need_gtlsclient()
    binary = sys.argv[1]
    tmp = tmpdir("robust")
    secret = os.urandom(32)
    spath = os.path.join(tmp, "secret")
    with open(spath, "wb") as f:
        f.write(secret)
    srv = Server(binary, tmp, ["--workers", "2", "--no-bpf", "--secret-file", spath])
    try:
        p = Probe(srv.port)

        # version negotiation
        dcid, scid = os.urandom(8), os.urandom(5)
        p.send(long_header(0x1a2a3a4a, dcid, scid))
        got = p.recv_all()
        vn = [g for g in got if len(g) >= 7 and g[0] & 0x80 and g[1:5] == b"\0\0\0\0"]
        check(len(vn) == 1, "unknown version gets one Version Negotiation packet")
        if vn:
            g = vn[0]
            dl = g[5]
            sl = g[6 + dl]
            versions = [struct.unpack(">I", g[i:i + 4])[0] for i in range(7 + dl + sl, len(g), 4)]
            check(g[6:6 + dl] == scid and g[7 + dl:7 + dl + sl] == dcid,
                  "VN echoes the CIDs swapped")
            check(1 in versions, "VN offers QUIC v1 (%s)" % [hex(v) for v in versions])
        p.send(long_header(0x1a2a3a4a, os.urandom(30), os.urandom(30)))
        got = p.recv_all()
        check(len(got) == 1 and got[0][5] == 30, "VN also for 30-octet CIDs of an unknown "
              "version")
        p.send(long_header(0x1a2a3a4a, dcid, scid, total=200))
        check(p.recv_all() == [], "no VN for a small datagram")

        # stateless reset
        cid = bytes([0x00]) + os.urandom(CIDLEN - 1)  # config 0, not minted by us
        pkt = bytes([0x40 | random.randrange(64)]) + cid + os.urandom(100 - 1 - CIDLEN)
        p.send(pkt)
        got = p.recv_all()
        check(len(got) == 1, "short header for an unknown CID gets a stateless reset")
        if got:
            r = got[0]
            check(42 <= len(r) < 58 and len(r) < len(pkt), "reset is 42..57 octets (%d)" % len(r))
            check(r[0] & 0xc0 == 0x40, "reset looks like a short header")
            check(r[-16:] == hkdf_token(secret, cid), "reset token is HKDF(secret, CID)")
        p.send(bytes([0x40]) + cid + os.urandom(40 - 1 - CIDLEN))
        check(p.recv_all() == [], "no reset for a datagram below 58 octets")
        before = srv.total("resets_tx")
        for i in range(3000):
            p.send(bytes([0x41]) + os.urandom(CIDLEN) + os.urandom(80))
        time.sleep(0.5)
        p.recv_all(0.1)
        sent = srv.total("resets_tx") - before
        check(0 < sent < 1500, "reset flood is rate-limited (%d resets for 3000)" % sent)

        # malformed
        bad0 = srv.total("drop_bad")
        p.send(b"\xc0\x00\x00")  # truncated long header
        p.send(long_header(1, os.urandom(21), b"", total=1200))  # v1 CID over 20
        p.send(long_header(1, os.urandom(8), os.urandom(8), total=300))  # small Initial
        p.send(b"\x40" + os.urandom(5))  # short header below 21 octets
        time.sleep(0.3)
        check(srv.total("drop_bad") - bad0 >= 4, "malformed datagrams are counted in drop_bad "
              "(%d)" % (srv.total("drop_bad") - bad0))

        # undecryptable Initial: accepted by the header check, then dropped
        for i in range(20):
            p.send(long_header(1, os.urandom(8), os.urandom(8), first=0xc3))
        time.sleep(0.5)
        check(srv.total("conns_open") == 0, "garbage Initials leave no connection open (%d)" %
              srv.total("conns_open"))

        # noise
        rnd = random.Random(1234)
        for i in range(2000):
            n = rnd.randrange(1, 1500)
            p.send(bytes(rnd.getrandbits(8) for _ in range(n)))
        time.sleep(0.5)
        check(srv.proc.poll() is None, "server survives 2000 random datagrams")

        dl = os.path.join(tmp, "dl")
        os.makedirs(dl)
        r = gtlsclient("127.0.0.1", srv.port, [srv.url("/bytes/100000")], download=dl)
        check(r.returncode == 0 and os.path.getsize(os.path.join(dl, "100000")) == 100000,
              "a real client is still served")
        st = srv.stats()
        print("stats:", {k: sum(w[k] for w in st) for k in ("drop_bad", "vneg_tx", "resets_tx",
                                                             "conns_accepted", "conns_open")})
        check(sum(w["vneg_tx"] for w in st) >= 2, "vneg_tx counted")
    finally:
        srv.stop_and_check()
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
