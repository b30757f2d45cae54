"""Open or close a maintenance window: elements with a timeout in the ruleset's ``maint_open`` set.

The nftables renderer guards every maintenance flow with ``ip daddr @maint_open``; adding a
site's management subnet with ``timeout`` opens the window and the kernel closes it by itself
when the timeout expires (ANSSI PA-022 R62/R64-: third-party access enabled on demand only).
Every opening and closing is logged to the journal (tag ``cloison-maintenance``), and a
transient systemd timer logs the automatic closing at the moment it happens.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: cloison_maint_window
short_description: Open or close a maintenance window in the nftables maint_open set
options:
  maintainer:
    description: The maintainer's id in the plan (logged, names the closing timer).
    type: str
    required: true
  elements:
    description: Destination networks the maintainer may reach (the sites' management subnets).
    type: list
    elements: str
    required: true
  hours:
    description: Duration of the window.
    type: int
    default: 1
  state:
    description: C(open) or C(closed).
    type: str
    choices: [open, closed]
    default: open
  table:
    description: Family and name of the table holding the set.
    type: str
    default: inet cloison
  set:
    description: Name of the set.
    type: str
    default: maint_open
author: cloison
"""

TAG = "cloison-maintenance"
NFT = "/usr/sbin/nft"


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def _log(message: str) -> None:
    _run(["logger", "-p", "authpriv.notice", "-t", TAG, message])


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "maintainer": {"type": "str", "required": True},
            "elements": {"type": "list", "elements": "str", "required": True},
            "hours": {"type": "int", "default": 1},
            "state": {"type": "str", "choices": ["open", "closed"], "default": "open"},
            "table": {"type": "str", "default": "inet cloison"},
            "set": {"type": "str", "default": "maint_open"},
        },
        supports_check_mode=True,
    )
    p: dict[str, Any] = module.params
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", p["maintainer"]):
        module.fail_json(msg=f"maintainer {p['maintainer']!r} is not a plan id")
    table = p["table"].split()
    listed = _run([NFT, "list", "set", *table, p["set"]])
    if listed.returncode != 0:
        module.fail_json(msg=f"no set {p['set']} in table {p['table']}: {listed.stderr.strip()}")
    unit = f"cloison-maint-close-{p['maintainer']}"
    elements = ", ".join(p["elements"])
    if module.check_mode:
        module.exit_json(changed=True, elements=p["elements"])
    if p["state"] == "open":
        seconds = p["hours"] * 3600
        # Re-opening replaces the element, so the new duration counts from now.
        _run([NFT, "delete", "element", *table, p["set"], f"{{ {elements} }}"])
        added = _run(
            [
                NFT,
                "add",
                "element",
                *table,
                p["set"],
                f"{{ {', '.join(e + f' timeout {seconds}s' for e in p['elements'])} }}",
            ]
        )
        if added.returncode != 0:
            module.fail_json(msg=f"cannot open the window: {added.stderr.strip()}")
        _log(f"window opened maintainer={p['maintainer']} to={elements} hours={p['hours']}")
        _run(["systemctl", "stop", f"{unit}.timer"])
        _run(["systemctl", "reset-failed", f"{unit}.timer", f"{unit}.service"])
        _run(
            ["systemd-run", f"--unit={unit}", f"--on-active={seconds}", "logger", "-p", "authpriv.notice", "-t", TAG,
             f"window closed (expired) maintainer={p['maintainer']} to={elements}"]
        )  # fmt: skip
        module.exit_json(changed=True, elements=p["elements"], seconds=seconds)
    _run([NFT, "delete", "element", *table, p["set"], f"{{ {elements} }}"])
    _run(["systemctl", "stop", f"{unit}.timer"])
    _log(f"window closed (by operator) maintainer={p['maintainer']} to={elements}")
    module.exit_json(changed=True, elements=p["elements"])


if __name__ == "__main__":
    main()
