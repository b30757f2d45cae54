"""The plan: everything the network needs, derived purely from a validated inventory.

``build_plan(inventory, lock)`` returns zones (one instance per site and per CSU zone), VLANs,
subnets, addresses, switches with their camera ports, the flow allowlist (each flow with its
purpose and the control IDs that justify it), viewing rights and the State slice. It does no
I/O and is deterministic: the same inventory and lock give a byte-identical
:func:`plan_to_json`. Every flow meets :mod:`segmenting.guardrails`: flows.yml is checked by
:mod:`segmenting.validate`, and a built-in flow that breaks one is a bug in cloison (an
``AssertionError``), never a weaker plan.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from ipaddress import IPv4Address
from typing import Any

from segmenting.allocate import ROLE_ZONE, Allocations, Lock, allocate, csu_subnet
from segmenting.canonical import canonical_json
from segmenting.errors import InvalidInventory, Problem
from segmenting.guardrails import RULES, ExtraFlowView, ports_of, violations
from segmenting.model import (
    CSU_ZONES,
    AuthMethod,
    CsuRole,
    FlowEnd,
    Inventory,
    Platform,
    Transport,
    Zone,
)
from segmenting.validate import effective_vlans

PLAN_FORMAT = 1

NETMIKO_DEVICE_TYPE: dict[Platform, str] = {
    Platform.CISCO_IOS: "cisco_ios",
    Platform.ARUBA_AOSCX: "aruba_aoscx",
    Platform.HP_PROCURVE: "hp_procurve",
    Platform.OVS: "linux",  # the lab's Open vSwitch hosts are driven over SSH as Linux
}

PortRange = tuple[int, int]

# Well-known ports the plan uses. Kept here, once: roles, renderers and tests read the plan.
P_RTSP = 554
P_HTTPS = 443
P_NTP = 123
P_DNS = 53
P_SYSLOG_TLS = 6514
P_RADIUS = (1812, 1813)
P_SSH = 22
P_IKE = (500, 4500)


@dataclass(frozen=True)
class ZoneInstance:
    id: str
    zone: Zone
    site: str | None
    cidrs: tuple[str, ...]
    vlan: int | None = None
    gateway: str | None = None


@dataclass(frozen=True)
class Host:
    """Any addressed thing: managed hosts (in Ansible groups), cameras, State endpoints."""

    id: str
    kind: str
    zone_id: str
    ip: str
    site: str | None = None
    commune: str | None = None
    mac: str | None = None
    groups: tuple[str, ...] = ()
    managed: bool = False


@dataclass(frozen=True)
class CameraPlan:
    id: str
    site: str
    commune: str
    ip: str
    mac: str
    vlan: int
    auth: str
    identity: str | None
    model: str
    port: int
    purposes: tuple[str, ...]
    shared_with_state: bool


@dataclass(frozen=True)
class SwitchPlan:
    id: str
    site: str
    platform: str
    netmiko_device_type: str
    model: str
    mgmt_ip: str
    ports: int
    uplink_port: int
    mirror_port: int
    camera_ports: tuple[tuple[int, str], ...]  # (port, camera id)
    unused_ports: tuple[int, ...]


@dataclass(frozen=True)
class GatewayPlan:
    id: str
    site: str
    mgmt_ip: str
    camera_gateway: str
    quarantine_gateway: str
    transport_ip: str | None  # our end of the /30 of a fibre site
    transport_peer: str | None  # the CSU end of that /30
    wan_ip: str | None  # VDSL/cellular uplink address, when fixed
    tunnel: str | None  # "ikev2" for untrusted transports


@dataclass(frozen=True)
class SitePlan:
    id: str
    name: str
    commune: str
    transport: str
    tunnelled: bool
    block: str
    subnets: dict[str, str]
    vlans: dict[str, int]
    gateway: GatewayPlan
    switch: SwitchPlan
    cameras: tuple[str, ...]
    ids_sensor: bool
    maintainers: tuple[str, ...]


@dataclass(frozen=True)
class Flow:
    id: str
    src_zone: Zone
    dst_zone: Zone
    proto: str
    ports: tuple[PortRange, ...]
    service: str
    purpose: str
    controls: tuple[str, ...]
    src_cidrs: tuple[str, ...]
    dst_cidrs: tuple[str, ...]
    src_site: str | None = None
    dst_site: str | None = None
    src_hosts: tuple[str, ...] = ()
    dst_hosts: tuple[str, ...] = ()
    dst_kinds: tuple[str, ...] = ()
    window: str = "always"  # or "maintenance": only while a maintenance window is open
    tunnel: bool = False  # carried inside an IKEv2 tunnel (untrusted transport)
    origin: str = "builtin"  # or "inventory" for flows.yml


@dataclass(frozen=True)
class Viewing:
    workstation: str
    ip: str
    agent: str
    communes: tuple[str, ...]
    expires: str
    cameras: int


@dataclass(frozen=True)
class StatePlan:
    reference: str
    endpoints: tuple[tuple[str, str, str], ...]  # (id, service, cidr)
    shared_communes: tuple[str, ...]
    shared_cameras: tuple[str, ...]
    retention_days: int
    relay_host: str
    relay_ip: str
    relay_public: str
    relay_port: int


@dataclass(frozen=True)
class MaintainerPlan:
    id: str
    name: str
    company: str
    sites: tuple[str, ...]
    switches: tuple[str, ...]
    max_window_hours: int


@dataclass(frozen=True)
class CsuPlan:
    commune: str
    vpn_endpoint: str
    relay_endpoint: str
    zones: dict[str, str]
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    format: int
    deployment: str
    name: str
    retention_days: int
    augmented_analysis: dict[str, Any]
    csu: CsuPlan
    zones: tuple[ZoneInstance, ...]
    sites: tuple[SitePlan, ...]
    hosts: tuple[Host, ...]
    cameras: tuple[CameraPlan, ...]
    flows: tuple[Flow, ...]
    viewing: tuple[Viewing, ...]
    state: StatePlan
    maintainers: tuple[MaintainerPlan, ...]
    guardrails: tuple[dict[str, Any], ...]
    lock: Lock = field(compare=False, repr=False)
    new_allocations: int = field(default=0, compare=False)

    def host(self, host_id: str) -> Host:
        for h in self.hosts:
            if h.id == host_id:
                return h
        raise KeyError(host_id)

    def site(self, site_id: str) -> SitePlan:
        for s in self.sites:
            if s.id == site_id:
                return s
        raise KeyError(site_id)

    def hosts_of_kind(self, kind: str) -> list[Host]:
        return [h for h in self.hosts if h.kind == kind]


# --- helpers ------------------------------------------------------------------------------


def _c32(ip: IPv4Address | str) -> str:
    return f"{ip}/32"


def _ports(*ports: int) -> tuple[PortRange, ...]:
    return ports_of(ports)


def _site_zone_id(site: str, zone: Zone) -> str:
    return f"{site}:{zone.value}"


def _csu_zone_id(zone: Zone) -> str:
    return f"csu:{zone.value}"


class _Context:
    """What flow building needs to resolve endpoints, computed once per plan."""

    def __init__(self, inv: Inventory, alloc: Allocations) -> None:
        self.inv = inv
        self.alloc = alloc
        self.role_hosts: dict[CsuRole, list[str]] = {}
        for h in sorted(inv.csu.hosts, key=lambda h: h.id):  # by id: flows do not follow the YAML order
            self.role_hosts.setdefault(h.role, []).append(h.id)
        self.host_role = {h.id: h.role for h in inv.csu.hosts}
        self.camera_site = {c.id: c.site for c in inv.cameras}

    def csu_ips(self, role: CsuRole) -> tuple[str, ...]:
        return tuple(_c32(self.alloc.csu_hosts[h]) for h in self.role_hosts.get(role, []))

    def csu_zone_cidr(self, zone: Zone) -> str:
        return str(csu_subnet(self.inv.addressing.csu_pool, zone))

    def end(self, end: FlowEnd) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(cidrs, kinds) of a flows.yml endpoint."""
        if end.hosts:
            cidrs, kinds = [], []
            for host in end.hosts:
                if host in self.host_role:
                    cidrs.append(_c32(self.alloc.csu_hosts[host]))
                    kinds.append(self.host_role[host].value)
                elif host in self.alloc.cameras:
                    cidrs.append(_c32(self.alloc.cameras[host]))
                    kinds.append("camera")
            return tuple(cidrs), tuple(sorted(set(kinds)))
        zone = end.zone
        if zone == Zone.INTERNET:
            return ("0.0.0.0/0",), ()
        if zone == Zone.STATE:
            return tuple(str(e.address) for e in self.inv.state_convention.endpoints), ("state_endpoint",)
        if zone in (Zone.CAMERAS, Zone.QUARANTINE, Zone.SITE_MGMT) or (zone == Zone.TRANSPORT and end.site):
            sites = [end.site] if end.site else sorted(self.alloc.site_blocks)
            cidrs = [str(getattr(self.alloc.site_blocks[s], zone.value)) for s in sites if s in self.alloc.site_blocks]
            return tuple(cidrs), ("camera",) if zone == Zone.CAMERAS else ()
        return (self.csu_zone_cidr(zone),), tuple(
            sorted({r.value for h, r in self.host_role.items() if ROLE_ZONE[r] == zone})
        )


