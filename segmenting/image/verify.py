"""Sign image manifests and verify them before anything is installed.

Signatures are OpenSSH ``SSHSIG`` signatures (``ssh-keygen -Y sign``) with an Ed25519 key the
deployment controls: no new tool for municipal IT staff, and the verification command is one
line they can run by hand (docs/images.md)::

    ssh-keygen -Y verify -f allowed_signers -I ingeagglo-images -n cloison-image \\
        -s manifest.json.sig < manifest.json

The installer (:func:`verify_image`) checks the signature first, then every artefact's
SHA-256, and refuses the image with a message naming what did not match.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from segmenting.errors import EXIT_INVALID, CloisonError
from segmenting.image.manifest import MANIFEST, Manifest, sha256_file

NAMESPACE = "cloison-image"
SIGNATURE = MANIFEST + ".sig"


class ImageRefused(CloisonError):
    """The image is not what its signer shipped: never install it."""

    exit_code = EXIT_INVALID


def generate_key(path: Path, identity: str) -> Path:
    """A new Ed25519 signing key (0600) and its .pub; refuses to overwrite an existing key."""
    if path.exists():
        raise CloisonError(f"{path} already exists: refusing to overwrite a signing key")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", identity, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    path.chmod(0o600)
    return path


def allowed_signers(identity: str, public_key: Path) -> str:
    """One ``allowed_signers`` line restricting the key to image signatures."""
    key = public_key.read_text(encoding="utf-8").split()
    return f'{identity} namespaces="{NAMESPACE}" {key[0]} {key[1]}\n'


def sign(manifest: Path, key: Path) -> Path:
    if not key.exists():
        raise CloisonError(f"signing key {key} not found: create one with `cloison image keygen {key}`")
    proc = subprocess.run(
        ["ssh-keygen", "-Y", "sign", "-q", "-f", str(key), "-n", NAMESPACE, str(manifest)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise CloisonError(f"signing {manifest} failed: {proc.stderr.strip()}")
    return manifest.with_name(manifest.name + ".sig")


def verify_signature(manifest: Path, signature: Path, signers: Path, identity: str) -> None:
    if not signature.exists():
        raise ImageRefused(f"{signature} is missing: the image is unsigned; refusing it")
    with manifest.open("rb") as data:
        proc = subprocess.run(
            ["ssh-keygen", "-Y", "verify", "-f", str(signers), "-I", identity, "-n", NAMESPACE, "-s", str(signature)],
            stdin=data,
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise ImageRefused(
            f"signature of {manifest} does not verify for signer {identity!r} "
            f"({detail[-1] if detail else 'no detail'}); refusing the image"
        )


def verify_image(folder: Path, signers: Path, identity: str) -> Manifest:
    """Signature, then checksums. Returns the manifest of an image that may be installed."""
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        raise ImageRefused(f"{manifest_path} is missing: this is not a cloison image folder")
    verify_signature(manifest_path, folder / SIGNATURE, signers, identity)
    try:
        manifest = Manifest.from_json(manifest_path.read_text(encoding="utf-8"))
    except (ValueError, KeyError) as exc:
        raise ImageRefused(f"{manifest_path} is not a valid manifest: {exc}") from None
    for name, expected in manifest.artefacts.items():
        path = folder / name
        if not path.exists():
            raise ImageRefused(f"{name} is listed in the manifest but missing from {folder}")
        actual = sha256_file(path)
        if actual != expected:
            raise ImageRefused(f"{name}: SHA-256 {actual} does not match the signed manifest ({expected})")
    return manifest
