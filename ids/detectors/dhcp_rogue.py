"""Rogue DHCP server (DHCP: RFC 2131, message types RFC 2132 option 53).

A server message (OFFER/ACK/NAK) from an address or MAC the plan does not list in
``services.dhcp``; without a plan, a second distinct server on the same segment. Scapy
dissects the BOOTP payload to read the message type and server identifier.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scapy.layers.dhcp import BOOTP, DHCP

from ids.alerts import ip_text, mac_text
from ids.decode import Packet
from ids.detectors.base import Detector
from ids.flows import Flow
from ids.signatures import ROGUE_DHCP

if TYPE_CHECKING:
    from ids.engine import Engine

_SERVER_TYPES = {2: "offer", 5: "ack", 6: "nak"}


def dhcp_options(payload: bytes) -> dict[str, Any]:
    """The DHCP options of a BOOTP payload, dissected by Scapy; {} when malformed."""
    try:
        bootp = BOOTP(payload)
    except Exception:
        return {}
    layer = bootp.getlayer(DHCP)
    if layer is None:
        return {}
    out: dict[str, Any] = {}
    for opt in layer.options:
        if isinstance(opt, tuple) and len(opt) >= 2:
            out[str(opt[0])] = opt[1]
    return out


class RogueDhcp(Detector):
    name = "rogue_dhcp"
    inspect_ports = frozenset({67, 68})

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.learned: dict[object, bytes] = {}

    def frame(self, pkt: Packet, flow: Flow | None) -> None:
        if pkt.proto != 17 or pkt.sport != 67 or pkt.dport != 68 or pkt.version != 4:
            return
        self.engine.dissected += 1
        opts = dhcp_options(pkt.payload)
        mtype = opts.get("message-type")
        if mtype not in _SERVER_TYPES:
            return
        al = self.allowlist
        if al is not None:
            if pkt.src in al.dhcp_ips and (not pkt.src_mac or pkt.src_mac in al.dhcp_macs or not al.dhcp_macs):
                return
        else:
            segment = (pkt.iface, pkt.vlan)
            first = self.learned.setdefault(segment, pkt.src_mac + pkt.src)
            if first == pkt.src_mac + pkt.src:
                return
        self.engine.alert(
            ROGUE_DHCP,
            pkt,
            flow=flow,
            detail=f"DHCP {_SERVER_TYPES[mtype]} from {ip_text(pkt.src)} ({mac_text(pkt.src_mac)})",
            extra={"mac": mac_text(pkt.src_mac)},
        )
