"""Appliance images as nodes of the running lab: ``cloison lab attach-image`` / ``detach-image``.

Issue 7: the image of a role boots as a lab node with no configuration beyond the site values of
its first boot. ``attach`` verifies a built image (signature, then checksums) and installs it with
the plan's first-boot values for the plan host it becomes (its name, its plan address, the lab
controller's key on the named administrator, sshd bound to the plan address and the lab
management address), then boots it like every lab node: systemd-nspawn in its own network
namespace and cgroup, ``lab0`` on the lab's management bridge (route in table 250 only).
It is then reached through the lab's own ssh_config, known_hosts and inventory, under the name
``img-<host>``, and audited with ``cloison audit --hosts img-<host>`` as that plan host.

Before it boots, the image gets its site's seed (:mod:`segmenting.image.seed`): the files the
site's roles write on that host in this lab — the ruleset (with the lab's management network, as
the segmentation role adds it), chrony's servers, log forwarding over TLS with a certificate from
the lab's CA, the IDS allowlist and unit — so it passes its role's checks without a converge.

The plan host stays in the lab as it is: its node keeps its addresses and its switch port, so
the image's plan-side interface (``mgmt0``, holding the plan address) and its mirror port
(``span0``) are veths whose other ends are cabled to nothing — the image stands *beside* the
gateway it becomes, not in its place.

Everything is recorded where ``lab down`` already looks (the state's processes, namespaces and
cgroups; the tree under ``nodes/``; ``images.json`` in the lab folder), so ``lab down`` removes
an image nobody detached. No new key goes into state.json: a lab up with older code must still
read it.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from segmenting.api import load_plan
from segmenting.errors import UsageError
from segmenting.image import seed, site
from segmenting.image.install import install
from segmenting.image.manifest import Manifest
from segmenting.lab import access, lab, netns, nodes
from segmenting.lab.names import FABRIC_NS, MGMT_CIDR, MIRROR_IF, LabPaths, ifname
from segmenting.lab.names import netns as ns_name
from segmenting.lab.run import LabError, Runner
from segmenting.lab.state import LabState, load, save
from segmenting.lab.topology import Iface, Link, Node, build_topology

PREFIX = "img-"
PLAN_IF = "mgmt0"  # the interface the lab's gateways hold their plan (site management) address on
BOOT_WAIT = 120.0
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Attached:
    name: str
    host: str  # the plan host the image becomes
    role: str
    image: str
    mgmt_ip: str


def name_for(host: str) -> str:
    return host if host.startswith(PREFIX) else PREFIX + host


def attached(paths: LabPaths) -> dict[str, Attached]:
    try:
        data = json.loads(paths.images.read_text())
    except FileNotFoundError:
        return {}
    return {name: Attached(**entry) for name, entry in data.items()}


def _save(paths: LabPaths, images: dict[str, Attached]) -> None:
    tmp = paths.images.with_suffix(".tmp")
    tmp.write_text(json.dumps({n: asdict(a) for n, a in sorted(images.items())}, indent=1) + "\n")
    tmp.replace(paths.images)


def attach(
    paths: LabPaths,
    r: Runner,
    folder: Path,
    *,
    signers: Path,
    identity: str,
    host: str,
    progress: Progress = print,
) -> Attached:
    """Verify, install and boot the image in ``folder`` as plan host ``host``; registered for SSH and Ansible."""
    with lab.exclusive():
        st = load(paths.state)
        if st.phase != "up" or not lab.is_up(paths):
            raise UsageError("the lab is not up: run `cloison lab up DIR` first, then attach the image")
        name = name_for(host)
        if name in attached(paths):
            raise UsageError(f"{name} is already attached: `cloison lab detach-image {name}` first")
        try:
            return _attach(paths, r, st, folder, trust=(signers, identity), host=host, progress=progress)
        except BaseException:
            save(paths.state, st)  # what _attach recorded before it failed, so that it is undone
            _detach(paths, r, name, keep_log=True)  # its console says why it failed; `lab down` removes it
            raise


def _attach(
    paths: LabPaths, r: Runner, st: LabState, folder: Path, *, trust: tuple[Path, str], host: str, progress: Progress
) -> Attached:
    started = time.monotonic()
    plan = load_plan(Path(st.folder))
    topo = build_topology(plan, tuple(st.sites))
    name = name_for(host)
    images = attached(paths)
    ip = free_address({n.mgmt_ip for n in topo.nodes} | {s.mgmt_ip for s in topo.switches}
                       | {a.mgmt_ip for a in images.values()})  # fmt: skip
    pubkey = Path(f"{paths.ssh_key}.pub").read_text()

    def values_for(manifest: Manifest) -> dict[str, object]:
        # The plan's values for the host, as `cloison image install --host` writes them; the lab
        # management address is how the controller reaches it, as ansible_host is on a site.
        return site.from_plan(plan, host, manifest.role, [pubkey], interface=PLAN_IF, management=[ip])

    seeded: list[str] = []

    def seed_for(manifest: Manifest, into: Path) -> None:
        # The site's files for the host, as its roles write them in this lab (the lab's inventory:
        # the management network in the ruleset, the lab's CA, the mirror port's name).
        seeded.extend(seed.for_image(manifest.role, paths.inventory, Path(st.folder), host, into, container=True))

    root = paths.node(name) / "root"
    manifest = install(folder, trust[0], trust[1], root, values_for, seed=seed_for)
    progress(f"{manifest.image} ({manifest.role}): signature and {len(manifest.artefacts)} checksums verified, "
             f"installed as {host}" + (" with its site's seed" if seeded else ""))  # fmt: skip
    record = Attached(name, host, manifest.role, manifest.image, ip)
    images[name] = record
    _save(paths, images)

    node = Node(name, ns_name(name), plan.host(host).kind, ip, (host,), (), plan.host(host).site)
    st.netns.append(node.ns)
    save(paths.state, st)
    netns.add_ns(r, node.ns)
    prefix = MGMT_CIDR.split("/")[1]
    netns.add_link(r, Link(Iface(node.ns, "lab0", (f"{ip}/{prefix}",)), Iface(FABRIC_NS, ifname(f"i-{name}")), "mgmt"))
    netns.isolate_mgmt(r, node.ns, "lab0", ip)
    # The plan address needs an interface that is up; its other end is cabled to nothing (the
    # site's switch port belongs to the lab's own gateway node, which holds the same address).
    netns.add_link(r, Link(Iface(node.ns, PLAN_IF), Iface(FABRIC_NS, ifname(f"j-{name}"))))
    if manifest.role == "edge-gateway":
        # The IDS sensor of the seed listens on the mirror port, cabled to nothing here as well.
        netns.add_link(r, Link(Iface(node.ns, MIRROR_IF), Iface(FABRIC_NS, ifname(f"k-{name}"))))
    nodes.boot(r, node, paths, st, hostname=host)
    save(paths.state, st)
    if r.dry_run:
        return record
    nodes.wait_ssh(ip, time.monotonic() + BOOT_WAIT)
    # Generated by the image's first boot (ssh-keygen -A, before sshd): pinned like a node's.
    pub = (root / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()
    access.register(paths, name, ip, f"{pub[0]} {pub[1]}")
    progress(f"{name} booted as {host} on the lab's management network at {ip} in "
             f"{time.monotonic() - started:.0f} s: ssh -F {paths.ssh_config} {name}; "
             f"cloison audit --hosts {name}")  # fmt: skip
    return record


def free_address(used: set[str]) -> str:
    """A management address for an image, from the top of the pool (the topology's nodes take the bottom)."""
    prefix = MGMT_CIDR.rsplit(".", 1)[0]
    for last in range(249, 9, -1):
        if f"{prefix}.{last}" not in used:
            return f"{prefix}.{last}"
    raise LabError(f"no management address left in {MGMT_CIDR} for another image")


def detach(paths: LabPaths, r: Runner, host: str, progress: Progress = print) -> float:
    """Power the image off and remove it: process, namespace, cgroups, access entries, its tree."""
    with lab.exclusive():
        name = name_for(host)
        if name not in attached(paths):
            known = ", ".join(sorted(attached(paths))) or "none"
            raise UsageError(f"no image {name} attached to the lab (attached: {known})")
        took = _detach(paths, r, name)
    progress(f"{name} detached in {took:.1f} s")
    return took


def _detach(paths: LabPaths, r: Runner, name: str, *, keep_log: bool = False) -> float:
    """Undo whatever part of :func:`_attach` happened (also after it failed half-way)."""
    started = time.monotonic()
    st = load(paths.state)
    ns, what = ns_name(name), f"node:{name}"
    r.stop([p for p in st.procs if p.what == what], grace=8.0)
    if ns in st.netns:
        netns.del_ns(r, ns)  # the veths go with it, their fabric ends too
    mine = {str(c) for c in nodes.node_cgroups(name)}
    left = nodes.remove_cgroups([d for d in st.created_dirs if d in mine], timeout=0 if r.dry_run else 20.0)
    if left:
        raise LabError(f"{name}: cgroups still busy after its processes were killed: {', '.join(left)}")
    for sub in ("propagate", "unix-export"):
        shutil.rmtree(lab.NSPAWN_RUN / sub / lab.machine(name), ignore_errors=True)
    access.unregister(paths, name)
    if not r.dry_run:
        shutil.rmtree(paths.node(name), ignore_errors=True)
        if not keep_log:
            nodes.console_log(paths, name).unlink(missing_ok=True)
    st.procs = [p for p in st.procs if p.what != what]
    st.netns = [n for n in st.netns if n != ns]
    st.created_dirs = [d for d in st.created_dirs if d not in mine]
    save(paths.state, st)
    images = attached(paths)
    if images.pop(name, None) is not None:
        _save(paths, images)
    return time.monotonic() - started
