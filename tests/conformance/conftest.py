"""Conformance checks against the lab: which hosts, how to reach them, what the plan expects.

Hosts are the lab's managed nodes (``segmenting.lab.topology``, derived from the plan, so the
checks are collected the same with or without a running lab), and the appliance images attached
to it (``segmenting.lab.images``); each check runs on the nodes
playing a plan host kind its controls apply to (``applies_to`` in the catalog). Connections go
through testinfra's ``ssh://`` backend with the lab's ssh_config. Every check is read-only.

Options: ``--deployment DIR`` (default inventory/ingeagglo), ``--lab-dir DIR`` (default the lab's
own), ``--audit-hosts a,b`` (only these nodes).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import testinfra
from conformance_helpers import PREFETCH, NodeSpec, gather, inventory_nodes

from segmenting.api import load_plan
from segmenting.conformance.catalog import load_catalog
from segmenting.conformance.pytest_plugin import (  # noqa: F401 - hooks and fixtures for this folder
    evidence,
    probe_row,
    pytest_collection_modifyitems,
    pytest_runtest_makereport,
    pytest_sessionfinish,
)
from segmenting.conformance.pytest_plugin import (
    pytest_addoption as _plugin_addoption,
)
from segmenting.conformance.pytest_plugin import (
    pytest_configure as _plugin_configure,
)
from segmenting.lab import images as lab_images
from segmenting.lab import state as lab_state
from segmenting.lab.names import LabPaths, default_paths
from segmenting.lab.topology import Topology, build_topology
from segmenting.plan import Plan

ROOT = Path(__file__).resolve().parents[2]
AUDIT_RUN = "CLOISON_AUDIT_RUN"

# The checks (test_audit_*.py) run inside an audit: `cloison audit`, which the suite runs in
# test_conformance_lab.py against the lab and asserts on. Collected in the suite itself they would
# run a second time, outside an audit (no waivers, no report). The runner sets CLOISON_AUDIT_RUN=1.
collect_ignore_glob = [] if os.environ.get(AUDIT_RUN) == "1" else ["test_audit_*.py"]
DEFAULT_DEPLOYMENT = ROOT / "inventory" / "ingeagglo"
UNIT = Path(__file__).parent / "unit"


def pytest_addoption(parser: pytest.Parser) -> None:
    _plugin_addoption(parser)
    group = parser.getgroup("cloison conformance")
    group.addoption("--deployment", default=None, metavar="DIR", help="deployment folder (default inventory/ingeagglo)")
    group.addoption("--lab-dir", default=None, metavar="DIR", help="the lab's directory (ssh_config, state.json)")
    group.addoption("--audit-hosts", default=None, metavar="H1,H2", help="only these lab nodes")
    group.addoption(
        "--audit-inventory",
        default=None,
        metavar="FILE",
        help="audit the hosts of this Ansible inventory (testinfra ansible://) instead of the lab",
    )


def pytest_configure(config: pytest.Config) -> None:
    _plugin_configure(config)
    config.addinivalue_line("markers", "runs_on(*kinds): plan host kinds a check runs on (default: its controls')")


def _opt(config: pytest.Config, name: str) -> Any:
    return config.getoption(name, default=None)


def lab_paths(config: pytest.Config) -> LabPaths:
    folder = _opt(config, "lab_dir")
    return LabPaths(Path(folder)) if folder else default_paths()


_CACHE: dict[str, Any] = {}


def deployment_plan(config: pytest.Config) -> Plan:
    folder = Path(_opt(config, "deployment") or os.environ.get("CLOISON_DEPLOYMENT") or DEFAULT_DEPLOYMENT)
    key = f"plan:{folder}"
    if key not in _CACHE:
        _CACHE[key] = load_plan(folder)
    plan: Plan = _CACHE[key]
    return plan


def lab_topology(config: pytest.Config) -> Topology:
    """The running lab's topology (its sites from state.json), else the default one for the plan."""
    plan = deployment_plan(config)
    st = lab_state.load(lab_paths(config).state)
    sites = tuple(st.sites) if st.sites and st.deployment == plan.deployment else None
    key = f"topo:{plan.deployment}:{sites}"
    if key not in _CACHE:
        _CACHE[key] = build_topology(plan, sites)
    topo: Topology = _CACHE[key]
    return topo


