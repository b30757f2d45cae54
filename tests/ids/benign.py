"""A benign camera site capture of any length: what a quiet site looks like on the mirror port.

Per camera: 802.1X (EAPOL, IEEE 802.1X-2010) and DHCP (RFC 2131) at boot, ARP every minute,
an RTSP session (RFC 2326) opened by the recorder with a Digest challenge and keepalives,
RTP at ``rtp_rate`` packets/s with RTCP sender/receiver reports every 5 s (RFC 3550), ONVIF
SOAP calls (HTTP) from the recorder every minute, NTP (RFC 5905) every 64 s, DNS every 5 min,
recorder pings every 30 s. Control packets are built with Scapy; RTP datagrams are built with
Scapy once per stream and then only their sequence/timestamp bytes change (so a ten-minute
capture takes a second to make).
"""

from __future__ import annotations

import struct
from pathlib import Path

from idsite import (
    CAM_IPS,
    CAM_MACS,
    DNS,
    GW_IP,
    GW_MAC,
    NTP,
    RECORDER,
    SWITCH_MAC,
    cam_frame,
    to_cam,
)
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dns import DNS as DNSMsg
from scapy.layers.dns import DNSQR
from scapy.layers.eap import EAP, EAPOL
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.layers.ntp import NTPHeader
from scapy.packet import Packet, Raw

from ids.pcapfile import PcapWriter

Frame = tuple[float, bytes]


class TcpConv:
    """One TCP connection whose exchanges can be spread over time."""

    def __init__(self, c_eth: Ether, s_eth: Ether, client: str, server: str, sport: int, dport: int) -> None:
        self.cs = c_eth / IP(src=client, dst=server)
        self.sc = s_eth / IP(src=server, dst=client)
        self.sport, self.dport = sport, dport
        self.c, self.s = 1000, 9000
        self.out: list[Frame] = []

    def _c(self, flags: str, t: float, data: bytes = b"") -> None:
        p = self.cs / TCP(sport=self.sport, dport=self.dport, flags=flags, seq=self.c, ack=self.s)
        self.out.append((t, bytes(p / Raw(data)) if data else bytes(p)))
        self.c += len(data)

    def _s(self, flags: str, t: float, data: bytes = b"") -> None:
        p = self.sc / TCP(sport=self.dport, dport=self.sport, flags=flags, seq=self.s, ack=self.c)
        self.out.append((t, bytes(p / Raw(data)) if data else bytes(p)))
        self.s += len(data)

    def open(self, t: float) -> TcpConv:
        p = self.cs / TCP(sport=self.sport, dport=self.dport, flags="S", seq=self.c - 1)
        self.out.append((t, bytes(p)))
        self._s("SA", t + 0.001)
        self.s += 1
        self._c("A", t + 0.002)
        return self

    def exchange(self, req: bytes, resp: bytes, t: float) -> TcpConv:
        self._c("PA", t, req)
        self._s("PA", t + 0.01, resp)
        self._c("A", t + 0.011)
        return self

    def close(self, t: float) -> list[Frame]:
        self._c("FA", t)
        self.c += 1
        self._s("FA", t + 0.001)
        self.s += 1
        self._c("A", t + 0.002)
        return self.out


def _b(p: Packet) -> bytes:
    return bytes(p)


