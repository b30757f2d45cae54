"""The reachability audit: what the plan says between zones, and what the lab actually lets through.

:func:`endpoints` lists who can probe and be probed in a lab (managed nodes under each plan host
they play, cameras, switches' management addresses, outside actors); :func:`build_cases` derives
the probes — one per allowlisted flow the lab can represent (must work) and the forbidden cases
DESIGN.md names (camera → internet, camera → camera, State → CSU, internet → SSH, maintainer →
switch outside a window, quarantine → anything; must fail). Both are pure.
:func:`run_cases` runs them from inside each source's network namespace (``ip netns exec``,
read-only: a connect, a datagram, a ping) and classifies what came back.

Outcome vocabulary: ``open`` (TCP connected / UDP answered), ``refused`` (RST or ICMP port
unreachable: the packet got through, nothing listens), ``delivered`` (UDP: no answer, but the
destination's conntrack saw the datagram), ``timeout``/``silent`` (dropped on the way),
``unreachable`` (ICMP unreachable from a router), ``filtered`` (the source's own firewall refused
to send it: EPERM), ``error: …`` (the probe could not run).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from ipaddress import IPv4Address, ip_address, ip_network
from typing import TYPE_CHECKING, Protocol

from segmenting.conformance.audit import REACHED
from segmenting.guardrails import RULES
from segmenting.plan import Flow, Plan

if TYPE_CHECKING:  # the lab is only needed to run probes, not to import this module
    from segmenting.lab.topology import Topology


@dataclass(frozen=True)
class Endpoint:
    id: str
    ns: str
    ip: str
    zone: str
    site: str | None = None
    kind: str = ""
    host: str | None = None  # the plan host it stands for (a public address stands for its owner)
    # The source address others see when a NAT on the way rewrites it (a cellular site behind its
    # operator's CGNAT); None: its own address.
    seen_as: str | None = None


@dataclass(frozen=True)
class ProbeCase:
    case: str
    src: Endpoint
    dst: Endpoint
    proto: str  # tcp / udp / icmp
    port: int | None
    expected: str  # allow / deny
    flow: str | None
    controls: tuple[str, ...]

    @property
    def audit_target(self) -> str:
        return f"{self.src.id}->{self.dst.id}"

    @property
    def id(self) -> str:
        port = f":{self.port}" if self.port else ""
        return f"{self.case}:{self.src.id}->{self.dst.id}/{self.proto}{port}"

    def row(self, observed: str) -> dict[str, object]:
        return {
            "case": self.case,
            "src": self.src.id,
            "src_zone": self.src.zone,
            "dst": self.dst.id,
            "dst_zone": self.dst.zone,
            "proto": self.proto,
            "port": self.port,
            "expected": self.expected,
            "observed": observed,
            "flow": self.flow,
            "controls": list(self.controls),
        }


def reached(observed: str) -> bool:
    return observed in REACHED


def verdict_ok(expected: str, observed: str) -> bool:
    if observed.startswith("error"):
        return False
    return reached(observed) == (expected == "allow")


def _ip(cidr: str) -> str:
    return cidr.split("/", 1)[0]


def _natted_as(topo: Topology, ns: str) -> str | None:
    """The address a masquerading namespace (an operator's CGNAT) gives what it forwards."""
    for nat_ns, oif in topo.nat:
        if nat_ns == ns:
            for link in topo.links:
                for iface in (link.a, link.b):
                    if iface.ns == ns and iface.name == oif and iface.addrs:
                        return _ip(iface.addrs[0])
    return None


def endpoints(plan: Plan, topo: Topology) -> list[Endpoint]:
    """Every probe source/target in the lab, with its zone from the plan."""
    out: list[Endpoint] = []
    for node in topo.nodes:
        for host_id in node.plays:
            host = plan.host(host_id)
            zone = host.zone_id.split(":", 1)[1]
            out.append(Endpoint(host_id, node.ns, host.ip, zone, host.site, host.kind, host_id))
    out.extend(Endpoint(c.id, c.ns, _ip(c.ip), "cameras", c.site, "camera") for c in topo.cameras)
    out.extend(Endpoint(s.id, s.ns, s.plan_mgmt_ip, "site_mgmt", s.site, "switch") for s in topo.switches)
    for link in topo.links:  # each site gateway's uplink address stands for the site's transport zone
        gw = next((n for n in topo.nodes if n.ns == link.a.ns and n.kind == "gateway"), None)
        if gw is not None and link.a.name == "wan0" and link.a.addrs:
            seen = _natted_as(topo, link.b.ns)
            out.append(Endpoint(f"{gw.id}-wan", gw.ns, _ip(link.a.addrs[0]), "transport", gw.site, "gateway",
                                seen_as=seen))  # fmt: skip
    zones = {"www": "internet", "laptop": "internet", "attacker": "internet", "state": "state"}
    for actor in topo.actors:
        if actor.ip is not None and actor.role in zones:
            out.append(Endpoint(actor.id, actor.ns, actor.ip, zones[actor.role], None, actor.role))
    by_id = {e.id: e for e in out}
    for ip, (owner, name) in {
        plan.csu.vpn_endpoint: ("csu-vpn", "vpn-public"),
        plan.csu.relay_endpoint: ("csu-relay", "relay-public"),
    }.items():
        if owner in by_id:
            out.append(Endpoint(name, by_id[owner].ns, ip, "transport", None, by_id[owner].kind, owner))
    return out


def _contains(cidrs: Iterable[str], ip: str) -> bool:
    addr = ip_address(ip)
    return any(addr in ip_network(c, strict=False) for c in cidrs)


def _port_ok(flow: Flow, port: int | None) -> bool:
    if not flow.ports or port is None:
        return True
    return any(lo <= port <= hi for lo, hi in flow.ports)


def allowed_by(plan: Plan, src: Endpoint, dst: Endpoint, proto: str, port: int | None) -> Flow | None:
    """The plan flow that allows this probe now (maintenance windows closed), or None.

    When several do (a cellular site's tunnel flow accepts any source), the flow of the
    endpoints' own site is named.
    """
    found: list[Flow] = []
    for flow in plan.flows:
        if flow.window != "always":
            continue
        if flow.src_zone.value != src.zone or not _src_ok(flow, src) or not _dst_ok(flow, dst):
            continue
        if flow.proto in (proto, "any") and _port_ok(flow, port):
            found.append(flow)
    found.sort(key=lambda f: (f.src_site not in (None, src.site), f.dst_site not in (None, dst.site)))
    return found[0] if found else None


def _src_ok(flow: Flow, src: Endpoint) -> bool:
    return _contains(flow.src_cidrs, src.ip)


def _dst_ok(flow: Flow, dst: Endpoint) -> bool:
    """The destination is in the flow: by zone and address, or it is the host the flow names, reached at
    its public address (the State reaches the relay, the internet the VPN, through the CSU's public side)."""
    if flow.dst_zone.value == dst.zone and _contains(flow.dst_cidrs, dst.ip):
        return True
    return dst.zone == "transport" and dst.host is not None and dst.host in flow.dst_hosts


def _rule_controls(*rule_ids: str) -> tuple[str, ...]:
    out: list[str] = []
    for rid in rule_ids:
        out.extend(c for c in RULES[rid].controls if c not in out)
    return tuple(out)


def build_cases(plan: Plan, eps: Sequence[Endpoint]) -> list[ProbeCase]:
    """The probes for this lab: allowed flows it can represent, then the named forbidden cases."""
    cases: list[ProbeCase] = []
    seen: set[tuple[str, str, str, int | None]] = set()

    def add(case: str, src: Endpoint, dst: Endpoint, proto: str, port: int | None, *, ctl: tuple[str, ...]) -> None:
        key = (src.id, dst.ip, proto, port)
        if key in seen or src.ns == dst.ns:
            return
        seen.add(key)
        flow = allowed_by(plan, src, dst, proto, port)
        expected = "allow" if flow else "deny"
        cases.append(ProbeCase(case, src, dst, proto, port, expected, flow.id if flow else None,
                               flow.controls if flow else ctl))  # fmt: skip

    # 1. every allowlisted flow the lab can stand for: one representative pair, first port
    for flow in plan.flows:
        if flow.window != "always" or flow.proto not in ("tcp", "udp"):
            continue
        srcs = [e for e in eps if e.zone == flow.src_zone.value and _src_ok(flow, e)]
        dsts = [e for e in eps if _dst_ok(flow, e)]
        if flow.src_zone.value in ("internet", "state"):  # from outside, only public addresses are routed
            dsts = [e for e in dsts if e.zone == "transport"]
        # a site's flow is represented by that site's hosts, or not at all (site not in the lab)
        if flow.src_site:
            srcs = [e for e in srcs if e.site == flow.src_site]
        if flow.dst_site:
            dsts = [e for e in dsts if e.site == flow.dst_site]
        pair = next(((s, d) for s in srcs for d in dsts if s.ns != d.ns), None)
        if pair:
            port = flow.ports[0][0] if flow.ports else None
            add("allowed-flow", pair[0], pair[1], flow.proto, port, ctl=flow.controls)

    by_zone: dict[str, list[Endpoint]] = {}
    for e in eps:
        by_zone.setdefault(e.zone, []).append(e)
    cams, internet = by_zone.get("cameras", []), by_zone.get("internet", [])
    csu = [e for e in eps if e.zone in ("recording", "services", "admin", "dmz_state", "operators")]
    mgmt = by_zone.get("site_mgmt", [])
    public = by_zone.get("transport", [])

    # 2. named forbidden cases (DESIGN.md guardrails); expectation still computed from the plan
    cam_inet = _rule_controls("GR-CAM-INTERNET")
    for cam in _one_per_site(cams):
        for dst in internet[:1]:
            add("camera->internet", cam, dst, "tcp", 443, ctl=cam_inet)
            add("camera->internet", cam, dst, "icmp", None, ctl=cam_inet)
    cam_cam = _rule_controls("GR-CAM-CAM")
    for cam in _one_per_site(cams):
        other = next((c for c in cams if c.site == cam.site and c.id != cam.id), None)
        if other:
            add("camera->camera", cam, other, "tcp", 554, ctl=cam_cam)
            add("camera->camera", cam, other, "icmp", None, ctl=cam_cam)
        far = next((c for c in cams if c.site != cam.site), None)
        if far:
            add("camera->camera", cam, far, "tcp", 554, ctl=cam_cam)
    state_csu = _rule_controls("GR-STATE-RELAY")
    for src in by_zone.get("state", [])[:1]:
        for dst in public:
            add("state->csu", src, dst, "tcp", 22, ctl=state_csu)
        for dst in csu:
            add("state->csu", src, dst, "tcp", 443, ctl=state_csu)
    inet_ssh = _rule_controls("GR-INTERNET-VPN", "GR-ADMIN-SOURCE")
    for src in internet[:1]:
        for dst in [*public, *mgmt, *(e for e in csu if e.kind in ("bastion", "vpn", "relay"))]:
            add("internet->ssh", src, dst, "tcp", 22, ctl=inet_ssh)
    maint = (*_rule_controls("GR-ADMIN-SOURCE"), "ANSSI-PA022-R62")
    laptop = [e for e in internet if e.kind == "laptop"]
    for src in [*laptop[:1], *by_zone.get("maintenance_vpn", [])[:1]]:
        for dst in (e for e in mgmt if e.kind == "switch"):
            add("maintainer->switch (no window)", src, dst, "tcp", 22, ctl=maint)
    admin_src = (*_rule_controls("GR-ADMIN-SOURCE"), "ANSSI-PA022-R15")
    for src in [*_one_per_site(cams)[:1], *by_zone.get("recording", [])[:1], *by_zone.get("dmz_state", [])[:1]]:
        for dst in [*(e for e in mgmt if e.kind == "gateway")][:2] + [e for e in csu if e.kind == "radius"][:1]:
            add("non-admin zone->ssh", src, dst, "tcp", 22, ctl=admin_src)
    cleartext = _rule_controls("GR-CLEARTEXT")
    for src in internet[:1]:
        for dst in public:
            for port in (23, 80, 21):
                add("internet->cleartext", src, dst, "tcp", port, ctl=cleartext)
    quarantine = _rule_controls("GR-QUARANTINE")
    for src in by_zone.get("quarantine", [])[:1]:
        for dst in [*csu[:2], *mgmt[:1], *internet[:1]]:
            add("quarantine->anything", src, dst, "tcp", 22, ctl=quarantine)
            add("quarantine->anything", src, dst, "icmp", None, ctl=quarantine)
    return cases


def _one_per_site(eps: Sequence[Endpoint]) -> list[Endpoint]:
    out: dict[str | None, Endpoint] = {}
    for e in eps:
        out.setdefault(e.site, e)
    return list(out.values())


# --- running probes -------------------------------------------------------------------------------

# Runs inside the source's network namespace with the controller's Python: reads the probes as
# JSON on stdin, writes one outcome per probe. Datagrams carry a minimal valid request for the
# services the plan names (NTP mode 3, a DNS query) so a live service answers.
_PROBE_SCRIPT = r"""
import json, socket, subprocess, sys, concurrent.futures as cf
NTP = b"\x1b" + 47 * b"\0"
DNS = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01"
def one(p):
    try:
        if p["proto"] == "icmp":
            r = subprocess.run(["ping", "-n", "-c", "1", "-W", str(int(p["timeout"]) or 1), "-I", p["bind"], p["dst"]],
                               capture_output=True, text=True)
            return "open" if r.returncode == 0 else ("unreachable" if "Unreachable" in r.stdout else "timeout")
        kind = socket.SOCK_STREAM if p["proto"] == "tcp" else socket.SOCK_DGRAM
        s = socket.socket(socket.AF_INET, kind)
        s.settimeout(p["timeout"])
        try:
            s.bind((p["bind"], 0))
        except OSError as e:
            return "error: bind %s: %s" % (p["bind"], e.strerror)
        try:
            if kind == socket.SOCK_STREAM:
                s.connect((p["dst"], p["port"]))
                return "open"
            payload = NTP if p["port"] == 123 else DNS if p["port"] == 53 else b"\0" * 8
            s.connect((p["dst"], p["port"]))
            sport = s.getsockname()[1]
            s.send(payload)
            s.recv(2048)
            return "open"
        except ConnectionRefusedError:
            return "refused"
        except socket.timeout:
            # the source port lets the destination's conntrack tell this datagram from others
            return "timeout" if kind == socket.SOCK_STREAM else "silent@%d" % sport
        except OSError as e:
            if e.errno == 1:  # EPERM: the sender's own netfilter refused the packet
                return "filtered"
            return "unreachable" if e.errno in (113, 101) else "error: %s" % e.strerror
        finally:
            s.close()
    except Exception as e:  # report, never crash the batch
        return "error: %r" % (e,)
probes = json.load(sys.stdin)
with cf.ThreadPoolExecutor(max_workers=32) as pool:
    print(json.dumps(list(pool.map(one, probes))))
"""


class NsRunner(Protocol):
    def __call__(self, ns: str, argv: Sequence[str], stdin: str) -> tuple[int, str, str]: ...


def ip_netns_runner(ns: str, argv: Sequence[str], stdin: str) -> tuple[int, str, str]:
    proc = subprocess.run(
        ["ip", "netns", "exec", ns, *argv], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
    return proc.returncode, proc.stdout, proc.stderr


def _conntrack_saw(runner: NsRunner, case: ProbeCase, sport: int | None = None) -> bool:
    """Read-only: did the destination's conntrack see this datagram (UDP without an answer)?

    Matched on the source as the destination sees it (after a CGNAT on the way) and, when the
    probe reported it, its source port: the real daemons' datagrams between the same two hosts
    must not pass for the probe's (a NAT that also rewrites the port yields "silent": fail safe).
    """
    src = case.src.seen_as or case.src.ip
    argv = ["conntrack", "-L", "-p", "udp", "--orig-src", src, "--orig-dst", case.dst.ip]
    if case.port:
        argv += ["--orig-port-dst", str(case.port)]
    if sport:
        argv += ["--orig-port-src", str(sport)]
    rc, out, _ = runner(case.dst.ns, argv, "")
    return rc == 0 and case.dst.ip in out


def run_cases(cases: Sequence[ProbeCase], runner: NsRunner = ip_netns_runner, timeout: float = 1.5) -> list[str]:
    """Observed outcome of each case, in order. Sources run in parallel, one process each."""
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(cases):
        groups.setdefault(c.src.ns, []).append(i)
    observed: list[str] = ["error: not run"] * len(cases)

    def batch(ns: str) -> None:
        idx = groups[ns]
        payload = [
            {"dst": cases[i].dst.ip, "proto": cases[i].proto, "port": cases[i].port, "bind": cases[i].src.ip,
             "timeout": timeout}
            for i in idx
        ]  # fmt: skip
        rc, out, err = runner(ns, [sys.executable, "-c", _PROBE_SCRIPT], json.dumps(payload))
        try:
            results = json.loads(out)
        except ValueError:
            results = [f"error: probe in {ns} failed (rc {rc}): {err.strip()[:200]}"] * len(idx)
        for i, res in zip(idx, results, strict=True):
            observed[i] = str(res)

    with ThreadPoolExecutor(max_workers=max(1, min(16, len(groups)))) as pool:
        list(pool.map(batch, groups))
    for i, c in enumerate(cases):
        if c.proto == "udp" and observed[i].startswith("silent"):
            port = observed[i].partition("@")[2]
            observed[i] = "delivered" if _conntrack_saw(runner, c, int(port) if port else None) else "silent"
    return observed


def case_dicts(cases: Sequence[ProbeCase]) -> list[dict[str, object]]:
    return [asdict(c) for c in cases]


__all__ = [
    "Endpoint",
    "IPv4Address",
    "ProbeCase",
    "allowed_by",
    "build_cases",
    "endpoints",
    "reached",
    "run_cases",
    "verdict_ok",
]
