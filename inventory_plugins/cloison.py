"""Ansible inventory plugin: the hosts and groups of a cloison deployment, derived from its plan.

The deployment folder is read, validated and planned by ``segmenting.api.load_plan`` exactly
as ``cloison plan`` does; nothing here re-reads the YAML. See docs/ansible.md.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from datetime import date
from ipaddress import IPv4Address, IPv4Network, ip_address
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin

try:
    from segmenting.api import load_plan
except ImportError:  # ansible run from another interpreter than the project venv: use this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from segmenting.api import load_plan

from segmenting.errors import CloisonError
from segmenting.plan import Flow, Host, Plan, SitePlan

DOCUMENTATION = r"""
name: cloison
short_description: Hosts and groups of a cloison deployment, derived from its segmentation plan
description:
  - Reads the deployment folder that holds the C(cloison.yml) source file, validates it and builds
    its plan with C(segmenting.api.load_plan), then adds every Ansible-managed host of the plan
    (CSU servers, site edge gateways, site switches) with its groups and one C(cloison) host variable
    holding that host's slice of the plan (zone, address, VLANs, subnets, flows in and out,
    the cameras a switch or gateway serves, ...).
  - Cameras, operator workstations and State endpoints are not managed by Ansible and are left out.
  - Group names are the plan's groups with C(-) turned into C(_) (C(site_s_ingeville_1),
    C(commune_saint_aubin_sur_ingre)), plus readable role groups (C(recorders), C(radius),
    C(dmz_relay), C(bastion), C(vpn), C(collectors), C(ids_collectors), C(pki), C(ntp), C(dns),
    C(firewalls)) and C(transport_fiber), C(transport_vdsl), C(transport_cellular).
  - An invalid inventory fails with the cloison problems (file, key path, fix), never a partial inventory.
  - >-
    The environment variable C(CLOISON_ANSIBLE_HOST_OVERRIDES) overrides C(ansible_host) per host
    (the lab points hosts at lab management addresses). It holds a JSON object such as
    C({"csu-radius": "172.30.0.5"}) or a list C(csu-radius=172.30.0.5,gw-s-x-1=172.30.0.6), and wins over
    the C(host_overrides) option.
options:
  plugin:
    description: Marks this file as a cloison inventory source.
    required: true
    choices: ['cloison']
  deployment:
    description:
      - The deployment folder, relative to the source file. Defaults to the folder holding it.
    type: str
    default: '.'
  as_of:
    description:
      - Judge habilitation expiry on this date (YYYY-MM-DD) instead of today, like C(cloison --as-of).
    type: str
    env:
      - name: CLOISON_AS_OF
  host_overrides:
    description:
      - Map of host id to the address to use as C(ansible_host) instead of the plan's management address.
      - Unknown host ids and malformed addresses are refused.
    type: dict
    default: {}
"""

EXAMPLES = r"""
# inventory/<deployment>/cloison.yml
plugin: cloison

# the lab: point Ansible at lab management addresses
plugin: cloison
as_of: '2026-11-28'
host_overrides:
  csu-radius: 172.30.0.5
"""

SOURCE_NAMES = ("cloison.yml", "cloison.yaml")
OVERRIDES_ENV = "CLOISON_ANSIBLE_HOST_OVERRIDES"

# Readable groups for CSU roles; each holds the plan's own csu_<role> group as a child, so that
# both names work in a play's `hosts:`.
ROLE_GROUPS = {
    "recorder": "recorders",
    "radius": "radius",
    "relay": "dmz_relay",
    "bastion": "bastion",
    "vpn": "vpn",
    "collector": "collectors",
    "ids_collector": "ids_collectors",
    "ids_sensor": "ids_sensors",
    "pki": "pki",
    "ntp": "ntp",
    "dns": "dns",
    "firewall": "firewalls",
}

# How Ansible talks to each switch family. Cisco/Aruba/ProCurve run vendor CLIs over SSH
# (network_cli); the lab's Open vSwitch nodes are Linux hosts.
SWITCH_CONNECTION: dict[str, dict[str, str]] = {
    "cisco_ios": {"ansible_network_os": "cisco.ios.ios", "ansible_connection": "ansible.netcommon.network_cli"},
    "aruba_aoscx": {
        "ansible_network_os": "arubanetworks.aoscx.aoscx",
        "ansible_connection": "ansible.netcommon.network_cli",
    },
    "hp_procurve": {
        "ansible_network_os": "arubanetworks.aos_switch.arubaoss",
        "ansible_connection": "ansible.netcommon.network_cli",
    },
    "ovs": {"ansible_connection": "ssh"},
}


def group_name(name: str) -> str:
    """Ansible group names may not hold '-': the plan's ids use it, so map it to '_' everywhere."""
    return name.replace("-", "_").replace(":", "_")


