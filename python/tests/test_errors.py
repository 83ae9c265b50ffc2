"""Every error kind of the shared-memory half, raised where Rust returns it,
with the Rust message."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

import memwire
from conftest import Child, binary

SCHEMA = [("x", "u32"), ("flag", "bool"), ("raw", "bytes", 4), ("arr", "u32", 8)]


def test_the_hierarchy() -> None:
    for name in memwire.__all__:
        kind = getattr(memwire, name)
        if isinstance(kind, type) and issubclass(kind, BaseException):
            assert issubclass(kind, memwire.MemwireError)


def test_region_not_found(root: Path) -> None:
    with pytest.raises(memwire.RegionNotFound, match="no region at"):
        memwire.Region.open("lab/none", root=root)
    with pytest.raises(memwire.RegionNotFound):
        memwire.Writer.open("lab/none", root=root)


def test_region_exists(root: Path) -> None:
    memwire.Writer.create("lab/r", SCHEMA, root=root).close()
    with pytest.raises(memwire.RegionExists, match="already exists"):
        memwire.Writer.create("lab/r", SCHEMA, root=root)


def test_bad_path(root: Path) -> None:
    with pytest.raises(memwire.BadPath, match="expected tenant/region"):
        memwire.Region.open("no-slash", root=root)


def test_schema_mismatch(root: Path) -> None:
    memwire.Writer.create("lab/r", SCHEMA, root=root).close()
    with pytest.raises(memwire.SchemaMismatch, match="differ from the expected schema"):
        memwire.Writer.open_or_create("lab/r", [("x", "u64")], root=root)


def test_unknown_variable_and_wrong_values(root: Path) -> None:
    with memwire.Writer.create("lab/r", SCHEMA, root=root) as writer:
        with pytest.raises(memwire.UnknownVariable, match="no variable named nope"):
            writer.set("nope", 1)
        with pytest.raises(memwire.UnknownVariable):
            memwire.Region.open("lab/r", root=root).read("nope")
        with pytest.raises(memwire.WrongValue):
            writer.write("raw", b"too long")
        with pytest.raises(memwire.WrongValue):
            writer.set("arr", [1, 2, 3])
        # A byte other than 0 or 1 in a bool, as an untyped writer may leave it.
        writer.write("flag", b"\x07")
        with pytest.raises(memwire.WrongValue, match="valid bool"):
            writer.read("flag")
        with pytest.raises(OverflowError):
            writer.set("x", -1)


def test_writer_busy_while_a_rust_process_writes(root: Path, children: List[Child]) -> None:
    memwire.Writer.create("lab/r", SCHEMA, root=root).close()
    idle = Child([binary("shm-child"), str(root), "lab/r", "idle"], stdin=True)
    children.append(idle)
    assert idle.line() == "ready"
    with pytest.raises(memwire.WriterBusy, match=f"pid {idle.process.pid}"):
        memwire.Writer.open("lab/r", root=root)
    # The same in one process: the lock is per open writer.
    idle.send("")
    assert idle.line() == "none"
    idle.send("")
    assert idle.process.wait() == 0
    with memwire.Writer.open("lab/r", root=root):
        with pytest.raises(memwire.WriterBusy):
            memwire.Writer.open("lab/r", root=root)


def test_writer_stalled_by_a_write_left_open(root: Path, children: List[Child]) -> None:
    memwire.Writer.create("lab/r", SCHEMA, root=root).close()
    stuck = Child([binary("shm-child"), str(root), "lab/r", "die-mid-write", "x"])
    children.append(stuck)
    assert stuck.line() == "in-write"
    region = memwire.Region.open("lab/r", root=root, stall_bound=0.05)
    with pytest.raises(memwire.WriterStalled, match="left a write in progress"):
        region.read("x")


def test_closed(root: Path) -> None:
    writer = memwire.Writer.create("lab/r", SCHEMA, root=root)
    writer.close()
    with pytest.raises(memwire.Closed):
        writer.set("x", 1)
    with pytest.raises(memwire.Closed):
        writer.read("x")
