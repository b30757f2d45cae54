"""The one adapter through which the lab runs commands and starts processes.

Everything with a side effect goes through :class:`Runner`, so ``--dry-run`` prints the commands
instead of running them and tests can substitute a recorder. Processes are started in their own
session and recorded by PID *and* start time (``/proc/PID/stat`` field 22), so that stopping them
later can never hit an unrelated process that reused the PID.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from segmenting.errors import EXIT_RUNTIME, CloisonError


class LabError(CloisonError):
    """The lab could not be built or torn down (a command failed, a daemon did not start)."""

    exit_code = EXIT_RUNTIME


@dataclass(frozen=True)
class Proc:
    pid: int
    start: int  # kernel start time in clock ticks: (pid, start) names one process forever
    what: str


def in_ns(ns: str | None, argv: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv] if ns else list(argv)


def start_time(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    return int(stat.rsplit(")", 1)[1].split()[19])


def alive(proc: Proc) -> bool:
    return start_time(proc.pid) == proc.start


class Runner(Protocol):
    dry_run: bool

    def run(self, argv: Sequence[str], *, ns: str | None = None, check: bool = True, stdin: str | None = None,
            timeout: float = 120, env: Mapping[str, str] | None = None) -> str: ...  # fmt: skip

    def spawn(self, argv: Sequence[str], *, what: str, log: Path, ns: str | None = None,
              env: Mapping[str, str] | None = None) -> Proc: ...  # fmt: skip

    def stop(self, procs: Sequence[Proc], *, grace: float = 8.0) -> None: ...


class SubprocessRunner:
    def __init__(self, dry_run: bool = False, verbose: bool = False) -> None:
        self.dry_run = dry_run
        self.verbose = verbose

    def _show(self, argv: Sequence[str]) -> None:
        if self.dry_run or self.verbose:
            print("+ " + shlex.join(argv), flush=True)

    def run(self, argv: Sequence[str], *, ns: str | None = None, check: bool = True, stdin: str | None = None,
            timeout: float = 120, env: Mapping[str, str] | None = None) -> str:  # fmt: skip
        full = in_ns(ns, argv)
        self._show(full)
        if self.dry_run:
            return ""
        merged = {**os.environ, **env} if env else None
        try:
            res = subprocess.run(
                full, input=stdin, capture_output=True, text=True, timeout=timeout, env=merged, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"timed out after {timeout:.0f} s: {shlex.join(full)}") from exc
        if check and res.returncode != 0:
            raise LabError(f"command failed ({res.returncode}): {shlex.join(full)}\n{res.stderr.strip()}")
        return res.stdout

    def spawn(self, argv: Sequence[str], *, what: str, log: Path, ns: str | None = None,
              env: Mapping[str, str] | None = None) -> Proc:  # fmt: skip
        full = in_ns(ns, argv)
        self._show(full)
        if self.dry_run:
            return Proc(0, 0, what)
        log.parent.mkdir(parents=True, exist_ok=True)
        merged = {**os.environ, **env} if env else None
        with log.open("ab") as out:
            p = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True, env=merged)  # fmt: skip
        st = None
        for _ in range(50):  # /proc entry appears at once; this only guards a very busy machine
            st = start_time(p.pid)
            if st is not None:
                break
            time.sleep(0.01)
        if st is None:
            raise LabError(f"{what} exited at once: see {log}")
        return Proc(p.pid, st, what)

    def stop(self, procs: Sequence[Proc], *, grace: float = 8.0) -> None:
        """SIGTERM every process, wait up to ``grace`` seconds, then SIGKILL the rest (all by PID)."""
        live = [p for p in procs if p.pid and alive(p)]
        for p in live:
            _signal(p, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while live and time.monotonic() < deadline:
            _reap()
            live = [p for p in live if alive(p) and not _zombie(p.pid)]
            time.sleep(0.1)
        for p in live:
            _signal(p, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while live and time.monotonic() < deadline:
            _reap()
            live = [p for p in live if alive(p) and not _zombie(p.pid)]
            time.sleep(0.05)


def _signal(p: Proc, sig: signal.Signals) -> None:
    if alive(p):
        with contextlib.suppress(ProcessLookupError):
            os.kill(p.pid, sig)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _reap() -> None:
    # Children we spawned in this process must be reaped or they stay as zombies.
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
