"""Issue 7 in the lab: the edge-gateway image boots as a node of the running lab and passes its checks.

The session's image (built once, ``built``) is attached to the session's lab with ``cloison lab
attach-image``: verified (signature, checksums), installed with the plan's first-boot values for
the gateway it becomes (its name, its plan address, the lab controller's key on the named
administrator, sshd on the plan address and the lab's management address) and its site's seed
(the files the gateway's roles write, rendered from the plan: ruleset, time and log servers, its
certificate, the IDS allowlist and unit), booted as an nspawn node on the lab's management
network. It is reached like every lab node — the lab's ssh_config, pinned known_hosts,
inventory — and audited by ``cloison audit --hosts img-…`` with the lab's waivers, as the
gateway, without any converge: every host check of its role passes or is covered by a lab waiver
(kernel-wide parameters a container cannot set). The reachability matrix stays the converged
lab's: the image stands beside the gateway, its plan side cabled to nothing. The SBOM must name
exactly the packages the booted node runs. Detaching leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from image_builds import IDENTITY, Built

from segmenting import cli
from segmenting.image.manifest import MANIFEST
from segmenting.lab import images, nodes
from segmenting.lab.access import IMAGES_GROUP, as_root
from segmenting.lab.pytest_plugin import Lab
from segmenting.lab.state import load

pytestmark = [pytest.mark.lab, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
WAIVERS = ROOT / "tests" / "conformance" / "waivers-lab.yml"
# Every family of host checks that applies to a gateway (the reachability matrix is the lab's).
FAMILIES = ("ssh", "accounts", "sudo", "packages", "services", "files", "kernel", "firewall", "logging", "ids")
RELAY_FAMILIES = ("ssh", "accounts", "sudo", "packages", "services", "files", "kernel", "firewall", "logging", "video")
RELAY_CHECKS = (
    "test_admin_ports_on_admin_side", "test_listeners_match_the_plan", "test_ruleset_matches_rendered",
    "test_input_default_drop", "test_time_synchronised_from_plan", "test_logs_forwarded_over_tls",
    "test_relay_limited_to_convention", "test_relay_logs_each_consultation",
)  # fmt: skip
SEEDED_CHECKS = (
    "test_admin_ports_on_admin_side", "test_listeners_match_the_plan", "test_sshd_setting",
    "test_ruleset_matches_rendered", "test_input_default_drop", "test_forward_default_drop",
    "test_time_synchronised_from_plan", "test_logs_forwarded_over_tls", "test_ids_sensor_running",
)  # fmt: skip
ADMIN = "cloison-admin"


@pytest.fixture(scope="module")
def gateway(lab: Lab) -> str:
    """The plan host the image becomes: the gateway of the lab's fibre site (no IKE tunnel to start)."""
    fibre = next(s for s in lab.topology.switches if s.transport == "fiber")
    return lab.plan.site(fibre.site).gateway.id


def _left_behind(lab: Lab, name: str) -> list[str]:
    """Whatever of an attached image is still there (empty once it is detached)."""
    st = load(lab.paths.state)
    ns = f"cl-{name}"
    found = [f"namespace {ns}"] if Path(f"/run/netns/{ns}").exists() else []
    found += [f"state: {p.what}" for p in st.procs if p.what == f"node:{name}"]
    found += [f"state: {n}" for n in st.netns if n == ns]
    found += [f"cgroup {c}" for c in nodes.node_cgroups(name) if c.exists()]
    found += [f"tree {lab.paths.node(name)}"] if lab.paths.node(name).exists() else []
    found += [f"log {nodes.console_log(lab.paths, name)}"] if nodes.console_log(lab.paths, name).exists() else []
    found += [f"{lab.paths.ssh_config.name}"] if f"Host {name}\n" in lab.paths.ssh_config.read_text() else []
    found += [f"{lab.paths.known_hosts.name}"] if f"{name}," in lab.paths.known_hosts.read_text() else []
    found += [f"{lab.paths.inventory.name}"] if name in lab.paths.inventory.read_text() else []
    found += ["images.json"] if name in images.attached(lab.paths) else []
    return found


