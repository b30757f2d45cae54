"""Access switch configurations: structure checked against the plan, per platform.

Cisco output is parsed back with ciscoconfparse2 so a missing child line (a camera port without
``switchport protected``, a MAB line on an EAP-TLS port...) is caught structurally, not by text
search. The other platforms are checked on the lines the plan dictates.
"""

from __future__ import annotations

import re

import pytest
import yaml
from ciscoconfparse2 import CiscoConfParse
from crender_helpers import REFERENCE

from segmenting.plan import Plan
from segmenting.render import aruba_aoscx, cisco_ios, hostapd, hp_procurve, ovs
from segmenting.render._switch import view
from segmenting.render._util import mac_plain, ovs_port
from segmenting.render.base import RenderError, UnsupportedFeature
from segmenting.render.secrets import FakeSecrets


def _cams(plan: Plan) -> dict[str, str]:
    return {c.id: c.auth for c in plan.cameras}


def _reference_switches(platform: str) -> list[str]:
    # The reference deployment's switch ids, read from its inventory without building a plan at
    # collection time: every switch of the platform is checked, not a sample.
    sites = yaml.safe_load((REFERENCE / "sites.yml").read_text(encoding="utf-8"))["sites"]
    return [f"sw-{s['id']}" for s in sites if s["switch"]["platform"] == platform]


@pytest.mark.parametrize("device", _reference_switches("cisco_ios"))
def test_cisco_structure(plan: Plan, device: str) -> None:
    (f,) = cisco_ios.render(plan, device, FakeSecrets())
    conf = CiscoConfParse(f.text.splitlines(), syntax="ios")
    site = plan.site(device.removeprefix("sw-"))
    sw, vlans, auth = site.switch, site.vlans, _cams(plan)

    def children(port: int) -> list[str]:
        (obj,) = conf.find_objects(rf"^interface {re.escape(cisco_ios.ifname(port))}$")
        return [c.text.strip() for c in obj.children]

    for port, cam in sw.camera_ports:
        kids = children(port)
        for line in (
            "switchport mode access",
            f"switchport access vlan {vlans['cameras']}",
            "switchport protected",
            "authentication port-control auto",
            f"authentication event fail action authorize vlan {vlans['quarantine']}",
            f"authentication event server dead action authorize vlan {vlans['cameras']}",
            "dot1x pae authenticator",
            "spanning-tree bpduguard enable",
            "ip verify source",
            "no shutdown",
        ):
            assert line in kids, f"{device} port {port} ({cam}) lacks {line!r}"
        if auth[cam] == "mab":
            assert "mab" in kids and "authentication order dot1x mab" in kids
        else:
            assert "mab" not in kids and "authentication order dot1x" in kids, f"MAB on EAP-TLS port {port}"
    for port in sw.unused_ports:
        kids = children(port)
        assert "shutdown" in kids and f"switchport access vlan {vlans['unused']}" in kids
    up = children(sw.uplink_port)
    assert "switchport mode trunk" in up and "ip dhcp snooping trust" in up and "ip arp inspection trust" in up
    assert f"switchport trunk native vlan {vlans['unused']}" in up
    assert conf.find_objects(
        rf"^monitor session 1 destination interface {re.escape(cisco_ios.ifname(sw.mirror_port))}$"
    )
    # Management: SSH only, from the plan's admin sources, no HTTP server.
    (vty,) = conf.find_objects(r"^line vty")
    assert [c.text.strip() for c in vty.children if "transport input" in c.text] == ["transport input ssh"]
    assert conf.find_objects(r"^no ip http server$") and conf.find_objects(r"^no ip http secure-server$")
    assert not conf.find_objects(r"^ip http (secure-)?server")
    acl = [c.text.strip() for c in conf.find_objects(r"^ip access-list standard CLOISON-ADMIN")[0].children]
    assert acl[-1] == "deny any log" and len(acl) >= 2
    # Every camera port has exactly one interface block (no duplicates, no missing ones).
    assert len(conf.find_objects(r"^interface GigabitEthernet")) == sw.ports


def test_cisco_stack_numbering() -> None:
    assert cisco_ios.ifname(1) == "GigabitEthernet1/0/1"
    assert cisco_ios.ifname(48) == "GigabitEthernet1/0/48"
    assert cisco_ios.ifname(49) == "GigabitEthernet2/0/1"


