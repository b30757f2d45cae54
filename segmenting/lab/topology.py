"""The lab's topology, derived purely from a plan: which hosts, links, addresses and routes.

No I/O. Every address, VLAN, MAC and port comes from the plan (DESIGN.md: nothing is typed
twice); what the plan does not describe — the outside world (an operator network per untrusted
transport, "the internet", a State client) and the lab's own management network — is given
addresses from documentation and benchmarking ranges (RFC 5737, RFC 2544, RFC 6598) here, once.

The kernel has no 802.1Q devices (LAB-NOTES), so a gateway cannot terminate a tagged trunk:
the switch hands it one access port per VLAN (cameras, quarantine, site management) instead,
which is what a trunk would deliver after the gateway split it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Interface, IPv4Network, ip_network

from segmenting.lab.names import FABRIC_NS, MGMT_CIDR, MIRROR_IF, ifname, netns
from segmenting.plan import CameraPlan, Plan, SitePlan

TRANSPORT_ORDER = ("fiber", "vdsl", "cellular")

# CSU nodes the lab boots, and the plan hosts each one plays. Combined to save CPU on a 2-core
# machine: the RADIUS node also serves PKI, NTP and DNS; the log collector is also the IDS
# collector. The second recorder and the operators' workstations are left out.
CSU_NODES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("csu-fw", ()),
    ("csu-radius", ("csu-pki", "csu-ntp", "csu-dns")),
    ("csu-rec-01", ()),
    ("csu-rec-02", ()),  # the plan splits the cameras between two recorders
    ("csu-log", ("csu-ids",)),
    ("csu-bastion", ()),
    ("csu-vpn", ()),
    ("csu-relay", ()),
)

VPN_POOL_ZONE = "maintenance_vpn"  # the CSU zone of the maintainers' VPN pool

# The outside world (not in the plan). Internet core links use 198.18.0.0/15 (RFC 2544).
INET_LAN = "198.18.0.0/24"
INET_ROUTER = "198.18.0.1"
WWW_IP = "198.18.0.10"
LAPTOP_IP = "198.18.0.20"
ATTACKER_INET_IP = "198.18.0.66"
CSU_PUBLIC_ROUTER = 254  # host part of the internet router on the CSU's public segment
CGNAT = "100.64.0.0/16"  # RFC 6598: the cellular operator's side, NATed
UNUSED_VLAN_KEY = "unused"


@dataclass(frozen=True)
class Iface:
    ns: str
    name: str
    addrs: tuple[str, ...] = ()
    mac: str | None = None


@dataclass(frozen=True)
class Link:
    """A veth pair; ``bridge`` (a Linux bridge in ``b.ns``) or ``ovs_tag`` (an OVS port) for ``b``."""

    a: Iface
    b: Iface
    bridge: str | None = None
    ovs_tag: int | None = None
    closed: bool = False  # an 802.1X-controlled OVS port: starts closed


@dataclass(frozen=True)
class Route:
    ns: str
    dst: str  # "default" or a CIDR
    via: str


@dataclass(frozen=True)
class Node:
    """A managed host: a systemd-nspawn container with its own network namespace."""

    id: str
    ns: str
    kind: str
    mgmt_ip: str
    plays: tuple[str, ...]  # the plan host ids it stands for (itself first)
    groups: tuple[str, ...]
    site: str | None = None
    host_groups: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (plan host id, its Ansible groups)


@dataclass(frozen=True)
class CameraPort:
    port: int
    dev: str
    vlan: int  # the VLAN the plan gives the device on that port (applied when RADIUS names none)
    camera: str | None


@dataclass(frozen=True)
class Switch:
    id: str
    site: str
    ns: str
    mgmt_ip: str  # lab management network
    plan_mgmt_ip: str  # in the site_mgmt VLAN
    plan_mgmt_prefix: int
    gateway_mgmt_ip: str
    vlans: dict[str, int]
    ports: tuple[CameraPort, ...]
    uplinks: tuple[tuple[str, int], ...]  # (dev, VLAN) access ports toward the gateway
    mirror_dev: str
    radius_ip: str
    transport: str


@dataclass(frozen=True)
class Camera:
    id: str
    site: str
    ns: str
    ip: str  # CIDR
    gateway: str
    mac: str
    auth: str
    identity: str | None
    port: int
    vlan: int


@dataclass(frozen=True)
class Actor:
    id: str
    ns: str
    role: str  # internet, www, laptop, state, operator, fabric
    ip: str | None = None


@dataclass(frozen=True)
class Topology:
    deployment: str
    sites: tuple[str, ...]
    nodes: tuple[Node, ...]
    switches: tuple[Switch, ...]
    cameras: tuple[Camera, ...]
    actors: tuple[Actor, ...]
    links: tuple[Link, ...]
    routes: tuple[Route, ...]
    bridges: tuple[str, ...]  # Linux bridges in the fabric namespace
    forwarding: tuple[str, ...]  # namespaces the lab itself routes in (its own routers only)
    nat: tuple[tuple[str, str], ...]  # (ns, outgoing interface) masquerading
    mgmt_cidr: str = MGMT_CIDR
    extra: dict[str, str] = field(default_factory=dict)

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    def switch(self, site: str) -> Switch:
        return next(s for s in self.switches if s.site == site)

    def camera(self, camera_id: str) -> Camera:
        return next(c for c in self.cameras if c.id == camera_id)

    def node_playing(self, host_id: str) -> Node:
        return next(n for n in self.nodes if host_id in n.plays)


class TopologyError(ValueError):
    pass


def pick_sites(plan: Plan, count: int = 3) -> tuple[str, ...]:
    """``count`` sites cycling fiber, VDSL, cellular; within a transport the smallest sites first.

    Small sites keep the lab light; a site with a MAB camera is preferred so that every picked
    site shows both authentication methods. The first transport that has a site holding cameras
    the State convention shares starts with its smallest such site: without one, the lab has no
    camera the State may read through the relay, and the convention's path goes untested.
    """
    cameras = {c.id: c for c in plan.cameras}

    def key(site: SitePlan) -> tuple[int, int, str]:
        has_mab = any(cameras[c].auth == "mab" for c in site.cameras)
        return (0 if has_mab else 1, len(site.cameras), site.id)

    by_transport = {t: sorted((s for s in plan.sites if s.transport == t), key=key) for t in TRANSPORT_ORDER}
    shared = set(plan.state.shared_cameras)
    for t in TRANSPORT_ORDER:
        sharing = next((s for s in by_transport[t] if shared & set(s.cameras)), None)
        if sharing is not None:
            by_transport[t].remove(sharing)
            by_transport[t].insert(0, sharing)
            break
    picked: list[str] = []
    round_ = 0
    while len(picked) < count:
        progressed = False
        for t in TRANSPORT_ORDER:
            if len(picked) < count and round_ < len(by_transport[t]):
                picked.append(by_transport[t][round_].id)
                progressed = True
        if not progressed:
            raise TopologyError(f"the plan has only {len(picked)} sites, {count} asked")
        round_ += 1
    return tuple(picked)


def _cidr(ip: str, network: str) -> str:
    return f"{ip}/{ip_network(network).prefixlen}"


def _host(network: str, index: int) -> str:
    net = IPv4Network(network)
    return str(net.network_address + index)


def _csu_nodes(plan: Plan, mgmt: list[str]) -> list[Node]:
    nodes = []
    for node_id, extra in CSU_NODES:
        host = plan.host(node_id)
        plays = (node_id, *(h for h in extra if any(x.id == h for x in plan.hosts)))
        groups = sorted({g for h in plays for g in plan.host(h).groups})
        host_groups = tuple((h, plan.host(h).groups) for h in plays)
        nodes.append(Node(node_id, netns(node_id), host.kind, mgmt.pop(0), plays, tuple(groups), None, host_groups))
    return nodes


def build_topology(plan: Plan, sites: tuple[str, ...] | None = None) -> Topology:
    """The lab for ``sites`` (default: :func:`pick_sites`) of ``plan``."""
    sites = sites or pick_sites(plan)
    for s in sites:
        plan.site(s)  # KeyError for an unknown site
    mgmt_pool = [_host(MGMT_CIDR, i) for i in range(10, 250)]
    links: list[Link] = []
    routes: list[Route] = []
    bridges: list[str] = ["mgmt"]
    fab = FABRIC_NS
    nodes = _csu_nodes(plan, mgmt_pool)
    csu_zones = plan.csu.zones
    fw = netns("csu-fw")

    # CSU zones: one bridge each in the fabric, csu-fw holds every zone's gateway address, and its
    # own plan address in its zone (where the plan's flows to the firewall, its SSH, arrive).
    zone_gw: dict[str, str] = {}
    fw_host = plan.host("csu-fw")
    fw_zone = fw_host.zone_id.split(":", 1)[1]
    for zone, cidr in sorted(csu_zones.items()):
        if zone == VPN_POOL_ZONE:
            # The maintainers' addresses are handed out by the concentrator (its IKE pool) and live
            # behind it, not on a segment of the firewall: csu-fw routes the pool to csu-vpn.
            routes.append(Route(fw, cidr, plan.host("csu-vpn").ip))
            continue
        br = ifname(f"z-{zone}")
        bridges.append(br)
        gw_ip = _host(cidr, 1)
        zone_gw[zone] = gw_ip
        addrs = (_cidr(gw_ip, cidr),) + ((_cidr(fw_host.ip, cidr),) if zone == fw_zone and fw_host.ip != gw_ip else ())
        links.append(Link(Iface(fw, ifname(f"z-{zone}"), addrs), Iface(fab, ifname(f"fw-{zone}")), br))
    for node in nodes:
        if node.id == "csu-fw":
            continue
        host = plan.host(node.id)
        zone = host.zone_id.split(":", 1)[1]
        addrs = tuple(_cidr(plan.host(h).ip, csu_zones[zone]) for h in node.plays)
        links.append(Link(Iface(node.ns, "eth0", addrs), Iface(fab, ifname(f"n-{node.id}")), ifname(f"z-{zone}")))

    # The CSU's public segment: the firewall and the VPN concentrator face the internet. The State
    # relay's published address is the firewall's, which translates it to the relay in the DMZ
    # (the nft-csu ruleset's DNAT, CSI L252-3): the relay itself has no public address.
    pub = str(IPv4Network(f"{plan.csu.vpn_endpoint}/24", strict=False))
    bridges.append("pub")
    inet = netns("inet")
    pub_router = _host(pub, CSU_PUBLIC_ROUTER)
    links.append(Link(Iface(inet, "pub", (_cidr(pub_router, pub),)), Iface(fab, "inet-pub"), "pub"))
    fw_public = (_cidr(_host(pub, 1), pub), _cidr(plan.csu.relay_endpoint, pub))
    links.append(Link(Iface(fw, "pub0", fw_public), Iface(fab, "fw-pub"), "pub"))
    routes.append(Route(fw, "default", pub_router))
    for node_id, public, zone in (("csu-vpn", plan.csu.vpn_endpoint, "admin"),):
        links.append(
            Link(Iface(netns(node_id), "pub0", (_cidr(public, pub),)), Iface(fab, ifname(f"p-{node_id}")), "pub")
        )
        routes.append(Route(netns(node_id), "default", pub_router))
        routes.append(Route(netns(node_id), "10.0.0.0/8", zone_gw[zone]))
    for node in nodes:
        if node.id not in ("csu-fw", "csu-vpn"):
            zone = plan.host(node.id).zone_id.split(":", 1)[1]
            routes.append(Route(node.ns, "default", zone_gw[zone]))

    # The internet: a router, a LAN with a web host and the maintainer's laptop, the State network.
    bridges.append("lan")
    actors = [
        Actor("fab", fab, "fabric"),
        Actor("inet", inet, "internet", INET_ROUTER),
        Actor("www", netns("www"), "www", WWW_IP),
        Actor("laptop", netns("laptop"), "laptop", LAPTOP_IP),
    ]
    links.append(Link(Iface(inet, "lan", (_cidr(INET_ROUTER, INET_LAN),)), Iface(fab, "inet-lan"), "lan"))
    for actor in actors[2:]:
        assert actor.ip is not None
        links.append(
            Link(Iface(actor.ns, "eth0", (_cidr(actor.ip, INET_LAN),)), Iface(fab, ifname(f"l-{actor.id}")), "lan")
        )
        routes.append(Route(actor.ns, "default", INET_ROUTER))
    state_cidr = plan.state.endpoints[0][2]
    state_ip = _host(state_cidr, 1)
    state_router = _host(state_cidr, IPv4Network(state_cidr).num_addresses - 2)
    actors.append(Actor("state", netns("state"), "state", state_ip))
    links.append(
        Link(
            Iface(netns("state"), "eth0", (_cidr(state_ip, state_cidr),)),
            Iface(inet, "to-state", (_cidr(state_router, state_cidr),)),
        )
    )
    routes.append(Route(netns("state"), "default", state_router))

    # Sites.
    switches: list[Switch] = []
    cameras: list[Camera] = []
    cams = {c.id: c for c in plan.cameras}
    operators: dict[str, str] = {}
    forwarding = [inet]
    nat: list[tuple[str, str]] = []
    cell_index = 0
    for k, site_id in enumerate(sites):
        site = plan.site(site_id)
        gw = plan.host(site.gateway.id)
        gw_node = Node(
            gw.id, netns(gw.id), "gateway", mgmt_pool.pop(0), (gw.id,), gw.groups, site_id, ((gw.id, gw.groups),)
        )
        nodes.append(gw_node)
        sw_host = plan.host(site.switch.id)
        sw_ns = netns(sw_host.id)
        sub = site.subnets
        uplinks = (
            ("up-cam", site.vlans["cameras"]),
            ("up-quar", site.vlans["quarantine"]),
            ("up-mgmt", site.vlans["site_mgmt"]),
        )
        gw_addrs = {
            "up-cam": ("cam0", _cidr(site.gateway.camera_gateway, sub["cameras"])),
            "up-quar": ("quar0", _cidr(site.gateway.quarantine_gateway, sub["quarantine"])),
            "up-mgmt": ("mgmt0", _cidr(site.gateway.mgmt_ip, sub["site_mgmt"])),
        }
        for dev, vlan in uplinks:
            gw_if, addr = gw_addrs[dev]
            links.append(Link(Iface(gw_node.ns, gw_if, (addr,)), Iface(sw_ns, dev), ovs_tag=vlan))
        links.append(Link(Iface(gw_node.ns, MIRROR_IF), Iface(sw_ns, "span")))
        routes.extend(_transport(plan, site, gw_node, k, links, routes, operators, forwarding, nat, cell_index))
        if site.transport == "cellular":
            cell_index += 1
        ports: list[CameraPort] = []
        for cam_id in site.cameras:
            cam: CameraPlan = cams[cam_id]
            dev = f"p{cam.port}"
            ports.append(CameraPort(cam.port, dev, cam.vlan, cam.id))
            ns = netns(cam.id)
            cameras.append(Camera(cam.id, site_id, ns, _cidr(cam.ip, sub["cameras"]), site.gateway.camera_gateway,
                                  cam.mac, cam.auth, cam.identity, cam.port, cam.vlan))  # fmt: skip
            links.append(Link(Iface(ns, "eth0", (_cidr(cam.ip, sub["cameras"]),), cam.mac), Iface(sw_ns, dev),
                              ovs_tag=site.vlans[UNUSED_VLAN_KEY], closed=True))  # fmt: skip
            routes.append(Route(ns, "default", site.gateway.camera_gateway))
        switches.append(
            Switch(
                id=sw_host.id, site=site_id, ns=sw_ns, mgmt_ip=mgmt_pool.pop(0), plan_mgmt_ip=site.switch.mgmt_ip,
                plan_mgmt_prefix=IPv4Interface(_cidr(site.switch.mgmt_ip, sub["site_mgmt"])).network.prefixlen,
                gateway_mgmt_ip=site.gateway.mgmt_ip, vlans=dict(site.vlans), ports=tuple(ports), uplinks=uplinks,
                mirror_dev="span", radius_ip=plan.host("csu-radius").ip, transport=site.transport,
            )
        )  # fmt: skip
    for op, ns in sorted(operators.items()):
        actors.append(Actor(op, ns, "operator"))
    return Topology(
        deployment=plan.deployment,
        sites=sites,
        nodes=tuple(nodes),
        switches=tuple(switches),
        cameras=tuple(cameras),
        actors=tuple(actors),
        links=tuple(links),
        routes=tuple(routes),
        bridges=tuple(bridges),
        forwarding=tuple(forwarding),
        nat=tuple(nat),
    )


def _transport(  # noqa: PLR0917 - one call site; the lists are the topology being built
    plan: Plan,
    site: SitePlan,
    gw: Node,
    k: int,
    links: list[Link],
    routes: list[Route],
    operators: dict[str, str],
    forwarding: list[str],
    nat: list[tuple[str, str]],
    cell_index: int,
) -> list[Route]:
    """The site's uplink: a direct link to csu-fw for fiber, an operator network otherwise."""
    fw, inet = netns("csu-fw"), netns("inet")
    g = site.gateway
    if site.transport == "fiber":
        assert g.transport_ip and g.transport_peer
        tr = site.subnets["transport"]
        links.append(
            Link(
                Iface(gw.ns, "wan0", (_cidr(g.transport_ip, tr),)),
                Iface(fw, ifname(f"s-{k}-{site.id}"), (_cidr(g.transport_peer, tr),)),
            )
        )
        return [Route(gw.ns, "default", g.transport_peer), Route(fw, site.block, g.transport_ip)]
    op_id = f"op-{site.transport}"
    op_ns = netns(op_id)
    # The CSU reaches a tunnelled site only through the VPN concentrator (its IKEv2 tunnel).
    out: list[Route] = [Route(fw, site.block, plan.host("csu-vpn").ip)]
    core_net = {"vdsl": "198.18.1.0/30", "cellular": "198.18.2.0/30"}[site.transport]
    if op_id not in operators:
        operators[op_id] = op_ns
        forwarding.append(op_ns)
        links.append(
            Link(
                Iface(op_ns, "core", (_cidr(_host(core_net, 2), core_net),)),
                Iface(inet, ifname(f"to-{op_id}"), (_cidr(_host(core_net, 1), core_net),)),
            )
        )
        out.append(Route(op_ns, "default", _host(core_net, 1)))
        if site.transport == "cellular":
            nat.append((op_ns, "core"))
    if site.transport == "vdsl":
        assert g.wan_ip, f"{site.id}: a VDSL site needs a fixed WAN address in the plan"
        access = str(IPv4Network(f"{g.wan_ip}/24", strict=False))
        if not any(r.ns == inet and r.dst == access for r in routes):
            out.append(Route(inet, access, _host(core_net, 2)))
        op_ip = _host(access, 1)
        links.append(
            Link(
                Iface(gw.ns, "wan0", (_cidr(g.wan_ip, access),)), Iface(op_ns, ifname(f"a-{site.id}"), (f"{op_ip}/32",))
            )
        )
        out.append(Route(gw.ns, "default", op_ip))
        out.append(Route(op_ns, f"{g.wan_ip}/32", "dev:" + ifname(f"a-{site.id}")))
        return out
    access = str(list(IPv4Network(CGNAT).subnets(new_prefix=30))[cell_index])
    links.append(
        Link(
            Iface(gw.ns, "wan0", (_cidr(_host(access, 2), access),)),
            Iface(op_ns, ifname(f"a-{site.id}"), (_cidr(_host(access, 1), access),)),
        )
    )
    out.append(Route(gw.ns, "default", _host(access, 1)))
    return out
