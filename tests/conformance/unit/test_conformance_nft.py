"""``nft -j`` parsing and comparison (segmenting.conformance.nft), on real ``nft -j list ruleset`` output."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from segmenting.api import load_plan
from segmenting.conformance.nft import NftParseError, Ruleset, differences
from segmenting.render.registry import render_all
from segmenting.render.secrets import FakeSecrets

SAMPLE = (Path(__file__).parent / "data" / "nft_sample.json").read_text()


def test_parses_tables_chains_sets_rules() -> None:
    rs = Ruleset.from_json(SAMPLE)
    assert [(t.family, t.name) for t in rs.tables] == [("inet", "cloison")]
    base = {c.name: c for c in rs.base_chains()}
    assert base["input"].policy == "drop" and base["input"].hook == "input" and base["input"].prio == 0
    assert base["output"].policy == "accept"
    sets = {s.name: s for s in rs.sets}
    assert sets["admin_src"].elements == ("10.0.4.10",) and not sets["admin_src"].dynamic
    assert sets["maint_open"].dynamic and sets["maint_open"].elements == ("10.64.3.0/24",)
    verdicts = [r.verdict for r in rs.rules_of(base["input"])]
    assert verdicts == ["drop", "accept", "accept", "accept", "drop"]


def test_signature_ignores_runtime_values() -> None:
    data = json.loads(SAMPLE)
    for obj in data["nftables"]:
        for kind in ("rule", "chain", "set", "table"):
            if kind in obj:
                obj[kind]["handle"] = 999
        if "rule" in obj:
            for expr in obj["rule"]["expr"]:
                if "counter" in expr:
                    expr["counter"] = {"packets": 12345, "bytes": 99}
        if "set" in obj and obj["set"]["name"] == "maint_open":
            obj["set"].pop("elem")  # the window closed since
    assert differences(Ruleset.from_json(SAMPLE), Ruleset.from_json(json.dumps(data))) == []


def test_differences_name_what_changed() -> None:
    data = json.loads(SAMPLE)
    data["nftables"] = [o for o in data["nftables"] if not ("rule" in o and o["rule"]["chain"] == "forward")]
    for obj in data["nftables"]:
        if "chain" in obj and obj["chain"]["name"] == "input":
            obj["chain"]["policy"] = "accept"
    diffs = differences(Ruleset.from_json(SAMPLE), Ruleset.from_json(json.dumps(data)))
    assert any("inet cloison input differs (policy: drop rendered vs accept live)" in d for d in diffs), diffs
    assert any("inet cloison forward differs (rules: 1 rendered vs 0 live)" in d for d in diffs), diffs


def test_table_filter_keeps_one_table() -> None:
    data = json.loads(SAMPLE)
    data["nftables"].append({"table": {"family": "ip", "name": "other", "handle": 9}})
    data["nftables"].append({"chain": {"family": "ip", "table": "other", "name": "x", "handle": 1}})
    rs = Ruleset.from_json(json.dumps(data)).table("inet", "cloison")
    assert [t.name for t in rs.tables] == ["cloison"] and all(c.table == "cloison" for c in rs.chains)


@pytest.mark.parametrize("text", ["", "{}", "not json", '{"nftables": 3}'])
def test_rejects_what_is_not_nft_json(text: str) -> None:
    with pytest.raises(NftParseError):
        Ruleset.from_json(text)


def _load(text: str) -> Ruleset:
    """Load a ruleset into a throwaway network namespace and read it back as the kernel has it."""
    with tempfile.NamedTemporaryFile("w", prefix="caud-", suffix=".nft") as tmp:
        tmp.write(text)
        tmp.flush()
        proc = subprocess.run(["unshare", "--net", "sh", "-c", f"nft -f {tmp.name} && nft -j list ruleset"],
                              capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-500:]
    return Ruleset.from_json(proc.stdout)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a throwaway network namespace")
def test_rendered_csu_ruleset_round_trips_and_changes_are_seen() -> None:
    plan = load_plan(Path(__file__).resolve().parents[3] / "inventory" / "ingeagglo")
    (text,) = [f.text for _, f in render_all(plan, FakeSecrets(), only=["nft-csu"])]
    first, second = _load(text), _load(text)
    assert differences(first, second) == []
    assert {c.name: c.policy for c in first.base_chains()}["forward"] == "drop"
    assert len(first.rules) > 100
    weakened = _load(text.replace("policy drop;", "policy accept;", 1))
    assert any("policy: drop rendered vs accept live" in d for d in differences(first, weakened))
