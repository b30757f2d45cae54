"""Link-layer detectors: unknown device, ARP spoofing / binding change, rogue DHCP, rogue RA."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from idsite import (
    ATTACKER_IP,
    ATTACKER_MAC,
    CAM_IPS,
    CAM_MACS,
    CAM_VLAN,
    GW_IP,
    GW_MAC,
    allowlist_doc,
    replay,
    run_cli,
    sids,
)
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import ICMPv6ND_RA, ICMPv6ND_RS, ICMPv6NDOptSrcLLAddr, IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Packet
from scapy.utils import wrpcap

from ids import signatures as S


def _t(p: Packet, t: float) -> Packet:
    p.time = t
    return p


def _arp_reply(mac: str, ip: str, t: float, target: str = CAM_IPS[0]) -> Packet:
    return _t(Ether(src=mac, dst=CAM_MACS[0]) / ARP(op=2, hwsrc=mac, psrc=ip, hwdst=CAM_MACS[0], pdst=target), t)


def _dhcp(mac: str, src: str, mtype: str, t: float, *, server: bool) -> Packet:
    eth = Ether(src=mac, dst="ff:ff:ff:ff:ff:ff")
    if server:
        l3 = IP(src=src, dst="255.255.255.255") / UDP(sport=67, dport=68)
        bootp = BOOTP(op=2, yiaddr="10.64.0.50", chaddr=bytes.fromhex("020000000101"))
        opts = [("message-type", mtype), ("server_id", src), "end"]
    else:
        l3 = IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=68, dport=67)
        bootp = BOOTP(op=1, chaddr=bytes.fromhex(mac.replace(":", "")))
        opts = [("message-type", mtype), "end"]
    return _t(eth / l3 / bootp / DHCP(options=opts), t)


def test_unknown_mac_on_the_camera_vlan(tmp_path: Path) -> None:
    discover = (
        Ether(src=ATTACKER_MAC, dst="ff:ff:ff:ff:ff:ff")
        / Dot1Q(vlan=CAM_VLAN)
        / IP(src="0.0.0.0", dst="255.255.255.255")
        / UDP(sport=68, dport=67)
        / BOOTP(chaddr=bytes.fromhex("026666666666"))
        / DHCP(options=[("message-type", "discover"), "end"])
    )
    arp = Ether(src=ATTACKER_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=ATTACKER_MAC, psrc=ATTACKER_IP, pdst=GW_IP)
    alerts = replay(tmp_path, [_t(discover, 1.0), _t(arp, 2.0), _t(arp.copy(), 3.0)])
    assert sids(alerts) == [S.UNKNOWN_DEVICE.sid]  # once per MAC, not per frame
    assert alerts[0]["cloison"]["mac"] == ATTACKER_MAC


def test_known_camera_mac_is_not_unknown(tmp_path: Path) -> None:
    arp = Ether(src=CAM_MACS[1], dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=CAM_MACS[1], psrc=CAM_IPS[1], pdst=GW_IP)
    assert replay(tmp_path, [_t(arp, 1.0)]) == []


def test_arp_spoofing_of_the_gateway(tmp_path: Path) -> None:
    alerts = replay(tmp_path, [_arp_reply(GW_MAC, GW_IP, 1.0), _arp_reply(ATTACKER_MAC, GW_IP, 2.0)])
    assert S.ARP_SPOOF.sid in sids(alerts)
    spoof = next(a for a in alerts if a["alert"]["signature_id"] == S.ARP_SPOOF.sid)
    assert spoof["src_ip"] == GW_IP and spoof["cloison"]["mac"] == ATTACKER_MAC
    assert spoof["alert"]["severity"] == 1


def test_binding_change_without_a_plan(tmp_path: Path) -> None:
    pkts = [
        _arp_reply("02:00:00:00:aa:01", "10.9.9.9", 1.0),
        _arp_reply("02:00:00:00:aa:01", "10.9.9.9", 2.0),
        _arp_reply("02:00:00:00:aa:02", "10.9.9.9", 3.0),
    ]
    alerts = replay(tmp_path, pkts, plan=False)
    assert sids(alerts) == [S.BINDING_CHANGE.sid]
    assert alerts[0]["cloison"]["previous_mac"] == "02:00:00:00:aa:01"


def test_rogue_dhcp_server(tmp_path: Path) -> None:
    pkts = [
        _dhcp(CAM_MACS[0], "", "discover", 1.0, server=False),
        _dhcp(GW_MAC, GW_IP, "offer", 1.1, server=True),
        _dhcp(ATTACKER_MAC, ATTACKER_IP, "offer", 1.2, server=True),
    ]
    alerts = [a for a in replay(tmp_path, pkts) if a["alert"]["signature_id"] == S.ROGUE_DHCP.sid]
    assert len(alerts) == 1 and alerts[0]["src_ip"] == ATTACKER_IP


def test_rogue_dhcp_without_a_plan_is_the_second_server(tmp_path: Path) -> None:
    pkts = [
        _dhcp(GW_MAC, GW_IP, "offer", 1.1, server=True),
        _dhcp(GW_MAC, GW_IP, "ack", 1.2, server=True),
        _dhcp(ATTACKER_MAC, ATTACKER_IP, "offer", 1.3, server=True),
    ]
    alerts = replay(tmp_path, pkts, plan=False)
    assert sids(alerts) == [S.ROGUE_DHCP.sid] and alerts[0]["src_ip"] == ATTACKER_IP


def _ra(mac: str, t: float) -> Packet:
    return _t(
        Ether(src=mac, dst="33:33:00:00:00:01")
        / IPv6(src="fe80::66", dst="ff02::1")
        / ICMPv6ND_RA()
        / ICMPv6NDOptSrcLLAddr(lladdr=mac),
        t,
    )


def test_rogue_router_advertisement(tmp_path: Path) -> None:
    alerts = replay(tmp_path, [_ra(GW_MAC, 1.0), _ra(ATTACKER_MAC, 2.0)])
    assert sids(alerts) == [S.ROGUE_RA.sid]
    assert alerts[0]["cloison"]["mac"] == ATTACKER_MAC
    assert alerts[0]["proto"] == "IPv6-ICMP"


def test_rogue_ra_without_a_plan(tmp_path: Path) -> None:
    assert sids(replay(tmp_path, [_ra(GW_MAC, 1.0), _ra(GW_MAC, 2.0), _ra(ATTACKER_MAC, 3.0)], plan=False)) == [
        S.ROGUE_RA.sid
    ]


def _replay_with_macless_router(tmp_path: Path, pkts: list[Packet]) -> list[dict[str, Any]]:
    """The plan gives the camera segment's gateway no MAC: the sensor learns it on first use."""
    doc = allowlist_doc()
    for entry in [*doc["services"]["routers"], *doc["services"]["dhcp"], *doc["hosts"]]:
        if entry["ip"] == GW_IP:
            entry["mac"] = None
    allowlist = tmp_path / "macless-router.json"
    allowlist.write_text(json.dumps(doc))
    pcap, eve = tmp_path / "macless.pcap", tmp_path / "macless.eve.json"
    wrpcap(str(pcap), pkts)
    assert run_cli(["ids", "replay", str(pcap), "--eve", str(eve), "--allowlist", str(allowlist)]) == 0
    return [json.loads(line) for line in eve.read_text().splitlines()]


