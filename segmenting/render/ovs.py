"""Open vSwitch (the lab's access switch) as a shell script of ``ovs-vsctl``/``ovs-ofctl`` commands.

The lab builds each site's switch with Open vSwitch on the userspace datapath
(``datapath_type=netdev``, LAB-NOTES "VLANs"). The script is idempotent (``--may-exist``, flows
replaced by cookie) and sets up what issue 8 asks of every access switch, the OVS way:

- VLANs: camera ports are access ports of the cameras VLAN (``tag=``), the uplink a trunk of the
  site's VLANs, unused ports internal ports in the unused VLAN, administratively down;
- no camera-to-camera traffic: every camera port is ``protected=true`` (OVS does not forward
  between two protected ports);
- 802.1X: hostapd (``driver=wired``, see :mod:`segmenting.render.hostapd`) authenticates EAP-TLS
  cameras. hostapd does not block data frames itself (LAB-NOTES), so each camera port starts
  closed by an OpenFlow drop and hostapd's action script opens it for the camera's MAC and
  address only on ``AP-STA-CONNECTED`` (this is also the lab's DHCP snooping / ARP inspection:
  only the plan's MAC/IP pair passes);
- MAB: hostapd 2.10 has no MAC Authentication Bypass, so a MAB camera's port stays closed here;
  the lab's port daemon (segmenting/lab/portd.py) asks RADIUS itself and opens it on accept.
  Nothing is opened without a RADIUS decision;
- BPDU guard: OVS has none; frames to the STP group address from camera and unused ports are
  dropped (a camera port cannot take part in spanning tree, which is what BPDU guard protects);
- SPAN: one mirror of every camera port and the uplink to the IDS port (``select-src-port`` /
  ``select-dst-port``).

Management by SSH only, RADIUS/NTP/syslog are the lab host's business (hostapd carries the
RADIUS settings); nothing listens on telnet or HTTP on an OVS host.
"""

from __future__ import annotations

from segmenting.plan import Plan
from segmenting.render._switch import SwitchView, switch_devices, view
from segmenting.render._util import header, ovs_bridge, ovs_port, vlan_list
from segmenting.render.base import RenderedFile
from segmenting.render.secrets import SecretsProvider

PLATFORM = "ovs"
COOKIE = "0xc105"  # every flow this script owns: replaced as a whole on each run
STP_GROUP = "01:80:c2:00:00:00"


def devices(plan: Plan) -> list[str]:
    return switch_devices(plan, PLATFORM)


def camera_flows(bridge: str, port: str, mac: str, ip: str, camera_vlan: int) -> list[str]:
    """The flows that open a camera port for its own MAC and address only (the hostapd action
    script adds them once the camera is authenticated)."""
    del camera_vlan
    base = f"cookie={COOKIE},priority=200,in_port={port},dl_src={mac}"
    return [
        f"ovs-ofctl add-flow {bridge} '{base},arp,arp_spa={ip},arp_sha={mac},actions=NORMAL'",
        f"ovs-ofctl add-flow {bridge} '{base},ip,nw_src={ip},actions=NORMAL'",
    ]


def render_text(v: SwitchView, plan: Plan) -> str:
    sw = v.switch
    br = ovs_bridge(v.site)
    lines = [
        "#!/bin/sh",
        *header(plan, f"Open vSwitch setup of {sw.id} (lab)").splitlines(),
        f"# Site {v.site.id} ({v.site.name}); bridge {br}, port N is {br}pN.",
        "set -eu",
        f"BR={br}",
        'ovs-vsctl --may-exist add-br "$BR" -- set bridge "$BR" datapath_type=netdev',
        # No standalone learning outside our flows if the controller is gone; no STP on a leaf.
        'ovs-vsctl set bridge "$BR" fail_mode=secure stp_enable=false rstp_enable=false',
        'ovs-vsctl set bridge "$BR" other_config:forward-bpdu=false',
    ]
    for cp in v.cameras:
        name = ovs_port(v.site, cp.port)
        lines.append(
            f'ovs-vsctl --may-exist add-port "$BR" {name} -- set port {name} vlan_mode=access '
            f"tag={v.camera_vlan} protected=true "
            f"other_config:cloison-camera={cp.camera.id} other_config:cloison-auth={cp.camera.auth}"
        )
    up = ovs_port(v.site, sw.uplink_port)
    mirror = ovs_port(v.site, sw.mirror_port)
    lines += [
        f'ovs-vsctl --may-exist add-port "$BR" {up} -- set port {up} vlan_mode=trunk trunks={vlan_list(v.trunk_vlans)}',
        f'ovs-vsctl --may-exist add-port "$BR" {mirror} -- set port {mirror} vlan_mode=access tag={v.unused_vlan}',
    ]
    for port in sw.unused_ports:
        name = ovs_port(v.site, port)
        lines += [
            f'ovs-vsctl --may-exist add-port "$BR" {name} -- set interface {name} type=internal '
            f"-- set port {name} vlan_mode=access tag={v.unused_vlan}",
            f'ovs-ofctl mod-port "$BR" {name} down',
        ]
    sources = ",".join(f"@s{p}" for p in [*v.camera_port_numbers, sw.uplink_port])
    gets = " ".join(f"-- --id=@s{p} get port {ovs_port(v.site, p)}" for p in [*v.camera_port_numbers, sw.uplink_port])
    lines += [
        'ovs-vsctl clear bridge "$BR" mirrors',
        f"ovs-vsctl {gets} -- --id=@out get port {mirror} "
        f"-- --id=@m create mirror name=ids select-src-port={sources} select-dst-port={sources} output-port=@out "
        '-- set bridge "$BR" mirrors=@m',
        f'ovs-ofctl del-flows "$BR" cookie={COOKIE}/-1',
        # fail_mode=secure starts with no flows: forward what is not a camera port normally.
        f"ovs-ofctl add-flow \"$BR\" 'cookie={COOKIE},priority=0,actions=NORMAL'",
    ]
    for port in [*v.camera_port_numbers, *sw.unused_ports]:
        name = ovs_port(v.site, port)
        lines.append(
            f"ovs-ofctl add-flow \"$BR\" 'cookie={COOKIE},priority=300,in_port={name},dl_dst={STP_GROUP},actions=drop'"
        )
    for cp in v.cameras:
        name = ovs_port(v.site, cp.port)
        if cp.mab:
            lines.append(f"# {cp.camera.id} does MAB: closed until the port daemon's RADIUS request is accepted.")
        lines.append(f"ovs-ofctl add-flow \"$BR\" 'cookie={COOKIE},priority=100,in_port={name},actions=drop'")
    return "\n".join(lines) + "\n"


def render(plan: Plan, device: str, secrets: SecretsProvider) -> list[RenderedFile]:
    v = view(plan, device, PLATFORM, secrets)
    return [RenderedFile(device, "ovs-setup.sh", render_text(v, plan), 0o755)]
