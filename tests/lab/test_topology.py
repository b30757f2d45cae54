"""The lab's topology derivation (pure): sites picked, names, addresses from the plan, transports."""

from __future__ import annotations

from ipaddress import ip_interface, ip_network
from pathlib import Path

import pytest
import yaml

from segmenting.api import load_plan
from segmenting.lab import access
from segmenting.lab.names import IFNAMSIZ, MGMT_CIDR, LabPaths, ifname
from segmenting.lab.portd import parse_radclient
from segmenting.lab.topology import Route, build_topology, pick_sites
from segmenting.plan import Plan

DEPLOYMENT = Path(__file__).resolve().parents[2] / "inventory" / "ingeagglo"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(DEPLOYMENT)


def test_default_sites_are_one_per_transport(plan: Plan) -> None:
    sites = pick_sites(plan)
    assert [plan.site(s).transport for s in sites] == ["fiber", "vdsl", "cellular"]
    for s in sites:  # each picked site shows both authentication methods
        auths = {c.auth for c in plan.cameras if c.site == s}
        assert auths == {"eap-tls", "mab"}


def test_default_sites_hold_a_camera_the_state_shares(plan: Plan) -> None:
    """Without one, the State's read through the relay has nothing to read in the lab; the
    smallest sharing site is taken, so the lab grows no more than it must."""
    sites = pick_sites(plan)
    shared = set(plan.state.shared_cameras)
    assert [s for s in sites if shared & set(plan.site(s).cameras)] == [sites[0]]
    sharing = [s for s in plan.sites if s.transport == plan.site(sites[0]).transport and shared & set(s.cameras)]
    assert len(plan.site(sites[0]).cameras) == min(len(s.cameras) for s in sharing)


def test_every_recorder_of_the_plan_is_a_node(plan: Plan) -> None:
    """The plan splits the cameras between recorders: each records its share in the lab too."""
    recorders = {h.id for h in plan.hosts if h.kind == "recorder"}
    assert len(recorders) > 1 and recorders <= {n.id for n in build_topology(plan).nodes}


def test_the_maintainers_pool_lives_behind_the_concentrator(plan: Plan) -> None:
    """csu-fw routes the VPN pool to csu-vpn and owns no address in it (it held the pool's first
    address, which the concentrator also hands to the first maintainer: replies never left csu-fw)."""
    topo = build_topology(plan)
    pool = ip_network(plan.csu.zones["maintenance_vpn"])
    fw = next(n.ns for n in topo.nodes if n.id == "csu-fw")
    assert Route(fw, str(pool), plan.host("csu-vpn").ip) in topo.routes
    owned = [a for link in topo.links for i in (link.a, link.b) if i.ns == fw for a in i.addrs]
    assert not [a for a in owned if ip_interface(a).ip in pool], owned


def test_more_sites_cycle_transports(plan: Plan) -> None:
    sites = pick_sites(plan, 5)
    assert [plan.site(s).transport for s in sites] == ["fiber", "vdsl", "cellular", "fiber", "vdsl"]
    assert len(set(sites)) == 5


def test_every_name_is_prefixed_and_fits(plan: Plan) -> None:
    topo = build_topology(plan)
    namespaces = {n.ns for n in topo.nodes} | {s.ns for s in topo.switches} | {c.ns for c in topo.cameras}
    namespaces |= {a.ns for a in topo.actors}
    assert all(ns.startswith("cl-") for ns in namespaces)
    for link in topo.links:
        for end in (link.a, link.b):
            assert len(end.name) <= IFNAMSIZ, end
    assert len(ifname("s-0-s-chanteloup-d-ingre-1")) == IFNAMSIZ


def test_cameras_come_from_the_plan(plan: Plan) -> None:
    topo = build_topology(plan)
    by_id = {c.id: c for c in plan.cameras}
    assert {c.id for c in topo.cameras} == {c for s in topo.sites for c in plan.site(s).cameras}
    for cam in topo.cameras:
        p = by_id[cam.id]
        assert (cam.ip.split("/")[0], cam.mac, cam.vlan, cam.port, cam.auth) == (p.ip, p.mac, p.vlan, p.port, p.auth)
        link = next(link for link in topo.links if link.a.ns == cam.ns)
        assert link.a.mac == p.mac and link.b.name == f"p{p.port}" and link.closed


