"""Builds of the images shared by the image tests (one per session and role, each costly)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from segmenting import cli

ROLE = "edge-gateway"
IDENTITY = "test-images"


@dataclass
class Built:
    folder: Path
    signers: Path
    key: Path
    seconds: float


def signing_key(folder: Path) -> Path:
    key = folder / "image_ed25519"
    assert cli.main(["image", "keygen", str(key), "--identity", IDENTITY]) == 0
    return key


def build_image(out: Path, key: Path, role: str = ROLE) -> Built:
    """``cloison image build`` as a user runs it: a fresh rootfs, the shared .deb cache."""
    started = time.monotonic()
    code = cli.main(["image", "build", "--role", role, "-o", str(out), "--key", str(key)])
    assert code == 0
    return Built(out / role, key.with_name("allowed_signers"), key, time.monotonic() - started)
