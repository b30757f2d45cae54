"""Push a switch's rendered configuration through the project's push engine, from the controller.

The candidate is what the switch's renderer (``segmenting.render.registry``: cisco-ios,
aruba-aoscx, hp-procurve, ovs) makes of the plan; the push goes through
``segmenting.push.engine.PushEngine``: back up, diff, apply, verify, save, and roll back to the
backup on any failure. In check mode the engine runs dry and the module returns the diff it
predicts, which ``--check --diff`` prints. Runs on the controller (``delegate_to: localhost``)
because netmiko and the engine live in the project's environment, not on the switch.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from segmenting.api import load_plan
from segmenting.push.engine import PushEngine
from segmenting.push.targets import DeviceTarget, PushItem
from segmenting.render.registry import get
from segmenting.render.secrets import GeneratedSecrets, VaultSecrets

DOCUMENTATION = r"""
module: cloison_switch
short_description: Push the plan's configuration to an access switch, with rollback
options:
  deployment:
    description: The deployment folder.
    type: path
    required: true
  device:
    description: The switch's id in the plan (sw-<site>).
    type: str
    required: true
  host:
    description: Address to connect to.
    type: str
    required: true
  username:
    description: Login.
    type: str
    default: cloison
  key_file:
    description: SSH private key (mode 0600).
    type: path
  password_env:
    description: Name of an environment variable holding the password (from ansible-vault).
    type: str
  known_hosts:
    description: known_hosts file pinning the switch's host key.
    type: path
  device_type:
    description: netmiko device type; defaults to the plan's.
    type: str
  renderer:
    description: Renderer name; defaults to the one of the switch's platform.
    type: str
  secrets_file:
    description: Shared secrets file (ansible-vault or generated 0600 JSON outside the repository).
    type: path
    required: true
author: cloison
"""

RENDERER_OF_PLATFORM = {
    "cisco_ios": "cisco-ios",
    "aruba_aoscx": "aruba-aoscx",
    "hp_procurve": "hp-procurve",
    "ovs": "ovs",
}


def run(module: AnsibleModule) -> dict[str, Any]:
    p = module.params
    plan = load_plan(Path(p["deployment"]))
    switch = next((s.switch for s in plan.sites if s.switch.id == p["device"]), None)
    if switch is None:
        module.fail_json(msg=f"{p['device']} is not a switch of the plan")
        raise AssertionError  # unreachable: fail_json exits
    secrets_path = Path(p["secrets_file"]).expanduser()
    is_vault = secrets_path.exists() and secrets_path.read_bytes().startswith(b"$ANSIBLE_VAULT")
    secrets = VaultSecrets(secrets_path) if is_vault else GeneratedSecrets(secrets_path)
    renderer = get(p["renderer"] or RENDERER_OF_PLATFORM[switch.platform])
    files = renderer.render(plan, switch.id, secrets)
    if isinstance(secrets, GeneratedSecrets):
        secrets.save()
    candidate = "".join(f.text for f in files)
    target = DeviceTarget(
        name=switch.id, host=p["host"], device_type=p["device_type"] or switch.netmiko_device_type,
        username=p["username"], key_file=Path(p["key_file"]) if p["key_file"] else None,
        password_env=p["password_env"], known_hosts=Path(p["known_hosts"]) if p["known_hosts"] else None,
        site=switch.site,
    )  # fmt: skip
    log = io.StringIO()
    engine = PushEngine([PushItem(target, candidate)], workers=1, dry_run=module.check_mode, out=log, progress=False)
    report = engine.run()
    result = report.results[0]
    out: dict[str, Any] = {
        "changed": bool(result.diff),
        "status": result.status,
        "push_id": report.push_id,
        "diff": {
            "before_header": f"{switch.id} (running)",
            "after_header": f"{switch.id} (plan)",
            "prepared": result.diff,
        },
    }
    if not module.check_mode and not report.committed:
        module.fail_json(msg=f"{switch.id}: push {result.status}: {result.detail}", log=log.getvalue(), **out)
    return out


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "deployment": {"type": "path", "required": True},
            "device": {"type": "str", "required": True},
            "host": {"type": "str", "required": True},
            "username": {"type": "str", "default": "cloison"},
            "key_file": {"type": "path"},
            "password_env": {"type": "str", "no_log": False},
            "known_hosts": {"type": "path"},
            "device_type": {"type": "str"},
            "renderer": {"type": "str"},
            "secrets_file": {"type": "path", "required": True},
        },
        supports_check_mode=True,
    )
    try:
        module.exit_json(**run(module))
    except Exception as exc:  # the engine's errors carry the device and the fix
        module.fail_json(msg=f"{module.params['device']}: {exc}")


if __name__ == "__main__":
    main()
