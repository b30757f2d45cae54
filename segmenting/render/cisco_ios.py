"""Cisco IOS / IOS-XE access switch configuration (Catalyst 9200 class), from the plan.

Implements, per issue 8 and ANSSI-HYG-07 (802.1X network access control), ANSSI PA-022 R16/R49
(administration over SSH from the admin zone only) and ANSSI-PG075 (IDS mirroring):

- camera ports: 802.1X with the legacy ``authentication`` commands (IBNS 1.0), ``order dot1x
  mab`` and ``mab`` only where the plan says the camera does MAB (an EAP-TLS camera's port
  never accepts a MAC alone); RADIUS assigns the VLAN; ``event fail`` / ``no-response`` →
  quarantine VLAN; ``event server dead`` → the cameras VLAN (critical VLAN: cameras keep
  recording); ``switchport protected`` (no camera-to-camera traffic); BPDU guard; DHCP snooping
  and dynamic ARP inspection with a static source binding per camera (addresses come from the
  plan, so ARP of statically addressed cameras passes DAI), IP source guard;
- unused ports shut in the unused VLAN; the uplink a trunk of the site's VLANs with a native
  VLAN that carries nothing; a SPAN session from the camera ports and the uplink to the IDS port;
- management: SSH v2 only on the VTYs with an access class built from the plan's SSH flows, no
  HTTP(S) server, RADIUS/NTP/syslog-TLS servers from the plan.
"""

from __future__ import annotations

from segmenting.plan import Plan
from segmenting.render._switch import SwitchView, switch_devices, view
from segmenting.render._util import header, netmask, ranges, vlan_list
from segmenting.render.base import RenderedFile
from segmenting.render.secrets import SecretsProvider

PLATFORM = "cisco_ios"
IF_PREFIX = "GigabitEthernet"
MEMBER_PORTS = 48  # front ports per stack member: port 49 of the plan is GigabitEthernet2/0/1
RADIUS_GROUP = "CLOISON"
ADMIN_ACL = "CLOISON-ADMIN"


def devices(plan: Plan) -> list[str]:
    return switch_devices(plan, PLATFORM)


def ifname(port: int) -> str:
    member, index = divmod(port - 1, MEMBER_PORTS)
    return f"{IF_PREFIX}{member + 1}/0/{index + 1}"


