"""Load the plan's IDS allowlist (format ``cloison-ids-allowlist`` v1, docs/ids-allowlist.md).

Everything in the file is already resolved to addresses; this module turns it into lookup
structures the hot path can query with packed addresses (``socket.inet_pton`` bytes) without
building ``ipaddress`` objects per packet: longest-prefix zone match, host by IP or MAC, and
"is this (proto, src, dst, dport) allowed" with small bounded caches.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segmenting.errors import EXIT_INVALID, CloisonError

FORMAT = "cloison-ids-allowlist"
VERSION = 1
PROTOS = {"tcp": 6, "udp": 17, "icmp": 1, "any": 0}
_CACHE_MAX = 65536


class AllowlistError(CloisonError):
    """The allowlist file is missing, unreadable or not in the documented format."""

    exit_code = EXIT_INVALID

    def __init__(self, path: str, where: str, problem: str) -> None:
        super().__init__(
            f"{path}: {where or '<top>'}: {problem}\n"
            "    fix: render it again with the plan's IDS renderer; the format is "
            "docs/ids-allowlist.md"
        )


@dataclass(frozen=True)
class Zone:
    id: str
    zone: str
    site: str | None
    vlan: int | None


@dataclass(frozen=True)
class Host:
    id: str
    kind: str
    zone_id: str
    site: str | None
    ip: str | None
    mac: str | None
    commune: str | None = None


@dataclass(frozen=True)
class FlowRule:
    id: str
    proto: int
    ports: tuple[tuple[int, int], ...]
    src_zone: str
    dst_zone: str
    service: str
    window: str
    controls: tuple[str, ...]
    src_nets: tuple[tuple[int, int, int], ...] = field(repr=False)
    dst_nets: tuple[tuple[int, int, int], ...] = field(repr=False)
    src_cidrs: tuple[str, ...] = ()
    dst_cidrs: tuple[str, ...] = ()


def _net(cidr: str) -> tuple[int, int, int]:
    """(version, network int, mask int) for fast membership tests on packed addresses."""
    n = ipaddress.ip_network(cidr, strict=False)
    return n.version, int(n.network_address), int(n.netmask)


def _in(nets: tuple[tuple[int, int, int], ...], ver: int, addr: int) -> bool:
    return any(v == ver and addr & m == a for v, a, m in nets)


def normalise_mac(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", "").replace("-", ""))


class Allowlist:
    """The loaded allowlist; lookups take packed addresses."""

    def __init__(self, doc: dict[str, Any], source: str = "<memory>") -> None:
        self.source = source
        self.deployment: str = str(doc.get("deployment", ""))
        self.zones: dict[str, Zone] = {}
        self._prefixes: list[tuple[int, int, int, int, Zone]] = []
        self.hosts: list[Host] = []
        self.host_by_ip: dict[bytes, Host] = {}
        self.host_by_mac: dict[bytes, Host] = {}
        self.known_macs: set[bytes] = set()
        self.rules: list[FlowRule] = []
        self.dns: set[bytes] = set()
        self.ntp: set[bytes] = set()
        self.dhcp_ips: set[bytes] = set()
        self.dhcp_macs: set[bytes] = set()
        self.router_macs: set[bytes] = set()
        self.router_ips: set[bytes] = set()
        self.routers_without_mac: set[bytes] = set()
        self.collector: tuple[str, int] | None = None
        self.camera_vlans: set[int] = set()
        self._zone_cache: dict[bytes, Zone | None] = {}
        self._allow_cache: dict[tuple[int, bytes, bytes, int], FlowRule | None] = {}
        # ``window: maintenance`` rules: allowed by default (docs/ids-allowlist.md); the
        # sensor closes them when told no maintenance window is open.
        self.maintenance_open = True
        self._parse(doc)

    # -- loading -------------------------------------------------------------------------
    def _fail(self, where: str, problem: str) -> AllowlistError:
        return AllowlistError(self.source, where, problem)

    def _parse(self, doc: dict[str, Any]) -> None:
        if doc.get("format") != FORMAT:
            raise self._fail("format", f"expected {FORMAT!r}, got {doc.get('format')!r}")
        if doc.get("version") != VERSION:
            raise self._fail("version", f"version {doc.get('version')!r} is not supported (1)")
        try:
            self._parse_zones(doc.get("zones", []))
            self._parse_hosts(doc.get("hosts", []))
            self._parse_flows(doc.get("flows", []))
            self._parse_services(doc.get("services", {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise self._fail(getattr(exc, "where", ""), f"malformed entry ({exc})") from exc

    def _parse_zones(self, zones: list[dict[str, Any]]) -> None:
        for i, z in enumerate(zones):
            zone = Zone(str(z["id"]), str(z["zone"]), z.get("site"), z.get("vlan"))
            if zone.id in self.zones:
                raise self._fail(f"zones[{i}].id", f"duplicate zone id {zone.id!r}")
            self.zones[zone.id] = zone
            if zone.zone == "cameras" and zone.vlan is not None:
                self.camera_vlans.add(int(zone.vlan))
            for cidr in z.get("subnets", []):
                try:
                    n = ipaddress.ip_network(cidr, strict=False)
                except ValueError as exc:
                    raise self._fail(f"zones[{i}].subnets", str(exc)) from exc
                self._prefixes.append((n.version, n.prefixlen, int(n.network_address), int(n.netmask), zone))
        # Longest prefix first so the first match wins (rule in docs/ids-allowlist.md).
        self._prefixes.sort(key=lambda p: -p[1])

    def _parse_hosts(self, hosts: list[dict[str, Any]]) -> None:
        for i, h in enumerate(hosts):
            host = Host(
                str(h["id"]),
                str(h["kind"]),
                str(h["zone_id"]),
                h.get("site"),
                h.get("ip"),
                h.get("mac"),
                h.get("commune"),
            )
            self.hosts.append(host)
            if host.ip:
                try:
                    self.host_by_ip[ipaddress.ip_address(host.ip).packed] = host
                except ValueError as exc:
                    raise self._fail(f"hosts[{i}].ip", str(exc)) from exc
            if host.mac:
                try:
                    mac = normalise_mac(host.mac)
                except ValueError as exc:
                    raise self._fail(f"hosts[{i}].mac", f"malformed MAC {host.mac!r}") from exc
                self.host_by_mac[mac] = host
                self.known_macs.add(mac)

    def _parse_flows(self, flows: list[dict[str, Any]]) -> None:
        for i, f in enumerate(flows):
            proto = f["proto"]
            if proto not in PROTOS:
                raise self._fail(f"flows[{i}].proto", f"unknown protocol {proto!r}")
            try:
                src = tuple(_net(c) for c in f["src"]["cidrs"])
                dst = tuple(_net(c) for c in f["dst"]["cidrs"])
            except ValueError as exc:
                raise self._fail(f"flows[{i}]", str(exc)) from exc
            ports = tuple((int(a), int(b)) for a, b in f.get("ports", []))
            self.rules.append(
                FlowRule(
                    id=str(f["id"]),
                    proto=PROTOS[proto],
                    ports=ports,
                    src_zone=str(f["src"].get("zone", "")),
                    dst_zone=str(f["dst"].get("zone", "")),
                    service=str(f.get("service", "")),
                    window=str(f.get("window", "always")),
                    controls=tuple(f.get("controls", [])),
                    src_nets=src,
                    dst_nets=dst,
                    src_cidrs=tuple(f["src"]["cidrs"]),
                    dst_cidrs=tuple(f["dst"]["cidrs"]),
                )
            )

    def _parse_services(self, s: dict[str, Any]) -> None:
        def packed(ip: str, where: str) -> bytes:
            try:
                return ipaddress.ip_address(ip).packed
            except ValueError as exc:
                raise self._fail(where, str(exc)) from exc

        self.dns = {packed(ip, "services.dns") for ip in s.get("dns", [])}
        self.ntp = {packed(ip, "services.ntp") for ip in s.get("ntp", [])}
        for d in s.get("dhcp", []):
            self.dhcp_ips.add(packed(d["ip"], "services.dhcp"))
            if d.get("mac"):
                self.dhcp_macs.add(normalise_mac(d["mac"]))
                self.known_macs.add(normalise_mac(d["mac"]))
        for r in s.get("routers", []):
            self.router_ips.add(packed(r["ip"], "services.routers"))
            if not r.get("mac"):
                self.routers_without_mac.add(packed(r["ip"], "services.routers"))
            if r.get("mac"):
                self.router_macs.add(normalise_mac(r["mac"]))
                self.known_macs.add(normalise_mac(r["mac"]))
        c = s.get("collector")
        if c:
            self.collector = (str(c["host"]), int(c["port"]))

    def set_maintenance(self, is_open: bool) -> bool:
        """Open or close the maintenance rules; True when that changed anything."""
        if is_open == self.maintenance_open:
            return False
        self.maintenance_open = is_open
        self._allow_cache.clear()
        return True

    # -- lookups -------------------------------------------------------------------------
    def zone_of(self, addr: bytes) -> Zone | None:
        """Zone instance of a packed address (longest prefix), cached."""
        cache = self._zone_cache
        try:
            return cache[addr]
        except KeyError:
            pass
        ver = 4 if len(addr) == 4 else 6
        value = int.from_bytes(addr, "big")
        found = None
        for v, _plen, net, mask, zone in self._prefixes:
            if v == ver and value & mask == net:
                found = zone
                break
        if len(cache) >= _CACHE_MAX:
            cache.clear()  # a scan of random addresses must not grow memory
        cache[addr] = found
        return found

    def allowed(self, proto: int, src: bytes, dst: bytes, dport: int) -> FlowRule | None:
        """The first flow rule allowing the packet, or None."""
        key = (proto, src, dst, dport)
        cache = self._allow_cache
        try:
            return cache[key]
        except KeyError:
            pass
        ver = 4 if len(src) == 4 else 6
        s, d = int.from_bytes(src, "big"), int.from_bytes(dst, "big")
        found = None
        closed = not self.maintenance_open
        for r in self.rules:
            if r.proto not in (0, proto):
                continue
            if closed and r.window == "maintenance":
                continue
            if r.ports and proto != 1 and not any(a <= dport <= b for a, b in r.ports):
                continue
            if _in(r.src_nets, ver, s) and _in(r.dst_nets, ver, d):
                found = r
                break
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[key] = found
        return found


def load(path: str | Path) -> Allowlist:
    """Read and validate an allowlist file; every failure names the file and the problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise AllowlistError(str(p), "", "file not found") from exc
    except OSError as exc:
        raise AllowlistError(str(p), "", f"cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise AllowlistError(str(p), "", "not UTF-8 text") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AllowlistError(str(p), f"line {exc.lineno}", f"invalid JSON: {exc.msg}") from exc
    if not isinstance(doc, dict):
        raise AllowlistError(str(p), "", "top level must be a JSON object")
    return Allowlist(doc, str(p))
