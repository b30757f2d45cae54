"""Scans (horizontal, vertical) and floods (SYN, ICMP, DHCP), with rate limiting."""

from __future__ import annotations

import random
from pathlib import Path

from idsite import ATTACKER_IP, CAM_IPS, RECORDER, attacker, replay, sids, to_cam
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from ids import signatures as S


def _syn(src: str, dst: str, sport: int, dport: int, t: float) -> Packet:
    p = attacker() / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags="S")
    p.time = t
    return p


def test_horizontal_scan(tmp_path: Path) -> None:
    pkts = [_syn(ATTACKER_IP, f"10.64.0.{i}", 40000 + i, 80, 1 + i * 0.01) for i in range(2, 60)]
    got = sids(replay(tmp_path, pkts))
    assert got.count(S.SCAN_HORIZONTAL.sid) == 1
    assert S.SCAN_VERTICAL.sid not in got


def test_vertical_scan(tmp_path: Path) -> None:
    pkts = [_syn(ATTACKER_IP, CAM_IPS[0], 40000, port, 1 + port * 0.001) for port in range(1, 200)]
    got = sids(replay(tmp_path, pkts))
    assert got.count(S.SCAN_VERTICAL.sid) == 1
    assert S.SCAN_HORIZONTAL.sid not in got


def test_scans_without_a_plan_use_higher_thresholds(tmp_path: Path) -> None:
    few = [_syn(ATTACKER_IP, CAM_IPS[0], 40000, port, 1 + port * 0.001) for port in range(1000, 1040)]
    assert replay(tmp_path, few, plan=False) == []
    many = [_syn(ATTACKER_IP, CAM_IPS[0], 40000, port, port * 0.01) for port in range(1000, 1300)]
    assert sids(replay(tmp_path, many, plan=False)) == [S.SCAN_VERTICAL.sid]


def test_recorder_polling_every_camera_is_not_a_scan(tmp_path: Path) -> None:
    pkts = []
    for i in range(2, 250):
        p = to_cam() / IP(src=RECORDER, dst=f"10.64.0.{i}") / TCP(sport=40000 + i, dport=554, flags="S")
        p.time = 1 + i * 0.01
        pkts.append(p)
    assert replay(tmp_path, pkts) == []


def test_syn_flood_from_spoofed_sources_is_a_few_alerts(tmp_path: Path) -> None:
    rnd = random.Random(5)
    pkts = [
        _syn(
            f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}",
            RECORDER,
            rnd.randrange(1024, 65535),
            443,
            10 + i / 3000,
        )
        for i in range(3000)
    ]
    alerts = replay(tmp_path, pkts)
    got = sids(alerts)
    assert got.count(S.SYN_FLOOD.sid) == 1  # one per victim per window, not one per source
    assert len(alerts) <= 45  # unexpected-flow alerts are capped by the per-signature burst
    assert alerts[-1]["dest_ip"] == RECORDER or got[-1] != S.SYN_FLOOD.sid


def test_icmp_flood(tmp_path: Path) -> None:
    pkts = []
    for i in range(1000):
        p = attacker() / IP(src=ATTACKER_IP, dst=CAM_IPS[1]) / ICMP(type=8, id=1, seq=i)
        p.time = 1 + i / 1000
        pkts.append(p)
    got = sids(replay(tmp_path, pkts, plan=False))
    assert got == [S.ICMP_FLOOD.sid]


def test_dhcp_starvation_flood(tmp_path: Path) -> None:
    pkts = []
    for i in range(200):
        mac = f"02:77:00:00:{i // 256:02x}:{i % 256:02x}"
        p = (
            Ether(src=mac, dst="ff:ff:ff:ff:ff:ff")
            / IP(src="0.0.0.0", dst="255.255.255.255")
            / UDP(sport=68, dport=67)
            / BOOTP(chaddr=bytes.fromhex(mac.replace(":", "")))
            / DHCP(options=[("message-type", "discover"), "end"])
        )
        p.time = 1 + i / 400
        pkts.append(p)
    got = sids(replay(tmp_path, pkts, plan=False))
    assert got == [S.DHCP_FLOOD.sid]


def test_normal_pings_are_not_a_flood(tmp_path: Path) -> None:
    pkts = []
    for i in range(60):
        p = to_cam() / IP(src=RECORDER, dst=CAM_IPS[0]) / ICMP(type=8, id=1, seq=i)
        p.time = 1 + i
        pkts.append(p)
    assert replay(tmp_path, pkts) == []