# --- flows --------------------------------------------------------------------------------


def _site_flows(ctx: _Context, site_id: str, tunnelled: bool, ids_sensor: bool, maint: bool) -> Iterable[Flow]:
    blk = ctx.alloc.site_blocks[site_id]
    cams, mgmt = (str(blk.cameras),), (str(blk.site_mgmt),)
    recorders = ctx.csu_ips(CsuRole.RECORDER)
    rec_hosts = tuple(ctx.role_hosts.get(CsuRole.RECORDER, []))

    def f(suffix: str, **kw: Any) -> Flow:
        return Flow(id=f"F-{site_id}-{suffix}", tunnel=tunnelled, **kw)

    yield f(
        "rec-rtsp",
        src_zone=Zone.RECORDING, dst_zone=Zone.CAMERAS, proto="tcp", ports=_ports(P_RTSP), service="rtsp",
        purpose="recorders pull each camera's stream (RTSP, RTP interleaved over TCP)",
        controls=("ARR-2007-A2", "ANSSI-HYG-19"), src_cidrs=recorders, dst_cidrs=cams,
        dst_site=site_id, src_hosts=rec_hosts, dst_kinds=("camera",),
    )  # fmt: skip
    yield f(
        "rec-onvif",
        src_zone=Zone.RECORDING, dst_zone=Zone.CAMERAS, proto="tcp", ports=_ports(P_HTTPS), service="onvif",
        purpose="recorders read ONVIF events and settings over HTTPS",
        controls=("ANSSI-HYG-21", "ANSSI-HYG-19"), src_cidrs=recorders, dst_cidrs=cams,
        dst_site=site_id, src_hosts=rec_hosts, dst_kinds=("camera",),
    )  # fmt: skip
    for name, zone, cidrs in (("cam", Zone.CAMERAS, cams), ("mgmt", Zone.SITE_MGMT, mgmt)):
        yield f(
            f"{name}-ntp",
            src_zone=zone, dst_zone=Zone.SERVICES, proto="udp", ports=_ports(P_NTP), service="ntp",
            purpose="time synchronisation, so that every log and recording is dated right",
            controls=("ANSSI-HYG-36", "CNIL-F16"), src_cidrs=cidrs, dst_cidrs=ctx.csu_ips(CsuRole.NTP),
            src_site=site_id, dst_hosts=tuple(ctx.role_hosts[CsuRole.NTP]), dst_kinds=("ntp",),
        )  # fmt: skip
        yield f(
            f"{name}-syslog",
            src_zone=zone, dst_zone=Zone.SERVICES, proto="tcp", ports=_ports(P_SYSLOG_TLS), service="syslog-tls",
            purpose="logs to the CSU collector over TLS",
            controls=("ANSSI-HYG-36", "ANSSI-PA022-R47", "CNIL-F16"), src_cidrs=cidrs,
            dst_cidrs=ctx.csu_ips(CsuRole.COLLECTOR), src_site=site_id,
            dst_hosts=tuple(ctx.role_hosts[CsuRole.COLLECTOR]), dst_kinds=("collector",),
        )  # fmt: skip
    yield f(
        "mgmt-radius",
        src_zone=Zone.SITE_MGMT, dst_zone=Zone.SERVICES, proto="udp", ports=_ports(*P_RADIUS), service="radius",
        purpose="the switch authenticates camera ports (802.1X EAP-TLS, MAB) against RADIUS",
        controls=("ANSSI-HYG-07", "NIS2-21.2.i"), src_cidrs=mgmt, dst_cidrs=ctx.csu_ips(CsuRole.RADIUS),
        src_site=site_id, dst_hosts=tuple(ctx.role_hosts[CsuRole.RADIUS]), dst_kinds=("radius",),
    )  # fmt: skip
    yield f(
        "admin-ssh",
        src_zone=Zone.ADMIN, dst_zone=Zone.SITE_MGMT, proto="tcp", ports=_ports(P_SSH), service="ssh",
        purpose="administration of the site's switch and gateway from the bastion only",
        controls=("ANSSI-HYG-28", "ANSSI-PA022-R16"), src_cidrs=ctx.csu_ips(CsuRole.BASTION), dst_cidrs=mgmt,
        dst_site=site_id, src_hosts=tuple(ctx.role_hosts[CsuRole.BASTION]), dst_kinds=("gateway", "switch"),
    )  # fmt: skip
    if maint:
        yield f(
            "maint-ssh",
            src_zone=Zone.MAINTENANCE_VPN, dst_zone=Zone.SITE_MGMT, proto="tcp", ports=_ports(P_SSH),
            service="ssh", purpose="maintainer access to the site's devices, only during an open window",
            controls=("ANSSI-PA022-R49", "ANSSI-PA022-R62", "NIS2-21.2.j"),
            src_cidrs=(ctx.csu_zone_cidr(Zone.MAINTENANCE_VPN),), dst_cidrs=mgmt, dst_site=site_id,
            dst_kinds=("gateway", "switch"), window="maintenance",
        )  # fmt: skip
    if ids_sensor and ctx.role_hosts.get(CsuRole.IDS_COLLECTOR):
        yield f(
            "ids-alerts",
            src_zone=Zone.SITE_MGMT, dst_zone=Zone.SERVICES, proto="tcp", ports=_ports(P_SYSLOG_TLS),
            service="syslog-tls", purpose="the site's IDS sensor ships alerts to the IDS collector",
            controls=("ANSSI-PG075-R15", "NIS2-21.2.b"), src_cidrs=mgmt,
            dst_cidrs=ctx.csu_ips(CsuRole.IDS_COLLECTOR), src_site=site_id,
            dst_hosts=tuple(ctx.role_hosts[CsuRole.IDS_COLLECTOR]), dst_kinds=("ids_collector",),
        )  # fmt: skip


