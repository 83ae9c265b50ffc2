"""Fixtures of the Python tests: a private root, the Rust helper binaries
(``memwire``, ``shm-child``, ``record-writer``) and hubs run as processes.

The binaries are looked for in ``$MEMWIRE_BIN_DIR``, else in
``$CARGO_TARGET_DIR/debug``, else in the workspace's ``target/debug``;
build them with ``cargo build -p memwire-cli -p memwire-tests --bins``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator, List, Optional

import pytest

#: The bound of every wait in the tests: generous, never a timing claim.
DEADLINE = 20.0

WORKSPACE = Path(__file__).resolve().parents[2]


def bin_dir() -> Path:
    if "MEMWIRE_BIN_DIR" in os.environ:
        return Path(os.environ["MEMWIRE_BIN_DIR"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", WORKSPACE / "target"))
    return target / "debug"


def binary(name: str) -> str:
    path = bin_dir() / name
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: build it with cargo build -p memwire-cli -p memwire-tests --bins"
        )
    return str(path)


@pytest.fixture
def root() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="memwire-py-") as d:
        os.chmod(d, 0o700)
        yield Path(d)


class Child:
    """A Rust helper process with line-based stdout, killed at the end."""

    def __init__(self, args: List[str], stdin: bool = False) -> None:
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )

    def line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"{self.process.args!r} ended without output (status {self.process.poll()})"
        return line.strip()

    def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@pytest.fixture
def children() -> Iterator[List[Child]]:
    started: List[Child] = []
    yield started
    for child in started:
        child.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_listening(
    port: int, process: "subprocess.Popen[bytes]", log: Callable[[], str] = lambda: ""
) -> None:
    """Returns once `process` accepts connections on `port`."""
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            status = process.poll()
            assert status is None, f"{process.args!r} exited with {status}:\n{log()}"
            assert time.monotonic() < deadline, f"not listening:\n{log()}"
            time.sleep(0.05)


HUB_CONFIG = """
[listen]
tcp = "127.0.0.1:{port}"

[limits]
auth_delay_ms = 0

[publish]
max_rate_hz = 1000

[[tenant]]
name = "demo"

[[tenant.client]]
name = "demo"
secret = "demo-secret"
rights = [{{ regions = "*", access = "read-write" }}]

[[tenant.client]]
name = "viewer"
secret = "viewer-secret"
rights = [{{ regions = "*", access = "read" }}]

[[tenant.region]]
name = "sensors"
variables = [
  {{ name = "temperature", kind = "f32" }},
  {{ name = "counter", kind = "u64" }},
  {{ name = "history", kind = "f32", count = 16 }},
  {{ name = "setpoint", kind = "f32", writable = true }},
]
"""


class Hub:
    """``memwire serve`` on a loopback port, with its own root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="memwire-hub-"))
        (self.dir / "hub.toml").write_text(HUB_CONFIG.format(port=self.port))
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.start()

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def log(self) -> str:
        return (self.dir / "serve.log").read_text(errors="replace")

    def start(self) -> None:
        with open(self.dir / "serve.log", "ab") as log:
            env = dict(os.environ, MEMWIRE_ROOT=str(self.root))
            self.process = subprocess.Popen(
                [binary("memwire"), "serve", str(self.dir / "hub.toml")],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
            )
        wait_listening(self.port, self.process, self.log)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def hub(root: Path) -> Iterator[Hub]:
    h = Hub(root)
    yield h
    h.stop()
