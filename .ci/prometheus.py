#!/usr/bin/env python3
"""A real Prometheus server scrapes a hub while clients use it.

Usage: prometheus.py MEMWIRE_BINARY

Starts `memwire serve` (the built-in configuration with its metrics
listener on) and Debian's `prometheus` on loopback, with a scrape job
pointing at the hub every second. Waits for the first scrape, then logs in,
writes, subscribes, has a login and a write refused, and checks through
Prometheus' HTTP API that each counter moved by exactly what was done.
Standard library only; every wait has a deadline.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

DEADLINE = 60.0
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TOML = os.path.join(HERE, "..", "std-adapter", "src", "hub", "default.toml")

# What the traffic below must add to each series.
EXPECTED = {
    'memwire_logins_total{outcome="ok"}': 5,
    'memwire_logins_total{outcome="wrong proof"}': 1,
    'memwire_writes_total{outcome="ok"}': 3,
    'memwire_writes_total{outcome="access denied"}': 1,
    'memwire_connections_total{transport="TCP"}': 6,
    'memwire_region_commits_total{tenant="demo",region="sensors"}': 3,
    'memwire_scan_seconds_count{tenant="demo",region="sensors"}': 3,
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(what, done):
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        if done():
            return
        time.sleep(0.2)
    sys.exit(f"prometheus test: timed out waiting for {what}")


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def query(prom, expr):
    """The instant value of `expr` (0 when it has no sample)."""
    url = f"http://127.0.0.1:{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as answer:
        body = json.load(answer)
    if body.get("status") != "success":
        sys.exit(f"prometheus test: query {expr} failed: {body}")
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def main():
    memwire = os.path.abspath(sys.argv[1])
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        sys.exit("prometheus test: no `prometheus` on PATH (apt-get install prometheus)")
    tmp = tempfile.mkdtemp(prefix="memwire-prometheus-")
    tcp, http, prom = free_port(), free_port(), free_port()
    with open(DEFAULT_TOML) as f:
        config = f.read()
    listen = 'tcp = "127.0.0.1:7878"'
    assert listen in config
    config = config.replace(listen, f'tcp = "127.0.0.1:{tcp}"\nhttp = "127.0.0.1:{http}"')
    with open(os.path.join(tmp, "hub.toml"), "w") as f:
        f.write(config)
    with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
        f.write(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: memwire\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{http}']\n"
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMWIRE_") and k != "RUST_LOG"}
    env["MEMWIRE_ROOT"] = os.path.join(tmp, "root")
    log = open(os.path.join(tmp, "processes.log"), "w")
    processes = []
    try:
        processes.append(
            subprocess.Popen(
                [memwire, "serve", "--config", os.path.join(tmp, "hub.toml")],
                env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            )
        )
        wait("the hub to listen", lambda: listening(tcp))
        processes.append(
            subprocess.Popen(
                [
                    prometheus,
                    f"--config.file={os.path.join(tmp, 'prometheus.yml')}",
                    f"--storage.tsdb.path={os.path.join(tmp, 'data')}",
                    f"--web.listen-address=127.0.0.1:{prom}",
                ],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            )
        )
        wait("Prometheus to listen", lambda: listening(prom))
        wait("Prometheus' first scrape of the hub", lambda: query(prom, 'up{job="memwire"}') == 1.0)
        before = {series: query(prom, series) for series in EXPECTED}

        client_env = dict(env, MEMWIRE_HUB=f"tcp://127.0.0.1:{tcp}")

        def client(*args, ok=True):
            run = subprocess.run([memwire, *args], env=client_env, capture_output=True, text=True, timeout=30)
            if (run.returncode == 0) != ok:
                sys.exit(f"prometheus test: memwire {' '.join(args)}: {run.returncode}\n{run.stdout}{run.stderr}")

        for value in ("20.5", "21.5", "22.5"):
            client("set", "demo/sensors/setpoint", value)
        client("get", "demo/sensors")
        viewer = ["--client", "viewer", "--secret", "memwire-viewer-secret"]
        client("set", *viewer, "demo/sensors/setpoint", "1", ok=False)
        client("get", "--secret", "wrong", "demo/sensors", ok=False)

        moved = {}

        def counted():
            for series, by in EXPECTED.items():
                moved[series] = query(prom, series) - before[series]
            return all(moved[s] == by for s, by in EXPECTED.items())

        end = time.monotonic() + DEADLINE
        while not counted():
            if time.monotonic() > end:
                lines = "\n".join(f"  {s}: moved {moved[s]}, expected {by}" for s, by in EXPECTED.items())
                sys.exit(f"prometheus test: the counters Prometheus scraped did not move as expected:\n{lines}")
            time.sleep(0.5)
        rss = query(prom, "memwire_process_resident_memory_bytes")
        if rss <= 0:
            sys.exit("prometheus test: no resident memory scraped")
        print(f"prometheus test: {len(EXPECTED)} counters moved as expected; the hub's memory {rss / 1e6:.1f} MB")
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
