"""sudo policy (ANSSI BP-028 R39, R40, R42, R43): the effective sudoers files, read as root."""

from __future__ import annotations

import re

import pytest
from conformance_helpers import prefetch, run

pytestmark = pytest.mark.lab

SUDOERS = "cat /etc/sudoers /etc/sudoers.d/* 2>/dev/null"
prefetch(SUDOERS)

REQUIRED_DEFAULTS = ("use_pty", "env_reset", "noexec")


@pytest.fixture(scope="module")
def sudoers(host) -> list[str]:
    rc, out = run(host, SUDOERS)
    assert rc in (0, 1) and out, "no sudoers policy found (is sudo installed?)"
    lines = [line.split("#", 1)[0].strip() for line in out.splitlines()]
    return [line for line in lines if line and not line.startswith(("@include", "#include"))]


def _rules(lines: list[str]) -> list[str]:
    return [
        line
        for line in lines
        if not line.startswith(("Defaults", "User_Alias", "Cmnd_Alias", "Host_Alias", "Runas_Alias"))
    ]


@pytest.mark.control("ANSSI-BP028-R39")
def test_sudo_defaults(node, sudoers, evidence) -> None:
    defaults = " ".join(line for line in sudoers if line.startswith("Defaults"))
    evidence(f"Defaults: {defaults}")
    missing = [d for d in REQUIRED_DEFAULTS if not re.search(rf"\b{d}\b", defaults)]
    assert not missing, f"sudo Defaults lack {', '.join(missing)}"


@pytest.mark.control("ANSSI-BP028-R40")
def test_sudo_grants_go_to_a_group(node, sudoers, evidence) -> None:
    rules = _rules(sudoers)
    evidence("rules: " + " | ".join(rules))
    personal = [r for r in rules if not r.startswith("%") and not r.startswith("root")]
    assert not personal, f"sudo rights granted to individual accounts: {personal}"


@pytest.mark.control("ANSSI-BP028-R42")
def test_sudo_no_negation(node, sudoers, evidence) -> None:
    negations = [r for r in _rules(sudoers) if "!" in r.split("=", 1)[-1]]
    evidence(f"rules with a negation: {negations or 'none'}")
    assert not negations, f"negations in sudoers: {negations}"


@pytest.mark.control("ANSSI-BP028-R43")
def test_sudo_no_wildcard_arguments(node, sudoers, evidence) -> None:
    wild = [r for r in _rules(sudoers) if "*" in r]
    evidence(f"rules with a wildcard: {wild or 'none'}")
    assert not wild, f"wildcards in sudo commands: {wild}"