def parse_overrides(text: str) -> dict[str, str]:
    """``{"host": "addr"}`` as JSON, or ``host=addr,host=addr``."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AnsibleParserError(f"cloison: {OVERRIDES_ENV} is not valid JSON: {exc.msg}") from None
        if not isinstance(data, dict):
            raise AnsibleParserError(f"cloison: {OVERRIDES_ENV} must be a JSON object host -> address")
        return {str(k): str(v) for k, v in data.items()}
    result = {}
    for item in text.split(","):
        host, sep, addr = item.partition("=")
        if not sep or not host.strip() or not addr.strip():
            raise AnsibleParserError(f"cloison: {OVERRIDES_ENV}: {item!r} is not host=address")
        result[host.strip()] = addr.strip()
    return result


class _Nets:
    """CIDR membership with integer ranges: --list must stay fast for every host x flow."""

    def __init__(self, cidrs: tuple[str, ...]) -> None:
        self.ranges = []
        for c in cidrs:
            net = IPv4Network(c, strict=False)
            self.ranges.append((int(net.network_address), int(net.broadcast_address), net.prefixlen))

    def holds(self, ip: int) -> bool:
        # A default route is "anywhere", not a statement about one host: never match it.
        return any(lo <= ip <= hi for lo, hi, plen in self.ranges if plen > 0)


def _cidr_key(cidr: str) -> tuple[int, int]:
    net = IPv4Network(cidr, strict=False)
    return int(net.network_address), net.prefixlen


def _rules(flows: list[Flow], inbound: bool) -> list[dict[str, Any]]:
    """Flows seen from one host, merged per (peer zone, proto, ports, service, window, tunnel).

    A CSU collector receives the same syslog flow from every site: one rule listing every peer
    CIDR and flow id is what its firewall needs, and keeps ``--list`` small and fast.
    """
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for f in flows:
        peer_zone = (f.src_zone if inbound else f.dst_zone).value
        key = (peer_zone, f.proto, f.ports, f.service, f.window, f.tunnel)
        rule = merged.setdefault(
            key,
            {
                "zone": peer_zone,
                "proto": f.proto,
                "ports": [list(p) for p in f.ports],
                "service": f.service,
                "window": f.window,
                "tunnel": f.tunnel,
                "cidrs": set(),
                "flows": [],
                "controls": set(),
            },
        )
        rule["cidrs"].update(f.src_cidrs if inbound else f.dst_cidrs)
        rule["flows"].append(f.id)
        rule["controls"].update(f.controls)
    return [
        {**r, "cidrs": sorted(r["cidrs"], key=_cidr_key), "controls": sorted(r["controls"])}
        for _, r in sorted(merged.items(), key=lambda kv: str(kv[0]))
    ]


class _Slicer:
    """Computes each managed host's slice of the plan (plain JSON-serialisable data)."""

    def __init__(self, plan: Plan, folder: Path) -> None:
        self.plan = plan
        self.folder = folder
        self.zone_of = {z.id: z for z in plan.zones}
        self.sites = {s.id: s for s in plan.sites}
        self.cameras = {c.id: c for c in plan.cameras}
        self.flows = [(f, _Nets(f.src_cidrs), _Nets(f.dst_cidrs)) for f in plan.flows]

    def _touches(self, h: Host, side: str, f: Flow, nets: _Nets) -> bool:
        hosts = f.src_hosts if side == "src" else f.dst_hosts
        if h.id in hosts:
            return True
        zone = f.src_zone if side == "src" else f.dst_zone
        site = f.src_site if side == "src" else f.dst_site
        if h.kind == "gateway" and zone.value == "transport" and site == h.site:
            return True  # the gateway is its site's uplink and tunnel end
        inst = self.zone_of.get(h.zone_id)
        if inst is None or inst.zone != zone or (site is not None and site != h.site):
            return False
        return nets.holds(int(IPv4Address(h.ip)))

    def _camera(self, cam_id: str, kind: str) -> dict[str, Any]:
        c = self.cameras[cam_id]
        if kind == "switch":  # what port security and 802.1X/MAB need on the access port
            return {"id": c.id, "port": c.port, "mac": c.mac, "auth": c.auth}
        return {"id": c.id, "ip": c.ip, "mac": c.mac}  # the gateway: addressing and filtering

    def _site(self, s: SitePlan) -> dict[str, Any]:
        return {
            "id": s.id,
            "name": s.name,
            "commune": s.commune,
            "transport": s.transport,
            "tunnelled": s.tunnelled,
            "block": s.block,
            "subnets": dict(s.subnets),
            "ids_sensor": s.ids_sensor,
            "maintainers": list(s.maintainers),
        }

    def slice(self, h: Host) -> dict[str, Any]:
        inst = self.zone_of[h.zone_id]
        data: dict[str, Any] = {
            "deployment": self.plan.deployment,
            "deployment_dir": str(self.folder),
            "id": h.id,
            "kind": h.kind,
            "zone": inst.zone.value,
            "zone_id": h.zone_id,
            "zone_cidrs": list(inst.cidrs),
            "zone_gateway": inst.gateway,
            "ip": h.ip,
            "mac": h.mac,
            "site": h.site,
            "commune": h.commune,
            "flows_in": _rules([f for f, _, dst in self.flows if self._touches(h, "dst", f, dst)], inbound=True),
            "flows_out": _rules([f for f, src, _ in self.flows if self._touches(h, "src", f, src)], inbound=False),
        }
        if h.site is not None:
            site = self.sites[h.site]
            data["site_plan"] = self._site(site)
            data["vlans"] = dict(site.vlans)
            data["cameras"] = [self._camera(c, h.kind) for c in site.cameras]
            if h.kind == "gateway":
                data["gateway"] = asdict(site.gateway)
                # The gateway filters everything that enters or leaves its site; the full definitions
                # are in the plan (its nftables ruleset is rendered from there), the ids say which.
                data["site_flows"] = [f.id for f, _, _ in self.flows if h.site in (f.src_site, f.dst_site)]
            elif h.kind == "switch":
                sw = site.switch
                data["switch"] = {
                    "platform": sw.platform,
                    "netmiko_device_type": sw.netmiko_device_type,
                    "model": sw.model,
                    "ports": sw.ports,
                    "uplink_port": sw.uplink_port,
                    "mirror_port": sw.mirror_port,
                    "unused_ports": list(sw.unused_ports),
                }
                data["netmiko_device_type"] = sw.netmiko_device_type
        else:
            data["role"] = h.kind
            data.update(self._role_extras(h))
        return data

    def _role_extras(self, h: Host) -> dict[str, Any]:
        # Lists that span every camera (RADIUS users, recorder and relay camera lists) are not
        # copied into hostvars: roles read them from the plan through the cloison filters, which
        # keeps `ansible-inventory --list` small and fast. Counts are here to check against.
        plan = self.plan
        if h.kind == "radius":
            return {
                "nas_clients": [{"id": s.switch.id, "site": s.id, "ip": s.switch.mgmt_ip} for s in plan.sites],
                "supplicants_count": len(plan.cameras),
            }
        if h.kind == "recorder":
            return {"cameras_count": len(plan.cameras)}
        if h.kind == "relay":
            st = plan.state
            return {
                "state": {
                    "reference": st.reference,
                    "endpoints": [{"id": i, "service": s, "cidr": c} for i, s, c in st.endpoints],
                    "shared_communes": list(st.shared_communes),
                    "retention_days": st.retention_days,
                    "relay_public": st.relay_public,
                    "relay_port": st.relay_port,
                },
                "cameras_count": len(st.shared_cameras),
            }
        if h.kind == "vpn":
            return {
                "vpn_endpoint": plan.csu.vpn_endpoint,
                "tunnels": [
                    {"site": s.id, "gateway": s.gateway.id, "wan_ip": s.gateway.wan_ip, "cameras": s.subnets["cameras"]}
                    for s in plan.sites
                    if s.tunnelled
                ],
                "maintainers": [{"id": m.id, "company": m.company, "sites": list(m.sites)} for m in plan.maintainers],
            }
        return {}


