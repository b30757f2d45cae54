"""A synthetic site for the IDS tests: its allowlist, its hosts and Scapy packet builders.

The allowlist follows docs/ids-allowlist.md; addresses and MACs used by tests come from here
(one place), and every capture is crafted with Scapy, written to a pcap and replayed through
``cloison ids replay`` like suricata-verify pairs a pcap with its expected alerts.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap

from ids import cli as ids_cli
from segmenting.errors import CloisonError

GW_MAC = "02:00:00:00:00:01"
GW_IP = "10.64.0.1"
CAM_VLAN = 110
SWITCH_IP = "10.64.1.2"
SWITCH_MAC = "02:00:00:00:00:02"
CAMS = {f"cam-ing-01-00{i}": (f"10.64.0.1{i}", f"02:00:00:00:01:0{i}") for i in range(1, 5)}
CAM_IPS = [ip for ip, _ in CAMS.values()]
CAM_MACS = [mac for _, mac in CAMS.values()]
RECORDER = "10.0.10.10"
DNS = "10.0.20.53"
NTP = "10.0.20.123"
RADIUS = "10.0.20.12"
COLLECTOR = "10.0.20.30"
OPERATOR = "10.0.30.21"
OPERATOR2 = "10.0.30.22"
BASTION = "10.0.40.5"
ATTACKER_IP = "10.64.0.66"
ATTACKER_MAC = "02:66:66:66:66:66"
RTP_PORTS = (50000, 59999)


def allowlist_doc() -> dict[str, Any]:
    zones = [
        {
            "id": "s-ing-01:cameras",
            "zone": "cameras",
            "site": "s-ing-01",
            "subnets": ["10.64.0.0/24"],
            "vlan": CAM_VLAN,
        },
        {"id": "s-ing-01:site_mgmt", "zone": "site_mgmt", "site": "s-ing-01", "subnets": ["10.64.1.0/24"], "vlan": 100},
        {"id": "csu:recording", "zone": "recording", "site": "csu", "subnets": ["10.0.10.0/24"]},
        {"id": "csu:services", "zone": "services", "site": "csu", "subnets": ["10.0.20.0/24"]},
        {"id": "csu:operators", "zone": "operators", "site": "csu", "subnets": ["10.0.30.0/24"]},
        {"id": "csu:admin", "zone": "admin", "site": "csu", "subnets": ["10.0.40.0/24"]},
        {"id": "state", "zone": "state", "site": None, "subnets": ["192.0.2.0/28"]},
        {"id": "internet", "zone": "internet", "site": None, "subnets": ["0.0.0.0/0", "::/0"]},
    ]
    hosts = [
        {
            "id": cid,
            "kind": "camera",
            "zone_id": "s-ing-01:cameras",
            "site": "s-ing-01",
            "ip": ip,
            "mac": mac,
            "commune": "ingeville",
        }
        for cid, (ip, mac) in CAMS.items()
    ]
    hosts += [
        {
            "id": "gw-ing-01",
            "kind": "gateway",
            "zone_id": "s-ing-01:cameras",
            "site": "s-ing-01",
            "ip": GW_IP,
            "mac": GW_MAC,
        },
        {
            "id": "rec-01",
            "kind": "recorder",
            "zone_id": "csu:recording",
            "site": "csu",
            "ip": RECORDER,
            "mac": "02:00:00:00:10:10",
        },
        {"id": "dns-01", "kind": "dns", "zone_id": "csu:services", "site": "csu", "ip": DNS, "mac": None},
        {"id": "ntp-01", "kind": "ntp", "zone_id": "csu:services", "site": "csu", "ip": NTP, "mac": None},
        {"id": "op-01", "kind": "operator", "zone_id": "csu:operators", "site": "csu", "ip": OPERATOR, "mac": None},
        {"id": "bastion", "kind": "bastion", "zone_id": "csu:admin", "site": "csu", "ip": BASTION, "mac": None},
    ]

    def flow(
        fid: str,
        proto: str,
        ports: list[list[int]],
        sz: str,
        scidrs: list[str],
        dz: str,
        dcidrs: list[str],
        service: str,
    ) -> dict[str, Any]:
        return {
            "id": fid,
            "proto": proto,
            "ports": ports,
            "src": {"zone": sz, "cidrs": scidrs},
            "dst": {"zone": dz, "cidrs": dcidrs},
            "service": service,
            "purpose": service,
            "controls": ["CSI-L252-2"],
            "window": "always",
        }

    cams = ["10.64.0.0/24"]
    flows = [
        flow("F-rec-rtsp", "tcp", [[554, 554]], "recording", [f"{RECORDER}/32"], "cameras", cams, "rtsp"),
        flow("F-rec-onvif", "tcp", [[80, 80]], "recording", [f"{RECORDER}/32"], "cameras", cams, "onvif"),
        flow("F-cam-rtp", "udp", [list(RTP_PORTS)], "cameras", cams, "recording", [f"{RECORDER}/32"], "rtp"),
        flow("F-rec-rtcp", "udp", [[6970, 6999]], "recording", [f"{RECORDER}/32"], "cameras", cams, "rtcp"),
        flow("F-cam-ntp", "udp", [[123, 123]], "cameras", cams, "services", [f"{NTP}/32"], "ntp"),
        flow("F-cam-dns", "udp", [[53, 53]], "cameras", cams, "services", [f"{DNS}/32"], "dns"),
        flow("F-admin-ssh", "tcp", [[22, 22], [443, 443]], "admin", [f"{BASTION}/32"], "cameras", cams, "admin"),
        flow(
            "F-op-rec", "tcp", [[443, 443]], "operators", ["10.0.30.0/24"], "recording", [f"{RECORDER}/32"], "viewing"
        ),
        flow("F-ping", "icmp", [], "recording", [f"{RECORDER}/32"], "cameras", cams, "probe"),
    ]
    return {
        "format": "cloison-ids-allowlist",
        "version": 1,
        "deployment": "test-agglo",
        "plan_digest": "0" * 64,
        "zones": zones,
        "hosts": hosts,
        "flows": flows,
        "services": {
            "dns": [DNS],
            "ntp": [NTP],
            "dhcp": [{"ip": GW_IP, "mac": GW_MAC, "site": "s-ing-01"}],
            "routers": [{"ip": GW_IP, "mac": GW_MAC, "site": "s-ing-01"}],
            "collector": {"host": COLLECTOR, "port": 6514},
        },
    }


def write_allowlist(directory: Path) -> Path:
    path = directory / "allowlist.json"
    path.write_text(json.dumps(allowlist_doc(), indent=1))
    return path


def cam_frame(cam: int = 0) -> Ether:
    """Ethernet header of a frame a camera sends (to its gateway)."""
    return Ether(src=CAM_MACS[cam], dst=GW_MAC)


def to_cam(cam: int = 0) -> Ether:
    return Ether(src=GW_MAC, dst=CAM_MACS[cam])


def attacker() -> Ether:
    return Ether(src=ATTACKER_MAC, dst=GW_MAC)


def tcp_session(
    eth_c: Ether,
    eth_s: Ether,
    client: str,
    server: str,
    sport: int,
    dport: int,
    exchanges: Sequence[tuple[bytes, bytes]],
    t0: float,
    step: float = 0.01,
) -> list[Packet]:
    """A TCP handshake, request/response exchanges and a FIN, with correct seq/ack."""
    out: list[Packet] = []
    c, s = 1000, 5000
    t = t0

    def add(p: Packet) -> None:
        nonlocal t
        p.time = t
        t += step
        out.append(p)

    cs = eth_c / IP(src=client, dst=server)
    sc = eth_s / IP(src=server, dst=client)
    add(cs / TCP(sport=sport, dport=dport, flags="S", seq=c))
    add(sc / TCP(sport=dport, dport=sport, flags="SA", seq=s, ack=c + 1))
    c += 1
    s += 1
    add(cs / TCP(sport=sport, dport=dport, flags="A", seq=c, ack=s))
    for req, resp in exchanges:
        if req:
            add(cs / TCP(sport=sport, dport=dport, flags="PA", seq=c, ack=s) / Raw(req))
            c += len(req)
        if resp:
            add(sc / TCP(sport=dport, dport=sport, flags="PA", seq=s, ack=c) / Raw(resp))
            s += len(resp)
    add(cs / TCP(sport=sport, dport=dport, flags="FA", seq=c, ack=s))
    add(sc / TCP(sport=dport, dport=sport, flags="FA", seq=s, ack=c + 1))
    return out


def udp(eth: Ether, src: str, dst: str, sport: int, dport: int, payload: bytes, t: float) -> Packet:
    p = eth / IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / Raw(payload)
    p.time = t
    return p


def tagged(pkts: Iterable[Packet], vlan: int = CAM_VLAN) -> list[Packet]:
    """The same frames as seen on a trunk mirror: an 802.1Q tag after the MACs."""
    out = []
    for p in pkts:
        q = Ether(src=p[Ether].src, dst=p[Ether].dst) / Dot1Q(vlan=vlan) / p[Ether].payload
        q.time = p.time
        out.append(q)
    return out


def replay(
    tmp_path: Path,
    pkts: Sequence[Packet] | Path,
    *,
    plan: bool = True,
    extra: Sequence[str] = (),
    name: str = "capture.pcap",
) -> list[dict[str, Any]]:
    """Write the capture, run ``cloison ids replay`` on it, return the EVE alerts."""
    if isinstance(pkts, Path):
        pcap = pkts
    else:
        pcap = tmp_path / name
        wrpcap(str(pcap), list(pkts))
    eve = tmp_path / f"{pcap.name}.eve.json"
    eve.unlink(missing_ok=True)
    args = ["ids", "replay", str(pcap), "--eve", str(eve), *extra]
    args += ["--allowlist", str(write_allowlist(tmp_path))] if plan else ["--no-plan"]
    assert run_cli(args) == 0
    return [json.loads(line) for line in eve.read_text().splitlines()]


def sids(alerts: Iterable[dict[str, Any]]) -> list[int]:
    return [a["alert"]["signature_id"] for a in alerts]


def run_cli(argv: Sequence[str]) -> int:
    """``cloison ids ...`` with only the ids commands registered, handled like segmenting.cli.

    Other command modules are being written alongside; a half-finished one must not break
    the IDS tests (test_ids_cli.py checks the registration in the real ``cloison`` parser).
    """
    parser = argparse.ArgumentParser(prog="cloison")
    sub = parser.add_subparsers(dest="command")
    ids_cli.register(sub)
    ns = parser.parse_args(list(argv))
    try:
        return int(ns.func(ns))
    except CloisonError as exc:
        print(f"cloison: {exc}", file=sys.stderr)
        return exc.exit_code
