"""Remember what a role left on a host, and tell the next run whether anything moved since.

An idempotent converge still pays one SSH round trip per task (bench/roles.md): on the lab, a
run that changes nothing took as long as the first one. This module lets a role answer "is this
host still as I left it?" in one round trip. ``state: record`` (the role's last task) stores the
digest of the role's inputs (computed on the controller by the ``cloison_role_inputs`` lookup)
and an observation of what the role owns on the host: files (content, mode, owner), systemd
units (active, enabled), Debian packages (version, status), the live value of sysctl keys, the
output of read-only commands (e.g. the loaded nftables ruleset). ``state: check`` (the role's
first task) observes the same things again and reports ``current`` only when the inputs are the
same, nothing observed differs and the record is younger than ``max_age``; the role then ends
for that host. Anything else (first run, new inputs, a file edited by hand, a unit stopped, a
record too old) runs the whole role, and ``reason`` says why.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: cloison_converged
short_description: Record and check the converged state a role left on a host
description:
  - O(state=record) stores the role's input digest and an observation of what it owns.
  - O(state=check) observes again and returns RV(current) when nothing moved since the record.
  - Read-only in check mode and for O(state=check).
options:
  name:
    description: Record name, unique per plan host and role (e.g. C(csu-radius.radius)).
    type: str
    required: true
  inputs:
    description: Digest of the role's inputs (the cloison_role_inputs lookup).
    type: str
    required: true
  state:
    description: C(check) compares with the record, C(record) writes it.
    type: str
    choices: [check, record]
    default: check
  watch:
    description:
      - What the role owns; keys C(files) (globs, C(**) recursive), C(units), C(packages),
      - C(sysctl_files) and C(commands) (argv lists of read-only commands).
    type: dict
    default: {}
  max_age:
    description: Seconds after which a record no longer counts as current (0 never counts).
    type: int
    default: 86400
  dir:
    description: Where records are kept (root only).
    type: path
    default: /var/lib/cloison/converged
author: cloison
"""

RETURN = r"""
current:
  description: The host is as the role left it and its inputs did not change (check only).
  type: bool
  returned: always
reason:
  description: Why the role must run (first run, inputs changed, the first differences observed).
  type: str
  returned: always
"""

