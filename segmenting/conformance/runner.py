"""Running the checks: pytest on ``tests/conformance`` in a subprocess, then the audit files.

The checks ship with the repository (``tests/conformance``), not with the package: they are
test code, run by pytest. :func:`run_checks` starts pytest with the plugin's options and
returns the results JSON; :func:`write_reports` evaluates and writes HTML, Markdown and JSON
(JUnit XML is pytest's own, with each check's control IDs as ``<property name="control">``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import segmenting
from segmenting.conformance.audit import Audit, audit_to_dict, evaluate
from segmenting.conformance.catalog import Catalog
from segmenting.conformance.report import render_html, render_markdown
from segmenting.conformance.waivers import Waiver
from segmenting.errors import CloisonError

REPO = Path(segmenting.__file__).resolve().parents[1]
AUDIT_RUN_ENV = "CLOISON_AUDIT_RUN"
CHECKS_DIR = REPO / "tests" / "conformance"


class AuditRunError(CloisonError):
    """pytest could not run the checks at all (not a failed check: that is exit 4)."""


@dataclass(frozen=True)
class RunOptions:
    out: Path
    deployment: Path
    hosts: tuple[str, ...] = ()
    lab_dir: Path | None = None
    network: bool = True
    extra: tuple[str, ...] = ()
    inventory: Path | None = None  # audit a deployment's hosts (Ansible inventory) instead of the lab


def pytest_argv(opts: RunOptions, checks_dir: Path = CHECKS_DIR) -> list[str]:
    files = sorted(str(p) for p in checks_dir.glob("test_audit_*.py"))
    if not opts.network or opts.inventory:  # probes run from the lab's namespaces only
        files = [f for f in files if not f.endswith("test_audit_reachability.py")]
    if not files:
        raise AuditRunError(f"no conformance checks found in {checks_dir} (they ship with the repository)")
    argv = [
        sys.executable, "-m", "pytest", *files,
        "-m", "lab", "-q", "--no-header", "-p", "no:cacheprovider", "-o", "addopts=",
        f"--rootdir={checks_dir.parents[1]}",
        f"--junitxml={opts.out / 'junit.xml'}", "-o", "junit_family=xunit2", "-o", "junit_suite_name=cloison-audit",
        f"--conformance-json={opts.out / 'results.json'}",
        f"--deployment={opts.deployment}",
    ]  # fmt: skip
    if opts.hosts:
        argv.append(f"--audit-hosts={','.join(opts.hosts)}")
    if opts.lab_dir:
        argv.append(f"--lab-dir={opts.lab_dir}")
    if opts.inventory:
        argv.append(f"--audit-inventory={opts.inventory.resolve()}")
    return [*argv, *opts.extra]


def run_checks(opts: RunOptions) -> dict[str, Any]:
    opts.out.mkdir(parents=True, exist_ok=True)
    argv = pytest_argv(opts)
    log = opts.out / "pytest.log"
    # testinfra's ansible:// backend runs ansible-inventory: the venv's tools and the project's config
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.setdefault("ANSIBLE_CONFIG", str(REPO / "ansible.cfg"))
    env[AUDIT_RUN_ENV] = "1"  # tests/conformance/conftest.py collects the checks only inside an audit
    with log.open("w", encoding="utf-8") as fh:
        proc = subprocess.run(
            argv, stdout=fh, stderr=subprocess.STDOUT, cwd=CHECKS_DIR.parents[1], env=env, check=False
        )
    results_file = opts.out / "results.json"
    # pytest exit 0 (all passed) and 1 (some failed) both mean "the checks ran"
    if proc.returncode not in (0, 1) or not results_file.exists():
        tail = log.read_text(encoding="utf-8")[-1500:]
        raise AuditRunError(f"the checks did not run (pytest exit {proc.returncode}); see {log}:\n{tail}")
    data: dict[str, Any] = json.loads(results_file.read_text(encoding="utf-8"))
    return data


def write_reports(
    catalog: Catalog, results: dict[str, Any], waivers: list[Waiver], as_of: date, out: Path, *, deployment: str
) -> tuple[Audit, dict[str, Path]]:
    audit = evaluate(catalog, results, waivers, as_of, deployment)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "html": out / "audit.html",
        "markdown": out / "audit.md",
        "json": out / "audit.json",
    }
    paths["html"].write_text(render_html(audit), encoding="utf-8")
    paths["markdown"].write_text(render_markdown(audit), encoding="utf-8")
    paths["json"].write_text(json.dumps(audit_to_dict(audit), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if (out / "junit.xml").exists():
        paths["junit"] = out / "junit.xml"
    return audit, paths
