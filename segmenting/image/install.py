"""Install a verified image into a folder: unpack its root filesystem, place the first-boot values.

The one installer, used by ``cloison image install`` and by ``cloison lab attach-image``: an image
is unpacked only after its signature and checksums verified (:func:`verify_image` raises
:class:`~segmenting.image.verify.ImageRefused` otherwise), and the site values, checked by
:mod:`segmenting.image.site`, go to ``/etc/cloison/site.json`` (0600) for the first boot.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from segmenting.errors import CloisonError
from segmenting.image import pack
from segmenting.image.manifest import Manifest
from segmenting.image.verify import verify_image


def install(
    folder: Path, signers: Path, identity: str, target: Path, values_for: Callable[[Manifest], dict[str, Any] | None]
) -> Manifest:
    """Verify the image in ``folder``, then unpack it into the empty ``target`` with its site values.

    ``values_for`` gets the verified manifest (the site values depend on the image's role) and
    returns the values, or None for an image installed without any.
    """
    manifest = verify_image(folder, signers, identity)
    values = values_for(manifest)
    if target.exists() and any(target.iterdir()):
        raise CloisonError(f"{target} is not empty: install into an empty folder or a fresh partition")
    target.mkdir(parents=True, exist_ok=True)
    decompress = subprocess.Popen(["zstd", "-q", "-d", "-c", str(folder / pack.ROOTFS_TAR)], stdout=subprocess.PIPE)
    untar = subprocess.run(
        ["tar", "--numeric-owner", "--xattrs", "-xpf", "-", "-C", str(target)], stdin=decompress.stdout, check=False
    )
    if decompress.wait() != 0 or untar.returncode != 0:
        raise CloisonError(f"extracting {manifest.image} into {target} failed")
    if values is not None:
        site_dir = target / "etc/cloison"
        site_dir.mkdir(parents=True, exist_ok=True)
        (site_dir / "site.json").write_text(json.dumps(values, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        (site_dir / "site.json").chmod(0o600)
    return manifest
