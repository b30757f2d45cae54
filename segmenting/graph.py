"""The plan as a diagram: zones, sites and the flows allowed between them, in Graphviz DOT.

:func:`plan_to_dot` is pure and deterministic (golden-tested); :func:`render` runs Graphviz's
``dot`` to make SVG/PNG/PDF. To stay readable at the scale of a whole agglomeration, sites are
grouped by transport (fibre = private; VDSL and cellular = untrusted, so every camera flow is
inside an IKEv2 tunnel, ANSSI-HYG-18): each group shows its zones once and lists its sites by
commune, and flows are merged per zone pair, tunnel and maintenance window, labelled with their
services, ports, control IDs and how many sites they concern.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from segmenting.errors import CloisonError, UsageError
from segmenting.model import CSU_ZONES, SITE_ZONES, Zone
from segmenting.plan import Flow, Plan

FORMATS = ("dot", "svg", "png", "pdf")

ZONE_COLOUR: dict[Zone, str] = {
    Zone.CAMERAS: "#dbeafe",
    Zone.QUARANTINE: "#e5e7eb",
    Zone.SITE_MGMT: "#fef3c7",
    Zone.TRANSPORT: "#f3f4f6",
    Zone.RECORDING: "#dcfce7",
    Zone.OPERATORS: "#e0e7ff",
    Zone.SERVICES: "#d1fae5",
    Zone.ADMIN: "#fde68a",
    Zone.MAINTENANCE_VPN: "#fed7aa",
    Zone.DMZ_STATE: "#fecaca",
    Zone.STATE: "#fca5a5",
    Zone.INTERNET: "#f87171",
}

TRANSPORT_TEXT = {
    "fiber": "private transport",
    "vdsl": "untrusted transport: IKEv2 tunnel",
    "cellular": "untrusted transport: IKEv2 tunnel",
}

CONTROLS_PER_LINE = 3


class GraphvizError(CloisonError):
    """``dot`` is missing or failed; the DOT text itself is still available with --format dot."""


def _q(text: str) -> str:
    """A DOT double-quoted string (labels may hold quotes, backslashes and newlines)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _label_lines(lines: Iterable[str]) -> str:
    """A label whose lines are left-aligned (Graphviz's ``\\l``), quoted."""
    body = "".join(line.replace("\\", "\\\\").replace('"', '\\"') + "\\l" for line in lines)
    return f'"{body}"'


def _ports(f: Flow) -> str:
    if not f.ports:
        return f.proto
    return f.proto + "/" + ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in f.ports)


@dataclass
class _Edge:
    services: set[str] = field(default_factory=set)
    controls: set[str] = field(default_factory=set)
    sites: set[str] = field(default_factory=set)
    flows: int = 0


def _node(plan_site_class: dict[str, str], zone: Zone, site: str | None) -> list[str]:
    """Graph node(s) standing for one end of a flow."""
    if zone in (Zone.STATE, Zone.INTERNET):
        return [zone.value]
    if zone in SITE_ZONES and (site is not None or zone != Zone.TRANSPORT):
        if site is not None:
            return [f"{plan_site_class[site]}_{zone.value}"]
        # A deployment flow to a site zone without a site concerns every site.
        return sorted({f"{c}_{zone.value}" for c in plan_site_class.values()})
    return [f"csu_{zone.value}"]


