#!/usr/bin/env python3
"""test_trust.py: who may talk to a server, whom it runs as, generations that
never repeat, key rotation that can go on forever.

    test_trust.py SERVER LOAD CLI CASE

CASE:
  peers   a throwaway Unix user (useradd, removed at the end) connects to
          every control and relay socket of a running server and sends
          drain/status/rotate-key and forged relay messages: it gets no
          answer, nothing changes (the server keeps serving and does not
          drain; no relayed datagram is processed), and every refusal is
          counted (peers_refused, also in `quicsteer stat`).  Then it squats
          the names of the next generation: a takeover skips that number and
          nobody sends the squatter a byte.
  user    --user THROWAWAY with kernel steering: every thread of the server
          runs as that user with no capabilities, the kernel steers its
          datagrams, `quicsteer stat` (root) reads it, rotate-key works, and
          a takeover started as root with --user replaces it under
          quicsteer-load with zero failed requests (skipping a generation
          number whose control name user nobody squatted).
  gens    without BPF: three takeovers in a row; each new generation number
          is newer than every one before, even after the first one exited,
          while downloads begun on the second still receive after the next
          two and keep-alive load follows them with zero failures; a fresh
          start takes a new number too.
  rotate  20 key rotations in a row under keep-alive and new-connection
          load (--key-retire 0.3): rotated-out keys retire and free their
          codepoints, nothing fails, the kernel's table never holds more
          than 7 configurations.
"""
import json
import os
import pwd
import re
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_lib import (GTLSCLIENT, Server, check, finish, gtlsclient,  # noqa: E402
                             need_gtlsclient, tmpdir, unique_name)

RTT = ["--initial-rtt", "10"]
GEN_MAX = 65534  # include/quicsteer/generation.h


def qs_newer(a, b):
    """Serial-number order of generations (qs_gen_newer)."""
    d = (a + GEN_MAX - b) % GEN_MAX
    return 0 < d < GEN_MAX // 2


class ThrowawayUser:
    """A system user made for this test and removed afterwards."""

    def __init__(self):
        self.name = "qst%d" % (os.getpid() % 100000)
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        self.name], check=True)
        pw = pwd.getpwnam(self.name)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid

    def remove(self):
        subprocess.run(["userdel", self.name], stderr=subprocess.DEVNULL)

    def run(self, fn):
        """Run fn() in a child process as this user; returns its JSON result."""
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                os.setgroups([])
                os.setgid(self.gid)
                os.setuid(self.uid)
                out = json.dumps(fn()).encode()
            except Exception as e:  # noqa: BLE001 - reported to the parent
                out = json.dumps({"exception": repr(e)}).encode()
            os.write(w, out)
            os._exit(0)
        os.close(w)
        data = b""
        while True:
            b = os.read(r, 65536)
            if not b:
                break
            data += b
        os.close(r)
        os.waitpid(pid, 0)
        return json.loads(data.decode())


class Nobody:
    name = "nobody"
    uid = pwd.getpwnam("nobody").pw_uid
    gid = pwd.getpwnam("nobody").pw_gid


class Squatter:
    """A process of |user| listening on abstract |names| (a generation's to
    come); finish() returns how many octets anyone sent it."""

    def __init__(self, user, names):
        self.ready_r, ready_w = os.pipe()
        done_r, self.done_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self.ready_r)
            os.close(self.done_w)
            os.setgroups([])
            os.setgid(user.gid)
            os.setuid(user.uid)
            socks = []
            for nm in names:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.bind(nm)
                s.listen(8)
                s.setblocking(False)
                socks.append(s)
            os.write(ready_w, b"r")
            os.read(done_r, 1)
            got = 0  # connecting is not sending: count octets
            for s in socks:
                try:
                    while True:
                        c, _ = s.accept()
                        c.settimeout(0.5)
                        try:
                            got += len(c.recv(65536))
                        except OSError:
                            pass
                        c.close()
                except OSError:
                    pass
            os.write(ready_w, str(got).encode())
            os._exit(0)
        os.close(ready_w)
        os.close(done_r)
        os.read(self.ready_r, 1)

    def finish(self):
        os.write(self.done_w, b"d")
        got = os.read(self.ready_r, 16).decode()
        os.waitpid(self.pid, 0)
        return int(got) if got.isdigit() else -1


def abstract(path):
    return "\0" + path


