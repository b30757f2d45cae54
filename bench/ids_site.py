"""Synthetic site capture for the IDS benchmarks: 60 cameras, mostly RTP, some control, a few
attacks. Frames are built from byte templates with ``struct`` (a million Scapy builds would
take longer than the benchmark); the allowlist is the test site's (tests/ids/idsite.py),
widened to 60 cameras.
"""

from __future__ import annotations

import json
import random
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "ids"))

from idsite import allowlist_doc  # noqa: E402

from ids.pcapfile import PcapWriter  # noqa: E402

GW_MAC = bytes.fromhex("020000000001")
RECORDER = bytes([10, 0, 10, 10])
N_CAMERAS = 60


def cam_ip(i: int) -> bytes:
    return bytes([10, 64, 0, 11 + i])


def cam_mac(i: int) -> bytes:
    return bytes([2, 0, 0, 0, 1, i + 1])


def _csum(b: bytes) -> int:
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ipv4(src: bytes, dst: bytes, proto: int, payload: bytes, ident: int = 0) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0, src, dst)
    return hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:] + payload


def udp(sport: int, dport: int, data: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def tcp(sport: int, dport: int, flags: int, data: bytes = b"", seq: int = 1) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + data


def eth(dst: bytes, src: bytes, payload: bytes, ethertype: int = 0x0800) -> bytes:
    return dst + src + struct.pack("!H", ethertype) + payload


def allowlist_60(path: Path) -> Path:
    doc = allowlist_doc()
    doc["hosts"] = [h for h in doc["hosts"] if h["kind"] != "camera"] + [
        {
            "id": f"cam-{i:03d}",
            "kind": "camera",
            "zone_id": "s-ing-01:cameras",
            "site": "s-ing-01",
            "ip": ".".join(map(str, cam_ip(i))),
            "mac": ":".join(f"{b:02x}" for b in cam_mac(i)),
            "commune": "ingeville",
        }
        for i in range(N_CAMERAS)
    ]
    path.write_text(json.dumps(doc))
    return path


def site_frames(total: int, seed: int = 7) -> list[tuple[float, bytes]]:
    """``total`` frames: ~97 % RTP, ~2.5 % control (RTCP, RTSP, NTP, DNS, ARP), a few attacks."""
    rnd = random.Random(seed)
    out: list[tuple[float, bytes]] = []
    rtp_tpl = [
        bytearray(
            eth(GW_MAC, cam_mac(i), ipv4(cam_ip(i), RECORDER, 17, udp(6970, 50000 + 2 * i, b"\x80\x60" + bytes(1190))))
        )
        for i in range(N_CAMERAS)
    ]
    t = 1_790_000_000.0
    rate = 25_000.0  # the site's packet rate: 60 cameras at ~4 Mbit/s
    control = 0
    attacks = 0
    seq = 0
    while len(out) < total:
        t += 1 / rate
        r = rnd.random()
        i = rnd.randrange(N_CAMERAS)
        if r < 0.97:
            tpl = rtp_tpl[i]
            seq += 1
            struct.pack_into("!HI", tpl, 44, seq & 0xFFFF, seq * 3600 & 0xFFFFFFFF)
            out.append((t, bytes(tpl)))
            continue
        if r < 0.995:
            control += 1
            kind = control % 5
            if kind == 0:
                p = eth(
                    GW_MAC, cam_mac(i), ipv4(cam_ip(i), RECORDER, 17, udp(6971, 50001 + 2 * i, b"\x80\xc8" + bytes(26)))
                )
            elif kind == 1:
                p = eth(
                    cam_mac(i),
                    GW_MAC,
                    ipv4(
                        RECORDER, cam_ip(i), 6, tcp(40000 + i, 554, 0x18, b"GET_PARAMETER rtsp://c/ RTSP/1.0\r\n\r\n")
                    ),
                )
            elif kind == 2:
                p = eth(
                    GW_MAC, cam_mac(i), ipv4(cam_ip(i), bytes([10, 0, 20, 123]), 17, udp(123, 123, b"\x23" + bytes(47)))
                )
            elif kind == 3:
                p = eth(
                    GW_MAC,
                    cam_mac(i),
                    ipv4(
                        cam_ip(i),
                        bytes([10, 0, 20, 53]),
                        17,
                        udp(33000 + i, 53, bytes.fromhex("1234010000010000000000000377777706676f75760266720000010001")),
                    ),
                )
            else:
                arp = struct.pack(
                    "!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, cam_mac(i), cam_ip(i), bytes(6), bytes([10, 64, 0, 1])
                )
                p = eth(b"\xff" * 6, cam_mac(i), arp, 0x0806)
            out.append((t, p))
            continue
        # attacks: a port scan and telnet attempts from a rogue device on a camera port
        attacks += 1
        attacker_mac = bytes.fromhex("026666666666")
        port = 1 + attacks % 1024
        p = eth(
            GW_MAC,
            attacker_mac,
            ipv4(bytes([10, 64, 0, 200]), cam_ip(attacks % 60), 6, tcp(40000 + attacks % 20000, port, 0x02)),
        )
        out.append((t, p))
    return out


def write_site(path: Path, total: int) -> Path:
    with PcapWriter(path) as w:
        for t, f in site_frames(total):
            w.write(t, f)
    return path


if __name__ == "__main__":
    write_site(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000)
