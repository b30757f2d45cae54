"""A camera talking to a public address (guardrail: cameras never reach ``internet``).

"Public" is ``ipaddress``'s ``is_global`` (IANA special-purpose registries, RFC 6890).
"""

from __future__ import annotations

import ipaddress

from ids.decode import Packet
from ids.detectors.base import Detector
from ids.flows import Flow
from ids.signatures import CAMERA_PUBLIC


class PublicAddress(Detector):
    name = "public_address"
    needs_plan = True

    def _is_camera(self, addr: bytes) -> bool:
        host = self.engine.host(addr)
        if host is not None:
            return host.kind == "camera"
        zone = self.engine.zone(addr)
        return zone is not None and zone.zone == "cameras"

    def new_flow(self, pkt: Packet, flow: Flow) -> None:
        for cam, other in ((pkt.src, pkt.dst), (pkt.dst, pkt.src)):
            if self._is_camera(cam) and ipaddress.ip_address(other).is_global:
                self.engine.alert(
                    CAMERA_PUBLIC, pkt, flow=flow, detail=f"camera {self.engine.ip(cam)} <-> {self.engine.ip(other)}"
                )
                return
