"""Access control infrastructure (ANSSI hygiene 07/12/21, PA-022 R36): RADIUS and the maintenance VPN.

RADIUS authenticates camera ports with EAP-TLS, TLS 1.2 at least, and holds no default secret;
the maintainers' VPN asks for a certificate and then a second factor (EAP-RADIUS round).
Configuration is read where the daemons read it (``/etc/freeradius/3.0``, ``swanctl``).
"""

from __future__ import annotations

import re

import pytest
from conformance_helpers import run

pytestmark = pytest.mark.lab

RADDB = "/etc/freeradius/3.0"
DEFAULT_SECRETS = ("testing123", "secret", "changeme", "radius")


def _eap_conf(host) -> str:
    rc, out = run(host, f"cat {RADDB}/mods-enabled/eap")
    assert rc == 0, f"no enabled EAP module in {RADDB}: {out[:120]}"
    return "\n".join(line.split("#", 1)[0] for line in out.splitlines())


@pytest.mark.runs_on("radius")
@pytest.mark.control("ANSSI-HYG-07", "ANSSI-PG075-R51")
def test_eap_tls_is_the_method(node, host, evidence) -> None:
    conf = _eap_conf(host)
    default = re.search(r"default_eap_type\s*=\s*(\S+)", conf)
    methods = re.findall(r"^\s*(md5|leap|gtc|pwd|mschapv2|peap|ttls|tls)\s*\{", conf, re.MULTILINE)
    evidence(f"default_eap_type {default.group(1) if default else '<unset>'}; EAP methods configured: {methods}")
    assert default and default.group(1) == "tls", "802.1X does not default to EAP-TLS"
    weak = [m for m in methods if m in ("md5", "leap", "pwd")]
    assert not weak, f"password-based EAP methods left enabled: {weak}"


@pytest.mark.runs_on("radius")
@pytest.mark.control("ANSSI-HYG-21")
def test_eap_tls_version(node, host, evidence) -> None:
    conf = _eap_conf(host)
    low = re.search(r'tls_min_version\s*=\s*"?([\d.]+)"?', conf)
    evidence(f"tls_min_version {low.group(1) if low else '<unset: FreeRADIUS default>'}")
    assert low and tuple(map(int, low.group(1).split("."))) >= (1, 2), "EAP-TLS accepts TLS older than 1.2"


@pytest.mark.runs_on("radius")
@pytest.mark.control("ANSSI-HYG-12")
def test_no_default_radius_secret(node, host, evidence) -> None:
    pattern = "'^[[:space:]]*secret[[:space:]]*='"
    _, out = run(host, f"grep -hE {pattern} {RADDB}/clients.conf {RADDB}/clients.d/* 2>/dev/null")
    values = [line.split("=", 1)[1].strip().strip('"') for line in out.splitlines()]
    defaults = sum(v in DEFAULT_SECRETS for v in values)
    shortest = min(map(len, values), default=0)
    evidence(f"{len(values)} RADIUS client secret(s); defaults among them: {defaults}; shortest {shortest} chars")
    assert values, "no RADIUS client configured"
    assert not [v for v in values if v in DEFAULT_SECRETS], "a RADIUS client uses a default secret (e.g. testing123)"
    assert min(map(len, values)) >= 16, "a RADIUS client secret is shorter than 16 characters"


@pytest.mark.runs_on("vpn")
@pytest.mark.control("ANSSI-PA022-R36")
def test_vpn_requires_second_factor(node, host, evidence) -> None:
    rc, out = run(host, "swanctl --list-conns")
    evidence(f"swanctl --list-conns (rc {rc}):\n{out[:2000]}")
    assert rc == 0, f"strongSwan is not running or not configured: {out[:200]}"
    blocks = re.split(r"\n(?=\S)", out)
    # swanctl --list-conns names the round "remote EAP_RADIUS authentication" (swanctl.conf: eap-radius)
    two_rounds = [b.split(":", 1)[0] for b in blocks if "remote" in b and re.search(r"eap[-_]radius", b, re.IGNORECASE)
                  and re.search(r"remote.*(public key|pubkey|X\.509)", b, re.IGNORECASE | re.DOTALL)]  # fmt: skip
    assert two_rounds, "no VPN connection asks for a certificate and then a RADIUS second factor"


@pytest.mark.runs_on("radius")
@pytest.mark.control("ANSSI-BP028-R63")
def test_radius_serves_only_cloison(node, host, evidence) -> None:
    _, sites = run(host, f"ls {RADDB}/sites-enabled/")
    enabled = sites.split()
    evidence(f"{RADDB}/sites-enabled: {enabled}")
    assert enabled, "no RADIUS virtual server enabled"
    extra = [s for s in enabled if s in ("default", "inner-tunnel", "status", "control-socket")]
    assert not extra, f"packaged example virtual servers still enabled: {extra}"
