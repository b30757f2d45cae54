"""``cloison lab up DIR [--sites N]``, ``status``, ``down``, ``plug``, ``attach-image``, ``detach-image``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from segmenting.commands import table
from segmenting.errors import EXIT_OK, CloisonError, UsageError
from segmenting.lab import images, lab, plug
from segmenting.lab.converge import changed_tasks, run_playbook
from segmenting.lab.names import default_paths
from segmenting.lab.run import SubprocessRunner
from segmenting.lab.state import load


def _root() -> None:
    if os.geteuid() != 0:
        raise UsageError("the lab needs root (network namespaces, mounts, nspawn): run it as root")


def cmd_up(args: argparse.Namespace) -> int:
    if not args.dry_run:
        _root()
    r = SubprocessRunner(dry_run=args.dry_run, verbose=args.verbose)
    lab.up(args.folder, args.sites, default_paths(), r)
    return EXIT_OK


def cmd_down(args: argparse.Namespace) -> int:
    _root()
    lab.down(default_paths(), SubprocessRunner(verbose=args.verbose))
    return EXIT_OK


def cmd_converge(args: argparse.Namespace) -> int:
    """Apply the roles to the running lab (twice with --twice: the second run must change nothing)."""
    _root()
    paths = default_paths()
    if not lab.is_up(paths):
        raise UsageError(f"the lab is not up: run `cloison lab up {args.folder}` first")
    runs = [("first", run_playbook(paths.inventory, args.folder))]
    if args.twice and runs[0][1].returncode == 0:
        runs.append(("second", run_playbook(paths.inventory, args.folder)))
    for name, run in runs:
        changed = sum(run.changed.values())
        print(f"{name} converge: {run.seconds:.0f} s, {len(run.recap)} hosts, {changed} changes, "
              f"failed: {', '.join(run.failed_hosts) or 'none'}")  # fmt: skip
    if len(runs) == 2 and (moved := changed_tasks(runs[1][1].output)):
        # Say what moved, so that a role that is not idempotent (or a lab that changed between the
        # runs: a camera authorized late, a service restarting) can be told apart.
        print(f"the second converge changed {len(moved)} task(s); it should change nothing:", file=sys.stderr)
        for host, task in moved[:30]:
            print(f"  {host}: {task}", file=sys.stderr)
    last = runs[-1][1]
    if last.returncode != 0:
        print(last.output[-3000:], file=sys.stderr)
        raise CloisonError("the roles failed on the lab: see the playbook output above")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    info = lab.status(default_paths())
    if args.json:
        print(json.dumps(info, indent=1, sort_keys=True))
        return EXIT_OK
    print(f"lab: {info['phase']}  deployment: {info['deployment'] or '-'}  sites: {', '.join(info['sites']) or '-'}")  # type: ignore[arg-type]
    procs: dict[str, str] = info["processes"]  # type: ignore[assignment]
    rows = [[what.split(":", 1)[0], what.split(":", 1)[1], state] for what, state in procs.items()]
    if rows:
        print()
        table(rows, ["kind", "name", "state"], sys.stdout)
    ports: dict[str, dict[str, dict[str, Any]]] = info["ports"]  # type: ignore[assignment]
    prow = [[sw, dev, p.get("camera") or "-", p["state"], p.get("method") or "-", str(p.get("assigned_vlan") or "-"),
             p.get("mac") or "-", p.get("reason") or ""]
            for sw, devs in ports.items() for dev, p in devs.items()]  # fmt: skip
    if prow:
        print("\nCamera ports (802.1X / MAB)")
        table(prow, ["switch", "port", "device", "state", "method", "vlan", "mac", "note"], sys.stdout)
    attached: dict[str, dict[str, str]] = info["images"]  # type: ignore[assignment]
    if attached:
        print("\nAttached images")
        table([[n, a["host"], a["role"], a["mgmt_ip"]] for n, a in attached.items()], ["name", "as", "role", "address"],
              sys.stdout)  # fmt: skip
    print(f"\nmemory (PSS of every process in the lab's namespaces): {info['memory_total_mib']} MiB")
    return EXIT_OK


def cmd_plug(args: argparse.Namespace) -> int:
    _root()
    paths = default_paths()
    st = load(paths.state)
    if not st.folder:
        raise UsageError("the lab is not up: run `cloison lab up DIR` first")
    topo = lab.topology_for(Path(st.folder), len(st.sites))
    where = "internet" if args.internet else args.port
    if not where or (where != "internet" and ":" not in where):
        raise UsageError("say where: --port SITE:PORT (a camera port) or --internet")
    r = SubprocessRunner(verbose=args.verbose)
    with lab.exclusive():
        ns = plug.plug(topo, paths, r, where)
    print(f"attacker plugged into {where}: ip netns exec {ns} <command>")
    return EXIT_OK


def cmd_unplug(args: argparse.Namespace) -> int:
    _root()
    paths = default_paths()
    st = load(paths.state)
    topo = lab.topology_for(Path(st.folder), len(st.sites)) if st.folder else None
    with lab.exclusive():
        plug.unplug(paths, SubprocessRunner(verbose=args.verbose), topo)
    return EXIT_OK


def cmd_attach_image(args: argparse.Namespace) -> int:
    _root()
    r = SubprocessRunner(verbose=args.verbose)
    images.attach(default_paths(), r, args.image, signers=args.signers, identity=args.identity, host=args.host)
    return EXIT_OK


def cmd_detach_image(args: argparse.Namespace) -> int:
    _root()
    images.detach(default_paths(), SubprocessRunner(verbose=args.verbose), args.name)
    return EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser("lab", help="build the plan as real hosts on this machine (root)",
                       description="nspawn nodes, OVS switches with 802.1X, cameras, outside actors.")  # fmt: skip
    lsub = p.add_subparsers(dest="lab_command", metavar="ACTION")
    lsub.required = True
    up = lsub.add_parser("up", help="bring the lab up (idempotent)")
    up.add_argument("folder", type=Path, metavar="DIR", help="deployment folder, e.g. inventory/ingeagglo")
    up.add_argument(
        "--sites", type=int, default=3, metavar="N", help="sites to build (fiber, VDSL, cellular, …); default 3"
    )
    up.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    up.set_defaults(func=cmd_up)
    conv = lsub.add_parser("converge", help="apply the roles to the running lab (playbooks/site.yml)")
    conv.add_argument("folder", type=Path, metavar="DIR", help="deployment folder the lab was built from")
    conv.add_argument("--twice", action="store_true", help="converge again; the second run must change nothing")
    conv.set_defaults(func=cmd_converge)
    down = lsub.add_parser("down", help="tear everything down, leaving nothing behind")
    down.set_defaults(func=cmd_down)
    status = lsub.add_parser("status", help="nodes, switches, cameras, port authorisation, memory")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
    pl = lsub.add_parser("plug", help="plug the attacker into a camera port or the internet side")
    pl.add_argument("actor", choices=["attacker"])
    pl.add_argument("--port", metavar="SITE:PORT", help="a switch port, e.g. s-montclar-d-ingre-2:5")
    pl.add_argument("--internet", action="store_true", help="the internet side instead")
    pl.set_defaults(func=cmd_plug)
    un = lsub.add_parser("unplug", help="remove the attacker")
    un.add_argument("actor", choices=["attacker"])
    un.set_defaults(func=cmd_unplug)
    att = lsub.add_parser(
        "attach-image",
        help="boot a built image as a lab node, as the plan host it becomes",
        description="Verify the image, install it with the plan's first-boot values for --host, boot it on the "
        "lab's management network as img-HOST (ssh_config, known_hosts, inventory; cloison audit --hosts img-HOST).",
    )
    att.add_argument("image", type=Path, metavar="FOLDER", help="image folder (cloison image build -o …/ROLE)")
    att.add_argument("--signers", type=Path, required=True, help="allowed_signers file of the deployment")
    att.add_argument("--identity", default="cloison-images", help="signer identity in allowed_signers")
    att.add_argument("--host", required=True, help="plan host the image becomes, e.g. gw-s-puy-sorel-1")
    att.set_defaults(func=cmd_attach_image)
    det = lsub.add_parser("detach-image", help="power off and remove an attached image")
    det.add_argument("name", metavar="NAME", help="img-HOST (or HOST) as attach-image named it")
    det.set_defaults(func=cmd_detach_image)
    for sp in (up, conv, down, status, pl, un, att, det):
        sp.add_argument("-v", "--verbose", action="store_true", help="show every command")
