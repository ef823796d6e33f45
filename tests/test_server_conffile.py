#!/usr/bin/env python3
"""test_server_conffile.py: quicsteer-server started from a --conf file.

    test_server_conffile.py SERVER

- --check-config accepts a good file (exit 0) and names every bad line of
  a bad one as FILE:LINE: message (exit 2), also for files it names that
  cannot be read, a key that does not match its certificate, and each bad
  upstream URL of a repeated proxy key;
- the server started with nothing but --conf FILE serves the root, with
  the worker count and steering mode the file asks for;
- a bad file stops the start with the same lines, exit 2;
- a takeover started with the same --conf re-reads the file: the edited
  worker count takes effect in the new generation, which serves.
"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_lib import (Server, check, finish, gtlsclient, make_cert,  # noqa: E402
                             need_gtlsclient, sanitizer_env, tmpdir, unique_name)


def run(binary, args):
    r = subprocess.run([binary] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60, text=True, env=sanitizer_env())
    return r.returncode, r.stdout, r.stderr


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def fetch(port, tmp, tag, path):
    d = os.path.join(tmp, tag)
    os.makedirs(d, exist_ok=True)
    r = gtlsclient("127.0.0.1", port, ["https://127.0.0.1:%d%s" % (port, path)], download=d)
    p = os.path.join(d, os.path.basename(path))
    if r.returncode != 0 or not os.path.exists(p):
        return None
    with open(p, "rb") as f:
        return f.read()


def main():
    need_gtlsclient()
    binary = sys.argv[1]
    tmp = tmpdir("conf")
    cert = make_cert(tmp)
    other = os.path.join(tmp, "other")
    subprocess.run(["bash", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                         "scripts", "dev-cert.sh"), other],
                   check=True, stdout=subprocess.DEVNULL)
    root = os.path.join(tmp, "www")
    os.makedirs(root)
    body = b"served from a configured root\n"
    write(os.path.join(root, "hello.txt"), body.decode())
    name = unique_name("cf")
    conf = os.path.join(tmp, "quicsteer.conf")

    def good(listen, workers):
        return ("# quicsteer-server, test configuration\n"
                "listen = %s\n"
                "workers = %d\n"
                "cert = %s\n"
                "key = %s\n"
                "root = %s   # the test's site\n"
                "name = %s\n"
                "no-bpf\n"
                "drain-timeout = 2\n"
                % (listen, workers, os.path.join(cert, "cert.pem"), os.path.join(cert, "key.pem"),
                   root, name))

    srv = new = None
    try:
        write(conf, good("127.0.0.1:0", 2))
        rc, out, err = run(binary, ["--conf", conf, "--check-config"])
        check(rc == 0 and "configuration ok" in out and err == "",
              "--check-config: a good file passes (%d %r %r)" % (rc, out, err[-300:]))

        # every bad line, with its number, in order; nothing else
        write(conf, good("127.0.0.1:0", 2) +
              "workers = many\n"           # 10
              "colour = blue\n"            # 11
              "no-bpf = 0\n"               # 12
              "listen = 127.0.0.1\n")      # 13
        rc, out, err = run(binary, ["--conf", conf, "--check-config"])
        want = ["%s:10: bad --workers 'many'" % conf, "%s:11: unknown option 'colour'" % conf,
                "%s:12: 'no-bpf' is a flag" % conf, "%s:13: bad --listen address" % conf]
        lines = err.splitlines()
        check(rc == 2 and len(lines) == 4 and all(l.startswith(w) for l, w in zip(lines, want)),
              "--check-config: each bad line as FILE:LINE: message, exit 2 (%d %r)" % (rc, err))
        rc2, _, err2 = run(binary, ["--conf", conf])
        check(rc2 == 2 and err2 == err, "starting with that file: the same lines, exit 2")

        # upstream URLs: each bad --proxy at its own line (no name to resolve)
        write(conf, good("127.0.0.1:0", 2) +
              "proxy = /api=http://127.0.0.1:8080\n"   # 10 fine
              "proxy = /x=ftp://127.0.0.1:21\n"        # 11 scheme
              "proxy = /y=http://127.0.0.1:99999\n"    # 12 port
              "proxy = /z=unix:relative.sock\n")       # 13 not absolute
        rc, _, err = run(binary, ["--conf", conf, "--check-config"])
        lines = err.splitlines()
        check(rc == 2 and len(lines) == 3 and
              [l.split(": ", 1)[0] for l in lines] == ["%s:%d" % (conf, n) for n in (11, 12, 13)]
              and all("bad --proxy" in l for l in lines),
              "--check-config: each bad upstream URL at its line (%r)" % err)

        # files named by the configuration are tried
        write(conf, good("127.0.0.1:0", 2).replace(os.path.join(cert, "key.pem"),
                                                   os.path.join(tmp, "nokey.pem")))
        rc, _, err = run(binary, ["--conf", conf, "--check-config"])
        check(rc == 2 and err.startswith("%s:5: cannot read key" % conf) and
              len(err.splitlines()) == 1, "--check-config: unreadable key at its line (%r)" % err)
        write(conf, good("127.0.0.1:0", 2).replace(os.path.join(cert, "key.pem"),
                                                   os.path.join(other, "key.pem")))
        rc, _, err = run(binary, ["--conf", conf, "--check-config"])
        check(rc == 2 and err.startswith("%s:4: key " % conf) and "does not match" in err,
              "--check-config: a key of another certificate, at the cert line (%r)" % err)
        # the command line after --conf overrides the file
        rc, _, err = run(binary, ["--conf", conf, "--key", os.path.join(cert, "key.pem"),
                                  "--check-config"])
        check(rc == 0, "an option after --conf overrides the file (%d %r)" % (rc, err))

        # serve from the file alone
        write(conf, good("127.0.0.1:0", 2))
        srv = Server(binary, tmp, ["--conf", conf], name=name, bare=True)
        check("workers: 2" in srv.report and "user space (--no-bpf)" in srv.report,
              "the file's workers and no-bpf apply (%r)" % srv.report)
        got = fetch(srv.port, tmp, "a", "/hello.txt")
        check(got == body, "serves the file's root")

        # a takeover re-reads the file: 2 -> 3 workers
        write(conf, good("127.0.0.1:%d" % srv.port, 3))
        new = Server(binary, tmp, ["--conf", conf, "--takeover"], name=name, bare=True)
        check(new.generation == 2 and "workers: 3" in new.report,
              "takeover with the same --conf: generation 2 with the edited 3 workers (%r)" %
              new.report)
        try:
            rc = srv.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            rc = None
        check(rc == 0, "the predecessor drains and exits 0 (%s)" % rc)
        srv.stop()
        srv.check_clean()
        srv = None
        got = fetch(new.port, tmp, "b", "/hello.txt")
        check(got == body, "the successor serves")
    finally:
        if new:
            new.stop_and_check()
        if srv:
            srv.stop_and_check()
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
