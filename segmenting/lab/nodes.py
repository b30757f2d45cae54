"""Managed hosts: systemd-nspawn containers over an overlay of the cached rootfs.

Booted the way LAB-NOTES proved on this kernel: ``-b --register=no --keep-unit
--capability=CAP_NET_ADMIN --network-namespace-path=/run/netns/NODE``. With ``--keep-unit`` nspawn
creates its ``supervisor``/``payload`` cgroups *under its own cgroup*; started from the root
cgroup, every nspawn on the machine (other engineers' too) would share ``/payload``. So each node
is first moved into its own ``cl-lab/NODE`` cgroup, which ``lab down`` removes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import time
from pathlib import Path

from segmenting.lab.access import ADMIN_GROUP, ADMIN_USER, SUDOERS_DROP_IN
from segmenting.lab.names import LabPaths
from segmenting.lab.run import LabError, Proc, Runner
from segmenting.lab.state import LabState
from segmenting.lab.topology import Node

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_LAB = "cl-lab"


def cgroup_hierarchies() -> list[Path]:
    """Where nspawn looks: cgroup v2 alone, or (hybrid) the v2 tree and the named v1 systemd tree."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return [CGROUP_ROOT]
    return [p for p in (CGROUP_ROOT / "unified", CGROUP_ROOT / "systemd") if p.is_dir()]


def node_cgroups(node_id: str) -> list[Path]:
    return [h / CGROUP_LAB / node_id for h in cgroup_hierarchies()]


def prepare(r: Runner, node: Node, paths: LabPaths, *, lower: Path, pubkey: str, state: LabState) -> Path:
    """Mount the node's overlay and give it an identity: hostname, machine id, host key, and the
    controller's named administrator account (:func:`admin_account`); root gets no SSH key."""
    base = paths.node(node.id)
    upper, work, root = base / "upper", base / "work", base / "root"
    for d in (upper, work, root):
        d.mkdir(parents=True, exist_ok=True)
    r.run(["mount", "-t", "overlay", f"{root}", "-o", f"lowerdir={lower},upperdir={upper},workdir={work}", str(root)])
    state.mounts.append(str(root))
    if r.dry_run:
        return root
    (root / "etc/hostname").write_text(node.id + "\n")
    (root / "etc/hosts").write_text(f"127.0.0.1 localhost\n127.0.1.1 {node.id}\n")
    (root / "etc/machine-id").write_text(secrets.token_hex(16) + "\n")
    key = root / "etc/ssh/ssh_host_ed25519_key"
    r.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{node.id} (cloison lab)", "-f", str(key)])
    admin_account(r, root, pubkey)
    return root


def admin_account(
    r: Runner, root: Path, pubkey: str, *, drop_in: str = SUDOERS_DROP_IN, who: str = "cloison lab"
) -> None:
    """The controller's account on a node: named, key only (no password), sudo through its group.

    ANSSI BP-028 R33 / PA-022 R30: the controller (Ansible, the audit, the lab's own tests) logs in
    as :data:`ADMIN_USER` and elevates with sudo, so the hardening role can refuse root logins
    without locking the controller out. The account is a member of :data:`ADMIN_GROUP`, the group
    the hardening role's SSH ``AllowGroups`` and sudo policy name. Its drop-in grants the group
    sudo without a password (the account has none) and without a tty (Ansible pipelines its
    modules through sudo's stdin); it sorts after the role's ``cloison`` file, so it wins. An
    appliance image (:mod:`segmenting.image.configure`) gets the same account under its own
    ``drop_in`` name, its key replaced at first boot by the deployment's.
    """
    if ADMIN_USER not in _names(root / "etc/passwd"):
        if ADMIN_GROUP not in _names(root / "etc/group"):
            r.run(["groupadd", "--root", str(root), "--system", ADMIN_GROUP])
        r.run(["useradd", "--root", str(root), "--create-home", "--shell", "/bin/bash", "--groups", ADMIN_GROUP,
               "--comment", f"{who} controller", ADMIN_USER])  # fmt: skip
    uid, gid = next((int(f[2]), int(f[3])) for f in _entries(root / "etc/passwd") if f[0] == ADMIN_USER)
    ssh_dir = root / "home" / ADMIN_USER / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    keys = ssh_dir / "authorized_keys"
    keys.write_text(pubkey)
    keys.chmod(0o600)
    for p in (ssh_dir, keys):
        os.chown(p, uid, gid)
    sudoers = root / "etc/sudoers.d" / drop_in
    sudoers.write_text(
        f"# {who}: the controller's account (key only, no password) administers the node.\n"
        f"Defaults:%{ADMIN_GROUP} !requiretty\n"
        f"%{ADMIN_GROUP} ALL=(ALL:ALL) NOPASSWD: EXEC: ALL\n"
    )
    sudoers.chmod(0o440)


