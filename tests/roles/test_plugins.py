"""Unit tests of the project's own Ansible plugins: filters (filter_plugins/cloison.py) and the
pure parts of the modules in library/ (no host, no lab)."""

from __future__ import annotations

import importlib.util
import stat
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from cryptography import x509
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = ROOT / "inventory" / "ingeagglo"


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"croles_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


FILTERS = _load(ROOT / "filter_plugins" / "cloison.py")
SYSCTL = _load(ROOT / "library" / "cloison_sysctl.py")
PKI = _load(ROOT / "library" / "cloison_pki.py")

RULESET = """table inet cloison {
\tchain input {
\t\ttype filter hook input priority filter; policy drop;
\t\tct state established,related accept
\t\tiif "lo" accept
\t\tcounter drop
\t}
\tchain output {
\t\ttype filter hook output priority filter; policy drop;
\t\toif "lo" accept
\t}
}
"""


def test_management_rule_lands_after_loopback_of_input_only() -> None:
    out = FILTERS.cloison_nft_management(RULESET, ["172.30.255.0/24"], 22)
    lines = out.splitlines()
    i = lines.index('\t\tiif "lo" accept')
    assert lines[i + 1].startswith("\t\tip saddr { 172.30.255.0/24 } tcp dport 22 counter accept")
    assert out.count("172.30.255.0/24") == 1


def test_no_management_network_leaves_the_ruleset_as_rendered() -> None:
    assert FILTERS.cloison_nft_management(RULESET, [], 22) == RULESET


def test_management_rule_without_input_loopback_fails_closed() -> None:
    with pytest.raises(AnsibleFilterError):
        FILTERS.cloison_nft_management("table inet cloison {\n}\n", ["10.0.0.0/8"], 22)


def test_recorders_share_every_camera_exactly_once() -> None:
    plan = FILTERS.cloison_plan(str(DEPLOYMENT))
    recorders = [h["id"] for h in plan["hosts"] if h["kind"] == "recorder"]
    seen = [c["id"] for r in recorders for c in FILTERS.cloison_recorder_cameras(str(DEPLOYMENT), r)]
    assert sorted(seen) == sorted(c["id"] for c in plan["cameras"])


def test_shared_cameras_are_exactly_the_conventions_communes() -> None:
    plan = FILTERS.cloison_plan(str(DEPLOYMENT))
    shared = FILTERS.cloison_shared_cameras(str(DEPLOYMENT))
    assert {c["commune"] for c in shared} == set(plan["state"]["shared_communes"])
    assert len(shared) == len(plan["state"]["shared_cameras"])


def test_ports_come_from_the_plan() -> None:
    assert FILTERS.cloison_service_port(str(DEPLOYMENT), "rtsp") == 554
    assert FILTERS.cloison_first_port(FILTERS.cloison_flow(str(DEPLOYMENT), "F-csu-hosts-syslog")) == 6514


def test_flows_to_a_machine_are_those_ending_on_its_hosts() -> None:
    ids = {f["id"] for f in FILTERS.cloison_flows_to(str(DEPLOYMENT), ["csu-log", "csu-ids"])}
    assert {
        "F-csu-admin-ssh",
        "F-csu-hosts-syslog",
        "F-s-castelroux-1-cam-syslog",
        "F-s-castelroux-1-ids-alerts",
    } <= ids
    assert not {i for i in ids if i.endswith(("-ntp", "-radius", "-ike", "-rtsp"))}, "flows to other hosts"
    vpn = {f["id"] for f in FILTERS.cloison_flows_to(str(DEPLOYMENT), ["csu-vpn"])}
    assert {"F-csu-admin-ssh", "F-csu-maint-ike"} <= vpn
    with pytest.raises(AnsibleFilterError, match="not in the plan"):
        FILTERS.cloison_flows_to(str(DEPLOYMENT), ["nobody"])


def test_unknown_renderer_and_unknown_host_fail_closed() -> None:
    with pytest.raises(AnsibleFilterError, match="no renderer"):
        FILTERS.cloison_render(str(DEPLOYMENT), "no-such-renderer", "csu-fw")
    with pytest.raises(AnsibleFilterError, match="not in the plan"):
        FILTERS.cloison_host(str(DEPLOYMENT), "nobody")


def test_sysctl_file_parsing() -> None:
    text = "# c\n; c\nnet.ipv4.ip_forward = 1\n-kernel.sysrq=0\nnet.ipv4.ip_local_port_range = 32768   65535\n"
    assert SYSCTL.parse(text) == {
        "net.ipv4.ip_forward": "1",
        "kernel.sysrq": "0",
        "net.ipv4.ip_local_port_range": "32768 65535",
    }


def _params(**kw: Any) -> dict[str, Any]:
    base = {"name": "csu-vpn", "dns": ["csu-vpn"], "ips": ["10.0.4.11"], "usage": "both", "days": 30,
            "renew_days": 5, "organization": "ingeagglo", "ca_cert_name": "ca.crt"}  # fmt: skip
    return {**base, **kw}


def test_pki_issues_once_then_keeps_and_reissues_on_change(tmp_path: Path) -> None:
    folder = tmp_path / "pki"
    folder.mkdir(mode=0o700)
    assert PKI.ensure_ca(folder, "test CA", "ca.crt", False)
    assert not PKI.ensure_ca(folder, "test CA", "ca.crt", False)
    assert stat.S_IMODE((folder / "ca.key").stat().st_mode) == 0o600
    assert PKI.issue(folder, _params(), False)
    assert not PKI.issue(folder, _params(), False)
    cert = x509.load_pem_x509_certificate((folder / "csu-vpn.crt").read_bytes())
    # The order swanctl's renderer names the peer with: "CN=csu-vpn, O=ingeagglo".
    assert [a.oid for a in cert.subject] == [NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME]
    assert stat.S_IMODE((folder / "csu-vpn.key").stat().st_mode) == 0o600
    assert PKI.issue(folder, _params(ips=["10.0.4.12"]), True)  # check mode: would re-issue
    assert PKI.issue(folder, _params(ips=["10.0.4.12"]), False)
    assert not PKI.issue(folder, _params(ips=["10.0.4.12"]), False)
