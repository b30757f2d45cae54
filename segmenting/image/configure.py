"""Apply the roles to an image: boot its root filesystem as a systemd-nspawn node, run Ansible.

ansible-core has no chroot connection, and a booted systemd is what the roles expect anyway
(units enabled, services reloaded), so the image is booted in place (``-D rootfs``, changes land
in the image) inside a network namespace of its own, reached over SSH with a throw-away key
that :func:`segmenting.image.build.clean` removes before packing. Ansible logs in as the named
administrator the lab uses (:data:`segmenting.lab.access.ADMIN_USER`, sudo through its group),
never as root, so the hardening role refuses root logins in the image as it does in the lab; the
first boot puts the deployment's key on that account. Options follow LAB-NOTES:
``--register=no --keep-unit`` (no machined here) and ``CAP_NET_ADMIN`` for nft inside.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from segmenting.errors import CloisonError
from segmenting.image.build import ImageRole
from segmenting.lab.access import ADMIN_USER
from segmenting.lab.nodes import admin_account
from segmenting.lab.run import SubprocessRunner

PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "image.yml"
PREFIX = "cimg"
HOST_IP, NODE_IP = "10.254.253.1", "10.254.253.2"
SUDOERS_DROP_IN = "cloison-admin"  # the image's own name for the lab's drop-in (sorts after the role's)


def _ip(*args: str, netns: str | None = None) -> None:
    cmd = ["ip", *(["-n", netns] if netns else []), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CloisonError(f"`{' '.join(cmd)}` failed: {proc.stderr.strip()}")


def _tool(name: str) -> str:
    """A tool from the running venv first (cloison may be called as .venv/bin/cloison), then PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise CloisonError(f"{name} not found: run from the project's venv (make venv) or install it")
    return found


def _wait_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise CloisonError(f"the image node did not open SSH on {host}:{port} within {timeout:.0f} s")


@contextmanager
def booted(rootfs: Path, tag: str, boot_timeout: float = 90) -> Iterator[str]:
    """Boot ``rootfs`` in place as a systemd-nspawn node in its own namespace; yield its address.

    The node is powered off and every link and namespace removed on exit, also on errors.
    """
    netns, host_if = f"{PREFIX}-{tag}", f"{PREFIX}{tag}h"
    node: subprocess.Popen[bytes] | None = None
    try:
        _ip("netns", "add", netns)
        _ip("link", "add", host_if, "type", "veth", "peer", "name", "host0", "netns", netns)
        _ip("addr", "add", f"{HOST_IP}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("addr", "add", f"{NODE_IP}/30", "dev", "host0", netns=netns)
        _ip("link", "set", "host0", "up", netns=netns)
        _ip("link", "set", "lo", "up", netns=netns)
        node = subprocess.Popen(
            [
                "systemd-nspawn", "-q", "-b", "-D", str(rootfs), "--register=no", "--keep-unit",
                "--capability=CAP_NET_ADMIN", f"--network-namespace-path=/run/netns/{netns}",
                f"--machine={netns}", "--console=passive",
            ],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # /proc/sys/net writable: it is the node's own network namespace (the lab does the same).
            env={**os.environ, "SYSTEMD_NSPAWN_API_VFS_WRITABLE": "network"},
        )  # fmt: skip
        _wait_port(NODE_IP, 22, boot_timeout)
        yield NODE_IP
    finally:
        if node is not None:
            node.terminate()  # nspawn -b turns SIGTERM into an orderly poweroff of the node
            try:
                node.wait(timeout=60)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", netns], capture_output=True, check=False)


def ansible_inventory(path: Path, name: str, address: str, key: Path, groups: tuple[str, ...] = ()) -> Path:
    """A one-host INI inventory reaching a booted image as its named administrator with ``key``."""
    lines = [
        f"{name} ansible_host={address} ansible_user={ADMIN_USER} ansible_become=true "
        f"ansible_ssh_private_key_file={key} "
        "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'",
        *(f"[{g}]\n{name}" for g in groups),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class NspawnAnsibleConfigurer:
    """Boots the rootfs, runs ``playbooks/image.yml`` for the image role, powers off."""

    def __init__(self, playbook: Path = PLAYBOOK, boot_timeout: float = 90) -> None:
        self.playbook = playbook
        self.boot_timeout = boot_timeout

    def configure(self, rootfs: Path, role: ImageRole) -> None:
        if not self.playbook.exists():
            raise CloisonError(f"{self.playbook} is missing: the image playbook applies the roles")
        work = Path(tempfile.mkdtemp(prefix="cloison-imgcfg-"))
        try:
            key = work / "id_ed25519"
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
            admin_account(
                SubprocessRunner(), rootfs, key.with_suffix(".pub").read_text(), drop_in=SUDOERS_DROP_IN,
                who="cloison appliance",
            )  # fmt: skip
            with booted(rootfs, f"{os.getpid() % 100000}", self.boot_timeout) as address:
                inventory = ansible_inventory(work / "hosts.ini", "image-node", address, key, role.groups)
                # Pipelining sends each module over the open SSH connection instead of copying it
                # to a temporary file first: fewer round trips per task (the drop-in lifts requiretty).
                env = {
                    **os.environ,
                    "ANSIBLE_CONFIG": str(self.playbook.parents[1] / "ansible.cfg"),
                    "ANSIBLE_PIPELINING": "True",
                }
                proc = subprocess.run(
                    [_tool("ansible-playbook"), "-i", str(inventory), str(self.playbook),
                     "-e", f"cloison_image_role={role.name}"],
                    env=env, capture_output=True, text=True, check=False,
                )  # fmt: skip
            if proc.returncode != 0:
                tail = "\n".join(proc.stdout.splitlines()[-25:])
                raise CloisonError(f"the roles failed on the {role.name} image:\n{tail}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
