"""memwire from Python: shared-memory regions and the hub client.

Local regions::

    import memwire
    writer = memwire.Writer.open_or_create("demo/robot", [("speed", "f32", 1, False)])
    writer.set("speed", 1.5)
    region = memwire.Region.open("demo/robot")
    region.read("speed")                      # 1.5

Through a hub::

    client = memwire.connect("tcp://127.0.0.1:7878", "demo", "demo", "memwire-demo-secret")
    sensors = client.subscribe("demo/sensors")
    sensors.set("setpoint", 21.5)

Every class wraps the Rust library ``memwire-std``; see ``docs/python.md``.
"""

from ._native import (
    AccessDenied,
    AuthFailed,
    BadAddress,
    BadPath,
    Change,
    Client,
    Closed,
    ConnectFailed,
    HubRefused,
    MemwireError,
    Mirror,
    MirrorChanges,
    NotConnected,
    Region,
    RegionExists,
    RegionNotFound,
    RegionUnusable,
    SchemaMismatch,
    UnknownVariable,
    Watcher,
    Writer,
    WriterBusy,
    WriterStalled,
    WrongValue,
    connect,
)

__all__ = [
    "AccessDenied",
    "AuthFailed",
    "BadAddress",
    "BadPath",
    "Change",
    "Client",
    "Closed",
    "ConnectFailed",
    "HubRefused",
    "MemwireError",
    "Mirror",
    "MirrorChanges",
    "NotConnected",
    "Region",
    "RegionExists",
    "RegionNotFound",
    "RegionUnusable",
    "SchemaMismatch",
    "UnknownVariable",
    "Watcher",
    "Writer",
    "WriterBusy",
    "WriterStalled",
    "WrongValue",
    "connect",
]
