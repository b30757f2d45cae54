"""FreeRADIUS 3.2 (Debian 12 ``freeradius``) files for the CSU RADIUS server, from the plan.

Three files, laid out like ``/etc/freeradius/3.0`` so they overlay the packaged tree:

- ``clients.conf``: every access switch (by management address) and the VPN concentrator, each
  with its own secret from the secrets provider (never in the repository), and
  ``require_message_authenticator = yes`` (BlastRADIUS, CVE-2024-3596);
- ``mods-available/eap``: EAP-TLS only (no MD5, PEAP, TTLS...), TLS 1.2 minimum, the project CA
  as the only trust anchor (``ca_file``, no ``ca_path``), and the certificate CN must equal the
  EAP identity (``check_cert_cn``) — ANSSI-HYG-07, ANSSI guide "TLS" (R3/R5);
- ``mods-config/files/authorize``: one entry per camera, bound to its switch (``NAS-IP-Address``)
  and giving the cameras VLAN (RFC 3580 §3.31: Tunnel-Type=VLAN, Tunnel-Medium-Type=IEEE-802,
  Tunnel-Private-Group-Id). MAB entries are keyed by the MAC in **12 lower-case hex digits
  without delimiter** (``b8a44f000001``), the format every switch renderer tells its switch to
  send, and match only requests without EAP, so an EAP client cannot borrow a MAB identity.
  Everything else from a known switch gets the quarantine VLAN (unknown MAC: accepted into
  quarantine, which reaches nothing; EAP identity not in the plan: quarantine after a valid
  certificate); anything else is rejected.
"""

from __future__ import annotations

from segmenting.plan import CameraPlan, Plan
from segmenting.render._switch import radius_key
from segmenting.render._util import header, hosts_of_kind, mac_plain
from segmenting.render.base import RenderedFile, RenderError
from segmenting.render.secrets import SecretsProvider

CERT_DIR = "${certdir}/cloison"  # the PKI role installs ca.pem, radius.pem and radius.key there
CIPHERS = (
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
)  # TLS 1.2 suites with forward secrecy and AEAD only (ANSSI TLS guide, R5)
_NAS_TYPE = {"cisco_ios": "cisco", "aruba_aoscx": "other", "hp_procurve": "other", "ovs": "other"}


def devices(plan: Plan) -> list[str]:
    return [h.id for h in hosts_of_kind(plan, "radius")]


def _quote(text: str) -> str:
    if any(ch in text for ch in '"\\\n'):
        raise RenderError(f"value {text!r} cannot be quoted safely in a FreeRADIUS file")
    return f'"{text}"'


def clients_conf(plan: Plan, secrets: SecretsProvider) -> str:
    lines = [*header(plan, "FreeRADIUS clients: the access switches and the VPN concentrator").splitlines(), ""]
    entries: list[tuple[str, str, str]] = [
        (s.switch.id, s.switch.mgmt_ip, _NAS_TYPE.get(s.switch.platform, "other")) for s in plan.sites
    ]
    entries += [(h.id, h.ip, "other") for h in hosts_of_kind(plan, "vpn")]
    for name, ip, nas in entries:
        lines += [
            f"client {name} {{",
            f"\tipaddr = {ip}",
            "\tproto = udp",
            f"\tsecret = {_quote(secrets.get(radius_key(name)))}",
            f"\tshortname = {name}",
            f"\tnas_type = {nas}",
            "\trequire_message_authenticator = yes",
            "}",
            "",
        ]
    return "\n".join(lines)


