"""nftables rulesets: ``nft -c`` accepts every one; loaded for real in a throwaway netns, they
hold what the plan says (one commented rule per flow, drop policies, NFLOG on drops, the
maintenance set empty until a window is opened with a timeout)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from segmenting.plan import Plan
from segmenting.render import nftables
from segmenting.render.secrets import FakeSecrets


def _nft(netns: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", netns, "nft", *args], input=stdin, capture_output=True, text=True, check=False
    )


def _all_rulesets(plan: Plan) -> dict[str, str]:
    out: dict[str, str] = {}
    for devices, fn in (
        (nftables.gateway_devices, nftables.render_gateway),
        (nftables.csu_devices, nftables.render_csu),
        (nftables.dmz_devices, nftables.render_dmz),
    ):
        for dev in devices(plan):
            (f,) = fn(plan, dev, FakeSecrets())
            out[dev] = f.text
    for dev in nftables.libipsec_devices(plan):
        (f,) = nftables.render_gateway_libipsec(plan, dev, FakeSecrets())
        out[f"{dev}:libipsec"] = f.text
    return out


def test_nft_check_accepts_every_ruleset(plan: Plan, netns: str, tmp_path: Path) -> None:
    rulesets = _all_rulesets(plan)
    tunnelled = sum(1 for s in plan.sites if s.tunnelled)
    assert len(rulesets) == len(plan.sites) + 2 + tunnelled  # gateways, CSU, DMZ, lab variants
    failures = []
    for dev, text in rulesets.items():
        path = tmp_path / f"{dev.replace(':', '-')}.nft"
        path.write_text(text, encoding="utf-8")
        res = _nft(netns, "-c", "-f", str(path))
        if res.returncode != 0:
            failures.append(f"{dev}: {res.stderr.strip()}")
    assert not failures, "\n".join(failures)


def test_nft_check_is_a_real_check(plan: Plan, netns: str, tmp_path: Path) -> None:
    """The check above would catch a broken ruleset (it is not a no-op)."""
    text = _all_rulesets(plan)["csu-fw"].replace("ct state invalid", "ct state bogus", 1)
    path = tmp_path / "broken.nft"
    path.write_text(text, encoding="utf-8")
    assert _nft(netns, "-c", "-f", str(path)).returncode != 0


@pytest.fixture()
def loaded(plan: Plan, netns: str, tmp_path: Path) -> dict[str, object]:
    """gw-s-ingeville-1 loaded for real inside the throwaway namespace, listed as JSON."""
    (f,) = nftables.render_gateway(plan, "gw-s-ingeville-1", FakeSecrets())
    path = tmp_path / "gw.nft"
    path.write_text(f.text, encoding="utf-8")
    res = _nft(netns, "-f", str(path))
    assert res.returncode == 0, res.stderr
    listing = _nft(netns, "-j", "list", "table", "inet", nftables.TABLE)
    assert listing.returncode == 0, listing.stderr
    doc: dict[str, object] = json.loads(listing.stdout)
    return doc


def _objects(doc: dict[str, object], kind: str) -> list[dict[str, object]]:
    items = doc["nftables"]
    assert isinstance(items, list)
    return [o[kind] for o in items if kind in o]


def test_loaded_ruleset_matches_the_plan(plan: Plan, loaded: dict[str, object]) -> None:
    chains = {c["name"]: c for c in _objects(loaded, "chain")}
    assert set(chains) == {"input", "forward", "output"}
    assert all(c["policy"] == "drop" for c in chains.values())
    rules = _objects(loaded, "rule")
    comments = {r.get("comment") for r in rules if r["chain"] == "forward"}
    site_flows = {f.id for f in plan.flows if "s-ingeville-1" in (f.src_site, f.dst_site)}
    assert site_flows <= comments, f"flows without a rule: {site_flows - comments}"
    # Every drop rule (the last of each chain, and ct state invalid) counts and logs to NFLOG.
    drops = [r for r in rules if any("drop" in e for e in r["expr"])]  # type: ignore[operator]
    assert len(drops) == 6
    for r in drops:
        kinds = {next(iter(e)) for e in r["expr"]}  # type: ignore[attr-defined]
        assert {"counter", "log"} <= kinds
        log = next(e["log"] for e in r["expr"] if "log" in e)  # type: ignore[index, operator]
        assert log["group"] == nftables.LOG_GROUP


def test_maintenance_window_opens_and_closes_by_itself(plan: Plan, loaded: dict[str, object], netns: str) -> None:
    sets = {s["name"]: s for s in _objects(loaded, "set")}
    maint = sets[nftables.MAINT_SET]
    assert "elem" not in maint, "maintenance windows are closed by default"
    assert "timeout" in maint["flags"]
    mgmt = plan.site("s-ingeville-1").subnets["site_mgmt"]
    res = _nft(netns, "add", "element", "inet", nftables.TABLE, nftables.MAINT_SET, f"{{ {mgmt} timeout 2s }}")
    assert res.returncode == 0, res.stderr
    listed = _nft(netns, "-j", "list", "set", "inet", nftables.TABLE, nftables.MAINT_SET)
    (elem,) = json.loads(listed.stdout)["nftables"][1]["set"]["elem"]
    assert elem["elem"]["timeout"] == 2 and "expires" in elem["elem"]
    maint_rules = [
        r
        for r in _objects(loaded, "rule")
        if str(r.get("comment", "")).endswith("maint-ssh") and r["chain"] == "forward"
    ]
    assert maint_rules and all(f"@{nftables.MAINT_SET}" in json.dumps(r["expr"]) for r in maint_rules)


@pytest.mark.parametrize("variant", ["xfrm", "libipsec"])
def test_tunnelled_site_flows_require_ipsec(plan: Plan, variant: str) -> None:
    render = nftables.render_gateway if variant == "xfrm" else nftables.render_gateway_libipsec
    (f,) = render(plan, "gw-s-vaudrimont-1", FakeSecrets())
    rules = [line.strip() for line in f.text.splitlines() if 'comment "F-' in line]
    assert rules
    for rule in rules:
        if rule.endswith('"F-s-vaudrimont-1-ike"'):
            assert "ipsec" not in rule  # the tunnel itself travels outside the tunnel
        else:
            assert rule.startswith(tuple(nftables.TUNNEL_MATCH[variant].values())), rule


def test_dmz_lets_the_state_reach_only_the_relay_port(plan: Plan) -> None:
    (f,) = nftables.render_dmz(plan, "csu-relay", FakeSecrets())
    state_rules = [line for line in f.text.splitlines() if "@state_endpoints" in line]
    assert len(state_rules) == 1
    assert f"tcp dport {plan.state.relay_port} " in state_rules[0]
    relay_out = [line for line in f.text.splitlines() if "relay-rtsp" in line]
    assert len(relay_out) == len([fl for fl in plan.flows if fl.id.endswith("-relay-rtsp")])


def test_every_flow_has_its_rule_where_it_passes(plan: Plan) -> None:
    """Each site flow is in its gateway's ruleset; every flow is in the CSU firewall's."""
    rulesets = _all_rulesets(plan)
    for site in plan.sites:
        text = rulesets[site.gateway.id]
        for fl in plan.flows:
            if site.id in (fl.src_site, fl.dst_site):
                assert f'comment "{fl.id}"' in text, f"{fl.id} missing on {site.gateway.id}"
            elif fl.src_site or fl.dst_site:
                assert f'comment "{fl.id}"' not in text, f"{fl.id} of another site on {site.gateway.id}"
    csu = rulesets["csu-fw"]
    assert all(f'comment "{fl.id}"' in csu for fl in plan.flows)


def _chain_rules(text: str, chain: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(f"\tchain {chain} {{")
    end = lines.index("\t}", start)
    return [line.strip() for line in lines[start + 1 : end]]


def test_csu_firewall_is_administered_from_the_bastion_only(plan: Plan) -> None:
    """ANSSI-HYG-28, ANSSI-PA022-R16: the core firewall's input chain accepts SSH from the
    bastion (F-csu-fw-ssh), and that is the only flow it accepts for itself."""
    (f,) = nftables.render_csu(plan, "csu-fw", FakeSecrets())
    accepted = [r for r in _chain_rules(f.text, "input") if 'accept comment "' in r]
    assert accepted == ['ip saddr @bastions ip daddr @firewalls tcp dport 22 counter accept comment "F-csu-fw-ssh"']
    fw = plan.host("csu-fw")
    assert f"elements = {{ {fw.ip} }}" in f.text.split("set firewalls {", 1)[1].split("}", 1)[0] + "}"
