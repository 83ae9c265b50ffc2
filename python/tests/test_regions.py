"""Shared regions from Python: reads, writes, schemas and snapshots, and
the cross-language pairs with Rust processes."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import List

import numpy as np
import pytest

import memwire
from conftest import Child, binary

SCHEMA = [
    ("speed", "f32", 1, False),
    ("count", "u64"),
    ("flags", "bool", 1, True),
    ("name", "bytes", 8),
    ("samples", "i16", 4, True),
]


def test_values_of_every_shape(root: Path) -> None:
    with memwire.Writer.create("lab/robot", SCHEMA, root=root) as writer:
        writer.set("speed", 1.5)
        writer.set("count", 2**63 + 5)
        writer.set("flags", True)
        writer.write("name", b"abcdefgh")
        writer.set("samples", [1, -2, 3, -4])
        region = memwire.Region.open("lab/robot", root=root)
        assert region.read("speed") == 1.5
        assert region.read("count") == 2**63 + 5
        assert region.read("flags") is True
        assert region.read("name") == b"abcdefgh"
        samples = region.read("samples")
        assert isinstance(samples, np.ndarray) and samples.dtype == np.int16
        assert samples.tolist() == [1, -2, 3, -4]
        # A copy of its own: not writable, and not changed by later commits.
        assert not samples.flags.writeable
        writer.set("samples", np.array([9, 9, 9, 9]))
        assert samples.tolist() == [1, -2, 3, -4]
        assert region.read_many(["speed", "flags"]) == {"speed": 1.5, "flags": True}
        snapshot = region.snapshot()
        assert list(snapshot) == [name for name, *_ in SCHEMA]
        assert snapshot["samples"].tolist() == [9, 9, 9, 9]
        assert region.generation == writer.generation == 6


def test_schema_as_a_dict_is_the_same_region(root: Path) -> None:
    spec = {"speed": "f32", "count": ("u64",), "samples": ("i16", 4, True)}
    memwire.Writer.create("lab/a", spec, root=root).close()
    as_list = [("speed", "f32"), ("count", "u64"), ("samples", "i16", 4, True)]
    with memwire.Writer.open_or_create("lab/a", as_list, root=root) as writer:
        assert writer.schema == [
            ("speed", "f32", 1, False),
            ("count", "u64", 1, False),
            ("samples", "i16", 4, True),
        ]


def test_set_many_is_one_commit(root: Path) -> None:
    with memwire.Writer.create("lab/robot", SCHEMA, root=root) as writer:
        watcher = memwire.Region.open("lab/robot", root=root).watch()
        before = writer.generation
        generation = writer.set_many({"speed": 2.0, "samples": [4, 3, 2, 1]})
        assert generation == before + 1
        change = watcher.wait(10)
        assert change is not None
        assert change.generation == generation
        assert change.names == ["speed", "samples"]
        assert "speed" in change and "count" not in change


def test_python_reads_what_a_rust_writer_process_wrote(root: Path) -> None:
    out = Child([binary("record-writer"), str(root), "lab/sensors", "21.5"])
    assert out.line().startswith("created")
    out.process.wait()
    region = memwire.Region.open("lab/sensors", root=root)
    assert region.read("temperature") == 21.5
    assert region.read("history").tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert region.snapshot()["setpoint"] == 20.0  # as record-writer stores it
    assert ("setpoint", "f32", 1, True) in region.schema


def test_a_rust_reader_process_reads_what_python_writes(
    root: Path, children: List[Child]
) -> None:
    # Every word of `words` holds the same counter: a torn read would show two.
    writer = memwire.Writer.create("lab/words", [("words", "u32", 256)], root=root)
    stop = threading.Event()

    def write() -> None:
        n = 1
        while not stop.is_set():
            writer.set("words", np.full(256, n, dtype=np.uint32))
            n += 1

    thread = threading.Thread(target=write)
    thread.start()
    try:
        check = Child([binary("shm-child"), str(root), "lab/words", "check", "words", "200000"])
        children.append(check)
        line = check.line()
        assert check.process.wait() == 0, line
        reads, distinct, _stalls = (int(x) for x in line.split())
        assert reads == 200000
        assert distinct > 1, "the reader saw no write of the Python writer"
    finally:
        stop.set()
        thread.join()
    writer.close()