def _ssh(lab: Lab, name: str, command: str, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = ["ssh", "-F", str(lab.paths.ssh_config), "-o", "BatchMode=yes", *extra, name, command]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_attach_refuses_an_image_whose_manifest_was_altered(
    built: Built, lab: Lab, gateway: str, tmp_path: Path
) -> None:
    copy = tmp_path / "altered"
    subprocess.run(["cp", "-al", str(built.folder), str(copy)], check=True)
    manifest = copy / MANIFEST
    text = manifest.read_text()
    manifest.unlink()  # a hard link to the session's image: replace it, never write through it
    manifest.write_text(text.replace('"edge-gateway"', '"edge-gateway "', 1))
    code = cli.main(["lab", "attach-image", str(copy), "--signers", str(built.signers), "--identity", IDENTITY,
                     "--host", gateway])  # fmt: skip
    assert code != 0
    assert _left_behind(lab, images.name_for(gateway)) == []


@contextmanager
def _attached(image: Built, lab: Lab, host: str) -> Iterator[images.Attached]:
    """``cloison lab attach-image`` as ``host``, detached on exit with nothing left behind."""
    code = cli.main(["lab", "attach-image", str(image.folder), "--signers", str(image.signers), "--identity", IDENTITY,
                     "--host", host])  # fmt: skip
    assert code == 0
    name = images.name_for(host)
    try:
        yield images.attached(lab.paths)[name]
    finally:
        # Before the lab's own tests: they count the lab's hosts, and `lab down` must find nothing more.
        assert cli.main(["lab", "detach-image", name]) == 0
        assert _left_behind(lab, name) == []


@pytest.fixture(scope="module")
def image_node(built: Built, lab: Lab, gateway: str) -> Iterator[images.Attached]:
    with _attached(built, lab, gateway) as node:
        yield node


def test_image_node_is_the_plan_gateway_on_the_lab_network(image_node: images.Attached, lab: Lab, gateway: str) -> None:
    assert (image_node.host, image_node.role) == (gateway, "edge-gateway")
    # The lab's own ssh_config and pinned known_hosts (StrictHostKeyChecking yes): the host key
    # is the one the image generated at its first boot.
    out = _ssh(lab, image_node.name, as_root("hostname; ls /etc/ssh/ssh_host_ed25519_key; ip -br -4 addr show mgmt0"))
    assert out.returncode == 0, out.stderr
    assert "unable to resolve host" not in out.stderr  # first boot put the name in /etc/hosts
    plan_ip = lab.plan.host(gateway).ip
    assert out.stdout.split()[:2] == [gateway, "/etc/ssh/ssh_host_ed25519_key"]
    assert any(a.startswith(f"{plan_ip}/") for a in out.stdout.split()[2:]), out.stdout
    # Root has no key and may not log in, whatever key it offers (ANSSI BP-028 R33).
    as_root_login = _ssh(lab, image_node.name, "true", "-l", "root")
    assert as_root_login.returncode == 255 and "Permission denied" in as_root_login.stderr
    # The lab's inventory reaches it too, in a group no playbook targets.
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip
    ansible = str(Path(sys.executable).parent / "ansible")
    ping = subprocess.run([ansible, "-i", str(lab.paths.inventory), IMAGES_GROUP, "-m", "ping"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)  # fmt: skip
    assert ping.returncode == 0 and ping.stdout.count("SUCCESS") == 1, ping.stdout[-2000:] + ping.stderr[-1000:]


def test_sbom_names_what_the_booted_node_runs(image_node: images.Attached, built: Built, lab: Lab) -> None:
    sbom = json.loads((built.folder / "sbom.cdx.json").read_text())
    listed = {(c["name"], c["version"]) for c in sbom["components"] if c["purl"].startswith("pkg:deb/")}
    out = _ssh(lab, image_node.name, "dpkg-query -W -f '${db:Status-Status} ${Package} ${Version}\\n'")
    assert out.returncode == 0, out.stderr
    running = {(f[1], f[2]) for f in (line.split() for line in out.stdout.splitlines()) if f[0] == "installed"}
    assert listed == running, f"SBOM only: {sorted(listed - running)}; node only: {sorted(running - listed)}"


def _audit_as_its_role(lab: Lab, node: images.Attached, out: Path, families: tuple[str, ...],
                       by_name: tuple[str, ...]) -> None:  # fmt: skip
    """``cloison audit --hosts`` on an attached image: every check of its role passes or is waived."""
    deployment = load(lab.paths.state).folder  # the plan the lab was built from
    proc = subprocess.run(
        [sys.executable, "-m", "segmenting.cli", "audit", "-o", str(out), "--hosts", node.name,
         "--no-network", "--waivers", str(WAIVERS), "--deployment", deployment],
        capture_output=True, text=True, cwd=ROOT, check=False, timeout=600,
    )  # fmt: skip
    assert proc.returncode in (0, 4), proc.stdout[-2000:] + proc.stderr[-3000:]
    assert json.loads((out / "audit.json").read_text())["hosts"] == [node.name]
    checks = json.loads((out / "results.json").read_text())["checks"]
    waived = {w["control"] for w in yaml.safe_load(WAIVERS.read_text())["waivers"]}
    ran = {n: [c for c in checks if f"test_audit_{n}.py" in c["file"]] for n in families}
    assert all(ran.values()), f"no check of {[n for n, cs in ran.items() if not cs]} ran on {node.name}"
    passed = [c for c in checks if c["outcome"] == "passed"]
    # The lab waivers name what a container cannot show (kernel-wide parameters, the audit
    # subsystem): a check is excused only when a waived control is among those it proves.
    unwaived = [
        f"{c['nodeid']} ({', '.join(c['controls'])}): {c['message']}"
        for c in checks
        if c["outcome"] in ("failed", "error") and not set(c["controls"]) & waived
    ]
    print(f"{node.role} image as {node.host}: {len(passed)} of {len(checks)} checks passed, "
          f"{len(checks) - len(passed) - len(unwaived)} waived or not applicable, {len(unwaived)} failed")  # fmt: skip
    assert not unwaived, "\n".join(unwaived)
    # What the seed brings, checked by name: a check that ran and passed, not one that was skipped.
    for name in by_name:
        runs = [c for c in checks if c["name"].startswith(f"{name}[")]
        assert runs and all(c["outcome"] == "passed" for c in runs), (name, [(c["name"], c["message"]) for c in runs])


def test_image_node_passes_its_checks_in_the_lab(image_node: images.Attached, lab: Lab, tmp_path: Path) -> None:
    _audit_as_its_role(lab, image_node, tmp_path, FAMILIES, SEEDED_CHECKS)


@pytest.fixture(scope="module")
def relay_node(built_relay: Built, lab: Lab) -> Iterator[images.Attached]:
    with _attached(built_relay, lab, lab.plan.state.relay_host) as node:
        yield node


def test_relay_image_node_passes_its_checks_in_the_lab(relay_node: images.Attached, lab: Lab, tmp_path: Path) -> None:
    """The dmz-relay image as the State bridge relay: its seed makes it the relay of the convention."""
    assert (relay_node.host, relay_node.role) == (lab.plan.state.relay_host, "dmz-relay")
    _audit_as_its_role(lab, relay_node, tmp_path, RELAY_FAMILIES, RELAY_CHECKS)
