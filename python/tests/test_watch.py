"""Waiting for changes: blocking with a timeout, and as asyncio events."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any, Dict, List, Tuple

import memwire

SCHEMA = [("a", "u32"), ("b", "f64"), ("c", "u8", 16)]


def test_a_wait_with_a_timeout_returns_none_without_a_change(root: Path) -> None:
    with memwire.Writer.create("lab/w", SCHEMA, root=root) as writer:
        watcher = writer.watch()
        assert watcher.wait(0.05) is None
        assert watcher.poll() is None
        writer.set("a", 1)
        change = watcher.wait(10)
        assert change is not None and change.names == ["a"]
        assert watcher.wait(0.05) is None


def test_a_blocked_wait_lets_other_threads_run(root: Path) -> None:
    # The waiter holds no GIL: a Python thread writes while it sleeps.
    with memwire.Writer.create("lab/w", SCHEMA, root=root) as writer:
        watcher = memwire.Region.open("lab/w", root=root).watch()
        thread = threading.Thread(target=lambda: writer.set("b", 2.5))
        results: List[object] = []

        def wait() -> None:
            results.append(watcher.wait(20))

        waiter = threading.Thread(target=wait)
        waiter.start()
        thread.start()
        thread.join()
        waiter.join()
        change = results[0]
        assert isinstance(change, memwire.Change) and change.names == ["b"]


def test_asyncio_events_arrive_in_order_and_name_the_variables(root: Path) -> None:
    writer = memwire.Writer.create("lab/w", SCHEMA, root=root)
    steps: List[Dict[str, Any]] = [{"a": 1}, {"b": 2.0}, {"a": 3, "c": list(range(16))}, {"c": [0] * 16}]

    async def run() -> List[Tuple[int, List[str]]]:
        loop = asyncio.get_running_loop()
        seen: List[Tuple[int, List[str]]] = []
        watcher = memwire.Region.open("lab/w", root=root).watch()
        for step in steps:
            # The next commit only once the event of the last one arrived.
            await loop.run_in_executor(None, writer.set_many, step)
            change = await asyncio.wait_for(watcher.__anext__(), 20)
            seen.append((change.generation, change.names))
        return seen

    seen = asyncio.run(run())
    assert [names for _, names in seen] == [["a"], ["b"], ["a", "c"], ["c"]]
    generations = [g for g, _ in seen]
    assert generations == sorted(generations) and len(set(generations)) == 4
    writer.close()


def test_async_for_over_a_watcher(root: Path) -> None:
    writer = memwire.Writer.create("lab/w", SCHEMA, root=root)

    async def run() -> List[str]:
        names: List[str] = []
        watcher = writer.watch()
        writing = asyncio.get_running_loop().run_in_executor(None, writer.set, "b", 1.0)
        async for change in watcher:
            names.extend(change.names)
            break
        await writing
        return names

    assert asyncio.run(asyncio.wait_for(run(), 20)) == ["b"]
    writer.close()
