#!/usr/bin/env python3
"""test_server_ports.py: --listen ADDR:0 finds a port free on UDP and TCP.

    test_server_ports.py SERVER

With port 0 the UDP sockets pick the port and the TCP front binds the same
number, which another process may already hold on TCP.  In a private
network namespace whose ephemeral range is two ports, one of them held by a
TCP listener, every start must still serve (on the other port), never fail
with "in use".  Each start has an even chance of picking the held port
first, so eight starts would all pass by luck with probability 1/256.
"""
import os
import shutil
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_lib import Server, check, finish, in_netns, tmpdir  # noqa: E402

LOW, HIGH = 40000, 40001


def main():
    in_netns()
    binary = sys.argv[1]
    subprocess.run(["sysctl", "-qw", "net.ipv4.ip_local_port_range=%d %d" % (LOW, HIGH)],
                   check=True)
    held = socket.socket()
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    held.bind(("127.0.0.1", LOW))
    held.listen()
    tmp = tmpdir("ports")
    try:
        ports = []
        for _ in range(8):
            try:
                srv = Server(binary, tmp, ["--workers", "2", "--no-bpf"])
            except RuntimeError as e:
                check(False, "a start with port 0 serves (%s)" % str(e).strip())
                continue
            ports.append(srv.port)
            check(srv.stop() == 0, "server exits 0 on SIGTERM")
            srv.check_clean()
        check(ports and all(p == HIGH for p in ports),
              "every start took the port free on both protocols (%s)" % ports)
    finally:
        held.close()
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
