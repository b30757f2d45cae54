"""The rendered IDS allowlist loads with the ids package's loader and answers like the plan."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from segmenting.plan import Plan
from segmenting.render import ids_allowlist
from segmenting.render.secrets import FakeSecrets

ids_loader = __import__("ids.allowlist", fromlist=["load"])


def _p(ip: str) -> bytes:
    return ipaddress.ip_address(ip).packed


def test_rendered_allowlist_loads_and_answers(plan: Plan, tmp_path: Path) -> None:
    (f,) = ids_allowlist.render(plan, "csu-ids", FakeSecrets())
    path = tmp_path / f.path
    path.write_text(f.text, encoding="utf-8")
    al = ids_loader.load(path)
    assert al.deployment == plan.deployment
    assert len(al.rules) == len(plan.flows) and len(al.hosts) == len(plan.hosts)
    rec = plan.host("csu-rec-01").ip
    cams = [c for c in plan.cameras if c.site == "s-ingeville-1"]
    rule = al.allowed(6, _p(rec), _p(cams[0].ip), 554)
    assert rule is not None and rule.id == "F-s-ingeville-1-rec-rtsp"
    assert al.allowed(6, _p(cams[0].ip), _p(cams[1].ip), 554) is None  # cameras never reach cameras
    assert al.allowed(6, _p(cams[0].ip), _p("8.8.8.8"), 443) is None  # nor the internet
    zone = al.zone_of(_p(cams[0].ip))
    assert zone is not None and zone.id == "s-ingeville-1:cameras" and zone.vlan == 110
    assert al.zone_of(_p("8.8.8.8")).id == "internet"
    assert al.host_by_ip[_p(cams[0].ip)].mac == cams[0].mac
    assert al.collector == (plan.host("csu-ids").ip, ids_allowlist.COLLECTOR_PORT)
    maint = [r for r in al.rules if r.window == "maintenance"]
    assert maint and all(r.id.endswith("-maint-ssh") for r in maint)


def test_gateways_are_the_dhcp_servers_and_routers(plan: Plan) -> None:
    """Each site's gateway serves DHCP and routes its cameras and quarantine segments; the
    plan has no gateway MAC, so it is null (docs/ids-allowlist.md)."""
    services = ids_allowlist.document(plan)["services"]
    expected = [
        {"ip": ip, "mac": None, "site": s.id}
        for s in plan.sites
        for ip in (s.gateway.camera_gateway, s.gateway.quarantine_gateway)
    ]
    assert services["dhcp"] == expected
    assert services["routers"] == expected
    zone_of = {z.gateway: z.zone.value for z in plan.zones if z.site}
    assert {zone_of[e["ip"]] for e in expected} == {"cameras", "quarantine"}