def test_untrusted_transports_have_no_path_to_the_csu_but_the_tunnel(plan: Plan) -> None:
    topo = build_topology(plan)
    for site_id in topo.sites:
        site = plan.site(site_id)
        gw = topo.node(site.gateway.id)
        gw_routes = [r for r in topo.routes if r.ns == gw.ns]
        fw_routes = [r for r in topo.routes if r.ns == "cl-csu-fw" and r.dst == site.block]
        if site.transport == "fiber":
            assert gw_routes[0].via == site.gateway.transport_peer
            assert fw_routes and fw_routes[0].via == site.gateway.transport_ip
        else:
            assert [r.dst for r in gw_routes] == ["default"]  # toward the operator only
            assert [r.via for r in fw_routes] == [plan.host("csu-vpn").ip]  # the CSU reaches it by the tunnel
            wan = next(link for link in topo.links if link.a.ns == gw.ns and link.a.name == "wan0")
            assert wan.b.ns == f"cl-op-{site.transport}"
    assert ("cl-op-cellular", "core") in topo.nat


def test_management_addresses_are_unique(plan: Plan) -> None:
    topo = build_topology(plan)
    ips = [n.mgmt_ip for n in topo.nodes] + [s.mgmt_ip for s in topo.switches]
    assert len(ips) == len(set(ips))
    assert all(ip.startswith(MGMT_CIDR.rsplit(".", 1)[0] + ".") for ip in ips)


def test_inventory_names_plan_hosts(plan: Plan, tmp_path: Path) -> None:
    topo = build_topology(plan)
    doc = yaml.safe_load(access.inventory_yaml(LabPaths(tmp_path), topo))["all"]
    hosts = doc["hosts"]
    assert {"csu-radius", "csu-pki", "csu-ntp", "csu-dns", "csu-rec-01", "csu-vpn"} <= set(hosts)
    assert hosts["csu-pki"]["ansible_host"] == hosts["csu-radius"]["ansible_host"]  # combined roles
    for s in topo.sites:
        assert plan.site(s).gateway.id in hosts and plan.site(s).switch.id in hosts
    assert "csu-pki" in doc["children"]["csu_pki"]["hosts"]
    assert all(plan.host(h) for h in hosts)  # every name is a plan host id


def test_inventory_gives_every_role_the_lab_secrets(plan: Plan, tmp_path: Path) -> None:
    """The roles and the lab's switches share one RADIUS secret per switch: every role default
    ``<role>_secrets_file`` is overridden with the lab's secrets file."""
    doc = yaml.safe_load(access.inventory_yaml(LabPaths(tmp_path), build_topology(plan)))["all"]
    roles = Path(__file__).resolve().parents[2] / "roles"
    declared = {
        line.split(":", 1)[0]
        for defaults in roles.glob("*/defaults/main.yml")
        for line in defaults.read_text().splitlines()
        if line.split(":", 1)[0].endswith("_secrets_file")
    }
    assert declared, "no role declares a secrets file"
    assert {k: v for k, v in doc["vars"].items() if k.endswith("_secrets_file")} == dict.fromkeys(
        declared, str(LabPaths(tmp_path).secrets)
    )


def test_radclient_reply_parsing() -> None:
    accept = 'Received Access-Accept Id 1 from 10.0.3.10:1812\n\tTunnel-Private-Group-Id:0 = "110"\n'
    assert parse_radclient(accept) == ("accept", 110)
    reject = "Received Access-Reject Id 6\n(0) -: Expected Access-Accept got Access-Reject\n"
    assert parse_radclient(reject) == ("reject", None)
    assert parse_radclient("(0) No reply from server for ID 1") == ("none", None)
