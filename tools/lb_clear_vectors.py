#!/usr/bin/env python3
"""Independent computation of the `clear` server-ID CIDs in tests/test_lb.c.

Written from the QUIC-LB draft's description (draft-ietf-quic-load-
balancers-21, sections on single-pass and four-pass encryption), with AES
from python3-cryptography, not from quicsteer's code, so that the unit test
compares two implementations.  Checks itself against the draft's own
four-pass example first.  Not run by the test suite; run it to re-derive:
    python3 tools/lb_clear_vectors.py
"""
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def aes(key, block):
    e = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return e.update(block) + e.finalize()


def four_pass(key, body):
    n = len(body)
    half = (n + 1) // 2
    odd = n % 2
    left = bytearray(body[:half])
    right = bytearray(body[n - half:])
    if odd:
        left[-1] &= 0xF0
        right[0] &= 0x0F

    def f(src, p):
        blk = bytes(src) + bytes(14 - len(src)) + bytes([n, p])
        return aes(key, blk)[:half]

    def xor(dst, m):
        for i in range(half):
            dst[i] ^= m[i]

    for p in (1, 2, 3, 4):
        if p % 2:
            xor(right, f(left, p))
            if odd:
                right[0] &= 0x0F
        else:
            xor(left, f(right, p))
            if odd:
                left[-1] &= 0xF0
    out = bytearray(n)
    out[:half] = left
    for i in range(half):
        j = n - half + i
        out[j] = (out[j] | right[i]) if (i == 0 and odd) else right[i]
    return bytes(out)


def encipher(key, body):
    if key is None:
        return body
    return aes(key, body) if len(body) == 16 else four_pass(key, body)


def clear_cid(key, cr, sid, rk, nonce):
    inner = rk.to_bytes(4, "big") + nonce
    first = (cr << 5) | (1 + len(sid) + len(inner) - 1)
    return bytes([first]) + sid + encipher(key, inner)


assert four_pass(bytes.fromhex("fdf726a9893ec05c0632d3956680baf0"),
                 bytes.fromhex("31441a9c69c275")).hex() == "67947d29be054a"

KEY = bytes.fromhex("8f95f09245765f80256934e50c66207f")
CASES = [  # server ID, CID length
    ("2a", 18), ("0001", 19), ("c0ffee", 20), ("0a000002", 20),
    ("00112233445566ff", 20), ("00112233445566ff", 19)]
for keyed in (False, True):
    for sid, cidlen in CASES:
        s = bytes.fromhex(sid)
        nl = cidlen - 1 - len(s) - 4
        nonce = bytes(range(0xa0, 0xa0 + nl))
        cid = clear_cid(KEY if keyed else None, 2, s, 0x00030009, nonce)
        assert len(cid) == cidlen
        print('{%d, "%s", %d, "%s", "%s"},' % (keyed, sid, cidlen, nonce.hex(), cid.hex()))
