"""strongSwan ``swanctl.conf``: the IKEv2 tunnels of non-fibre sites and the maintainers' VPN.

Follows ANSSI's IPsec recommendations (NT "Recommandations de sécurité relatives à IPsec",
R3-R12; ANSSI-HYG-18): IKEv2 only (``version = 2``), authentication by certificates of the
project CA (no pre-shared key, no ``secrets`` section), AES-256-GCM with SHA-384 PRF and the
P-384 group for IKE (``aes256gcm16-prfsha384-ecp384``) and AES-256-GCM with P-384 PFS for ESP
(``aes256gcm16-ecp384``), no fallback proposal. UDP encapsulation is forced: cellular sites sit
behind CGNAT and the lab's userspace ESP (kernel-libipsec) only speaks ESP-in-UDP (LAB-NOTES).

- site side (``gw-<site>``): one connection to the CSU concentrator; traffic selectors are the
  site's camera and management subnets ↔ exactly the CSU addresses the site's flows reach;
- concentrator side (the ``vpn`` host): the mirror connection per site, and one
  ``maintenance-<maintainer>`` connection per maintainer: a certificate naming that maintainer
  **and** a second factor checked for that same maintainer (EAP-RADIUS round with a fixed
  ``eap_id``, the RADIUS server checks the TOTP; RFC 4739 multiple authentication), an address
  from the ``maintenance_vpn`` pool, and the management subnets of that maintainer's sites only
  (ANSSI PA-022 R49, R62). The eap-radius plugin settings go in ``strongswan.d/charon/eap-radius.conf``.

Userspace ESP (``swanctl-site-libipsec``, ``swanctl-csu-libipsec``: the lab, whose kernel has no
IPsec): strongSwan's kernel-libipsec routes each outbound policy through its TUN device with a
source address of its own taken *inside* that policy's local selector, and refuses the CHILD_SA
when it has none (kernel-netlink only warns). The concentrator owns no address among the CSU
hosts a site reaches, so in that mode the CSU side of each selector pair is widened to the
narrowest single range holding both those hosts and the concentrator's own address. The tunnel
then carries more than the plan's flows; the default-drop filters at both ends (the gateway's
rendered ruleset, the concentrator's forward chain, csu-fw) still pass only the plan's flows.
"""

from __future__ import annotations

from ipaddress import IPv4Network, collapse_addresses, ip_network

from segmenting.plan import Plan, SitePlan
from segmenting.render._switch import radius_key
from segmenting.render._util import first_ip, flows_of_site, header, hosts_of_kind, site_of_device
from segmenting.render._util import site as site_by_id
from segmenting.render.base import RenderedFile, RenderError
from segmenting.render.secrets import SecretsProvider

IKE_PROPOSAL = "aes256gcm16-prfsha384-ecp384"
ESP_PROPOSAL = "aes256gcm16-ecp384"
CA_CERT = "cloison-ca.pem"
POOL = "maintenance_vpn"


def _dn(plan: Plan, cn: str, ou: str = "") -> str:
    return f'"CN={cn}{", OU=" + ou if ou else ""}, O={plan.deployment}"'


def _collapse(cidrs: list[str]) -> list[str]:
    nets: list[IPv4Network] = []
    for c in cidrs:
        n = ip_network(c, strict=False)
        assert isinstance(n, IPv4Network)
        nets.append(n)
    return [str(n) for n in collapse_addresses(nets)]


def _site_local(site: SitePlan) -> list[str]:
    # Quarantine never crosses the tunnel: it reaches nothing (GR-QUARANTINE).
    return _collapse([site.subnets["cameras"], site.subnets["site_mgmt"]])


def _site_remote(plan: Plan, site: SitePlan) -> list[str]:
    """The CSU side of the site's flows, exactly: what the tunnel must carry, nothing more."""
    out: list[str] = []
    for f in flows_of_site(plan, site.id):
        if not f.tunnel:
            continue
        if f.src_site == site.id:
            out += f.dst_cidrs
        elif f.dst_site == site.id:
            out += f.src_cidrs
    if not out:
        raise RenderError(f"{site.id}: tunnelled site without any flow to carry")
    return _collapse(out)


def _vpn_host(plan: Plan) -> str:
    vpns = hosts_of_kind(plan, "vpn")
    if not vpns:
        raise RenderError(f"the plan of {plan.deployment} has no VPN concentrator")
    return vpns[0].id


