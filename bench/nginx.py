"""bench/nginx.py: Debian's nginx run from a config of our own in the work
directory, and h2load run and read: what bench/proxy.py and bench/h2.py
share beyond bench/benchlib.py.
"""
import os
import re
import socket
import subprocess
import time

import benchlib as B
import run as R

NGINX = "/usr/sbin/nginx"
H2LOAD = "/usr/bin/h2load"


def nginx_version():
    p = subprocess.run([NGINX, "-v"], stderr=subprocess.PIPE, text=True)
    return p.stderr.strip().split("/")[-1]


class Nginx:
    """nginx (master + workers) from |conf|, a str.format template given
    work= (the work directory), port= and the keyword arguments."""

    def __init__(self, env, conf, tag="nginx", **kw):
        self.env = env
        self.port = R.free_port()
        path = os.path.join(env.work, tag + ".conf")
        with open(path, "w") as f:
            f.write(conf.format(work=env.work, port=self.port, **kw))
        err = os.path.join(env.work, tag + "-error.log")
        self.cmd = [NGINX, "-p", env.work, "-c", path, "-e", err]
        self.proc = B.spawn(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError("nginx did not start: %s" % (open(err).read()[-500:]
                                                       if os.path.exists(err) else ""))

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        B.kill_group(self.proc)


def _ms(v):
    """h2load's durations ("1.23ms", "456us", "1.2s") in milliseconds."""
    if v.endswith("ms"):
        return float(v[:-2])
    if v.endswith("us"):
        return float(v[:-2]) / 1000
    return float(v[:-1]) * 1000


def h2load_parse(out):
    """The figures of one h2load run's output (None where a line is missing)."""
    d = {}
    m = re.search(r"finished in ([\d.]+)s, ([\d.]+) req/s", out)
    d["rps"] = float(m.group(2)) if m else None
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
    for i, k in enumerate(("total", "started", "done", "succeeded", "failed", "errored",
                           "timeout")):
        d[k] = int(m.group(i + 1)) if m else None
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    for i, k in enumerate(("s2xx", "s3xx", "s4xx", "s5xx")):
        d[k] = int(m.group(i + 1)) if m else None
    m = re.search(r"traffic: .*?\((\d+)\) total, .*?\((\d+)\) headers.*?\((\d+)\) data", out)
    d["octets"], d["header_octets"], d["data_octets"] = \
        (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else (None, None, None)
    m = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)", out)
    d["mean_ms"] = _ms(m.group(3)) if m else None
    for k, pat in (("alpn", r"Application protocol: (\S+)"), ("cipher", r"Cipher: (\S+)"),
                   ("tls", r"TLS Protocol: (\S+)")):
        m = re.search(pat, out)
        d[k] = m.group(1) if m else None
    return d


def h2load(args, timeout):
    """Runs `h2load ARGS`; returns (figures, client CPU seconds, command)."""
    cmd = [H2LOAD] + args
    c0 = R.children_cpu()
    p = B.run(cmd, timeout=timeout)
    d = h2load_parse(p.stdout)
    d["tail"] = (p.stdout + p.stderr)[-400:]
    return d, R.children_cpu() - c0, cmd
