"""First-boot site values of an appliance image (``/etc/cloison/site.json``), taken from the plan.

An image carries no site-specific value; the installer writes them beside it and the first boot
applies them (:data:`segmenting.image.build.FIRSTBOOT_SCRIPT`): the host name, the deployment's
administrator keys for the named account (ANSSI BP-028 R33, PA-022 R30: root logins are
refused), the administration-side address and the addresses sshd binds (ANSSI PA-022 R17). The
values come from the plan of the deployment for one named host, never typed twice::

    {"hostname": "gw-s-puy-sorel-1",
     "authorized_keys": ["ssh-ed25519 AAAA… bastion"],
     "addresses": [{"interface": "eth0", "address": "10.64.71.1/24"}],
     "ssh_listen": ["10.64.71.1"]}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from ipaddress import IPv4Interface, IPv6Interface, ip_address, ip_interface, ip_network
from pathlib import Path
from typing import Any

from segmenting.errors import UsageError
from segmenting.plan import Plan

# The plan host kinds an image of each role may stand for.
ROLE_KINDS = {
    "edge-gateway": {"gateway"},
    "csu-services": {"radius", "pki", "collector", "ntp", "dns"},
    "dmz-relay": {"relay"},
    "ids-sensor": {"gateway"},  # the sensor sits on a site gateway's mirror port
}
INTERFACE_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@")


def from_plan(
    plan: Plan,
    host_id: str,
    role: str,
    admin_keys: Sequence[str],
    *,
    interface: str,
    management: Sequence[str] = (),
) -> dict[str, Any]:
    """The site values for ``host_id``: its plan address on ``interface``, sshd on it and ``management``.

    ``management`` names the addresses the controller reaches the appliance on when they are not
    the plan's (the lab's management network, a test harness), as the hardening role adds
    ``ansible_host`` to the plan addresses.
    """
    known = {h.id: h for h in plan.hosts}
    host = known.get(host_id)
    if host is None:
        raise UsageError(f"{plan.deployment}: no host {host_id!r} in the plan; name one of its hosts (--host)")
    kinds = ROLE_KINDS.get(role, set())
    if host.kind not in kinds:
        raise UsageError(
            f"{plan.deployment}: host {host_id!r} is a {host.kind}, not something a {role} image stands for "
            f"({', '.join(sorted(kinds)) or 'no plan kind'}); pick a host of that kind (--host)"
        )
    zone = next((z for z in plan.zones if z.id == host.zone_id), None)
    cidr = next((c for c in (zone.cidrs if zone else ()) if ip_address(host.ip) in ip_network(c)), None)
    if cidr is None:
        raise UsageError(
            f"{plan.deployment}: host {host_id!r} ({host.ip}) lies in no subnet of its zone {host.zone_id}"
        )
    values = {
        "hostname": host.id,
        "authorized_keys": [k.strip() for k in admin_keys if k.strip()],
        "addresses": [{"interface": interface, "address": f"{host.ip}/{ip_network(cidr).prefixlen}"}],
        "ssh_listen": sorted({host.ip, *management}, key=lambda a: (ip_address(a).version, ip_address(a))),
    }
    return validate(values, f"{plan.deployment}:{host_id}")


def validate(values: Any, where: str) -> dict[str, Any]:
    """Check site values before they reach an image: a bad value would lock administrators out."""
    if not isinstance(values, dict) or not isinstance(values.get("hostname"), str) or not values["hostname"]:
        raise UsageError(f'{where}: site values need a non-empty "hostname"')
    keys = values.get("authorized_keys", [])
    if not isinstance(keys, list) or not all(isinstance(k, str) and k.startswith(("ssh-", "ecdsa-")) for k in keys):
        raise UsageError(f'{where}: "authorized_keys" must be a list of OpenSSH public keys (ssh-ed25519 …)')
    addresses = values.get("addresses", [])
    for entry in addresses if isinstance(addresses, list) else [None]:
        if not isinstance(entry, dict) or not set(str(entry.get("interface", ""))) <= INTERFACE_CHARS:
            raise UsageError(f'{where}: each of "addresses" is {{"interface": NAME, "address": ADDR/PREFIX}}')
        _parse(entry.get("address"), ip_interface, where, "addresses")
    listen = values.get("ssh_listen", [])
    for addr in listen if isinstance(listen, list) else [None]:
        _parse(addr, ip_address, where, "ssh_listen")
    return dict(values)


def _parse(value: Any, parse: Any, where: str, key: str) -> None:
    try:
        parsed = parse(value)
    except ValueError:
        raise UsageError(f'{where}: {value!r} in "{key}" is not an IP address') from None
    if isinstance(parsed, IPv4Interface | IPv6Interface) and "/" not in str(value):
        raise UsageError(f'{where}: {value!r} in "{key}" needs its prefix length (ADDR/PREFIX)')


def read(path: Path) -> dict[str, Any]:
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read the site values ({exc})") from None
    return validate(values, str(path))
