"""Refused: a flows.yml entry that breaks a guardrail (DESIGN.md, "Guardrails"); no inventory overrides them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from invmut import copy_reference, expect, line_with, only, problems, read, valid_plan, write


def _flow(
    fid: str, src: dict[str, Any], dst: dict[str, Any], proto: str, ports: list[int], service: str
) -> dict[str, Any]:
    return {
        "id": fid,
        "src": src,
        "dst": dst,
        "proto": proto,
        "ports": ports,
        "service": service,
        "purpose": "test",
        "controls": ["ANSSI-HYG-19"],
    }


BAD_FLOWS = [
    # (guardrail, flow)
    ("GR-CAM-INTERNET", _flow("cam-cloud", {"zone": "cameras"}, {"zone": "internet"}, "tcp", [8883], "mqtt-tls")),
    ("GR-CAM-CAM", _flow("cam-peer", {"zone": "cameras"}, {"zone": "cameras"}, "tcp", [554], "rtsp")),
    (
        "GR-STATE-RELAY",
        _flow("state-vms", {"zone": "state"}, {"zone": "recording", "hosts": ["csu-rec-01"]}, "tcp", [443], "vms"),
    ),
    (
        "GR-STATE-RELAY",  # the relay, but not its published port
        _flow("state-ssh", {"zone": "state"}, {"zone": "dmz_state", "hosts": ["csu-relay"]}, "tcp", [8443], "rtsps"),
    ),
    ("GR-INTERNET-VPN", _flow("inet-relay", {"zone": "internet"}, {"zone": "dmz_state"}, "tcp", [8554], "rtsp")),
    (
        "GR-INTERNET-VPN",  # the VPN host, but not IKE
        _flow("inet-vpn-web", {"zone": "internet"}, {"zone": "admin", "hosts": ["csu-vpn"]}, "tcp", [443], "portal"),
    ),
    (
        "GR-ADMIN-SOURCE",
        _flow("ops-ssh", {"zone": "operators"}, {"zone": "site_mgmt", "site": "s-valmorin-1"}, "tcp", [22], "ssh"),
    ),
    ("GR-ADMIN-SOURCE", _flow("rec-snmp", {"zone": "recording"}, {"zone": "site_mgmt"}, "udp", [161], "snmp")),
    (
        "GR-ADMIN-SOURCE",  # any port includes 22
        _flow("ops-any", {"zone": "operators"}, {"zone": "services"}, "tcp", [], "everything"),
    ),
    ("GR-CLEARTEXT", _flow("adm-telnet", {"zone": "admin"}, {"zone": "site_mgmt"}, "tcp", [23], "telnet")),
    ("GR-CLEARTEXT", _flow("adm-ftp", {"zone": "admin"}, {"zone": "services"}, "tcp", [21], "ftp")),
    ("GR-CLEARTEXT", _flow("adm-http", {"zone": "admin"}, {"zone": "site_mgmt"}, "tcp", [80], "http")),
    (
        "GR-CLEARTEXT",  # named by its service even on another port
        _flow("adm-web", {"zone": "admin"}, {"zone": "site_mgmt"}, "tcp", [8080], "http"),
    ),
    ("GR-QUARANTINE", _flow("quar-dns", {"zone": "quarantine"}, {"zone": "services"}, "udp", [53], "dns")),
]


@pytest.mark.parametrize(("rule", "flow"), BAD_FLOWS, ids=[f"{r}-{f['id']}" for r, f in BAD_FLOWS])
def test_flow_breaking_a_guardrail(tmp_path: Path, rule: str, flow: dict[str, Any]) -> None:
    folder = copy_reference(tmp_path)
    write(folder, "flows.yml", {"flows": [flow]})
    found = problems(folder)
    p = expect(found, "flows.yml", "flows[0]", f"flow {flow['id']} breaks guardrail {rule}")
    assert p.line == line_with(folder, "flows.yml", f"- id: {flow['id']}")
    assert "cannot be overridden" in p.fix
    assert all(q.file == "flows.yml" for q in found)


@pytest.mark.parametrize(
    "flow",
    [
        _flow("ops-dns", {"zone": "operators"}, {"zone": "services", "hosts": ["csu-dns"]}, "udp", [53], "dns"),
        _flow("rec-https", {"zone": "recording"}, {"zone": "cameras", "site": "s-valmorin-1"}, "tcp", [443], "onvif"),
        _flow("adm-snmp", {"zone": "admin"}, {"zone": "site_mgmt"}, "udp", [161], "snmp"),
        _flow("vpn-ssh", {"zone": "maintenance_vpn"}, {"zone": "services"}, "tcp", [22], "ssh"),
        _flow("inet-ike", {"zone": "internet"}, {"zone": "admin", "hosts": ["csu-vpn"]}, "udp", [500, 4500], "ike"),
    ],
    ids=lambda f: f["id"],
)
def test_allowed_flows_join_the_plan(tmp_path: Path, flow: dict[str, Any]) -> None:
    folder = copy_reference(tmp_path)
    write(folder, "flows.yml", {"flows": [flow]})
    plan = valid_plan(folder)
    added = [f for f in plan.flows if f.origin == "inventory"]
    assert [f.id for f in added] == [f"F-x-{flow['id']}"]


def test_every_bad_flow_is_reported_at_once(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    write(folder, "flows.yml", {"flows": [f for _, f in BAD_FLOWS]})
    found = problems(folder)
    for index, (rule, flow) in enumerate(BAD_FLOWS):
        expect(found, "flows.yml", f"flows[{index}]", f"flow {flow['id']} breaks guardrail {rule}")


def test_flow_to_an_unknown_site_and_host(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    flow = _flow(
        "x", {"zone": "admin", "hosts": ["csu-nope"]}, {"zone": "site_mgmt", "site": "s-x"}, "tcp", [22], "ssh"
    )
    write(folder, "flows.yml", {"flows": [flow]})
    found = problems(folder)
    expect(
        found,
        "flows.yml",
        "flows[0].src.hosts[0]",
        "unknown host 'csu-nope'",
        line_with(folder, "flows.yml", "- csu-nope"),
    )
    expect(found, "flows.yml", "flows[0].dst.site", "unknown site 's-x'")


def test_flow_with_an_unknown_zone(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    write(folder, "flows.yml", {"flows": [_flow("x", {"zone": "lobby"}, {"zone": "services"}, "udp", [53], "dns")]})
    only(problems(folder), "flows.yml", "flows[0].src.zone", "Input should be")


def test_relay_published_on_an_admin_port(tmp_path: Path) -> None:
    """The built-in State flow opens the relay port to the State: it must not be SSH or telnet."""
    folder = copy_reference(tmp_path)
    write(folder, "state.yml", {"state_convention": {**_state(folder), "relay_port": 22}})
    only(problems(folder), "state.yml", "state_convention.relay_port", "GR-STATE-RELAY: the State would reach port 22")


def _state(folder: Path) -> dict[str, Any]:
    state: dict[str, Any] = read(folder, "state.yml")["state_convention"]
    return state
