"""The examples of examples/python, run as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict

from conftest import DEADLINE, WORKSPACE, binary, free_port, wait_listening

EXAMPLES = WORKSPACE / "examples" / "python"


def run(script: str, *args: str, env: Dict[str, str]) -> "subprocess.Popen[str]":
    return subprocess.Popen(
        [sys.executable, str(EXAMPLES / script), *args],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_writer_and_reader(root: Path) -> None:
    env = dict(os.environ, MEMWIRE_ROOT=str(root))
    first = run("writer.py", "1", env=env)
    out, _ = first.communicate(timeout=DEADLINE)
    assert first.returncode == 0 and "generation 1" in out
    reader = run("reader.py", "3", env=env)
    writer = run("writer.py", "200", env=env)
    out, _ = reader.communicate(timeout=DEADLINE)
    writer.kill()
    writer.wait()
    assert reader.returncode == 0, out
    assert out.count("generation") == 3 and "'ticks'" in out


def test_remote(root: Path) -> None:
    port = free_port()
    env = dict(os.environ, MEMWIRE_ROOT=str(root))
    demo = subprocess.Popen(
        [binary("memwire"), "demo", "--listen", f"127.0.0.1:{port}"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, demo)
        remote = run("remote.py", f"tcp://127.0.0.1:{port}", "3", env=env)
        out, _ = remote.communicate(timeout=DEADLINE)
        assert remote.returncode == 0, out
        assert "setpoint written" in out and out.count("generation") >= 3
    finally:
        demo.kill()
        demo.wait()
