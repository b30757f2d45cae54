"""The cameras' RTSP server runs as nobody from a copy it can read (not from the checkout)."""

from __future__ import annotations

import stat
from pathlib import Path

from segmenting.lab.cameras import SERVER, server_copy


def test_copy_is_world_readable_named_by_content_and_written_once(tmp_path: Path) -> None:
    first = server_copy(tmp_path)
    assert first.read_bytes() == SERVER.read_bytes()
    assert stat.S_IMODE(first.stat().st_mode) == 0o644
    assert first.parent == tmp_path and first.name != SERVER.name
    before = first.stat().st_mtime_ns
    again = server_copy(tmp_path)
    assert again == first and again.stat().st_mtime_ns == before, "an existing copy is reused, not rewritten"
    assert sorted(p.name for p in tmp_path.iterdir()) == [first.name], "no temporary file left"


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    path = server_copy(tmp_path, dry_run=True)
    assert not path.exists() and not list(tmp_path.iterdir())
