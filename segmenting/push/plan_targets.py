"""Deployment folder → plan → rendered switch configs → push targets.

The switch's address and netmiko device type come from the plan (``SwitchPlan.mgmt_ip``,
``netmiko_device_type``); its config from the switch renderer of its platform; the login
from the command line (``--username`` and ``--key-file`` or ``--password-env``), never from
the inventory.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from segmenting.api import load_plan
from segmenting.errors import UsageError
from segmenting.push.targets import DeviceTarget, PushItem
from segmenting.render.registry import render_all
from segmenting.render.secrets import GeneratedSecrets, SecretsProvider, VaultSecrets

# The renderer that produces each switch platform's config (segmenting.render.registry).
SWITCH_RENDERERS = ("cisco-ios", "aruba-aoscx", "hp-procurve", "ovs")


def targets_from_deployment(args: argparse.Namespace) -> list[PushItem]:
    if args.key_file is None and args.password_env is None:
        raise UsageError("push switches DIR: give --key-file FILE or --password-env VAR")
    secrets_path: Path | None = args.secrets
    if secrets_path is None or not secrets_path.exists():
        raise UsageError(
            "push switches DIR: --secrets FILE is required (the same secrets the configs were "
            "rendered with, e.g. OUT/.secrets/secrets.json or an ansible-vault file)"
        )
    provider: SecretsProvider
    if secrets_path.read_bytes().startswith(b"$ANSIBLE_VAULT"):
        provider = VaultSecrets(secrets_path)
    else:
        provider = GeneratedSecrets(secrets_path)
    plan = load_plan(args.folder, args.as_of)
    switches = {site.switch.id: site for site in plan.sites}
    items: list[PushItem] = []
    for _renderer, rendered in render_all(plan, provider, list(SWITCH_RENDERERS)):
        site = switches[rendered.device]
        if any(i.target.name == rendered.device for i in items):
            continue  # the first file of a switch renderer is its configuration
        target = DeviceTarget(
            name=rendered.device,
            host=site.switch.mgmt_ip,
            device_type=site.switch.netmiko_device_type,
            username=args.username,
            key_file=args.key_file,
            password_env=args.password_env,
            site=site.id,
        )
        items.append(PushItem(target, rendered.text))
    return items
