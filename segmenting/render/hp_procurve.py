"""HPE ArubaOS-Switch (ProCurve, 16.x, 2930F class) access switch configuration, from the plan.

Same content as the Cisco renderer (issue 8; ANSSI-HYG-07, PA-022 R16/R49, PG-075) in
ArubaOS-Switch syntax: ``aaa port-access authenticator`` (802.1X) on every camera port and
``aaa port-access mac-based`` only on MAB cameras' ports, ``auth-order authenticator
mac-based``; the port's untagged VLAN is the cameras VLAN, RADIUS may override it, a failed
client lands in ``unauth-vid`` (quarantine); when RADIUS is unreachable the secondary method
``authorized`` keeps the camera in its port VLAN (the cameras VLAN: the critical VLAN).
Source-port filters stop camera-to-camera traffic, ``bpdu-protection`` is BPDU guard, DHCP
snooping and ARP protection with a static binding per camera, unused ports disabled in the
unused VLAN, port mirroring to the IDS port, no telnet, no web management, SSH from the
authorised managers only.
"""

from __future__ import annotations

from segmenting.plan import Plan
from segmenting.render._switch import SwitchView, switch_devices, view
from segmenting.render._util import header, netmask, ranges, ranges_without
from segmenting.render.base import RenderedFile
from segmenting.render.secrets import SecretsProvider

PLATFORM = "hp_procurve"


def devices(plan: Plan) -> list[str]:
    return switch_devices(plan, PLATFORM)


def plist(ports: list[int]) -> str:
    return span_text(ranges(ports))


def span_text(spans: list[tuple[int, int]]) -> str:
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in spans)


def _mac(mac: str) -> str:
    plain = mac.replace(":", "")
    return f"{plain[:6]}-{plain[6:]}"


def render_text(v: SwitchView, plan: Plan) -> str:
    sw = v.switch
    _, mgmt_mask = netmask(v.site.subnets["site_mgmt"])
    cams = v.camera_port_numbers
    mab = [c.port for c in v.cameras if c.mab]
    unused = [*sw.unused_ports, sw.mirror_port]
    lines = header(plan, f"ArubaOS-Switch configuration of {sw.id}", comment=";").splitlines()
    lines += [
        f"; Site {v.site.id} ({v.site.name}), model {sw.model}, {sw.ports} ports",
        f'hostname "{sw.id}"',
        "no telnet-server",
        "no web-management",
        "no tftp server",
        "ip ssh",
        "ip ssh version 2",
    ]
    for c in v.admin_sources:
        net, mask = netmask(c)
        lines.append(f"ip authorized-managers {net} {mask} access manager")
    lines += [
        f"ip default-gateway {v.gateway}",
        "timesync sntp",
        "sntp unicast",
        f"sntp server priority 1 {v.ntp}",
        f"logging {v.syslog} tls 6514",
        "logging severity info",
        f'radius-server host {v.radius} key "{v.radius_secret}"',
        "radius-server dead-time 1",
        # "authorized" as secondary method: RADIUS unreachable → the camera stays in its port's
        # untagged VLAN, the cameras VLAN (the critical VLAN), and keeps recording.
        "aaa authentication port-access eap-radius authorized",
        "aaa authentication mac-based chap-radius authorized",
        "aaa port-access mac-based addr-format no-delimiter",
    ]
    vlan_ports = {
        "site_mgmt": ([], True),
        "cameras": (cams, True),
        "quarantine": ([], True),
        "unused": (unused, False),
    }
    for name, (untagged, trunked) in vlan_ports.items():
        vid = v.vlans[name]
        lines += [f"vlan {vid}", f'   name "{name}"']
        if untagged:
            lines.append(f"   untagged {plist(untagged)}")
        if trunked:
            lines.append(f"   tagged {sw.uplink_port}")
        if name == "site_mgmt":
            lines.append(f"   ip address {sw.mgmt_ip} {mgmt_mask}")
        else:
            lines.append("   no ip address")
        lines.append("   exit")
    lines += [
        "spanning-tree",
        f"spanning-tree {plist(cams + unused)} bpdu-protection",
        f"spanning-tree {plist(cams)} admin-edge-port",
        "dhcp-snooping",
        f"dhcp-snooping vlan {v.camera_vlan} {v.quarantine_vlan}",
        f"dhcp-snooping trust {sw.uplink_port}",
        "arp-protect",
        f"arp-protect vlan {v.camera_vlan} {v.quarantine_vlan}",
        f"arp-protect trust {sw.uplink_port}",
    ]
    for cp in v.cameras:
        lines.append(f"ip source-binding {v.camera_vlan} {cp.camera.ip} {_mac(cp.camera.mac)} {cp.port}")
    if cams:
        lines += [
            f"aaa port-access authenticator {plist(cams)}",
            f"aaa port-access authenticator {plist(cams)} client-limit 1",
            f"aaa port-access authenticator {plist(cams)} unauth-vid {v.quarantine_vlan}",
            f"aaa port-access authenticator {plist(cams)} reauth-period 3600",
        ]
    if mab:
        lines += [
            f"aaa port-access mac-based {plist(mab)}",
            f"aaa port-access mac-based {plist(mab)} addr-limit 1",
            f"aaa port-access mac-based {plist(mab)} unauth-vid {v.quarantine_vlan}",
            f"aaa port-access {plist(mab)} auth-order authenticator mac-based",
            f"aaa port-access {plist(mab)} auth-priority authenticator mac-based",
        ]
    if cams:
        lines.append("aaa port-access authenticator active")
    spans = ranges(cams)
    for cp in v.cameras:
        others = ranges_without(spans, cp.port)
        if others:
            lines.append(f"filter source-port {cp.port} drop {span_text(others)}")
    lines.append(f"mirror 1 port {sw.mirror_port}")
    for cp in v.cameras:
        lines += [
            f"interface {cp.port}",
            f'   name "{cp.camera.id} ({cp.camera.auth})"',
            "   monitor all both mirror 1",
            "   exit",
        ]
    lines += [
        f"interface {sw.uplink_port}",
        f'   name "uplink to {v.site.gateway.id}"',
        "   monitor all both mirror 1",
        "   exit",
        f"interface {sw.mirror_port}",
        '   name "IDS sensor (mirror destination)"',
        "   exit",
    ]
    if sw.unused_ports:
        lines += [f"interface {plist(list(sw.unused_ports))}", '   name "unused"', "   disable", "   exit"]
    return "\n".join(lines) + "\n"


def render(plan: Plan, device: str, secrets: SecretsProvider) -> list[RenderedFile]:
    v = view(plan, device, PLATFORM, secrets)
    return [RenderedFile(device, "config.procurve", render_text(v, plan), 0o600)]