def _tunnel_flow(ctx: _Context, site_id: str, wan: str | None) -> Flow:
    return Flow(
        id=f"F-{site_id}-ike",
        src_zone=Zone.TRANSPORT, dst_zone=Zone.TRANSPORT, proto="udp", ports=_ports(*P_IKE), service="ike",
        purpose="the site's IKEv2 tunnel to the CSU concentrator (ESP in UDP)",
        controls=("ANSSI-HYG-18", "NIS2-21.2.h"), src_cidrs=(_c32(wan),) if wan else ("0.0.0.0/0",),
        dst_cidrs=(_c32(ctx.inv.csu.external.vpn_endpoint),), src_site=site_id,
        dst_hosts=tuple(ctx.role_hosts[CsuRole.VPN]), dst_kinds=("vpn",),
    )  # fmt: skip


def _csu_flows(ctx: _Context) -> Iterable[Flow]:
    inv = ctx.inv
    sc = inv.state_convention
    relay_hosts = tuple(ctx.role_hosts[CsuRole.RELAY])
    internal = tuple(
        ctx.csu_zone_cidr(z) for z in (Zone.RECORDING, Zone.OPERATORS, Zone.ADMIN, Zone.DMZ_STATE, Zone.SERVICES)
    )
    yield Flow(
        id="F-csu-state-relay",
        src_zone=Zone.STATE, dst_zone=Zone.DMZ_STATE, proto="tcp", ports=_ports(sc.relay_port),
        service="rtsp-tls", purpose="State endpoints named in the convention view shared cameras via the relay",
        controls=("CSI-L252-3", "ANSSI-HYG-25", "ANSSI-HYG-23"),
        src_cidrs=tuple(str(e.address) for e in sc.endpoints), dst_cidrs=ctx.csu_ips(CsuRole.RELAY),
        dst_hosts=relay_hosts, dst_kinds=("relay",),
    )  # fmt: skip
    yield Flow(
        id="F-csu-maint-ike",
        src_zone=Zone.INTERNET, dst_zone=Zone.TRANSPORT, proto="udp", ports=_ports(*P_IKE), service="ike",
        purpose="maintainers connect to the maintenance VPN (IKEv2, certificate + second factor)",
        controls=("ANSSI-PA022-R49", "ANSSI-HYG-13", "NIS2-21.2.j"), src_cidrs=("0.0.0.0/0",),
        dst_cidrs=(_c32(inv.csu.external.vpn_endpoint),), dst_hosts=tuple(ctx.role_hosts[CsuRole.VPN]),
        dst_kinds=("vpn",),
    )  # fmt: skip
    yield Flow(
        id="F-csu-vpn-radius",
        src_zone=Zone.ADMIN, dst_zone=Zone.SERVICES, proto="udp", ports=_ports(*P_RADIUS), service="radius",
        purpose="the VPN concentrator checks maintainers' second factor (TOTP) against RADIUS",
        controls=("ANSSI-PA022-R36", "ANSSI-HYG-13"), src_cidrs=ctx.csu_ips(CsuRole.VPN),
        dst_cidrs=ctx.csu_ips(CsuRole.RADIUS), src_hosts=tuple(ctx.role_hosts[CsuRole.VPN]),
        dst_hosts=tuple(ctx.role_hosts[CsuRole.RADIUS]), dst_kinds=("radius",),
    )  # fmt: skip
    if ctx.role_hosts.get(CsuRole.OPERATOR):
        yield Flow(
            id="F-csu-op-vms",
            src_zone=Zone.OPERATORS, dst_zone=Zone.RECORDING, proto="tcp", ports=_ports(P_HTTPS),
            service="vms-https", purpose="habilitated agents view live and recorded images of their communes",
            controls=("CSI-L252-2", "CNIL-F05", "CNIL-F04"), src_cidrs=ctx.csu_ips(CsuRole.OPERATOR),
            dst_cidrs=ctx.csu_ips(CsuRole.RECORDER), src_hosts=tuple(ctx.role_hosts[CsuRole.OPERATOR]),
            dst_hosts=tuple(ctx.role_hosts[CsuRole.RECORDER]), dst_kinds=("recorder",),
        )  # fmt: skip
    yield Flow(
        id="F-csu-admin-ssh",
        src_zone=Zone.ADMIN, dst_zone=Zone.SERVICES, proto="tcp", ports=_ports(P_SSH), service="ssh",
        purpose="administration of CSU servers from the bastion only",
        controls=("ANSSI-HYG-28", "ANSSI-PA022-R16"), src_cidrs=ctx.csu_ips(CsuRole.BASTION), dst_cidrs=internal,
        src_hosts=tuple(ctx.role_hosts[CsuRole.BASTION]),
    )  # fmt: skip
    if ctx.role_hosts.get(CsuRole.FIREWALL):
        # The core firewall sits in csu:transport, outside F-csu-admin-ssh: without this flow its
        # input chain accepts nothing and it cannot be administered at all.
        yield Flow(
            id="F-csu-fw-ssh",
            src_zone=Zone.ADMIN, dst_zone=Zone.TRANSPORT, proto="tcp", ports=_ports(P_SSH), service="ssh",
            purpose="administration of the CSU core firewall from the bastion only",
            controls=("ANSSI-HYG-28", "ANSSI-PA022-R16"), src_cidrs=ctx.csu_ips(CsuRole.BASTION),
            dst_cidrs=ctx.csu_ips(CsuRole.FIREWALL), src_hosts=tuple(ctx.role_hosts[CsuRole.BASTION]),
            dst_hosts=tuple(ctx.role_hosts[CsuRole.FIREWALL]), dst_kinds=("firewall",),
        )  # fmt: skip
    for suffix, proto, ports, service, role, purpose, controls in (
        ("ntp", "udp", (P_NTP,), "ntp", CsuRole.NTP, "time synchronisation", ("ANSSI-HYG-36", "CNIL-F16")),
        ("dns", "udp", (P_DNS,), "dns", CsuRole.DNS, "name resolution by the internal resolver", ("ANSSI-HYG-22",)),
        ("syslog", "tcp", (P_SYSLOG_TLS,), "syslog-tls", CsuRole.COLLECTOR, "logs to the collector over TLS",
         ("ANSSI-HYG-36", "ANSSI-PA022-R47", "CNIL-F16")),
    ):  # fmt: skip
        yield Flow(
            id=f"F-csu-hosts-{suffix}",
            src_zone=Zone.SERVICES, dst_zone=Zone.SERVICES, proto=proto, ports=_ports(*ports), service=service,
            purpose=f"CSU hosts: {purpose}", controls=controls, src_cidrs=internal, dst_cidrs=ctx.csu_ips(role),
            dst_hosts=tuple(ctx.role_hosts[role]), dst_kinds=(role.value,),
        )  # fmt: skip


