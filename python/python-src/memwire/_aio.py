"""Waiting for change events in ``asyncio``.

A watcher's or mirror's ``wait`` blocks a thread (without the GIL), so the
event loop runs it in its default executor, in slices short enough that a
cancelled ``async for`` lets go of its thread soon after.
"""

from __future__ import annotations

import asyncio
from typing import Optional, Protocol

from ._native import Change

#: The longest one executor call waits, in seconds.
SLICE = 0.2


class Waiter(Protocol):
    def wait(self, timeout: Optional[float] = None) -> Optional[Change]: ...


async def next_change(waiter: Waiter) -> Change:
    """The next change of ``waiter``, waited for off the event loop."""
    loop = asyncio.get_running_loop()
    while True:
        change = await loop.run_in_executor(None, waiter.wait, SLICE)
        if change is not None:
            return change
