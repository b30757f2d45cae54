"""Raw-bytes header decoding: link layer to L4 ports without Scapy.

Everything before deep inspection is decided here with ``struct``/slicing on the frame bytes:
Ethernet II with stacked 802.1Q/802.1ad tags (IEEE 802.1Q), Linux cooked capture SLL and SLL2,
raw IP, IPv4 (RFC 791, fragments), IPv6 with extension headers (RFC 8200), TCP (RFC 9293),
UDP (RFC 768), ICMP/ICMPv6 (RFC 792/4443) and ARP (RFC 826). Malformed or truncated input
yields a :class:`Packet` with less filled in, never an exception.

The flow key is ``src_mac | proto | saddr | daddr | sport | dport``; for an untagged IPv4
Ethernet frame it is exactly ``frame[6:12] + frame[23:24] + frame[26:38]``, which is what the
engine's fast path slices without decoding anything.
"""

from __future__ import annotations

import struct

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
# DLT_RAW is 12 on most systems and 14 on OpenBSD; pcap files carry either.
RAW_LINKTYPES = {LINKTYPE_RAW, 12, 14, LINKTYPE_IPV4, LINKTYPE_IPV6}
SUPPORTED_LINKTYPES = {LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2} | RAW_LINKTYPES

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_ARP = 0x0806
ETH_EAPOL = 0x888E
VLAN_TPIDS = {0x8100, 0x88A8, 0x9100}
_V6_EXT = {0, 43, 60, 51}  # hop-by-hop, routing, destination options, AH
_U16 = struct.Struct("!H")
_U16x2 = struct.Struct("!HH")


class Packet:
    """One decoded frame. Addresses are packed bytes; absent fields are empty/zero."""

    __slots__ = (
        "dport",
        "dst",
        "dst_mac",
        "ethertype",
        "flags",
        "frame",
        "iface",
        "l3",
        "linktype",
        "payload",
        "proto",
        "sport",
        "src",
        "src_mac",
        "ts",
        "version",
        "vlan",
    )

    def __init__(self, ts: float, frame: bytes, linktype: int, iface: str) -> None:
        self.ts = ts
        self.frame = frame
        self.linktype = linktype
        self.iface = iface
        self.src_mac = b""
        self.dst_mac = b""
        self.vlan: int | None = None
        self.ethertype = 0
        self.l3 = b""
        self.version = 0
        self.src = b""
        self.dst = b""
        self.proto = 0
        self.sport = 0  # ICMP: type
        self.dport = 0  # ICMP: code
        self.flags = 0  # TCP flags
        self.payload = b""  # L4 payload (TCP/UDP data, ICMP body after the 4-byte header)

    @property
    def has_ports(self) -> bool:
        return self.proto in (6, 17) and self.version != 0

    def key(self) -> bytes:
        """Directional flow key (same bytes as the engine's fast-path slice)."""
        return self.src_mac + bytes((self.proto,)) + self.src + self.dst + _U16x2.pack(self.sport, self.dport)


def decode(ts: float, frame: bytes, linktype: int, iface: str = "") -> Packet:
    """Decode as far as the bytes allow."""
    pkt = Packet(ts, frame, linktype, iface)
    n = len(frame)
    if linktype == LINKTYPE_ETHERNET:
        if n < 14:
            return pkt
        pkt.dst_mac = frame[0:6]
        pkt.src_mac = frame[6:12]
        off = 12
        et = _U16.unpack_from(frame, off)[0]
        off += 2
        while et in VLAN_TPIDS and off + 4 <= n:
            tci, et = _U16x2.unpack_from(frame, off)
            if pkt.vlan is None:
                pkt.vlan = tci & 0x0FFF
            off += 4
    elif linktype == LINKTYPE_LINUX_SLL:
        if n < 16:
            return pkt
        halen = _U16.unpack_from(frame, 4)[0]
        if halen == 6:
            pkt.src_mac = frame[6:12]
        et = _U16.unpack_from(frame, 14)[0]
        off = 16
    elif linktype == LINKTYPE_LINUX_SLL2:
        if n < 20:
            return pkt
        et = _U16.unpack_from(frame, 0)[0]
        if frame[11] == 6:
            pkt.src_mac = frame[12:18]
        off = 20
    elif linktype in RAW_LINKTYPES:
        if n < 1:
            return pkt
        v = frame[0] >> 4
        et = ETH_IPV4 if v == 4 else ETH_IPV6 if v == 6 else 0
        off = 0
    else:
        return pkt
    pkt.ethertype = et
    l3 = frame[off:]
    pkt.l3 = l3
    if et == ETH_IPV4:
        _ipv4(pkt, l3)
    elif et == ETH_IPV6:
        _ipv6(pkt, l3)
    return pkt


def _ipv4(pkt: Packet, b: bytes) -> None:
    if len(b) < 20 or b[0] >> 4 != 4:
        return
    ihl = (b[0] & 0x0F) * 4
    if ihl < 20 or len(b) < ihl:
        return
    total = _U16.unpack_from(b, 2)[0]
    end = min(len(b), total) if total >= ihl else len(b)
    pkt.version = 4
    pkt.proto = b[9]
    pkt.src = b[12:16]
    pkt.dst = b[16:20]
    if _U16.unpack_from(b, 6)[0] & 0x1FFF:
        return  # a non-first fragment carries no L4 header
    _l4(pkt, b[ihl:end])


def _ipv6(pkt: Packet, b: bytes) -> None:
    if len(b) < 40 or b[0] >> 4 != 6:
        return
    pkt.version = 6
    pkt.src = b[8:24]
    pkt.dst = b[24:40]
    plen = _U16.unpack_from(b, 4)[0]
    end = min(len(b), 40 + plen) if plen else len(b)
    nh = b[6]
    off = 40
    for _ in range(8):  # bounded: a fuzzed chain of extension headers must not loop forever
        if nh in _V6_EXT:
            if off + 2 > end:
                pkt.proto = nh
                return
            hlen = (b[off + 1] + 2) * 4 if nh == 51 else (b[off + 1] + 1) * 8
            nh = b[off]
            off += hlen
        elif nh == 44:  # fragment header
            if off + 8 > end:
                pkt.proto = nh
                return
            frag_off = _U16.unpack_from(b, off + 2)[0] >> 3
            nh = b[off]
            off += 8
            if frag_off:
                pkt.proto = nh
                return
        else:
            break
    pkt.proto = nh
    if off <= end:
        _l4(pkt, b[off:end])


def _l4(pkt: Packet, b: bytes) -> None:
    proto = pkt.proto
    if proto == 6:
        if len(b) < 20:
            return
        pkt.sport, pkt.dport = _U16x2.unpack_from(b, 0)
        doff = (b[12] >> 4) * 4
        pkt.flags = b[13]
        if doff >= 20:
            pkt.payload = b[doff:]
    elif proto == 17:
        if len(b) < 8:
            return
        pkt.sport, pkt.dport = _U16x2.unpack_from(b, 0)
        pkt.payload = b[8:]
    elif proto in (1, 58):
        if len(b) < 4:
            return
        pkt.sport, pkt.dport = b[0], b[1]
        pkt.payload = b[4:]
