"""The flow table: bounded memory under any traffic, including a scan of millions of flows.

A flow is one bidirectional connection, found by a canonical key (protocol and the two
endpoints in a fixed order, no MACs) and by each directional key the engine's fast path
slices out of frames (which include the source MAC). Two limits keep memory bounded: an idle
TTL (swept periodically, in capture time) and a hard size cap (oldest-created flows go
first when it is reached, in batches so the cost is amortised).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

DEFAULT_MAX_FLOWS = 200_000
DEFAULT_TTL = 120.0


class Flow:
    """State of one connection. ``fast`` means: count its packets, inspect nothing."""

    __slots__ = (
        "alerted",
        "camera",
        "conn",
        "dead",
        "fast",
        "first",
        "fwd_src",
        "inspected",
        "keys",
        "last",
        "packets",
        "rule",
    )

    def __init__(self, conn: bytes, ts: float, fwd_src: bytes) -> None:
        self.conn = conn
        self.keys: list[bytes] = []
        self.first = ts
        self.last = ts
        self.packets = 0
        self.fast = False
        self.dead = False
        self.inspected = 0  # payload packets handed to deep inspection so far
        self.fwd_src = fwd_src  # packed address of the endpoint that opened the flow
        self.rule: str | None = None  # id of the allowlist rule that allows it
        self.camera: str | None = None  # camera id, when the flow is a camera's stream
        self.alerted = False

    @property
    def id(self) -> int:
        """A stable 51-bit id like Suricata's flow_id (fits a JSON number exactly); computed
        only when an alert needs it, so a scan of new flows does not pay for hashing."""
        return int.from_bytes(hashlib.blake2b(self.conn, digest_size=8).digest(), "big") >> 13


def conn_key(proto: int, a: bytes, ap: int, b: bytes, bp: int) -> bytes:
    """Direction-independent connection key."""
    x = a + ap.to_bytes(2, "big")
    y = b + bp.to_bytes(2, "big")
    return bytes((proto,)) + (x + y if x <= y else y + x)


class FlowTable:
    def __init__(self, max_flows: int = DEFAULT_MAX_FLOWS, ttl: float = DEFAULT_TTL) -> None:
        self.max_flows = max_flows
        self.ttl = ttl
        self.by_key: dict[bytes, Flow] = {}
        self.by_conn: dict[bytes, Flow] = {}
        self.evicted = 0
        self.expired = 0

    def __len__(self) -> int:
        return len(self.by_conn)

    def __iter__(self) -> Iterator[Flow]:
        return iter(self.by_conn.values())

    def get_conn(self, conn: bytes) -> Flow | None:
        return self.by_conn.get(conn)

    def create(self, conn: bytes, ts: float, fwd_src: bytes) -> Flow:
        if len(self.by_conn) >= self.max_flows:
            # Drop the oldest tenth at once: amortised O(1) per new flow.
            self._evict(max(1, self.max_flows // 10))
        flow = Flow(conn, ts, fwd_src)
        self.by_conn[conn] = flow
        return flow

    def bind(self, key: bytes, flow: Flow) -> None:
        """Attach a directional key so the fast path finds the flow from raw bytes."""
        # A flow seen through at most a few MACs (both sides of a router, a trunk mirror);
        # the cap keeps fuzzed MACs from growing one flow's key list without bound.
        if key not in self.by_key and len(flow.keys) < 4:
            self.by_key[key] = flow
            flow.keys.append(key)

    def _drop(self, flow: Flow) -> None:
        flow.dead = True
        self.by_conn.pop(flow.conn, None)
        for k in flow.keys:
            self.by_key.pop(k, None)

    def _evict(self, count: int) -> None:
        victims = []
        for flow in self.by_conn.values():
            victims.append(flow)
            if len(victims) >= count:
                break
        for flow in victims:
            self._drop(flow)
        self.evicted += len(victims)

    def expire(self, now: float) -> int:
        """Drop flows idle for longer than the TTL; returns how many."""
        limit = now - self.ttl
        old = [f for f in self.by_conn.values() if f.last < limit]
        for f in old:
            self._drop(f)
        self.expired += len(old)
        return len(old)
