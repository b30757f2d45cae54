"""The sensor's core: one ``process(ts, linktype, frame)`` call per frame, live or replayed.

Order of decisions, cheapest first (the speed design of issue 5):

1. live only: the kernel BPF filter (``ids/bpf.py``) already left out allowlisted bulk;
2. fast path: for untagged or 802.1Q-tagged Ethernet IPv4 TCP/UDP, slice the directional flow
   key out of the raw bytes and, if its flow is settled (``flow.fast``), count and return --
   no decoding, no objects;
3. slow path: decode headers from raw bytes (``ids/decode.py``), find or create the flow,
   classify it against the allowlist once, run the detectors' hooks; only the detectors that
   need it hand payloads to Scapy (DNS, DHCP, RA).
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ids.alerts import Alert, RateLimiter, Sink, ip_text
from ids.allowlist import Allowlist, Host, Zone
from ids.decode import LINKTYPE_ETHERNET, Packet, decode
from ids.detectors.base import Detector
from ids.flows import DEFAULT_MAX_FLOWS, DEFAULT_TTL, Flow, FlowTable, conn_key
from ids.signatures import Signature

INSPECT_LIMIT = 64  # payload packets per flow handed to deep inspection before going fast
# Low-volume protocols where every message matters (DNS/DHCP volume, FTP/telnet logins).
UNLIMITED_PORTS = frozenset({21, 23, 53, 67, 68, 547})
SWEEP_EVERY = 5.0


class Engine:
    def __init__(
        self,
        allowlist: Allowlist | None,
        sinks: Iterable[Sink] = (),
        *,
        detectors: Iterable[type[Detector]] | None = None,
        max_flows: int = DEFAULT_MAX_FLOWS,
        flow_ttl: float = DEFAULT_TTL,
        limiter: RateLimiter | None = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        from ids.detectors import registry  # noqa: PLC0415 - detectors import this module

        self.allowlist = allowlist
        self.options = options or {}
        self.sinks = list(sinks)
        self.flows = FlowTable(max_flows, flow_ttl)
        self._by_key = self.flows.by_key
        self.limiter = limiter or RateLimiter()
        self.now = 0.0
        self._next_tick = 0.0
        self._next_sweep = 0.0
        self.packets = 0
        self.slow = 0
        self.dissected = 0  # Scapy dissections, counted by the detectors that ask for one
        self.maintenance_flows = 0
        self.alerts_by_sid: Counter[int] = Counter()
        self.signatures: dict[int, Signature] = {}
        chosen = list(detectors) if detectors is not None else list(registry.ALL)
        self.detectors = [cls(self) for cls in chosen if allowlist is not None or not cls.needs_plan]
        self._new_flow = [d for d in self.detectors if _overrides(d, "new_flow")]
        self._frame = [d for d in self.detectors if _overrides(d, "frame")]
        self._tick = [d for d in self.detectors if _overrides(d, "tick")]
        ports: set[int] = set()
        for d in self.detectors:
            ports |= d.inspect_ports
        self.inspect_ports = frozenset(ports)
        self._ip_cache: dict[bytes, str] = {}

    # -- hot path ----------------------------------------------------------------------
    def process(self, ts: float, linktype: int, frame: bytes, iface: str = "") -> None:
        self.packets += 1
        if ts >= self._next_tick:
            self._on_tick(ts)
        if linktype == LINKTYPE_ETHERNET and len(frame) >= 42:
            # Raw-bytes fast path: no decode, no allocation beyond the key slice.
            if frame[12] == 8 and frame[13] == 0 and frame[14] == 0x45:
                p = frame[23]
                if p in (6, 17) and not (frame[20] & 0x3F or frame[21]):
                    f = self._by_key.get(frame[6:12] + frame[23:24] + frame[26:38])
                    if f is not None and f.fast:
                        f.packets += 1
                        f.last = ts
                        return
            elif frame[12] == 0x81 and frame[13] == 0 and frame[16] == 8 and frame[18] == 0x45:
                p = frame[27]
                if frame[17] == 0 and p in (6, 17) and not (frame[24] & 0x3F or frame[25]):
                    f = self._by_key.get(frame[6:12] + frame[27:28] + frame[30:42])
                    if f is not None and f.fast:
                        f.packets += 1
                        f.last = ts
                        return
        self._slow(decode(ts, frame, linktype, iface))

    def feed(self, records: Iterable[tuple[float, int, bytes]], iface: str = "") -> None:
        """:meth:`process` for a stream of frames: the same decisions with the fast path
        inlined and its state in locals, which is what makes a replay (or the live loop)
        several times faster than a per-frame call. Keep the two in step (a test checks
        they agree on a whole capture)."""
        by_key = self._by_key
        slow = self._slow
        n = 0
        next_tick = self._next_tick
        try:
            for ts, linktype, frame in records:
                n += 1
                if ts >= next_tick:
                    self._on_tick(ts)
                    next_tick = self._next_tick
                if linktype == 1 and len(frame) >= 42:
                    if frame[12] == 8 and frame[13] == 0 and frame[14] == 0x45:
                        p = frame[23]
                        if (p == 17 or p == 6) and not (frame[20] & 0x3F or frame[21]):  # noqa: PLR1714
                            f = by_key.get(frame[6:12] + frame[23:24] + frame[26:38])
                            if f is not None and f.fast:
                                f.packets += 1
                                f.last = ts
                                continue
                    elif frame[12] == 0x81 and frame[13] == 0 and frame[16] == 8 and frame[18] == 0x45:
                        p = frame[27]
                        if frame[17] == 0 and (p == 17 or p == 6) and not (frame[24] & 0x3F or frame[25]):  # noqa: PLR1714
                            f = by_key.get(frame[6:12] + frame[27:28] + frame[30:42])
                            if f is not None and f.fast:
                                f.packets += 1
                                f.last = ts
                                continue
                slow(decode(ts, frame, linktype, iface))
        finally:
            self.packets += n

    def _slow(self, pkt: Packet) -> None:
        self.slow += 1
        flow: Flow | None = None
        if pkt.version and pkt.proto in (1, 6, 17, 58):
            key = pkt.key()
            flow = self._by_key.get(key)
            new = False
            if flow is None:
                conn = conn_key(pkt.proto, pkt.src, pkt.sport, pkt.dst, pkt.dport)
                flow = self.flows.get_conn(conn)
                if flow is None:
                    flow = self.flows.create(conn, pkt.ts, pkt.src)
                    new = True
                self.flows.bind(key, flow)
            flow.packets += 1
            flow.last = pkt.ts
            if flow.fast:
                # Settled flow in a frame the raw fast path cannot slice (IPv6, SLL, raw IP,
                # IPv4 options): decoded, but nothing left for the detectors to do.
                return
            if new:
                self._classify(pkt, flow)
                for d in self._new_flow:
                    d.new_flow(pkt, flow)
        for d in self._frame:
            d.frame(pkt, flow)
        if flow is not None and not flow.fast and pkt.proto in (6, 17):
            ports = self.inspect_ports
            if pkt.sport in ports or pkt.dport in ports:
                if pkt.payload:
                    flow.inspected += 1
                if pkt.sport not in UNLIMITED_PORTS and pkt.dport not in UNLIMITED_PORTS:
                    flow.fast = flow.inspected >= INSPECT_LIMIT
            else:
                flow.fast = True

    def _classify(self, pkt: Packet, flow: Flow) -> None:
        """Which allowlist rule allows the connection, in the opener's direction.

        A pure SYN opens the connection, so only its own direction counts. Any other first
        packet may be the middle of a connection the sensor joined late: accept the reverse
        direction too (its "replies are allowed" rule).
        """
        al = self.allowlist
        if al is None or not pkt.version:
            return
        rule = al.allowed(pkt.proto, pkt.src, pkt.dst, pkt.dport)
        syn_only = pkt.proto == 6 and pkt.flags & 0x12 == 0x02
        echo_request = pkt.proto in (1, 58) and pkt.sport in (8, 128)
        if rule is None and not syn_only and not echo_request:
            rule = al.allowed(pkt.proto, pkt.dst, pkt.src, pkt.sport)
            if rule is not None:
                flow.fwd_src = pkt.dst
        if rule is not None:
            flow.rule = rule.id
            if rule.window == "maintenance":
                self.maintenance_flows += 1  # allowed, but counted apart (the contract's "tagged")

    def _on_tick(self, now: float) -> None:
        self.now = now
        if self._next_tick == 0.0:
            self._next_sweep = now + SWEEP_EVERY
        self._next_tick = now + 1.0
        for d in self._tick:
            d.tick(now)
        window = self.options.get("maintenance_file")
        if window and self.allowlist is not None:
            # The maintenance window is open while this file exists (touched by whoever opens
            # the window, removed when it closes); checked once a second, not per packet.
            self.allowlist.set_maintenance(Path(str(window)).exists())
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_EVERY
            self.flows.expire(now)

    def idle(self, now: float) -> None:
        """Called by the live loop when no packet came for a while: time still passes."""
        if now >= self._next_tick:
            self._on_tick(now)

    # -- helpers for detectors ---------------------------------------------------------
    def zone(self, addr: bytes) -> Zone | None:
        return self.allowlist.zone_of(addr) if self.allowlist is not None and addr else None

    def host(self, addr: bytes) -> Host | None:
        return self.allowlist.host_by_ip.get(addr) if self.allowlist is not None else None

    def ip(self, addr: bytes) -> str:
        s = self._ip_cache.get(addr)
        if s is None:
            if len(self._ip_cache) > 65536:
                self._ip_cache.clear()
            s = self._ip_cache[addr] = ip_text(addr)
        return s

    def alert(
        self,
        sig: Signature,
        pkt: Packet | None = None,
        *,
        flow: Flow | None = None,
        src: bytes | None = None,
        dst: bytes | None = None,
        detail: str = "",
        dedup: bytes | None = None,
        ts: float | None = None,
        extra: dict[str, Any] | None = None,
    ) -> bool:
        """Raise an alert unless rate-limited; returns whether it was emitted."""
        when = ts if ts is not None else (pkt.ts if pkt is not None else self.now)
        s = src if src is not None else (pkt.src if pkt is not None else b"")
        d = dst if dst is not None else (pkt.dst if pkt is not None else b"")
        # ``dedup`` replaces the (src, dst) pair as the repeat key: a flood from spoofed
        # sources is one event per victim, not one per forged address.
        k1, k2 = (dedup, b"") if dedup is not None else (s, d)
        if not self.limiter.allow(sig.sid, k1, k2, when):
            return False
        a = Alert(sig, when, s, d, iface=pkt.iface if pkt is not None else "")
        if pkt is not None and src is None:
            a.sport, a.dport, a.proto = pkt.sport, pkt.dport, pkt.proto
        if flow is not None:
            a.flow_id = flow.id
        a.detail = detail
        a.meta = self._metadata(s, d, extra)
        self.alerts_by_sid[sig.sid] += 1
        self.signatures[sig.sid] = sig
        eve = a.to_eve()
        for sink in self.sinks:
            sink(eve)
        return True

    def _metadata(self, src: bytes, dst: bytes, extra: dict[str, Any] | None) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        if self.allowlist is not None:
            meta["deployment"] = self.allowlist.deployment
            sz, dz = self.zone(src), self.zone(dst)
            site = (sz.site if sz else None) or (dz.site if dz else None)
            if site:
                meta["site"] = site
            if sz:
                meta["zone"] = sz.zone
                meta["zone_id"] = sz.id
            if dz:
                meta["dest_zone"] = dz.zone
            for addr in (src, dst):
                h = self.host(addr)
                if h is not None and h.kind == "camera":
                    meta["camera"] = h.id
                    break
        if extra:
            meta.update(extra)
        return meta

    def stats(self) -> dict[str, int]:
        return {
            "packets": self.packets,
            "slow_path": self.slow,
            "dissected": self.dissected,
            "flows": len(self.flows),
            "flows_evicted": self.flows.evicted,
            "flows_expired": self.flows.expired,
            "alerts": sum(self.alerts_by_sid.values()),
            "alerts_suppressed": self.limiter.suppressed,
            "maintenance_flows": self.maintenance_flows,
        }


def _overrides(d: Detector, name: str) -> bool:
    return getattr(type(d), name) is not getattr(Detector, name)


def packed(ip: str) -> bytes:
    """Packed form of a textual address (helper for tests and the CLI)."""
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    return socket.inet_pton(fam, ip)