def _covering(cidrs: list[str], address: str) -> list[str]:
    """The narrowest single network holding every range of ``cidrs`` and ``address`` (one
    selector, so kernel-libipsec finds the concentrator's own address inside it)."""
    nets = [IPv4Network(n) for n in _collapse([*cidrs, f"{address}/32"])]
    net = nets[0]
    while not all(n.subnet_of(net) for n in nets):
        net = net.supernet()
    return [str(net)]


# Where each variant's files land in ``OUT/<device>/``: the userspace-ESP variant beside the
# kernel one, under ``libipsec/``; the roles install either at the same place under /etc.
_PREFIX = {"kernel": "", "libipsec": "libipsec/"}


def _csu_side(plan: Plan, ranges: list[str], esp: str) -> list[str]:
    """The CSU side of a child's selectors: exact, or widened for userspace ESP (module doc)."""
    if esp == "kernel":
        return ranges
    return _covering(ranges, plan.host(_vpn_host(plan)).ip)


def _site_tunnel(plan: Plan, name: str, addrs: tuple[str, str], ends: tuple[str, str], child: list[str]) -> list[str]:
    """One connection of a site's IKEv2 tunnel, from either end (``addrs`` and ``ends`` are
    (local, remote)): both ends come from here so their IKE settings cannot drift apart."""
    local, remote = ends
    return [
        f"\t{name} {{",
        "\t\tversion = 2",
        f"\t\tlocal_addrs = {addrs[0]}",
        f"\t\tremote_addrs = {addrs[1]}",
        f"\t\tproposals = {IKE_PROPOSAL}",
        "\t\tencap = yes",
        "\t\tmobike = no",
        "\t\tdpd_delay = 30s",
        "\t\trekey_time = 4h",
        "\t\tlocal {",
        "\t\t\tauth = pubkey",
        f"\t\t\tcerts = {local}.pem",
        f"\t\t\tid = {_dn(plan, local)}",
        "\t\t}",
        "\t\tremote {",
        "\t\t\tauth = pubkey",
        f"\t\t\tid = {_dn(plan, remote)}",
        f"\t\t\tcacerts = {CA_CERT}",
        "\t\t}",
        "\t\tchildren {",
        *child,
        "\t\t}",
        "\t}",
    ]


def _child(name: str, local: list[str], remote: list[str], start: str) -> list[str]:
    return [
        f"\t\t\t{name} {{",
        f"\t\t\t\tlocal_ts = {', '.join(local)}",
        f"\t\t\t\tremote_ts = {', '.join(remote)}",
        f"\t\t\t\tesp_proposals = {ESP_PROPOSAL}",
        "\t\t\t\tmode = tunnel",
        "\t\t\t\trekey_time = 1h",
        f"\t\t\t\tstart_action = {start}",
        "\t\t\t\tdpd_action = restart" if start != "none" else "\t\t\t\tdpd_action = clear",
        "\t\t\t}",
    ]


def site_devices(plan: Plan) -> list[str]:
    return [s.gateway.id for s in plan.sites if s.tunnelled]


def render_site(plan: Plan, device: str, secrets: SecretsProvider) -> list[RenderedFile]:
    return _render_site(plan, device, secrets, "kernel")


def render_site_libipsec(plan: Plan, device: str, secrets: SecretsProvider) -> list[RenderedFile]:
    """The site side for a gateway whose ESP runs in userspace (kernel-libipsec; module doc)."""
    return _render_site(plan, device, secrets, "libipsec")


def _render_site(plan: Plan, device: str, secrets: SecretsProvider, esp: str) -> list[RenderedFile]:
    del secrets
    site = site_of_device(plan, device, "gw-")
    if not site.tunnelled:
        raise RenderError(f"{device}: {site.id} is on {site.transport}, it has no tunnel")
    vpn = _vpn_host(plan)
    lines = [
        *header(plan, f"strongSwan swanctl.conf of {device}: IKEv2 tunnel of {site.id} to the CSU").splitlines(),
        "connections {",
        *_site_tunnel(
            plan, "csu", (site.gateway.wan_ip or "%any", plan.csu.vpn_endpoint), (device, vpn),
            _child("site", _site_local(site), _csu_side(plan, _site_remote(plan, site), esp), "start"),
        ),
        "}",
    ]  # fmt: skip
    return [RenderedFile(device, f"{_PREFIX[esp]}swanctl/swanctl.conf", "\n".join(lines) + "\n")]


