"""The kernel filter: leave allowlisted bulk out before it ever reaches Python.

From the allowlist, every UDP rule from the ``cameras`` zone to the ``recording`` zone is a
media flow (RTP, RFC 3550). The filter drops those datagrams when the destination port is
even (RTP) and keeps odd ports (RTCP), so the sensor still sees each stream's heartbeat for
the stream-stop detector at a few packets per second instead of hundreds. libpcap (through
Scapy's ``compile_filter``/``attach_filter``) compiles the expression to classic BPF.
"""

from __future__ import annotations

from ids.allowlist import Allowlist


def media_exclusion(al: Allowlist) -> str | None:
    """A pcap-filter expression passing everything but allowlisted RTP bulk; None if none."""
    terms: list[str] = []
    for rule in al.rules:
        if rule.proto != 17 or rule.src_zone != "cameras" or rule.dst_zone != "recording":
            continue
        src = " or ".join(f"src net {c}" for c in rule.src_cidrs)
        dst = " or ".join(f"dst net {c}" for c in rule.dst_cidrs)
        ports = " or ".join(f"dst port {a}" if a == b else f"dst portrange {a}-{b}" for a, b in rule.ports) or "udp"
        # udp[3] is the low byte of the destination port: even = RTP, odd = RTCP.
        terms.append(f"(udp and ({src}) and ({dst}) and ({ports}) and udp[3] & 1 = 0)")
    if not terms:
        return None
    return "not (" + " or ".join(terms) + ")"
