"""Community ID v1 flow hashing (corelight community-id-spec, version 1).

The hash is ``base64(sha1(seed:u16 | saddr | daddr | proto:u8 | pad:u8 | sport:u16 | dport:u16))``
prefixed with ``1:``, where the endpoints are ordered so both directions of a flow hash alike
(smaller address first; on equal addresses, smaller port first). For ICMP/ICMPv6 the "ports"
are type and code, and a one-way message is mapped to its counterpart so that echo and echo
reply share an ID (spec section "ICMP").
"""

from __future__ import annotations

import base64
import hashlib
import struct

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_ICMPV6 = 58
PROTO_SCTP = 132

# type -> counterpart type (spec tables for ICMPv4 and ICMPv6).
_ICMP4_PAIRS = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
_ICMP6_PAIRS = {128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130}
_PORTED = {PROTO_TCP, PROTO_UDP, PROTO_SCTP}


def _icmp_ports(proto: int, itype: int, code: int) -> tuple[int, int, bool]:
    """(sport, dport, one_way) per the spec: one-way messages are never reordered."""
    pairs = _ICMP4_PAIRS if proto == PROTO_ICMP else _ICMP6_PAIRS
    if itype in pairs:
        return itype, pairs[itype], False
    return itype, code, True


def community_id_v1(  # noqa: PLR0917 - the spec's tuple order
    saddr: bytes, daddr: bytes, proto: int, sport: int = 0, dport: int = 0, seed: int = 0
) -> str:
    """Community ID of a flow; addresses are packed (4 or 16 bytes), ports host integers.

    For ICMP pass the type as ``sport`` and the code as ``dport``.
    """
    one_way = False
    if proto in (PROTO_ICMP, PROTO_ICMPV6):
        sport, dport, one_way = _icmp_ports(proto, sport, dport)
    has_ports = proto in _PORTED or proto in (PROTO_ICMP, PROTO_ICMPV6)
    if not one_way and (saddr, sport) > (daddr, dport):
        saddr, daddr, sport, dport = daddr, saddr, dport, sport
    data = struct.pack("!H", seed) + saddr + daddr + struct.pack("!BB", proto, 0)
    if has_ports:
        data += struct.pack("!HH", sport, dport)
    digest = hashlib.sha1(data, usedforsecurity=False).digest()
    return "1:" + base64.b64encode(digest).decode("ascii")
