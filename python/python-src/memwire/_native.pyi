"""Type stubs of the native module (the Rust half of ``memwire``)."""

from __future__ import annotations

import os
from types import TracebackType
from typing import Any, final, Dict, List, Mapping, Optional, Sequence, Tuple, Type, Union

#: A variable as ``(name, kind, count, writable)``; ``kind`` is one of
#: ``u8 u16 u32 u64 i8 i16 i32 i64 f32 f64 bool bytes``.
_VariableTuple = Tuple[str, str, int, bool]

#: A schema: a list of ``(name, kind)``, ``(name, kind, count)`` or
#: ``(name, kind, count, writable)`` tuples, or a dict of ``name: kind`` or
#: ``name: (kind, count, writable)``.
_SchemaSpec = Union[
    Sequence[Sequence[Union[str, int, bool]]],
    Mapping[str, Union[str, Sequence[Union[str, int, bool]]]],
]

#: A variable's value: ``int``, ``float`` or ``bool`` for a scalar,
#: ``bytes`` for a ``bytes`` variable, a read-only ``numpy.ndarray`` (a copy)
#: for an array.
_Value = Any

_PathLike = Union[str, os.PathLike[str]]

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

class MemwireError(Exception):
    """Every error memwire raises."""

class BadPath(MemwireError):
    """A region path is not ``tenant/region``."""

class BadAddress(MemwireError):
    """A hub URL is not tcp://, tls:// or unix://."""

class RegionNotFound(MemwireError):
    """No region has that path."""

class RegionExists(MemwireError):
    """A region already exists at the path."""

class RegionUnusable(MemwireError):
    """The region file is unfit to map or was removed, replaced or truncated while open."""

class SchemaMismatch(MemwireError):
    """The region's variables are not the schema expected."""

class UnknownVariable(MemwireError):
    """No variable has that name."""

class WrongValue(MemwireError):
    """A value does not fit its variable (kind, length, or a bool other than 0 or 1)."""

class WriterBusy(MemwireError):
    """Another writer holds the region."""

class WriterStalled(MemwireError):
    """A write stayed in progress longer than the stall bound."""

class ConnectFailed(MemwireError):
    """The hub could not be reached."""

class AuthFailed(MemwireError):
    """The hub refused the client's name, tenant or secret."""

class AccessDenied(MemwireError):
    """The client has no right to do that."""

class NotConnected(MemwireError):
    """The client is reconnecting; try again."""

class HubRefused(MemwireError):
    """The hub refused for another reason, named in the message."""

class Closed(MemwireError):
    """The handle or client is closed."""

@final
class Change:
    """What changed since the last event."""

    @property
    def generation(self) -> int:
        """The generation the region or mirror is at."""
    @property
    def names(self) -> List[str]:
        """The variables that changed, in id order."""
    @property
    def resynced(self) -> bool:
        """Every variable may have changed (a mirror's resync); ``False`` for a region."""
    def __contains__(self, name: str, /) -> bool: ...

@final
class Watcher:
    """Waits for commits to a shared region; several commits between two looks make one event."""

    def wait(self, timeout: Optional[float] = None) -> Optional[Change]:
        """Blocks (without the GIL) until a commit or ``timeout`` seconds; ``None`` on timeout."""
    def poll(self) -> Optional[Change]:
        """The change since the last event, without blocking."""
    @property
    def generation(self) -> int:
        """The generation as of the last event."""
    def __aiter__(self) -> Watcher: ...
    async def __anext__(self) -> Change: ...

@final
class Region:
    """A shared region opened for reading."""

    @staticmethod
    def open(
        path: str, root: Optional[_PathLike] = None, stall_bound: Optional[float] = None
    ) -> Region:
        """Opens region ``path`` (``tenant/region``) under ``root`` (default as in Rust)."""
    @property
    def path(self) -> str:
        """The region's path, ``tenant/region``."""
    @property
    def file(self) -> str:
        """The region file."""
    @property
    def schema(self) -> List[_VariableTuple]:
        """The variables, in offset order."""
    @property
    def generation(self) -> int:
        """The generation (number of commits)."""
    @property
    def writer_pid(self) -> int:
        """The pid of the process holding the writer lock (0 if none recorded)."""
    def read(self, name: str) -> _Value:
        """A consistent copy of variable ``name``."""
    def read_many(self, names: Sequence[str]) -> Dict[str, _Value]:
        """Consistent copies of ``names`` as of one moment."""
    def snapshot(self) -> Dict[str, _Value]:
        """A consistent copy of every variable."""
    def watch(self) -> Watcher:
        """A watcher of the changes from now on."""

