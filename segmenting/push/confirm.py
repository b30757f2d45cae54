"""Commit-confirmed state shared between the pushing process and ``cloison confirm``.

The pushing process writes ``push-<id>.json`` (mode 0600) in a run directory private to the
user, then waits. ``cloison confirm [ID]``, run from another shell, flips its status. Both
sides read-modify-write under ``flock`` so a confirmation arriving as the window closes is
either seen by the pusher (commit) or refused (rollback) — never both. The run directory is
``$CLOISON_RUN_DIR``, else ``/run/cloison`` for root, else ``$XDG_RUNTIME_DIR/cloison``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from segmenting.push.errors import ConfirmError

AWAITING = "awaiting-confirmation"
CONFIRMED = "confirmed"
EXPIRED = "expired"


def run_dir() -> Path:
    env = os.environ.get("CLOISON_RUN_DIR")
    if env:
        path = Path(env)
    elif os.geteuid() == 0:
        path = Path("/run/cloison")
    elif os.environ.get("XDG_RUNTIME_DIR"):
        path = Path(os.environ["XDG_RUNTIME_DIR"]) / "cloison"
    else:
        path = Path(f"/tmp/cloison-{os.getuid()}")  # noqa: S108 - private 0700 dir, checked below
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_uid != os.getuid():
        raise ConfirmError(f"{path} belongs to another user; set CLOISON_RUN_DIR to a private dir")
    return path


def new_push_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


def state_path(push_id: str, directory: Path | None = None) -> Path:
    return (directory or run_dir()) / f"push-{push_id}.json"


def create(push_id: str, kind: str, devices: list[str], directory: Path | None = None) -> Path:
    path = state_path(push_id, directory)
    record = {
        "id": push_id,
        "kind": kind,
        "pid": os.getpid(),
        "devices": devices,
        "status": "applying",
        "deadline": None,
        "created": time.time(),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(record, fh)
    return path


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[tuple[dict[str, Any], TextIO]]:
    with path.open("r+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield json.load(fh), fh


def _write(fh: TextIO, record: dict[str, Any]) -> None:
    fh.seek(0)
    fh.truncate()
    json.dump(record, fh)
    fh.flush()


def update(path: Path, **fields: Any) -> dict[str, Any]:
    with _locked(path) as (record, fh):
        record.update(fields)
        _write(fh, record)
        return record


def await_confirmation(
    path: Path, seconds: float, tick: Callable[[float], None] | None = None, poll: float = 0.1
) -> bool:
    """Open the window, wait for ``cloison confirm``; True if confirmed in time."""
    deadline = time.time() + seconds
    update(path, status=AWAITING, deadline=deadline)
    while True:
        with _locked(path) as (record, fh):
            if record["status"] == CONFIRMED:
                return True
            if time.time() >= deadline:
                record["status"] = EXPIRED
                _write(fh, record)
                return False
        if tick is not None:
            tick(max(0.0, deadline - time.time()))
        time.sleep(poll)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def confirm(push_id: str | None, directory: Path | None = None) -> dict[str, Any]:
    """Confirm one pending push (the only one, when no id is given)."""
    folder = directory or run_dir()
    if push_id is None:
        pending = []
        for candidate in sorted(folder.glob("push-*.json")):
            try:
                record = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if record.get("status") == AWAITING and _alive(int(record.get("pid", 0))):
                pending.append(record["id"])
        if not pending:
            raise ConfirmError(f"no push is waiting for confirmation (looked in {folder})")
        if len(pending) > 1:
            raise ConfirmError("several pushes wait for confirmation: " + ", ".join(pending) + "; name one")
        push_id = pending[0]
    path = state_path(push_id, folder)
    if not path.exists():
        raise ConfirmError(f"no push {push_id} in {folder}")
    with _locked(path) as (record, fh):
        status = record.get("status")
        if status == CONFIRMED:
            return record
        if status != AWAITING:
            raise ConfirmError(
                f"push {push_id} is {status}, not waiting for confirmation"
                + ("; it was (or is being) rolled back" if status == EXPIRED else "")
            )
        if time.time() >= float(record["deadline"]) or not _alive(int(record["pid"])):
            raise ConfirmError(f"push {push_id}: the confirmation window has closed; it rolls back")
        record["status"] = CONFIRMED
        record["confirmed_at"] = time.time()
        _write(fh, record)
        return record