def control_name(name, gen):
    return abstract("quicsteer/%s/%d/ctl" % (name, gen))


def relay_name(name, gen, worker):
    return abstract("quicsteer/%s/%d/%d" % (name, gen, worker))


def control(name, gen, req):
    """A control request as root: the reply line, or None."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(3)
    try:
        s.connect(control_name(name, gen))
        s.send(req.encode())
        return s.recv(256).decode().strip()
    except OSError:
        return None
    finally:
        s.close()


def forged_relay(port):
    """A relay message claiming a datagram from 127.0.0.1:9 to the server."""
    def addr(p):
        return struct.pack("<HHI16s", socket.AF_INET, socket.htons(p), 0,
                           socket.inet_aton("127.0.0.1"))
    hdr = struct.pack("<IBBBB", 0x71736677, 1, 0, 0, 0) + addr(port) + addr(9)
    return hdr + b"\x40" + os.urandom(40)  # a short header for nobody's CID


def stat(cli, name):
    r = subprocess.run([cli, "stat", "--name", name, "--json"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    return json.loads(r.stdout) if r.returncode == 0 else None


def served(srv, tmp, tag):
    d = os.path.join(tmp, tag)
    os.makedirs(d, exist_ok=True)
    r = gtlsclient("127.0.0.1", srv.port, [srv.url("/bytes/5000")], download=d, timeout=60)
    p = os.path.join(d, "5000")
    return r.returncode == 0 and os.path.exists(p) and os.path.getsize(p) == 5000


class Load(threading.Thread):
    def __init__(self, binary, url, tag, args, timeout=120):
        super().__init__()
        self.cmd = [binary, url, "--json", "--no-progress"] + RTT + args
        self.tag = tag
        self.timeout = timeout
        self.rc = None
        self.res = {}

    def run(self):
        r = subprocess.run(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=self.timeout)
        self.rc = r.returncode
        try:
            self.res = json.loads(r.stdout)
        except ValueError:
            print("%s: no JSON; stderr: %s" % (self.tag, r.stderr[-2000:]), file=sys.stderr)

    def check_clean(self):
        req = self.res.get("requests", {})
        conns = self.res.get("connections", {})
        print("%s: exit %s, requests %s, connections %s, errors %s" %
              (self.tag, self.rc, req, conns,
               {k: v for k, v in self.res.get("errors", {}).items() if v}))
        check(self.rc == 0 and self.res.get("ok") is True, "%s load: exit 0" % self.tag)
        check(req.get("failed") == 0 and req.get("not_sent") == 0 and req.get("ok", 0) > 0,
              "%s: requests served, zero failed" % self.tag)
        check(conns.get("failed") == 0, "%s: zero failed connections" % self.tag)


def task_ids(pid):
    return os.listdir("/proc/%d/task" % pid)


def task_creds(pid):
    """{tid: (uids, gids, groups, CapEff, CapPrm)} of every thread."""
    out = {}
    for tid in task_ids(pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                st = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        except OSError:
            continue
        out[tid] = (st["Uid"].split(), st["Gid"].split(), st.get("Groups", "").split(),
                    st["CapEff"], st["CapPrm"])
    return out


# ---------------------------------------------------------------- peers

def case_peers(server, loadbin, cli, tmp, user):
    name = unique_name("tp")
    srv = Server(server, tmp, ["--workers", "2", "--no-bpf"] + RTT, name=name)
    succ = None
    try:
        gen = srv.generation
        check(served(srv, tmp, "before"), "serves before the other user tries anything")
        before = srv.stats()
        port = srv.port
        cname = control_name(name, gen)
        rnames = [relay_name(name, gen, w) for w in range(2)]
        forged = forged_relay(port)

        def attack():
            res = {"control": [], "relay": []}
            for req in ("drain 65535 1", "status", "rotate-key", "drain %d 1" % (gen + 1)):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.settimeout(2)
                try:
                    s.connect(cname)
                    s.send(req.encode())
                    res["control"].append(s.recv(256).decode())
                except OSError as e:
                    res["control"].append("error %s" % e.__class__.__name__)
                finally:
                    s.close()
            for rn in rnames:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.settimeout(2)
                try:
                    s.connect(rn)
                    for _ in range(3):
                        s.send(forged)
                    time.sleep(0.2)
                    res["relay"].append(s.recv(256).decode())
                except OSError as e:
                    res["relay"].append("error %s" % e.__class__.__name__)
                finally:
                    s.close()
            return res
        res = user.run(attack)
        print("other user's results:", res)
        check(all(r in ("", "error ConnectionResetError", "error BrokenPipeError")
                  for r in res.get("control", ["?"])) and len(res.get("control", [])) == 4,
              "no control request of another user is answered (%s)" % res.get("control"))
        check(len(res.get("relay", [])) == 2, "the other user reached both relay sockets")
        time.sleep(1.0)
        check(srv.proc.poll() is None, "the server still runs")
        st = control(name, gen, "status")
        check(st is not None and "state=serving" in st, "root's status: still serving (%s)" % st)
        check(served(srv, tmp, "after"), "still serves after the other user's attempts")
        after = srv.stats()
        refused = sum(w["peers_refused"] for w in after) - sum(w["peers_refused"]
                                                                for w in before)
        check(refused == 6, "6 refusals counted (4 control, 2 relay): %d" % refused)
        fwd_in = sum(w["fwd_in"] for w in after) - sum(w["fwd_in"] for w in before)
        bad = sum(w["drop_bad"] for w in after) - sum(w["drop_bad"] for w in before)
        check(fwd_in == 0 and bad == 0, "no forged relay message was processed (fwd_in +%d, "
              "drop_bad +%d)" % (fwd_in, bad))
        sj = stat(cli, name)
        cl = sum(w.get("peers_refused", 0) for g in (sj or {}).get("generations", [])
                 for w in g["workers"])
        check(cl >= 6, "quicsteer stat shows the refusals (%d)" % cl)
        check("refused a control connection from uid %d" % user.uid in srv.stderr(),
              "the refusal is logged with the peer's uid")

        # squat the next generation's names, then take over: that number
        # is skipped and the squatter gets nothing
        sq_gen = gen + 1
        squatter = Squatter(user, [control_name(name, sq_gen)] +
                            [relay_name(name, sq_gen, w) for w in range(2)])
        succ = Server(server, tmp, ["--workers", "2", "--no-bpf", "--takeover", "--listen",
                                    "127.0.0.1:%d" % port] + RTT, name=name, cert=srv.cert)
        check(succ.generation != sq_gen and succ.generation > gen,
              "the takeover skipped the squatted generation %d (got %d)" % (sq_gen,
                                                                           succ.generation))
        rc = None
        try:
            rc = srv.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        check(rc == 0, "the predecessor drained and exited 0 (%s)" % rc)
        check(served(succ, tmp, "succ"), "the successor serves")
        # root's CLI never talks to the squatted control name
        r = subprocess.run([cli, "rotate-key", "--name", name], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        check(r.returncode == 0 and "generation=%d" % succ.generation in r.stdout,
              "rotate-key reaches the real successor (%s%s)" % (r.stdout.strip(),
                                                                r.stderr.strip()))
        got = squatter.finish()
        check(got == 0, "nobody sent the squatter a byte (%s)" % got)
        succ.stop_and_check()
        srv.check_clean()
    finally:
        srv.kill()
        if succ:
            succ.kill()


# ---------------------------------------------------------------- user

def check_dropped(srv, user, tag):
    creds = task_creds(srv.proc.pid)
    check(len(creds) >= 3, "%s: threads found (%d)" % (tag, len(creds)))
    bad = {t: c for t, c in creds.items()
           if c[0] != [str(user.uid)] * 4 or c[1] != [str(user.gid)] * 4 or
           c[2] not in ([], [str(user.gid)]) or int(c[3], 16) != 0 or int(c[4], 16) != 0}
    check(not bad, "%s: every thread runs as %s with no capabilities (%s)" %
          (tag, user.name, bad or "%d threads" % len(creds)))


def case_user(server, loadbin, cli, tmp, user):
    name = unique_name("tu")
    args = ["--workers", "2", "--user", user.name, "--drain-timeout", "10"] + RTT
    srv = Server(server, tmp, args, name=name)
    succ = None
    try:
        check(srv.kernel_steering, "--user: steering in the kernel")
        check("running as user %s" % user.name in srv.report, "the report names the user")
        check_dropped(srv, user, "first generation")
        k0 = (stat(cli, name) or {}).get("kernel", {}).get("cid_routed", 0)
        check(served(srv, tmp, "u1"), "serves as %s" % user.name)
        st = stat(cli, name)
        check(st is not None and st.get("kernel", {}).get("cid_routed", 0) > k0,
              "quicsteer stat (root) reads it; the kernel routed its CIDs")
        r = subprocess.run([cli, "rotate-key", "--name", name], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        check(r.returncode == 0 and "cr=" in r.stdout, "rotate-key as %s: %s%s" %
              (user.name, r.stdout.strip(), r.stderr.strip()))
        check(served(srv, tmp, "u2"), "serves after the rotation")

        url = srv.url("/bytes/1000")
        loads = [Load(loadbin, url, "keepalive", ["-c", "4", "-m", "2", "--duration", "6"]),
                 Load(loadbin, url, "newconn", ["--new-conn", "-c", "2", "--duration", "6"])]
        for ld in loads:
            ld.start()
        # with kernel steering too, a number squatted by yet another user
        # (nobody; the server's own user is trusted by definition) is skipped
        sq_gen = srv.generation + 1
        squatter = Squatter(Nobody(), [control_name(name, sq_gen)])
        time.sleep(1.5)
        succ = Server(server, tmp, args + ["--takeover", "--listen", "127.0.0.1:%d" % srv.port],
                      name=name, cert=srv.cert)
        check(succ.kernel_steering and succ.generation > sq_gen,
              "takeover as root with --user: generation %d (%d was squatted)" %
              (succ.generation, sq_gen))
        check(squatter.finish() == 0, "nobody sent the squatter a byte")
        check_dropped(succ, user, "successor")
        for ld in loads:
            ld.join()
            ld.check_clean()
        rc = None
        try:
            rc = srv.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        check(rc == 0, "the %s predecessor drained and exited 0 (%s)" % (user.name, rc))
        srv.check_clean()
        check(served(succ, tmp, "u3"), "the successor serves")
        succ.stop_and_check()
        check(not os.path.exists("/sys/fs/bpf/quicsteer/%s/qs_gens" % name),
              "the last %s generation removed the pins on exit" % user.name)
        left = [f for f in os.listdir("/run/quicsteer/%s" % name) if f.endswith(".stats")] \
            if os.path.isdir("/run/quicsteer/%s" % name) else []
        check(not left, "and its stats files (%s)" % left)
    finally:
        srv.kill()
        if succ:
            succ.kill()


# ---------------------------------------------------------------- gens

def case_gens(server, loadbin, cli, tmp, user):
    name = unique_name("tg")
    secret = os.path.join(tmp, "secret")
    with open(secret, "wb") as f:
        f.write(os.urandom(32))
    base = ["--workers", "2", "--no-bpf", "--secret-file", secret, "--drain-timeout", "8"] + RTT
    first = Server(server, tmp, base, name=name)
    port = first.port
    gens = [first]
    try:
        second = Server(server, tmp, base + ["--takeover", "--listen", "127.0.0.1:%d" % port],
                        name=name, cert=first.cert)
        gens.append(second)
        rc = first.proc.wait(timeout=20)
        check(rc == 0, "generation %d (idle) exited once its successor served" % first.generation)
        url = second.url("/bytes/2000")
        # connections made on the second generation that live across the
        # next two takeovers: downloads too big to finish meanwhile, which
        # must still be receiving after the last one; and keep-alive load
        # that moves along with each takeover
        size = 4_000_000_000
        dls = []
        for i in range(3):
            d = os.path.join(tmp, "dl%d" % i)
            os.makedirs(d)
            dls.append((os.path.join(d, str(size)), subprocess.Popen(
                [GTLSCLIENT, "-q", "--timeout=10s", "--download", d, "--max-data=1M",
                 "--max-stream-data-bidi-local=512K", "127.0.0.1", str(port),
                 second.url("/bytes/%d" % size)], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)))
        loads = [Load(loadbin, url, "keepalive", ["-c", "4", "-m", "2", "--duration", "4"])]
        for ld in loads:
            ld.start()
        time.sleep(0.5)
        for i in range(2):
            new = Server(server, tmp, base + ["--takeover", "--listen", "127.0.0.1:%d" % port],
                         name=name, cert=first.cert)
            gens.append(new)
            time.sleep(0.5)

        def got(path):
            return os.path.getsize(path) if os.path.exists(path) else 0
        a = [got(p) for p, _ in dls]
        time.sleep(1.0)
        b = [got(p) for p, _ in dls]
        alive = [pr.poll() is None for _, pr in dls]
        print("download octets after the last takeover: %s -> %s" % (a, b))
        check(all(alive) and all(y > x for x, y in zip(a, b)),
              "the downloads begun on generation %d still receive after both later takeovers"
              % second.generation)
        fwd = second.total("fwd_in")
        check(fwd > 0, "their datagrams reaching later generations were relayed back (%d)" % fwd)
        for p, pr in dls:
            pr.kill()
            pr.wait()
            if os.path.exists(p):
                os.unlink(p)
        numbers = [g.generation for g in gens]
        print("generations:", numbers)
        check(len(set(numbers)) == len(numbers), "no generation number repeats (%s)" % numbers)
        check(all(qs_newer(numbers[i + 1], numbers[i]) for i in range(len(numbers) - 1)),
              "each generation is newer than the one before (%s)" % numbers)
        for ld in loads:
            ld.join()
            ld.check_clean()
        for g in gens[1:-1]:
            rc = None
            try:
                rc = g.proc.wait(timeout=25)
            except subprocess.TimeoutExpired:
                pass
            check(rc == 0, "generation %d drained and exited 0 (%s)" % (g.generation, rc))
            g.check_clean()
        check(served(gens[-1], tmp, "last"), "the last generation serves")
        gens[-1].stop_and_check()
        first.check_clean()
        # a fresh start does not reuse the numbers either
        fresh = Server(server, tmp, base + ["--listen", "127.0.0.1:%d" % port], name=name,
                       cert=first.cert)
        gens.append(fresh)
        check(qs_newer(fresh.generation, numbers[-1]), "a fresh start is generation %d, newer than %d" %
              (fresh.generation, numbers[-1]))
        fresh.stop_and_check()
    finally:
        for g in gens:
            g.kill()


# ---------------------------------------------------------------- rotate

def lbconf_count(name):
    r = subprocess.run(["bpftool", "-j", "map", "dump", "pinned",
                        "/sys/fs/bpf/quicsteer/%s/qs_lbconf" % name],
                       stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        return -1
    return sum(1 for e in json.loads(r.stdout) if e["formatted"]["value"]["valid"])


def case_rotate(server, loadbin, cli, tmp, user):
    name = unique_name("tr")
    srv = Server(server, tmp, ["--workers", "2", "--key-retire", "0.3", "--drain-timeout", "10"]
                 + RTT, name=name)
    try:
        check(srv.kernel_steering, "kernel steering")
        url = srv.url("/bytes/1000")
        # long enough for 20 rotations on a busy machine (about 8 s when idle)
        loads = [Load(loadbin, url, "keepalive", ["-c", "4", "-m", "2", "--duration", "22"]),
                 Load(loadbin, url, "newconn", ["--new-conn", "-c", "2", "--duration", "22"])]
        for ld in loads:
            ld.start()
        time.sleep(0.5)
        done, crs, most = 0, [], 0
        deadline = time.time() + 21
        while done < 20 and time.time() < deadline:
            r = subprocess.run([cli, "rotate-key", "--name", name], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=30)
            m = re.search(r"cr=(\d+)", r.stdout)
            if r.returncode == 0 and m:
                done += 1
                crs.append(int(m.group(1)))
            elif "no free config-rotation codepoint" not in r.stderr:
                check(False, "rotate-key: %s%s" % (r.stdout, r.stderr))
                break
            most = max(most, lbconf_count(name))
            time.sleep(0.05)
        print("codepoints:", crs)
        check(done == 20, "20 rotations in a row (%d)" % done)
        check(len(set(crs)) <= 7 and len(crs) > len(set(crs)), "codepoints were freed and "
              "reused (%s)" % crs)
        check(0 < most <= 7, "the kernel's table held at most 7 configurations (%d)" % most)
        for ld in loads:
            ld.join()
            ld.check_clean()
        check("retired" in srv.stderr(), "retirements are logged")
        check(served(srv, tmp, "after"), "serves after 20 rotations")
        srv.stop_and_check()
    finally:
        srv.kill()


def main():
    need_gtlsclient()
    server, loadbin, cli, case = sys.argv[1:5]
    tmp = tmpdir("trust-" + case)
    user = ThrowawayUser() if case in ("peers", "user") else None
    try:
        {"peers": case_peers, "user": case_user, "gens": case_gens,
         "rotate": case_rotate}[case](server, loadbin, cli, tmp, user)
    finally:
        if user:
            user.remove()
    finish()


if __name__ == "__main__":
    main()
