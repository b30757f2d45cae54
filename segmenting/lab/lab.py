"""``lab up``, ``lab down``, ``lab status``, ``lab plug``: build the topology, record it, remove it.

Order matters for speed on two cores: the nspawn nodes are started first and boot while the
switches, 802.1X and cameras are set up; SSH is awaited last. Every object is recorded in the
state file *before* it is created, so ``down`` after a failed ``up`` still finds it.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from segmenting.api import load_plan
from segmenting.lab import access, cameras, netns, nodes, pki, rootfs, switches
from segmenting.lab.names import CACHE_DIR, FABRIC_NS, MGMT_CIDR, MGMT_CONTROLLER, MGMT_ROOT_LINK, LabPaths
from segmenting.lab.run import LabError, Proc, Runner, alive
from segmenting.lab.state import LabState, load, save
from segmenting.lab.topology import Iface, Link, Node, Switch, Topology, build_topology, pick_sites
from segmenting.plan import Plan
from segmenting.render._switch import radius_key
from segmenting.render.registry import RENDERERS, render_all
from segmenting.render.secrets import GeneratedSecrets

Progress = Callable[[str], None]
SSH_WAIT = 120.0
NSPAWN_RUN = Path("/run/systemd/nspawn")


PKI_ROLE_CA_CERT = "ca.crt"  # roles/pki: pki_ca_cert_name


def machine(node_id: str) -> str:
    return "cl-" + node_id


def _print(msg: str) -> None:
    print(msg, flush=True)


@dataclass(frozen=True)
class UpResult:
    topology: Topology
    seconds: float
    rootfs_seconds: float
    already: bool = False


def topology_for(folder: Path, sites: int) -> Topology:
    plan = load_plan(folder)
    return build_topology(plan, pick_sites(plan, sites))


def is_up(paths: LabPaths) -> bool:
    st = load(paths.state)
    return st.phase == "up" and all(alive(p) for p in st.procs)


@contextlib.contextmanager
def exclusive() -> Iterator[None]:
    """One ``lab up``/``down``/``plug`` at a time on this machine (they share the lab directory)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with (CACHE_DIR / "lab.lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LabError("another `cloison lab` command is running on this machine; wait for it") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def up(folder: Path, sites: int, paths: LabPaths, r: Runner, progress: Progress = _print) -> UpResult:
    with exclusive():
        return _up(folder, sites, paths, r, progress)


def _up(folder: Path, sites: int, paths: LabPaths, r: Runner, progress: Progress) -> UpResult:
    t0 = time.monotonic()
    topo = topology_for(folder, sites)
    st = load(paths.state)
    if st.phase != "empty":
        if st.phase == "up" and st.sites == list(topo.sites) and is_up(paths):
            progress(
                f"lab already up ({len(topo.nodes)} nodes, {len(topo.switches)} switches, {len(topo.cameras)} cameras)"
            )
            return UpResult(topo, 0.0, 0.0, already=True)
        progress("a previous lab is partly up or different: tearing it down first")
        _down(paths, r, progress)
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.root.chmod(0o700)
    paths.logs.mkdir(exist_ok=True)
    st = LabState(deployment=topo.deployment, folder=str(folder), sites=list(topo.sites), phase="building")
    save(paths.state, st)
    try:
        spent = _build(topo, paths, r, st, progress)
    finally:
        save(paths.state, st)
    st.phase = "up"
    save(paths.state, st)
    took = time.monotonic() - t0
    progress(f"lab up in {took:.0f} s: {len(topo.nodes)} nodes, {len(topo.switches)} switches, "
             f"{len(topo.cameras)} cameras; ssh -F {paths.ssh_config} <host>; inventory {paths.inventory}")  # fmt: skip
    return UpResult(topo, took, spent)


def _build(topo: Topology, paths: LabPaths, r: Runner, st: LabState, progress: Progress) -> float:
    step = _stepper(progress)
    step("rootfs")
    lower, spent = rootfs.ensure(r, CACHE_DIR)
    step("rootfs " + (f"built in {spent:.0f} s" if spent else "cached") + f": {lower}")
    video = cameras.clip(r)
    # RADIUS secrets per switch, kept where the FreeRADIUS renderer's provider finds them (0600).
    # The roles read the same file (the lab inventory names it), so every secret they will ask
    # for is generated now: Ansible's parallel workers must never each invent a missing one.
    secrets = GeneratedSecrets(paths.secrets)
    _every_secret(load_plan(Path(st.folder)), secrets)
    _pki(topo, paths, r)
    pubkey = access.controller_key(r, paths)

    step("namespaces and links")
    all_ns = [FABRIC_NS, *(n.ns for n in topo.nodes), *(s.ns for s in topo.switches),
              *(c.ns for c in topo.cameras), *(a.ns for a in topo.actors if a.ns != FABRIC_NS)]  # fmt: skip
    for ns in dict.fromkeys(all_ns):
        st.netns.append(ns)
        save(paths.state, st)
        netns.add_ns(r, ns)
    for br in topo.bridges:
        netns.add_bridge(r, FABRIC_NS, br)
    st.root_links.append(MGMT_ROOT_LINK)
    save(paths.state, st)
    r.run(["ip", "link", "add", MGMT_ROOT_LINK, "type", "veth", "peer", "name", "mgmt-up", "netns", FABRIC_NS])
    r.run(["ip", "addr", "add", f"{MGMT_CONTROLLER}/{MGMT_CIDR.split('/')[1]}", "dev", MGMT_ROOT_LINK])
    r.run(["ip", "-n", FABRIC_NS, "link", "set", "mgmt-up", "master", "mgmt", "up"])
    r.run(["ip", "link", "set", MGMT_ROOT_LINK, "up"])
    prefix = MGMT_CIDR.split("/")[1]
    managed: list[Node | Switch] = [*topo.nodes, *topo.switches]
    mgmt_links = [Link(Iface(n.ns, "lab0", (f"{n.mgmt_ip}/{prefix}",)), Iface(FABRIC_NS, f"m{i}"), "mgmt")
                  for i, n in enumerate(managed)]  # fmt: skip
    for link in (*topo.links, *mgmt_links):
        netns.add_link(r, link)
    for n in managed:
        netns.isolate_mgmt(r, n.ns, "lab0", n.mgmt_ip)
    for route in topo.routes:
        netns.add_route(r, route)
    for ns in topo.forwarding:
        netns.forwarding(r, ns)
    for ns, oif in topo.nat:
        netns.masquerade(r, ns, oif)

    step(f"booting {len(topo.nodes)} nodes")
    for node in topo.nodes:
        nodes.prepare(r, node, paths, lower=lower, pubkey=pubkey, state=st)
        save(paths.state, st)
    for node in topo.nodes:
        nodes.boot(r, node, paths, st)
    save(paths.state, st)

    for sw in topo.switches:
        step(f"switch {sw.id}: OVS, sshd, 802.1X on {len(sw.ports)} ports")
        switches.start_ovs(r, sw, paths, st)
        save(paths.state, st)
        switches.add_ports(r, sw, paths)
        switches.start_sshd(r, sw, paths, st)
        secret = switches.write_secret(sw, paths, secrets.get(radius_key(sw.id)))
        for port in sw.ports:
            switches.start_hostapd(r, sw, port.dev, paths, state=st, secret=secret)
        cfg = switches.portd_config(sw, paths)
        st.add_proc(r.spawn([sys.executable, "-m", "segmenting.lab.portd", str(cfg)], what=f"portd:{sw.id}",
                            log=paths.logs / f"{sw.id}.portd.log", ns=sw.ns, env=switches.env(paths, sw)))  # fmt: skip
        save(paths.state, st)

    secrets.save()
    step(f"cameras: {len(topo.cameras)} streams and supplicants")
    ca = paths.pki / "ca.pem"
    for cam in topo.cameras:
        cameras.start_stream(r, cam, paths, video, st)
        if cam.auth == "eap-tls":
            d = paths.pki
            cameras.start_supplicant(r, cam, paths, key=d / f"{cam.id}.key", cert=d / f"{cam.id}.pem", ca=ca, state=st)
        else:
            cameras.announce(r, cam, paths, st)
        save(paths.state, st)

    step("waiting for SSH on nodes and switches")
    deadline = time.monotonic() + SSH_WAIT
    if not r.dry_run:
        for _, ip, _ in access.targets(topo):
            nodes.wait_ssh(ip, deadline)
        keys = {
            h: nodes.host_key(paths, topo.node_playing(h).id) for h, _, kind in access.targets(topo) if kind != "switch"
        }
        for sw in topo.switches:
            pub = (paths.switch(sw.id) / "ssh_host_ed25519_key.pub").read_text().split()
            keys[sw.id] = f"{pub[0]} {pub[1]}"
        access.write(paths, topo, keys)
        dead = [p.what for p in st.procs if not alive(p)]
        if dead:
            raise LabError(f"exited during lab up: {', '.join(dead)}; see {paths.logs}")
    return spent


def _every_secret(plan: Plan, secrets: GeneratedSecrets) -> None:
    # Rendering once is what asks the provider for each secret; the files themselves are dropped.
    collections.deque(render_all(plan, secrets, [r.name for r in RENDERERS if r.needs_secrets]), maxlen=0)


def _pki(topo: Topology, paths: LabPaths, r: Runner) -> None:
    _, cert = pki.ca(r, paths.pki, topo.deployment)
    # The pki role issues the hosts' certificates from this CA too (the lab inventory points its
    # controller folder here), under the certificate name it expects: one trust anchor, so the
    # cameras' certificates stay valid for the FreeRADIUS the roles install.
    if not r.dry_run:
        shutil.copyfile(cert, paths.pki / PKI_ROLE_CA_CERT)
    pki.issue(r, paths.pki, "radius", f"csu-radius.{topo.deployment}.lab", server=True)
    for cam in topo.cameras:
        if cam.auth == "eap-tls" and cam.identity:
            pki.issue(r, paths.pki, cam.id, cam.identity, server=False)


def _stepper(progress: Progress) -> Callable[[str], None]:
    t0 = time.monotonic()

    def step(msg: str) -> None:
        progress(f"[{time.monotonic() - t0:5.1f} s] {msg}")

    return step


def down(paths: LabPaths, r: Runner, progress: Progress = _print) -> float:
    """Stop every recorded process (by PID), unmount, delete namespaces, cgroups, links and files."""
    with exclusive():
        return _down(paths, r, progress)


def _down(paths: LabPaths, r: Runner, progress: Progress) -> float:
    t0 = time.monotonic()
    st = load(paths.state)
    if st.phase == "empty" and not paths.root.exists():
        progress("no lab to take down")
        return 0.0
    # Cameras and switches first (cheap), nodes in parallel with them: nspawn turns SIGTERM into a
    # clean poweroff of the container; whatever is still alive after the grace period is killed.
    r.stop(list(reversed(st.procs)), grace=8.0)
    for mount in reversed(st.mounts):
        r.run(["umount", mount], check=False)
        if Path(mount).is_mount():
            r.run(["umount", "-l", mount], check=False)
    for ns in reversed(st.netns):
        netns.del_ns(r, ns)
    for link in st.root_links:
        if Path(f"/sys/class/net/{link}").exists():
            r.run(["ip", "link", "del", link], check=False)
    cgroups = [d for d in st.created_dirs if d.startswith("/sys/fs/cgroup")]
    left = nodes.remove_cgroups(cgroups, timeout=0 if r.dry_run else 20.0)
    for d in st.created_dirs:
        if not d.startswith("/sys/fs/cgroup"):
            with contextlib.suppress(OSError):
                Path(d).rmdir()
    for node_dir in (paths.root / "nodes").glob("*") if (paths.root / "nodes").exists() else []:
        for sub in ("propagate", "unix-export"):
            shutil.rmtree(NSPAWN_RUN / sub / machine(node_dir.name), ignore_errors=True)
    if not r.dry_run:
        shutil.rmtree(paths.root, ignore_errors=True)
    took = time.monotonic() - t0
    progress(f"lab down in {took:.1f} s" + (f"; cgroups still busy: {', '.join(left)}" if left else ""))
    return took


# --- status -----------------------------------------------------------------------------------


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def ns_pids(ns: str) -> list[int]:
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False).stdout
    return [int(x) for x in out.split()]


