"""Jinja filters that let roles read the plan instead of typing its numbers.

Python decides, Ansible places: a role asks ``segmenting`` for the plan of the deployment
(the inventory folder) and for what a renderer makes of it, and only writes the result. A
filter never writes anything; a missing renderer or an unknown host fails closed with a
message naming what is missing, instead of letting a role fall back to a weaker default.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

_CACHE: dict[tuple[str, float], dict[str, Any]] = {}


def _folder_stamp(folder: Path) -> float:
    """Newest modification time in the deployment folder: a changed inventory is re-planned."""
    return max((p.stat().st_mtime for p in folder.glob("*.y*ml")), default=0.0) + sum(
        p.stat().st_mtime for p in folder.glob("*.json")
    )


def _plan_object(deployment: str) -> Any:
    from segmenting.api import load_plan  # noqa: PLC0415 - imported lazily: ansible-doc must load without it

    try:
        return load_plan(Path(deployment))
    except Exception as exc:  # the plan's own errors carry file, key path and fix
        raise AnsibleFilterError(f"cloison: cannot plan deployment {deployment!r}: {exc}") from exc


def cloison_plan(deployment: Any) -> dict[str, Any]:
    """The plan of a deployment folder as plain data (what ``cloison plan`` prints)."""
    if isinstance(deployment, dict) and "format" in deployment and "hosts" in deployment:
        return deployment
    folder = Path(str(deployment))
    if not folder.is_dir():
        raise AnsibleFilterError(f"cloison: deployment folder {folder} does not exist (set the role's *_deployment)")
    key = (str(folder.resolve()), _folder_stamp(folder))
    if key not in _CACHE:
        from segmenting.plan import plan_to_json  # noqa: PLC0415

        _CACHE.clear()
        _CACHE[key] = json.loads(plan_to_json(_plan_object(str(folder))))
    return _CACHE[key]


def cloison_host(deployment: Any, host_id: str) -> dict[str, Any]:
    """One host (managed host, camera or State endpoint) of the plan."""
    for host in cloison_plan(deployment)["hosts"]:
        if host["id"] == host_id:
            return dict(host)
    raise AnsibleFilterError(f"cloison: host {host_id!r} is not in the plan")


def cloison_host_ip(host_id: str, deployment: Any) -> str:
    """The plan address of a host (argument order suits ``map('cloison_host_ip', deployment)``)."""
    return str(cloison_host(deployment, host_id)["ip"])


def cloison_hosts_of_kind(deployment: Any, kind: str) -> list[dict[str, Any]]:
    return [dict(h) for h in cloison_plan(deployment)["hosts"] if h["kind"] == kind]


def cloison_flow(deployment: Any, flow_id: str) -> dict[str, Any]:
    """A flow of the allowlist by id (ports come from here, never from role defaults)."""
    for flow in cloison_plan(deployment)["flows"]:
        if flow["id"] == flow_id:
            return dict(flow)
    raise AnsibleFilterError(f"cloison: flow {flow_id!r} is not in the plan")


def cloison_flows_to(deployment: Any, host_ids: list[str]) -> list[dict[str, Any]]:
    """Flows of the allowlist that end on one of ``host_ids`` (a machine may play several hosts):
    named as a destination host, or, for flows to a whole zone, one of the hosts' addresses is
    inside the destination. Flows from anywhere to a zone are not about one host and stay out,
    as in the inventory's ``flows_in``."""
    plan = cloison_plan(deployment)
    wanted = set(host_ids)
    ips = [ipaddress.ip_address(h["ip"]) for h in plan["hosts"] if h["id"] in wanted and h.get("ip")]
    if len(ips) != len(wanted):
        missing = sorted(wanted - {h["id"] for h in plan["hosts"]})
        raise AnsibleFilterError(f"cloison: hosts {missing} are not in the plan (or have no address)")

    def ends_here(flow: dict[str, Any]) -> bool:
        if flow["dst_hosts"]:
            return bool(wanted & set(flow["dst_hosts"]))
        nets = [ipaddress.ip_network(c) for c in flow["dst_cidrs"]]
        return not any(n.prefixlen == 0 for n in nets) and any(ip in n for ip in ips for n in nets)

    return [dict(f) for f in plan["flows"] if ends_here(f)]


def cloison_first_port(flow: dict[str, Any]) -> int:
    ports = flow.get("ports") or []
    if not ports:
        raise AnsibleFilterError(f"cloison: flow {flow.get('id')!r} has no port")
    return int(ports[0][0])


def cloison_service_port(deployment: Any, service: str) -> int:
    """The port of a service as the plan's flows carry it (e.g. ``rtsp``), the same in every flow."""
    ports = {int(f["ports"][0][0]) for f in cloison_plan(deployment)["flows"] if f["service"] == service and f["ports"]}
    if len(ports) != 1:
        raise AnsibleFilterError(f"cloison: service {service!r} has ports {sorted(ports)} in the plan, expected one")
    return ports.pop()


def cloison_recorder_cameras(deployment: Any, recorder_id: str) -> list[dict[str, Any]]:
    """The cameras one recorder pulls: cameras spread over the recorders by sorted id.

    The plan lists recorders and cameras; the split is round-robin over the sorted lists so
    that adding a recorder moves as few cameras as a stable split can without a lock.
    """
    plan = cloison_plan(deployment)
    recorders = sorted(h["id"] for h in plan["hosts"] if h["kind"] == "recorder")
    if recorder_id not in recorders:
        raise AnsibleFilterError(f"cloison: {recorder_id!r} is not a recorder of the plan ({', '.join(recorders)})")
    index = recorders.index(recorder_id)
    cams = sorted(plan["cameras"], key=lambda c: c["id"])
    return [dict(c) for n, c in enumerate(cams) if n % len(recorders) == index]


