"""``nft -j list ruleset`` parsed into small typed records, and compared.

The JSON schema is libnftables-json(5). Only what the checks need is modelled: tables, base and
regular chains (hook, priority, policy), sets (type, flags, elements) and rules (their
expressions, verdict and comment). :meth:`Ruleset.signature` drops what differs between two
loads of the same ruleset (kernel handles, counter values, timeout expiries), so the live
ruleset of a host can be compared with the one the renderer produced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

VERDICTS = ("accept", "drop", "reject", "jump", "goto", "return", "continue", "queue")


class NftParseError(ValueError):
    """The text is not ``nft -j`` output."""


@dataclass(frozen=True)
class Table:
    family: str
    name: str


@dataclass(frozen=True)
class Chain:
    family: str
    table: str
    name: str
    hook: str | None = None
    type: str | None = None
    prio: int | str | None = None
    policy: str | None = None

    @property
    def is_base(self) -> bool:
        return self.hook is not None


@dataclass(frozen=True)
class NftSet:
    family: str
    table: str
    name: str
    type: str
    flags: tuple[str, ...]
    elements: tuple[str, ...]

    @property
    def dynamic(self) -> bool:
        """Elements come and go at run time (timeouts, ``dynamic``): not part of the rendered state."""
        return bool({"timeout", "dynamic"} & set(self.flags))


@dataclass(frozen=True)
class Rule:
    family: str
    table: str
    chain: str
    expr: str  # canonical JSON of the expressions, counters zeroed
    verdict: str | None
    comment: str | None = None


def _canon(value: Any) -> Any:
    """Drop run-time values (counter numbers, expiries) so equal rulesets compare equal."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, val in value.items():
            if key == "counter" and isinstance(val, dict):
                out[key] = {}
            elif key in ("expires", "handle"):
                continue
            else:
                out[key] = _canon(val)
        return out
    if isinstance(value, list):
        return [_canon(v) for v in value]
    return value


def _element_text(elem: Any) -> str:
    if isinstance(elem, dict) and "elem" in elem:
        elem = elem["elem"].get("val")
    if isinstance(elem, dict) and "prefix" in elem:
        return f"{elem['prefix']['addr']}/{elem['prefix']['len']}"
    if isinstance(elem, dict) and "range" in elem:
        low, high = elem["range"]
        return f"{low}-{high}"
    return json.dumps(elem, sort_keys=True) if isinstance(elem, dict | list) else str(elem)


def _verdict(expr: list[Any]) -> str | None:
    for item in reversed(expr):
        if isinstance(item, dict):
            for key in item:
                if key in VERDICTS:
                    return str(key)
    return None


@dataclass(frozen=True)
class Ruleset:
    tables: tuple[Table, ...]
    chains: tuple[Chain, ...]
    sets: tuple[NftSet, ...]
    rules: tuple[Rule, ...]

    @classmethod
    def from_json(cls, text: str) -> Ruleset:
        try:
            data = json.loads(text)
            objects = data["nftables"]
            if not isinstance(objects, list):
                raise TypeError("`nftables` is not a list")
        except (ValueError, KeyError, TypeError) as exc:
            raise NftParseError(f"not `nft -j list ruleset` output: {exc}") from None
        tables: list[Table] = []
        chains: list[Chain] = []
        sets: list[NftSet] = []
        rules: list[Rule] = []
        for obj in objects:
            if "table" in obj:
                t = obj["table"]
                tables.append(Table(t["family"], t["name"]))
            elif "chain" in obj:
                c = obj["chain"]
                chains.append(
                    Chain(
                        c["family"], c["table"], c["name"], c.get("hook"), c.get("type"), c.get("prio"), c.get("policy")
                    )
                )
            elif "set" in obj:
                s = obj["set"]
                flags = s.get("flags", [])
                sets.append(
                    NftSet(
                        s["family"],
                        s["table"],
                        s["name"],
                        str(s.get("type")),
                        tuple(sorted([flags] if isinstance(flags, str) else flags)),
                        tuple(sorted(_element_text(e) for e in s.get("elem", []))),
                    )
                )
            elif "rule" in obj:
                r = obj["rule"]
                expr = r.get("expr", [])
                rules.append(
                    Rule(
                        r["family"],
                        r["table"],
                        r["chain"],
                        json.dumps(_canon(expr), sort_keys=True),
                        _verdict(expr),
                        r.get("comment"),
                    )
                )
        return cls(tuple(tables), tuple(chains), tuple(sets), tuple(rules))

    def table(self, family: str, name: str) -> Ruleset:
        """Only what belongs to one table (the renderer owns ``inet cloison`` and nothing else)."""

        def mine(obj: Table | Chain | NftSet | Rule) -> bool:
            owner = obj.name if isinstance(obj, Table) else obj.table
            return obj.family == family and owner == name

        return Ruleset(
            tuple(t for t in self.tables if mine(t)),
            tuple(c for c in self.chains if mine(c)),
            tuple(s for s in self.sets if mine(s)),
            tuple(r for r in self.rules if mine(r)),
        )

    def base_chains(self) -> list[Chain]:
        return [c for c in self.chains if c.is_base]

    def rules_of(self, chain: Chain) -> list[Rule]:
        return [r for r in self.rules if (r.family, r.table, r.chain) == (chain.family, chain.table, chain.name)]

    def signature(self) -> dict[str, Any]:
        """A comparable summary: chains with their rules in order, sets (static elements only)."""
        return {
            "tables": sorted(f"{t.family} {t.name}" for t in self.tables),
            "chains": {
                f"{c.family} {c.table} {c.name}": {
                    "hook": c.hook,
                    "type": c.type,
                    "prio": c.prio,
                    "policy": c.policy,
                    "rules": [[r.expr, r.comment] for r in self.rules_of(c)],
                }
                for c in sorted(self.chains, key=lambda c: (c.family, c.table, c.name))
            },
            "sets": {
                f"{s.family} {s.table} {s.name}": {
                    "type": s.type,
                    "flags": list(s.flags),
                    "elements": [] if s.dynamic else list(s.elements),
                }
                for s in sorted(self.sets, key=lambda s: (s.family, s.table, s.name))
            },
        }


def differences(expected: Ruleset, actual: Ruleset, limit: int = 20) -> list[str]:
    """Human-readable differences between two rulesets' signatures (empty when they match)."""
    exp, act = expected.signature(), actual.signature()
    out: list[str] = []
    if exp["tables"] != act["tables"]:
        out.append(f"tables: expected {exp['tables']}, found {act['tables']}")
    for kind in ("chains", "sets"):
        for key in sorted(set(exp[kind]) | set(act[kind])):
            if key not in act[kind]:
                out.append(f"{kind[:-1]} {key}: missing on the host")
            elif key not in exp[kind]:
                out.append(f"{kind[:-1]} {key}: on the host but not rendered")
            elif exp[kind][key] != act[kind][key]:
                e, a = exp[kind][key], act[kind][key]
                fields = [f for f in e if e[f] != a.get(f)]
                detail = ", ".join(
                    f"{f}: {len(e[f])} rendered vs {len(a[f])} live"
                    if isinstance(e[f], list)
                    else f"{f}: {e[f]} rendered vs {a[f]} live"
                    for f in fields
                )
                out.append(f"{kind[:-1]} {key} differs ({detail})")
    return out[:limit]
