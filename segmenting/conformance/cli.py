"""``cloison audit``: run the conformance checks and write the RSSI's report.

Exit codes (segmenting/errors.py): 0 every control passes or is covered by a valid waiver;
4 a control fails without a waiver, or a waiver has expired; 1 the waiver file is invalid;
3 the checks could not run (no lab, pytest error).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from segmenting.conformance.catalog import Kind, load_catalog
from segmenting.conformance.runner import RunOptions, run_checks, write_reports
from segmenting.conformance.waivers import load_waivers
from segmenting.errors import EXIT_CHECK_FAILED, EXIT_OK, UsageError

DEFAULT_DEPLOYMENT = Path("inventory/ingeagglo")
WAIVERS_FILE = "waivers.yml"


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: write YYYY-MM-DD") from None


def cmd_audit(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    deployment = Path(args.deployment)
    waivers_path = Path(args.waivers) if args.waivers else deployment / WAIVERS_FILE
    if args.waivers and not waivers_path.exists():
        raise UsageError(f"waiver file {waivers_path} does not exist")
    waivers = load_waivers(waivers_path, catalog.ids)
    out = Path(args.output)
    if args.from_results:
        results: dict[str, Any] = json.loads(Path(args.from_results).read_text(encoding="utf-8"))
    else:
        hosts = tuple(h for h in (args.hosts or "").split(",") if h)
        opts = RunOptions(
            out,
            deployment,
            hosts,
            Path(args.lab_dir) if args.lab_dir else None,
            network=not args.no_network,
            inventory=Path(args.inventory) if args.inventory else None,
        )
        results = run_checks(opts)
    as_of = args.as_of or date.today()
    audit, paths = write_reports(catalog, results, waivers, as_of, out, deployment=deployment.name)
    plain = [c for c in audit.controls if c.control.kind != Kind.COMPOSITE]
    counts = {s: sum(1 for c in plain if c.status.value == s) for s in ("pass", "fail", "waived", "not run")}
    print(
        f"audit of {deployment.name}: {counts['pass']} pass, {counts['fail']} fail, {counts['waived']} waived, "
        f"{counts['not run']} not run; {len(audit.checks)} checks, {len(audit.probes)} probes, {audit.duration_s:.1f} s"
    )
    for c in audit.failed_controls:
        print(f"  FAIL {c.control.id}: {c.control.title} ({', '.join(c.failed_hosts)})")
    for w in audit.expired_waivers:
        print(f"  EXPIRED waiver for {w.control} (owner {w.owner}, expired {w.expires.isoformat()})")
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return EXIT_OK if audit.passed else EXIT_CHECK_FAILED


def register(sub: Any) -> None:
    p = sub.add_parser(
        "audit",
        help="run the conformance checks and write the RSSI's report (HTML, Markdown, JSON, JUnit)",
        description="Run the conformance checks (host checks over SSH, reachability between lab zones) "
        "and write audit.html, audit.md, audit.json and junit.xml. Exit 4 if a control fails without "
        "a valid waiver or a waiver has expired.",
    )
    p.add_argument("--deployment", default=str(DEFAULT_DEPLOYMENT), metavar="DIR", help="deployment folder")
    p.add_argument("--hosts", default=None, metavar="H1,H2", help="only these hosts (lab node names)")
    p.add_argument("-o", "--output", default="out/audit", metavar="DIR", help="where to write the reports")
    p.add_argument("--waivers", default=None, metavar="FILE", help=f"waiver file (default DIR/{WAIVERS_FILE})")
    p.add_argument("--as-of", type=_date, default=None, metavar="YYYY-MM-DD", help="judge waiver expiry on this date")
    p.add_argument("--lab-dir", default=None, metavar="DIR", help="the lab's directory (default: the lab's own)")
    p.add_argument("--no-network", action="store_true", help="skip the reachability probes")
    p.add_argument(
        "--inventory",
        default=None,
        metavar="FILE",
        help="audit the hosts of this Ansible inventory instead of the lab (host checks only)",
    )
    p.add_argument(
        "--from-results", default=None, metavar="FILE", help="re-render from a recorded results.json (no checks run)"
    )
    p.set_defaults(func=cmd_audit)


if __name__ == "__main__":  # pragma: no cover
    from segmenting.cli import main

    sys.exit(main(["audit", *sys.argv[1:]]))
