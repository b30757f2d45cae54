"""Reachability between zones (ANSSI hygiene 07/18/19/22/23/25/27/28, PA-022 R15/R16/R49/R62,
PG-075 R15/R34, CNIL fiches 5 and 8, CSI L252-2/L252-3): the plan's allowlist against the lab.

One case per allowlisted flow the lab can stand for (it must get through) and per forbidden
path DESIGN.md names (it must not). Cases and expectations are derived from the plan
(:mod:`segmenting.conformance.reachability`); all probes run once, in parallel, from inside the
sources' network namespaces, and each case then reports its own row of the matrix.
"""

from __future__ import annotations

import pytest
from conftest import deployment_plan, lab_topology

from segmenting.conformance.reachability import build_cases, endpoints, run_cases, verdict_ok

pytestmark = pytest.mark.lab


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    inventory = metafunc.config.getoption("audit_inventory", default=None)
    if "case" in metafunc.fixturenames and inventory:
        skip = pytest.mark.skip(reason="reachability probes run from the lab's namespaces; not on an inventory")
        metafunc.parametrize("case", [pytest.param(None, marks=[skip, pytest.mark.control("ANSSI-HYG-19")], id="n/a")])
    elif "case" in metafunc.fixturenames:
        plan = deployment_plan(metafunc.config)
        cases = build_cases(plan, endpoints(plan, lab_topology(metafunc.config)))
        metafunc.parametrize("case", [pytest.param(c, marks=pytest.mark.control(*c.controls), id=c.id) for c in cases])
    if "workstation" in metafunc.fixturenames:
        plan = deployment_plan(metafunc.config)
        eps = [e for e in endpoints(plan, lab_topology(metafunc.config)) if e.zone == "operators"]
        skip = pytest.mark.skip(reason="the lab has no operator workstation: viewing rights not probed")
        metafunc.parametrize("workstation", eps or [pytest.param(None, marks=skip, id="no-workstation")])


@pytest.fixture(scope="module")
def observed(running_lab, plan, topology) -> dict[str, str]:
    cases = build_cases(plan, endpoints(plan, topology))
    return {c.id: o for c, o in zip(cases, run_cases(cases), strict=True)}


def test_reachability(case, observed, probe_row, evidence) -> None:
    seen = observed[case.id]
    probe_row(case.row(seen))
    src, dst = case.src, case.dst
    what = f"{case.proto}/{case.port or '-'}"
    evidence(f"{src.id} ({src.zone}, {src.ip}) -> {dst.id} ({dst.zone}, {dst.ip}) {what}: "
             f"plan {case.expected} ({case.flow or 'no flow'}), observed {seen}")  # fmt: skip
    assert verdict_ok(case.expected, seen), (
        f"{case.src.id} -> {case.dst.id} {case.proto}/{case.port or '-'}: plan says {case.expected}, observed {seen}"
    )


@pytest.mark.control("CSI-L252-2", "CNIL-F05")
def test_viewing_rights(workstation, plan, observed) -> None:
    """An operator workstation reaches the recorders (VMS) and nothing else (cameras, admin)."""
    assert workstation is not None
    allowed = {v.ip for v in plan.viewing}
    assert workstation.ip in allowed, f"{workstation.id} has no habilitated agent in the plan"
