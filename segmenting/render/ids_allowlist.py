"""The IDS allowlist (format ``cloison-ids-allowlist`` v1), exactly as docs/ids-allowlist.md says.

Everything is resolved to addresses so the sensors (``ids/allowlist.py``) never need the plan
code. Rendered once per deployment for the IDS collector host(s); the sensors on the edge
gateways receive the same file (ANSSI-PG075-R15: detection knows what is legitimate).

Each site's edge gateway is the DHCP server (reservations from the plan's camera addresses)
and the router of its cameras and quarantine segments: those two addresses are listed in
``services.dhcp`` and ``services.routers``. What the plan does not hold is left ``null`` rather
than guessed: gateway MACs (the sensor learns the first MAC speaking for a listed router).
"""

from __future__ import annotations

import json
from typing import Any

from segmenting.plan import Plan
from segmenting.render._util import digest, hosts_of_kind, ips_of_kind
from segmenting.render.base import RenderedFile, RenderError
from segmenting.render.secrets import SecretsProvider

FORMAT = "cloison-ids-allowlist"
VERSION = 1
COLLECTOR_PORT = 6514
FILE = "ids-allowlist.json"


def devices(plan: Plan) -> list[str]:
    return [h.id for h in hosts_of_kind(plan, "ids_collector")]


def document(plan: Plan) -> dict[str, Any]:
    zones: list[dict[str, Any]] = []
    for z in plan.zones:
        subnets = list(z.cidrs)
        if z.id == "internet" and "::/0" not in subnets:
            subnets.append("::/0")  # the doc's fallback covers both families
        zones.append({"id": z.id, "zone": z.zone.value, "site": z.site, "subnets": subnets, "vlan": z.vlan})
    hosts = [
        {
            "id": h.id,
            "kind": h.kind,
            "zone_id": h.zone_id,
            "site": h.site,
            "ip": h.ip,
            "mac": h.mac,
            "commune": h.commune,
        }
        for h in plan.hosts
    ]
    flows = [
        {
            "id": f.id,
            "proto": f.proto,
            "ports": [[lo, hi] for lo, hi in f.ports],
            "src": {"zone": f.src_zone.value, "cidrs": list(f.src_cidrs)},
            "dst": {"zone": f.dst_zone.value, "cidrs": list(f.dst_cidrs)},
            "service": f.service,
            "purpose": f.purpose,
            "controls": list(f.controls),
            "window": f.window,
        }
        for f in plan.flows
    ]
    collectors = ips_of_kind(plan, "ids_collector")
    gateways = [
        {"ip": ip, "mac": None, "site": s.id}
        for s in plan.sites
        for ip in (s.gateway.camera_gateway, s.gateway.quarantine_gateway)
    ]
    return {
        "format": FORMAT,
        "version": VERSION,
        "deployment": plan.deployment,
        "plan_digest": digest(plan),
        "zones": zones,
        "hosts": hosts,
        "flows": flows,
        "services": {
            "dns": ips_of_kind(plan, "dns"),
            "ntp": ips_of_kind(plan, "ntp"),
            "dhcp": gateways,
            "routers": gateways,
            "collector": {"host": collectors[0], "port": COLLECTOR_PORT} if collectors else None,
        },
    }


def render_text(plan: Plan) -> str:
    """One zone, host or flow per line: diffable by a person, fast to write (C JSON encoder)."""
    doc = document(plan)
    lines = ["{"]
    keys = list(doc)
    for i, key in enumerate(keys):
        value = doc[key]
        end = "," if i < len(keys) - 1 else ""
        if isinstance(value, list) and value:
            lines.append(f" {json.dumps(key)}: [")
            lines += [f"  {_compact(item)}{',' if j < len(value) - 1 else ''}" for j, item in enumerate(value)]
            lines.append(f" ]{end}")
        elif isinstance(value, dict) and value:
            lines.append(f" {json.dumps(key)}: {{")
            sub = list(value)
            lines += [
                f"  {json.dumps(k)}: {_compact(value[k])}{',' if j < len(sub) - 1 else ''}" for j, k in enumerate(sub)
            ]
            lines.append(f" }}{end}")
        else:
            lines.append(f" {json.dumps(key)}: {_compact(value)}{end}")
    lines.append("}")
    return "\n".join(lines) + "\n"


# One encoder for every line: json.dumps with options builds a new encoder per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "))


def _compact(value: Any) -> str:
    return _ENCODER.encode(value)


def render(plan: Plan, device: str, secrets: SecretsProvider) -> list[RenderedFile]:
    del secrets
    if device not in devices(plan):
        raise RenderError(f"{device}: not an IDS collector of {plan.deployment}")
    return [RenderedFile(device, FILE, render_text(plan))]
