"""pytest plugin for conformance checks: control IDs into JUnit XML and into a results JSON.

A check cites what it proves with ``@pytest.mark.control("ANSSI-BP028-R33")`` (on the function or
on one ``pytest.param``). This plugin

* refuses, at collection, a check that cites an ID missing from the catalog;
* copies each cited ID into the item's ``user_properties`` so that pytest's JUnit writer emits
  ``<property name="control" value="…"/>`` for it (the way Garden Linux' ``security_id`` plugin
  carries its IDs into JUnit);
* collects one record per check (outcome, host, controls, evidence, short failure message,
  probe rows of the reachability matrix) and writes them with ``--conformance-json PATH``;
* with ``--conformance-manifest PATH`` writes, at collection, the checks and the IDs they cite
  (the coverage gate reads it).

Load it with ``-p segmenting.conformance.pytest_plugin`` or by importing its hooks into a conftest.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from segmenting.conformance.catalog import load_catalog

CONTROL = "control"
EVIDENCE = "evidence"
PROBE = "cloison.probe"
HOST = "host"

_RECORDS = pytest.StashKey[dict[str, dict[str, Any]]]()
_STARTED = pytest.StashKey[float]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cloison conformance")
    group.addoption("--conformance-json", default=None, metavar="PATH", help="write check results as JSON")
    group.addoption(
        "--conformance-manifest", default=None, metavar="PATH", help="write the checks and their control IDs"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "control(*ids): the control ID(s) a test checks (copied into JUnit)")
    config.stash[_RECORDS] = {}
    config.stash[_STARTED] = time.time()


def controls_of(item: pytest.Item) -> list[str]:
    """Every control ID cited by the item's ``control`` markers, in order, without repeats."""
    ids: list[str] = []
    for mark in item.iter_markers(CONTROL):
        for arg in mark.args:
            for cid in arg if isinstance(arg, list | tuple) else (arg,):
                if str(cid) not in ids:
                    ids.append(str(cid))
    return ids


def _host_of(item: pytest.Item) -> str | None:
    """What the check ran against: the ``audit_target`` of one of its parameters (a host, a probe)."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    for param in callspec.params.values():
        target = getattr(param, "audit_target", None)
        if target is not None:
            return str(target)
    return None


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    known = load_catalog().ids
    unknown: list[str] = []
    manifest: list[dict[str, Any]] = []
    for item in items:
        ids = controls_of(item)
        unknown.extend(f"{item.nodeid}: {cid}" for cid in ids if cid not in known)
        item.user_properties.extend((CONTROL, cid) for cid in ids)
        host = _host_of(item)
        if host is not None:
            item.user_properties.append((HOST, host))
        manifest.append(
            {
                "nodeid": item.nodeid,
                "file": item.nodeid.split("::", 1)[0],
                "controls": ids,
                "host": host,
                "lab": item.get_closest_marker("lab") is not None,
            }
        )
    if unknown:
        raise pytest.UsageError(
            "checks cite control IDs that are not in segmenting/conformance/controls.yml:\n  "
            + "\n  ".join(unknown)
            + "\nfix: add the control to the catalog (with its source) or correct the ID"
        )
    path = config.getoption("conformance_manifest", default=None)
    if path:
        Path(path).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")


def _short_message(report: pytest.TestReport) -> str:
    """The assertion's own message, without pytest's introspection (``assert … + where …``)."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = str(crash.message) if crash is not None else str(report.longrepr or "")
    if isinstance(report.longrepr, tuple):  # a skip: (file, line, reason)
        text = str(report.longrepr[2])
    return text.split("\nassert ", 1)[0].strip()[:2000]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    records = item.config.stash[_RECORDS]
    rec = records.setdefault(
        item.nodeid,
        {
            "nodeid": item.nodeid,
            "file": item.nodeid.split("::", 1)[0],
            "name": item.name,
            "controls": controls_of(item),
            "host": _host_of(item),
            "outcome": "passed",
            "duration_s": 0.0,
            "message": "",
            "evidence": [],
            "probes": [],
        },
    )
    rec["duration_s"] = round(rec["duration_s"] + report.duration, 4)
    if report.skipped and rec["outcome"] == "passed":
        rec["outcome"] = "skipped"
        rec["message"] = _short_message(report)
    elif report.failed:
        rec["outcome"] = "failed" if report.when == "call" else "error"
        rec["message"] = _short_message(report)
    if report.when == "teardown":
        for name, value in item.user_properties:
            if name == EVIDENCE:
                rec["evidence"].append(str(value))
            elif name == PROBE:
                rec["probes"].append(json.loads(str(value)))
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = session.config.getoption("conformance_json", default=None)
    if not path:
        return
    started = session.config.stash[_STARTED]
    data = {
        "format": 1,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": round(time.time() - started, 2),
        "pytest_exit": int(exitstatus),
        "checks": sorted(session.config.stash[_RECORDS].values(), key=lambda r: r["nodeid"]),
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """``evidence("sshd -T: passwordauthentication no")``: what the check saw, for the report."""

    def record(text: str) -> None:
        request.node.user_properties.append((EVIDENCE, text[:4000]))

    return record


@pytest.fixture
def probe_row(request: pytest.FixtureRequest) -> Callable[[dict[str, Any]], None]:
    """Record one row of the reachability matrix (src, dst, proto, port, expected, observed)."""

    def record(row: dict[str, Any]) -> None:
        request.node.user_properties.append((PROBE, json.dumps(row, sort_keys=True)))

    return record
