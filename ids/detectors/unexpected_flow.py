"""Unexpected flow: a connection no allowlist rule allows (docs/ids-allowlist.md).

Infrastructure protocols the allowlist does not list on purpose (DHCP, IPv6 neighbour
discovery and MLD, per the contract) are left to their own detectors.
"""

from __future__ import annotations

from ids.decode import Packet
from ids.detectors.base import Detector
from ids.flows import Flow
from ids.signatures import UNEXPECTED_FLOW

_ICMP6_INFRA = frozenset(range(130, 144))  # MLD, RS/RA/NS/NA/redirect (RFC 4861, 3810)


class UnexpectedFlow(Detector):
    name = "unexpected_flow"
    needs_plan = True

    def new_flow(self, pkt: Packet, flow: Flow) -> None:
        if flow.rule is not None:
            return
        if pkt.proto == 17 and (pkt.dport in (67, 68) or pkt.dport == 547):
            return
        if pkt.proto == 58 and pkt.sport in _ICMP6_INFRA:
            return
        sz, dz = self.engine.zone(pkt.src), self.engine.zone(pkt.dst)
        detail = f"{sz.id if sz else '?'} -> {dz.id if dz else '?'} proto {pkt.proto} port {pkt.dport}"
        self.engine.alert(UNEXPECTED_FLOW, pkt, flow=flow, detail=detail)
