#!/usr/bin/env python3
"""test_server_sigterm.py: SIGTERM under load stops the server gracefully.

    test_server_sigterm.py SERVER WORKERS

When the server gets SIGTERM it has idle connections (no request yet), one
endless download and short downloads in flight.  Then:
  - the server exits 0, within the drain timeout plus a little, with no
    sanitizer report;
  - idle and endless clients saw HTTP/3 GOAWAY (data on the server's control
    stream after its SETTINGS, in the client's qlog) and a clean
    CONNECTION_CLOSE (application error H3_NO_ERROR, 0x100): the idle ones
    right after the final GOAWAY, the endless one at the drain timeout;
  - the short downloads in flight completed byte-identical;
  - a connection attempted after SIGTERM is refused (CONNECTION_REFUSED);
  - the steering pins (kernel steering) and the stats file are removed.
"""
import glob
import json
import os
import shutil
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_lib import (Server, bytes_body, check, finish, gtlsclient,  # noqa: E402
                             need_gtlsclient, sha256_file, tmpdir)
import hashlib  # noqa: E402

DRAIN = 8
SHORT = 16 * 1024 * 1024
LONG = 8 * 1024 * 1024 * 1024


def qlog_frames(qdir):
    """All frames the client received, from its qlog files."""
    frames = []
    for f in glob.glob(os.path.join(qdir, "*")):
        with open(f, errors="replace") as fh:
            for line in fh:
                line = line.strip().lstrip("\x1e")
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                data = rec.get("data")
                if rec.get("name") == "transport:packet_received" and isinstance(data, dict):
                    frames += data.get("frames", [])
    return frames


def saw_goaway(frames):
    # stream 3 is the server's control stream: SETTINGS first (offset 0),
    # and later nothing but GOAWAY
    return any(f.get("frame_type") == "stream" and f.get("stream_id") == 3 and
               f.get("offset", 0) > 0 and f.get("length", 0) > 0 for f in frames)


def close_frames(frames):
    return [f for f in frames if f.get("frame_type") == "connection_close"]


def main():
    need_gtlsclient()
    binary, workers = sys.argv[1], sys.argv[2]
    tmp = tmpdir("term")
    # kernel steering where available: its pinned state must be gone after
    srv = Server(binary, tmp, ["--workers", workers, "--drain-timeout", str(DRAIN),
                               "--initial-rtt", "10"])
    expected_short = hashlib.sha256(bytes_body(SHORT)).hexdigest()
    runs = {}

    def client(tag, size, extra=()):
        d = os.path.join(tmp, tag)
        q = os.path.join(d, "qlog")
        os.makedirs(q)
        r = gtlsclient("127.0.0.1", srv.port, [srv.url("/bytes/%d" % size)], download=d,
                       extra=["--qlog-dir", q] + list(extra), timeout=120)
        p = os.path.join(d, str(size))
        runs[tag] = dict(rc=r.returncode, frames=qlog_frames(q), ended=time.time(),
                         complete=os.path.exists(p) and os.path.getsize(p) == size and
                         (size != SHORT or sha256_file(p) == expected_short))
        if os.path.exists(p):
            os.unlink(p)

    threads = []
    try:
        n = 2 * int(workers)
        threads.append(threading.Thread(target=client, args=("long0", LONG)))
        for i in range(2):
            threads.append(threading.Thread(target=client, args=(
                "idle%d" % i, SHORT, ["--delay-stream=120s"])))
        for t in threads:
            t.start()
        time.sleep(0.4)
        for i in range(n):
            threads.append(threading.Thread(target=client, args=("short%d" % i, SHORT)))
            threads[-1].start()
        # SIGTERM once every short download is under way
        deadline = time.time() + 30
        while time.time() < deadline:
            started = [os.path.exists(os.path.join(tmp, "short%d" % i, str(SHORT))) and
                       os.path.getsize(os.path.join(tmp, "short%d" % i, str(SHORT))) > 0
                       for i in range(n)]
            if all(started):
                break
            time.sleep(0.01)
        t0 = time.time()
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        late = threading.Thread(target=client, args=("late", SHORT))
        late.start()
        threads.append(late)
        rc = srv.stop(timeout=DRAIN + 30)
        took = time.time() - t0
        for t in threads:
            t.join()
        check(rc == 0, "server exits 0 after SIGTERM under load (got %s)" % rc)
        check(took < DRAIN + 5, "server stopped within the drain timeout (%.1fs)" % took)
        srv.check_clean()
        if srv.kernel_steering:
            check(not os.path.exists("/sys/fs/bpf/quicsteer/%s" % srv.name),
                  "the steering pins are gone")
        check(not srv.stats_path or not os.path.exists(srv.stats_path),
              "the stats file is gone")

        for tag in sorted(runs):
            if tag == "late":
                continue
            fr = runs[tag]["frames"]
            closes = close_frames(fr)
            print("%s: rc %s, complete %s, closes %r" % (tag, runs[tag]["rc"],
                                                        runs[tag]["complete"], closes))
            if tag.startswith("short"):
                # it may have finished before the GOAWAY reached it
                check(runs[tag]["complete"], "%s: download in flight completed" % tag)
                continue
            check(saw_goaway(fr), "%s: client saw GOAWAY" % tag)
            check(any(c.get("error_space") == "application" and c.get("error_code") == 256
                      for c in closes), "%s: connection closed cleanly with H3_NO_ERROR" % tag)
            check(not runs[tag]["complete"], "%s: no (complete) download" % tag)
            if tag.startswith("idle"):
                check(runs[tag]["ended"] - t0 < DRAIN / 2,
                      "%s: idle connection closed long before the deadline (%.1fs)" %
                      (tag, runs[tag]["ended"] - t0))
        check(any(runs[t]["complete"] and saw_goaway(runs[t]["frames"])
                  for t in runs if t.startswith("short")),
              "a download still running at GOAWAY completed")
        late_closes = close_frames(runs["late"]["frames"])
        check(not runs["late"]["complete"] and
              any(c.get("error_code") in (2, "connection_refused") for c in late_closes),
              "a connection after SIGTERM is refused (%r)" % late_closes)
    finally:
        srv.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
