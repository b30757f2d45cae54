"""``cloison push switches|firewall`` and ``cloison confirm`` (issue 8, docs/push.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from segmenting.errors import EXIT_OK, UsageError
from segmenting.push import confirm
from segmenting.push.engine import PushEngine
from segmenting.push.errors import PushFailed
from segmenting.push.firewall import run_from_args
from segmenting.push.plan_targets import targets_from_deployment
from segmenting.push.targets import PushItem, load_targets


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def _workers(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError("workers: a whole number from 1 to 64")
    return int(text)


def _items(args: argparse.Namespace) -> list[PushItem]:
    if args.targets is not None:
        items = load_targets(args.targets)
    elif args.folder is not None:
        items = targets_from_deployment(args)
    else:
        raise UsageError("push switches: give a deployment DIR or --targets FILE")
    if args.limit:
        wanted = set(args.limit)
        items = [i for i in items if i.target.site in wanted or i.target.name in wanted]
        if not items:
            raise UsageError(f"--limit {', '.join(sorted(wanted))}: no switch of that site or name")
    return items


def cmd_push_switches(args: argparse.Namespace) -> int:
    items = _items(args)
    engine = PushEngine(
        items,
        workers=args.workers,
        dry_run=args.dry_run,
        confirm_within=args.confirm_within,
        atomic=not args.per_switch,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    report = engine.run()
    print(report.table())
    print(f"push {report.push_id}: {len(items)} switch(es) in {report.seconds:.1f} s")
    if args.dry_run:
        print("dry-run: nothing was sent to any device")
        return EXIT_OK
    failed = [r for r in report.results if not r.ok]
    if failed:
        details = "\n".join(f"  {r.detail}" for r in failed if r.detail)
        raise PushFailed(
            f"push {report.push_id} did not commit on {len(failed)} switch(es)" + (f":\n{details}" if details else "")
        )
    return EXIT_OK


def cmd_push_firewall(args: argparse.Namespace) -> int:
    return run_from_args(args)


def cmd_confirm(args: argparse.Namespace) -> int:
    record = confirm.confirm(args.push_id)
    print(f"push {record['id']} confirmed ({len(record.get('devices', []))} device(s))")
    return EXIT_OK


def register(sub: Any) -> None:
    push = sub.add_parser(
        "push",
        help="push configuration to switches or a firewall, commit-confirmed, with rollback",
        description="Back up, diff, apply, verify; roll back by itself on failure or "
        "when not confirmed in time (see docs/push.md).",
    )
    psub = push.add_subparsers(dest="push_command", metavar="WHAT")
    psub.required = True

    sw = psub.add_parser("switches", help="push rendered switch configs (netmiko)")
    sw.add_argument("folder", nargs="?", type=Path, metavar="DIR", help="deployment folder")
    sw.add_argument("--targets", type=Path, metavar="FILE", help="YAML/JSON list of targets")
    sw.add_argument("--limit", action="append", metavar="SITE", help="only this site or switch")
    sw.add_argument("--dry-run", action="store_true", help="show diffs and commands; send nothing")
    sw.add_argument(
        "--confirm-within",
        type=_positive,
        metavar="SECONDS",
        help="roll back unless `cloison confirm` arrives within SECONDS",
    )
    sw.add_argument("--workers", type=_workers, default=8, metavar="N", help="parallel sessions")
    sw.add_argument(
        "--per-switch",
        action="store_true",
        help="a failing switch rolls back alone (default: any failure rolls back every switch)",
    )
    sw.add_argument("--no-progress", action="store_true", help="no progress bar")
    sw.add_argument("--username", default="cloison", help="SSH user (DIR mode)")
    sw.add_argument("--key-file", type=Path, metavar="FILE", help="SSH private key (DIR mode)")
    sw.add_argument("--password-env", metavar="VAR", help="variable holding the SSH password (DIR mode)")
    sw.add_argument("--secrets", type=Path, metavar="FILE", help="secrets for rendering (DIR mode)")
    sw.set_defaults(func=cmd_push_switches, as_of=None)

    fw = psub.add_parser("firewall", help="apply an nftables ruleset with automatic restore")
    fw.add_argument("ruleset", type=Path, metavar="RULESET", help="nft file to apply (nft -f)")
    where = fw.add_mutually_exclusive_group(required=True)
    where.add_argument("--netns", metavar="NAME", help="apply in this local network namespace")
    where.add_argument("--local", action="store_true", help="apply on this host")
    where.add_argument("--ssh", metavar="USER@HOST[:PORT]", help="apply on a remote host over SSH")
    fw.add_argument("--key-file", type=Path, metavar="FILE", help="SSH private key (--ssh)")
    fw.add_argument(
        "--probe",
        metavar="HOST:PORT",
        help="management access to check after applying (an SSH banner is expected)",
    )
    fw.add_argument("--confirm-within", type=_positive, metavar="SECONDS")
    fw.add_argument("--dry-run", action="store_true", help="check the ruleset (nft -c), show the diff")
    fw.set_defaults(func=cmd_push_firewall)

    c = sub.add_parser("confirm", help="confirm a pending push (commit-confirmed)")
    c.add_argument("push_id", nargs="?", metavar="PUSH_ID", help="default: the only pending push")
    c.set_defaults(func=cmd_confirm)
