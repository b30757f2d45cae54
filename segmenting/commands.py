"""``cloison validate``, ``cloison plan`` and ``cloison lock``: the network admin's first steps."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from segmenting.allocate import LOCK_FILE, prune
from segmenting.api import load_lock, load_plan, paused_gc, plan_located, write_lock
from segmenting.errors import EXIT_INVALID, EXIT_OK, UsageError
from segmenting.loader import load_with_texts
from segmenting.plan import Plan, plan_to_json


def _as_of(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: write YYYY-MM-DD") from None


def add_deployment_args(parser: argparse.ArgumentParser) -> None:
    """The arguments every command that reads a deployment takes."""
    parser.add_argument("folder", type=Path, metavar="DIR", help="deployment folder, e.g. inventory/ingeagglo")
    parser.add_argument(
        "--as-of",
        type=_as_of,
        default=None,
        metavar="YYYY-MM-DD",
        help="judge habilitation expiry on this date (default: today)",
    )


def table(rows: list[list[str]], headers: list[str], out: TextIO) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out.write(line.rstrip() + "\n" + "  ".join("-" * w for w in widths) + "\n")
    for row in rows:
        out.write("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def _ports(flow_ports: tuple[tuple[int, int], ...]) -> str:
    if not flow_ports:
        return "any"
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in flow_ports)


def flow_end(zone: str, site: str | None, hosts: tuple[str, ...]) -> str:
    """A flow end for people: `site:zone (host,host)` or `(N hosts)`."""
    text = f"{site}:{zone}" if site else zone
    if hosts and len(hosts) <= 2:
        text += f" ({','.join(hosts)})"
    elif hosts:
        text += f" ({len(hosts)} hosts)"
    return text


def summary(plan: Plan) -> str:
    transports = Counter(s.transport for s in plan.sites)
    auth = Counter(c.auth for c in plan.cameras)
    return (
        f"{plan.name} ({plan.deployment}): {len({s.commune for s in plan.sites})} communes with sites, "
        f"{len(plan.sites)} sites ({', '.join(f'{n} {t}' for t, n in sorted(transports.items()))}), "
        f"{len(plan.cameras)} cameras ({', '.join(f'{n} {a}' for a, n in sorted(auth.items()))}), "
        f"{len(plan.flows)} flows, {len(plan.guardrails)} guardrails pass"
    )


def print_plan(plan: Plan, sections: list[str], out: TextIO) -> None:
    out.write(summary(plan) + "\n")
    if "sites" in sections:
        out.write("\nSites\n")
        table(
            [
                [
                    s.id,
                    s.commune,
                    s.transport + (" (ikev2)" if s.tunnelled else ""),
                    s.block,
                    f"{s.vlans['cameras']}/{s.vlans['quarantine']}/{s.vlans['site_mgmt']}",
                    s.switch.platform,
                    str(len(s.cameras)),
                ]
                for s in plan.sites
            ],
            ["site", "commune", "transport", "block", "vlans cam/quar/mgmt", "switch", "cameras"],
            out,
        )
    if "csu" in sections:
        out.write("\nCSU\n")
        table(
            [[h.id, h.kind, h.zone_id, h.ip] for h in plan.hosts if h.zone_id.startswith("csu:")],
            ["host", "role", "zone", "address"],
            out,
        )
    if "flows" in sections:
        out.write("\nFlows (allowlist; everything else is dropped)\n")
        table(
            [
                [
                    f.id,
                    flow_end(f.src_zone.value, f.src_site, f.src_hosts),
                    flow_end(f.dst_zone.value, f.dst_site, f.dst_hosts),
                    f"{f.proto}/{_ports(f.ports)}",
                    f.service + (" [window]" if f.window != "always" else "") + (" [tunnel]" if f.tunnel else ""),
                    " ".join(f.controls),
                ]
                for f in plan.flows
            ],
            ["flow", "from", "to", "proto/ports", "service", "controls"],
            out,
        )
    if "viewing" in sections:
        out.write("\nViewing rights (CSI L252-2)\n")
        table(
            [[v.workstation, v.agent, ",".join(v.communes), v.expires, str(v.cameras)] for v in plan.viewing],
            ["workstation", "agent", "communes", "habilitation expires", "cameras"],
            out,
        )
    if "state" in sections:
        st = plan.state
        out.write(
            f"\nState convention {st.reference}: {len(st.shared_cameras)} cameras of "
            f"{', '.join(st.shared_communes)} through {st.relay_host} ({st.relay_public}:{st.relay_port}); "
            f"the State keeps images {st.retention_days} days\n"
        )


def _lock_note(plan: Plan, folder: Path) -> str:
    if plan.new_allocations:
        return (
            f"note: {plan.new_allocations} allocation(s) are not recorded in {folder / LOCK_FILE} yet; "
            f"run `cloison lock {folder}` and commit the file so addresses stay stable"
        )
    return ""


def cmd_validate(args: argparse.Namespace) -> int:
    plan = load_plan(args.folder, args.as_of)
    print(f"ok: {summary(plan)}")
    note = _lock_note(plan, args.folder)
    if note:
        print(note, file=sys.stderr)
        if args.strict_lock:
            return EXIT_INVALID
    return EXIT_OK


SECTIONS = ("sites", "csu", "flows", "viewing", "state")


def cmd_plan(args: argparse.Namespace) -> int:
    plan = load_plan(args.folder, args.as_of)
    if args.json:
        sys.stdout.write(plan_to_json(plan))
    else:
        print_plan(plan, args.section or list(SECTIONS), sys.stdout)
        note = _lock_note(plan, args.folder)
        if note:
            print(note, file=sys.stderr)
    return EXIT_OK


def cmd_lock(args: argparse.Namespace) -> int:
    with paused_gc():
        inventory, texts = load_with_texts(args.folder, args.as_of)
        lock = load_lock(args.folder)
        if args.prune:
            lock = prune(lock, inventory)
        plan = plan_located(args.folder, inventory, lock, texts)
    before = (args.folder / LOCK_FILE).read_text(encoding="utf-8") if (args.folder / LOCK_FILE).exists() else ""
    after = plan.lock.to_json()
    if args.check:
        if before != after:
            print(f"{args.folder / LOCK_FILE} is out of date: run `cloison lock {args.folder}`", file=sys.stderr)
            return EXIT_INVALID
        print(f"{args.folder / LOCK_FILE} is up to date ({plan.lock.count()} allocations)")
        return EXIT_OK
    path = write_lock(args.folder, plan.lock)
    verb = "unchanged" if before == after else "written"
    print(f"{path} {verb}: {plan.lock.count()} allocations ({plan.new_allocations} new)")
    return EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser(
        "validate",
        help="check an inventory (structure, meaning, guardrails)",
        description="Validate a deployment folder and report every problem at once "
        "(file, key path, line, fix). Exit 0 if valid, 1 otherwise.",
    )
    add_deployment_args(p)
    p.add_argument(
        "--strict-lock", action="store_true", help="fail (exit 1) when allocations are missing from the lock file"
    )
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "plan",
        help="show the segmentation plan (tables, or --json)",
        description="Derive and show the plan: sites, CSU, flow allowlist, viewing rights, State convention.",
    )
    add_deployment_args(p)
    p.add_argument("--json", action="store_true", help="the whole plan as canonical JSON")
    p.add_argument("--section", action="append", choices=SECTIONS, help="only these sections (repeatable)")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser(
        "lock",
        help="record address allocations in allocations.lock.json",
        description="Allocate addresses for new sites/cameras/hosts and record them so they never move. "
        "Commit the lock file with the inventory.",
    )
    add_deployment_args(p)
    p.add_argument("--prune", action="store_true", help="release allocations of removed sites/cameras/hosts")
    p.add_argument("--check", action="store_true", help="exit 1 if the lock file is not up to date (CI)")
    p.set_defaults(func=cmd_lock)


__all__ = ["UsageError", "add_deployment_args", "register", "table"]
