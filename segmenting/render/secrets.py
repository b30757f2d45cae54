"""Where per-device shared secrets (RADIUS clients, the IDS channel...) come from.

Secrets are never written into the repository in clear (ANSSI-HYG-09, ANSSI PA-022 R36). The
renderers ask a :class:`SecretsProvider` for a secret by a stable key (``radius/sw-s-x-1``) and
get the same value every time. Three providers:

- :class:`GeneratedSecrets`: creates random secrets on first use and keeps them in a JSON file
  with mode 0600 outside the repository (``cloison render`` defaults to ``OUT/.secrets/``);
- :class:`VaultSecrets`: reads an ansible-vault encrypted YAML/JSON mapping (the deployment's
  vault), with the vault password from ``ANSIBLE_VAULT_PASSWORD_FILE``;
- :class:`FakeSecrets`: deterministic, obviously fake values (``TEST-ONLY-<hash>``) for golden
  tests only.

Keys under ``totp/`` (a maintainer's TOTP seed, ``totp/<maintainer id>``) are generated as the
base32 text authenticator apps and FreeRADIUS's ``rlm_totp`` take (:mod:`segmenting.totp`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets as _random
from pathlib import Path
from typing import Any, Protocol

import yaml

from segmenting import totp
from segmenting.errors import EXIT_INVALID, CloisonError

TOTP_PREFIX = "totp/"


def totp_key(maintainer: str) -> str:
    """The secrets key of a maintainer's TOTP seed."""
    return f"{TOTP_PREFIX}{maintainer}"


class SecretsError(CloisonError):
    exit_code = EXIT_INVALID


class SecretsProvider(Protocol):
    def get(self, key: str) -> str:
        """The secret for ``key`` (e.g. ``radius/sw-s-ingeville-1``), stable across calls."""
        ...


class FakeSecrets:
    """Deterministic fake secrets for golden files: visibly not usable in production."""

    def get(self, key: str) -> str:
        if key.startswith(TOTP_PREFIX):  # must be base32: the renderer refuses anything else
            digest = hashlib.sha256(("TEST-ONLY-" + key).encode()).digest()
            return base64.b32encode(digest[: totp.SECRET_BYTES]).decode("ascii")
        return "TEST-ONLY-" + hashlib.sha256(key.encode()).hexdigest()[:16]


# 32 URL-safe characters: well above the 16 RADIUS needs (RFC 2865 §3 advises at least 16
# octets) and free of quotes, so no platform needs escaping.
_SECRET_BYTES = 24


class GeneratedSecrets:
    """Random secrets generated at run time, kept in a 0600 JSON file (created if missing)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._values: dict[str, str] = {}
        self._dirty = False
        self._created = 0
        if self.path.exists():
            if self.path.stat().st_mode & 0o077:
                raise SecretsError(
                    f"{self.path}: secrets file is readable by group or others\n    fix: chmod 600 {self.path}"
                )
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise SecretsError(f"{self.path}: not a JSON object of secrets")
            self._values = {str(k): str(v) for k, v in data.items()}

    def get(self, key: str) -> str:
        if key not in self._values:
            new = totp.new_secret() if key.startswith(TOTP_PREFIX) else _random.token_urlsafe(_SECRET_BYTES)
            self._values[key] = new
            self._dirty = True
            self._created += 1
        return self._values[key]

    @property
    def created(self) -> int:
        """How many secrets this run generated (0: all came from the file)."""
        return self._created

    def save(self) -> None:
        """Write the file (mode 0600, parent 0700) if a secret was generated."""
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self._values, fh, indent=1, sort_keys=True)
            fh.write("\n")
        self.path.chmod(0o600)
        self._dirty = False


class VaultSecrets:
    """A mapping ``key: secret`` in an ansible-vault encrypted file; a missing key is an error."""

    def __init__(self, path: Path, password: str | None = None) -> None:
        self.path = Path(path)
        raw = self.path.read_bytes()
        if raw.startswith(b"$ANSIBLE_VAULT"):
            text = self._decrypt(raw, password)
        else:
            raise SecretsError(
                f"{self.path}: not an ansible-vault file; secrets must not be kept in clear\n"
                f"    fix: ansible-vault encrypt {self.path}"
            )
        data: Any = yaml.safe_load(text)
        if not isinstance(data, dict):
            raise SecretsError(f"{self.path}: the vault must hold a mapping of key: secret")
        self._values = {str(k): str(v) for k, v in data.items()}

    def _decrypt(self, raw: bytes, password: str | None) -> str:
        if password is None:
            pw_file = os.environ.get("ANSIBLE_VAULT_PASSWORD_FILE")
            if not pw_file:
                raise SecretsError(
                    f"{self.path}: encrypted, but no vault password\n"
                    "    fix: set ANSIBLE_VAULT_PASSWORD_FILE to the vault password file"
                )
            password = Path(pw_file).read_text(encoding="utf-8").strip()
        # Imported here: ansible is heavy and only vault users need it.
        from ansible.constants import DEFAULT_VAULT_ID_MATCH  # noqa: PLC0415
        from ansible.parsing.vault import VaultLib, VaultSecret  # noqa: PLC0415

        vault = VaultLib([(DEFAULT_VAULT_ID_MATCH, VaultSecret(password.encode()))])
        try:
            plain: bytes = vault.decrypt(raw)
        except Exception as exc:  # ansible raises AnsibleError subclasses we do not import
            raise SecretsError(f"{self.path}: cannot decrypt the vault ({exc})") from exc
        return plain.decode("utf-8")

    def get(self, key: str) -> str:
        try:
            return self._values[key]
        except KeyError:
            raise SecretsError(
                f"{self.path}: no secret for {key!r}\n"
                f"    fix: add `{key}: <secret>` with ansible-vault edit {self.path}"
            ) from None


__all__ = [
    "TOTP_PREFIX",
    "FakeSecrets",
    "GeneratedSecrets",
    "SecretsError",
    "SecretsProvider",
    "VaultSecrets",
    "totp_key",
]
