"""Stand-ins for roles that do not exist yet, so the lab can prove itself end to end.

**Not** a role and not part of ``lab up``: the ``radius`` role and the gateway/firewall roles will
replace this in the lab's self-test. Until they run there, it configures, over SSH like any
controller would: FreeRADIUS on the RADIUS node from the FreeRADIUS *renderer's* output with the
lab CA; IPv4 forwarding on the CSU firewall and the site gateways; and a gateway rule that the
quarantine reaches nothing.
"""

from __future__ import annotations

import shlex
import subprocess

from segmenting.lab.access import as_root
from segmenting.lab.names import LabPaths
from segmenting.lab.run import LabError
from segmenting.lab.topology import Topology
from segmenting.plan import Plan
from segmenting.render.freeradius import render as render_freeradius
from segmenting.render.secrets import GeneratedSecrets

FR = "/etc/freeradius/3.0"


def _ssh(paths: LabPaths, host: str, command: str, stdin: str | None = None) -> str:
    argv = ["ssh", "-F", str(paths.ssh_config), "-o", "BatchMode=yes", host, as_root(command)]
    res = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120, check=False)
    if res.returncode != 0:
        raise LabError(f"{host}: {command} failed: {res.stderr.strip()}")
    return res.stdout


def _put(paths: LabPaths, host: str, path: str, text: str) -> None:
    """Write a FreeRADIUS file: root:freerad 0640 (keys included), as the package lays them out."""
    q = shlex.quote(path)
    _ssh(paths, host, f"install -D -m 0640 -o root -g freerad /dev/null {q} && cat > {q}", text)


def configure_radius(paths: LabPaths, topo: Topology, plan: Plan, host: str = "csu-radius") -> None:
    """FreeRADIUS from the project's renderer (:mod:`segmenting.render.freeradius`), as the ``radius``
    role would install it: the rendered files over /etc/freeradius/3.0, the lab CA and server
    certificate in ``certs/cloison``, the ``cloison`` virtual server instead of the packaged ones.
    Secrets come from the lab's provider file, shared with the lab switches."""
    secrets = GeneratedSecrets(paths.secrets)
    for f in render_freeradius(plan, host, secrets):
        _put(paths, host, f"{FR}/{f.path.removeprefix('freeradius/')}", f.text)
    secrets.save()
    for name in ("ca.pem", "radius.pem", "radius.key"):
        _put(paths, host, f"{FR}/certs/cloison/{name}", (paths.pki / name).read_text())
    _ssh(paths, host, f"ln -sfn ../sites-available/cloison {FR}/sites-enabled/cloison && "
                      f"rm -f {FR}/sites-enabled/default {FR}/sites-enabled/inner-tunnel")  # fmt: skip
    _ssh(
        paths, host, "freeradius -C -X >/tmp/freeradius-check.log 2>&1 || (tail -20 /tmp/freeradius-check.log; exit 1)"
    )
    _ssh(paths, host, "systemctl enable freeradius >/dev/null 2>&1; systemctl restart freeradius")


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


def configure(paths: LabPaths, topo: Topology, plan: Plan) -> None:
    configure_routing(paths, topo)
    configure_radius(paths, topo, plan)