def _camera(i: int, seconds: float, rtp_rate: int, t0: float) -> list[Frame]:
    ip, mac = CAM_IPS[i], CAM_MACS[i]
    cam, gw = cam_frame(i), to_cam(i)
    out: list[Frame] = []
    t = t0 + i * 0.37
    # 802.1X at boot: EAPOL-Start, identity, success (EAP-TLS rounds elided).
    pae = "01:80:c2:00:00:03"
    out += [
        (t, _b(Ether(src=mac, dst=pae) / EAPOL(type=1))),
        (t + 0.01, _b(Ether(src=SWITCH_MAC, dst=mac) / EAPOL(type=0) / EAP(code=1, id=1, type=1))),
        (t + 0.02, _b(Ether(src=mac, dst=pae) / EAPOL(type=0) / EAP(code=2, id=1, type=1, identity=f"cam{i}"))),
        (t + 0.5, _b(Ether(src=SWITCH_MAC, dst=mac) / EAPOL(type=0) / EAP(code=3, id=2))),
    ]
    # DHCP DORA from the site gateway.
    chaddr = bytes.fromhex(mac.replace(":", ""))
    bc = Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=68, dport=67)
    srv = Ether(src=GW_MAC, dst=mac) / IP(src=GW_IP, dst=ip) / UDP(sport=67, dport=68)
    for k, (pkt, mtype) in enumerate([(bc, "discover"), (srv, "offer"), (bc, "request"), (srv, "ack")]):
        op = 2 if pkt is srv else 1
        opts = [("message-type", mtype)] + ([("server_id", GW_IP)] if op == 2 else []) + ["end"]
        out.append(
            (
                t + 1 + k * 0.01,
                _b(pkt / BOOTP(op=op, chaddr=chaddr, yiaddr=ip if op == 2 else "0.0.0.0") / DHCP(options=opts)),
            )
        )
    start = t + 2
    end = t0 + seconds
    # ARP each minute.
    for k in range(int((end - start) // 60) + 1):
        ta = start + k * 60
        out.append((ta, _b(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=mac, psrc=ip, pdst=GW_IP))))
        out.append(
            (ta + 0.001, _b(Ether(src=GW_MAC, dst=mac) / ARP(op=2, hwsrc=GW_MAC, psrc=GW_IP, hwdst=mac, pdst=ip)))
        )
    # RTSP session from the recorder: Digest challenge once, then keepalives every 30 s.
    url = f"rtsp://{ip}/stream1"
    auth = (
        f'Authorization: Digest username="rec", realm="cam", nonce="n{i}", uri="{url}", '
        f'response="5f2c1e0b9a8d7c6b5a4f3e2d1c0b9a88"\r\n'
    )
    rtsp = TcpConv(gw, cam, RECORDER, ip, 40000 + i, 554).open(start)
    rtsp.exchange(
        f"OPTIONS {url} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode(),
        b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: DESCRIBE, SETUP, PLAY\r\n\r\n",
        start + 0.02,
    )
    rtsp.exchange(
        f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 2\r\n\r\n".encode(),
        b'RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Digest realm="cam", nonce="n"\r\n\r\n',
        start + 0.05,
    )
    rtsp.exchange(
        f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 3\r\n{auth}\r\n".encode(),
        b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n",
        start + 0.08,
    )
    rtp_port = 50000 + 2 * i
    rtsp.exchange(
        f"SETUP {url}/track1 RTSP/1.0\r\nCSeq: 4\r\n{auth}Transport: RTP/AVP;unicast;"
        f"client_port={rtp_port}-{rtp_port + 1}\r\n\r\n".encode(),
        b"RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: 1234\r\nTransport: RTP/AVP;unicast;server_port=6970-6971\r\n\r\n",
        start + 0.11,
    )
    rtsp.exchange(
        f"PLAY {url} RTSP/1.0\r\nCSeq: 5\r\n{auth}Session: 1234\r\n\r\n".encode(),
        b"RTSP/1.0 200 OK\r\nCSeq: 5\r\n\r\n",
        start + 0.14,
    )
    k, tk = 6, start + 30
    while tk < end - 1:
        rtsp.exchange(
            f"GET_PARAMETER {url} RTSP/1.0\r\nCSeq: {k}\r\n{auth}Session: 1234\r\n\r\n".encode(),
            f"RTSP/1.0 200 OK\r\nCSeq: {k}\r\n\r\n".encode(),
            tk,
        )
        k, tk = k + 1, tk + 30
    out += rtsp.close(end - 0.5)
    # RTP: one Scapy-built template, then only seq/timestamp bytes change.
    tpl = bytearray(
        _b(
            cam
            / IP(src=ip, dst=RECORDER, id=0)
            / UDP(sport=6970, dport=rtp_port, chksum=0)
            / Raw(b"\x80\x60" + bytes(10) + bytes(1000))
        )
    )
    off = 14 + 20 + 8
    n = int((end - start - 0.2) * rtp_rate)
    for s in range(n):
        struct.pack_into("!HI", tpl, off + 2, s & 0xFFFF, (s * 3600) & 0xFFFFFFFF)
        out.append((start + 0.2 + s / rtp_rate, bytes(tpl)))
    # RTCP both ways every 5 s; ONVIF each minute; NTP every 64 s; DNS every 5 min; pings.
    tr = start + 0.3
    while tr < end - 0.5:
        out.append(
            (
                tr,
                _b(
                    cam
                    / IP(src=ip, dst=RECORDER)
                    / UDP(sport=6971, dport=rtp_port + 1)
                    / Raw(b"\x80\xc8\x00\x06" + bytes(24))
                ),
            )
        )
        out.append(
            (
                tr + 0.01,
                _b(
                    gw
                    / IP(src=RECORDER, dst=ip)
                    / UDP(sport=rtp_port + 1, dport=6971)
                    / Raw(b"\x81\xc9\x00\x07" + bytes(28))
                ),
            )
        )
        tr += 5
    soap = (
        b"POST /onvif/device_service HTTP/1.1\r\nHost: cam\r\nContent-Type: application/"
        b"soap+xml\r\n\r\n<s:Envelope><s:Body><GetSystemDateAndTime/></s:Body></s:Envelope>"
    )
    to = start + 1
    while to < end - 1:
        conv = TcpConv(gw, cam, RECORDER, ip, 45000 + int(to) % 10000, 80).open(to)
        conv.exchange(soap, b"HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\n\r\n<s:Envelope/>", to + 0.01)
        out += conv.close(to + 0.05)
        to += 60
    tn = start + 0.7
    while tn < end - 0.1:
        out.append((tn, _b(cam / IP(src=ip, dst=NTP) / UDP(sport=123, dport=123) / NTPHeader())))
        out.append((tn + 0.002, _b(gw / IP(src=NTP, dst=ip) / UDP(sport=123, dport=123) / NTPHeader(mode=4))))
        tn += 64
    td = start + 0.9
    while td < end - 0.1:
        q = DNSMsg(id=7, rd=1, qd=DNSQR(qname="ntp.ingeagglo.fr"))
        out.append((td, _b(cam / IP(src=ip, dst=DNS) / UDP(sport=33000 + i, dport=53) / q)))
        out.append(
            (
                td + 0.003,
                _b(
                    gw
                    / IP(src=DNS, dst=ip)
                    / UDP(sport=53, dport=33000 + i)
                    / DNSMsg(id=7, qr=1, qd=DNSQR(qname="ntp.ingeagglo.fr"))
                ),
            )
        )
        td += 300
    tp = start + 3
    while tp < end - 0.1:
        out.append((tp, _b(gw / IP(src=RECORDER, dst=ip) / ICMP(type=8, id=i, seq=int(tp) & 0xFFFF))))
        out.append((tp + 0.001, _b(cam / IP(src=ip, dst=RECORDER) / ICMP(type=0, id=i, seq=int(tp) & 0xFFFF))))
        tp += 30
    return out


def benign_site(
    seconds: float = 600.0, cameras: int = 4, rtp_rate: int = 25, t0: float = 1_790_000_000.0
) -> list[Frame]:
    frames: list[Frame] = []
    for i in range(cameras):
        frames += _camera(i, seconds, rtp_rate, t0)
    frames.sort(key=lambda f: f[0])
    return frames


def write(path: Path, frames: list[Frame]) -> Path:
    with PcapWriter(path) as w:
        for t, b in frames:
            w.write(t, b)
    return path
