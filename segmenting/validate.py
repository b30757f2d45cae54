"""Meaning checks across records: references, duplicates, addressing, legal rules, guardrails.

Structure (types, formats, vocabularies) is already checked by :mod:`segmenting.model`. Here
every rule that spans records is checked, and *all* problems are returned, each with the file,
the key path and a fix. Legal sources: CSI L251-2 (purposes), L252-2 (habilitated viewers),
L252-3 (State access, one month), L252-5 (retention, one month).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from difflib import get_close_matches
from ipaddress import IPv4Address, IPv4Network
from typing import TypeVar

from segmenting.errors import Problem
from segmenting.guardrails import ADMIN_PORTS, CLEARTEXT_PORTS, RULES, ExtraFlowView, violations
from segmenting.model import (
    MAX_RETENTION_DAYS,
    SITE_ZONES,
    AuthMethod,
    CsuRole,
    ExtraFlow,
    Inventory,
    Transport,
)

_T = TypeVar("_T")

REQUIRED_CSU_ROLES = (
    CsuRole.RECORDER,
    CsuRole.RADIUS,
    CsuRole.PKI,
    CsuRole.NTP,
    CsuRole.DNS,
    CsuRole.COLLECTOR,
    CsuRole.BASTION,
    CsuRole.VPN,
    CsuRole.RELAY,
)


def _duplicates(  # noqa: PLR0917 - one call per unique field reads best positionally
    items: Sequence[_T], key: Callable[[_T], object], file: str, section: str, field: str, what: str
) -> Iterable[Problem]:
    counts = Counter(key(i) for i in items)
    seen: set[object] = set()
    for index, item in enumerate(items):
        value = key(item)
        if value is None or counts[value] < 2:
            continue
        if value in seen:
            yield Problem(
                file,
                f"{section}[{index}].{field}",
                f"duplicate {what} {value!s}",
                f"each {what} must be unique; change or remove this entry",
            )
        seen.add(value)


def effective_vlans(inv: Inventory, site_index: int) -> dict[str, int]:
    defaults = inv.addressing.vlans.model_dump()
    site = inv.sites[site_index]
    overrides = {k: v for k, v in site.vlans.model_dump().items() if v is not None}
    return {**defaults, **overrides}


def _check_ids(inv: Inventory) -> Iterable[Problem]:
    yield from _duplicates(inv.communes, lambda c: c.id, "communes.yml", "communes", "id", "commune id")
    yield from _duplicates(inv.communes, lambda c: c.insee, "communes.yml", "communes", "insee", "INSEE code")
    yield from _duplicates(inv.sites, lambda s: s.id, "sites.yml", "sites", "id", "site id")
    yield from _duplicates(inv.cameras, lambda c: c.id, "cameras.yml", "cameras", "id", "camera id")
    yield from _duplicates(inv.csu.hosts, lambda h: h.id, "deployment.yml", "csu.hosts", "id", "host id")
    yield from _duplicates(inv.agents, lambda a: a.id, "agents.yml", "agents", "id", "agent id")
    yield from _duplicates(inv.maintainers, lambda m: m.id, "maintainers.yml", "maintainers", "id", "maintainer id")
    yield from _duplicates(inv.flows, lambda f: f.id, "flows.yml", "flows", "id", "flow id")
    yield from _duplicates(
        inv.state_convention.endpoints,
        lambda e: e.id,
        "state.yml",
        "state_convention.endpoints",
        "id",
        "endpoint id",
    )
    yield from _duplicates(
        inv.cameras,
        lambda c: c.identity if c.auth == AuthMethod.EAP_TLS else None,
        "cameras.yml",
        "cameras",
        "identity",
        "certificate identity",
    )
    # One MAC namespace for everything we authenticate or bind: cameras, switches, CSU hosts.
    macs: list[tuple[str, str, str | None]] = [
        *(("cameras.yml", f"cameras[{i}].mac", c.mac) for i, c in enumerate(inv.cameras)),
        *(("sites.yml", f"sites[{i}].switch.mac", s.switch.mac) for i, s in enumerate(inv.sites)),
        *(("deployment.yml", f"csu.hosts[{i}].mac", h.mac) for i, h in enumerate(inv.csu.hosts)),
    ]
    first: dict[str, str] = {}
    for file, path, mac in macs:
        if mac is None:
            continue
        if mac in first:
            yield Problem(
                file,
                path,
                f"duplicate MAC {mac} (also at {first[mac]})",
                "each device has its own MAC",
            )
        else:
            first[mac] = f"{file}:{path}"


def _suggest(choices: Iterable[str], otherwise: str) -> Callable[[str], str]:
    """A fix for an unknown reference: the nearest known id when one is close (a typo), else ``otherwise``."""
    pool = sorted(choices)

    def fix(wrong: str) -> str:
        close = get_close_matches(wrong, pool, n=1)
        return f"did you mean {close[0]!r}? Otherwise {otherwise}" if close else otherwise

    return fix


def _check_refs(inv: Inventory, today: date) -> Iterable[Problem]:
    communes = {c.id for c in inv.communes}
    sites = {s.id: s for s in inv.sites}
    agents = {a.id: a for a in inv.agents}
    known = ", ".join(sorted(communes)[:5]) + ("..." if len(communes) > 5 else "")
    commune_fix = _suggest(communes, f"use one of {known}")
    site_fix = _suggest(sites, "declare the site in sites.yml")

    if inv.csu.commune not in communes:
        yield Problem(
            "deployment.yml",
            "csu.commune",
            f"unknown commune {inv.csu.commune!r}",
            commune_fix(inv.csu.commune),
        )
    for i, s in enumerate(inv.sites):
        if s.commune not in communes:
            yield Problem(
                "sites.yml",
                f"sites[{i}].commune",
                f"unknown commune {s.commune!r}",
                commune_fix(s.commune),
            )
    ports_used: dict[tuple[str, int], int] = {}
    for i, cam in enumerate(inv.cameras):
        path = f"cameras[{i}]"
        site = sites.get(cam.site)
        if cam.commune not in communes:
            yield Problem(
                "cameras.yml",
                f"{path}.commune",
                f"unknown commune {cam.commune!r}",
                commune_fix(cam.commune),
            )
        if site is None:
            yield Problem(
                "cameras.yml",
                f"{path}.site",
                f"unknown site {cam.site!r}",
                site_fix(cam.site),
            )
            continue
        if site.commune != cam.commune and cam.commune in communes:  # an unknown one is said above
            yield Problem(
                "cameras.yml",
                f"{path}.commune",
                f"camera is in commune {cam.commune!r} but its site {site.id!r} is in {site.commune!r}",
                "fix the camera's commune or move it to a site of that commune",
            )
        if cam.port >= site.switch.ports:
            yield Problem(
                "cameras.yml",
                f"{path}.port",
                f"port {cam.port} does not exist as an access port on {site.id}'s "
                f"{site.switch.ports}-port switch (the last port is the uplink, the one before the IDS mirror)",
                f"use a port from 1 to {site.switch.ports - 2}",
            )
        elif cam.port == site.switch.ports - 1:
            yield Problem(
                "cameras.yml",
                f"{path}.port",
                f"port {cam.port} of {site.id} is the IDS mirror port and cannot hold a camera",
                f"use a port from 1 to {site.switch.ports - 2}",
            )
        key = (cam.site, cam.port)
        if key in ports_used:
            other = inv.cameras[ports_used[key]].id
            yield Problem(
                "cameras.yml",
                f"{path}.port",
                f"port {cam.port} of {cam.site} is already used by {other}",
                "pick a free port",
            )
        else:
            ports_used[key] = i
        if cam.auth == AuthMethod.EAP_TLS and not cam.identity:
            yield Problem(
                "cameras.yml",
                f"{path}.identity",
                "an eap-tls camera has no auth identity",
                "set identity to the CN of the camera's certificate, or use auth: mab for a legacy camera",
            )
    for i, agent in enumerate(inv.agents):
        for j, commune in enumerate(agent.communes):
            if commune not in communes:
                yield Problem(
                    "agents.yml",
                    f"agents[{i}].communes[{j}]",
                    f"agent {agent.id} is habilitated for {commune!r}, which is not in this deployment",
                    commune_fix(commune) + ", or remove it",
                )
        if agent.habilitation.expires < today:
            yield Problem(
                "agents.yml",
                f"agents[{i}].habilitation.expires",
                f"habilitation of {agent.id} expired on {agent.habilitation.expires} (CSI L252-2)",
                "renew the prefect's approval and update the date, or remove the agent",
            )
    for i, host in enumerate(inv.csu.hosts):
        if host.role == CsuRole.OPERATOR:
            if host.agent is None:
                yield Problem(
                    "deployment.yml",
                    f"csu.hosts[{i}].agent",
                    f"operator workstation {host.id} is bound to no viewing agent",
                    "set agent: to the habilitated agent who uses it (CSI L252-2)",
                )
            elif host.agent not in agents:
                yield Problem(
                    "deployment.yml",
                    f"csu.hosts[{i}].agent",
                    f"unknown agent {host.agent!r}",
                    "declare it in agents.yml",
                )
        elif host.agent is not None:
            yield Problem(
                "deployment.yml",
                f"csu.hosts[{i}].agent",
                "only operator workstations have an agent",
                "remove it",
            )
    roles = {h.role for h in inv.csu.hosts}
    for role in REQUIRED_CSU_ROLES:
        if role not in roles:
            yield Problem(
                "deployment.yml",
                "csu.hosts",
                f"the CSU has no {role.value} host",
                f"add a host with role: {role.value}",
            )
    for i, commune in enumerate(inv.state_convention.shared_communes):
        if commune not in communes:
            yield Problem(
                "state.yml",
                f"state_convention.shared_communes[{i}]",
                f"the State convention shares commune {commune!r}, which does not exist",
                commune_fix(commune) + ", or remove it",
            )
    for i, maint in enumerate(inv.maintainers):
        for j, site_id in enumerate(maint.sites):
            if site_id not in sites:
                yield Problem(
                    "maintainers.yml",
                    f"maintainers[{i}].sites[{j}]",
                    f"unknown site {site_id!r}",
                    site_fix(site_id),
                )


def _check_sites(inv: Inventory) -> Iterable[Problem]:
    defaults = inv.addressing.vlans.model_dump()
    seen: dict[int, str] = {}
    for zone, vid in defaults.items():
        if vid in seen:
            yield Problem(
                "deployment.yml",
                f"addressing.vlans.{zone}",
                f"VLAN {vid} is used twice by default ({seen[vid]} and {zone}), so in every site",
                "give each zone its own VLAN id",
            )
        seen[vid] = zone
    for i, site in enumerate(inv.sites):
        vlans = effective_vlans(inv, i)
        overridden = {k for k, v in site.vlans.model_dump().items() if v is not None}
        seen = {}
        for zone, vid in vlans.items():
            # A clash between two defaults is reported once, above; here only the site's own
            # overrides, at the key the user wrote (so the path and the line exist).
            if vid in seen and (zone in overridden or seen[vid] in overridden):
                key = zone if zone in overridden else seen[vid]
                yield Problem(
                    "sites.yml",
                    f"sites[{i}].vlans.{key}",
                    f"VLAN {vid} is used twice in site {site.id} ({seen[vid]} and {zone})",
                    "give each zone of a site its own VLAN id",
                )
            seen[vid] = zone
        if site.transport != Transport.FIBER and site.tunnel is None:
            yield Problem(
                "sites.yml",
                f"sites[{i}].tunnel",
                f"{RULES['GR-TUNNEL'].id}: site {site.id} uses {site.transport.value}, "
                "an untrusted transport, without a tunnel",
                "add `tunnel: {type: ikev2}` so camera flows are encrypted to the CSU",
            )


# RFC 1918 only: ``ipaddress``'s is_private also admits the documentation and benchmarking
# ranges (RFC 5737, RFC 2544), which this project uses for *outside* addresses.
RFC1918 = (IPv4Network("10.0.0.0/8"), IPv4Network("172.16.0.0/12"), IPv4Network("192.168.0.0/16"))


def _private(net: IPv4Network) -> bool:
    return any(net.subnet_of(space) for space in RFC1918)


def _check_addressing(inv: Inventory) -> Iterable[Problem]:
    a = inv.addressing
    pools = {"sites_pool": a.sites_pool, "csu_pool": a.csu_pool, "transport_pool": a.transport_pool}
    for name, net in pools.items():
        if not _private(net):
            yield Problem(
                "deployment.yml",
                f"addressing.{name}",
                f"{net} is not a private range",
                "use RFC 1918 space",
            )
    names = list(pools)
    for x, left in enumerate(names):
        for right in names[x + 1 :]:
            if pools[left].overlaps(pools[right]):
                yield Problem(
                    "deployment.yml",
                    f"addressing.{right}",
                    f"{right} {pools[right]} overlaps {left} {pools[left]}",
                    "give each pool its own range",
                )
    if a.csu_pool.prefixlen > 20:
        yield Problem(
            "deployment.yml",
            "addressing.csu_pool",
            "the CSU pool must be a /20 or larger",
            "e.g. 10.0.0.0/16",
        )
    if a.site_prefix < a.sites_pool.prefixlen:
        yield Problem(
            "deployment.yml",
            "addressing.site_prefix",
            "site blocks are larger than the sites pool",
            "lengthen the prefix",
        )
    pinned: list[tuple[int, IPv4Network]] = []
    for i, site in enumerate(inv.sites):
        if site.block is None:
            continue
        if site.block.prefixlen != a.site_prefix or not site.block.subnet_of(a.sites_pool):
            yield Problem(
                "sites.yml",
                f"sites[{i}].block",
                f"block {site.block} is not a /{a.site_prefix} inside sites_pool {a.sites_pool}",
                "remove the pin or choose a block of the pool",
            )
        for j, other in pinned:
            if other.overlaps(site.block):
                yield Problem(
                    "sites.yml",
                    f"sites[{i}].block",
                    f"block {site.block} overlaps {inv.sites[j].id}'s block {other}",
                    "give each site its own block",
                )
        pinned.append((i, site.block))
    internal = list(pools.values())
    externals: list[tuple[str, str, IPv4Network]] = [
        ("deployment.yml", "csu.external.vpn_endpoint", IPv4Network(inv.csu.external.vpn_endpoint)),
        (
            "deployment.yml",
            "csu.external.relay_endpoint",
            IPv4Network(inv.csu.external.relay_endpoint),
        ),
        *(
            ("state.yml", f"state_convention.endpoints[{i}].address", e.address)
            for i, e in enumerate(inv.state_convention.endpoints)
        ),
        *(
            ("sites.yml", f"sites[{i}].wan_address", IPv4Network(s.wan_address))
            for i, s in enumerate(inv.sites)
            if s.wan_address is not None
        ),
    ]
    seen: dict[IPv4Network, str] = {}
    for file, path, net in externals:
        for pool in internal:
            if net.overlaps(pool):
                yield Problem(
                    file,
                    path,
                    f"{net} overlaps the internal pool {pool}",
                    "use the address the outside sees",
                )
        for other, where in seen.items():
            if other.overlaps(net):
                yield Problem(
                    file,
                    path,
                    f"{net} overlaps {other} ({where})",
                    "each endpoint has its own address",
                )
        seen[net] = f"{file}:{path}"
    if inv.csu.external.vpn_endpoint == IPv4Address("0.0.0.0"):  # noqa: S104 - a check, not a bind
        yield Problem(
            "deployment.yml",
            "csu.external.vpn_endpoint",
            "0.0.0.0 is not an address",
            "use the public one",
        )


def _check_legal(inv: Inventory) -> Iterable[Problem]:
    if inv.retention_days > MAX_RETENTION_DAYS:
        yield Problem(
            "deployment.yml",
            "retention_days",
            f"{RULES['GR-RETENTION'].id}: recordings kept {inv.retention_days} days, more than the "
            f"{MAX_RETENTION_DAYS} CSI L252-5 allows",
            f"set retention_days to {MAX_RETENTION_DAYS} or less",
        )
    sc = inv.state_convention
    if sc.state_retention_days > MAX_RETENTION_DAYS:
        yield Problem(
            "state.yml",
            "state_convention.state_retention_days",
            f"the State keeps images {sc.state_retention_days} days; CSI L252-3 allows one month",
            f"set it to {MAX_RETENTION_DAYS} or less (criminal proceedings are outside this system)",
        )
    if ("tcp", sc.relay_port) in ADMIN_PORTS | CLEARTEXT_PORTS:
        # The relay's published port is opened to the State: it must not be an admin or
        # cleartext protocol's port, or the built-in State flow would break a guardrail.
        yield Problem(
            "state.yml",
            "state_convention.relay_port",
            f"{RULES['GR-STATE-RELAY'].id}: the State would reach port {sc.relay_port}, an admin or cleartext "
            "protocol's port",
            "publish the relay on its own port, e.g. 8554 (RTSP over TLS)",
        )
    ai = inv.augmented_analysis
    if ai.enabled and not ai.events:
        yield Problem(
            "deployment.yml",
            "augmented_analysis.events",
            "augmented analysis is enabled with no event type",
            "list the events",
        )
    if not ai.enabled and ai.events:
        yield Problem(
            "deployment.yml",
            "augmented_analysis.events",
            "event types are listed while augmented analysis is off",
            "remove them, or set enabled: true",
        )


def _check_extra_flows(inv: Inventory) -> Iterable[Problem]:
    sites = {s.id for s in inv.sites}
    site_fix = _suggest(sites, "use a site id declared in sites.yml")
    host_ids = {h.id for h in inv.csu.hosts} | {c.id for c in inv.cameras}
    for i, flow in enumerate(inv.flows):
        for end_name in ("src", "dst"):
            end = getattr(flow, end_name)
            if end.site is not None and end.site not in sites:
                yield Problem(
                    "flows.yml",
                    f"flows[{i}].{end_name}.site",
                    f"unknown site {end.site!r}",
                    site_fix(end.site),
                )
            if end.site is not None and end.zone not in SITE_ZONES:
                yield Problem(
                    "flows.yml",
                    f"flows[{i}].{end_name}.site",
                    f"zone {end.zone.value} is not a site zone",
                    "drop site:",
                )
            for j, host in enumerate(end.hosts):
                if host not in host_ids:
                    yield Problem(
                        "flows.yml",
                        f"flows[{i}].{end_name}.hosts[{j}]",
                        f"unknown host {host!r}",
                        "use a host id",
                    )
        if flow.proto == "icmp" and flow.ports:
            yield Problem("flows.yml", f"flows[{i}].ports", "icmp has no ports", "remove ports")
        yield from _guardrail_problems(inv, i, flow)


def _guardrail_problems(inv: Inventory, index: int, flow: ExtraFlow) -> Iterable[Problem]:
    view = ExtraFlowView.of(inv, flow)
    for rule in violations(view, inv.state_convention.relay_port):
        yield Problem(
            "flows.yml",
            f"flows[{index}]",
            f"flow {flow.id} breaks guardrail {rule.id}: {rule.text} ({', '.join(rule.controls)})",
            "guardrails cannot be overridden: remove the flow or change its zones/ports",
        )


def check(inv: Inventory, today: date) -> list[Problem]:
    """Every meaning problem in ``inv``, given the date habilitations are judged against."""
    problems: list[Problem] = []
    for checker in (_check_ids, _check_sites, _check_addressing, _check_legal, _check_extra_flows):
        problems.extend(checker(inv))
    problems.extend(_check_refs(inv, today))
    return problems
