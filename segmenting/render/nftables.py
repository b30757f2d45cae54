"""nftables rulesets: each site's edge gateway, the CSU core firewall, the State bridge's DMZ.

Implements the allowlist of the plan (DESIGN.md "Zones", ANSSI PA-022 R16/R18 "cloisonnement",
ANSSI-HYG-23 filtering): an ``inet`` table named ``cloison`` with named sets built from the
plan, ``ct state invalid`` dropped and ``established,related`` accepted first, default ``drop``
policy on every base chain, and one rule per allowlisted flow carrying the flow id as its
comment. Every drop is counted and copied to NFLOG group :data:`LOG_GROUP` (LAB-NOTES: kernel
``log`` lines are lost inside a network namespace, NFLOG is not).

Maintenance-window flows (``window == "maintenance"``) also need their destination in the set
``maint_open``, empty by default; opening a window adds an element with a timeout, so the
window closes by itself (ANSSI PA-022 R62)::

    nft add element inet cloison maint_open '{ 10.64.3.0/24 timeout 4h }'

Only the ``cloison`` table is replaced (``table``/``delete table``/``table`` in one transaction):
other tables on the host are left alone.

Flows carried inside a site's IKEv2 tunnel are matched with ``meta ipsec exists`` (decrypted on
the way in) and ``rt ipsec exists`` (to be encrypted on the way out) on the edge gateway, so a
camera flow that would leave a VDSL/cellular site outside the tunnel is dropped (GR-TUNNEL).
Those matches need kernel IPsec (xfrm); the lab's userspace ``kernel-libipsec`` has none, so
``nft-gateway-libipsec`` renders the same ruleset matching the ``ipsec0`` TUN device instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from segmenting.model import Zone
from segmenting.plan import Flow, Host, Plan
from segmenting.render._util import contains, flows_of_site, header, hosts_of_kind, port_text, site_of_device
from segmenting.render.base import RenderedFile, RenderError, UnsupportedFeature
from segmenting.render.secrets import SecretsProvider

TABLE = "cloison"
LOG_GROUP = 1  # NFLOG group the IDS / collector reads; one group, chain named in the prefix
MAINT_SET = "maint_open"
ANY = "0.0.0.0/0"
_PROTOS = {"tcp", "udp", "icmp", "any"}


def _set_name(text: str) -> str:
    return text.replace("-", "_").replace(":", "_")


@dataclass
class _Sets:
    """Named sets of a ruleset: one per distinct list of addresses, named after what it holds."""

    local_site: str | None
    by_cidrs: dict[tuple[str, ...], str] = field(default_factory=dict)
    elements: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def name(self, cidrs: tuple[str, ...], hint: str) -> str:
        key = tuple(sorted(set(cidrs)))
        if key in self.by_cidrs:
            return self.by_cidrs[key]
        base = _set_name(hint)
        name, n = base, 1
        while name in self.elements:
            n += 1
            name = f"{base}_{n}"
        self.by_cidrs[key] = name
        self.elements[name] = key
        return name

    def render(self) -> list[str]:
        out: list[str] = []
        for name in sorted(self.elements):
            elems = self.elements[name]
            interval = any(not e.endswith("/32") for e in elems)
            shown = [e[:-3] if e.endswith("/32") else e for e in elems]
            out.append(f"\tset {name} {{")
            out.append("\t\ttype ipv4_addr")
            if interval:
                out.append("\t\tflags interval")
            out.append(f"\t\telements = {{ {', '.join(shown)} }}")
            out.append("\t}")
            out.append("")
        return out


_KIND_SETS = {
    "recorder": "recorders", "radius": "radius_servers", "collector": "log_collectors",
    "ids_collector": "ids_collectors", "bastion": "bastions", "vpn": "vpn_concentrators",
    "ntp": "ntp_servers", "dns": "dns_servers", "relay": "state_relays", "operator": "operators",
    "pki": "pki_servers", "firewall": "firewalls", "ids_sensor": "ids_sensors",
}  # fmt: skip


def _hint(
    plan: Plan,
    sets: _Sets,
    zone: Zone,
    *,
    site: str | None,
    hosts: tuple[str, ...],
    kinds: tuple[str, ...],
    cidrs: tuple[str, ...],
) -> str:
    """A readable set name: what the addresses are (role, zone), prefixed by a foreign site."""
    prefix = "" if site is None or site == sets.local_site else f"{site}_"
    if zone == Zone.TRANSPORT:
        if kinds == ("firewall",):  # the core firewall's own address (F-csu-fw-ssh), not a WAN
            return _KIND_SETS["firewall"]
        return "vpn_public" if kinds == ("vpn",) else f"{prefix}wan"
    if zone == Zone.STATE:
        return "state_endpoints"
    if hosts:
        host_kinds = sorted({k for k in (_kind(plan, h) for h in hosts) if k})
        if host_kinds == ["camera"]:
            return f"{prefix}shared_cameras" if zone == Zone.CAMERAS else f"{prefix}listed_cameras"
        if len(host_kinds) == 1:
            return f"{prefix}{_KIND_SETS.get(host_kinds[0], host_kinds[0])}"
    if site is None:
        # Several CSU zone subnets at once (e.g. "every internal CSU zone"): not one zone's name.
        return "csu_internal" if len(cidrs) > 1 else f"csu_{zone.value}"
    return f"{prefix}{zone.value}"


_KINDS: dict[int, dict[str, str]] = {}


def _kind(plan: Plan, host: str) -> str:
    table = _KINDS.get(id(plan))
    if table is None or len(table) != len(plan.hosts):
        _KINDS.clear()
        table = {h.id: h.kind for h in plan.hosts}
        _KINDS[id(plan)] = table
    return table.get(host, "")


@dataclass(frozen=True)
class _Rule:
    flow: Flow
    ipsec: str = ""  # "", "in" or "out": the flow must be (de)capsulated by IPsec here


# How "inside the tunnel" is matched: kernel IPsec (xfrm) marks packets; the lab's userspace ESP
# (strongSwan kernel-libipsec, LAB-NOTES "VPN") routes them through its TUN device instead.
LIBIPSEC_IF = "ipsec0"
TUNNEL_MATCH = {
    "xfrm": {"in": "meta ipsec exists", "out": "rt ipsec exists"},
    "libipsec": {"in": f'iifname "{LIBIPSEC_IF}"', "out": f'oifname "{LIBIPSEC_IF}"'},
}


def _match(plan: Plan, sets: _Sets, rule: _Rule, maint: str | None, tunnel: str) -> str:
    fl = rule.flow
    if fl.proto not in _PROTOS:
        raise UnsupportedFeature("nftables", f"protocol {fl.proto}", f"flow {fl.id}")
    parts: list[str] = []
    if rule.ipsec:
        parts.append(TUNNEL_MATCH[tunnel][rule.ipsec])
    for direction, cidrs, zone, site, hosts, kinds in (
        ("saddr", fl.src_cidrs, fl.src_zone, fl.src_site, fl.src_hosts, ()),
        ("daddr", fl.dst_cidrs, fl.dst_zone, fl.dst_site, fl.dst_hosts, fl.dst_kinds),
    ):
        if not cidrs:
            raise RenderError(f"flow {fl.id}: no {direction[0:1]}{'rc' if direction == 'saddr' else 'st'} address")
        if ANY in cidrs:
            continue  # "internet": any address, nothing to match
        name = sets.name(cidrs, _hint(plan, sets, zone, site=site, hosts=hosts, kinds=kinds, cidrs=cidrs))
        parts.append(f"ip {direction} @{name}")
    if fl.window == "maintenance":
        if maint is None:
            raise RenderError(f"flow {fl.id}: maintenance window flow on a device without the {MAINT_SET} set")
        parts.append(f"ip daddr @{MAINT_SET}")
    elif fl.window != "always":
        raise UnsupportedFeature("nftables", f"window {fl.window!r}", f"flow {fl.id}")
    if fl.proto in ("tcp", "udp"):
        ports = port_text(fl.ports)
        if ports:
            parts.append(f"{fl.proto} dport {ports[0] if len(ports) == 1 else '{ ' + ', '.join(ports) + ' }'}")
        else:
            parts.append(f"meta l4proto {fl.proto}")
    elif fl.proto == "icmp":
        if fl.ports:
            raise UnsupportedFeature("nftables", "icmp with ports", f"flow {fl.id}")
        parts.append("meta l4proto icmp")
    parts.append(f'counter accept comment "{fl.id}"')
    return " ".join(parts)


def _chain(name: str, hook: str, rules: list[str], extra: list[str] | None = None) -> list[str]:
    return [
        f"\tchain {name} {{",
        f"\t\ttype filter hook {hook} priority filter; policy drop;",
        f'\t\tct state invalid counter log prefix "cloison {name} invalid: " group {LOG_GROUP} drop',
        "\t\tct state established,related accept",
        *(f"\t\t{line}" for line in extra or []),
        *(f"\t\t{r}" for r in rules),
        f'\t\tcounter log prefix "cloison {name} drop: " group {LOG_GROUP} drop',
        "\t}",
    ]


def _ruleset(
    plan: Plan,
    title: str,
    *,
    sets: _Sets,
    chains: dict[str, list[_Rule]],
    maint_hours: int | None,
    notes: list[str],
    nat: list[str] | None = None,
    tunnel: str = "xfrm",
) -> str:
    maint = MAINT_SET if maint_hours else None
    rendered: dict[str, list[str]] = {}
    for chain, rules in chains.items():
        rendered[chain] = [_match(plan, sets, r, maint, tunnel) for r in rules]
    lines = [
        "#!/usr/sbin/nft -f",
        header(plan, title).rstrip("\n"),
        *(f"# {n}" for n in notes),
        f"# Drops: counter + NFLOG group {LOG_GROUP}. Default policy: drop.",
        "",
        f"table inet {TABLE}",
        f"delete table inet {TABLE}",
        "",
        f"table inet {TABLE} {{",
        *sets.render(),
    ]
    if maint_hours:
        lines += [
            "\t# Maintenance windows: empty = closed. Open one with an element that expires:",
            f"\t#   nft add element inet {TABLE} {MAINT_SET} '{{ <site_mgmt subnet> timeout {maint_hours}h }}'",
            f"\tset {MAINT_SET} {{",
            "\t\ttype ipv4_addr",
            "\t\tflags interval, timeout",
            f"\t\ttimeout {maint_hours}h",
            "\t}",
            "",
        ]
    if nat:
        lines += [
            "\tchain prerouting {",
            "\t\ttype nat hook prerouting priority dstnat; policy accept;",
            *(f"\t\t{rule}" for rule in nat),
            "\t}",
            "",
        ]
    hooks = {"input": "input", "forward": "forward", "output": "output"}
    for i, chain in enumerate(("input", "forward", "output")):
        extra = ['iif "lo" accept'] if chain == "input" else (['oif "lo" accept'] if chain == "output" else [])
        lines += _chain(chain, hooks[chain], rendered.get(chain, []), extra)
        if i < 2:
            lines.append("")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _host_rules(plan: Plan, ip: str, flows: list[Flow]) -> tuple[list[_Rule], list[_Rule]]:
    """Flows that end at / start from the host itself: its input and output chains."""
    inp = [_Rule(f) for f in flows if contains(f.dst_cidrs, ip)]
    out = [_Rule(f) for f in flows if contains(f.src_cidrs, ip)]
    return inp, out


# --- the three kinds of firewall --------------------------------------------------------------


def gateway_devices(plan: Plan) -> list[str]:
    return [s.gateway.id for s in plan.sites]


def render_gateway(plan: Plan, device: str, secrets: SecretsProvider) -> list[RenderedFile]:
    """Edge gateway of a site: site ↔ (tunnel) ↔ CSU, tunnel matched as kernel IPsec (xfrm)."""
    del secrets
    return [RenderedFile(device, "nftables.conf", _gateway_text(plan, device, "xfrm"))]


def libipsec_devices(plan: Plan) -> list[str]:
    return [s.gateway.id for s in plan.sites if s.tunnelled]


def render_gateway_libipsec(plan: Plan, device: str, secrets: SecretsProvider) -> list[RenderedFile]:
    """The same ruleset for a lab gateway whose ESP runs in userspace (kernel-libipsec): the
    tunnel is the ``ipsec0`` TUN device, not an xfrm mark (LAB-NOTES: no kernel ESP here)."""
    del secrets
    site = site_of_device(plan, device, "gw-")
    if not site.tunnelled:
        raise RenderError(f"{device}: {site.id} is on {site.transport}, it has no tunnel")
    return [RenderedFile(device, "nftables-libipsec.conf", _gateway_text(plan, device, "libipsec"))]


def _gateway_text(plan: Plan, device: str, tunnel: str) -> str:
    site = site_of_device(plan, device, "gw-")
    gw = site.gateway
    flows = flows_of_site(plan, site.id)
    own = [f for f in flows if f.service == "ike" and f.src_site == site.id]
    routed = [f for f in flows if f not in own]

    def rule(f: Flow) -> _Rule:
        if not site.tunnelled:
            return _Rule(f)
        if not f.tunnel:
            # GR-TUNNEL: on an untrusted transport every flow to or from the CSU is tunnelled.
            raise RenderError(f"flow {f.id}: site {site.id} is on {site.transport} but the flow is not tunnelled")
        return _Rule(f, "out" if f.src_site == site.id else "in")

    inp = [rule(f) for f in routed if contains(f.dst_cidrs, gw.mgmt_ip)]
    out = [rule(f) for f in routed if contains(f.src_cidrs, gw.mgmt_ip)] + [_Rule(f) for f in own]
    fwd = [rule(f) for f in routed]
    hours = max((m.max_window_hours for m in plan.maintainers if site.id in m.sites), default=0)
    how = "kernel IPsec" if tunnel == "xfrm" else f"userspace ESP on {LIBIPSEC_IF}"
    notes = [
        f"Site {site.id} ({site.name}), transport {site.transport}"
        + (f", every CSU flow inside the IKEv2 tunnel ({how})" if site.tunnelled else ""),
    ]
    return _ruleset(
        plan,
        f"nftables ruleset of edge gateway {gw.id}",
        sets=_Sets(site.id),
        chains={"input": inp, "forward": fwd, "output": out},
        maint_hours=hours,
        notes=notes,
        tunnel=tunnel,
    )


def csu_devices(plan: Plan) -> list[str]:
    return [h.id for h in hosts_of_kind(plan, "firewall")]


def render_csu(plan: Plan, device: str, secrets: SecretsProvider) -> list[RenderedFile]:
    """CSU core firewall: routes between the CSU zones and every site; forwards the allowlist."""
    del secrets
    host = _host(plan, device, "firewall")
    inp, out = _host_rules(plan, host.ip, list(plan.flows))
    fwd = [_Rule(f) for f in plan.flows if not contains(f.dst_cidrs, host.ip) and not contains(f.src_cidrs, host.ip)]
    hours = max((m.max_window_hours for m in plan.maintainers), default=0)
    text = _ruleset(
        plan,
        f"nftables ruleset of the CSU core firewall {device}",
        sets=_Sets(None),
        chains={"input": inp, "forward": fwd, "output": out},
        maint_hours=hours,
        notes=[f"{len(fwd)} allowlisted flows forwarded between the CSU zones, the sites and the outside"],
        nat=[_relay_dnat(plan)],
    )
    return [RenderedFile(device, "nftables.conf", text)]


def _relay_dnat(plan: Plan) -> str:
    """The State reaches the relay at its published address (CSI L252-3 convention); the CSU
    firewall translates it to the relay's DMZ address, for the relay port only."""
    st = plan.state
    return (
        f"ip daddr {st.relay_public} tcp dport {st.relay_port} dnat ip to {st.relay_ip} "
        f'comment "relay {st.relay_host} published for the State"'
    )


