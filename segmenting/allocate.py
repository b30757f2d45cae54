"""Stable address allocation, persisted in ``allocations.lock.json`` beside the inventory.

Addresses must not move when the inventory grows: a recorder, a firewall rule, a DHCP
reservation and an IDS binding all hold them. So every allocation is recorded in a lock file
that is committed with the inventory; adding a commune, a site or a camera only *adds* entries.
An entry whose owner left the inventory stays reserved (so a new device never inherits a
retired camera's address) until ``cloison lock DIR --prune``.

Layout of a site block (``addressing.site_prefix``, /22 by default)::

    first half            cameras      (gateway .1, cameras from offset 10)
    third quarter         quarantine   (gateway .1, DHCP pool, reaches nothing)
    fourth quarter        site_mgmt    (.1 gateway, .2 switch)

The CSU pool is cut into /24s at fixed indexes (:data:`CSU_ZONE_INDEX`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

from segmenting.errors import Problem
from segmenting.model import CsuRole, Inventory, Transport, Zone

LOCK_FILE = "allocations.lock.json"
LOCK_VERSION = 1
CAMERA_FIRST_OFFSET = 10  # .1 gateway, .2-.9 kept for appliances added later on the segment
CSU_HOST_FIRST_OFFSET = 10

CSU_ZONE_INDEX: dict[Zone, int] = {
    Zone.TRANSPORT: 0,
    Zone.RECORDING: 1,
    Zone.OPERATORS: 2,
    Zone.SERVICES: 3,
    Zone.ADMIN: 4,
    Zone.MAINTENANCE_VPN: 5,
    Zone.DMZ_STATE: 6,
}

ROLE_ZONE: dict[CsuRole, Zone] = {
    CsuRole.RECORDER: Zone.RECORDING,
    CsuRole.OPERATOR: Zone.OPERATORS,
    CsuRole.RADIUS: Zone.SERVICES,
    CsuRole.PKI: Zone.SERVICES,
    CsuRole.NTP: Zone.SERVICES,
    CsuRole.DNS: Zone.SERVICES,
    CsuRole.COLLECTOR: Zone.SERVICES,
    CsuRole.IDS_COLLECTOR: Zone.SERVICES,
    CsuRole.IDS_SENSOR: Zone.SERVICES,
    CsuRole.BASTION: Zone.ADMIN,
    CsuRole.VPN: Zone.ADMIN,
    CsuRole.RELAY: Zone.DMZ_STATE,
    CsuRole.FIREWALL: Zone.TRANSPORT,
}

SECTIONS = ("sites", "transport", "cameras", "csu_hosts")


@dataclass
class Lock:
    """What the lock file holds: one mapping per kind of allocation, id → address/network."""

    sites: dict[str, str] = field(default_factory=dict)
    transport: dict[str, str] = field(default_factory=dict)
    cameras: dict[str, str] = field(default_factory=dict)
    csu_hosts: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        body: dict[str, Any] = {"version": LOCK_VERSION}
        body.update({name: dict(sorted(getattr(self, name).items())) for name in SECTIONS})
        return json.dumps(body, indent=1, sort_keys=False) + "\n"

    def count(self) -> int:
        return sum(len(getattr(self, name)) for name in SECTIONS)


def read_lock(folder: Path) -> tuple[Lock, list[Problem]]:
    path = folder / LOCK_FILE
    if not path.exists():
        return Lock(), []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        return Lock(), [Problem(LOCK_FILE, "", f"is not valid JSON: {exc.msg}", "restore it from git", exc.lineno)]
    problems: list[Problem] = []
    if not isinstance(data, dict) or data.get("version") != LOCK_VERSION:
        return Lock(), [Problem(LOCK_FILE, "version", f"expected version {LOCK_VERSION}", "restore it from git")]
    lock = Lock()
    for name in SECTIONS:
        section = data.get(name, {})
        if not isinstance(section, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in section.items()
        ):
            problems.append(Problem(LOCK_FILE, name, "must map ids to addresses", "restore it from git"))
            continue
        setattr(lock, name, dict(section))
    return lock, problems


@dataclass(frozen=True)
class SiteBlock:
    block: IPv4Network
    cameras: IPv4Network
    quarantine: IPv4Network
    site_mgmt: IPv4Network


def split_block(block: IPv4Network) -> SiteBlock:
    first, second = block.subnets(prefixlen_diff=1)
    quarantine, mgmt = second.subnets(prefixlen_diff=1)
    return SiteBlock(block, first, quarantine, mgmt)


def csu_subnet(pool: IPv4Network, zone: Zone) -> IPv4Network:
    base = int(pool.network_address) + CSU_ZONE_INDEX[zone] * 256
    return IPv4Network((base, 24))


@dataclass
class Allocations:
    """The result: every address the plan needs, plus the lock that records them."""

    site_blocks: dict[str, SiteBlock]
    transport: dict[str, IPv4Network]
    cameras: dict[str, IPv4Address]
    csu_hosts: dict[str, IPv4Address]
    lock: Lock
    added: int  # allocations not yet recorded in the lock file
    problems: list[Problem]


class _Sequential:
    """Lowest-free allocator over candidates in order; O(total) over a whole run."""

    def __init__(self, candidates: Iterator[Any], used: set[Any]) -> None:
        self._candidates = candidates
        self._used = used

    def take(self) -> Any | None:
        for candidate in self._candidates:
            if candidate not in self._used:
                self._used.add(candidate)
                return candidate
        return None


def _first(ids: list[str], count: int = 5) -> str:
    return ", ".join(ids[:count]) + (", ..." if len(ids) > count else "")


def _parse_net(text: str) -> IPv4Network | None:
    try:
        return IPv4Network(text)
    except ValueError:
        return None


def _parse_ip(text: str) -> IPv4Address | None:
    try:
        return IPv4Address(text)
    except ValueError:
        return None


def allocate(inv: Inventory, lock: Lock) -> Allocations:
    """Allocate what the lock does not record yet; keep everything it does."""
    problems: list[Problem] = []
    new = Lock(
        sites=dict(lock.sites),
        transport=dict(lock.transport),
        cameras=dict(lock.cameras),
        csu_hosts=dict(lock.csu_hosts),
    )
    added = 0
    addressing = inv.addressing

    # --- site blocks: pinned in the inventory, then recorded, then new -------------------
    blocks: dict[str, IPv4Network] = {}
    owner: dict[IPv4Network, str] = {}
    for site in inv.sites:
        if site.block is not None:
            blocks[site.id] = site.block
            owner[site.block] = site.id
    for site_id, text in sorted(lock.sites.items()):
        net = _parse_net(text)
        if net is None or net.prefixlen != addressing.site_prefix or not net.subnet_of(addressing.sites_pool):
            problems.append(
                Problem(
                    LOCK_FILE,
                    f"sites.{site_id}",
                    f"{text} is not a /{addressing.site_prefix} of sites_pool {addressing.sites_pool}",
                    "delete the entry (the site gets a new block) or restore the pool",
                )
            )
            continue
        if net in owner and owner[net] != site_id:
            problems.append(
                Problem(
                    LOCK_FILE,
                    f"sites.{site_id}",
                    f"{net} is also {owner[net]}'s block",
                    "delete one entry",
                )
            )
            continue
        owner[net] = site_id
        if site_id not in blocks:
            blocks[site_id] = net
    free_blocks = _Sequential(addressing.sites_pool.subnets(new_prefix=addressing.site_prefix), set(owner))
    homeless: list[str] = []
    for site in inv.sites:
        if site.id not in blocks:
            net = free_blocks.take()
            if net is None:
                homeless.append(site.id)
                continue
            blocks[site.id] = net
            added += 1
        new.sites[site.id] = str(blocks[site.id])
    if homeless:  # one problem for the pool, not one per site: the fix is the same
        problems.append(
            Problem(
                "deployment.yml",
                "addressing.sites_pool",
                f"sites_pool {addressing.sites_pool} has no free /{addressing.site_prefix} left for "
                f"{len(homeless)} site(s): {_first(homeless)}",
                "enlarge sites_pool or shorten site_prefix (existing blocks stay)",
            )
        )
    site_blocks = {sid: split_block(net) for sid, net in blocks.items()}

    # --- /30 transport links of fibre sites ---------------------------------------------
    links: dict[str, IPv4Network] = {}
    used_links: set[IPv4Network] = set()
    for site_id, text in sorted(lock.transport.items()):
        net = _parse_net(text)
        if net is None or net.prefixlen != 30 or not net.subnet_of(addressing.transport_pool) or net in used_links:
            problems.append(
                Problem(
                    LOCK_FILE,
                    f"transport.{site_id}",
                    f"{text} is not a free /30 of transport_pool",
                    "delete the entry",
                )
            )
            continue
        used_links.add(net)
        links[site_id] = net
    # A pool smaller than a /30 holds no link at all (and ``subnets`` refuses to cut one).
    pool_links = (
        addressing.transport_pool.subnets(new_prefix=30) if addressing.transport_pool.prefixlen <= 30 else iter(())
    )
    free_links = _Sequential(pool_links, used_links)
    unlinked: list[str] = []
    for site in inv.sites:
        if site.transport != Transport.FIBER:
            continue
        if site.id not in links:
            net = free_links.take()
            if net is None:
                unlinked.append(site.id)
                continue
            links[site.id] = net
            added += 1
        new.transport[site.id] = str(links[site.id])
    if unlinked:
        problems.append(
            Problem(
                "deployment.yml",
                "addressing.transport_pool",
                f"transport_pool {addressing.transport_pool} has no free /30 left for {len(unlinked)} fibre "
                f"site(s): {_first(unlinked)}",
                "enlarge transport_pool (existing links stay)",
            )
        )

    # --- cameras: pinned, then recorded, then new; per site, lowest free offset --------
    cameras: dict[str, IPv4Address] = {}
    used_by_site: dict[str, dict[int, str]] = {sid: {} for sid in site_blocks}
    by_id = {c.id: c for c in inv.cameras}
    for index, cam in enumerate(inv.cameras):
        if cam.ip is None or cam.site not in site_blocks:
            continue
        subnet = site_blocks[cam.site].cameras
        value = int(cam.ip)
        offset = value - int(subnet.network_address)
        if not (CAMERA_FIRST_OFFSET <= offset < subnet.num_addresses - 1):
            problems.append(
                Problem(
                    "cameras.yml",
                    f"cameras[{index}].ip",
                    f"{cam.ip} is outside {cam.site}'s camera range "
                    f"{subnet.network_address + CAMERA_FIRST_OFFSET}-{subnet.broadcast_address - 1}",
                    "remove the pin (an address is allocated) or pick one in the range",
                )
            )
            continue
        taken = used_by_site[cam.site]
        if offset in taken:
            problems.append(
                Problem(
                    "cameras.yml",
                    f"cameras[{index}].ip",
                    f"duplicate IP {cam.ip} (also {taken[offset]})",
                    "unpin one",
                )
            )
            continue
        taken[offset] = cam.id
        cameras[cam.id] = cam.ip
    for cam_id, text in sorted(lock.cameras.items()):
        ip = _parse_ip(text)
        known = by_id.get(cam_id)
        if ip is None:
            problems.append(
                Problem(
                    LOCK_FILE,
                    f"cameras.{cam_id}",
                    f"{text!r} is not an address",
                    "delete the entry",
                )
            )
            continue
        if known is None or known.ip is not None or known.site not in site_blocks:
            continue  # retired (kept reserved below) or pinned in the inventory
        subnet = site_blocks[known.site].cameras
        offset = int(ip) - int(subnet.network_address)
        if not (CAMERA_FIRST_OFFSET <= offset < subnet.num_addresses - 1):
            new.cameras.pop(cam_id, None)  # the camera moved site: it gets a new address below
            continue
        taken = used_by_site[known.site]
        if offset in taken:
            problems.append(
                Problem(
                    LOCK_FILE,
                    f"cameras.{cam_id}",
                    f"IP {ip} is also assigned to {taken[offset]}",
                    "delete one of the two entries; `cloison lock` gives it a new address",
                )
            )
            continue
        taken[offset] = cam_id
        cameras[cam_id] = ip
    # Retired cameras keep their address reserved in their old site's range.
    for cam_id, text in lock.cameras.items():
        if cam_id in by_id:
            continue
        ip = _parse_ip(text)
        if ip is None:
            continue
        for sid, blk in site_blocks.items():
            if ip in blk.cameras:
                used_by_site[sid].setdefault(int(ip) - int(blk.cameras.network_address), cam_id)
                break
    next_offset: dict[str, int] = {}
    for index, cam in enumerate(inv.cameras):
        if cam.id in cameras or cam.site not in site_blocks:
            if cam.id in cameras:
                new.cameras[cam.id] = str(cameras[cam.id])
            continue
        subnet = site_blocks[cam.site].cameras
        taken = used_by_site[cam.site]
        offset = next_offset.get(cam.site, CAMERA_FIRST_OFFSET)
        last = subnet.num_addresses - 2
        while offset in taken and offset <= last:
            offset += 1
        if offset > last:
            problems.append(
                Problem(
                    "cameras.yml",
                    f"cameras[{index}].site",
                    f"site {cam.site}'s camera subnet {subnet} is full",
                    "split the site in two, or give the deployment a shorter site_prefix",
                )
            )
            continue
        taken[offset] = cam.id
        next_offset[cam.site] = offset + 1
        ip = IPv4Address(int(subnet.network_address) + offset)
        cameras[cam.id] = ip
        new.cameras[cam.id] = str(ip)
        added += 1

    # --- CSU hosts ------------------------------------------------------------------------
    csu_hosts: dict[str, IPv4Address] = {}
    used_csu: dict[Zone, set[int]] = {z: set() for z in CSU_ZONE_INDEX}
    roles = {h.id: h.role for h in inv.csu.hosts}
    for host_id, text in sorted(lock.csu_hosts.items()):
        ip = _parse_ip(text)
        if ip is None:
            problems.append(Problem(LOCK_FILE, f"csu_hosts.{host_id}", f"{text!r} is not an address", "delete it"))
            continue
        role = roles.get(host_id)
        zone = ROLE_ZONE[role] if role is not None else None
        for z in CSU_ZONE_INDEX:
            subnet = csu_subnet(addressing.csu_pool, z)
            if ip in subnet:
                offset = int(ip) - int(subnet.network_address)
                if offset in used_csu[z]:
                    problems.append(
                        Problem(
                            LOCK_FILE,
                            f"csu_hosts.{host_id}",
                            f"IP {ip} is assigned twice",
                            "delete one entry",
                        )
                    )
                    break
                used_csu[z].add(offset)
                if z == zone:
                    csu_hosts[host_id] = ip
                break
        else:
            if role is not None:
                new.csu_hosts.pop(host_id, None)
    for host in inv.csu.hosts:
        zone = ROLE_ZONE[host.role]
        if host.id not in csu_hosts:
            subnet = csu_subnet(addressing.csu_pool, zone)
            offset = CSU_HOST_FIRST_OFFSET
            while offset in used_csu[zone]:
                offset += 1
            if offset >= 255:
                problems.append(
                    Problem(
                        "deployment.yml",
                        "csu.hosts",
                        f"CSU zone {zone.value} is full",
                        "remove hosts",
                    )
                )
                continue
            used_csu[zone].add(offset)
            csu_hosts[host.id] = IPv4Address(int(subnet.network_address) + offset)
            added += 1
        new.csu_hosts[host.id] = str(csu_hosts[host.id])

    return Allocations(site_blocks, links, cameras, csu_hosts, new, added, problems)


def prune(lock: Lock, inv: Inventory) -> Lock:
    """Drop entries whose owner left the inventory (frees their addresses for reuse)."""
    sites = {s.id for s in inv.sites}
    return Lock(
        sites={k: v for k, v in lock.sites.items() if k in sites},
        transport={k: v for k, v in lock.transport.items() if k in sites},
        cameras={k: v for k, v in lock.cameras.items() if k in {c.id for c in inv.cameras}},
        csu_hosts={k: v for k, v in lock.csu_hosts.items() if k in {h.id for h in inv.csu.hosts}},
    )
