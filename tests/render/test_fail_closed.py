"""Renderers refuse what they cannot express (UnsupportedFeature / RenderError), never weaken."""

from __future__ import annotations

import dataclasses

import pytest

from segmenting.model import Zone
from segmenting.plan import Plan
from segmenting.render import cisco_ios, freeradius, nftables, swanctl
from segmenting.render.base import RenderError, UnsupportedFeature
from segmenting.render.registry import get, render_all
from segmenting.render.secrets import FakeSecrets


def _with_flow(plan: Plan, flow_id: str, **changes: object) -> Plan:
    base = next(f for f in plan.flows if f.id == flow_id)
    return dataclasses.replace(plan, flows=(*plan.flows, dataclasses.replace(base, id=f"{flow_id}-x", **changes)))


def test_unknown_protocol_is_refused(plan: Plan) -> None:
    bad = _with_flow(plan, "F-s-ingeville-1-rec-rtsp", proto="sctp")
    with pytest.raises(UnsupportedFeature) as err:
        nftables.render_gateway(bad, "gw-s-ingeville-1", FakeSecrets())
    assert err.value.platform == "nftables" and "sctp" in err.value.feature


def test_icmp_with_ports_is_refused(plan: Plan) -> None:
    bad = _with_flow(plan, "F-csu-op-vms", proto="icmp")
    with pytest.raises(UnsupportedFeature, match="icmp with ports"):
        nftables.render_csu(bad, "csu-fw", FakeSecrets())


def test_unknown_window_is_refused(plan: Plan) -> None:
    bad = _with_flow(plan, "F-s-ingeville-1-maint-ssh", window="weekends")
    with pytest.raises(UnsupportedFeature, match="window"):
        nftables.render_gateway(bad, "gw-s-ingeville-1", FakeSecrets())


def test_untunnelled_flow_on_an_untrusted_site_is_refused(plan: Plan) -> None:
    bad = _with_flow(plan, "F-s-vaudrimont-1-rec-rtsp", tunnel=False)
    with pytest.raises(RenderError, match="not tunnelled"):
        nftables.render_gateway(bad, "gw-s-vaudrimont-1", FakeSecrets())


def test_maintenance_flow_without_maintainer_window_is_refused(plan: Plan) -> None:
    # A maintenance flow reaching the DMZ relay, which has no maint_open set: refused.
    bad = _with_flow(plan, "F-csu-state-relay", window="maintenance", src_zone=Zone.MAINTENANCE_VPN)
    with pytest.raises(RenderError, match="maint_open"):
        nftables.render_dmz(bad, "csu-relay", FakeSecrets())


def test_switch_without_admin_source_is_refused(plan: Plan) -> None:
    flows = tuple(f for f in plan.flows if not (f.dst_site == "s-ingeville-1" and f.service == "ssh"))
    with pytest.raises(RenderError, match="unmanageable"):
        cisco_ios.render(dataclasses.replace(plan, flows=flows), "sw-s-ingeville-1", FakeSecrets())


def test_unknown_camera_auth_is_refused(plan: Plan) -> None:
    cams = tuple(dataclasses.replace(c, auth="psk") if c.id == "cam-00001" else c for c in plan.cameras)
    bad = dataclasses.replace(plan, cameras=cams)
    with pytest.raises(RenderError, match="unknown authentication"):
        cisco_ios.render(bad, "sw-s-ingeville-1", FakeSecrets())
    with pytest.raises(RenderError, match="unknown authentication"):
        freeradius.render(bad, "csu-radius", FakeSecrets())


def test_fibre_site_has_no_tunnel(plan: Plan) -> None:
    with pytest.raises(RenderError, match="has no tunnel"):
        swanctl.render_site(plan, "gw-s-ingeville-1", FakeSecrets())
    with pytest.raises(RenderError, match="has no tunnel"):
        nftables.render_gateway_libipsec(plan, "gw-s-ingeville-1", FakeSecrets())


def test_unknown_device_and_renderer(plan: Plan) -> None:
    with pytest.raises(RenderError, match="no site"):
        nftables.render_gateway(plan, "gw-nowhere", FakeSecrets())
    with pytest.raises(RenderError, match="no renderer"):
        get("junos")
    with pytest.raises(RenderError, match="no selected renderer"):
        list(render_all(plan, FakeSecrets(), device="sw-nowhere"))


def test_unsupported_feature_message_names_platform_and_fix() -> None:
    err = UnsupportedFeature("hp_procurve", "private VLAN", "site s-x")
    assert "hp_procurve cannot express 'private VLAN'" in str(err) and "fix:" in str(err)
    assert err.exit_code == 1
