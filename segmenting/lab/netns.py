"""Network namespaces, veth pairs, Linux bridges, addresses and routes, through ``ip``.

Links are created directly inside their namespaces (``ip -n A link add … peer … netns B``), so
no lab interface ever appears in the root namespace except the management link. Forwarding is
switched on only inside the lab's own router namespaces (a per-namespace sysctl), never host-wide.
"""

from __future__ import annotations

from segmenting.lab.names import MGMT_CIDR, MGMT_TABLE
from segmenting.lab.run import Runner
from segmenting.lab.topology import Link, Route


def add_ns(r: Runner, name: str) -> None:
    r.run(["ip", "netns", "add", name])
    r.run(["ip", "-n", name, "link", "set", "lo", "up"])


def existing_ns(r: Runner) -> set[str]:
    out = r.run(["ip", "netns", "list"], check=False)
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def add_bridge(r: Runner, ns: str, name: str) -> None:
    # No STP, no forwarding delay: a lab segment must pass frames as soon as it exists.
    r.run(["ip", "-n", ns, "link", "add", name, "type", "bridge", "stp_state", "0", "forward_delay", "0"])
    r.run(["ip", "-n", ns, "link", "set", name, "up"])


def offloads_off(r: Runner, ns: str, dev: str) -> None:
    # Userspace OVS and veth checksum offload do not mix: without this TCP stalls (LAB-NOTES).
    r.run(["ip", "netns", "exec", ns, "ethtool", "-K", dev, "tx", "off", "tso", "off", "gso", "off"], check=False)


def add_link(r: Runner, link: Link) -> None:
    a, b = link.a, link.b
    cmd = ["ip", "-n", a.ns, "link", "add", a.name]
    if a.mac:
        cmd += ["address", a.mac]
    cmd += ["type", "veth", "peer", "name", b.name]
    if b.mac:
        cmd += ["address", b.mac]
    cmd += ["netns", b.ns]
    r.run(cmd)
    for end in (a, b):
        for addr in end.addrs:
            r.run(["ip", "-n", end.ns, "addr", "add", addr, "dev", end.name])
    if link.bridge:
        r.run(["ip", "-n", b.ns, "link", "set", "dev", b.name, "master", link.bridge])
    if link.ovs_tag is not None:
        offloads_off(r, a.ns, a.name)
        offloads_off(r, b.ns, b.name)
    for end in (a, b):
        r.run(["ip", "-n", end.ns, "link", "set", "dev", end.name, "up"])


def add_route(r: Runner, route: Route) -> None:
    if route.via.startswith("dev:"):
        r.run(["ip", "-n", route.ns, "route", "replace", route.dst, "dev", route.via[4:]])
    else:
        r.run(["ip", "-n", route.ns, "route", "replace", route.dst, "via", route.via])


def isolate_mgmt(r: Runner, ns: str, dev: str, ip: str) -> None:
    """Keep the management network out of the node's main routing table.

    Only traffic *from* the node's management address uses it (answers to the controller), so a
    node that forwards can never route a camera's or an attacker's packet onto the management
    network — and from there to the machine running the lab.
    """
    r.run(["ip", "-n", ns, "route", "del", MGMT_CIDR, "dev", dev, "table", "main"], check=False)
    r.run(["ip", "-n", ns, "route", "replace", MGMT_CIDR, "dev", dev, "src", ip, "table", str(MGMT_TABLE)])
    r.run(["ip", "-n", ns, "rule", "add", "from", ip, "table", str(MGMT_TABLE), "pref", "100"])


def forwarding(r: Runner, ns: str, on: bool = True) -> None:
    r.run(["ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv4.ip_forward={int(on)}"])


def masquerade(r: Runner, ns: str, oif: str) -> None:
    ruleset = (
        "table ip cl_nat {\n chain post {\n  type nat hook postrouting priority srcnat;\n"
        f'  oifname "{oif}" masquerade\n }}\n}}\n'
    )
    r.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], stdin=ruleset)


def del_ns(r: Runner, name: str) -> None:
    r.run(["ip", "netns", "del", name], check=False)
