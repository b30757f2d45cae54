"""The suite leaves no process and no thread behind.

Every process it started carries the session's token. Threads: the interpreter joins every
non-daemon thread at exit, so one still blocked (an SSH server thread waiting for a channel that
never comes) keeps pytest from exiting after its summary; a whole CI run timed out on one.

Daemons that fork away from their parent (sshd, charon, ovsdb-server, hostapd, radiusd...) are
not the suite's children any more once they detach, so only an environment marker finds them.
One left running outlives the suite and keeps any pipe it inherited open, which is what makes a
CI job hang after the last test. This runs after the lab's own teardown test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sized
from pathlib import Path
from typing import TypeVar

SESSION_ENV = "CLOISON_TEST_SESSION"  # set by tests/conftest.py, inherited by every child
GRACE_S = 20.0
T = TypeVar("T", bound=Sized)


def session_processes(token: str) -> dict[int, str]:
    """Live processes (not zombies, not this one) whose environment carries ``token``: pid -> command."""
    marker = f"{SESSION_ENV}={token}".encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            stat = (entry / "stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] == "Z":
                continue
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # gone meanwhile, or a kernel thread
            continue
        found[int(entry.name)] = cmd[:200]
    return found


def settled(probe: Callable[[], T]) -> T:
    """``probe()`` once it is empty, or its last answer after GRACE_S: what is already on its way
    out (an SSH client closing, a node powering off) is not called a leftover."""
    deadline = time.monotonic() + GRACE_S
    left = probe()
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = probe()
    return left


def test_zz_session_leaves_no_process() -> None:
    token = os.environ[SESSION_ENV]
    left = settled(lambda: session_processes(token))
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # ours by the token: clean up so the next run starts empty
    assert not left, (
        "processes started by the tests outlived them:\n"
        + "\n".join(f"  {pid}: {cmd}" for pid, cmd in left.items())
        + f"\n(they carry {SESSION_ENV}; each test or fixture must stop what it starts)"
    )


def test_session_processes_finds_a_detached_child(tmp_path: Path) -> None:
    # The check must see a process that left its parent's session and process group.
    token = os.environ[SESSION_ENV]
    proc = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        assert proc.pid in session_processes(token)
    finally:
        proc.kill()
        proc.wait()
    assert proc.pid not in session_processes(token)


def blocking_threads() -> list[threading.Thread]:
    """Non-daemon threads other than the main one: the interpreter would wait for them at exit."""
    return [t for t in threading.enumerate() if t.is_alive() and not t.daemon and t is not threading.main_thread()]


def test_zz_session_leaves_no_thread() -> None:
    left = settled(blocking_threads)
    assert not left, "non-daemon threads still running; pytest could not exit:\n" + "\n".join(
        f"  {t.name} ({getattr(t, '_target', None)})" for t in left
    )


def test_blocking_threads_finds_a_waiting_thread() -> None:
    release = threading.Event()
    worker = threading.Thread(target=release.wait, name="cloison-test-waiter")
    worker.start()
    try:
        assert worker in blocking_threads()
    finally:
        release.set()
        worker.join()
    assert worker not in blocking_threads()
