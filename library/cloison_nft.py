"""Apply an nftables ruleset with an automatic rollback, confirmed from a fresh connection.

The role templates and validates (``nft -c``) the ruleset, then this module, on the host:

- ``state=applied``: if the ruleset file differs from the one last applied (or the table is
  missing), saves the live table as a rollback file, arms a transient systemd timer that
  restores it after ``timeout`` seconds, and loads the new ruleset (one atomic ``nft -f``).
- ``state=confirmed``: run by the role from a *new* SSH connection after ``applied``: reaching
  the host proves the new ruleset did not cut the controller off, so the timer is disarmed and
  the file recorded as applied.
- ``state=tracking``: before the first ruleset, a verdict-less table starts conntrack, and the
  role reconnects: a session opened before conntrack runs is picked up mid-stream, its packets
  may be judged ``invalid`` and the first ruleset would drop the controller's own session.

If the controller is locked out, nobody confirms and the host restores the previous table by
itself (Junos ``commit confirmed``; ANSSI PA-022 R16 filtering without losing administration).
Only the ruleset's own table is touched; other tables on the host are left alone.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: cloison_nft
short_description: Load an nftables ruleset with commit-confirmed rollback
options:
  path:
    description: The validated ruleset file (replaces one table, e.g. inet cloison).
    type: path
    required: true
  table:
    description: C(family name) of the table the ruleset owns.
    type: str
    default: inet cloison
  state:
    description:
      - C(tracking) starts conntrack with a verdict-less table.
      - C(applied) loads and arms the rollback; C(confirmed) disarms it.
    type: str
    choices: [tracking, applied, confirmed]
    default: applied
  timeout:
    description: Seconds before an unconfirmed ruleset is rolled back.
    type: int
    default: 90
  state_dir:
    description: Where the rollback file and the applied stamp are kept.
    type: path
    default: /var/lib/cloison/nft
author: cloison
"""

NFT = "/usr/sbin/nft"
UNIT = "cloison-nft-rollback"
TRACK = "cloison_conntrack"


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _timer_active() -> bool:
    return _run(["systemctl", "is-active", "--quiet", f"{UNIT}.timer"]).returncode == 0


def _disarm() -> None:
    _run(["systemctl", "stop", f"{UNIT}.timer"])
    _run(["systemctl", "reset-failed", f"{UNIT}.timer", f"{UNIT}.service"])


def apply(module: AnsibleModule) -> dict[str, Any]:
    path = Path(module.params["path"])
    family_name = module.params["table"].split()
    state_dir = Path(module.params["state_dir"])
    stamp = state_dir / "applied.sha256"
    live = _run([NFT, "list", "table", *family_name])
    digest = _digest(path)
    if live.returncode == 0 and stamp.exists() and stamp.read_text().strip() == digest:
        return {"changed": False, "digest": digest}
    if module.check_mode:
        return {"changed": True, "digest": digest}
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    rollback = state_dir / "rollback.nft"
    table = " ".join(family_name)
    # Create-then-delete makes the rollback valid whether or not the table exists by then.
    body = live.stdout if live.returncode == 0 else ""
    rollback.write_text(f"table {table}\ndelete table {table}\n{body}")
    _disarm()
    armed = _run(
        ["systemd-run", f"--unit={UNIT}", f"--on-active={module.params['timeout']}", "--timer-property=AccuracySec=1s",
         NFT, "-f", str(rollback)]
    )  # fmt: skip
    if armed.returncode != 0:
        module.fail_json(msg=f"cannot arm the rollback timer: {armed.stderr.strip()}")
    loaded = _run([NFT, "-f", str(path)])
    if loaded.returncode != 0:
        _run([NFT, "-f", str(rollback)])
        _disarm()
        module.fail_json(msg=f"nft refused {path}, previous table restored: {loaded.stderr.strip()}")
    (state_dir / "pending.sha256").write_text(digest + "\n")
    return {"changed": True, "digest": digest, "rollback": str(rollback), "armed_seconds": module.params["timeout"]}


def track(module: AnsibleModule) -> dict[str, Any]:
    """Make conntrack follow this host's connections before the first filtering ruleset.

    A connection opened before conntrack runs in the namespace is picked up mid-stream and its
    packets may be judged invalid, so the controller's own session would be dropped by the first
    ruleset. This table only counts (no verdict); the role reconnects after it, so its next
    session is tracked from its SYN.
    """
    if _run([NFT, "list", "table", "inet", TRACK]).returncode == 0:
        return {"changed": False}
    if module.check_mode:
        return {"changed": True}
    ruleset = (
        f"table inet {TRACK} {{\n\tchain input {{\n\t\ttype filter hook input priority raw; policy accept;\n"
        "\t\tct state new counter\n\t}\n}\n"
    )
    loaded = subprocess.run([NFT, "-f", "-"], input=ruleset, capture_output=True, text=True, check=False)
    if loaded.returncode != 0:
        module.fail_json(msg=f"cannot load the tracking table: {loaded.stderr.strip()}")
    return {"changed": True}


def confirm(module: AnsibleModule) -> dict[str, Any]:
    state_dir = Path(module.params["state_dir"])
    pending = state_dir / "pending.sha256"
    if not pending.exists():
        return {"changed": False}
    if module.check_mode:
        return {"changed": True}
    if not _timer_active():
        pending.unlink()
        module.fail_json(msg="the rollback already fired: the controller could not confirm in time")
    _disarm()
    (state_dir / "applied.sha256").write_text(pending.read_text())
    pending.unlink()
    return {"changed": True}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "table": {"type": "str", "default": "inet cloison"},
            "state": {"type": "str", "choices": ["tracking", "applied", "confirmed"], "default": "applied"},
            "timeout": {"type": "int", "default": 90},
            "state_dir": {"type": "path", "default": "/var/lib/cloison/nft"},
        },
        supports_check_mode=True,
    )
    if module.params["state"] == "applied":
        module.exit_json(**apply(module))
    if module.params["state"] == "tracking":
        module.exit_json(**track(module))
    module.exit_json(**confirm(module))


if __name__ == "__main__":
    main()
