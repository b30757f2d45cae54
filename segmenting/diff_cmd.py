"""``cloison diff``: what an inventory change does, for a reviewer or a CI merge-request comment.

Exit codes (docs/cli.md): 0 the new inventory is valid (whether or not it changes anything),
1 it is invalid or breaks a guardrail, 2 usage (bad revision, not a git repository).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from segmenting.api import load_plan
from segmenting.commands import add_deployment_args
from segmenting.diff import RENDERERS, PlanDiff, diff_plans, extract_revision
from segmenting.errors import EXIT_INVALID, EXIT_OK, InvalidInventory, Problem, UsageError
from segmenting.plan import Plan


def _try_plan(folder: Path, as_of: date | None) -> tuple[Plan | None, list[Problem]]:
    try:
        return load_plan(folder, as_of), []
    except InvalidInventory as exc:
        return None, list(exc.problems)


def compare(
    folder: Path,
    base: Path | None,
    *,
    as_of: date | None,
    before_label: str,
    after_label: str,
    notes: list[str] | None = None,
) -> PlanDiff:
    """Plan ``folder`` and ``base`` (``None``: no base) and diff them."""
    notes = list(notes or [])
    after, problems = _try_plan(folder, as_of)
    before: Plan | None = None
    if base is not None:
        before, base_problems = _try_plan(base, as_of)
        if base_problems:
            notes.append(
                f"the base ({before_label}) does not validate ({len(base_problems)} problem(s)); "
                "no comparison is shown, only the new inventory's verdict"
            )
            after_for_diff: Plan | None = None
        else:
            after_for_diff = after
    else:
        after_for_diff = after
    if after is not None and after.new_allocations:
        notes.append(
            f"{after.new_allocations} allocation(s) are not in the lock file yet: run `cloison lock {folder}` "
            "and commit allocations.lock.json so that addresses stay stable"
        )
    return diff_plans(
        before, after_for_diff, before_label=before_label, after_label=after_label, problems=problems, notes=notes
    )


def cmd_diff(args: argparse.Namespace) -> int:
    folder: Path = args.folder
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder: pass a deployment folder, e.g. inventory/ingeagglo")
    if args.against_dir is not None:
        if not args.against_dir.is_dir():
            raise UsageError(f"--against-dir {args.against_dir} is not a folder")
        result = compare(
            folder, args.against_dir, as_of=args.as_of, before_label=str(args.against_dir), after_label=str(folder)
        )
    else:
        with tempfile.TemporaryDirectory(prefix="cloison-diff-") as tmp:
            extracted = extract_revision(folder, args.against, Path(tmp) / "base")
            notes = []
            if extracted.folder is None:
                notes.append(f"{folder} does not exist at {args.against}: everything is new")
            label = f"{args.against} ({extracted.commit[:10]})"
            result = compare(
                folder,
                extracted.folder,
                as_of=args.as_of,
                before_label=label,
                after_label=f"{folder} (working tree)",
                notes=notes,
            )
    text = RENDERERS[args.format](result)
    if args.output is not None:
        args.output.write_text(text, encoding="utf-8")
        print(f"{args.output} written: {result.before_label} -> {result.after_label}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK if result.valid else EXIT_INVALID


def register(sub: Any) -> None:
    p = sub.add_parser(
        "diff",
        help="what a change does: flows opened/closed, addresses moved, cameras and sites added/removed",
        description="Compare the plan of DIR (working tree) with the plan of the same folder at a git revision "
        "(--against) or with another folder (--against-dir). Exit 0 if the new inventory is valid, "
        "1 if it is invalid or breaks a guardrail (the problems are printed), 2 on usage errors.",
    )
    add_deployment_args(p)
    base = p.add_mutually_exclusive_group(required=True)
    base.add_argument("--against", metavar="GIT_REV", help="git revision to compare with (e.g. origin/main, HEAD~1)")
    base.add_argument("--against-dir", type=Path, metavar="DIR2", help="another deployment folder to compare with")
    p.add_argument(
        "--format",
        choices=sorted(RENDERERS),
        default="text",
        help="text (default), markdown (a merge-request comment) or json",
    )
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="write the report here instead of stdout")
    p.set_defaults(func=cmd_diff)


__all__ = ["compare", "register"]
