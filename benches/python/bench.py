"""memwire from Python against Python's own baselines, in one run.

- Reads: an 8-byte and a 1 KiB variable of a local region (``Region.read``,
  a consistent copy as ``bytes``) against the same bytes copied out of a
  ``bytearray`` and out of a ``multiprocessing.shared_memory`` buffer
  (``bytes(view[0:n])``, one copy each, no consistency).
- Wake-up: a commit seen by a Python waiter in another process, answered
  by a commit it waits for in turn (a round trip of two commits and two
  wake-ups), against a ``multiprocessing.Pipe`` round trip between the same
  two processes.

    python benches/python/bench.py [--quick]

Prints one line per figure: nanoseconds per operation (the best of a few
batches) and the ratio to its baseline.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import time
from multiprocessing import shared_memory
from multiprocessing.connection import Connection
from typing import Callable, Dict

import memwire

QUICK = "--quick" in sys.argv
BATCHES = 1 if QUICK else 5
READS = 2_000 if QUICK else 200_000
TRIPS = 50 if QUICK else 5_000


def best(op: Callable[[], object], n: int) -> float:
    """The fastest of BATCHES batches of n calls, in ns per call."""
    times = []
    for _ in range(BATCHES):
        start = time.perf_counter_ns()
        for _ in range(n):
            op()
        times.append((time.perf_counter_ns() - start) / n)
    return min(times)


def reads(root: str) -> Dict[str, float]:
    writer = memwire.Writer.create(
        "bench/reads", [("small", "bytes", 8), ("block", "bytes", 1024)], root=root
    )
    writer.set_many({"small": bytes(range(8)), "block": bytes(1024)})
    region = memwire.Region.open("bench/reads", root=root)
    plain = bytearray(1032)
    shm = shared_memory.SharedMemory(create=True, size=1032)
    out: Dict[str, float] = {}
    try:
        for name, n in (("small", 8), ("block", 1024)):
            view = memoryview(plain)
            buf = shm.buf
            assert buf is not None
            out[f"memwire {n} B"] = best(lambda: region.read(name), READS)
            out[f"bytearray {n} B"] = best(lambda: bytes(view[0:n]), READS)
            out[f"shared_memory {n} B"] = best(lambda: bytes(buf[0:n]), READS)
            view.release()
    finally:
        shm.close()
        shm.unlink()
        writer.close()
    return out


def echo_commits(root: str, ready: Connection) -> None:
    """The other process: answers every ping commit with a pong commit."""
    pong = memwire.Writer.create("bench/pong", [("n", "u64")], root=root)
    watcher = memwire.Region.open("bench/ping", root=root).watch()
    ready.send("ready")
    while True:
        change = watcher.wait(10.0)
        if change is None:
            return
        n = pong.set("n", change.generation)
        if change.generation > TRIPS:
            pong.close()
            return
        del n


def echo_pipe(end: Connection) -> None:
    while True:
        message = end.recv()
        end.send(message)
        if message is None:
            return


def wakeups(root: str) -> Dict[str, float]:
    ping = memwire.Writer.create("bench/ping", [("n", "u64")], root=root)
    here, there = multiprocessing.Pipe()
    child = multiprocessing.Process(target=echo_commits, args=(root, there))
    child.start()
    assert here.recv() == "ready"
    pong = memwire.Region.open("bench/pong", root=root).watch()
    start = time.perf_counter_ns()
    for i in range(TRIPS):
        ping.set("n", i)
        while pong.wait(10.0) is None:
            raise RuntimeError("no answer from the other process")
    commits = (time.perf_counter_ns() - start) / TRIPS
    ping.set("n", TRIPS)
    ping.set("n", TRIPS + 1)
    child.join()
    ping.close()

    child = multiprocessing.Process(target=echo_pipe, args=(there,))
    child.start()
    start = time.perf_counter_ns()
    for i in range(TRIPS):
        here.send(i)
        here.recv()
    pipe = (time.perf_counter_ns() - start) / TRIPS
    here.send(None)
    here.recv()
    child.join()
    return {"memwire commit round trip": commits, "Pipe round trip": pipe}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="memwire-bench-") as root:
        os.chmod(root, 0o700)
        figures = reads(root)
        figures.update(wakeups(root))
    for n in (8, 1024):
        mw = figures[f"memwire {n} B"]
        for base in ("bytearray", "shared_memory"):
            b = figures[f"{base} {n} B"]
            print(f"read {n:5} B: memwire {mw:8.0f} ns, {base:13} {b:6.0f} ns, ratio {mw / b:5.2f}")
    c, p = figures["memwire commit round trip"], figures["Pipe round trip"]
    print(f"wake-up round trip: memwire {c:8.0f} ns, Pipe {p:8.0f} ns, ratio {c / p:5.2f}")


if __name__ == "__main__":
    main()
