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
        al = self.allowlist
        assert al is not None
        self.known = set(al.known_macs)  # a copy: learned gateway MACs are added here
        self.camera_vlans = al.camera_vlans
        # Routers (camera-subnet gateways) the plan lists without a MAC: the first MAC seen
        # speaking for that address, or routing a planned camera's traffic, is learned
        # (trust on first use; a later change is the ARP detector's binding change).
        self.unlearned_routers = set(al.routers_without_mac)
        self.camera_macs = {m for m, h in al.host_by_mac.items() if h.kind == "camera"}
        self.reported: set[bytes] = set()

    def frame(self, pkt: Packet, flow: Flow | None) -> None:
        mac = pkt.src_mac
        if self.unlearned_routers and mac in self.camera_macs and pkt.version:
            self._learn_gateway(pkt)
        if not mac or mac in self.known or mac in self.reported or mac[0] & 1:
            return
        src = pkt.src
        if pkt.ethertype == ETH_ARP and len(pkt.l3) >= 28:
            src = pkt.l3[14:18]
        if src in self.unlearned_routers:
            self.unlearned_routers.discard(src)
            self.known.add(mac)
            return
        if self.unlearned_routers and not _attributable(src):
            # A router the plan lists without a MAC speaks from its link-local address (router
            # solicitation, neighbour discovery) or from no address (DHCP, ARP probe) before its
            # first IPv4 frame: judging the MAC on such a frame would flag the gateway itself.
            # The MAC is judged on its first frame that names an address; once every router is
            # learned, an unknown MAC is flagged on any frame.
            return
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

    def _learn_gateway(self, pkt: Packet) -> None:
        """A planned camera sending off its subnet addresses the frame to its gateway."""
        dmac = pkt.dst_mac
        if not dmac or dmac[0] & 1 or dmac in self.known:
            return
        sz, dz = self.engine.zone(pkt.src), self.engine.zone(pkt.dst)
        if sz is not None and dz is not None and sz.id != dz.id:
            self.known.add(dmac)
            if sz.site is not None:
                self.unlearned_routers -= {ip for ip in self.unlearned_routers if self.engine.zone(ip) is sz}


def _attributable(src: bytes) -> bool:
    """An address that says who speaks: not empty, not unspecified, not IPv6 link-local (fe80::/10)."""
    if not src or not any(src):
        return False
    return not (len(src) == 16 and src[0] == 0xFE and src[1] & 0xC0 == 0x80)