def _relay_flows(ctx: _Context, cameras_by_site: dict[str, list[str]], tunnelled: set[str]) -> Iterable[Flow]:
    for site_id in sorted(cameras_by_site):
        ips = tuple(_c32(ctx.alloc.cameras[c]) for c in cameras_by_site[site_id])
        yield Flow(
            id=f"F-{site_id}-relay-rtsp",
            src_zone=Zone.DMZ_STATE, dst_zone=Zone.CAMERAS, proto="tcp", ports=_ports(P_RTSP), service="rtsp",
            purpose="the State relay reads the cameras of communes shared by the convention, and only those",
            controls=("CSI-L252-3", "ANSSI-HYG-25"), src_cidrs=ctx.csu_ips(CsuRole.RELAY), dst_cidrs=ips,
            dst_site=site_id, src_hosts=tuple(ctx.role_hosts[CsuRole.RELAY]), dst_hosts=tuple(cameras_by_site[site_id]),
            dst_kinds=("camera",), tunnel=site_id in tunnelled,
        )  # fmt: skip


def _extra_flows(ctx: _Context) -> Iterable[Flow]:
    for flow in ctx.inv.flows:
        src_cidrs, _ = ctx.end(flow.src)
        dst_cidrs, kinds = ctx.end(flow.dst)
        view = ExtraFlowView.of(ctx.inv, flow)
        yield Flow(
            id=flow.id if flow.id.startswith("F-") else f"F-x-{flow.id}",
            src_zone=flow.src.zone, dst_zone=flow.dst.zone, proto=flow.proto, ports=view.ports,
            service=flow.service, purpose=flow.purpose, controls=flow.controls, src_cidrs=src_cidrs,
            dst_cidrs=dst_cidrs, src_site=flow.src.site, dst_site=flow.dst.site, src_hosts=flow.src.hosts,
            dst_hosts=flow.dst.hosts, dst_kinds=view.dst_kinds or kinds, origin="inventory",
        )  # fmt: skip


