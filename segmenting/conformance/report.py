"""The RSSI's report: an :class:`~segmenting.conformance.audit.Audit` rendered as HTML and Markdown.

Pure (audit in, text out) and deterministic, so it is golden-tested on a recorded results file.
The HTML is self-contained: inline CSS, no script, no font, no image, no link to the outside —
it opens the same on an air-gapped workstation. Source references are printed without their
``http(s)://`` scheme for that reason (the Markdown and the JSON carry the full URLs).
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import jinja2

from segmenting.conformance.audit import Audit, ControlResult, Status
from segmenting.conformance.catalog import Kind

STATUS_ORDER = ("fail", "waived", "not run", "pass", "organisational")
NIS2_PREFIX = "NIS2-21.2."


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: resources.files("segmenting.conformance").joinpath(name).read_text(encoding="utf-8")
        ),
        # HTML is escaped; the Markdown template is plain text for a Markdown renderer.
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=True, default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["noscheme"] = lambda url: str(url).split("://", 1)[-1]
    env.filters["css"] = lambda status: str(status).replace(" ", "-")
    return env


def _why(c: ControlResult) -> list[dict[str, Any]]:
    """Failure messages of a control, each with the hosts that gave it (identical messages grouped)."""
    grouped: dict[str, list[str]] = {}
    for ch in c.checks:
        if ch.failed:
            grouped.setdefault(ch.message or ch.outcome, []).append(ch.host or "-")
    return [{"message": m, "hosts": sorted(set(h))} for m, h in grouped.items()]


def _control_row(c: ControlResult) -> dict[str, Any]:
    return {
        "why": _why(c),
        "id": c.control.id,
        "title": c.control.title,
        "framework": c.control.framework,
        "kind": c.control.kind.value,
        "status": c.status.value,
        "item": c.control.item,
        "source_title": c.control.source.title,
        "url": c.control.source.url,
        "file": c.control.source.file,
        "source_status": c.control.status,
        "enforced_by": list(c.control.enforced_by),
        "failed_hosts": list(c.failed_hosts),
        "passed_hosts": list(c.passed_hosts),
        "waivers": [w.to_dict() for w in c.waivers],
        "served": [{"id": i, "status": s.value} for i, s in c.served],
        "left_to_entity": c.control.left_to_entity,
        "checks": [
            {
                "nodeid": ch.nodeid,
                "host": ch.host or "-",
                "outcome": ch.outcome,
                "message": ch.message,
                "evidence": list(ch.evidence),
            }
            for ch in c.checks
        ],
    }


def view(audit: Audit) -> dict[str, Any]:
    """Everything the templates show, computed once (the templates only lay it out)."""
    frameworks = [
        {"name": name, "counts": {s: counts.get(s, 0) for s in STATUS_ORDER}, "total": sum(counts.values())}
        for name, counts in audit.by_framework().items()
    ]
    controls = [_control_row(c) for c in audit.controls]
    hosts: dict[str, dict[str, Any]] = {}
    for ch in audit.checks:
        if not ch.host or ch.network:
            continue
        h = hosts.setdefault(ch.host, {"host": ch.host, "passed": 0, "failed": 0, "skipped": 0, "failing": []})
        if ch.failed:
            h["failed"] += 1
            h["failing"].extend(c for c in ch.controls if c not in h["failing"])
        elif ch.outcome == "skipped":
            h["skipped"] += 1
        else:
            h["passed"] += 1
    zones = sorted({p.src_zone for p in audit.probes} | {p.dst_zone for p in audit.probes})
    cells = audit.matrix()
    matrix = [
        {
            "src": src,
            "cells": [
                {"dst": dst, **cells[(src, dst)]} if (src, dst) in cells else {"dst": dst, "empty": True}
                for dst in zones
            ],
        }
        for src in zones
        if any(k[0] == src for k in cells)
    ]
    probes = [
        {
            "case": p.case,
            "src": p.src,
            "src_zone": p.src_zone,
            "dst": p.dst,
            "dst_zone": p.dst_zone,
            "what": f"{p.proto}/{p.port}" if p.port else p.proto,
            "expected": p.expected,
            "observed": p.observed,
            "ok": p.ok,
            "flow": p.flow or "",
            "controls": list(p.controls),
        }
        for p in sorted(audit.probes, key=lambda p: (p.ok, p.case, p.src, p.dst, p.proto, p.port or 0))
    ]
    failing = [c for c in controls if c["status"] == "fail" and c["kind"] != Kind.COMPOSITE.value]
    expired = {(w.control, w.expires) for w in audit.expired_waivers}
    unused = {(w.control, w.expires) for w in audit.unused_waivers}
    waivers = [
        w.to_dict()
        | {
            "state": "expired"
            if (w.control, w.expires) in expired
            else ("active, not needed" if (w.control, w.expires) in unused else "active")
        }
        for w in audit.waivers
    ]
    nis2 = [c for c in controls if c["id"].startswith(NIS2_PREFIX)]
    organisational = [
        c for c in controls if c["left_to_entity"] and (c["kind"] in (Kind.ORGANISATIONAL.value, Kind.COMPOSITE.value))
    ]
    plain = [c for c in audit.controls if c.control.kind != Kind.COMPOSITE]
    counts = {s.value: sum(1 for c in plain if c.status == s) for s in Status}
    return {
        "deployment": audit.deployment,
        "as_of": audit.as_of.isoformat(),
        "started": audit.started,
        "duration_s": f"{audit.duration_s:.1f}",
        "passed": audit.passed,
        "hosts": list(audit.hosts),
        "counts": counts,
        "total": len(plain),
        "frameworks": frameworks,
        "nis2": nis2,
        "failing": failing,
        "controls": controls,
        "host_rows": [hosts[h] for h in sorted(hosts)],
        "zones": zones,
        "matrix": matrix,
        "probes": probes,
        "probes_bad": sum(1 for p in probes if not p["ok"]),
        "waivers": waivers,
        "expired": len(audit.expired_waivers),
        "organisational": organisational,
        "notes": list(audit.notes),
        "checks_run": sum(1 for c in audit.checks if c.outcome != "skipped"),
        "checks_failed": sum(1 for c in audit.checks if c.failed),
    }


_URL = re.compile(r"\b(https?):(//)", re.IGNORECASE)


def render_html(audit: Audit) -> str:
    """The report; any URL quoted in evidence (an apt source, a message) is defanged to ``http[:]//``
    so that nothing in the page can be followed or fetched."""
    html = _env().get_template("report.html.j2").render(v=view(audit))
    return _URL.sub(r"\1[:]\2", html)


def render_markdown(audit: Audit) -> str:
    return _env().get_template("report.md.j2").render(v=view(audit))
