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

And the maintainers' second factor on the maintenance VPN (RFC 6238 TOTP; ANSSI PA-022 R49,
ANSSI hygiene 30): the concentrator's ``eap-radius`` round reaches a branch of the virtual
server taken only for requests whose source is the concentrator's address (the client it is
declared as), where EAP-GTC (RFC 3748 §5.6) carries the code and ``rlm_totp`` checks it:

- ``mods-enabled/cloison-totp``: the ``totp`` module, a ``files`` instance reading the seeds,
  and an ``eap`` instance offering GTC only, whose answer goes to ``Auth-Type totp``;
- ``mods-config/files/totp`` (0640 root:freerad): each plan maintainer's seed (secrets key
  ``totp/<maintainer id>``, base32) as ``control:TOTP-Secret``; nobody else gets a seed, so
  nobody else can pass. The cameras' ``eap`` instance stays EAP-TLS only.

FreeRADIUS 3.2.1's ``rlm_totp`` takes no settings: SHA-1, 6 digits, 30 s, the current step
only (:mod:`segmenting.totp` computes the same code).
"""

from __future__ import annotations

from segmenting import totp
from segmenting.plan import CameraPlan, Plan
from segmenting.render._switch import radius_key
from segmenting.render._util import header, hosts_of_kind, mac_plain
from segmenting.render.base import RenderedFile, RenderError
from segmenting.render.secrets import SecretsProvider, totp_key

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


def _concentrator_ip(plan: Plan) -> str:
    vpns = hosts_of_kind(plan, "vpn")
    if len(vpns) != 1:
        raise RenderError(
            f"the plan of {plan.deployment} has {len(vpns)} VPN concentrators; the maintainers' second "
            "factor is bound to exactly one"
        )
    return vpns[0].ip


def totp_module(plan: Plan) -> str:
    """The modules of the maintainers' second factor, in one file (``mods-enabled/cloison-totp``)."""
    lines = [
        *header(plan, "FreeRADIUS modules of the maintainers' second factor: EAP-GTC + TOTP").splitlines(),
        "# RFC 6238 with FreeRADIUS 3.2.1's fixed profile: HMAC-SHA-1, 6 digits, 30 s, current step.",
        "# Reads control:TOTP-Secret (base32) and request:TOTP-Password.",
        "totp {",
        "}",
        "",
        "# The maintainers' seeds: User-Name (the EAP identity) -> control:TOTP-Secret.",
        "files totp_secrets {",
        "\tfilename = ${modconfdir}/files/totp",
        '\tkey = "%{User-Name}"',
        "}",
        "",
        "# GTC only: the VPN concentrator's EAP round carries the one-time code in clear inside the",
        "# IKEv2 SA, already authenticated by the maintainer's certificate (RFC 4739).",
        "eap eap_totp {",
        "\tdefault_eap_type = gtc",
        "\ttimer_expire = 60",
        "\tignore_unknown_eap_types = no",
        "\tcisco_accounting_username_bug = no",
        "\tmax_sessions = ${max_requests}",
        "\tgtc {",
        '\t\tchallenge = "TOTP code: "',
        "\t\tauth_type = totp",
        "\t}",
        "}",
    ]
    return "\n".join(lines) + "\n"


def totp_users(plan: Plan, secrets: SecretsProvider) -> str:
    """Each maintainer's TOTP seed, only for requests from the VPN concentrator."""
    vpn = _concentrator_ip(plan)
    lines = [
        *header(plan, "FreeRADIUS users (files totp_secrets): maintainers' TOTP seeds").splitlines(),
        "# Secrets: mode 0640 root:freerad. Only requests from the VPN concentrator match.",
        "",
    ]
    for m in sorted(plan.maintainers, key=lambda m: m.id):
        seed = secrets.get(totp_key(m.id))
        try:
            totp.decode_secret(seed)
        except totp.TotpSecretError as exc:
            raise RenderError(
                f"{m.id}: secret {totp_key(m.id)!r}: {exc}\n    fix: set it to base32 of 20 random bytes "
                "(python3 -c 'import segmenting.totp as t; print(t.new_secret())')"
            ) from None
        lines.append(f"# {m.id} ({m.company}, {len(m.sites)} sites)")
        lines.append(f"{_quote(m.id)}\tPacket-Src-IP-Address == {vpn}, TOTP-Secret := {_quote(seed.strip().upper())}")
        lines.append("")
    return "\n".join(lines)


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


