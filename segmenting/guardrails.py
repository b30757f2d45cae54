"""Guardrails: rules about flows that no inventory can override (DESIGN.md, "Guardrails").

Each rule has a stable id, the controls it serves, and a check on one flow. The plan runs every
flow (built-in and deployment-added) through :func:`violations`; any hit refuses the plan.
Rules that are about sites or retention rather than flows live in :mod:`segmenting.validate`
with the same ids (``GR-TUNNEL``, ``GR-RETENTION``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from segmenting.model import ExtraFlow, Inventory, Zone

PortRange = tuple[int, int]

ADMIN_SERVICES = frozenset({"ssh", "snmp", "https-admin", "netconf"})
ADMIN_PORTS = frozenset({("tcp", 22), ("udp", 161), ("udp", 162), ("tcp", 830), ("tcp", 8443)})
CLEARTEXT_SERVICES = frozenset({"telnet", "ftp", "http", "tftp"})
CLEARTEXT_PORTS = frozenset({("tcp", 21), ("tcp", 23), ("tcp", 80), ("udp", 69)})
IKE_PORTS = frozenset({500, 4500})
ADMIN_SOURCES = frozenset({Zone.ADMIN, Zone.MAINTENANCE_VPN})


class FlowLike(Protocol):
    @property
    def src_zone(self) -> Zone: ...
    @property
    def dst_zone(self) -> Zone: ...
    @property
    def proto(self) -> str: ...
    @property
    def ports(self) -> tuple[PortRange, ...]: ...
    @property
    def service(self) -> str: ...
    @property
    def dst_kinds(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Rule:
    id: str
    text: str
    controls: tuple[str, ...]


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule("GR-CAM-INTERNET", "cameras never reach the internet", ("ANSSI-HYG-19", "ANSSI-HYG-27")),
        Rule("GR-CAM-CAM", "cameras never reach cameras", ("ANSSI-HYG-19", "ANSSI-PG075-R34")),
        Rule(
            "GR-STATE-RELAY",
            "the State reaches only the relay's published port in dmz_state",
            ("CSI-L252-3", "ANSSI-HYG-25"),
        ),
        Rule(
            "GR-INTERNET-VPN",
            "the internet reaches nothing but the VPN/tunnel endpoints (IKE, UDP 500/4500)",
            ("ANSSI-HYG-23", "ANSSI-PA022-R49"),
        ),
        Rule(
            "GR-ADMIN-SOURCE",
            "admin protocols (SSH, SNMP, HTTPS admin UIs, NETCONF) start only from admin or maintenance_vpn",
            ("ANSSI-HYG-28", "ANSSI-PA022-R16"),
        ),
        Rule("GR-CLEARTEXT", "no telnet, FTP, TFTP or cleartext HTTP", ("ANSSI-HYG-21", "CNIL-F08")),
        Rule("GR-QUARANTINE", "quarantine reaches nothing", ("ANSSI-HYG-07",)),
        Rule(
            "GR-TUNNEL",
            "a site whose transport is not private carries camera flows only inside a tunnel",
            ("ANSSI-HYG-18", "NIS2-21.2.h"),
        ),
        Rule("GR-RETENTION", "recordings are kept at most 30 days", ("CSI-L252-5",)),
    )
}


def _port_set(ports: Iterable[PortRange]) -> set[int]:
    out: set[int] = set()
    for low, high in ports:
        out.update(range(low, min(high, 65535) + 1))
        if len(out) > 70000:  # pragma: no cover - "any port" ranges are handled by the caller
            break
    return out


def _touches(flow: FlowLike, pairs: frozenset[tuple[str, int]], services: frozenset[str]) -> bool:
    if flow.service in services:
        return True
    if not flow.ports:  # "any port" includes every admin/cleartext port
        return flow.proto in {p for p, _ in pairs} or flow.proto == "any"
    return any(flow.proto in (proto, "any") and any(lo <= port <= hi for lo, hi in flow.ports) for proto, port in pairs)


def violations(flow: FlowLike, relay_port: int) -> list[Rule]:
    """The rules this flow breaks (empty when it is acceptable)."""
    hits: list[str] = []
    src, dst = flow.src_zone, flow.dst_zone
    if src == Zone.CAMERAS and dst == Zone.INTERNET:
        hits.append("GR-CAM-INTERNET")
    if src == Zone.CAMERAS and dst == Zone.CAMERAS:
        hits.append("GR-CAM-CAM")
    if src == Zone.QUARANTINE:
        hits.append("GR-QUARANTINE")
    if src == Zone.STATE and not (
        dst == Zone.DMZ_STATE
        and flow.proto == "tcp"
        and flow.ports == ((relay_port, relay_port),)
        and set(flow.dst_kinds) == {"relay"}
    ):
        hits.append("GR-STATE-RELAY")
    if src == Zone.INTERNET and not (
        flow.proto == "udp" and flow.ports and _port_set(flow.ports) <= IKE_PORTS and set(flow.dst_kinds) == {"vpn"}
    ):
        hits.append("GR-INTERNET-VPN")
    if src not in ADMIN_SOURCES and _touches(flow, ADMIN_PORTS, ADMIN_SERVICES):
        hits.append("GR-ADMIN-SOURCE")
    if _touches(flow, CLEARTEXT_PORTS, CLEARTEXT_SERVICES):
        hits.append("GR-CLEARTEXT")
    return [RULES[h] for h in hits]


def ports_of(ports: Iterable[int]) -> tuple[PortRange, ...]:
    """Single ports as sorted, de-duplicated one-port ranges."""
    return tuple((p, p) for p in sorted(set(ports)))


@dataclass(frozen=True)
class ExtraFlowView:
    """A flows.yml entry seen the way the guardrails look at flows."""

    src_zone: Zone
    dst_zone: Zone
    proto: str
    ports: tuple[PortRange, ...]
    service: str
    dst_kinds: tuple[str, ...]

    @classmethod
    def of(cls, inv: Inventory, flow: ExtraFlow) -> ExtraFlowView:
        host_kind = {h.id: h.role.value for h in inv.csu.hosts} | {c.id: "camera" for c in inv.cameras}
        kinds = tuple(sorted({host_kind[h] for h in flow.dst.hosts if h in host_kind}))
        return cls(flow.src.zone, flow.dst.zone, flow.proto, ports_of(flow.ports), flow.service, kinds)
