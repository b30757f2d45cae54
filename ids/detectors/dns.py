"""DNS to an unapproved resolver, and DNS tunnelling (DNS: RFC 1035).

Queries must go to ``services.dns``. Tunnels show as long, high-entropy query names (data
encoded in labels) and as a volume of TXT/NULL queries (data in answers). Scapy dissects the
DNS message; only port-53 traffic ever reaches it.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING

from scapy.layers.dns import DNS

from ids.decode import Packet
from ids.detectors.base import Detector, WindowCounter
from ids.flows import Flow
from ids.signatures import DNS_RESOLVER, DNS_TUNNEL

if TYPE_CHECKING:
    from ids.engine import Engine

_TXT, _NULL = 16, 10


def entropy(s: str) -> float:
    """Shannon entropy in bits per character."""
    if not s:
        return 0.0
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


def looks_tunnelled(qname: str) -> bool:
    """Long names with a high-entropy subdomain part (base32/base64/hex payloads)."""
    labels = [lb for lb in qname.rstrip(".").split(".") if lb]
    if len(labels) < 3:
        return False
    sub = "".join(labels[:-2])  # drop the registered domain and TLD
    return len(sub) >= 40 and entropy(sub) >= 3.5


class Dns(Detector):
    name = "dns"
    inspect_ports = frozenset({53})

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.volume = WindowCounter(60.0)
        self.txt_threshold = int(engine.options.get("dns_txt_per_minute", 30))

    def frame(self, pkt: Packet, flow: Flow | None) -> None:
        if pkt.dport != 53 or pkt.proto not in (6, 17) or not pkt.payload:
            return
        al = self.allowlist
        if al is not None and pkt.dst not in al.dns:
            self.engine.alert(DNS_RESOLVER, pkt, flow=flow, detail=f"query to {self.engine.ip(pkt.dst)}")
        data = pkt.payload[2:] if pkt.proto == 6 else pkt.payload  # TCP: 2-byte length prefix
        self.engine.dissected += 1
        try:
            msg = DNS(data)
            q = msg.qd[0] if msg.qdcount and msg.qd else None
            if q is None:
                return
            qname = q.qname.decode("ascii", "replace") if isinstance(q.qname, bytes) else str(q.qname)
            qtype = int(q.qtype)
        except Exception:
            return
        if looks_tunnelled(qname):
            self.engine.alert(
                DNS_TUNNEL, pkt, flow=flow, dedup=pkt.src, detail=f"long high-entropy name {qname[:80]!r}"
            )
        elif qtype in (_TXT, _NULL):
            n = self.volume.add(pkt.src, pkt.ts)
            if n == self.txt_threshold:
                self.engine.alert(DNS_TUNNEL, pkt, flow=flow, dedup=pkt.src, detail=f"{n} TXT/NULL queries within 60s")