def _router_solicitation(mac: str, t: float) -> Packet:
    rs = Ether(src=mac, dst="33:33:00:00:00:02") / Dot1Q(vlan=CAM_VLAN) / IPv6(src="fe80::1", dst="ff02::2")
    return _t(rs / ICMPv6ND_RS() / ICMPv6NDOptSrcLLAddr(lladdr=mac), t)


def _tagged_arp(mac: str, ip: str, t: float) -> Packet:
    """An ARP request for the first camera, from ``mac`` claiming ``ip``, on the camera VLAN."""
    eth = Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=CAM_VLAN)
    return _t(eth / ARP(op=1, hwsrc=mac, psrc=ip, pdst=CAM_IPS[0]), t)


MACLESS_GW = "02:00:00:00:0a:0a"


def test_macless_gateway_soliciting_routers_before_ipv4_is_learned_not_flagged(tmp_path: Path) -> None:
    # A gateway interface comes up: IPv6 router solicitation from its link-local address first,
    # then its ARP for a camera from the gateway address the plan lists.
    pkts = [_router_solicitation(MACLESS_GW, 1.0), _tagged_arp(MACLESS_GW, GW_IP, 2.0)]
    assert S.UNKNOWN_DEVICE.sid not in sids(_replay_with_macless_router(tmp_path, pkts))


def test_unknown_device_speaking_link_local_then_ipv4_is_flagged(tmp_path: Path) -> None:
    # The same opening from a device that then claims an address that is not the gateway's.
    pkts = [_router_solicitation(ATTACKER_MAC, 1.0), _tagged_arp(ATTACKER_MAC, ATTACKER_IP, 2.0)]
    alerts = _replay_with_macless_router(tmp_path, pkts)
    assert sids(alerts) == [S.UNKNOWN_DEVICE.sid]
    assert alerts[0]["cloison"]["mac"] == ATTACKER_MAC


def test_link_local_only_device_is_flagged_once_the_gateway_is_learned(tmp_path: Path) -> None:
    pkts = [_tagged_arp(MACLESS_GW, GW_IP, 1.0), _router_solicitation(ATTACKER_MAC, 2.0)]
    alerts = _replay_with_macless_router(tmp_path, pkts)
    assert sids(alerts) == [S.UNKNOWN_DEVICE.sid]
    assert alerts[0]["cloison"]["mac"] == ATTACKER_MAC