def cloison_camera_certificates(deployment: Any) -> list[dict[str, Any]]:
    """One client certificate request per EAP-TLS camera: CN = the identity the plan names."""
    return [
        {"name": c["identity"], "usage": "client"}
        for c in sorted(cloison_plan(deployment)["cameras"], key=lambda c: c["id"])
        if c["auth"] == "eap-tls" and c.get("identity")
    ]


def cloison_shared_cameras(deployment: Any) -> list[dict[str, Any]]:
    """Cameras of the communes the State convention shares, and only those."""
    plan = cloison_plan(deployment)
    shared = set(plan["state"]["shared_cameras"])
    return [dict(c) for c in plan["cameras"] if c["id"] in shared]


def _secrets(secrets_file: str | None) -> Any:
    from segmenting.render.secrets import GeneratedSecrets, VaultSecrets  # noqa: PLC0415

    if not secrets_file:
        return None
    path = Path(secrets_file).expanduser()
    if path.exists() and path.read_bytes().startswith(b"$ANSIBLE_VAULT"):
        return VaultSecrets(path)
    return GeneratedSecrets(path)


def cloison_render(deployment: Any, name: str, device: str, secrets_file: str | None = None) -> list[dict[str, Any]]:
    """The files the renderer ``name`` of ``segmenting.render.registry`` makes for ``device``.

    Returns ``[{path, text, mode}]``. Secrets (RADIUS shared secrets...) come from an
    ansible-vault file, or from a generated 0600 JSON file outside the repository.
    """
    if isinstance(deployment, dict):
        raise AnsibleFilterError("cloison_render needs the deployment folder, not plan data")
    try:
        from segmenting.render.registry import RENDERERS  # noqa: PLC0415
    except ImportError as exc:
        raise AnsibleFilterError(f"cloison: the renderer registry is not available ({exc})") from exc
    table = RENDERERS if isinstance(RENDERERS, dict) else {r.name: r for r in RENDERERS}
    if name not in table:
        raise AnsibleFilterError(f"cloison: no renderer {name!r} (known: {', '.join(sorted(table))})")
    renderer = table[name]
    plan = _plan_object(str(deployment))
    secrets = _secrets(secrets_file)
    if secrets is None:
        if renderer.needs_secrets:
            raise AnsibleFilterError(f"cloison: renderer {name!r} needs a secrets file (set the role's *_secrets_file)")
        from segmenting.render.secrets import FakeSecrets  # noqa: PLC0415  never read: the renderer needs none

        secrets = FakeSecrets()
    try:
        files = renderer.render(plan, device, secrets)
    except Exception as exc:  # RenderError/UnsupportedFeature carry the fix
        raise AnsibleFilterError(f"cloison: renderer {name!r} refused {device!r}: {exc}") from exc
    if hasattr(secrets, "save"):
        secrets.save()
    return [{"path": f.path, "text": f.text, "mode": f"0{f.mode:o}"} for f in files]


def cloison_render_devices(deployment: Any, name: str) -> list[str]:
    """The devices a renderer produces files for."""
    from segmenting.render.registry import RENDERERS  # noqa: PLC0415

    table = RENDERERS if isinstance(RENDERERS, dict) else {r.name: r for r in RENDERERS}
    return list(table[name].devices(_plan_object(str(deployment))))


def cloison_nft_management(ruleset: str, cidrs: list[str], port: int = 22) -> str:
    """Let an out-of-band management network reach SSH on a rendered ruleset's input chain.

    Production administration comes from the bastion (flow F-csu-admin-ssh, already in the
    ruleset) and ``cidrs`` is empty: the text is returned unchanged. The lab's controller sits on
    an out-of-band management network instead; without this rule the first ruleset would cut it
    off. The rule goes right after the loopback accept of ``chain input`` and nowhere else.
    """
    if not cidrs:
        return ruleset
    lines = ruleset.splitlines(keepends=True)
    in_input = False
    for n, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("chain "):
            in_input = stripped.startswith("chain input")
        if in_input and stripped == 'iif "lo" accept':
            indent = line[: len(line) - len(line.lstrip())]
            rule = (
                f"{indent}ip saddr {{ {', '.join(cidrs)} }} tcp dport {int(port)} counter accept"
                ' comment "out-of-band management (controller)"\n'
            )
            return "".join([*lines[: n + 1], rule, *lines[n + 1 :]])
    raise AnsibleFilterError("cloison_nft_management: no 'iif \"lo\" accept' in chain input of the ruleset")


class FilterModule:
    """Register the filters with Ansible."""

    def filters(self) -> dict[str, Any]:
        return {
            "cloison_plan": cloison_plan,
            "cloison_host": cloison_host,
            "cloison_hosts_of_kind": cloison_hosts_of_kind,
            "cloison_host_ip": cloison_host_ip,
            "cloison_flow": cloison_flow,
            "cloison_flows_to": cloison_flows_to,
            "cloison_first_port": cloison_first_port,
            "cloison_service_port": cloison_service_port,
            "cloison_recorder_cameras": cloison_recorder_cameras,
            "cloison_shared_cameras": cloison_shared_cameras,
            "cloison_camera_certificates": cloison_camera_certificates,
            "cloison_render": cloison_render,
            "cloison_nft_management": cloison_nft_management,
            "cloison_render_devices": cloison_render_devices,
        }
