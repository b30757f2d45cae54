"""The sensor against the allowlist the plan really renders (segmenting/render/ids_allowlist.py)
for the reference deployment: a quiet site is quiet, a rogue device on a camera port is not.

This is the contract of docs/ids-allowlist.md tested from both ends: the plan writes it, the
sensor reads it. Routers come without MACs (the plan does not know them); RTP is interleaved
in the recorder's RTSP connection (no UDP media rule).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from idsite import tcp_session
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

from ids import signatures as S
from ids.alerts import ip_text
from ids.allowlist import Allowlist
from ids.bpf import media_exclusion
from ids.engine import Engine
from segmenting.api import load_plan
from segmenting.render.ids_allowlist import document

ROOT = Path(__file__).resolve().parents[2]
GW_MAC = "02:aa:00:00:00:01"


@pytest.fixture(scope="module")
def plan_allowlist() -> Allowlist:
    return Allowlist(document(load_plan(ROOT / "inventory" / "ingeagglo")), "ingeagglo (rendered)")


def _site(al: Allowlist) -> tuple[str, str, str, str]:
    """A camera of the plan, its MAC, its site's camera gateway and a recorder."""
    cam = next(h for h in al.hosts if h.kind == "camera" and h.mac and h.ip)
    zone = al.zone_of(normalise_ip(cam.ip))
    gw = next(ip_text(r) for r in al.routers_without_mac if al.zone_of(r) is zone)
    rec = next(h.ip for h in al.hosts if h.kind == "recorder" and h.ip)
    assert cam.ip and cam.mac and rec
    return cam.ip, cam.mac, gw, rec


def normalise_ip(ip: str | None) -> bytes:
    return ipaddress.ip_address(str(ip)).packed


def _run(al: Allowlist, pkts: list[Packet]) -> list[int]:
    got: list[dict[str, object]] = []
    engine = Engine(al, [got.append])
    for p in sorted(pkts, key=lambda p: float(p.time)):
        engine.process(float(p.time), 1, bytes(p))
    return [a["alert"]["signature_id"] for a in got]  # type: ignore[index]


def _quiet_site(al: Allowlist, seconds: int) -> list[Packet]:
    cam_ip, cam_mac, gw, rec = _site(al)
    to_cam, from_cam = Ether(src=GW_MAC, dst=cam_mac), Ether(src=cam_mac, dst=GW_MAC)
    arp = Ether(src=GW_MAC, dst=cam_mac) / ARP(op=2, hwsrc=GW_MAC, psrc=gw, hwdst=cam_mac, pdst=cam_ip)
    arp.time = 0.5
    pkts: list[Packet] = [arp]
    pkts += tcp_session(
        to_cam,
        from_cam,
        rec,
        cam_ip,
        40000,
        554,
        [(b"PLAY rtsp://cam/ RTSP/1.0\r\nCSeq: 5\r\n\r\n", b"RTSP/1.0 200 OK\r\n\r\n")],
        t0=1.0,
    )[:-2]  # no FIN: the session goes on
    for i in range(seconds * 20):  # interleaved RTP ($ channel 0) from the camera
        p = (
            from_cam
            / IP(src=cam_ip, dst=rec, id=i)
            / TCP(sport=554, dport=40000, flags="A")
            / Raw(b"$\x00\x04\x00" + bytes(1020))
        )
        p.time = 2.0 + i / 20
        pkts.append(p)
    return pkts


def test_rendered_allowlist_has_what_the_sensor_needs(plan_allowlist: Allowlist) -> None:
    al = plan_allowlist
    assert al.deployment and al.rules and al.camera_vlans
    assert al.routers_without_mac  # the plan knows gateway addresses, not their MACs
    expr = media_exclusion(al)
    assert expr is not None and "src port 554" in expr


def test_quiet_site_from_the_real_plan_raises_nothing(plan_allowlist: Allowlist) -> None:
    assert _run(plan_allowlist, _quiet_site(plan_allowlist, 30)) == []


def test_interleaved_stream_that_stops_is_flagged(plan_allowlist: Allowlist) -> None:
    pkts = _quiet_site(plan_allowlist, 10)
    # Something else keeps the sensor's clock going after the camera goes silent.
    cam_ip, cam_mac, gw, _ = _site(plan_allowlist)
    for i in range(30):
        a = Ether(src=GW_MAC, dst=cam_mac) / ARP(op=2, hwsrc=GW_MAC, psrc=gw, pdst=cam_ip)
        a.time = 12.0 + i
        pkts.append(a)
    assert _run(plan_allowlist, pkts) == [S.STREAM_STOPPED.sid]


def test_rogue_device_on_a_camera_port_of_the_real_plan(plan_allowlist: Allowlist) -> None:
    cam_ip, _mac, _gw, rec = _site(plan_allowlist)
    rogue = Ether(src="02:66:66:66:66:66", dst=GW_MAC)
    spoof = rogue / IP(src=cam_ip, dst="10.0.1.1") / TCP(sport=40000, dport=445, flags="S")
    spoof.time = 40.0
    scan = []
    for i, port in enumerate((22, 23, 80, 443, 8080)):
        p = rogue / IP(src=cam_ip, dst=rec) / TCP(sport=41000 + i, dport=port, flags="S")
        p.time = 41.0 + i
        scan.append(p)
    got = set(_run(plan_allowlist, [*_quiet_site(plan_allowlist, 60), spoof, *scan]))
    assert {S.UNKNOWN_DEVICE.sid, S.UNEXPECTED_FLOW.sid, S.ADMIN_CLEARTEXT.sid} <= got