def dmz_devices(plan: Plan) -> list[str]:
    return [h.id for h in hosts_of_kind(plan, "relay")]


def render_dmz(plan: Plan, device: str, secrets: SecretsProvider) -> list[RenderedFile]:
    """The State bridge's DMZ firewall, on the relay host itself: the State reaches the relay's
    published port only, the relay reads the shared cameras only (CSI L252-3, GR-STATE-RELAY)."""
    del secrets
    host = _host(plan, device, "relay")
    if host.zone_id != f"csu:{Zone.DMZ_STATE.value}":
        raise RenderError(f"{device}: the relay must sit in dmz_state, not {host.zone_id}")
    inp, out = _host_rules(plan, host.ip, list(plan.flows))
    text = _ruleset(
        plan,
        f"nftables ruleset of the State bridge relay {device} (DMZ firewall)",
        sets=_Sets(None),
        chains={"input": inp, "forward": [], "output": out},
        maint_hours=None,
        notes=[f"Convention {plan.state.reference}: the State reaches {plan.state.relay_port}/tcp only"],
    )
    return [RenderedFile(device, "nftables.conf", text)]


def _host(plan: Plan, device: str, kind: str) -> Host:
    try:
        host = plan.host(device)
    except KeyError:
        raise RenderError(f"{device}: no such host in the plan of {plan.deployment}") from None
    if host.kind != kind:
        raise RenderError(f"{device}: is a {host.kind}, not a {kind}")
    return host
