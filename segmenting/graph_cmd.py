"""``cloison graph``: the plan as a diagram (Graphviz), for the RSSI's report and for reviewers.

Exit codes (docs/cli.md): 0 written, 1 invalid inventory, 2 usage, 3 Graphviz missing or failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from segmenting.api import load_plan
from segmenting.commands import add_deployment_args
from segmenting.errors import EXIT_OK, UsageError
from segmenting.graph import FORMATS, format_for, plan_to_dot, render


def cmd_graph(args: argparse.Namespace) -> int:
    output: Path | None = args.output
    fmt: str | None = args.format
    if fmt is None:
        fmt = format_for(output) if output is not None else "dot"
    if output is None and fmt != "dot":
        raise UsageError(f"--format {fmt} is binary or XML: write it to a file with -o plan.{fmt}")
    plan = load_plan(args.folder, args.as_of)
    data = render(plan_to_dot(plan), fmt)
    if output is None:
        sys.stdout.write(data.decode())
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(data)
        print(f"{output} written ({fmt}, {len(plan.sites)} sites, {len(plan.flows)} flows)", file=sys.stderr)
    return EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser(
        "graph",
        help="draw zones, sites and allowed flows (Graphviz: SVG, PNG, PDF or DOT)",
        description="Draw the plan: CSU zones, external zones, sites grouped by transport and commune, and the "
        "allowed flows merged per zone pair (dashed: inside an IKEv2 tunnel; orange: maintenance window only). "
        "The format follows the -o extension; without -o the DOT text is printed. "
        "Exit 0 ok, 1 invalid inventory, 2 usage, 3 Graphviz missing or failed.",
    )
    add_deployment_args(p)
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="plan.svg, plan.png, plan.pdf or plan.dot")
    p.add_argument("--format", choices=FORMATS, help="output format (default: from the -o extension, else dot)")
    p.set_defaults(func=cmd_graph)


__all__ = ["register"]
