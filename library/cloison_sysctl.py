"""Apply the kernel parameters of a sysctl.d file, idempotently, without touching the host.

``ansible.posix.sysctl`` is a collection and this project runs on ansible-core alone, and
``systemd-sysctl`` does nothing inside a container (``/proc/sys`` is read-only there except
for the network namespace's own subtree). This module reads the file the role templated,
compares each key with ``/proc/sys`` and writes only what differs. Inside a container it
applies only the per-network-namespace keys (``net.ipv4.*``, ``net.ipv6.*``): every other key
is host-wide, and a lab node must never change the host it runs on (shared/LAB-NOTES.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: cloison_sysctl
short_description: Apply a sysctl.d file's keys to the running kernel
description:
  - Reads C(key = value) lines from O(path) and writes each differing value to C(/proc/sys).
  - With O(scope=auto), inside a container only per-network-namespace keys are applied.
options:
  path:
    description: The sysctl.d file to apply.
    type: path
    required: true
  scope:
    description: C(all) applies every key, C(netns) only net.ipv4/net.ipv6 keys, C(auto) picks by container detection.
    type: str
    choices: [auto, all, netns]
    default: auto
author: cloison
"""

RETURN = r"""
applied:
  description: Keys whose running value was changed (or would be, in check mode).
  type: dict
  returned: always
skipped:
  description: Keys left alone because they are host-wide and this is a container.
  type: list
  returned: always
missing:
  description: Keys this kernel does not have.
  type: list
  returned: always
readonly:
  description: Keys whose /proc/sys entry is mounted read-only (inside some containers).
  type: list
  returned: always
"""

NETNS_PREFIXES = ("net.ipv4.", "net.ipv6.")


def in_container() -> bool:
    if Path("/run/systemd/container").exists():
        return True
    try:
        return b"container=" in Path("/proc/1/environ").read_bytes()
    except OSError:
        return False


def parse(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip().lstrip("-")] = " ".join(value.split())
    return out


def run(module: AnsibleModule) -> dict[str, Any]:
    path = Path(module.params["path"])
    scope = module.params["scope"]
    if scope == "auto":
        scope = "netns" if in_container() else "all"
    if not path.exists():
        if module.check_mode:
            return {"changed": True, "applied": {}, "skipped": [], "missing": [], "msg": f"{path} not there yet"}
        module.fail_json(msg=f"{path} does not exist")
    applied: dict[str, str] = {}
    skipped: list[str] = []
    missing: list[str] = []
    readonly: list[str] = []
    for key, value in parse(path.read_text(encoding="utf-8")).items():
        if scope == "netns" and not key.startswith(NETNS_PREFIXES):
            skipped.append(key)
            continue
        proc = Path("/proc/sys") / key.replace(".", "/")
        if not proc.exists():
            missing.append(key)
            continue
        current = " ".join(proc.read_text(encoding="utf-8").split())
        if current == value:
            continue
        if os.statvfs(proc).f_flag & os.ST_RDONLY:
            # A container whose manager mounted /proc/sys read-only (systemd-nspawn does, even for
            # the network subtree, unless it created the namespace itself): the file persists the
            # values for a real boot; the live value is the container manager's business.
            readonly.append(key)
            continue
        applied[key] = value
        if not module.check_mode:
            try:
                proc.write_text(value + "\n", encoding="utf-8")
            except OSError as exc:
                module.fail_json(msg=f"cannot set {key}={value}: {exc}", applied=applied)
    return {
        "changed": bool(applied),
        "applied": applied,
        "skipped": skipped,
        "missing": missing,
        "readonly": readonly,
        "scope": scope,
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "scope": {"type": "str", "choices": ["auto", "all", "netns"], "default": "auto"},
        },
        supports_check_mode=True,
    )
    module.exit_json(**run(module))


if __name__ == "__main__":
    main()