def plan_to_dot(plan: Plan) -> str:
    """The plan as DOT text; same plan, byte-identical text."""
    site_class = {s.id: s.transport for s in plan.sites}
    classes = sorted({s.transport for s in plan.sites}, key=("fiber", "vdsl", "cellular").index)
    hosts_by_zone: dict[str, list[str]] = defaultdict(list)
    for h in plan.hosts:
        if h.zone_id.startswith("csu:"):
            hosts_by_zone[h.zone_id.split(":", 1)[1]].append(h.id)

    out: list[str] = []
    w = out.append
    w("digraph cloison {")
    title = _q(
        f"{plan.name} ({plan.deployment}): segmentation plan\n"
        f"{len(plan.sites)} sites, {len(plan.cameras)} cameras, {len(plan.flows)} allowed flows; "
        "everything not drawn is dropped"
    )
    w(f'  graph [rankdir=LR, compound=true, newrank=true, fontname="Helvetica", fontsize=12, '
      f'labelloc=t, label={title}, nodesep=0.35, ranksep=2.4];')  # fmt: skip
    w('  node [fontname="Helvetica", fontsize=10, shape=box, style="rounded,filled"];')
    w('  edge [fontname="Helvetica", fontsize=8, color="#374151"];')

    # External zones.
    st = plan.state
    w('  subgraph cluster_external {\n    label="external"; style="dashed"; color="#9ca3af";')
    state_lines = [
        "state (CSI L252-3)",
        *(f"{i} {s} {c}" for i, s, c in st.endpoints),
        f"keeps images {st.retention_days} d",
    ]
    w(f'    state [label={_q(chr(10).join(state_lines))}, fillcolor="{ZONE_COLOUR[Zone.STATE]}"];')
    w(f'    internet [label="internet\\n0.0.0.0/0", fillcolor="{ZONE_COLOUR[Zone.INTERNET]}"];')
    w("  }")

    # The CSU.
    w(f'  subgraph cluster_csu {{\n    label={_q(f"CSU ({plan.csu.commune})")}; style="rounded"; color="#1f2937";')
    for zone in CSU_ZONES:
        lines = [zone.value, plan.csu.zones[zone.value]]
        members = sorted(hosts_by_zone.get(zone.value, []))
        if zone == Zone.OPERATORS:
            lines.append(f"{len(plan.viewing)} workstations, communes per habilitation")
        elif members:
            lines.append(", ".join(members[:4]) + (f" +{len(members) - 4}" if len(members) > 4 else ""))
        if zone == Zone.TRANSPORT:
            lines.append(f"VPN endpoint {plan.csu.vpn_endpoint}")
        if zone == Zone.DMZ_STATE:
            lines.append(f"published {st.relay_public}:{st.relay_port}")
            lines.append(f"shares {len(st.shared_cameras)} cameras of {len(st.shared_communes)} communes")
        if zone == Zone.MAINTENANCE_VPN:
            lines.append("only during a maintenance window")
        w(f'    csu_{zone.value} [label={_q(chr(10).join(lines))}, fillcolor="{ZONE_COLOUR[zone]}"];')
    w("  }")

    # Sites, one cluster per transport.
    for cls in classes:
        sites = [s for s in plan.sites if s.transport == cls]
        tunnelled = any(s.tunnelled for s in sites)
        label = f"{cls} sites ({len(sites)}): {TRANSPORT_TEXT.get(cls, cls)}"
        style = "dashed,rounded" if tunnelled else "rounded"
        w(f'  subgraph cluster_{cls} {{\n    label={_q(label)}; style="{style}"; color="#1f2937";')
        n = len(sites)
        for zone in SITE_ZONES:
            extra = {
                Zone.CAMERAS: f"{sum(len(s.cameras) for s in sites)} cameras; never camera to camera",
                Zone.QUARANTINE: "failed 802.1X/MAB; reaches nothing",
                Zone.SITE_MGMT: "gateway + switch",
                Zone.TRANSPORT: "IKEv2 tunnel to the CSU" if tunnelled else "private /30 to the CSU",
            }[zone]
            vlan = ""
            if zone != Zone.TRANSPORT:
                vlans = sorted({s.vlans[zone.value] for s in sites})
                vlan = f", VLAN {','.join(map(str, vlans))}"
            text = f"{zone.value} ×{n}{vlan}\n{extra}"
            w(f'    {cls}_{zone.value} [label={_q(text)}, fillcolor="{ZONE_COLOUR[zone]}"];')
        by_commune: dict[str, list[str]] = defaultdict(list)
        for s in sites:
            by_commune[s.commune].append(f"{s.id} ({len(s.cameras)})")
        lines = [f"{c}: {', '.join(v)}" for c, v in sorted(by_commune.items())]
        w(f'    {cls}_sites [shape=note, style="filled", fillcolor="#ffffff", '
          f"label={_label_lines(['sites by commune (cameras):', *lines])}];")  # fmt: skip
        # The site list sits right of its zones, off the flows' way.
        w(f"    {cls}_{Zone.SITE_MGMT.value} -> {cls}_sites [style=invis];")
        w("  }")
    # Every site zone in one column, so flows from the CSU fan out to the right.
    site_nodes = " ".join(f"{cls}_{zone.value};" for cls in classes for zone in SITE_ZONES)
    w(f"  {{ rank=same; {site_nodes} }}")

    # Flows, merged per (from node, to node, tunnel, window).
    edges: dict[tuple[str, str, bool, str], _Edge] = defaultdict(_Edge)
    for f in plan.flows:
        for src in _node(site_class, f.src_zone, f.src_site):
            for dst in _node(site_class, f.dst_zone, f.dst_site):
                e = edges[(src, dst, f.tunnel, f.window)]
                e.services.add(f"{f.service} {_ports(f)}")
                e.controls.update(f.controls)
                e.sites.update(s for s in (f.src_site, f.dst_site) if s)
                e.flows += 1
    for (src, dst, tunnel, window), e in sorted(edges.items()):
        controls = sorted(e.controls)
        lines = [" · ".join(sorted(e.services))]
        lines += [" ".join(controls[i : i + CONTROLS_PER_LINE]) for i in range(0, len(controls), CONTROLS_PER_LINE)]
        if e.sites:
            lines.append(f"{len(e.sites)} site{'s' if len(e.sites) != 1 else ''}, {e.flows} flows")
        attrs = [f"label={_q(chr(10).join(lines))}"]
        if tunnel:
            attrs.append('style="dashed"')
        if all(x.startswith("ike ") for x in e.services):
            attrs.append("penwidth=2")  # the tunnel itself, which the dashed flows ride in
        if window != "always":
            attrs += ['color="#c2410c"', 'fontcolor="#c2410c"', 'style="dotted"' if not tunnel else "penwidth=2"]
        tail, head = src, dst
        if src.split("_", 1)[0] in site_class.values() and dst.split("_", 1)[0] not in site_class.values():
            # Drawn backwards so that every edge ranks left to right external -> CSU -> sites:
            # the CSU stays in one column instead of being pulled across the sites.
            attrs.append("dir=back")
            tail, head = dst, src
        w(f"  {tail} -> {head} [{', '.join(attrs)}];")

    w('  subgraph cluster_legend {\n    label="legend"; style="rounded"; color="#9ca3af";')
    w('    legend [shape=plaintext, style="", label=' + _label_lines([
        "solid: allowed flow (merged per zone pair; label: services, control IDs, sites)",
        "dashed: carried inside the site's IKEv2 tunnel (untrusted transport)",
        "bold: the IKEv2 tunnel itself (UDP 500/4500 to the CSU VPN endpoint)",
        "orange dotted: only while a maintenance window is open",
        "no edge: dropped (default deny)",
    ]) + "];")  # fmt: skip
    w("  }")
    w("}")
    return "\n".join(out) + "\n"


def render(dot_text: str, fmt: str) -> bytes:
    """Run Graphviz ``dot`` on the text; raises :class:`GraphvizError` if it is missing or fails."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "dot":
        return dot_text.encode()
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizError("Graphviz `dot` is not installed: apt-get install graphviz (or use --format dot)")
    proc = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode(), capture_output=True, check=False, timeout=120)
    if proc.returncode != 0:
        raise GraphvizError(f"dot -T{fmt} failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def format_for(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    raise UsageError(f"cannot tell the format of {path}: name it .svg, .png, .pdf or .dot, or pass --format")


__all__ = ["FORMATS", "GraphvizError", "format_for", "plan_to_dot", "render"]
