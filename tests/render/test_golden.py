"""Golden files: every renderer's output for a representative set of devices (STYLE.md, Tests).

At least one device per platform and per site type (fibre, VDSL, cellular), the CSU firewall,
the State bridge's DMZ, the RADIUS server, the VPN concentrator and the IDS collector. Secrets
come from the fake provider (``TEST-ONLY-...``). A mismatch writes ``<file>.actual``.
"""

from __future__ import annotations

import pytest
from crender_helpers import check_golden

from segmenting.plan import Plan
from segmenting.render.registry import RENDERERS, get
from segmenting.render.secrets import FakeSecrets

CASES: list[tuple[str, str, str]] = [
    # (renderer, device, plan): "ref" = inventory/ingeagglo, "lab" = the OVS variant
    ("nft-gateway", "gw-s-ingeville-1", "ref"),  # fibre
    ("nft-gateway", "gw-s-vaudrimont-1", "ref"),  # VDSL, tunnelled
    ("nft-gateway", "gw-s-castelroux-1", "ref"),  # cellular, tunnelled, no fixed WAN address
    ("nft-gateway-libipsec", "gw-s-castelroux-1", "ref"),  # the lab's userspace-ESP variant
    ("nft-csu", "csu-fw", "ref"),
    ("nft-dmz", "csu-relay", "ref"),
    ("cisco-ios", "sw-s-ingeville-1", "ref"),  # 48 ports, fibre
    ("cisco-ios", "sw-s-vaudrimont-1", "ref"),  # MAB camera, VDSL
    ("aruba-aoscx", "sw-s-valmorin-1", "ref"),
    ("hp-procurve", "sw-s-sainte-ombre-1", "ref"),
    ("hp-procurve", "sw-s-lussac-les-pres-1", "ref"),  # cellular
    ("ovs", "sw-s-castelroux-1", "lab"),
    ("hostapd", "sw-s-castelroux-1", "lab"),
    ("freeradius", "csu-radius", "ref"),
    ("swanctl-site", "gw-s-vaudrimont-1", "ref"),
    ("swanctl-site", "gw-s-castelroux-1", "ref"),
    ("swanctl-csu", "csu-vpn", "ref"),
    ("swanctl-site-libipsec", "gw-s-castelroux-1", "ref"),  # the lab's userspace-ESP variants
    ("swanctl-csu-libipsec", "csu-vpn", "ref"),
    ("ids-allowlist", "csu-ids", "ref"),
]


@pytest.mark.parametrize(("renderer", "device", "which"), CASES, ids=[f"{r}:{d}" for r, d, _ in CASES])
def test_golden(renderer: str, device: str, which: str, plan: Plan, lab_plan: Plan, fake: FakeSecrets) -> None:
    p = lab_plan if which == "lab" else plan
    r = get(renderer)
    assert device in r.devices(p), f"{device} is not a {renderer} device"
    files = r.render(p, device, fake)
    assert files, "a renderer always writes at least one file"
    for f in files:
        assert f.device == device
        check_golden(f"{renderer}/{device}/{f.path}", f.text)


def test_every_renderer_has_a_golden_case() -> None:
    assert {r.name for r in RENDERERS} <= {c[0] for c in CASES}
