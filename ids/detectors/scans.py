"""Horizontal scans (one source, one port, many hosts) and vertical scans (many ports, one host).

Counted on connection openers only: TCP segments without ACK (SYN, FIN, NULL, Xmas probes),
UDP first datagrams and ICMP echo requests. With a plan only flows the allowlist does not
allow count (a recorder polling sixty cameras on 554 is not a scan), so thresholds can be low.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ids.decode import Packet
from ids.detectors.base import Detector, WindowSets
from ids.flows import Flow
from ids.signatures import SCAN_HORIZONTAL, SCAN_VERTICAL

if TYPE_CHECKING:
    from ids.engine import Engine

WINDOW = 60.0


class Scans(Detector):
    name = "scans"

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        plan = self.allowlist is not None
        self.h_threshold = int(engine.options.get("scan_hosts", 16 if plan else 64))
        self.v_threshold = int(engine.options.get("scan_ports", 16 if plan else 64))
        self.hosts = WindowSets(WINDOW)
        self.ports = WindowSets(WINDOW)

    def new_flow(self, pkt: Packet, flow: Flow) -> None:
        if flow.rule is not None:
            return
        proto = pkt.proto
        if proto == 6:
            if pkt.flags & 0x10:
                return  # ACK set: the middle of a connection, not a probe
        elif proto in (1, 58):
            if pkt.sport not in (8, 128):
                return
        elif proto != 17:
            return
        port = pkt.dport if proto in (6, 17) else -1
        nh = self.hosts.add((pkt.src, proto, port), pkt.dst, pkt.ts)
        if nh == self.h_threshold:
            self.engine.alert(
                SCAN_HORIZONTAL, pkt, flow=flow, dedup=pkt.src, detail=f"{nh} hosts on port {port} within {WINDOW:.0f}s"
            )
        if port >= 0:
            nv = self.ports.add((pkt.src, pkt.dst), (proto, port), pkt.ts)
            if nv == self.v_threshold:
                self.engine.alert(SCAN_VERTICAL, pkt, flow=flow, detail=f"{nv} ports on one host within {WINDOW:.0f}s")