def eap_conf(plan: Plan) -> str:
    lines = [
        *header(plan, "FreeRADIUS EAP module: EAP-TLS only, TLS >= 1.2, the project CA only").splitlines(),
        "eap {",
        "\tdefault_eap_type = tls",
        "\ttimer_expire = 60",
        "\tignore_unknown_eap_types = no",
        "\tcisco_accounting_username_bug = no",
        "\tmax_sessions = ${max_requests}",
        "",
        "\ttls-config tls-cloison {",
        f"\t\tprivate_key_file = {CERT_DIR}/radius.key",
        f"\t\tcertificate_file = {CERT_DIR}/radius.pem",
        "\t\t# The project CA is the only trust anchor: no ca_path, so no other CA is trusted.",
        f"\t\tca_file = {CERT_DIR}/ca.pem",
        "\t\tauto_chain = no",
        f'\t\tcipher_list = "{CIPHERS}"',
        "\t\tcipher_server_preference = yes",
        '\t\ttls_min_version = "1.2"',
        '\t\ttls_max_version = "1.3"',
        "\t\t# P-384 and P-256 (ANSSI RGS B1): OpenSSL also applies this list to the curves of the",
        "\t\t# client certificates, and cameras ship P-256 keys (tests/render/test_dot1x_e2e.py).",
        '\t\tecdh_curve = "secp384r1:prime256v1"',
        "\t\t# The certificate must name the identity the camera claims (and the users file binds",
        "\t\t# that identity to one switch and one VLAN).",
        "\t\tcheck_cert_cn = %{User-Name}",
        "\t\tcache {",
        "\t\t\tenable = no",
        "\t\t}",
        "\t\tocsp {",
        "\t\t\tenable = no",
        "\t\t}",
        "\t}",
        "",
        "\ttls {",
        "\t\ttls = tls-cloison",
        "\t}",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _vlan_reply(vlan: int) -> list[str]:
    return [
        "\tTunnel-Type = VLAN,",
        "\tTunnel-Medium-Type = IEEE-802,",
        f'\tTunnel-Private-Group-Id = "{vlan}"',
    ]


def authorize(plan: Plan) -> str:
    sites = {s.id: s for s in plan.sites}
    lines = [
        *header(plan, "FreeRADIUS users (files module): camera identities and MACs → VLAN").splitlines(),
        "# MAB User-Name format: 12 lower-case hex digits, no delimiter (e.g. b8a44f000001).",
        "# First match wins (no Fall-Through). Every entry is bound to the camera's own switch.",
        "",
    ]
    cams: list[CameraPlan] = sorted(plan.cameras, key=lambda c: (c.site, c.port, c.id))
    for cam in cams:
        nas = sites[cam.site].switch.mgmt_ip
        if cam.auth == "mab":
            user = mac_plain(cam.mac)
            lines.append(f"# {cam.id} ({cam.model}) MAB on {sites[cam.site].switch.id} port {cam.port}")
            lines.append(f'{user}\tCleartext-Password := "{user}", NAS-IP-Address == {nas}, EAP-Message !* ANY')
        elif cam.auth == "eap-tls":
            if not cam.identity:
                raise RenderError(f"{cam.id}: EAP-TLS camera without an identity in the plan")
            lines.append(f"# {cam.id} ({cam.model}) EAP-TLS on {sites[cam.site].switch.id} port {cam.port}")
            lines.append(f"{_quote(cam.identity)}\tNAS-IP-Address == {nas}, EAP-Message =* ANY")
        else:
            raise RenderError(f"{cam.id}: unknown authentication {cam.auth!r}")
        lines += _vlan_reply(cam.vlan)
        lines.append("")
    lines.append("# Anything else from a known switch: quarantine (reaches nothing, GR-QUARANTINE).")
    for site in sorted(plan.sites, key=lambda s: s.id):
        q = site.vlans["quarantine"]
        nas = site.switch.mgmt_ip
        lines.append(f"DEFAULT\tNAS-IP-Address == {nas}, EAP-Message !* ANY, Auth-Type := Accept")
        lines += _vlan_reply(q)
        lines.append("")
        lines.append(f"DEFAULT\tNAS-IP-Address == {nas}, EAP-Message =* ANY")
        lines += _vlan_reply(q)
        lines.append("")
    lines += [
        "# Nothing else is accepted.",
        "DEFAULT\tAuth-Type := Reject",
        '\tReply-Message = "cloison: not in the plan"',
        "",
    ]
    return "\n".join(lines)


def site_conf(plan: Plan) -> str:
    """The virtual server: ``files`` before ``eap`` so identity entries add their VLAN to the
    EAP exchange; PAP/CHAP only serve the MAB entries (Cleartext-Password = the MAC)."""
    lines = [
        *header(plan, "FreeRADIUS virtual server of cloison (replaces sites-enabled/default)").splitlines(),
        "server cloison {",
        "\tlisten {",
        "\t\ttype = auth",
        "\t\tipaddr = *",
        "\t\tport = 1812",
        "\t}",
        "\tlisten {",
        "\t\ttype = acct",
        "\t\tipaddr = *",
        "\t\tport = 1813",
        "\t}",
        "\tauthorize {",
        "\t\tpreprocess",
        "\t\tfiles",
        "\t\teap {",
        "\t\t\tok = return",
        "\t\t}",
        "\t\tpap",
        "\t\tchap",
        "\t}",
        "\tauthenticate {",
        "\t\tAuth-Type PAP {",
        "\t\t\tpap",
        "\t\t}",
        "\t\tAuth-Type CHAP {",
        "\t\t\tchap",
        "\t\t}",
        "\t\teap",
        "\t}",
        "\tpreacct {",
        "\t\tpreprocess",
        "\t\tacct_unique",
        "\t}",
        "\taccounting {",
        "\t\tdetail",
        "\t}",
        "\tpost-auth {",
        "\t\tPost-Auth-Type REJECT {",
        "\t\t\tattr_filter.access_reject",
        "\t\t}",
        "\t}",
        "}",
    ]
    return "\n".join(lines) + "\n"


def render(plan: Plan, device: str, secrets: SecretsProvider) -> list[RenderedFile]:
    if device not in devices(plan):
        raise RenderError(f"{device}: not a RADIUS server of {plan.deployment}")
    return [
        RenderedFile(device, "freeradius/clients.conf", clients_conf(plan, secrets), 0o640),
        RenderedFile(device, "freeradius/mods-available/eap", eap_conf(plan)),
        RenderedFile(device, "freeradius/mods-config/files/authorize", authorize(plan)),
        RenderedFile(device, "freeradius/sites-available/cloison", site_conf(plan)),
    ]