def memory_mib(st: LabState) -> dict[str, float]:
    """Proportional set size of every process in the lab's namespaces, by namespace (MiB)."""
    return {ns: sum(pss_kib(p) for p in ns_pids(ns)) / 1024 for ns in st.netns}


def port_states(paths: LabPaths, switch_id: str) -> dict[str, dict[str, object]]:
    path = paths.switch(switch_id) / "ports.json"
    try:
        data: dict[str, dict[str, object]] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data


def status(paths: LabPaths) -> dict[str, object]:
    st = load(paths.state)
    procs: list[Proc] = st.procs
    mem = memory_mib(st) if st.phase != "empty" else {}
    switches_ = sorted({p.what.split(":")[1] for p in procs if p.what.startswith("vswitchd:")})
    return {
        "phase": st.phase,
        "deployment": st.deployment,
        "sites": st.sites,
        "processes": {p.what: ("running" if alive(p) else "stopped") for p in procs},
        "ports": {sw: port_states(paths, sw) for sw in switches_},
        "memory_mib": mem,
        "memory_total_mib": round(sum(mem.values()), 1),
        "plugged": st.plugged,
        "images": _images(paths),
    }


def _images(paths: LabPaths) -> dict[str, dict[str, str]]:
    # images.json is written by segmenting.lab.images (attach-image), which imports this module.
    try:
        data: dict[str, dict[str, str]] = json.loads(paths.images.read_text())
    except FileNotFoundError:
        return {}
    return data
