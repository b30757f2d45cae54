"""The first-boot seed of an appliance image: its site's files, rendered by the site's own roles.

An image carries no site value. What the site's roles would write on the plan host the image
becomes — its nftables ruleset, chrony's servers, the log forwarding to the collector, the host
certificate and key from the deployment's CA, the IDS allowlist and unit — is rendered on the
controller by ``playbooks/image-seed.yml`` (each role's ``tasks/seed.yml``, with the same
templates as its main tasks) into a folder the installer then lays over the unpacked image. The
image holds the software (``playbooks/image.yml``); the first boot starts it with these files, so
the appliance passes its role's checks without a converge.
"""

from __future__ import annotations

import json
from pathlib import Path

from segmenting.errors import CloisonError, UsageError
from segmenting.lab.converge import ROOT, run_playbook

SEED_PLAYBOOK = ROOT / "playbooks" / "image-seed.yml"
# The images whose site files the seed renders; the others get their addresses and keys only.
SEEDED_ROLES = frozenset({"edge-gateway", "dmz-relay"})


def render(inventory: Path, deployment: Path, host: str, into: Path, *, container: bool = False) -> list[str]:
    """Render ``host``'s seed into the empty folder ``into``; the files it wrote, relative to it.

    ``inventory`` is the one the site's playbooks use (the deployment folder, or the lab's: it adds
    the lab's management network to the ruleset as the segmentation role does there).
    ``container``: the appliance runs as a container (the lab boots images with systemd-nspawn),
    so chronyd tracks time without setting the machine's clock, as the time_sync role does there.
    """
    if not inventory.exists():
        raise UsageError(f"{inventory}: no such inventory; name the deployment folder or the lab's inventory")
    extra: dict[str, object] = {"cloison_seed_root": str(into.resolve())}
    if container:
        extra["time_sync_set_clock"] = False
    run = run_playbook(inventory, deployment, "-l", host, "-e", json.dumps(extra), playbook=SEED_PLAYBOOK, facts=False)
    if run.returncode != 0:
        raise CloisonError(f"rendering the first-boot seed of {host} failed:\n{run.output[-3000:]}")
    written = sorted(str(p.relative_to(into)) for p in into.rglob("*") if p.is_file() or p.is_symlink())
    if not written:
        raise UsageError(f"{inventory}: no host {host!r} to seed (the playbook matched none); name a plan host")
    return written


def for_image(
    role: str, inventory: Path, deployment: Path, host: str, into: Path, *, container: bool = False
) -> list[str]:
    """:func:`render` for an image of a role in :data:`SEEDED_ROLES`; nothing for the others."""
    return render(inventory, deployment, host, into, container=container) if role in SEEDED_ROLES else []
