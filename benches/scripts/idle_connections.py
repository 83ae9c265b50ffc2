#!/usr/bin/env python3
"""The hub's resident memory with idle unauthenticated connections.

Starts `MEMWIRE serve` on a configuration of its own, then floods it ROUNDS
times: COUNT TCP connections that each send a hello and wait at the
challenge, held open, then closed. Prints the hub's VmRSS (from
/proc/PID/status) before the first flood, with each flood open, and after
each has closed. Any extra environment (MALLOC_ARENA_MAX=2, ...) is passed
on to the hub.

Usage: idle_connections.py MEMWIRE [COUNT] [ROUNDS] [PORT]
"""

import os
import socket
import subprocess
import sys
import tempfile
import time

CONFIG = """
root = "{root}"
[listen]
tcp = "127.0.0.1:{port}"
[limits]
max_connections = {limit}
handshake_ms = 10000
[[tenant]]
name = "t"
[[tenant.client]]
name = "ops"
secret = "ops-secret"
rights = [{{ regions = "*", access = "read" }}]
[[tenant.region]]
name = "small"
variables = [{{ name = "tick", kind = "u64" }}]
"""

# Hello { version: 1, max_frame: 1024, client: "ops", tenant: "t" },
# length-prefixed (spec/wire-format.md, section 7).
HELLO = bytes.fromhex("0a" "00" "01" "8008" "03" + b"ops".hex() + "01" + b"t".hex())


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def connect(port, deadline):
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def at_challenge(sock):
    sock.sendall(HELLO)
    head = sock.recv(1)
    if not head:
        raise RuntimeError("closed before the challenge")
    left = head[0]
    while left:
        got = sock.recv(left)
        if not got:
            raise RuntimeError("closed in the challenge")
        left -= len(got)


def main():
    memwire = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    port = int(sys.argv[4]) if len(sys.argv) > 4 else 47311
    with tempfile.TemporaryDirectory() as root:
        path = os.path.join(root, "hub.toml")
        with open(path, "w") as f:
            f.write(CONFIG.format(root=root, port=port, limit=count + 16))
        hub = subprocess.Popen([memwire, "serve", path], stderr=subprocess.DEVNULL)
        try:
            connect(port, time.monotonic() + 20).close()
            time.sleep(1)
            print(f"idle hub: {rss_kib(hub.pid)} KiB")
            for n in range(1, rounds + 1):
                peers = []
                for _ in range(count):
                    sock = connect(port, time.monotonic() + 5)
                    at_challenge(sock)
                    peers.append(sock)
                held = rss_kib(hub.pid)
                for sock in peers:
                    sock.close()
                time.sleep(2)
                after = rss_kib(hub.pid)
                print(f"flood {n}: {count} at the challenge: {held} KiB; closed: {after} KiB")
        finally:
            hub.terminate()
            hub.wait()


if __name__ == "__main__":
    main()