@pytest.mark.parametrize("device", _reference_switches("aruba_aoscx"))
def test_aoscx_content(plan: Plan, device: str) -> None:
    (f,) = aruba_aoscx.render(plan, device, FakeSecrets())
    blocks = _blocks(f.text, r"^interface (1/1/\d+)$")
    site = plan.site(device.removeprefix("sw-"))
    auth = _cams(plan)
    for port, cam in site.switch.camera_ports:
        body = blocks[aruba_aoscx.ifname(port)]
        assert "    portfilter " in body
        assert "    spanning-tree bpdu-guard" in body
        assert f"    aaa authentication port-access critical-role {aruba_aoscx.ROLE_CRITICAL}" in body
        assert ("    aaa authentication port-access mac-auth" in body) == (auth[cam] == "mab")
    for port in site.switch.unused_ports:
        assert "    shutdown" in blocks[aruba_aoscx.ifname(port)]
    assert f"port-access role {aruba_aoscx.ROLE_CRITICAL}\n    vlan access {site.vlans['cameras']}" in f.text
    assert "no https-server vrf default" in f.text and "addr-format no-delimiter" in f.text


@pytest.mark.parametrize("device", _reference_switches("hp_procurve"))
def test_procurve_content(plan: Plan, device: str) -> None:
    (f,) = hp_procurve.render(plan, device, FakeSecrets())
    site = plan.site(device.removeprefix("sw-"))
    cams = [p for p, _ in site.switch.camera_ports]
    mab = [p for p, c in site.switch.camera_ports if _cams(plan)[c] == "mab"]
    assert mab, "the reference site has a MAB camera"
    for p in cams:
        others = [q for q in cams if q != p]
        assert f"filter source-port {p} drop {hp_procurve.plist(others)}" in f.text
    assert f"aaa port-access mac-based {hp_procurve.plist(mab)}\n" in f.text
    assert f"aaa port-access authenticator {hp_procurve.plist(cams)} unauth-vid {site.vlans['quarantine']}" in f.text
    for line in ("no telnet-server", "no web-management", "aaa authentication port-access eap-radius authorized"):
        assert line in f.text.splitlines()


def test_ovs_isolation_and_closed_ports(lab_plan: Plan) -> None:
    device = "sw-s-castelroux-1"
    (f,) = ovs.render(lab_plan, device, FakeSecrets())
    site = lab_plan.site("s-castelroux-1")
    assert "datapath_type=netdev" in f.text
    for port, cam in site.switch.camera_ports:
        name = ovs_port(site, port)
        assert f"set port {name} vlan_mode=access tag={site.vlans['cameras']} protected=true" in f.text
        assert f"priority=100,in_port={name},actions=drop" in f.text
        assert f"in_port={name},dl_src=" not in f.text, "no port is opened without a RADIUS decision"
        assert (f"# {cam} does MAB" in f.text) == (_cams(lab_plan)[cam] == "mab")
    confs = [r.path for r in hostapd.render(lab_plan, device, FakeSecrets())]
    eap_ports = [p for p, c in site.switch.camera_ports if _cams(lab_plan)[c] == "eap-tls"]
    expected = [*(f"hostapd/{ovs_port(site, p)}.conf" for p in eap_ports), "hostapd/action.sh", "hostapd/vlan"]
    assert sorted(confs) == sorted(expected)
    vlan_file = next(r.text for r in hostapd.render(lab_plan, device, FakeSecrets()) if r.path == "hostapd/vlan")
    assert (
        vlan_file
        == f"{site.vlans['cameras']} v{site.vlans['cameras']}\n{site.vlans['quarantine']} v{site.vlans['quarantine']}\n"
    )


def test_hostapd_refuses_mab(lab_plan: Plan) -> None:
    v = view(lab_plan, "sw-s-castelroux-1", "ovs", FakeSecrets())
    (mab,) = [c for c in v.cameras if c.mab]
    with pytest.raises(UnsupportedFeature, match="MAC Authentication Bypass"):
        hostapd.port_conf(v, mab, lab_plan, "x")


def test_platform_mismatch_is_an_error(plan: Plan) -> None:
    with pytest.raises(RenderError, match="not aruba_aoscx"):
        aruba_aoscx.render(plan, "sw-s-ingeville-1", FakeSecrets())


def test_mab_user_name_format() -> None:
    assert mac_plain("B8:A4:4F:00:00:01") == "b8a44f000001"


def _blocks(text: str, pattern: str) -> dict[str, str]:
    out: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        m = re.match(pattern, line)
        if m:
            current = m.group(1)
            out[current] = ""
        elif current and line.startswith(" "):
            out[current] += line + "\n"
        else:
            current = None
    return out