WATCH_KEYS = ("files", "units", "packages", "sysctl_files", "commands")
MAX_REASONS = 5


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def observe_path(path: str) -> str:
    """One line per path: type, mode, owner and content digest (or link target)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "absent"
    meta = f"{stat.S_IMODE(st.st_mode):04o} {st.st_uid}:{st.st_gid}"
    if stat.S_ISLNK(st.st_mode):
        return f"link {meta} -> {Path(path).readlink()}"
    if stat.S_ISDIR(st.st_mode):
        return f"dir {meta}"
    if stat.S_ISREG(st.st_mode):
        return f"file {meta} {_sha256(path)}"
    return f"other {meta}"


def observe_files(patterns: list[str]) -> dict[str, str]:
    """Every path a pattern names; a pattern matching nothing is recorded as absent, so that a
    file the role created and someone deleted, or a directory entry someone added, shows."""
    seen: dict[str, str] = {}
    for pattern in patterns:
        if not glob.has_magic(pattern):
            seen[pattern] = observe_path(pattern)
            continue
        # Absolute patterns with ** (Path.glob takes relative ones only).
        matches = sorted(glob.glob(pattern, recursive=True))  # noqa: PTH207
        if not matches:
            seen[pattern] = "absent"
        for path in matches:
            seen[path] = observe_path(path)
    return seen


def observe_units(units: list[str]) -> dict[str, str]:
    if not units:
        return {}
    proc = subprocess.run(
        ["systemctl", "show", "--property=Id,LoadState,ActiveState,UnitFileState", "--", *units],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    blocks = [b for b in proc.stdout.strip().split("\n\n") if b.strip()]
    seen: dict[str, str] = {}
    for unit, block in zip(units, blocks, strict=False):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        # A unit reloading or starting is on its way to active: its settled state is what counts.
        active = props.get("ActiveState", "")
        active = "active" if active in ("active", "reloading", "activating") else active
        seen[unit] = f"{props.get('LoadState', '')} {active} {props.get('UnitFileState', '')}".strip()
    for unit in units[len(blocks) :]:
        seen[unit] = "unknown"
    return seen


def observe_packages(packages: list[str]) -> dict[str, str]:
    if not packages:
        return {}
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${Version} ${db:Status-Abbrev}\n", "--", *packages],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    seen = dict.fromkeys(packages, "absent")
    for line in proc.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0] in seen:
            seen[fields[0]] = f"{fields[1]} {fields[2]}"
    return seen


def observe_sysctl(files: list[str]) -> dict[str, str]:
    """The running value of every key the sysctl.d files set (``-`` prefixed keys included)."""
    seen: dict[str, str] = {}
    for name in files:
        try:
            lines = Path(name).read_text().splitlines()
        except FileNotFoundError:
            seen[name] = "absent"
            continue
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith(("#", ";")) or "=" not in line:
                continue
            key = line.split("=", 1)[0].strip().lstrip("-").strip()
            proc_path = Path("/proc/sys") / key.replace(".", "/")
            try:
                seen[key] = " ".join(proc_path.read_text().split())
            except OSError:
                seen[key] = "unreadable"
    return seen


def observe_commands(commands: list[list[str]]) -> dict[str, str]:
    seen: dict[str, str] = {}
    for argv in commands:
        try:
            proc = subprocess.run(argv, capture_output=True, check=False, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            seen[" ".join(argv)] = f"error {type(exc).__name__}"
            continue
        seen[" ".join(argv)] = f"rc={proc.returncode} {hashlib.sha256(proc.stdout).hexdigest()}"
    return seen


def observe(watch: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        "files": observe_files([str(p) for p in watch.get("files") or []]),
        "units": observe_units([str(u) for u in watch.get("units") or []]),
        "packages": observe_packages([str(p) for p in watch.get("packages") or []]),
        "sysctl": observe_sysctl([str(p) for p in watch.get("sysctl_files") or []]),
        "commands": observe_commands([[str(a) for a in c] for c in watch.get("commands") or []]),
    }


def differences(recorded: dict[str, dict[str, str]], now: dict[str, dict[str, str]]) -> list[str]:
    out: list[str] = []
    for kind in sorted(set(recorded) | set(now)):
        before, after = recorded.get(kind, {}), now.get(kind, {})
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                out.append(f"{kind} {key}: {before.get(key, 'not watched')!r} -> {after.get(key, 'not watched')!r}")
    return out


def judge(record: dict[str, Any] | None, inputs: str, now: dict[str, dict[str, str]], max_age: int) -> str:
    """Empty when the host is current, else the reason the role must run."""
    if record is None:
        return "no record of a converge of this role on this host"
    if record.get("inputs") != inputs:
        return "the role's inputs changed since its last converge (code, plan, inventory, secrets or options)"
    age = time.time() - float(record.get("recorded_at", 0))
    if max_age <= 0 or age > max_age:
        return f"last converge recorded {int(age)} s ago (a full run is due after {max_age} s)"
    diffs = differences(record.get("observed", {}), now)
    if diffs:
        more = f" (and {len(diffs) - MAX_REASONS} more)" if len(diffs) > MAX_REASONS else ""
        return "drift since the last converge: " + "; ".join(diffs[:MAX_REASONS]) + more
    return ""


def load(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        json.dump(record, handle, indent=1, sort_keys=True)
    Path(tmp).chmod(0o600)
    Path(tmp).replace(path)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "inputs": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["check", "record"], "default": "check"},
            "watch": {"type": "dict", "default": {}},
            "max_age": {"type": "int", "default": 86400},
            "dir": {"type": "path", "default": "/var/lib/cloison/converged"},
        },
        supports_check_mode=True,
    )
    params = module.params
    unknown = sorted(set(params["watch"]) - set(WATCH_KEYS))
    if unknown:
        module.fail_json(msg=f"watch: unknown keys {unknown}; expected some of {list(WATCH_KEYS)}")
    if "/" in params["name"] or params["name"].startswith("."):
        module.fail_json(msg=f"name {params['name']!r} must be a plain file name (host.role)")
    path = Path(params["dir"]) / f"{params['name']}.json"
    record = load(path)
    now = observe(params["watch"])
    if params["state"] == "check":
        reason = judge(record, params["inputs"], now, params["max_age"])
        module.exit_json(changed=False, current=not reason, reason=reason or "as the last converge left it")
    same = record is not None and record.get("inputs") == params["inputs"] and record.get("observed") == now
    if not module.check_mode:
        # A full run that found nothing to change still renews the record's age: bookkeeping of
        # this module, not a change of the host, so it is not reported as one.
        write(path, {"inputs": params["inputs"], "observed": now, "recorded_at": time.time()})
    module.exit_json(changed=not same, current=True, reason="recorded")


if __name__ == "__main__":
    main()
