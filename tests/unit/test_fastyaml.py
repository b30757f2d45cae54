"""segmenting.fastyaml gives exactly what PyYAML's safe loader gives, errors included."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from invmut import REFERENCE

from segmenting.fastyaml import safe_load


def reference_load(text: str) -> Any:
    return yaml.load(text, Loader=yaml.CSafeLoader)


def outcome(load: Any, text: str) -> Any:
    try:
        return ("ok", load(text))
    except (yaml.YAMLError, ValueError) as exc:
        return ("error", type(exc).__name__, str(exc))


@pytest.mark.parametrize("path", sorted(REFERENCE.glob("*.yml")), ids=lambda p: p.name)
def test_reference_files(path: Any) -> None:
    text = path.read_text(encoding="utf-8")
    assert safe_load(text) == reference_load(text)


TRICKY = [
    "",
    "# only a comment\n",
    "a: 1\nb: '1'\nc: \"x\\ty\"\nd: ~\ne: null\nf:\ng: yes\nh: No\n",
    "i: 0x1F\nj: 0o17\nk: 1_000\nl: 1.5e3\nm: .inf\nn: .nan\n",
    "x: 2026-11-28\ny: '2026-11-28'\nz: 2026-11-28T10:00:00Z\n",
    "x: 2026-13-45\n",  # resolves as a date, cannot be built: ValueError
    "list: [1, [2, {a: b}], {}]\nempty: []\n",
    "- a\n- - b\n  - c\n- {k: v}\n",
    "a: &anchor {x: 1}\nb: *anchor\n",
    "base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n",
    "? [a, b]\n: value\n",  # a complex key: PyYAML refuses it, so must we
    "a: 1\na: 2\n",  # duplicate keys: the last wins in both
    "a: !!str 12\nb: !!int '7'\n",
    "---\na: 1\n---\nb: 2\n",
    "a: [1, 2\n",
    "a: b: c\n",
    "1: one\n2.5: two\ntrue: three\n~: four\n2026-01-01: five\n",
    "text: |\n  line one\n  line two\nfolded: >\n  a\n  b\n",
    "mac: 00:09:18:00:00:02\nport: 010\nsexagesimal: 1:30\n",
    "unicode: Brévannes-le-Haut — centre\n",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_documents(text: str) -> None:
    assert outcome(safe_load, text) == outcome(reference_load, text)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.dates(),
    st.datetimes(max_value=datetime(9999, 1, 1)),
    st.sampled_from(["yes", "off", "~", "0x10", "1e3", "2026-02-30", ":", "- a", "#", "'", "&a", "*a", "<<", "="]),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers(), st.dates()), inner, max_size=4),
    ),
    max_leaves=15,
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(documents, st.booleans())
def test_random_documents(data: Any, flow: bool) -> None:
    text = yaml.dump(data, Dumper=yaml.CSafeDumper, default_flow_style=flow, allow_unicode=True)
    assert outcome(safe_load, text) == outcome(reference_load, text)


def test_dates_are_dates() -> None:
    assert safe_load("d: 2026-11-28\n") == {"d": date(2026, 11, 28)}
