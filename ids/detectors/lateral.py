"""Lateral movement: SMB (445, 139) and RDP (3389) between hosts of camera/operator zones.

Neither protocol has any business inside these zones (DESIGN.md: no camera talks to a
camera; operator workstations only view), so any such connection is flagged, allowed or not.
"""

from __future__ import annotations

from ids.decode import Packet
from ids.detectors.base import Detector
from ids.flows import Flow
from ids.signatures import LATERAL_MOVEMENT

PORTS = frozenset({139, 445, 3389})
ZONES = frozenset({"cameras", "operators"})


class Lateral(Detector):
    name = "lateral"
    needs_plan = True

    def new_flow(self, pkt: Packet, flow: Flow) -> None:
        if pkt.proto not in (6, 17) or pkt.dport not in PORTS:
            return
        if pkt.proto == 6 and pkt.flags & 0x10:
            return
        sz, dz = self.engine.zone(pkt.src), self.engine.zone(pkt.dst)
        if sz is not None and dz is not None and sz.zone in ZONES and dz.zone in ZONES:
            self.engine.alert(LATERAL_MOVEMENT, pkt, flow=flow, detail=f"port {pkt.dport} {sz.id} -> {dz.id}")
