"""What a detector is: a small object with up to three hooks the engine calls.

``new_flow`` sees the first packet of each connection, ``frame`` every frame that reaches the
slow path (everything the fast path did not settle: new flows, inspected flows, ARP, ICMP,
DHCP, DNS...), ``tick`` runs once a second of capture time. The engine only calls the hooks a
detector overrides, and detectors say which ports they need payloads for (``inspect_ports``)
so every other flow can go to the fast path after its first packet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from ids.decode import Packet
    from ids.engine import Engine
    from ids.flows import Flow


class Detector:
    name: ClassVar[str] = ""
    needs_plan: ClassVar[bool] = False
    inspect_ports: ClassVar[frozenset[int]] = frozenset()

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.allowlist = engine.allowlist

    def new_flow(self, pkt: Packet, flow: Flow) -> None:
        """First packet of a connection (the opener's direction)."""

    def frame(self, pkt: Packet, flow: Flow | None) -> None:
        """A frame on the slow path."""

    def tick(self, now: float) -> None:
        """Periodic work, once per second of capture time."""


class WindowCounter:
    """Per-key counts over fixed windows of capture time, bounded in keys."""

    def __init__(self, window: float, max_keys: int = 50_000) -> None:
        self.window = window
        self.max_keys = max_keys
        self._d: dict[object, tuple[float, int]] = {}

    def add(self, key: object, ts: float, n: int = 1) -> int:
        start, count = self._d.get(key, (ts, 0))
        if ts - start >= self.window or ts < start:
            start, count = ts, 0
        count += n
        if key not in self._d and len(self._d) >= self.max_keys:
            self._d.clear()
        self._d[key] = (start, count)
        return count


class WindowSets:
    """Per-key distinct values over fixed windows, bounded in keys and values per key."""

    def __init__(self, window: float, max_keys: int = 20_000, max_values: int = 4096) -> None:
        self.window = window
        self.max_keys = max_keys
        self.max_values = max_values
        self._d: dict[object, tuple[float, set[object]]] = {}

    def add(self, key: object, value: object, ts: float) -> int:
        entry = self._d.get(key)
        if entry is None or ts - entry[0] >= self.window or ts < entry[0]:
            if entry is None and len(self._d) >= self.max_keys:
                self._d.clear()
            entry = (ts, set())
            self._d[key] = entry
        values = entry[1]
        if len(values) < self.max_values:
            values.add(value)
        return len(values)
