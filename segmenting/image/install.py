"""Install a verified image into a folder: unpack its root filesystem, place the first-boot values.

The one installer, used by ``cloison image install`` and by ``cloison lab attach-image``: an image
is unpacked only after its signature and checksums verified (:func:`verify_image` raises
:class:`~segmenting.image.verify.ImageRefused` otherwise), and the site values, checked by
:mod:`segmenting.image.site`, go to ``/etc/cloison/site.json`` (0600) for the first boot. The
site's files (:mod:`segmenting.image.seed`) are rendered before anything is unpacked, so that an
install that fails leaves the target as it found it, then laid over the image as they are.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from segmenting.errors import CloisonError
from segmenting.image import pack
from segmenting.image.manifest import Manifest
from segmenting.image.verify import verify_image

Seeder = Callable[[Manifest, Path], object]


def install(
    folder: Path,
    signers: Path,
    identity: str,
    target: Path,
    values_for: Callable[[Manifest], dict[str, Any] | None],
    *,
    seed: Seeder | None = None,
) -> Manifest:
    """Verify the image in ``folder``, then unpack it into the empty ``target`` with its site values.

    ``values_for`` gets the verified manifest (the site values depend on the image's role) and
    returns the values, or None for an image installed without any. ``seed`` renders the site's
    files for the verified image into the folder it is given (nothing to seed: leave it empty).
    """
    manifest = verify_image(folder, signers, identity)
    values = values_for(manifest)
    if target.exists() and any(target.iterdir()):
        raise CloisonError(f"{target} is not empty: install into an empty folder or a fresh partition")
    with tempfile.TemporaryDirectory(prefix="cloison-seed-") as work:
        seeded = Path(work)
        if seed is not None:
            seed(manifest, seeded)
        target.mkdir(parents=True, exist_ok=True)
        _unpack(folder, manifest, target)
        # cp -a keeps the seed's modes (a key stays 0600) and links, and merges into the image's
        # folders; one top folder at a time, so the (0700) work folder's mode never reaches the root.
        for top in sorted(seeded.iterdir()):
            subprocess.run(["cp", "-a", str(top), f"{target}/"], check=True)
    if values is not None:
        site_dir = target / "etc/cloison"
        site_dir.mkdir(parents=True, exist_ok=True)
        (site_dir / "site.json").write_text(json.dumps(values, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        (site_dir / "site.json").chmod(0o600)
    return manifest


def _unpack(folder: Path, manifest: Manifest, target: Path) -> None:
    decompress = subprocess.Popen(["zstd", "-q", "-d", "-c", str(folder / pack.ROOTFS_TAR)], stdout=subprocess.PIPE)
    untar = subprocess.run(
        ["tar", "--numeric-owner", "--xattrs", "-xpf", "-", "-C", str(target)], stdin=decompress.stdout, check=False
    )
    if decompress.wait() != 0 or untar.returncode != 0:
        for child in target.iterdir():  # what was extracted before it failed: the target is left empty
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        raise CloisonError(f"extracting {manifest.image} into {target} failed")