class InventoryModule(BaseInventoryPlugin):  # type: ignore[misc]
    NAME = "cloison"

    def verify_file(self, path: str) -> bool:
        return bool(super().verify_file(path)) and Path(path).name in SOURCE_NAMES

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        folder = (Path(path).resolve().parent / str(self.get_option("deployment"))).resolve()
        as_of_text = self.get_option("as_of")
        as_of = None
        if as_of_text:
            try:
                as_of = date.fromisoformat(str(as_of_text))
            except ValueError:
                raise AnsibleParserError(f"cloison: as_of {as_of_text!r} is not a date: write YYYY-MM-DD") from None
        try:
            plan = load_plan(folder, as_of)
        except CloisonError as exc:
            # The problems already name file, key path and fix; a traceback would only hide them.
            raise AnsibleParserError(f"cloison: deployment {folder} is refused:\n{exc}") from None
        overrides = dict(self.get_option("host_overrides") or {})
        overrides.update(parse_overrides(os.environ.get(OVERRIDES_ENV, "")))
        self._populate(plan, folder, overrides)

    def _populate(self, plan: Plan, folder: Path, overrides: dict[str, str]) -> None:
        inv = self.inventory
        managed = [h for h in plan.hosts if h.managed]
        known = {h.id for h in managed}
        for host_id, addr in overrides.items():
            if host_id not in known:
                raise AnsibleParserError(f"cloison: host_overrides names {host_id!r}, not a managed host of the plan")
            try:
                ip_address(addr)
            except ValueError:
                raise AnsibleParserError(f"cloison: host_overrides[{host_id}] = {addr!r} is not an address") from None

        def group(name: str, parent: str | None = None) -> str:
            g = str(inv.add_group(group_name(name)))
            if parent is not None:
                inv.add_child(str(inv.add_group(parent)), g)
            return g

        for site in plan.sites:
            sg = group(f"site_{site.id}", parent=group_name(f"commune_{site.commune}"))
            inv.add_child(group("communes"), group_name(f"commune_{site.commune}"))
            inv.add_child(group(f"transport_{site.transport}"), sg)

        slicer = _Slicer(plan, folder)
        for h in managed:
            inv.add_host(h.id)
            for g in h.groups:
                name = group(g)
                if name.startswith("csu_"):
                    inv.add_child(group("csu"), name)
                    role = ROLE_GROUPS.get(h.kind)
                    if role is not None and role != name:
                        inv.add_child(group(role), name)
                elif name.startswith("switches_"):
                    inv.add_child(group("switches"), name)
                if name in ("csu", "switches") or name.startswith("commune_"):
                    continue  # reached through the role / platform / site child group
                inv.add_child(name, h.id)
            inv.set_variable(h.id, "ansible_host", overrides.get(h.id, h.ip))
            if h.kind == "switch" and h.site is not None:
                for key, value in SWITCH_CONNECTION.get(slicer.sites[h.site].switch.platform, {}).items():
                    inv.set_variable(h.id, key, value)
            inv.set_variable(h.id, "cloison", slicer.slice(h))
