"""The client against a `memwire serve` process: mirroring, writing through
the hub, rights, reconnection, change events and the client's errors."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Callable, List

import pytest

import memwire
from conftest import DEADLINE, Hub, free_port


def until(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        assert time.monotonic() < deadline, f"still not {what}"
        time.sleep(0.02)


def demo(hub: Hub) -> memwire.Client:
    return memwire.connect(hub.url, "demo", "demo", "demo-secret")


def test_a_mirror_follows_a_local_writer(hub: Hub) -> None:
    with memwire.Writer.open("demo/sensors", root=hub.root) as writer, demo(hub) as client:
        sensors = client.subscribe("demo/sensors")
        assert sensors.path == "demo/sensors"
        assert ("setpoint", "f32", 1, True) in sensors.schema
        changes = sensors.changes()
        writer.set_many({"temperature": 21.5, "history": list(range(16))})
        until("mirrored", lambda: sensors.read("temperature") == 21.5)
        assert sensors.read("history").tolist() == list(range(16))
        assert sensors.read_many(["temperature", "counter"]) == {"temperature": 21.5, "counter": 0}
        assert sensors.snapshot()["temperature"] == 21.5
        change = changes.wait(DEADLINE)
        assert change is not None and "temperature" in change


def test_a_write_through_the_hub(hub: Hub) -> None:
    with demo(hub) as client:
        sensors = client.subscribe("demo/sensors")
        generation = sensors.set("setpoint", 3.5)
        assert generation >= 1
        region = memwire.Region.open("demo/sensors", root=hub.root)
        assert region.read("setpoint") == 3.5
        until("mirrored", lambda: sensors.generation >= generation)
        assert sensors.read("setpoint") == 3.5
        # A variable that is not writable, for any client.
        with pytest.raises(memwire.AccessDenied):
            sensors.set("temperature", 1.0)


def test_a_read_only_client_is_denied(hub: Hub) -> None:
    with memwire.connect(hub.url, "viewer", "demo", "viewer-secret") as viewer:
        sensors = viewer.subscribe("demo/sensors")
        assert sensors.read("setpoint") == 0.0
        with pytest.raises(memwire.AccessDenied, match="denied|right"):
            sensors.set("setpoint", 1.0)


def test_resync_after_a_hub_restart(hub: Hub) -> None:
    with demo(hub) as client:
        sensors = client.subscribe("demo/sensors")
        changes = sensors.changes()
        hub.stop()
        until("disconnected", lambda: not client.is_connected)
        with pytest.raises(memwire.NotConnected):
            sensors.set("setpoint", 1.0)
        with memwire.Writer.open("demo/sensors", root=hub.root) as writer:
            writer.set("counter", 42)
        hub.start()
        until("resynced", lambda: sensors.read("counter") == 42)
        assert client.connections >= 2 and client.is_connected
        events: List[memwire.Change] = []
        while (change := changes.wait(0.5)) is not None:
            events.append(change)
        assert any(e.resynced or "counter" in e for e in events)
        assert sensors.set("setpoint", 2.0) >= 1


def test_asyncio_change_events_of_a_mirror(hub: Hub) -> None:
    writer = memwire.Writer.open("demo/sensors", root=hub.root)
    client = demo(hub)
    sensors = client.subscribe("demo/sensors")

    async def run() -> List[List[str]]:
        loop = asyncio.get_running_loop()
        seen: List[List[str]] = []
        changes = sensors.changes()
        for step in ({"counter": 1}, {"temperature": 2.0}, {"counter": 3, "temperature": 4.0}):
            await loop.run_in_executor(None, writer.set_many, step)
            change = await asyncio.wait_for(changes.__anext__(), DEADLINE)
            seen.append(change.names)
        return seen

    assert asyncio.run(run()) == [["counter"], ["temperature"], ["temperature", "counter"]]
    client.close()
    writer.close()


def test_the_client_errors(hub: Hub) -> None:
    with pytest.raises(memwire.BadAddress):
        memwire.connect("http://127.0.0.1:1", "demo", "demo", "demo-secret")
    with pytest.raises(memwire.ConnectFailed):
        memwire.connect(f"tcp://127.0.0.1:{free_port()}", "demo", "demo", "demo-secret")
    with pytest.raises(memwire.AuthFailed):
        memwire.connect(hub.url, "demo", "demo", "wrong-secret")
    client = demo(hub)
    with pytest.raises(memwire.RegionNotFound):
        client.subscribe("demo/none")
    with pytest.raises(memwire.AccessDenied):
        client.subscribe("other/sensors")
    sensors = client.subscribe("demo/sensors")
    changes = sensors.changes()
    with pytest.raises(memwire.UnknownVariable):
        sensors.read("nope")
    with pytest.raises(memwire.WrongValue):
        sensors.write("setpoint", b"\x00")
    client.close()
    # Events already sent may come first; then the end, long before the
    # timeout.
    with pytest.raises(memwire.Closed):
        for _ in range(100):
            assert changes.wait(timeout=10) is not None, "no end after the close"
    with pytest.raises(memwire.Closed):
        client.subscribe("demo/sensors")
    with pytest.raises(memwire.Closed):
        sensors.set("setpoint", 1.0)