def _totp_branch(plan: Plan) -> tuple[list[str], list[str]]:
    """The authorize and authenticate lines of the maintainers' second factor."""
    vpn = _concentrator_ip(plan)
    authorize = [
        "\t\t# The VPN concentrator (its client address): maintainers' TOTP over EAP-GTC, nothing else.",
        f"\t\tif (&Packet-Src-IP-Address == {vpn}) {{",
        "\t\t\t-totp_secrets",
        "\t\t\tif (!&control:TOTP-Secret) {",
        "\t\t\t\tupdate reply {",
        '\t\t\t\t\t&Reply-Message := "cloison: not a maintainer of the plan"',
        "\t\t\t\t}",
        "\t\t\t\treject",
        "\t\t\t}",
        "\t\t\t-eap_totp",
        "\t\t\tif (noop || notfound) {",
        "\t\t\t\treject",
        "\t\t\t}",
        "\t\t}",
    ]
    authenticate = [
        "\t\tAuth-Type eap_totp {",
        "\t\t\t-eap_totp",
        "\t\t}",
        "\t\t# eap_totp's GTC puts the maintainer's answer in User-Password; rlm_totp reads TOTP-Password.",
        "\t\tAuth-Type totp {",
        "\t\t\tupdate request {",
        "\t\t\t\t&TOTP-Password := &User-Password",
        "\t\t\t}",
        "\t\t\t-totp",
        "\t\t}",
    ]
    return authorize, authenticate


def _indent(lines: list[str], in_else: bool) -> list[str]:
    """The switches' lines, in the ``else`` of the concentrator's branch when there is one
    (``return`` in an unlang ``if`` only leaves the ``if``)."""
    if not in_else:
        return lines
    return ["\t\telse {", *("\t" + line for line in lines), "\t\t}"]


def site_conf(plan: Plan) -> str:
    """The virtual server: ``files`` before ``eap`` so identity entries add their VLAN to the
    EAP exchange; PAP/CHAP only serve the MAB entries (Cleartext-Password = the MAC). Requests
    from the VPN concentrator take their own branch: EAP-GTC + TOTP, nothing else."""
    maint = _totp_branch(plan) if plan.maintainers else ([], [])
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
        *maint[0],
        *_indent(["\t\tfiles", "\t\teap {", "\t\t\tok = return", "\t\t}", "\t\tpap", "\t\tchap"], bool(maint[0])),
        "\t}",
        "\tauthenticate {",
        "\t\tAuth-Type PAP {",
        "\t\t\tpap",
        "\t\t}",
        "\t\tAuth-Type CHAP {",
        "\t\t\tchap",
        "\t\t}",
        "\t\teap",
        *maint[1],
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
    # In the order the radius role writes them, each checked by freeradius -C with the files before
    # it in place. The server names the TOTP modules with '-' (skipped while absent: the branch
    # still rejects, no seed), and the eap_totp module needs the server's Auth-Type eap_totp, so
    # the seeds come first, then the server, then the modules.
    files = [
        RenderedFile(device, "freeradius/clients.conf", clients_conf(plan, secrets), 0o640),
        RenderedFile(device, "freeradius/mods-available/eap", eap_conf(plan)),
        RenderedFile(device, "freeradius/mods-config/files/authorize", authorize(plan)),
    ]
    if not plan.maintainers:
        return [*files, RenderedFile(device, "freeradius/sites-available/cloison", site_conf(plan))]
    return [
        *files,
        RenderedFile(device, "freeradius/mods-config/files/totp", totp_users(plan, secrets), 0o640),
        RenderedFile(device, "freeradius/sites-available/cloison", site_conf(plan)),
        # Straight into mods-enabled: a module of its own file, loaded as soon as it is written.
        RenderedFile(device, "freeradius/mods-enabled/cloison-totp", totp_module(plan)),
    ]
