"""Alerts in Suricata's EVE JSON shape, plus cloison metadata, and their rate limiting.

The EVE ``alert`` record (Suricata docs, "Eve JSON Format") is kept field for field so SIEM
pipelines that ingest Suricata ingest this sensor unchanged; ``community_id`` follows the
Community ID v1 spec; cloison's own fields (site, zones, camera, control IDs) sit under
``cloison``. Deduplication: one alert per (signature, source, destination) per window, and at
most a burst of alerts per signature per window, so a flood yields a few alerts, not a million.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ids.community_id import community_id_v1
from ids.signatures import Signature

Sink = Callable[[dict[str, Any]], None]
PROTO_NAMES = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "IPv6-ICMP", 0: ""}


def ip_text(addr: bytes) -> str:
    if len(addr) == 4:
        return socket.inet_ntop(socket.AF_INET, addr)
    if len(addr) == 16:
        return socket.inet_ntop(socket.AF_INET6, addr)
    return ""


def mac_text(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def eve_timestamp(ts: float) -> str:
    """Suricata's timestamp format: local-offset ISO 8601 with microseconds; UTC here."""
    sec = int(ts)
    usec = round((ts - sec) * 1e6)
    if usec >= 1_000_000:
        sec, usec = sec + 1, usec - 1_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{usec:06d}+0000"


@dataclass
class Alert:
    sig: Signature
    ts: float
    src: bytes = b""
    dst: bytes = b""
    sport: int = 0
    dport: int = 0
    proto: int = 0
    iface: str = ""
    flow_id: int = 0
    detail: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_eve(self) -> dict[str, Any]:
        eve: dict[str, Any] = {
            "timestamp": eve_timestamp(self.ts),
            "flow_id": self.flow_id,
            "in_iface": self.iface,
            "event_type": "alert",
            "src_ip": ip_text(self.src),
            "dest_ip": ip_text(self.dst),
            "proto": PROTO_NAMES.get(self.proto, str(self.proto)),
        }
        if self.proto in (6, 17):
            eve["src_port"] = self.sport
            eve["dest_port"] = self.dport
        elif self.proto in (1, 58):
            eve["icmp_type"] = self.sport
            eve["icmp_code"] = self.dport
        if len(self.src) in (4, 16) and len(self.src) == len(self.dst) and self.proto:
            eve["community_id"] = community_id_v1(self.src, self.dst, self.proto, self.sport, self.dport)
        eve["alert"] = {
            "action": "allowed",
            "gid": 1,
            "signature_id": self.sig.sid,
            "rev": 1,
            "signature": self.sig.name,
            "category": self.sig.category,
            "severity": self.sig.severity,
        }
        cloison = {"controls": list(self.sig.controls), **self.meta}
        if self.detail:
            cloison["detail"] = self.detail
        eve["cloison"] = cloison
        return eve


class RateLimiter:
    """Suppress repeats: per (sid, src, dst) once per ``window`` s, per sid ``burst`` per window.

    Time is capture time, so a replay suppresses exactly like the live sensor. State is
    bounded: the per-pair table is cleared when it outgrows ``max_keys``.
    """

    def __init__(self, window: float = 60.0, burst: int = 20, max_keys: int = 100_000) -> None:
        self.window = window
        self.burst = burst
        self.max_keys = max_keys
        self._seen: dict[tuple[int, bytes, bytes], float] = {}
        self._bucket: dict[int, tuple[float, int]] = {}
        self.suppressed = 0

    def allow(self, sid: int, src: bytes, dst: bytes, ts: float) -> bool:
        key = (sid, src, dst)
        last = self._seen.get(key)
        if last is not None and ts - last < self.window:
            self.suppressed += 1
            return False
        start, count = self._bucket.get(sid, (ts, 0))
        if ts - start >= self.window:
            start, count = ts, 0
        if count >= self.burst:
            self.suppressed += 1
            return False
        self._bucket[sid] = (start, count + 1)
        if len(self._seen) >= self.max_keys:
            self._seen.clear()
        self._seen[key] = ts
        return True
