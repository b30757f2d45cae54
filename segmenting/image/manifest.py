"""The image manifest: what an image is, and the SHA-256 of every artefact shipped with it.

The manifest is what gets signed; the installer verifies the signature first, then every
checksum, and refuses the image on the first mismatch (see :mod:`segmenting.image.verify`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
FORMAT = "cloison-image-manifest"
FORMAT_VERSION = 1


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Manifest:
    image: str
    role: str
    cloison_version: str
    debian_suite: str
    debian_snapshot: str  # the latest Release date of the mirror state the packages came from
    source_date_epoch: int
    debian_releases: dict[str, str] = field(default_factory=dict)  # suite -> date of its Release
    artefacts: dict[str, str] = field(default_factory=dict)  # file name -> sha256

    def to_json(self) -> str:
        body: dict[str, Any] = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "image": self.image,
            "role": self.role,
            "cloison_version": self.cloison_version,
            "debian": {
                "suite": self.debian_suite,
                "snapshot": self.debian_snapshot,
                **({"releases": dict(sorted(self.debian_releases.items()))} if self.debian_releases else {}),
            },
            "source_date_epoch": self.source_date_epoch,
            "artefacts": dict(sorted(self.artefacts.items())),
        }
        return json.dumps(body, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        if data.get("format") != FORMAT or data.get("version") != FORMAT_VERSION:
            raise ValueError(f"not a {FORMAT} v{FORMAT_VERSION} manifest")
        return cls(
            image=str(data["image"]),
            role=str(data["role"]),
            cloison_version=str(data["cloison_version"]),
            debian_suite=str(data["debian"]["suite"]),
            debian_snapshot=str(data["debian"]["snapshot"]),
            source_date_epoch=int(data["source_date_epoch"]),
            debian_releases={str(k): str(v) for k, v in data["debian"].get("releases", {}).items()},
            artefacts={str(k): str(v) for k, v in data["artefacts"].items()},
        )


def with_checksums(manifest: Manifest, folder: Path, names: list[str]) -> Manifest:
    return replace(manifest, artefacts={name: sha256_file(folder / name) for name in names})
