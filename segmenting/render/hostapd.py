"""hostapd (2.10, ``driver=wired``) 802.1X authenticator configs for the lab's OVS camera ports.

One file per EAP-TLS camera port of an Open vSwitch switch, plus the action script hostapd runs
(``hostapd_cli -a``) to open the port in OVS once the camera is authenticated (IEEE 802.1X-2010
port access entity; ANSSI-HYG-07).

What hostapd cannot do, and what the lab does around it (LAB-NOTES "802.1X"):

- it does not block data frames: the OVS script (:mod:`segmenting.render.ovs`) keeps the port
  closed with an OpenFlow drop, and the action script adds the flows for the camera's MAC and
  address on ``AP-STA-CONNECTED`` and removes them on ``AP-STA-DISCONNECTED``;
- dynamic VLAN (``dynamic_vlan=1``: the port takes the VLAN RADIUS returns) only works if a
  netdev exists beforehand for every VLAN RADIUS may return; the lab kernel has no 802.1Q
  devices, so the lab creates them as taps named ``v<vid>`` (segmenting/lab/switches.py) and the
  rendered ``hostapd/vlan`` file maps the cameras and quarantine VLANs to those names;
- no MAC Authentication Bypass in 2.10: MAB cameras get no hostapd file and their ports stay
  closed in the OVS script; the lab's port daemon (segmenting/lab/portd.py) sends the MAB
  Access-Request itself (radclient, ``Service-Type = Call-Check``) and opens the port on accept.

The files are meant to be installed in :data:`INSTALL_DIR`/``<switch>/`` (``vlan_file`` points
there).
"""

from __future__ import annotations

from segmenting.plan import Plan
from segmenting.render._switch import CameraPort, SwitchView, radius_key, view
from segmenting.render._util import header, ovs_bridge, ovs_port
from segmenting.render.base import RenderedFile, UnsupportedFeature
from segmenting.render.ovs import camera_flows
from segmenting.render.ovs import devices as ovs_devices
from segmenting.render.secrets import SecretsProvider

REAUTH_SECONDS = 3600  # re-authenticate hourly: a revoked camera certificate loses access soon
INSTALL_DIR = "/etc/hostapd/cloison"


def vlan_netdev(vid: int) -> str:
    """The netdev hostapd moves a station to for VLAN ``vid`` (the lab's tap naming)."""
    return f"v{vid}"


def vlan_file(v: SwitchView) -> str:
    return "".join(f"{vid} {vlan_netdev(vid)}\n" for vid in sorted({v.camera_vlan, v.quarantine_vlan}))


def devices(plan: Plan) -> list[str]:
    return ovs_devices(plan)


def ctrl_dir(v: SwitchView) -> str:
    return f"/run/hostapd-{ovs_bridge(v.site)}"


def port_conf(v: SwitchView, cp: CameraPort, plan: Plan, secret: str) -> str:
    if cp.mab:
        raise UnsupportedFeature(
            "hostapd 2.10", "MAC Authentication Bypass", f"{cp.camera.id} on {v.id} port {cp.port} does MAB"
        )
    iface = ovs_port(v.site, cp.port)
    lines = [
        *header(plan, f"hostapd (wired) for {v.id} port {cp.port}: {cp.camera.id}").splitlines(),
        f"interface={iface}",
        "driver=wired",
        "logger_syslog=-1",
        "logger_syslog_level=2",
        "logger_stdout=-1",
        "logger_stdout_level=2",
        f"ctrl_interface={ctrl_dir(v)}",
        "ctrl_interface_group=0",
        "ieee8021x=1",
        "eapol_version=2",
        "use_pae_group_addr=1",
        f"eap_reauth_period={REAUTH_SECONDS}",
        f"nas_identifier={v.id}",
        f"own_ip_addr={v.switch.mgmt_ip}",
        f"auth_server_addr={v.radius}",
        "auth_server_port=1812",
        f"auth_server_shared_secret={secret}",
        f"acct_server_addr={v.radius}",
        "acct_server_port=1813",
        f"acct_server_shared_secret={secret}",
        "radius_request_cui=1",
        "# The VLAN comes from RADIUS (Tunnel-Private-Group-Id); the netdevs named in vlan_file must",
        "# exist before hostapd starts (hostapd 2.10 wired, LAB-NOTES).",
        "dynamic_vlan=1",
        f"vlan_file={INSTALL_DIR}/{v.id}/vlan",
    ]
    return "\n".join(lines) + "\n"


def action_script(v: SwitchView, plan: Plan) -> str:
    br = ovs_bridge(v.site)
    lines = [
        "#!/bin/sh",
        *header(plan, f"hostapd_cli action script for {v.id}: opens a camera port in OVS after 802.1X").splitlines(),
        "# Usage (hostapd_cli -a): $0 IFACE EVENT MAC. Only the plan's MAC/address pair passes.",
        "set -eu",
        'IFACE="$1"; EVENT="$2"; MAC="${3:-}"',
        'case "$IFACE" in',
    ]
    for cp in v.cameras:
        if cp.mab:
            continue
        port = ovs_port(v.site, cp.port)
        opens = camera_flows(br, port, cp.camera.mac, cp.camera.ip, v.camera_vlan)
        lines += [
            f"{port})",
            f'  [ "$MAC" = "{cp.camera.mac}" ] || {{ logger -t cloison "{port}: unexpected MAC $MAC"; exit 0; }}',
            '  case "$EVENT" in',
            "    AP-STA-CONNECTED)",
            *(f"      {line}" for line in opens),
            "      ;;",
            "    AP-STA-DISCONNECTED)",
            f"      ovs-ofctl del-flows {br} 'in_port={port},dl_src={cp.camera.mac}'",
            "      ;;",
            "  esac",
            "  ;;",
        ]
    lines += ["*) exit 0 ;;", "esac"]
    return "\n".join(lines) + "\n"


def render(plan: Plan, device: str, secrets: SecretsProvider) -> list[RenderedFile]:
    v = view(plan, device, "ovs", secrets)
    secret = secrets.get(radius_key(device))
    files = [
        RenderedFile(device, f"hostapd/{ovs_port(v.site, cp.port)}.conf", port_conf(v, cp, plan, secret), 0o600)
        for cp in v.cameras
        if not cp.mab
    ]
    files.append(RenderedFile(device, "hostapd/vlan", vlan_file(v)))
    files.append(RenderedFile(device, "hostapd/action.sh", action_script(v, plan), 0o755))
    return files
