"""Host filtering (ANSSI hygiene 19, PA-022 R17): default-drop nftables rulesets, equal to the rendered ones.

The live ruleset is read with ``nft -j list ruleset`` and parsed by
:mod:`segmenting.conformance.nft`. The rendered ruleset (``segmenting.render``, the same text the
``segmentation`` role installs) is loaded into a throwaway network namespace on the controller
(``unshare --net``, gone when nft exits) and read back the same way, so both are compared as
the kernel understands them, not as text.
"""

from __future__ import annotations

import subprocess
import tempfile

import pytest
from conformance_helpers import prefetch, run

from segmenting.conformance.nft import Ruleset, differences
from segmenting.render.nftables import TABLE
from segmenting.render.registry import render_all
from segmenting.render.secrets import FakeSecrets

pytestmark = pytest.mark.lab

NFT_LIST = "nft -j list ruleset"
prefetch(NFT_LIST)

NFT_RENDERERS = ["nft-gateway", "nft-csu", "nft-dmz"]


@pytest.fixture(scope="module")
def live(host) -> Ruleset:
    rc, out = run(host, NFT_LIST)
    assert rc == 0, f"nft -j list ruleset failed: {out[:200]}"
    return Ruleset.from_json(out)


def rendered_ruleset(plan, device: str) -> Ruleset | None:
    files = [f for _, f in render_all(plan, FakeSecrets(), only=NFT_RENDERERS) if f.device == device]
    if not files:
        return None
    with tempfile.NamedTemporaryFile("w", prefix="caud-", suffix=".nft") as tmp:
        tmp.write(files[0].text)
        tmp.flush()
        proc = subprocess.run(
            ["unshare", "--net", "sh", "-c", f"nft -f {tmp.name} && nft -j list ruleset"],
            capture_output=True,
            text=True,
            check=False,
        )
    assert proc.returncode == 0, f"the rendered ruleset of {device} does not load: {proc.stderr[:300]}"
    return Ruleset.from_json(proc.stdout)


@pytest.mark.control("ANSSI-PA022-R17")
def test_input_default_drop(node, live, evidence) -> None:
    chains = [c for c in live.base_chains() if c.hook == "input" and c.type == "filter"]
    evidence(
        "input base chains: "
        + (", ".join(f"{c.family} {c.table} {c.name} policy {c.policy}" for c in chains) or "none")
    )
    assert chains, "no nftables input chain: nothing filters what reaches this host"
    assert all(c.policy == "drop" for c in chains), "an input chain accepts by default"


@pytest.mark.runs_on("linux")
@pytest.mark.control("ANSSI-HYG-19")
def test_forward_default_drop(node, live, evidence) -> None:
    """Hosts that route (gateways, the CSU firewall, the VPN) drop by default what they forward."""
    if not {"gateway", "firewall", "vpn"} & set(node.kinds):
        chains = [c for c in live.base_chains() if c.hook == "forward"]
        evidence(f"not a router; forward chains: {[f'{c.name} {c.policy}' for c in chains] or 'none'}")
        assert all(c.policy == "drop" for c in chains), "a non-routing host accepts forwarded packets"
        return
    chains = [c for c in live.base_chains() if c.hook == "forward" and c.type == "filter"]
    evidence("forward base chains: " + (", ".join(f"{c.table} {c.name} policy {c.policy}" for c in chains) or "none"))
    assert chains and all(c.policy == "drop" for c in chains), "forwarded traffic is not dropped by default"


@pytest.mark.runs_on("gateway", "firewall", "relay")
@pytest.mark.control("ANSSI-HYG-19")
def test_ruleset_matches_rendered(node, live, plan, evidence) -> None:
    renders = {d: rendered_ruleset(plan, d) for d in node.plays}
    renders = {d: r for d, r in renders.items() if r is not None}
    if not renders:
        evidence(f"no nftables renderer covers {', '.join(node.plays)}: the input/forward policies above apply")
        return
    device, expected = next(iter(renders.items()))
    diffs = differences(expected.table("inet", TABLE), live.table("inet", TABLE))
    evidence(f"{device}: rendered vs live table inet {TABLE}: " + ("identical" if not diffs else "; ".join(diffs)))
    shown = "; ".join(diffs[:4]) + (f"; … {len(diffs) - 4} more" if len(diffs) > 4 else "")
    assert not diffs, f"live ruleset differs from the rendered one: {shown}"
