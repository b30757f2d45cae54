"""Rogue IPv6 router advertisement (RFC 4861 section 4.2; RA guard, RFC 6105).

An RA whose sender MAC (Ethernet source or the source link-layer address option) is not a
router of the plan; without a plan, a second router on a segment. Scapy dissects the RA.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scapy.layers.inet6 import ICMPv6NDOptSrcLLAddr, IPv6

from ids.alerts import mac_text
from ids.allowlist import normalise_mac
from ids.decode import Packet
from ids.detectors.base import Detector
from ids.flows import Flow
from ids.signatures import ROGUE_RA

if TYPE_CHECKING:
    from ids.engine import Engine


class RogueRa(Detector):
    name = "rogue_ra"

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.learned: dict[object, bytes] = {}

    def frame(self, pkt: Packet, flow: Flow | None) -> None:
        if pkt.proto != 58 or pkt.sport != 134:
            return
        mac = pkt.src_mac
        self.engine.dissected += 1
        try:
            opt = IPv6(pkt.l3).getlayer(ICMPv6NDOptSrcLLAddr)
            if opt is not None:
                mac = normalise_mac(str(opt.lladdr))
        except Exception:  # noqa: S110 - fuzzed RA: fall back to the frame's MAC
            pass
        al = self.allowlist
        if al is not None:
            if mac in al.router_macs:
                return
        else:
            first = self.learned.setdefault((pkt.iface, pkt.vlan), mac)
            if first == mac:
                return
        self.engine.alert(
            ROGUE_RA,
            pkt,
            flow=flow,
            detail=f"RA from {mac_text(mac)}",
            extra={"mac": mac_text(mac)},
            dedup=mac,
        )