def _if_ranges(ports: list[int]) -> list[str]:
    """``interface`` ranges for ``monitor session``: never across two stack members."""
    out: list[str] = []
    for first, hi in ranges(ports):
        lo = first
        while lo <= hi:
            end = min(hi, ((lo - 1) // MEMBER_PORTS + 1) * MEMBER_PORTS)
            out.append(ifname(lo) if lo == end else f"{ifname(lo)} - {(end - 1) % MEMBER_PORTS + 1}")
            lo = end + 1
    return out


def _dotted_mac(mac: str) -> str:
    plain = mac.replace(":", "")
    return f"{plain[0:4]}.{plain[4:8]}.{plain[8:12]}"


def _wildcard(cidr: str) -> str:
    net, mask = netmask(cidr)
    if mask == "255.255.255.255":
        return f"host {net}"
    wild = ".".join(str(255 - int(o)) for o in mask.split("."))
    return f"{net} {wild}"


def _camera_port(v: SwitchView, port: int, cam_id: str, auth: str, mab: bool) -> list[str]:
    lines = [
        f"interface {ifname(port)}",
        f" description {cam_id} ({auth})",
        " switchport mode access",
        f" switchport access vlan {v.camera_vlan}",
        " switchport nonegotiate",
        " switchport protected",
        f" authentication event fail action authorize vlan {v.quarantine_vlan}",
    ]
    if not mab:
        # No supplicant on an EAP-TLS camera's port: whatever is plugged there is quarantined.
        lines.append(f" authentication event no-response action authorize vlan {v.quarantine_vlan}")
    lines += [
        f" authentication event server dead action authorize vlan {v.critical_vlan}",
        " authentication event server alive action reinitialize",
        " authentication host-mode single-host",
        " authentication order dot1x mab" if mab else " authentication order dot1x",
        " authentication priority dot1x mab" if mab else " authentication priority dot1x",
        " authentication port-control auto",
        " authentication periodic",
        " authentication timer reauthenticate server",
        " authentication violation restrict",
    ]
    if mab:
        lines.append(" mab")
    lines += [
        " dot1x pae authenticator",
        " dot1x timeout tx-period 10",
        " spanning-tree portfast",
        " spanning-tree bpduguard enable",
        " ip verify source",
        " ip dhcp snooping limit rate 15",
        " no cdp enable",
        " no lldp transmit",
        " no shutdown",
        "!",
    ]
    return lines


def render_text(v: SwitchView, plan: Plan) -> str:
    sw = v.switch
    _, mgmt_mask = netmask(v.site.subnets["site_mgmt"])
    lines = header(plan, f"Cisco IOS-XE configuration of {sw.id}", comment="!").splitlines()
    lines += [
        f"! Site {v.site.id} ({v.site.name}), model {sw.model}, {sw.ports} ports",
        "!",
        f"hostname {sw.id}",
        "!",
        "service password-encryption",
        "service timestamps log datetime msec show-timezone",
        "no service pad",
        "no ip http server",
        "no ip http secure-server",
        "no ip domain lookup",
        "ip ssh version 2",
        "ip ssh time-out 60",
        "ip ssh authentication-retries 3",
        "!",
        "aaa new-model",
        f"aaa group server radius {RADIUS_GROUP}",
        " server name csu-radius",
        f" ip radius source-interface Vlan{v.mgmt_vlan}",
        "aaa authentication login default local",
        f"aaa authentication dot1x default group {RADIUS_GROUP}",
        f"aaa authorization network default group {RADIUS_GROUP}",
        f"aaa accounting dot1x default start-stop group {RADIUS_GROUP}",
        "!",
        "radius server csu-radius",
        f" address ipv4 {v.radius} auth-port 1812 acct-port 1813",
        f" key {v.radius_secret}",
        "radius-server dead-criteria time 5 tries 3",
        "radius-server deadtime 1",
        "!",
        "dot1x system-auth-control",
        "!",
    ]
    for name in ("site_mgmt", "cameras", "quarantine", "unused"):
        lines += [f"vlan {v.vlans[name]}", f" name {name}", "!"]
    snoop = vlan_list([v.camera_vlan, v.quarantine_vlan])
    lines += [
        f"ip dhcp snooping vlan {snoop}",
        "no ip dhcp snooping information option",
        "ip dhcp snooping",
        f"ip arp inspection vlan {snoop}",
        "ip arp inspection validate src-mac dst-mac ip",
        "!",
    ]
    # Static bindings: the plan knows every camera's MAC, address and port, so DAI and IP
    # source guard work whether cameras are addressed by DHCP or statically.
    for cp in v.cameras:
        lines.append(
            f"ip source binding {_dotted_mac(cp.camera.mac)} vlan {v.camera_vlan} {cp.camera.ip} "
            f"interface {ifname(cp.port)}"
        )
    lines += [
        "!",
        "spanning-tree mode rapid-pvst",
        "spanning-tree portfast bpduguard default",
        "!",
    ]
    for cp in v.cameras:
        lines += _camera_port(v, cp.port, cp.camera.id, cp.camera.auth, cp.mab)
    for port in sw.unused_ports:
        lines += [
            f"interface {ifname(port)}",
            " description unused",
            " switchport mode access",
            f" switchport access vlan {v.unused_vlan}",
            " spanning-tree bpduguard enable",
            " shutdown",
            "!",
        ]
    lines += [
        f"interface {ifname(sw.mirror_port)}",
        " description IDS sensor (SPAN destination)",
        " switchport mode access",
        f" switchport access vlan {v.unused_vlan}",
        " spanning-tree bpduguard enable",
        " no shutdown",
        "!",
        f"interface {ifname(sw.uplink_port)}",
        f" description uplink to {v.site.gateway.id}",
        " switchport mode trunk",
        f" switchport trunk native vlan {v.unused_vlan}",
        f" switchport trunk allowed vlan {vlan_list(v.trunk_vlans)}",
        " switchport nonegotiate",
        " ip dhcp snooping trust",
        " ip arp inspection trust",
        " no shutdown",
        "!",
        "interface Vlan1",
        " no ip address",
        " shutdown",
        "!",
        f"interface Vlan{v.mgmt_vlan}",
        " description site_mgmt",
        f" ip address {sw.mgmt_ip} {mgmt_mask}",
        " no ip redirects",
        " no ip proxy-arp",
        " no shutdown",
        "!",
        f"ip default-gateway {v.gateway}",
        "!",
    ]
    sources = _if_ranges(v.camera_port_numbers)
    for src in [*sources, ifname(sw.uplink_port)]:
        lines.append(f"monitor session 1 source interface {src} both")
    lines += [
        f"monitor session 1 destination interface {ifname(sw.mirror_port)}",
        "!",
        f"ntp server {v.ntp}",
        f"ntp source Vlan{v.mgmt_vlan}",
        f"logging source-interface Vlan{v.mgmt_vlan}",
        f"logging host {v.syslog} transport tls port 6514",
        "logging trap informational",
        "!",
        f"ip access-list standard {ADMIN_ACL}",
        *(f" permit {_wildcard(c)}" for c in v.admin_sources),
        " deny any log",
        "!",
        "line con 0",
        " exec-timeout 5 0",
        "line vty 0 15",
        f" access-class {ADMIN_ACL} in",
        " exec-timeout 10 0",
        " transport input ssh",
        " transport output none",
        "!",
        "end",
    ]
    return "\n".join(lines) + "\n"


def render(plan: Plan, device: str, secrets: SecretsProvider) -> list[RenderedFile]:
    v = view(plan, device, PLATFORM, secrets)
    return [RenderedFile(device, "config.ios", render_text(v, plan), 0o600)]
