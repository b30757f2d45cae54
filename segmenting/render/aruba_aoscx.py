"""HPE Aruba Networking AOS-CX (10.x, CX 6100 class) access switch configuration, from the plan.

Same content as the Cisco renderer (issue 8; ANSSI-HYG-07, PA-022 R16/R49, PG-075), in AOS-CX
syntax: ``aaa authentication port-access dot1x authenticator`` and ``mac-auth`` (MAC in lower
case without delimiters, the format the RADIUS users file expects), ``auth-precedence dot1x
mac-auth`` on MAB ports only, local roles for the reject (quarantine) and critical (cameras)
cases, ``portfilter`` so a camera port never forwards to another camera port, BPDU guard,
DHCPv4 snooping and ARP inspection with a static binding per camera, unused ports shut in the
unused VLAN, a mirror session to the IDS port, SSH only (AOS-CX has no telnet server; the HTTPS
REST/web server is disabled).
"""

from __future__ import annotations

from segmenting.plan import Plan
from segmenting.render._switch import SwitchView, switch_devices, view
from segmenting.render._util import header, ranges, ranges_without, vlan_list
from segmenting.render.base import RenderedFile
from segmenting.render.secrets import SecretsProvider

PLATFORM = "aruba_aoscx"
RADIUS_GROUP = "cloison"
ROLE_REJECT = "cloison_quarantine"
ROLE_CRITICAL = "cloison_critical"


def devices(plan: Plan) -> list[str]:
    return switch_devices(plan, PLATFORM)


def ifname(port: int) -> str:
    return f"1/1/{port}"


def _range_text(spans: list[tuple[int, int]]) -> str:
    return ",".join(ifname(lo) if lo == hi else f"{ifname(lo)}-{ifname(hi)}" for lo, hi in spans)


def render_text(v: SwitchView, plan: Plan) -> str:
    sw = v.switch
    lines = header(plan, f"AOS-CX configuration of {sw.id}", comment="!").splitlines()
    lines += [
        f"! Site {v.site.id} ({v.site.name}), model {sw.model}, {sw.ports} ports",
        "!",
        f"hostname {sw.id}",
        "ssh server vrf default",
        "no https-server vrf default",
        "!",
        f"ntp server {v.ntp} iburst",
        "ntp enable",
        f"logging {v.syslog} tls 6514 severity info",
        "!",
        f"radius-server host {v.radius} key plaintext {v.radius_secret}",
        f"aaa group server radius {RADIUS_GROUP}",
        f"    server {v.radius}",
        "aaa authentication port-access dot1x authenticator",
        f"    radius server-group {RADIUS_GROUP}",
        "    enable",
        "aaa authentication port-access mac-auth",
        "    addr-format no-delimiter",
        f"    radius server-group {RADIUS_GROUP}",
        "    enable",
        "!",
        f"port-access role {ROLE_REJECT}",
        f"    vlan access {v.quarantine_vlan}",
        f"port-access role {ROLE_CRITICAL}",
        f"    vlan access {v.critical_vlan}",
        "!",
        "dhcpv4-snooping",
    ]
    for name in ("site_mgmt", "cameras", "quarantine", "unused"):
        vid = v.vlans[name]
        lines += [f"vlan {vid}", f"    name {name}"]
        if name in ("cameras", "quarantine"):
            lines += ["    dhcpv4-snooping", "    arp inspection"]
    lines += ["spanning-tree", "!"]
    # Static bindings from the plan keep statically addressed cameras valid for ARP inspection.
    for cp in v.cameras:
        lines.append(f"ip source-binding {v.camera_vlan} {cp.camera.ip} {cp.camera.mac} {ifname(cp.port)}")
    lines.append("!")
    cam_ports = v.camera_port_numbers
    spans = ranges(cam_ports)
    for cp in v.cameras:
        others = ranges_without(spans, cp.port)
        lines += [
            f"interface {ifname(cp.port)}",
            f"    description {cp.camera.id} ({cp.camera.auth})",
            "    no shutdown",
            "    no routing",
            f"    vlan access {v.camera_vlan}",
            "    spanning-tree bpdu-guard",
            "    spanning-tree port-type admin-edge",
        ]
        if others:
            lines.append(f"    portfilter {_range_text(others)}")
        lines += [
            f"    aaa authentication port-access reject-role {ROLE_REJECT}",
            f"    aaa authentication port-access critical-role {ROLE_CRITICAL}",
        ]
        if cp.mab:
            lines.append("    aaa authentication port-access auth-precedence dot1x mac-auth")
        lines += ["    aaa authentication port-access dot1x authenticator", "        enable"]
        if cp.mab:
            lines += ["    aaa authentication port-access mac-auth", "        enable"]
        lines.append("!")
    for port in sw.unused_ports:
        lines += [
            f"interface {ifname(port)}",
            "    description unused",
            "    shutdown",
            "    no routing",
            f"    vlan access {v.unused_vlan}",
            "    spanning-tree bpdu-guard",
            "!",
        ]
    lines += [
        f"interface {ifname(sw.mirror_port)}",
        "    description IDS sensor (mirror destination)",
        "    no shutdown",
        "    no routing",
        "!",
        f"interface {ifname(sw.uplink_port)}",
        f"    description uplink to {v.site.gateway.id}",
        "    no shutdown",
        "    no routing",
        f"    vlan trunk native {v.unused_vlan}",
        f"    vlan trunk allowed {vlan_list(v.trunk_vlans)}",
        "    dhcpv4-snooping trust",
        "    arp inspection trust",
        "!",
        f"interface vlan {v.mgmt_vlan}",
        f"    ip address {sw.mgmt_ip}/{v.mgmt_prefix}",
        "!",
        f"ip route 0.0.0.0/0 {v.gateway}",
        "!",
        "mirror session 1",
        f"    destination interface {ifname(sw.mirror_port)}",
        *(f"    source interface {ifname(p)} both" for p in [*cam_ports, sw.uplink_port]),
        "    enable",
        "!",
        "access-list ip cloison_admin",
        *(f"    {10 * (i + 1)} permit tcp {c.removesuffix('/32')} any eq 22" for i, c in enumerate(v.admin_sources)),
        f"    {10 * (len(v.admin_sources) + 1)} deny tcp any any eq 22 log",
        f"    {10 * (len(v.admin_sources) + 2)} permit any any any",
        "apply access-list ip cloison_admin control-plane vrf default",
        "!",
    ]
    return "\n".join(lines) + "\n"


def render(plan: Plan, device: str, secrets: SecretsProvider) -> list[RenderedFile]:
    v = view(plan, device, PLATFORM, secrets)
    return [RenderedFile(device, "config.aoscx", render_text(v, plan), 0o600)]
