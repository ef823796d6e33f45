#!/usr/bin/env python3
"""test_server_aim.py: a client cannot aim Initials at one worker (issue 9.3).

    test_server_aim.py SERVER --bpf QUICSTEER | --no-bpf

A real client (gtlsclient) completes a connection to a 2-worker server that
writes qlog files; the server's qlog gives the connection IDs it issued: its
first SCID (a handshake CID, fresh for ~17 s) and the CIDs of its
NEW_CONNECTION_ID frames (ordinary CIDs).  Then Initials (1200 octets, v1,
a fresh SCID each) carrying those CIDs as DCID arrive from 200 source ports
each:

  --bpf     Initials reusing an ordinary CID are counted initial_reused_cid
            in the kernel (spread by the DCID hash), none cid_routed; the
            handshake CID's are cid_routed: the kernel tells the two apart.
  --no-bpf  the kernel spreads by 4-tuple, so both workers get some; for
            reused CIDs the receiving worker treats each as a new connection
            (fwd_out does not move: nothing is aimed at the owner); for the
            handshake CID the worker that is not the owner relays to it.

Either way the server stays healthy and a client is served afterwards.
"""
import glob
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_lib import (Server, check, finish, gtlsclient, in_netns,  # noqa: E402
                             need_gtlsclient, tmpdir)

PORTS = 200


def initial(dcid):
    """A QUIC v1 Initial long header that ngtcp2_accept takes (its payload
    does not decrypt), padded to 1200 octets."""
    scid = os.urandom(8)
    hdr = bytes([0xc3]) + struct.pack(">I", 1) + bytes([len(dcid)]) + dcid + \
        bytes([len(scid)]) + scid + b"\x00"  # no token
    rest = 1200 - len(hdr) - 2
    return hdr + struct.pack(">H", 0x4000 | rest) + os.urandom(rest)


def send_from_ports(port, dcid):
    for _ in range(PORTS):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.sendto(initial(dcid), ("127.0.0.1", port))
        s.close()


def issued_cids(qdir):
    """(first SCID, [NEW_CONNECTION_ID CIDs]) the server issued, from qlog."""
    files = glob.glob(os.path.join(qdir, "*.sqlog"))
    check(len(files) == 1, "one qlog file for the one connection (%d)" % len(files))
    if not files:
        return None, []
    first = os.path.basename(files[0])[:-len(".sqlog")]
    cids = []
    with open(files[0]) as f:
        for line in f:
            line = line.strip().lstrip("\x1e")
            if '"transport:packet_sent"' not in line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            for fr in rec.get("data", {}).get("frames", []):
                if fr.get("frame_type") == "new_connection_id":
                    cids.append(fr["connection_id"])
    return first, cids


def settle(srv, field, want, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline and srv.total(field) < want:
        time.sleep(0.05)


def kernel(cli, srv):
    r = subprocess.run([cli, "stat", "--name", srv.name, "--json"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    check(r.returncode == 0, "quicsteer stat --json exits 0")
    return json.loads(r.stdout).get("kernel", {}) if r.returncode == 0 else {}


def main():
    in_netns()
    need_gtlsclient()
    binary, mode = sys.argv[1], sys.argv[2]
    cli = sys.argv[3] if mode == "--bpf" else None
    tmp = tmpdir("aim")
    qdir = os.path.join(tmp, "qlog")
    os.makedirs(qdir)
    args = ["--workers", "2", "--qlog-dir", qdir] + (["--no-bpf"] if mode == "--no-bpf" else [])
    srv = Server(binary, tmp, args)
    try:
        check(srv.kernel_steering == (mode == "--bpf"),
              "steering in the %s" % ("kernel" if mode == "--bpf" else "user space"))
        r = gtlsclient("127.0.0.1", srv.port, [srv.url("/")], download=tmp)
        check(r.returncode == 0, "a real client completes a connection")
        # the qlog is complete once the connection is gone (draining ends)
        deadline = time.time() + 15
        while time.time() < deadline and srv.total("conns_open") > 0:
            time.sleep(0.1)
        first, cids = issued_cids(qdir)
        check(first is not None and len(cids) >= 2,
              "the server issued a first SCID and NEW_CONNECTION_ID CIDs (%d)" % len(cids))
        reused = [bytes.fromhex(c) for c in cids[:4]]
        hs = bytes.fromhex(first) if first else b""

        if mode == "--bpf":
            k0 = kernel(cli, srv)
            for cid in reused:
                send_from_ports(srv.port, cid)
            k1 = kernel(cli, srv)
            n = PORTS * len(reused)
            d_reused = k1.get("initial_reused_cid", 0) - k0.get("initial_reused_cid", 0)
            d_routed = k1.get("cid_routed", 0) - k0.get("cid_routed", 0)
            print("reused CIDs: initial_reused_cid +%d, cid_routed +%d" % (d_reused, d_routed))
            check(d_reused == n, "every Initial reusing an ordinary CID was hashed, not aimed "
                  "(%d of %d)" % (d_reused, n))
            check(d_routed < n // 10, "none of them was routed by its CID (cid_routed +%d)" %
                  d_routed)
            send_from_ports(srv.port, hs)
            k2 = kernel(cli, srv)
            d_hs = k2.get("cid_routed", 0) - k1.get("cid_routed", 0)
            check(d_hs >= PORTS and
                  k2.get("initial_reused_cid", 0) == k1.get("initial_reused_cid", 0),
                  "Initials with the fresh handshake CID are routed to its owner (+%d)" % d_hs)
        else:
            st0 = srv.stats()
            for cid in reused:
                send_from_ports(srv.port, cid)
            settle(srv, "dgrams_rx", sum(w["dgrams_rx"] for w in st0) + PORTS * len(reused))
            time.sleep(0.3)
            st1 = srv.stats()
            rx = [st1[i]["dgrams_rx"] - st0[i]["dgrams_rx"] for i in range(2)]
            fwd = sum(st1[i]["fwd_out"] - st0[i]["fwd_out"] for i in range(2))
            print("reused CIDs: datagrams per worker %s, relayed %d" % (rx, fwd))
            check(min(rx) > 0, "the kernel's 4-tuple hash gave both workers some (%s)" % rx)
            check(fwd == 0, "no Initial reusing an ordinary CID was relayed to its owner "
                  "(fwd_out +%d)" % fwd)
            send_from_ports(srv.port, hs)
            settle(srv, "dgrams_rx", sum(w["dgrams_rx"] for w in st1) + PORTS)
            time.sleep(0.3)
            st2 = srv.stats()
            fwd = sum(st2[i]["fwd_out"] - st1[i]["fwd_out"] for i in range(2))
            rx = [st2[i]["dgrams_rx"] - st1[i]["dgrams_rx"] for i in range(2)]
            print("handshake CID: datagrams per worker %s, relayed %d" % (rx, fwd))
            check(fwd > 0 and fwd in rx,
                  "Initials with the fresh handshake CID that reached the other worker were "
                  "relayed to its owner (%d of %s)" % (fwd, rx))

        r = gtlsclient("127.0.0.1", srv.port, [srv.url("/")], download=tmp)
        check(r.returncode == 0, "a client is still served afterwards")
    finally:
        srv.stop_and_check()
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