def _entries(path: Path) -> list[list[str]]:
    return [line.split(":") for line in path.read_text().splitlines() if line and not line.startswith("#")]


def _names(path: Path) -> set[str]:
    return {f[0] for f in _entries(path)}


def host_key(paths: LabPaths, node_id: str) -> str:
    pub = (paths.node(node_id) / "root/etc/ssh/ssh_host_ed25519_key.pub").read_text().split()
    return f"{pub[0]} {pub[1]}"


def boot(r: Runner, node: Node, paths: LabPaths, state: LabState, *, hostname: str | None = None) -> Proc:
    """Start the node's container; ``hostname`` when it is not the node's id (an attached image)."""
    root = paths.node(node.id) / "root"
    cgroups = node_cgroups(node.id)
    for cg in cgroups:
        if not r.dry_run:
            cg.mkdir(parents=True, exist_ok=True)
        state.created_dirs.append(str(cg))
    nspawn = [
        "systemd-nspawn", "--quiet", "--boot", "--register=no", "--keep-unit",
        "--capability=CAP_NET_ADMIN", f"--network-namespace-path=/run/netns/{node.ns}",
        f"--directory={root}", f"--machine=cl-{node.id}", f"--hostname={hostname or node.id}",
        "--console=passive", "--link-journal=no",
        "--resolv-conf=off", "--timezone=off",
        # strongSwan's kernel-libipsec and wireguard-go need a TUN device (the kernel has no IPsec).
        "--bind=/dev/net/tun",
    ]  # fmt: skip
    join = " && ".join(f"echo $$ > {cg}/cgroup.procs" for cg in cgroups)
    argv = ["sh", "-c", f'{join} && exec "$@"', "sh", *nspawn]
    # /proc/sys/net must be writable inside (roles set ip_forward, rp_filter…); it is the node's own
    # network namespace, so this changes nothing on the machine. The rest of /proc/sys stays read-only.
    env = {"SYSTEMD_NSPAWN_API_VFS_WRITABLE": "network"}
    return state.add_proc(r.spawn(argv, what=f"node:{node.id}", log=console_log(paths, node.id), env=env))


def console_log(paths: LabPaths, node_id: str) -> Path:
    return paths.logs / f"{node_id}.console"


def wait_ssh(host: str, deadline: float, port: int = 22) -> None:
    """Wait for sshd's banner (a TCP connect alone can be answered before sshd is ready)."""
    while True:
        try:
            with socket.create_connection((host, port), timeout=1) as s:
                s.settimeout(2)
                if s.recv(4).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise LabError(f"{host}:{port} did not answer SSH in time")
        time.sleep(0.3)


def remove_cgroups(dirs: list[str], timeout: float = 20.0) -> list[str]:
    """rmdir the lab's cgroups deepest first; returns those that could not be removed (still busy).

    A node's payload may outlive nspawn by a moment: the kernel kills its PID namespace, but the
    processes leave their cgroups later (seconds on a loaded machine). Whatever is still inside
    the lab's own cgroups is the lab's: it gets SIGKILL, by PID, and removal is retried until
    ``timeout`` (0: one pass, nothing killed).
    """
    left = _rmdir_cgroups(dirs)
    deadline = time.monotonic() + timeout
    while left and time.monotonic() < deadline:
        for cg in left:
            with contextlib.suppress(OSError):
                for pid in Path(cg, "cgroup.procs").read_text().split():
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(int(pid), signal.SIGKILL)
        time.sleep(0.2)
        left = _rmdir_cgroups(dirs)
    return left


def _rmdir_cgroups(dirs: list[str]) -> list[str]:
    left = []
    for top in dirs:
        p = Path(top)
        if not p.exists():
            continue
        for sub in sorted((d for d in p.rglob("*") if d.is_dir()), key=lambda d: len(d.parts), reverse=True):
            try:
                sub.rmdir()
            except OSError:
                left.append(str(sub))
        try:
            p.rmdir()
        except OSError:
            left.append(str(p))
    for h in cgroup_hierarchies():
        with contextlib.suppress(OSError):
            (h / CGROUP_LAB).rmdir()
    return left
