"""Which device to push to, how to log in, and what to push (``--targets FILE``).

Credentials never sit in the targets file in clear: a target names an SSH private key file
(which must be 0600) or the *name* of an environment variable holding the password (filled
from ansible-vault or a secrets manager by whoever runs the push).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from segmenting.push.errors import DeviceAuthFailed, TargetsError

DEVICE_TYPES = ("cisco_ios", "aruba_aoscx", "hp_procurve", "linux")


@dataclass(frozen=True)
class DeviceTarget:
    name: str
    host: str
    device_type: str
    username: str
    port: int = 22
    key_file: Path | None = None
    password_env: str | None = None
    # Pins the device's host key (OpenSSH known_hosts format); without it the first key seen
    # is accepted, which docs/push.md tells production users not to rely on.
    known_hosts: Path | None = None
    site: str = ""
    # Adapter options, e.g. ``ovs_rundir`` for an OVS host whose ovsdb socket is not the
    # system one.
    options: Mapping[str, str] = field(default_factory=dict)

    def password(self) -> str | None:
        if self.password_env is None:
            return None
        value = os.environ.get(self.password_env)
        if value is None:
            raise DeviceAuthFailed(
                self.name,
                f"environment variable {self.password_env} is not set",
                f"export {self.password_env} (e.g. from ansible-vault) before pushing",
            )
        return value

    def check_key_file(self) -> None:
        if self.key_file is None:
            return
        try:
            mode = self.key_file.stat().st_mode
        except OSError as exc:
            raise DeviceAuthFailed(self.name, f"SSH key {self.key_file} unreadable: {exc.strerror}") from None
        if stat.S_IMODE(mode) & 0o077:
            raise DeviceAuthFailed(
                self.name,
                f"SSH key {self.key_file} is readable by others",
                f"chmod 600 {self.key_file}",
            )


@dataclass(frozen=True)
class PushItem:
    """One device and the configuration text it should end up with."""

    target: DeviceTarget
    candidate: str


_ALLOWED = {
    "name",
    "host",
    "port",
    "device_type",
    "username",
    "key_file",
    "password_env",
    "known_hosts",
    "site",
    "options",
    "config_file",
    "config",
}


def _entry(raw: Any, where: str, base: Path) -> PushItem:
    if not isinstance(raw, dict):
        raise TargetsError(f"{where}: expected a mapping with name, host, device_type, …")
    if "password" in raw:
        raise TargetsError(
            f"{where}: 'password' in clear is refused; "
            "fix: use password_env: VARNAME (the variable holds the password) or key_file"
        )
    unknown = sorted(set(raw) - _ALLOWED)
    if unknown:
        raise TargetsError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {sorted(_ALLOWED)}")
    for key in ("name", "host", "device_type", "username"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise TargetsError(f"{where}: '{key}' is required (a non-empty string)")
    if raw["device_type"] not in DEVICE_TYPES:
        raise TargetsError(
            f"{where}: device_type {raw['device_type']!r} is not supported; fix: one of {', '.join(DEVICE_TYPES)}"
        )
    if "config" in raw:
        candidate = str(raw["config"])
    elif "config_file" in raw:
        path = base / str(raw["config_file"])
        try:
            candidate = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TargetsError(f"{where}: config_file {path}: {exc.strerror}") from None
    else:
        raise TargetsError(f"{where}: give 'config_file' (a path) or 'config' (the text)")

    def opt_path(key: str) -> Path | None:
        return base / str(raw[key]) if raw.get(key) else None

    options = raw.get("options") or {}
    if not isinstance(options, dict):
        raise TargetsError(f"{where}: 'options' must be a mapping")
    target = DeviceTarget(
        name=raw["name"],
        host=raw["host"],
        device_type=raw["device_type"],
        username=raw["username"],
        port=int(raw.get("port", 22)),
        key_file=opt_path("key_file"),
        password_env=raw.get("password_env"),
        known_hosts=opt_path("known_hosts"),
        site=str(raw.get("site", "")),
        options={str(k): str(v) for k, v in options.items()},
    )
    if target.key_file is None and target.password_env is None:
        raise TargetsError(f"{where}: give key_file or password_env for {target.name}")
    return PushItem(target, candidate)


def load_targets(path: Path) -> list[PushItem]:
    """Read a YAML or JSON list of targets; relative paths are relative to the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TargetsError(f"{path}: cannot read targets file: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise TargetsError(f"{path}: not valid YAML/JSON: {exc}") from None
    if isinstance(data, dict):
        data = data.get("targets")
    if not isinstance(data, list) or not data:
        raise TargetsError(f"{path}: expected a non-empty list of targets (or targets: [...])")
    items = [_entry(raw, f"{path}: targets[{i}]", path.parent) for i, raw in enumerate(data)]
    names = [i.target.name for i in items]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise TargetsError(f"{path}: device name(s) listed twice: {', '.join(dupes)}")
    return items
