"""strongSwan traffic selectors: exact for kernel IPsec, widened just enough for userspace ESP.

kernel-libipsec (the lab: no ESP in the kernel) refuses a CHILD_SA whose local selector holds
none of the host's own addresses; the concentrator owns none of the CSU hosts a site reaches. The
``-libipsec`` variants widen the CSU side to the narrowest range that also holds the
concentrator's address, and both ends must agree on it, or IKE narrows it back.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Network, ip_address, ip_network

from segmenting.plan import Plan
from segmenting.render import swanctl
from segmenting.render.secrets import FakeSecrets


def _children(text: str) -> dict[str, tuple[list[str], list[str]]]:
    """child name -> (local_ts, remote_ts), read from a swanctl.conf."""
    out: dict[str, tuple[list[str], list[str]]] = {}
    for name, body in re.findall(r"\t\t\t([\w-]+) \{\n(.*?)\t\t\t\}", text, re.S):
        local = re.search(r"local_ts = (.*)", body)
        remote = re.search(r"remote_ts = (.*)", body)
        assert local and remote, f"child {name} lacks selectors"
        out[name] = (local.group(1).split(", "), remote.group(1).split(", "))
    return out


def _text(files: list, suffix: str) -> str:
    return next(f.text for f in files if f.path.endswith(suffix))


def test_kernel_variant_keeps_the_exact_csu_addresses(plan: Plan) -> None:
    site = next(s for s in plan.sites if s.tunnelled)
    conf = _children(_text(swanctl.render_site(plan, site.gateway.id, FakeSecrets()), "swanctl.conf"))
    assert conf["site"][1] == swanctl._site_remote(plan, site)
    assert all(IPv4Network(n).prefixlen >= 24 for n in conf["site"][1]), conf["site"][1]


def test_libipsec_csu_side_is_the_narrowest_range_holding_the_concentrator(plan: Plan) -> None:
    vpn_ip = ip_address(plan.host("csu-vpn").ip)
    csu = _children(_text(swanctl.render_csu_libipsec(plan, "csu-vpn", FakeSecrets()), "swanctl.conf"))
    for site in (s for s in plan.sites if s.tunnelled):
        local, remote = csu[site.id]
        assert len(local) == 1, f"{site.id}: one CSU selector, so one own address suffices: {local}"
        net = ip_network(local[0])
        assert vpn_ip in net, f"{site.id}: {net} must hold the concentrator's own {vpn_ip}"
        exact = [ip_network(c) for c in swanctl._site_remote(plan, site)]
        assert all(e.subnet_of(net) for e in exact), f"{site.id}: {net} must still carry every flow"  # type: ignore[arg-type]
        narrower = list(net.subnets())
        assert not any(
            vpn_ip in half and all(e.subnet_of(half) for e in exact)  # type: ignore[arg-type]
            for half in narrower
        ), f"{site.id}: {net} is wider than needed"
        assert remote == swanctl._site_local(site), "the site side stays exact: cameras and management only"
        assert site.subnets["quarantine"] not in remote


def test_libipsec_ends_agree_on_every_selector(plan: Plan) -> None:
    csu = _children(_text(swanctl.render_csu_libipsec(plan, "csu-vpn", FakeSecrets()), "swanctl.conf"))
    for site in (s for s in plan.sites if s.tunnelled):
        gw = _children(_text(swanctl.render_site_libipsec(plan, site.gateway.id, FakeSecrets()), "swanctl.conf"))
        assert gw["site"] == (csu[site.id][1], csu[site.id][0]), f"{site.id}: the two ends would narrow"


def test_libipsec_maintainers_child_holds_the_concentrator(plan: Plan) -> None:
    vpn_ip = ip_address(plan.host("csu-vpn").ip)
    csu = _children(_text(swanctl.render_csu_libipsec(plan, "csu-vpn", FakeSecrets()), "swanctl.conf"))
    (local,), remote = csu["maintenance"]
    assert vpn_ip in ip_network(local) and remote == ["dynamic"]
    mgmt = {plan.site(s).subnets["site_mgmt"] for m in plan.maintainers for s in m.sites}
    assert all(ip_network(m).subnet_of(ip_network(local)) for m in mgmt)  # type: ignore[arg-type]


def test_variants_land_apart_and_install_at_the_same_place(plan: Plan) -> None:
    kernel = {f.path for f in swanctl.render_csu(plan, "csu-vpn", FakeSecrets())}
    lab = {f.path for f in swanctl.render_csu_libipsec(plan, "csu-vpn", FakeSecrets())}
    assert kernel.isdisjoint(lab), "both are written by `cloison render` into the same device folder"
    assert {p.removeprefix("libipsec/") for p in lab} == kernel
