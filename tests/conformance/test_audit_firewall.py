"""Host filtering (ANSSI hygiene 19, PA-022 R17): default-drop nftables rulesets, equal to the rendered ones.

The live ruleset is read with ``nft -j list ruleset`` and parsed by
:mod:`segmenting.conformance.nft`. The rendered ruleset (``segmenting.render``, the same text the
``segmentation`` role installs, with the role's out-of-band management rule when the audited
inventory has a management network, as the lab does) is loaded into a throwaway network
namespace on the controller (``unshare --net``, gone when nft exits) and read back the same way,
so both are compared as the kernel understands them, not as text.

Default drop at a hook: in nftables an ``accept`` only ends the chain that says it, a packet then
meets the hook's other base chains, and a ``drop`` is final. So a hook drops by default when one
of its filter base chains has policy drop; other base chains at that hook (a verdict-less
conntrack table, a lab table that only drops) cannot let through what that chain drops.
"""

from __future__ import annotations

import importlib.util
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from conformance_helpers import prefetch, run
from conftest import lab_paths

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


def inventory_vars(config: pytest.Config) -> dict[str, Any]:
    """``all.vars`` of the audited inventory (the lab's own by default); empty when it has none."""
    inventory = Path(config.getoption("audit_inventory", default=None) or lab_paths(config).inventory)
    doc = yaml.safe_load(inventory.read_text(encoding="utf-8")) if inventory.is_file() else None
    found = ((doc.get("all") or {}).get("vars") or {}) if isinstance(doc, dict) else {}
    return dict(found)


def management_cidrs(config: pytest.Config) -> list[str]:
    """The out-of-band management networks the segmentation role adds to an input chain
    (``segmentation_management_cidrs``, by default the lab's ``cloison_lab_mgmt_cidr``)."""
    all_vars = inventory_vars(config)
    if "segmentation_management_cidrs" in all_vars:
        return [str(c) for c in all_vars["segmentation_management_cidrs"] or []]
    return [str(all_vars["cloison_lab_mgmt_cidr"])] if all_vars.get("cloison_lab_mgmt_cidr") else []


def _role_filters() -> Any:
    """The segmentation role's own filters (filter_plugins/cloison.py): the rule it adds is the one expected."""
    path = Path(__file__).resolve().parents[2] / "filter_plugins" / "cloison.py"
    spec = importlib.util.spec_from_file_location("caud_cloison_filters", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rendered_ruleset(
    plan, device: str, management: list[str] | None = None, userspace_esp: bool = False
) -> Ruleset | None:
    """The ruleset the segmentation role installs on ``device``: a tunnelled gateway whose ESP runs
    in userspace (``segmentation_userspace_esp``, the lab) gets the renderer's ipsec0 variant."""
    renderers = ["nft-gateway-libipsec", *NFT_RENDERERS] if userspace_esp else NFT_RENDERERS
    files = [f for _, f in render_all(plan, FakeSecrets(), only=renderers) if f.device == device]
    if not files:
        return None
    text = files[0].text
    if management:
        text = _role_filters().cloison_nft_management(text, management)
    with tempfile.NamedTemporaryFile("w", prefix="caud-", suffix=".nft") as tmp:
        tmp.write(text)
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
    assert any(c.policy == "drop" for c in chains), "no input chain drops by default"


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
    assert any(c.policy == "drop" for c in chains), "forwarded traffic is not dropped by default"


@pytest.mark.runs_on("gateway", "firewall", "relay")
@pytest.mark.control("ANSSI-HYG-19")
def test_ruleset_matches_rendered(node, live, plan, evidence, pytestconfig) -> None:
    management = management_cidrs(pytestconfig)
    userspace_esp = bool(inventory_vars(pytestconfig).get("segmentation_userspace_esp"))
    renders = {d: rendered_ruleset(plan, d, management, userspace_esp) for d in node.plays}
    renders = {d: r for d, r in renders.items() if r is not None}
    if not renders:
        evidence(f"no nftables renderer covers {', '.join(node.plays)}: the input/forward policies above apply")
        return
    device, expected = next(iter(renders.items()))
    diffs = differences(expected.table("inet", TABLE), live.table("inet", TABLE))
    extra = f" (+ management SSH from {', '.join(management)})" if management else ""
    evidence(
        f"{device}: rendered{extra} vs live table inet {TABLE}: " + ("identical" if not diffs else "; ".join(diffs))
    )
    shown = "; ".join(diffs[:4]) + (f"; … {len(diffs) - 4} more" if len(diffs) > 4 else "")
    assert not diffs, f"live ruleset differs from the rendered one: {shown}"