def lab_nodes(config: pytest.Config) -> list[NodeSpec]:
    plan = deployment_plan(config)
    only = {h for h in (_opt(config, "audit_hosts") or "").split(",") if h}
    inventory = _opt(config, "audit_inventory")
    if inventory:
        nodes = inventory_nodes(plan, Path(inventory))
    else:
        nodes = [
            NodeSpec(n.id, n.plays, tuple(sorted({plan.host(h).kind for h in n.plays})), n.site, n.mgmt_ip)
            for n in lab_topology(config).nodes
        ]
        # Appliance images attached to the lab (`cloison lab attach-image`) are audited as the plan
        # host each one becomes, reached like the nodes through the lab's ssh_config.
        nodes += [
            NodeSpec(a.name, (a.host,), (plan.host(a.host).kind,), plan.host(a.host).site, a.mgmt_ip)
            for a in lab_images.attached(lab_paths(config)).values()
        ]
    return [n for n in nodes if not only or n.name in only]


def _applies(node: NodeSpec, kinds: set[str]) -> bool:
    return "linux" in kinds or bool(kinds & set(node.kinds))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``node`` over the lab nodes the check's controls apply to."""
    if "node" not in metafunc.fixturenames:
        return
    catalog = load_catalog()
    kinds: set[str] = set()
    runs_on = metafunc.definition.get_closest_marker("runs_on")
    for mark in [] if runs_on else metafunc.definition.iter_markers("control"):
        for cid in mark.args:
            if cid in catalog:
                kinds.update(catalog.get(cid).applies_to)
    kinds = set(runs_on.args) if runs_on else (kinds or {"linux"})
    nodes = [n for n in lab_nodes(metafunc.config) if _applies(n, kinds)]
    metafunc.parametrize("node", nodes, ids=[n.name for n in nodes], scope="module")


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def plan(pytestconfig: pytest.Config) -> Plan:
    return deployment_plan(pytestconfig)


@pytest.fixture(scope="session")
def topology(pytestconfig: pytest.Config) -> Topology:
    return lab_topology(pytestconfig)


@pytest.fixture(scope="session")
def running_lab(pytestconfig: pytest.Config) -> LabPaths:
    """The running lab, audited as it is: never brought up or torn down by a check.

    Fails (does not skip) when a lab check runs without a lab: an audit with nothing to audit is
    not a pass. With ``--audit-inventory`` the hosts are a deployment's, not the lab's.
    """
    paths = lab_paths(pytestconfig)
    inventory = _opt(pytestconfig, "audit_inventory")
    if inventory:
        if not Path(inventory).exists():
            pytest.fail(f"inventory {inventory} does not exist", pytrace=False)
        return paths
    st = lab_state.load(paths.state)
    if st.phase != "up" or not paths.ssh_config.exists():
        pytest.fail(f"the lab is not up ({paths.state}: phase {st.phase!r}); run `cloison lab up` first", pytrace=False)
    return paths


def _testinfra_host(name: str, paths: LabPaths, control_dir: str, inventory: str | None) -> testinfra.host.Host:
    """testinfra over SSH, multiplexed: one TCP connection per node for the whole audit."""
    if inventory:  # testinfra reads the connection from the inventory (user, key, address, ssh args)
        return testinfra.get_host(f"ansible://{name}?ansible_inventory={inventory}")
    return testinfra.get_host(
        f"ssh://{name}",
        ssh_config=str(paths.ssh_config),
        sudo=True,  # the lab's ssh_config logs in as the named administrator (no root login)
        controlpath=f"{control_dir}/%%C",  # testinfra %-formats the command line
        controlpersist=120,
    )


@pytest.fixture(scope="session")
def _prefetched(running_lab: LabPaths, pytestconfig: pytest.Config) -> Any:
    """Every declared read-only command, run once per node, all nodes in parallel; masters closed at the end."""
    control_dir = tempfile.mkdtemp(prefix="caud-ssh-")
    names = [n.name for n in lab_nodes(pytestconfig)]
    inventory = _opt(pytestconfig, "audit_inventory")
    try:
        hosts = {name: _testinfra_host(name, running_lab, control_dir, inventory) for name in names}
        commands = list(PREFETCH)
        with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
            list(pool.map(lambda h: gather(h, commands), hosts.values()))
        yield control_dir
    finally:  # close the multiplexing masters this audit opened, leave nothing behind
        for name in [] if inventory else names:
            subprocess.run(
                ["ssh", "-F", str(running_lab.ssh_config), "-o", f"ControlPath={control_dir}/%C", "-O", "exit", name],
                capture_output=True, check=False, timeout=10,
            )  # fmt: skip
        shutil.rmtree(control_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def host(node: NodeSpec, running_lab: LabPaths, _prefetched: str, pytestconfig: pytest.Config) -> testinfra.host.Host:
    """testinfra host for the node (commands declared with ``prefetch`` are answered from the cache)."""
    return _testinfra_host(node.name, running_lab, _prefetched, _opt(pytestconfig, "audit_inventory"))
