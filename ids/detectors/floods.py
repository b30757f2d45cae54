"""SYN, ICMP echo and DHCP floods: packets per second above a threshold.

One alert per victim (or segment) per window, whatever the number of forged sources; the
counters are fixed one-second windows in capture time. DHCP starvation (many client
hardware addresses, RFC 2131 ``chaddr``) is counted over ten seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ids.decode import Packet
from ids.detectors.base import Detector, WindowCounter, WindowSets
from ids.flows import Flow
from ids.signatures import DHCP_FLOOD, ICMP_FLOOD, SYN_FLOOD

if TYPE_CHECKING:
    from ids.engine import Engine


class Floods(Detector):
    name = "floods"

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        o = engine.options
        self.syn_rate = int(o.get("syn_per_second", 300))
        self.icmp_rate = int(o.get("icmp_per_second", 300))
        self.dhcp_rate = int(o.get("dhcp_per_second", 50))
        self.dhcp_clients = int(o.get("dhcp_clients_per_10s", 40))
        self.syn = WindowCounter(1.0)
        self.icmp = WindowCounter(1.0)
        self.dhcp = WindowCounter(1.0)
        self.chaddr = WindowSets(10.0)

    def frame(self, pkt: Packet, flow: Flow | None) -> None:
        proto = pkt.proto
        if proto == 6:
            if pkt.flags & 0x12 == 0x02:
                n = self.syn.add(pkt.dst, pkt.ts)
                if n == self.syn_rate:
                    self.engine.alert(
                        SYN_FLOOD,
                        pkt,
                        flow=flow,
                        dedup=pkt.dst,
                        detail=f">= {n} SYN/s toward {self.engine.ip(pkt.dst)}",
                    )
        elif proto in (1, 58):
            if pkt.sport in (8, 128):
                n = self.icmp.add(pkt.dst, pkt.ts)
                if n == self.icmp_rate:
                    self.engine.alert(ICMP_FLOOD, pkt, flow=flow, dedup=pkt.dst, detail=f">= {n} echo requests/s")
        elif proto == 17 and pkt.dport == 67 and pkt.sport == 68:
            segment = (pkt.iface, pkt.vlan)
            n = self.dhcp.add(segment, pkt.ts)
            clients = self.chaddr.add(segment, pkt.payload[28:34], pkt.ts)
            if n == self.dhcp_rate or clients == self.dhcp_clients:
                self.engine.alert(
                    DHCP_FLOOD,
                    pkt,
                    flow=flow,
                    dedup=b"dhcp" + str(segment).encode(),
                    detail=f"{n} DHCP requests/s, {clients} client MACs in 10s",
                )
