"""Stand-ins for roles that do not exist yet, so the lab can prove itself end to end.

**Not** a role and not part of ``lab up``: the ``radius`` role (FreeRADIUS from the renderer) and
the gateway/firewall roles will replace this. Until then the lab's self-test configures, over SSH
like any controller would: FreeRADIUS on the RADIUS node with the lab CA, one entry per camera
(EAP-TLS identity or MAB MAC, with the camera VLAN from the plan); IPv4 forwarding on the CSU
firewall and the site gateways; and a gateway rule that the quarantine reaches nothing.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from segmenting.lab.names import LabPaths
from segmenting.lab.run import LabError
from segmenting.lab.topology import Topology

FR = "/etc/freeradius/3.0"


def _ssh(paths: LabPaths, host: str, command: str, stdin: str | None = None) -> str:
    argv = ["ssh", "-F", str(paths.ssh_config), "-o", "BatchMode=yes", host, command]
    res = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120, check=False)
    if res.returncode != 0:
        raise LabError(f"{host}: {command} failed: {res.stderr.strip()}")
    return res.stdout


def _put(paths: LabPaths, host: str, path: str, text: str) -> None:
    """Write a FreeRADIUS file: root:freerad 0640 (keys included), as the package lays them out."""
    q = shlex.quote(path)
    _ssh(paths, host, f"install -D -m 0640 -o root -g freerad /dev/null {q} && cat > {q}", text)


def users_file(topo: Topology) -> str:
    lines = ["# cloison lab stand-in: one entry per camera of the lab (from the plan)"]
    for cam in topo.cameras:
        reply = f'\tTunnel-Type = VLAN, Tunnel-Medium-Type = IEEE-802, Tunnel-Private-Group-Id = "{cam.vlan}"'
        if cam.auth == "eap-tls" and cam.identity:
            lines += [f'"{cam.identity}"', reply, ""]
        else:
            mac = cam.mac.replace(":", "").lower()
            lines += [f'"{mac}" Cleartext-Password := "{mac}"', reply, ""]
    return "\n".join(lines) + "\n"


def eap_module() -> str:
    return f"""# cloison lab stand-in: EAP-TLS only, certificates from the lab CA
eap {{
	default_eap_type = tls
	timer_expire = 60
	ignore_unknown_eap_types = no
	max_sessions = ${{max_requests}}
	tls-config tls-common {{
		private_key_file = {FR}/certs/lab/radius.key
		certificate_file = {FR}/certs/lab/radius.pem
		ca_file = {FR}/certs/lab/ca.pem
		cipher_list = "DEFAULT"
		tls_min_version = "1.2"
		tls_max_version = "1.2"
		ecdh_curve = "prime256v1"
		check_cert_cn = %{{User-Name}}
		cache {{
			enable = no
		}}
	}}
	tls {{
		tls = tls-common
	}}
}}
"""


def configure_radius(paths: LabPaths, topo: Topology, host: str = "csu-radius") -> None:
    secret = (paths.root / "radius.secret").read_text().strip()
    pool = "10.64.0.0/12"
    clients = (
        "# cloison lab stand-in: the lab switches (site management addresses)\n"
        f"client lab_switches {{\n\tipaddr = {pool}\n\tsecret = {secret}\n\tshortname = lab-switches\n}}\n"
        "client localhost {\n\tipaddr = 127.0.0.1\n\tsecret = testing123\n}\n"
    )
    _put(paths, host, f"{FR}/clients.conf", clients)
    for name in ("ca.pem", "radius.pem", "radius.key"):
        _put(paths, host, f"{FR}/certs/lab/{name}", (paths.pki / name).read_text())
    _put(paths, host, f"{FR}/mods-available/eap", eap_module())
    _put(paths, host, f"{FR}/mods-config/files/authorize", users_file(topo))
    _ssh(
        paths, host, "freeradius -C -X >/tmp/freeradius-check.log 2>&1 || (tail -20 /tmp/freeradius-check.log; exit 1)"
    )
    _ssh(paths, host, "systemctl enable --now freeradius >/dev/null 2>&1; systemctl restart freeradius")


def configure_routing(paths: LabPaths, topo: Topology) -> None:
    quarantine = (
        "table inet cl_standin {\n"
        "\tchain forward_q {\n\t\ttype filter hook forward priority 0;\n"
        '\t\tiifname "quar0" drop\n\t\toifname "quar0" drop\n\t}\n'
        "\tchain input_q {\n\t\ttype filter hook input priority 0;\n"
        '\t\tiifname "quar0" drop\n\t}\n}\n'
    )
    for node in topo.nodes:
        if node.kind in ("firewall", "gateway"):
            _ssh(paths, node.id, "sysctl -qw net.ipv4.ip_forward=1")
        if node.kind == "gateway":
            _ssh(paths, node.id, "nft -f -", quarantine)


def configure(paths: LabPaths, topo: Topology) -> None:
    configure_routing(paths, topo)
    configure_radius(paths, topo)


__all__ = ["Path", "configure"]
