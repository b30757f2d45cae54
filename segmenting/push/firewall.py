"""``cloison push firewall``: apply an nftables ruleset that cannot lock the admin out.

Save ``nft list ruleset``; check the candidate (``nft -c``); arm a restore timer on the host;
apply in one transaction; probe management access from the controller; then wait for
``cloison confirm`` when a window is given. If the probe fails, or nobody confirms, the saved
ruleset is loaded again and ``nft list ruleset`` is compared with the saved text. If the
controller has lost the host altogether, the host-side timer restores it by itself.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from segmenting.errors import EXIT_OK, CloisonError, UsageError
from segmenting.push import cliconf, confirm
from segmenting.push.errors import PushFailed, RollbackFailed
from segmenting.push.nft import LocalNft, NftHost, SshNft
from segmenting.push.targets import DeviceTarget

Probe = Callable[[], bool]
# How long the host waits before restoring by itself, beyond the confirmation window: the
# controller restores first when it still can.
RESTORE_MARGIN = 30.0


@dataclass(frozen=True)
class BannerProbe:
    """Management still works if the host's SSH server greets us (a bare TCP connect can be
    answered by a forwarder or a load balancer while sshd itself is cut off)."""

    host: str
    port: int = 22
    timeout: float = 3.0
    expect: bytes = b"SSH-"

    def __call__(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout) as s:
                s.settimeout(self.timeout)
                return s.recv(64).startswith(self.expect)
        except OSError:
            return False


@dataclass
class FirewallResult:
    push_id: str
    status: str  # committed | restored | dry-run | unchanged
    diff: str
    detail: str = ""


class FirewallPush:
    def __init__(
        self,
        host: NftHost,
        ruleset: str,
        *,
        probe: Probe | None = None,
        confirm_within: float | None = None,
        dry_run: bool = False,
        run_directory: Path | None = None,
        out: TextIO | None = None,
        probe_attempts: int = 3,
    ) -> None:
        self.host = host
        self.ruleset = ruleset
        self.probe = probe
        self.confirm_within = confirm_within
        self.dry_run = dry_run
        self.run_directory = run_directory
        self.out = out or sys.stdout
        self.probe_attempts = probe_attempts
        self.push_id = confirm.new_push_id()

    def _probe_ok(self) -> bool:
        if self.probe is None:
            return True
        for attempt in range(self.probe_attempts):
            if self.probe():
                return True
            time.sleep(0.3 * (attempt + 1))
        return False

    def _restore(self, backup: str, why: str) -> None:
        try:
            self.host.load(backup)
            now = self.host.list_ruleset()
        except CloisonError as exc:
            raise RollbackFailed(
                self.host.name,
                f"{why}; restoring the saved ruleset failed: {exc}",
                "the host-side timer restores it by itself; check the host",
            ) from None
        if now != backup:
            raise RollbackFailed(
                self.host.name,
                f"{why}; after restore the ruleset differs from the saved one:\n"
                + cliconf.unified_diff(self.host.name, backup, now),
                "restore by hand",
            )

    def run(self) -> FirewallResult:
        try:
            return self._run()
        finally:
            self.host.close()

    def _run(self) -> FirewallResult:
        backup = self.host.list_ruleset()
        self.host.check(self.ruleset)
        diff = cliconf.unified_diff(self.host.name, backup, self.ruleset)
        if self.dry_run:
            return FirewallResult(self.push_id, "dry-run", diff, "nft -c accepted the ruleset")
        state = confirm.create(self.push_id, "firewall", [self.host.name], self.run_directory)
        window = self.confirm_within or 0.0
        timer = self.host.arm_restore(backup, window + RESTORE_MARGIN)
        try:
            self.host.load(self.ruleset)
            applied = self.host.list_ruleset()
            if not self._probe_ok():
                self._restore(backup, "management access failed after applying")
                confirm.update(state, status="rolled-back", pid=0)
                raise PushFailed(
                    f"{self.host.name}: management probe failed after applying the ruleset; "
                    "the previous ruleset was restored (fix: allow the management flow first)"
                )
            if self.confirm_within is not None:
                print(
                    f"push {self.push_id}: ruleset applied on {self.host.name}; confirm within "
                    f"{self.confirm_within:.0f}s with: cloison confirm {self.push_id}",
                    file=self.out,
                )
                if not confirm.await_confirmation(state, self.confirm_within):
                    self._restore(backup, "not confirmed in time")
                    confirm.update(state, status="rolled-back", pid=0)
                    return FirewallResult(self.push_id, "restored", diff, "not confirmed in time")
            confirm.update(state, status="committed", pid=0)
            return FirewallResult(self.push_id, "committed", cliconf.unified_diff(self.host.name, backup, applied))
        finally:
            self.host.disarm_restore(timer)


def _ssh_target(spec: str, key_file: Path | None) -> DeviceTarget:
    user, _, rest = spec.rpartition("@")
    host, _, port = rest.partition(":")
    if not user or not host or (port and not port.isdigit()):
        raise UsageError(f"--ssh {spec!r}: expected USER@HOST[:PORT]")
    if key_file is None:
        raise UsageError("--ssh needs --key-file (passwords are not taken on the command line)")
    return DeviceTarget(
        name=host, host=host, port=int(port or 22), device_type="linux", username=user, key_file=key_file
    )


def run_from_args(args: argparse.Namespace) -> int:
    try:
        ruleset = args.ruleset.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{args.ruleset}: {exc.strerror}") from None
    host: NftHost = SshNft(_ssh_target(args.ssh, args.key_file)) if args.ssh else LocalNft(args.netns)
    probe: Probe | None = None
    if args.probe:
        h, _, p = args.probe.rpartition(":")
        if not h or not p.isdigit():
            raise UsageError(f"--probe {args.probe!r}: expected HOST:PORT")
        probe = BannerProbe(h, int(p))
    elif args.ssh:
        target = _ssh_target(args.ssh, args.key_file)
        probe = BannerProbe(target.host, target.port)
    result = FirewallPush(host, ruleset, probe=probe, confirm_within=args.confirm_within, dry_run=args.dry_run).run()
    if result.diff:
        print(result.diff.rstrip("\n"))
    print(f"push {result.push_id}: {host.name}: {result.status}" + (f" ({result.detail})" if result.detail else ""))
    if result.status == "restored":
        raise PushFailed(f"{host.name}: {result.detail}; the previous ruleset was restored")
    return EXIT_OK