@final
class Writer:
    """A shared region held for writing: the only writer until ``close()``."""

    @staticmethod
    def create(path: str, schema: _SchemaSpec, root: Optional[_PathLike] = None) -> Writer:
        """Creates region ``path`` with ``schema``; ``RegionExists`` if one is there."""
    @staticmethod
    def open(path: str, root: Optional[_PathLike] = None) -> Writer:
        """Opens existing region ``path`` and holds it."""
    @staticmethod
    def open_or_create(path: str, schema: _SchemaSpec, root: Optional[_PathLike] = None) -> Writer:
        """Opens region ``path``, creating it if absent; ``SchemaMismatch`` if it differs."""
    def set(self, name: str, value: _Value) -> int:
        """Writes ``value`` to ``name`` and commits; the new generation."""
    def write(self, name: str, data: bytes) -> int:
        """Writes raw ``data`` (exactly the variable's length) and commits; the new generation."""
    def set_many(self, values: Dict[str, _Value]) -> int:
        """Writes several variables in one commit; the new generation."""
    def publish(self) -> int:
        """Marks the current state consistent (a hub's ``manual`` policy); the generation."""
    def apply_requests(self) -> Optional[int]:
        """Applies writes other processes asked of this writer; the last generation or ``None``."""
    def close(self) -> None:
        """Lets go of the region; reads and writes then raise ``Closed``."""
    def __enter__(self) -> Writer: ...
    def __exit__(
        self,
        kind: Optional[Type[BaseException]],
        value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> bool:
        """Closes it; exceptions propagate."""
    @property
    def path(self) -> str:
        """The region's path, ``tenant/region``."""
    @property
    def schema(self) -> List[_VariableTuple]:
        """The variables, in offset order."""
    @property
    def generation(self) -> int:
        """The generation (number of commits)."""
    def read(self, name: str) -> _Value:
        """A consistent copy of variable ``name``."""
    def read_many(self, names: Sequence[str]) -> Dict[str, _Value]:
        """Consistent copies of ``names`` as of one moment."""
    def snapshot(self) -> Dict[str, _Value]:
        """A consistent copy of every variable."""
    def watch(self) -> Watcher:
        """A watcher of the changes from now on."""

@final
class MirrorChanges:
    """A mirror's change events, one per update the hub sent."""

    def wait(self, timeout: Optional[float] = None) -> Optional[Change]:
        """Blocks (without the GIL) until the next event or ``timeout``; ``None`` on timeout."""
    def __aiter__(self) -> MirrorChanges: ...
    async def __anext__(self) -> Change: ...

@final
class Mirror:
    """A hub region mirrored locally; writes go through the hub."""

    @property
    def path(self) -> str:
        """The region's path, ``tenant/region``."""
    @property
    def schema(self) -> List[_VariableTuple]:
        """The variables, in offset order."""
    @property
    def generation(self) -> int:
        """The generation the mirror holds."""
    @property
    def is_ended(self) -> bool:
        """Whether the hub ended the subscription."""
    def read(self, name: str) -> _Value:
        """A consistent copy of variable ``name``."""
    def read_many(self, names: Sequence[str]) -> Dict[str, _Value]:
        """Consistent copies of ``names`` as of one moment."""
    def snapshot(self) -> Dict[str, _Value]:
        """A consistent copy of every variable."""
    def set(self, name: str, value: _Value) -> int:
        """Writes ``value`` through the hub; the generation it was committed at."""
    def write(self, name: str, data: bytes) -> int:
        """Writes raw ``data`` through the hub; the generation it was committed at."""
    def changes(self) -> MirrorChanges:
        """The change events from now on."""

@final
class Client:
    """A connection to a hub, kept up: it reconnects and resyncs its mirrors."""

    def subscribe(self, path: str) -> Mirror:
        """Mirrors region ``path``; returns once the mirror holds a full copy."""
    @property
    def is_connected(self) -> bool:
        """Whether the client is connected now."""
    @property
    def connections(self) -> int:
        """How many times the client has connected."""
    def close(self) -> None:
        """Closes the connection; the mirrors end."""
    def __enter__(self) -> Client: ...
    def __exit__(
        self,
        kind: Optional[Type[BaseException]],
        value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> bool:
        """Closes it; exceptions propagate."""

def connect(
    url: str,
    client: str,
    tenant: str,
    secret: str,
    tls_ca: Optional[_PathLike] = None,
    *,
    local_root: Optional[_PathLike] = None,
    connect_timeout: float = 10.0,
) -> Client:
    """Connects to the hub at ``url`` as ``client`` of ``tenant`` with ``secret``."""
