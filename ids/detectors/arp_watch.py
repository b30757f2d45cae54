"""IP/MAC binding changes and ARP spoofing (ARP: RFC 826).

Without a plan the sensor learns bindings and flags changes. With a plan, an ARP message that
claims a planned host's address from another MAC than the inventory's is spoofing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ids.alerts import ip_text, mac_text
from ids.allowlist import normalise_mac
from ids.decode import ETH_ARP, Packet
from ids.detectors.base import Detector
from ids.flows import Flow
from ids.signatures import ARP_SPOOF, BINDING_CHANGE

_MAX_BINDINGS = 100_000

if TYPE_CHECKING:
    from ids.engine import Engine


class ArpWatch(Detector):
    name = "arp_watch"

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.bindings: dict[bytes, bytes] = {}
        self.planned: dict[bytes, bytes] = {}
        al = self.allowlist
        if al is not None:
            for ip, host in al.host_by_ip.items():
                if host.mac:
                    self.planned[ip] = normalise_mac(host.mac)

    def frame(self, pkt: Packet, flow: Flow | None) -> None:
        if pkt.ethertype != ETH_ARP:
            return
        b = pkt.l3
        # Ethernet/IPv4 ARP only: htype 1, ptype 0x0800, hlen 6, plen 4.
        if len(b) < 28 or b[0:6] != b"\x00\x01\x08\x00\x06\x04":
            return
        sha, spa = b[8:14], b[14:18]
        if spa == b"\x00\x00\x00\x00":
            return  # ARP probe (RFC 5227): no claim yet
        planned = self.planned.get(spa)
        if planned is not None and planned != sha:
            self.engine.alert(
                ARP_SPOOF,
                pkt,
                src=spa,
                dst=b[24:28],
                detail=f"{ip_text(spa)} claimed by {mac_text(sha)}, plan says {mac_text(planned)}",
                extra={"mac": mac_text(sha)},
            )
            return
        known = self.bindings.get(spa)
        if known is not None and known != sha:
            self.engine.alert(
                BINDING_CHANGE,
                pkt,
                src=spa,
                dst=b[24:28],
                detail=f"{ip_text(spa)} moved from {mac_text(known)} to {mac_text(sha)}",
                extra={"mac": mac_text(sha), "previous_mac": mac_text(known)},
            )
        if len(self.bindings) >= _MAX_BINDINGS and spa not in self.bindings:
            self.bindings.clear()
        self.bindings[spa] = sha
