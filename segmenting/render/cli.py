"""``cloison render DIR -o OUT``: write every device's files, then a summary table (issue 8).

Files land in ``OUT/<device>/<path>``. Secrets come from ``--secrets FILE`` (an ansible-vault
file, or a JSON file of generated secrets) or, by default, are generated into
``OUT/.secrets/secrets.json`` (mode 0600), which the command says; they are never printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from segmenting.api import load_plan
from segmenting.commands import add_deployment_args, table
from segmenting.errors import EXIT_OK, UsageError
from segmenting.render.registry import BY_NAME, render_all
from segmenting.render.secrets import GeneratedSecrets, SecretsProvider, VaultSecrets

SECRETS_FILE = Path(".secrets") / "secrets.json"


def _refuse_if_committable(path: Path) -> None:
    """Generated secrets must never land where ``git add`` would take them (ANSSI-HYG-09)."""
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    git = shutil.which("git")
    if git is None:
        return
    inside = subprocess.run(
        [git, "-C", str(folder), "rev-parse", "--is-inside-work-tree"], capture_output=True, text=True, check=False
    )
    if inside.stdout.strip() != "true":
        return
    ignored = subprocess.run([git, "-C", str(folder), "check-ignore", "-q", str(path.resolve())], check=False)
    if ignored.returncode != 0:
        raise UsageError(
            f"{path}: generated secrets would sit in a git work tree without being ignored\n"
            "    fix: render into an ignored folder (e.g. -o out/), add the folder to .gitignore, "
            "or pass --secrets with an ansible-vault file"
        )


def _provider(path: Path | None, out: Path) -> tuple[SecretsProvider, GeneratedSecrets | None, str]:
    if path is None:
        _refuse_if_committable(out / SECRETS_FILE)
        gen = GeneratedSecrets(out / SECRETS_FILE)
        return gen, gen, str(out / SECRETS_FILE)
    if not path.exists():
        raise UsageError(f"--secrets {path}: no such file")
    if path.read_bytes().startswith(b"$ANSIBLE_VAULT"):
        return VaultSecrets(path), None, str(path)
    _refuse_if_committable(path)
    gen = GeneratedSecrets(path)
    return gen, gen, str(path)


def _write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    tmp.chmod(mode)
    tmp.replace(path)


def cmd_render(args: argparse.Namespace) -> int:
    plan = load_plan(args.folder, args.as_of)
    out: Path = args.output
    secrets, generated, where = _provider(args.secrets, out)
    started = time.perf_counter()
    devices: dict[str, set[str]] = defaultdict(set)
    files: dict[str, int] = defaultdict(int)
    size: dict[str, int] = defaultdict(int)
    pending = list(render_all(plan, secrets, args.only, args.device))
    rendered = time.perf_counter()
    for renderer, f in pending:
        _write(out / f.device / f.path, f.text, f.mode)
        devices[renderer.name].add(f.device)
        files[renderer.name] += 1
        size[renderer.name] += len(f.text.encode())
    if generated is not None:
        generated.save()
    rows = [[name, str(len(devices[name])), str(files[name]), str(size[name])] for name in devices]
    rows.append(
        [
            "total",
            str(len(set().union(*devices.values())) if devices else 0),
            str(sum(files.values())),
            str(sum(size.values())),
        ]
    )
    table(rows, ["renderer", "devices", "files", "bytes"], sys.stdout)
    print(f"rendered in {rendered - started:.2f} s into {out}/<device>/")
    if generated is not None and generated.created:
        print(
            f"secrets: {generated.created} new secret(s) generated into {where} (mode 0600); "
            "keep that file out of the repository"
        )
    else:
        print(f"secrets: read from {where}")
    return EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser(
        "render",
        help="render every device's configuration from the plan",
        description="Render nftables, switch (Cisco IOS-XE, AOS-CX, ArubaOS-Switch, OVS), FreeRADIUS, hostapd, "
        "strongSwan and IDS allowlist files for every device into OUT/<device>/.",
    )
    add_deployment_args(p)
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="output folder")
    p.add_argument(
        "--only", action="append", choices=sorted(BY_NAME), metavar="RENDERER", help="only this renderer (repeatable)"
    )
    p.add_argument("--device", metavar="ID", help="only this device (e.g. sw-s-ingeville-1, gw-s-valmorin-1, csu-fw)")
    p.add_argument(
        "--secrets",
        type=Path,
        metavar="FILE",
        help="ansible-vault file (key: secret) or generated-secrets JSON; default: generate into OUT/.secrets/",
    )
    p.set_defaults(func=cmd_render)
