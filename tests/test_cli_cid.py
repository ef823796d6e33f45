#!/usr/bin/env python3
"""test_cli_cid.py: the `quicsteer cid` operator commands, end to end.

Runs the built binary (argv[1]) against every row of the shared QUIC-LB
vectors ($QS_VECTORS, tests/data/quic-lb-vectors.tsv; a missing file fails),
the draft's four-pass example, mint/decode round trips of quicsteer's
layout, and the error cases: each must exit 2 with exactly one line on
stderr starting "quicsteer: " and nothing on stdout.
"""
import json
import os
import subprocess
import sys

BIN = sys.argv[1] if len(sys.argv) > 1 else "build/src/cli/quicsteer"
KEY = "8f95f09245765f80256934e50c66207f"
passed = 0
failures = []


def run(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def check(cond, what):
    global passed
    if cond:
        passed += 1
    else:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def ok(*args):
    """Runs a command that must succeed; returns its single stdout line."""
    rc, out, err = run(*args)
    check(rc == 0 and err == "" and out.count("\n") == 1,
          f"{args}: rc={rc} out={out!r} err={err!r}")
    return out.strip()


def bad(*args):
    rc, out, err = run(*args)
    lines = err.splitlines()
    check(rc == 2 and out == "" and len(lines) == 1 and err.endswith("\n")
          and lines[0].startswith("quicsteer: "),
          f"{args}: want exit 2 and one stderr line, got rc={rc} out={out!r} err={err!r}")


def load_vectors():
    path = os.environ.get("QS_VECTORS")
    if not path:
        sys.exit("FAIL: QS_VECTORS is not set")
    if not os.path.exists(path):
        sys.exit(f"FAIL: {path} is missing")
    rows = []
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            alg, key, cr, sid, nonce, cid = line.split()
            rows.append(dict(key=None if alg == "plaintext" else key, cr=int(cr), sid=sid,
                             nonce=nonce, cid=cid))
    if len(rows) < 5:
        sys.exit(f"FAIL: {path} holds only {len(rows)} vectors")
    return rows


def keyargs(key):
    return ["--key", key] if key else ["--plaintext"]


def test_vector(v):
    k = keyargs(v["key"])
    cid = ok("cid", "encode", *k, "--cr", str(v["cr"]), "--server-id", v["sid"],
             "--nonce", v["nonce"])
    check(cid == v["cid"], f"encode {v}: got {cid}")
    j = json.loads(ok("cid", "encode", *k, "--cr", str(v["cr"]), "--server-id", v["sid"],
                      "--nonce", v["nonce"], "--json"))
    check(j == {"cid": v["cid"]}, f"encode --json {v}: got {j}")
    sidlen = str(len(v["sid"]) // 2)
    line = ok("cid", "decode", *k, "--server-id-len", sidlen, v["cid"])
    want = f"cr={v['cr']} server_id={v['sid']} nonce={v['nonce']}"
    check(line == want, f"decode {v}: got {line!r}, want {want!r}")
    line = ok("cid", "decode", *k, "--server-id-len", sidlen, "--nonce-len",
              str(len(v["nonce"]) // 2), "--cr", str(v["cr"]), v["cid"].upper())
    check(line == want, f"decode --nonce-len --cr {v}: got {line!r}")
    j = json.loads(ok("cid", "decode", *k, "--server-id-len", sidlen, "--json", v["cid"]))
    check(j == {"cr": v["cr"], "server_id": v["sid"], "nonce": v["nonce"]},
          f"decode --json {v}: got {j}")
    # Without length self-encoding the five low bits are random, the rest
    # is the same; decoding then ignores those bits.
    cid = ok("cid", "encode", *k, "--cr", str(v["cr"]), "--server-id", v["sid"],
             "--nonce", v["nonce"], "--no-encode-len")
    check(cid[2:] == v["cid"][2:] and int(cid[:2], 16) >> 5 == v["cr"],
          f"encode --no-encode-len {v}: got {cid}")
    first = int(v["cid"][:2], 16)
    liar = "%02x" % ((first & 0xe0) | ((first + 1) & 0x1f)) + v["cid"][2:]
    line = ok("cid", "decode", *k, "--server-id-len", sidlen, "--no-encode-len", liar)
    check(line == want, f"decode --no-encode-len {v}: got {line!r}")
    bad("cid", "decode", *k, "--server-id-len", sidlen, liar)


def test_draft_example():
    k = "fdf726a9893ec05c0632d3956680baf0"
    cid = ok("cid", "encode", "--key", k, "--server-id", "31441a", "--nonce", "9c69c275")
    check(cid == "0767947d29be054a", f"draft example: got {cid}")
    line = ok("cid", "decode", "--key", k, "--server-id-len", "3", "0767947d29be054a")
    check(line == "cr=0 server_id=31441a nonce=9c69c275", f"draft example decode: {line!r}")


def test_layout():
    for key in (KEY, None):
        for cid_len, host in ((17, None), (12, None), (20, "0a0b0c"), (16, "ff"),
                              (20, "0102030405060708090a0b")):
            for cr, gen, worker in ((0, 0, 0), (3, 1, 127), (6, 65535, 7)):
                args = ["cid", "mint", *keyargs(key), "--cr", str(cr), "--cid-len",
                        str(cid_len), "--generation", str(gen), "--worker", str(worker)]
                if host:
                    args += ["--host-id", host]
                cid = ok(*args)
                check(len(cid) == 2 * cid_len and int(cid[:2], 16) == (cr << 5) | (cid_len - 1),
                      f"mint {args}: got {cid}")
                h = host or "0001"
                hl = len(h) // 2
                dec = ["cid", "decode", "--layout", *keyargs(key), "--host-id-len", str(hl)]
                j = json.loads(ok(*dec, "--json", cid))
                check(j["cr"] == cr and j["host_id"] == h and j["generation"] == gen
                      and j["worker"] == worker
                      and j["server_id"] == h + "%04x%04x" % (gen, worker)
                      and len(j["nonce"]) == 2 * (cid_len - 1 - hl - 4),
                      f"decode --layout {cid}: got {j}")
                line = ok(*dec, cid)
                check(line == "cr=%d server_id=%s nonce=%s host_id=%s generation=%d worker=%d"
                      % (cr, j["server_id"], j["nonce"], h, gen, worker),
                      f"decode --layout text {cid}: got {line!r}")
                ok("cid", "decode", "--layout", *keyargs(key), "--host-id", h, cid)
                other = "%02x" % (int(h[:2], 16) ^ 0x80) + h[2:]
                bad("cid", "decode", "--layout", *keyargs(key), "--host-id", other, cid)
                # A fleet load balancer knowing only the host ID length sees
                # the host ID as its server ID.
                line = ok("cid", "decode", *keyargs(key), "--server-id-len", str(hl), cid)
                check(line.startswith(f"cr={cr} server_id={h} nonce="),
                      f"fleet view of {cid}: got {line!r}")
    # Default layout: 17 octets, host 0001; random nonces differ.
    a = ok("cid", "mint", "--key", KEY, "--generation", "1", "--worker", "2")
    b = ok("cid", "mint", "--key", KEY, "--generation", "1", "--worker", "2")
    check(len(a) == 34 and a[:2] == "10" and a != b, f"default mint: {a} {b}")
    j = json.loads(ok("cid", "mint", "--plaintext", "--generation", "1", "--worker", "2",
                      "--json"))
    check(list(j) == ["cid"] and j["cid"].startswith("100001" + "00010002"),
          f"mint --json: {j}")
    cid = ok("cid", "mint", "--plaintext", "--generation", "1", "--worker", "2",
             "--no-encode-len")
    ok("cid", "decode", "--layout", "--plaintext", "--no-encode-len", cid)


# Server ID in the clear (docs/fleet.md): the keyed rows of tests/test_lb.c's
# hand-checked table, from tools/lb_clear_vectors.py (an independent
# implementation): cr 2, generation 3, worker 9.
CLEAR = [
    ("2a", 18, "a0a1a2a3a4a5a6a7a8a9aaab", "512a0be9a0b987771f712c4efea75b1a8b29"),
    ("0001", 19, "a0a1a2a3a4a5a6a7a8a9aaab", "5200010be9a0b987771f712c4efea75b1a8b29"),
    ("c0ffee", 20, "a0a1a2a3a4a5a6a7a8a9aaab", "53c0ffee0be9a0b987771f712c4efea75b1a8b29"),
    ("0a000002", 20, "a0a1a2a3a4a5a6a7a8a9aa", "530a000002e0822fee1f3eb19d31592d9d5f1ea3"),
    ("00112233445566ff", 20, "a0a1a2a3a4a5a6", "5300112233445566ff331b0adfc014645cdfa2ee"),
]


def test_clear():
    for sid, cid_len, nonce, want in CLEAR:
        clear = ["--key", KEY, "--server-id-mode", "clear"]
        # the NLB's spelling: 0x and lowercase hex
        got = ok("cid", "mint", *clear, "--cr", "2", "--server-id", "0x" + sid, "--generation",
                 "3", "--worker", "9", "--nonce", nonce)
        check(got == want, f"clear mint {sid}: got {got}, want {want}")
        line = ok("cid", "decode", "--layout", *clear, "--host-id-len", str(len(sid) // 2), want)
        check(line == f"cr=2 server_id={sid} nonce={nonce} host_id={sid} generation=3 worker=9",
              f"clear decode {want}: {line!r}")
        ok("cid", "decode", "--layout", *clear, "--server-id", sid, want)
        other = sid[:-2] + "%02x" % (int(sid[-2:], 16) ^ 1)
        bad("cid", "decode", "--layout", *clear, "--host-id", other, want)
        # a plaintext balancer reads the server ID without any key
        line = ok("cid", "decode", "--plaintext", "--server-id-len", str(len(sid) // 2), want)
        check(line.startswith(f"cr=2 server_id={sid} nonce="), f"balancer view: {line!r}")
        # default lengths: 1 + server ID + 16 when it fits, else 20
        m = ok("cid", "mint", *clear, "--server-id", sid, "--generation", "1", "--worker", "0")
        check(len(m) == 2 * min(20, 1 + len(sid) // 2 + 16) and m[2:2 + len(sid)] == sid,
              f"clear default mint {sid}: {m}")


def test_help():
    for args in (["--help"], ["cid", "--help"], ["cid", "encode", "--help"],
                 ["cid", "decode", "--help"], ["cid", "mint", "--help"], ["cid", "lb-config", "--help"],
                 ["--version"]):
        rc, out, err = run(*args)
        check(rc == 0 and out and err == "", f"{args}: rc={rc} err={err!r}")
    rc, out, _ = run("--help")
    check("cid" in out, "--help lists cid")
    rc, out, _ = run("--version")
    check(out.startswith("quicsteer "), f"--version: {out!r}")


def test_errors():
    v = ["--server-id", "c4605e", "--nonce", "4504cc4f"]
    enc = ["cid", "encode"]
    dec = ["cid", "decode"]
    c8 = "07c4605e4504cc4f"
    # bad or odd hex, bad key lengths
    bad(*enc, "--key", "zz" * 16, *v)
    bad(*enc, "--key", KEY[:-1], *v)
    bad(*enc, "--key", KEY[:-2], *v)
    bad(*enc, "--key", KEY + "00", *v)
    bad(*enc, "--plaintext", "--server-id", "c4605", "--nonce", "4504cc4f")
    bad(*enc, "--plaintext", "--server-id", "c4605e", "--nonce", "4504cc4g")
    bad(*enc, "--plaintext", "--server-id", "", "--nonce", "4504cc4f")
    # key presence
    bad(*enc, *v)
    bad(*enc, "--key", KEY, "--plaintext", *v)
    bad(*dec, "--server-id-len", "3", c8)
    bad(*dec, "--key", KEY, "--plaintext", "--server-id-len", "3", c8)
    bad("cid", "mint", "--generation", "1", "--worker", "1")
    # rotation bits
    for cr in ("7", "8", "255", "256", "-1", "1a", "", " 1", "0x1"):
        bad(*enc, "--plaintext", "--cr", cr, *v)
    # impossible lengths
    bad(*enc, "--plaintext", "--server-id", "00" * 16, "--nonce", "00" * 4)
    bad(*enc, "--plaintext", "--server-id", "00" * 3, "--nonce", "00" * 3)
    bad(*enc, "--plaintext", "--server-id", "00" * 15, "--nonce", "00" * 5)
    bad(*enc, "--plaintext", "--server-id", "00" * 3, "--nonce", "00" * 20)
    bad(*enc, "--plaintext", "--server-id", "c4605e")
    bad(*enc, "--plaintext", "--nonce", "4504cc4f")
    # decode: wrong length, too long, cr 7, another configuration's cr,
    # lying length octet, malformed CIDHEX, bad lengths
    bad(*dec, "--plaintext", "--server-id-len", "3", "--nonce-len", "5", c8)
    bad(*dec, "--plaintext", "--server-id-len", "3", "14" + "00" * 20)
    bad(*dec, "--plaintext", "--server-id-len", "3", "07c4605e4504cc")
    bad(*dec, "--plaintext", "--server-id-len", "3", "e7c4605e4504cc4f")
    bad(*dec, "--key", KEY, "--server-id-len", "3", "--cr", "1", "0720b1d07b359d3c")
    bad(*dec, "--plaintext", "--server-id-len", "3", "08c4605e4504cc4f")
    bad(*dec, "--plaintext", "--server-id-len", "3", "")
    bad(*dec, "--plaintext", "--server-id-len", "3", "07c4605e4504cc4")
    bad(*dec, "--plaintext", "--server-id-len", "3", "xyc4605e4504cc4f")
    bad(*dec, "--plaintext", "--server-id-len", "3")
    bad(*dec, "--plaintext", "--server-id-len", "3", c8, c8)
    bad(*dec, "--plaintext", "--server-id-len", "0", c8)
    bad(*dec, "--plaintext", "--server-id-len", "16", c8)
    bad(*dec, "--plaintext", c8)
    bad(*dec, "--plaintext", "--server-id-len", "3", "--nonce-len", "3", c8)
    # layout
    lay = ["cid", "decode", "--layout", "--plaintext"]
    bad(*lay, c8)  # 8 octets cannot hold 1 + 2 + 4 + 4
    bad(*lay, "--host-id-len", "12", "14" + "00" * 20)
    bad(*lay, "--host-id-len", "0", "10" + "00" * 16)
    bad(*lay, "--host-id", "0001", "--host-id-len", "3", "10" + "00" * 16)
    bad(*lay, "--server-id-len", "6", "10" + "00" * 16)
    bad(*lay, "--host-id", "0002", "10" + "0001" + "00" * 14)
    bad(*dec, "--plaintext", "--host-id-len", "2", "10" + "00" * 16)
    # mint
    mint = ["cid", "mint", "--plaintext"]
    bad(*mint, "--worker", "1")
    bad(*mint, "--generation", "1")
    bad(*mint, "--generation", "65536", "--worker", "1")
    bad(*mint, "--generation", "1", "--worker", "70000")
    bad(*mint, "--generation", "1", "--worker", "128")  # 7 worker bits (lb_types.h)
    bad(*mint, "--generation", "1", "--worker", "1", "--cid-len", "21")
    bad(*mint, "--generation", "1", "--worker", "1", "--cid-len", "10")
    bad(*mint, "--generation", "1", "--worker", "1", "--cr", "7")
    bad(*mint, "--generation", "1", "--worker", "1", "--host-id", "00" * 12)
    # 1+11+4+4 = 20: the default length grows to fit, as the server's does
    check(len(ok(*mint, "--generation", "1", "--worker", "1", "--host-id", "00" * 11)) == 40,
          "11-octet host ID: a 20-octet CID")
    bad(*mint, "--generation", "1", "--worker", "1", "--cid-len", "19", "--host-id", "00" * 11)
    bad(*mint, "--generation", "1", "--worker", "1", "--server-id-mode", "clear",
        "--server-id", "0x" + "00" * 12)
    bad(*mint, "--generation", "1", "--worker", "1", "--server-id-mode", "plain")
    bad(*mint, "--generation", "1", "--worker", "1", "--server-id", "0x0g")
    bad(*mint, "--generation", "1", "--worker", "1", "--server-id", "01", "--host-id", "01")
    bad(*mint, "--generation", "1", "--worker", "1", "--nonce", "00")
    bad("cid", "decode", "--plaintext", "--server-id-len", "2", "--server-id-mode", "clear",
        "10" + "00" * 16)
    bad("cid", "lb-config", "--name", "no-such-instance-here")
    bad("cid", "lb-config", "--name", "bad/name")
    bad("cid", "lb-config", "--key", KEY)
    bad(*mint, "--generation", "1", "--worker", "1", "extra")
    # the command line itself
    bad()
    bad("bogus")
    bad("--bogus")
    bad("cid")
    bad("cid", "frobnicate")
    bad(*enc, "--plaintext", *v, "--bogus")
    bad(*enc, "--plaintext", *v, "-x")
    bad(*enc, "--plaintext", "--server-id")
    bad(*enc, "--plaintext", *v, "--server-id-len", "3")
    bad(*enc, "--plaintext", *v, "--cr", "1", "--cr", "2")
    bad(*dec, "--plaintext", "--server-id-len", "3", "--nonce", "00000000", c8)


def main():
    for v in load_vectors():
        test_vector(v)
    test_draft_example()
    test_layout()
    test_clear()
    test_help()
    test_errors()
    print(f"{passed} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