def csu_devices(plan: Plan) -> list[str]:
    return [h.id for h in hosts_of_kind(plan, "vpn")]


def render_csu(plan: Plan, device: str, secrets: SecretsProvider) -> list[RenderedFile]:
    return _render_csu(plan, device, secrets, "kernel")


def render_csu_libipsec(plan: Plan, device: str, secrets: SecretsProvider) -> list[RenderedFile]:
    """The concentrator when its ESP runs in userspace (kernel-libipsec; module doc)."""
    return _render_csu(plan, device, secrets, "libipsec")


def _render_csu(plan: Plan, device: str, secrets: SecretsProvider, esp: str) -> list[RenderedFile]:
    if device not in csu_devices(plan):
        raise RenderError(f"{device}: not a VPN concentrator of {plan.deployment}")
    pool = plan.csu.zones.get(POOL)
    if not pool:
        raise RenderError(f"the plan of {plan.deployment} has no {POOL} subnet for the maintainers' pool")
    lines = [
        *header(plan, f"strongSwan swanctl.conf of the CSU concentrator {device}").splitlines(),
        "connections {",
    ]
    for site in plan.sites:
        if not site.tunnelled:
            continue
        lines += _site_tunnel(
            plan, site.id, (plan.csu.vpn_endpoint, site.gateway.wan_ip or "%any"), (device, site.gateway.id),
            _child(site.id, _csu_side(plan, _site_remote(plan, site), esp), _site_local(site), "none"),
        )  # fmt: skip
    # One connection per maintainer: charon picks it by the certificate's identity (IDi), and its
    # fixed eap_id makes the RADIUS round check *that* maintainer's TOTP code, whatever EAP identity
    # the client claims. A certificate with someone else's code is refused, and each maintainer's
    # child reaches the management subnets of their own sites only (ANSSI PA-022 R49, R62).
    for m in plan.maintainers:
        maint_ts = _collapse([site_by_id(plan, s).subnets["site_mgmt"] for s in m.sites])
        lines += [
            f"\tmaintenance-{m.id} {{",
            "\t\tversion = 2",
            f"\t\tlocal_addrs = {plan.csu.vpn_endpoint}",
            f"\t\tpools = {POOL}",
            f"\t\tproposals = {IKE_PROPOSAL}",
            "\t\tencap = yes",
            "\t\tdpd_delay = 60s",
            "\t\tlocal {",
            "\t\t\tauth = pubkey",
            f"\t\t\tcerts = {device}.pem",
            f"\t\t\tid = {_dn(plan, device)}",
            "\t\t}",
            "\t\tremote-cert {",
            "\t\t\tauth = pubkey",
            f"\t\t\tid = {_dn(plan, m.id, 'maintainers')}",
            f"\t\t\tcacerts = {CA_CERT}",
            "\t\t}",
            "\t\tremote-otp {",
            "\t\t\tauth = eap-radius",
            f"\t\t\teap_id = {m.id}",
            "\t\t}",
            "\t\tchildren {",
            *_child("maintenance", _csu_side(plan, maint_ts, esp), ["dynamic"], "none"),
            "\t\t}",
            "\t}",
        ]
    lines += [
        "}",
        "",
        "pools {",
        f"\t{POOL} {{",
        f"\t\taddrs = {pool}",
        "\t}",
        "}",
    ]
    radius = first_ip(plan, "radius")
    eap_radius = [
        *header(plan, f"strongSwan eap-radius plugin of {device}: maintainers' second factor").splitlines(),
        "eap-radius {",
        "\tload = yes",
        "\taccounting = yes",
        "\tservers {",
        "\t\tcsu-radius {",
        f"\t\t\taddress = {radius}",
        f"\t\t\tsecret = {secrets.get(radius_key(device))}",
        "\t\t\tauth_port = 1812",
        "\t\t\tacct_port = 1813",
        "\t\t}",
        "\t}",
        "}",
    ]
    return [
        RenderedFile(device, f"{_PREFIX[esp]}swanctl/swanctl.conf", "\n".join(lines) + "\n"),
        RenderedFile(device, f"{_PREFIX[esp]}strongswan.d/charon/eap-radius.conf", "\n".join(eap_radius) + "\n", 0o600),
    ]
