"""Unknown device: a source MAC the inventory does not list, seen on a camera segment.

A camera port is authenticated by 802.1X/MAB; a MAC the plan does not know on that segment
is a device plugged in place of a camera (ANSSI hygiene guide, partitioning; CNIL: access to
the video-protection network). Multicast/broadcast source bits are ignored (malformed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ids.alerts import mac_text
from ids.decode import ETH_ARP, Packet
from ids.detectors.base import Detector
from ids.flows import Flow
from ids.signatures import UNKNOWN_DEVICE

if TYPE_CHECKING:
    from ids.engine import Engine


class UnknownDevice(Detector):
    name = "unknown_device"
    needs_plan = True

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        assert self.allowlist is not None
        self.known = self.allowlist.known_macs
        self.camera_vlans = self.allowlist.camera_vlans
        self.reported: set[bytes] = set()

    def frame(self, pkt: Packet, flow: Flow | None) -> None:
        mac = pkt.src_mac
        if not mac or mac in self.known or mac in self.reported or mac[0] & 1:
            return
        src = pkt.src
        if pkt.ethertype == ETH_ARP and len(pkt.l3) >= 28:
            src = pkt.l3[14:18]
        zone = self.engine.zone(src) if src and any(src) else None
        on_camera_vlan = pkt.vlan is not None and pkt.vlan in self.camera_vlans
        if not on_camera_vlan and (zone is None or zone.zone != "cameras"):
            return
        if len(self.reported) > 100_000:
            self.reported.clear()
        self.reported.add(mac)
        self.engine.alert(
            UNKNOWN_DEVICE,
            pkt,
            flow=flow,
            src=src,
            dst=pkt.dst if pkt.version else b"",
            detail=f"MAC {mac_text(mac)} not in the inventory",
            dedup=mac,
            extra={"mac": mac_text(mac)},
        )
