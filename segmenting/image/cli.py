"""``cloison image``: build, verify, install and compare hardened appliance images."""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from segmenting.api import load_plan
from segmenting.errors import EXIT_CHECK_FAILED, EXIT_OK, CloisonError, UsageError
from segmenting.image import seed, site
from segmenting.image.build import ROLES, build
from segmenting.image.configure import NspawnAnsibleConfigurer
from segmenting.image.install import install
from segmenting.image.manifest import Manifest
from segmenting.image.reproducible import compare_builds
from segmenting.image.verify import allowed_signers, generate_key, verify_image

DEFAULT_KEY = Path("/var/lib/cloison/keys/image-signing_ed25519")


def cmd_keygen(args: argparse.Namespace) -> int:
    key = generate_key(args.key, args.identity)
    signers = key.with_name("allowed_signers")
    signers.write_text(allowed_signers(args.identity, key.with_suffix(".pub")), encoding="utf-8")
    print(f"signing key {key} (0600) and {signers} written; keep the key off the repo, ship allowed_signers")
    return EXIT_OK


def cmd_build(args: argparse.Namespace) -> int:
    roles = list(ROLES) if args.role == "all" else [args.role]
    if not args.key.exists():
        raise CloisonError(f"signing key {args.key} not found: create it with `cloison image keygen {args.key}`")
    work = Path(tempfile.mkdtemp(prefix="cloison-image-"))
    try:
        for name in roles:
            started = time.monotonic()
            result = build(name, args.output / name, args.key, NspawnAnsibleConfigurer(), work)
            took = time.monotonic() - started
            print(
                f"{name}: {result.folder} — rootfs {result.rootfs_bytes / 1e6:.0f} MB uncompressed, "
                f"{result.packages} SBOM components, built in {took:.0f} s, signed"
            )
            print(f"{name}: phases: {result.timing()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    manifest = verify_image(args.folder, args.signers, args.identity)
    print(f"ok: {manifest.image} ({manifest.role}), signature and {len(manifest.artefacts)} checksums verified")
    return EXIT_OK


def site_values(args: argparse.Namespace, role: str) -> dict[str, Any] | None:
    """The first-boot values: a site.json as given, or taken from the plan for ``--host``."""
    if args.site and args.host:
        raise UsageError("give either --site FILE or --deployment DIR --host ID, not both")
    if args.site:
        return site.read(args.site)
    if not args.host:
        return None
    keys = [line for k in args.admin_key for line in k.read_text(encoding="utf-8").splitlines()]
    if not keys:
        raise UsageError("--host needs the deployment's administrator public key (--admin-key FILE.pub)")
    return site.from_plan(
        load_plan(args.deployment), args.host, role, keys, interface=args.interface, management=args.management_address
    )


def cmd_install(args: argparse.Namespace) -> int:
    seeded: list[str] = []

    def seed_for(manifest: Manifest, into: Path) -> None:
        # Only for a plan host (--host): its site's files, from the inventory its site's playbooks use.
        if args.host:
            inventory = args.inventory or args.deployment
            seeded.extend(seed.for_image(manifest.role, inventory, args.deployment, args.host, into,
                                         container=args.container))  # fmt: skip

    manifest = install(
        args.folder, args.signers, args.identity, args.target, lambda m: site_values(args, m.role), seed=seed_for
    )
    seeded_note = " with its site's seed" if seeded else ""
    print(f"installed {manifest.image} into {args.target}{seeded_note}; host keys are generated on first boot")
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    report = compare_builds(args.first, args.second)
    print("\n".join(report.lines(show=None if args.show < 0 else args.show)))
    return EXIT_OK if report.identical else EXIT_CHECK_FAILED


def register(sub: Any) -> None:
    image = sub.add_parser("image", help="build, verify and install hardened appliance images")
    isub = image.add_subparsers(dest="image_command", metavar="ACTION")
    isub.required = True

    p = isub.add_parser("keygen", help="create the deployment's image signing key")
    p.add_argument("key", type=Path, nargs="?", default=DEFAULT_KEY)
    p.add_argument("--identity", default="cloison-images", help="signer identity in allowed_signers")
    p.set_defaults(func=cmd_keygen)

    p = isub.add_parser("build", help="build, harden, pack and sign an image")
    p.add_argument("--role", required=True, choices=[*ROLES, "all"])
    p.add_argument("-o", "--output", type=Path, default=Path("out/images"))
    p.add_argument("--key", type=Path, default=DEFAULT_KEY, help="signing key (see `cloison image keygen`)")
    p.set_defaults(func=cmd_build)

    for name, func, helptext in (
        ("verify", cmd_verify, "check an image's signature and checksums"),
        ("install", cmd_install, "verify, then unpack an image (refuses a bad signature or checksum)"),
    ):
        p = isub.add_parser(name, help=helptext)
        p.add_argument("folder", type=Path)
        p.add_argument("--signers", type=Path, required=True, help="allowed_signers file of the deployment")
        p.add_argument("--identity", default="cloison-images")
        if name == "install":
            p.add_argument("--target", type=Path, required=True)
            p.add_argument("--site", type=Path, help="site.json with first-boot values (hostname, addresses)")
            p.add_argument("--deployment", type=Path, default=Path("inventory/ingeagglo"),
                           help="deployment whose plan gives the first-boot values of --host")  # fmt: skip
            p.add_argument("--host", help="plan host the appliance becomes (its name, address, sshd addresses)")
            p.add_argument("--admin-key", type=Path, action="append", default=[],
                           help="public key(s) of the deployment's cloison-admin account")  # fmt: skip
            p.add_argument("--interface", default="eth0", help="interface for the host's plan address")
            p.add_argument("--management-address", action="append", default=[],
                           help="another address the controller reaches it on (sshd binds it too)")  # fmt: skip
            p.add_argument("--inventory", type=Path,
                           help="inventory of the site's playbooks for the seed (default: --deployment)")  # fmt: skip
            p.add_argument("--container", action="store_true",
                           help="the appliance runs as a container: chronyd does not set the clock")  # fmt: skip
        p.set_defaults(func=func)

    p = isub.add_parser("compare", help="compare two builds file by file and say why files differ")
    p.add_argument("first", type=Path)
    p.add_argument("second", type=Path)
    p.add_argument("--show", type=int, default=50, help="differences to list (-1: all)")
    p.set_defaults(func=cmd_compare)