# --- the plan -------------------------------------------------------------------------------


def build_plan(inv: Inventory, lock: Lock | None = None) -> Plan:
    """Derive the plan of a validated inventory. Raises :class:`InvalidInventory` on allocation
    problems and flow id clashes."""
    alloc = allocate(inv, lock or Lock())
    if alloc.problems:
        raise InvalidInventory(alloc.problems)
    ctx = _Context(inv, alloc)
    csu_pool = inv.addressing.csu_pool
    shared = set(inv.state_convention.shared_communes)

    zones: list[ZoneInstance] = []
    hosts: list[Host] = []
    cameras: list[CameraPlan] = []
    sites: list[SitePlan] = []
    flows: list[Flow] = []

    for zone in CSU_ZONES:
        subnet = csu_subnet(csu_pool, zone)
        zones.append(
            ZoneInstance(
                _csu_zone_id(zone),
                zone,
                None,
                (str(subnet),),
                None,
                str(subnet.network_address + 1),
            )
        )
    zones.append(ZoneInstance("state", Zone.STATE, None, tuple(str(e.address) for e in inv.state_convention.endpoints)))
    zones.append(ZoneInstance("internet", Zone.INTERNET, None, ("0.0.0.0/0",)))

    for h in inv.csu.hosts:
        zone = ROLE_ZONE[h.role]
        hosts.append(
            Host(
                id=h.id, kind=h.role.value, zone_id=_csu_zone_id(zone), ip=str(alloc.csu_hosts[h.id]),
                commune=inv.csu.commune, mac=h.mac, groups=("csu", f"csu_{h.role.value}"),
                managed=h.role != CsuRole.OPERATOR,
            )
        )  # fmt: skip
    for e in inv.state_convention.endpoints:
        hosts.append(Host(e.id, "state_endpoint", "state", str(e.address.network_address)))

    cams_by_site: dict[str, list[str]] = {}
    ports_by_site: dict[str, list[tuple[int, str]]] = {}  # grouped once: a scan per site is O(sites x cameras)
    for cam in inv.cameras:
        cams_by_site.setdefault(cam.site, []).append(cam.id)
        ports_by_site.setdefault(cam.site, []).append((cam.port, cam.id))
    maint_by_site: dict[str, list[str]] = {}
    for m in inv.maintainers:
        for s in m.sites:
            maint_by_site.setdefault(s, []).append(m.id)

    shared_by_site: dict[str, list[str]] = {}
    tunnelled_sites: set[str] = set()
    for index, site in enumerate(inv.sites):
        blk = alloc.site_blocks[site.id]
        vlans = effective_vlans(inv, index)
        tunnelled = site.transport != Transport.FIBER
        if tunnelled:
            tunnelled_sites.add(site.id)
        mgmt_base = blk.site_mgmt.network_address
        gw_mgmt, sw_mgmt = mgmt_base + 1, mgmt_base + 2
        link = alloc.transport.get(site.id)
        gateway = GatewayPlan(
            id=f"gw-{site.id}", site=site.id, mgmt_ip=str(gw_mgmt),
            camera_gateway=str(blk.cameras.network_address + 1),
            quarantine_gateway=str(blk.quarantine.network_address + 1),
            transport_ip=str(link.network_address + 2) if link else None,
            transport_peer=str(link.network_address + 1) if link else None,
            wan_ip=str(site.wan_address) if site.wan_address else None,
            tunnel=site.tunnel.type if site.tunnel else None,
        )  # fmt: skip
        site_cams = sorted(cams_by_site.get(site.id, []))
        by_port = sorted(ports_by_site.get(site.id, []))
        uplink = site.switch.ports
        mirror = site.switch.ports - 1
        used_ports = {p for p, _ in by_port} | {uplink, mirror}
        switch = SwitchPlan(
            id=f"sw-{site.id}", site=site.id, platform=site.switch.platform.value,
            netmiko_device_type=NETMIKO_DEVICE_TYPE[site.switch.platform], model=site.switch.model,
            mgmt_ip=str(sw_mgmt), ports=site.switch.ports, uplink_port=uplink, mirror_port=mirror,
            camera_ports=tuple(by_port),
            unused_ports=tuple(p for p in range(1, site.switch.ports + 1) if p not in used_ports),
        )  # fmt: skip
        sites.append(
            SitePlan(
                id=site.id, name=site.name, commune=site.commune, transport=site.transport.value,
                tunnelled=tunnelled, block=str(blk.block),
                subnets={
                    "cameras": str(blk.cameras), "quarantine": str(blk.quarantine), "site_mgmt": str(blk.site_mgmt),
                    **({"transport": str(link)} if link else {}),
                },
                vlans=vlans, gateway=gateway, switch=switch, cameras=tuple(site_cams), ids_sensor=site.ids_sensor,
                maintainers=tuple(sorted(maint_by_site.get(site.id, []))),
            )
        )  # fmt: skip
        for zone, subnet, vid in (
            (Zone.CAMERAS, blk.cameras, vlans["cameras"]),
            (Zone.QUARANTINE, blk.quarantine, vlans["quarantine"]),
            (Zone.SITE_MGMT, blk.site_mgmt, vlans["site_mgmt"]),
        ):
            zones.append(
                ZoneInstance(
                    _site_zone_id(site.id, zone),
                    zone,
                    site.id,
                    (str(subnet),),
                    vid,
                    str(subnet.network_address + 1),
                )
            )
        transport_cidrs = (str(link),) if link else ((_c32(site.wan_address),) if site.wan_address else ())
        if transport_cidrs:
            zones.append(ZoneInstance(_site_zone_id(site.id, Zone.TRANSPORT), Zone.TRANSPORT, site.id, transport_cidrs))
        site_groups = (f"site_{site.id}", f"commune_{site.commune}")
        hosts.append(
            Host(
                gateway.id, "gateway", _site_zone_id(site.id, Zone.SITE_MGMT), str(gw_mgmt), site.id, site.commune,
                None, ("edge_gateways", *site_groups, *(("ids_sensors",) if site.ids_sensor else ())), True,
            )
        )  # fmt: skip
        hosts.append(
            Host(
                switch.id, "switch", _site_zone_id(site.id, Zone.SITE_MGMT), str(sw_mgmt), site.id, site.commune,
                site.switch.mac, ("switches", f"switches_{switch.platform}", *site_groups), True,
            )
        )  # fmt: skip
        flows.extend(_site_flows(ctx, site.id, tunnelled, site.ids_sensor, site.id in maint_by_site))
        if tunnelled:
            flows.append(_tunnel_flow(ctx, site.id, str(site.wan_address) if site.wan_address else None))
        if site.commune in shared and site_cams:
            shared_by_site[site.id] = site_cams

    vlan_of_site = {s.id: s.vlans["cameras"] for s in sites}
    for cam in inv.cameras:
        ip = str(alloc.cameras[cam.id])
        cameras.append(
            CameraPlan(
                id=cam.id, site=cam.site, commune=cam.commune, ip=ip, mac=cam.mac, vlan=vlan_of_site[cam.site],
                auth=cam.auth.value, identity=cam.identity if cam.auth == AuthMethod.EAP_TLS else None,
                model=cam.model, port=cam.port, purposes=tuple(sorted(p.value for p in cam.purposes)),
                shared_with_state=cam.commune in shared,
            )
        )  # fmt: skip
        hosts.append(
            Host(
                cam.id,
                "camera",
                _site_zone_id(cam.site, Zone.CAMERAS),
                ip,
                cam.site,
                cam.commune,
                cam.mac,
            )
        )

    flows.extend(_relay_flows(ctx, shared_by_site, tunnelled_sites))
    flows.extend(_csu_flows(ctx))
    flows.extend(_extra_flows(ctx))

    problems: list[Problem] = []
    seen: set[str] = set()
    for fl in flows:
        if fl.id in seen:
            problems.append(Problem("flows.yml", fl.id, f"flow id {fl.id} clashes with another flow", "rename it"))
        seen.add(fl.id)
        # flows.yml was checked by validate (with the file's key paths); a built-in flow that
        # breaks a guardrail is cloison's bug, not the user's, and must never reach a renderer.
        if fl.origin == "builtin":
            broken = violations(fl, inv.state_convention.relay_port)
            if broken:
                raise AssertionError(
                    f"bug in cloison: built-in flow {fl.id} breaks guardrail(s) "
                    f"{', '.join(r.id for r in broken)}; please report it (segmenting/plan.py)"
                )
    if problems:
        raise InvalidInventory(problems)

    agents = {a.id: a for a in inv.agents}
    cams_per_commune: dict[str, int] = {}
    for cam in inv.cameras:
        cams_per_commune[cam.commune] = cams_per_commune.get(cam.commune, 0) + 1
    viewing = tuple(
        Viewing(
            workstation=h.id, ip=str(alloc.csu_hosts[h.id]), agent=h.agent,
            communes=tuple(sorted(agents[h.agent].communes)), expires=agents[h.agent].habilitation.expires.isoformat(),
            cameras=sum(cams_per_commune.get(c, 0) for c in agents[h.agent].communes),
        )
        for h in sorted(inv.csu.hosts, key=lambda h: h.id)
        if h.role == CsuRole.OPERATOR and h.agent in agents
    )  # fmt: skip
    relay_id = ctx.role_hosts[CsuRole.RELAY][0]
    sc = inv.state_convention
    state = StatePlan(
        reference=sc.reference, endpoints=tuple((e.id, e.service, str(e.address)) for e in sc.endpoints),
        shared_communes=tuple(sorted(shared)),
        shared_cameras=tuple(sorted(c.id for c in inv.cameras if c.commune in shared)),
        retention_days=sc.state_retention_days, relay_host=relay_id, relay_ip=str(alloc.csu_hosts[relay_id]),
        relay_public=str(inv.csu.external.relay_endpoint), relay_port=sc.relay_port,
    )  # fmt: skip
    switch_ip = {s.id: s.switch.mgmt_ip for s in sites}
    maintainers = tuple(
        MaintainerPlan(
            m.id,
            m.name,
            m.company,
            tuple(sorted(m.sites)),
            tuple(switch_ip[s] for s in sorted(m.sites)),
            m.max_window_hours,
        )
        for m in sorted(inv.maintainers, key=lambda m: m.id)
    )
    guardrails = tuple(
        {"id": r.id, "rule": r.text, "controls": list(r.controls), "status": "pass"} for r in RULES.values()
    )
    return Plan(
        format=PLAN_FORMAT, deployment=inv.deployment.id, name=inv.deployment.name,
        retention_days=inv.retention_days, augmented_analysis=inv.augmented_analysis.model_dump(mode="json"),
        csu=CsuPlan(
            commune=inv.csu.commune, vpn_endpoint=str(inv.csu.external.vpn_endpoint),
            relay_endpoint=str(inv.csu.external.relay_endpoint),
            zones={z.value: str(csu_subnet(csu_pool, z)) for z in CSU_ZONES},
            hosts=tuple(sorted(h.id for h in inv.csu.hosts)),
        ),
        zones=tuple(sorted(zones, key=lambda z: z.id)), sites=tuple(sorted(sites, key=lambda s: s.id)),
        hosts=tuple(sorted(hosts, key=lambda h: h.id)), cameras=tuple(sorted(cameras, key=lambda c: c.id)),
        flows=tuple(sorted(flows, key=lambda f: f.id)), viewing=viewing, state=state, maintainers=maintainers,
        guardrails=guardrails, lock=alloc.lock, new_allocations=alloc.added,
    )  # fmt: skip


_NOT_IN_JSON = ("lock", "new_allocations")  # how this run got its addresses, not what the plan is


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    data = asdict(plan)
    for name in _NOT_IN_JSON:
        data.pop(name)
    return data


def plan_to_json(plan: Plan) -> str:
    """Canonical JSON (:mod:`segmenting.canonical`): sorted keys, stable order, newline-terminated.

    Equal to ``json.dumps(plan_to_dict(plan), indent=1, sort_keys=True, default=str) + "\\n"``.
    """
    return canonical_json(plan, skip=_NOT_IN_JSON)


def plan_digest(plan: Plan) -> str:
    return hashlib.sha256(plan_to_json(plan).encode()).hexdigest()


__all__ = [
    "NETMIKO_DEVICE_TYPE",
    "CameraPlan",
    "Flow",
    "GatewayPlan",
    "Host",
    "Plan",
    "SitePlan",
    "SwitchPlan",
    "ZoneInstance",
    "build_plan",
    "plan_digest",
    "plan_to_dict",
    "plan_to_json",
]
