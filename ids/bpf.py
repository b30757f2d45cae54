"""The kernel filter: leave allowlisted bulk out before it ever reaches Python.

From the allowlist, media flows are: UDP rules from the ``cameras`` zone to ``recording``
(RTP, RFC 3550) and TCP rules from ``recording`` to ``cameras`` on the RTSP port (RTP
interleaved in RTSP, RFC 2326 section 10.12, what the reference plan uses). The filter drops
that bulk except RTCP (odd UDP ports), connection set-up/tear-down and a 1-in-64 sample, so
the sensor still sees each stream's heartbeat at a few frames per second instead of hundreds.
The sample is counter-based, not random (classic BPF has no random): RTP frames whose sequence
number ends in six zero bits, TCP segments whose IPv4 identification does (Linux counts IDs
up per connected socket). A stack sending ID 0 gets no TCP filtering: it fails safe.
libpcap (through Scapy's ``compile_filter``/``attach_filter``) compiles it to classic BPF.
"""

from __future__ import annotations

from ids.allowlist import Allowlist


def media_exclusion(al: Allowlist) -> str | None:
    """A pcap-filter expression passing everything but allowlisted media bulk; None if none."""
    terms: list[str] = []
    for rule in al.rules:
        if rule.proto == 17 and rule.src_zone == "cameras" and rule.dst_zone == "recording":
            src = " or ".join(f"src net {c}" for c in rule.src_cidrs)
            dst = " or ".join(f"dst net {c}" for c in rule.dst_cidrs)
            ports = _ports("dst", rule.ports) or "udp"
            # udp[3] is the low byte of the destination port: even = RTP, odd = RTCP.
            # udp[11] is the low byte of the RTP sequence number (RFC 3550 5.1).
            terms.append(f"(udp and ({src}) and ({dst}) and ({ports}) and udp[3] & 1 = 0 and udp[11] & 0x3f != 0)")
        elif rule.proto == 6 and rule.src_zone == "recording" and rule.dst_zone == "cameras":
            if not any(a <= 554 <= b or a <= 8554 <= b for a, b in rule.ports):
                continue
            # RTSP with interleaved RTP: the bulk is camera -> recorder on the RTSP port.
            # Segments opening or closing a connection always pass.
            src = " or ".join(f"src net {c}" for c in rule.dst_cidrs)
            dst = " or ".join(f"dst net {c}" for c in rule.src_cidrs)
            ports = _ports("src", rule.ports)
            terms.append(
                f"(tcp and ({src}) and ({dst}) and ({ports}) and "
                f"tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) = 0 and ip[5] & 0x3f != 0)"
            )
    if not terms:
        return None
    return "not (" + " or ".join(terms) + ")"


def _ports(direction: str, ports: tuple[tuple[int, int], ...]) -> str:
    return " or ".join(f"{direction} port {a}" if a == b else f"{direction} portrange {a}-{b}" for a, b in ports)
