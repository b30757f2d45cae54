"""Push to many switches with commit-confirmed semantics and an all-or-nothing policy.

Per switch: back up the running config, show the diff (running → predicted), apply, read
back and verify every intended line, then — once every switch is verified and, with
``confirm_within``, once ``cloison confirm`` arrived in time — save. Junos's
``commit confirmed`` is the model: an unconfirmed change undoes itself.

Policy (docs/push.md): with ``atomic=True`` (the default) a push is one change. If any switch
cannot be reached or backed up, nothing is applied anywhere; if any switch refuses a line or
fails verification, every switch already changed is rolled back to its backup; an expired
window rolls back all of them. With ``atomic=False`` each switch stands alone, and is still
either fully new or fully old. Saving happens last, so a switch that reboots mid-push comes
back with its old config.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from segmenting.errors import CloisonError
from segmenting.push import cliconf, confirm
from segmenting.push.errors import RollbackFailed, VerifyFailed
from segmenting.push.netmiko_cli import NetmikoCliSession
from segmenting.push.ovs import OvsSession
from segmenting.push.session import DryRunSession, SwitchSession
from segmenting.push.targets import DeviceTarget, PushItem

SessionFactory = Callable[[DeviceTarget], SwitchSession]


def default_session(target: DeviceTarget) -> SwitchSession:
    if target.device_type == "linux":
        return OvsSession(target)
    return NetmikoCliSession(target)


@dataclass
class DeviceResult:
    name: str
    device_type: str
    status: str = "pending"
    added: int = 0
    removed: int = 0
    detail: str = ""
    seconds: float = 0.0
    diff: str = ""
    actions: list[str] = field(default_factory=list)
    backup: str = ""
    applied: bool = False

    @property
    def ok(self) -> bool:
        return self.status in ("committed", "unchanged", "dry-run")


@dataclass
class PushReport:
    push_id: str
    results: list[DeviceResult]
    committed: bool
    seconds: float

    def table(self) -> str:
        rows = [("device", "type", "result", "+/-", "time", "detail")]
        for r in sorted(self.results, key=lambda r: r.name):
            rows.append(
                (
                    r.name,
                    r.device_type,
                    r.status,
                    f"+{r.added}/-{r.removed}",
                    f"{r.seconds:.1f}s",
                    r.detail.splitlines()[0] if r.detail else "",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row[:5], widths, strict=True)) + "  " + row[5] for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(line.rstrip() for line in lines)


def _count(diff: str) -> tuple[int, int]:
    lines = diff.splitlines()
    added = sum(1 for ln in lines if ln.startswith("+") and not ln.startswith("+++"))
    removed = sum(1 for ln in lines if ln.startswith("-") and not ln.startswith("---"))
    return added, removed


class PushEngine:
    def __init__(
        self,
        items: Sequence[PushItem],
        *,
        workers: int = 8,
        dry_run: bool = False,
        confirm_within: float | None = None,
        atomic: bool = True,
        session_factory: SessionFactory = default_session,
        run_directory: Path | None = None,
        push_id: str | None = None,
        out: TextIO | None = None,
        progress: bool = True,
        show_diff: bool = True,
    ) -> None:
        self.items = list(items)
        self.workers = max(1, workers)
        self.dry_run = dry_run
        self.confirm_within = confirm_within
        self.atomic = atomic
        self.factory = session_factory
        self.run_directory = run_directory
        self.push_id = push_id or confirm.new_push_id()
        self.out = out or sys.stdout
        self.progress = progress
        self.show_diff = show_diff
        self.state_file: Path | None = None
        self.sessions: dict[str, SwitchSession] = {}
        self.results = {i.target.name: DeviceResult(i.target.name, i.target.device_type) for i in self.items}
        self._bar: tqdm | None = None

    # -- helpers ----------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=self.out)
        else:
            print(text, file=self.out)

    def _each(self, names: list[str], step: Callable[[str], None], label: str) -> list[str]:
        """Run ``step`` for every name in parallel; return the names that failed."""
        if self._bar is not None:
            self._bar.set_description(label)

        def guarded(name: str) -> bool:
            result = self.results[name]
            started = time.monotonic()
            try:
                step(name)
                ok = True
            except CloisonError as exc:
                result.detail, ok = str(exc), False
            except Exception as exc:  # one device's surprise must not strand the others
                result.detail, ok = f"{name}: unexpected {type(exc).__name__}: {exc}", False
            result.seconds += time.monotonic() - started
            if self._bar is not None:
                self._bar.update(1)
            return ok

        if not names:
            return []
        with ThreadPoolExecutor(max_workers=min(self.workers, len(names))) as pool:
            oks = list(pool.map(guarded, names))
        return [n for n, ok in zip(names, oks, strict=True) if not ok]

    def _state(self, **fields: object) -> None:
        if self.state_file is not None:
            confirm.update(self.state_file, **fields)

    # -- phases -----------------------------------------------------------------------------
    def _prepare(self, name: str) -> None:
        item = next(i for i in self.items if i.target.name == name)
        session = self.factory(item.target)
        if self.dry_run:
            session = DryRunSession(session)
        self.sessions[name] = session
        session.connect()
        result = self.results[name]
        result.backup = session.running_config()
        predicted = session.predict(result.backup, item.candidate)
        result.diff = cliconf.unified_diff(name, result.backup, predicted)
        result.added, result.removed = _count(result.diff)
        if result.diff:
            session.backup(self.push_id, result.backup)
        if self.dry_run:
            session.apply(item.candidate)
            assert isinstance(session, DryRunSession)
            result.actions = list(session.actions)

    def _apply(self, name: str) -> None:
        item = next(i for i in self.items if i.target.name == name)
        session, result = self.sessions[name], self.results[name]
        result.applied = True  # even a refused line may have left earlier lines applied
        session.apply(item.candidate)
        missing = session.missing(item.candidate)
        if missing:
            raise VerifyFailed(
                name,
                f"{len(missing)} intended line(s) missing after apply: " + "; ".join(missing[:5]),
                "the platform may rewrite these lines; render them as it prints them",
            )

    def _rollback(self, name: str) -> None:
        result = self.results[name]
        try:
            self.sessions[name].rollback(self.push_id, result.backup)
        except RollbackFailed:
            result.status = "ROLLBACK FAILED"
            raise
        self.sessions[name].discard_backup(self.push_id)

    def _save(self, name: str) -> None:
        self.sessions[name].save()
        self.sessions[name].discard_backup(self.push_id)

    # -- the push ---------------------------------------------------------------------------
    def run(self) -> PushReport:
        started = time.monotonic()
        names = [i.target.name for i in self.items]
        if not self.dry_run:
            self.state_file = confirm.create(self.push_id, "switches", names, self.run_directory)
        steps = len(names) * (1 if self.dry_run else 3)
        self._bar = tqdm(total=steps, disable=not self.progress, unit="step", file=sys.stderr)
        committed = False
        try:
            committed = self._run(names)
        finally:
            for session in self.sessions.values():
                # Closing a dead session must not mask the push's result.
                with contextlib.suppress(Exception):
                    session.close()
            self._bar.close()
            self._bar = None
            if self.state_file is not None:
                self._state(status="committed" if committed else "rolled-back", pid=0)
        return PushReport(self.push_id, [self.results[n] for n in names], committed, time.monotonic() - started)

    def _fail(self, names: list[str], status: str) -> None:
        for n in names:
            self.results[n].status = status

    def _run(self, names: list[str]) -> bool:
        failed = self._each(names, self._prepare, "backup+diff")
        self._fail(failed, "failed (not changed)")
        for name in names:
            result = self.results[name]
            if self.show_diff and result.diff and name not in failed:
                self._say(result.diff.rstrip("\n"))
        if self.dry_run:
            for name in names:
                result = self.results[name]
                if name not in failed:
                    result.status = "dry-run" if result.diff else "unchanged"
                    for action in result.actions:
                        self._say(f"{name}: {action}")
            return False
        if failed and self.atomic:
            self._fail([n for n in names if n not in failed], "not changed (push aborted)")
            return False
        to_apply = [n for n in names if n not in failed and self.results[n].diff]
        for n in names:
            if n not in failed and not self.results[n].diff:
                self.results[n].status = "unchanged"
        bad = self._each(to_apply, self._apply, "apply+verify")
        if bad:
            undo = [n for n in to_apply if self.results[n].applied] if self.atomic else bad
            self._fail(bad, "failed, rolled back")
            self._fail([n for n in undo if n not in bad], "rolled back (another device failed)")
            self._undo(undo)
            if self.atomic:
                return False
            to_apply = [n for n in to_apply if n not in bad]
        if to_apply and self.confirm_within is not None and self.state_file is not None:
            self._say(
                f"push {self.push_id}: {len(to_apply)} switch(es) changed and verified; "
                f"confirm within {self.confirm_within:.0f}s with: cloison confirm {self.push_id}"
            )
            bar = self._bar

            def tick(left: float) -> None:
                if bar is not None:
                    bar.set_description(f"awaiting confirm ({left:.0f}s)")

            if not confirm.await_confirmation(self.state_file, self.confirm_within, tick):
                for n in to_apply:
                    self.results[n].status = "rolled back (not confirmed)"
                self._undo(to_apply)
                return False
        save_failed = self._each(to_apply, self._save, "save")
        for n in to_apply:
            if n in save_failed:
                self.results[n].status = "applied, NOT saved"
            elif self.results[n].status == "pending":
                self.results[n].status = "committed"
        return not save_failed and not bad and not failed

    def _undo(self, names: list[str]) -> None:
        if self._bar is not None:
            self._bar.total += len(names)
        for n in self._each(names, self._rollback, "rollback"):
            self.results[n].status = "ROLLBACK FAILED"
