#!/usr/bin/env python3
"""test_server_badinput.py: quicsteer-server refuses bad input clearly.

    test_server_badinput.py SERVER

Each case must end with a non-zero status (2 for command-line errors, 1
for everything else) and exactly one line on stderr that starts with
"quicsteer-server: ".  --help and --version exit 0.
"""
import os
import shutil
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_lib import (Server, check, finish, make_cert, sanitizer_env,  # noqa: E402
                             tmpdir, unique_name)


def run(binary, args, timeout=30):
    r = subprocess.run([binary] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, text=True, env=sanitizer_env())
    return r.returncode, r.stdout, r.stderr


def expect(binary, args, code, what, contains=None):
    rc, out, err = run(binary, args)
    lines = [line for line in err.splitlines() if line.strip()]
    ok = rc == code and len(lines) == 1 and lines[0].startswith("quicsteer-server: ")
    if contains:
        ok = ok and contains in lines[0]
    check(ok, "%s: exit %d and one clear line (got %d: %r)" % (what, code, rc, err[-300:]))


def main():
    binary = sys.argv[1]
    tmp = tmpdir("bad")
    cert = make_cert(tmp)
    other = os.path.join(tmp, "other")
    subprocess.run(["bash", os.path.join(os.path.dirname(__file__), "..", "scripts",
                                         "dev-cert.sh"), other],
                   check=True, stdout=subprocess.DEVNULL)
    c, k = os.path.join(cert, "cert.pem"), os.path.join(cert, "key.pem")
    base = ["--cert", c, "--key", k, "--no-bpf", "--listen", "127.0.0.1:0"]
    try:
        rc, out, _ = run(binary, ["--help"])
        check(rc == 0 and "Usage: quicsteer-server" in out and "--retry" in out, "--help")
        rc, out, _ = run(binary, ["--version"])
        check(rc == 0 and out.startswith("quicsteer-server "), "--version")

        expect(binary, [], 2, "no arguments", "--cert")
        expect(binary, ["--cert", c], 2, "no --key", "--key")
        expect(binary, base + ["--bogus"], 2, "unknown option", "--bogus")
        expect(binary, base + ["--workers"], 2, "option without its value")
        expect(binary, base + ["--workers", "0"], 2, "--workers 0")
        expect(binary, base + ["--workers", "x"], 2, "--workers x")
        expect(binary, base + ["--retry", "sometimes"], 2, "bad --retry")
        expect(binary, base + ["--listen", "nowhere"], 2, "bad --listen")
        expect(binary, base + ["--listen", "[::1:5"], 2, "bad IPv6 --listen")
        expect(binary, base + ["--log-level", "loud"], 2, "bad --log-level")
        expect(binary, base + ["--host-id", "xyz"], 2, "bad --host-id")
        expect(binary, base + ["--server-id", "0x" + "00" * 16], 2, "--server-id over 15 octets")
        expect(binary, base + ["--server-id", "0x" + "00" * 12], 2, "--server-id over 11 octets",
               "does not fit")
        expect(binary, base + ["--server-id-mode", "plain"], 2, "bad --server-id-mode")
        expect(binary, base + ["--codepoints", "7"], 2, "--codepoints 7 (unroutable)")
        expect(binary, base + ["--codepoints", "4,,5"], 2, "bad --codepoints list")
        expect(binary, base + ["--name", "a/b"], 2, "bad --name")
        expect(binary, base + ["--drain-timeout", "-1"], 2, "bad --drain-timeout")
        expect(binary, base + ["--initial-rtt", "0"], 2, "bad --initial-rtt")
        expect(binary, base + ["stray"], 2, "stray argument")

        expect(binary, ["--cert", os.path.join(tmp, "nope.pem"), "--key", k, "--no-bpf"], 1,
               "missing certificate", "nope.pem")
        expect(binary, ["--cert", c, "--key", k, "--no-bpf", "--codepoints", "4,5", "--listen",
                        "127.0.0.1:0", "--name", unique_name("cp")], 1,
               "--codepoints without kernel steering", "needs kernel steering")
        expect(binary, ["--cert", c, "--key", os.path.join(tmp, "nokey.pem"), "--no-bpf"], 1,
               "missing key", "nokey.pem")
        expect(binary, ["--cert", c, "--key", os.path.join(other, "key.pem"), "--no-bpf",
                        "--listen", "127.0.0.1:0"], 1, "key of another certificate",
               "does not match")
        junk = os.path.join(tmp, "junk.pem")
        with open(junk, "w") as f:
            f.write("not a key\n")
        expect(binary, ["--cert", c, "--key", junk, "--no-bpf", "--listen", "127.0.0.1:0"], 1,
               "malformed key")
        expect(binary, ["--cert", junk, "--key", k, "--no-bpf", "--listen", "127.0.0.1:0"], 1,
               "malformed certificate")
        expect(binary, base + ["--root", os.path.join(tmp, "noroot")], 1, "missing --root",
               "noroot")
        expect(binary, base + ["--secret-file", os.path.join(tmp, "nosecret")], 1,
               "missing --secret-file", "nosecret")
        short = os.path.join(tmp, "short.secret")
        with open(short, "w") as f:
            f.write("abcd")
        expect(binary, base + ["--secret-file", short], 1, "too short --secret-file")

        # a port held by a plain (non-reuseport) socket
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            s = socket.socket(family, socket.SOCK_DGRAM)
            s.bind((host, 0))
            port = s.getsockname()[1]
            addr = "%s:%d" % (host, port) if family == socket.AF_INET else "[%s]:%d" % (host,
                                                                                          port)
            expect(binary, ["--cert", c, "--key", k, "--no-bpf", "--listen", addr], 1,
                   "occupied port %s" % addr, "in use")
            expect(binary, ["--cert", c, "--key", k, "--no-bpf", "--takeover", "--listen", addr],
                   1, "occupied port %s with --takeover" % addr)
            s.close()

        # a running instance of the same name
        name = unique_name("dup")
        srv = Server(binary, tmp, ["--workers", "1", "--no-bpf"], name=name, cert=cert)
        try:
            expect(binary, base + ["--name", name], 1, "second instance of the same name",
                   "already running")
        finally:
            srv.stop_and_check()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
