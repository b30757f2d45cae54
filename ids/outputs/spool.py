"""An on-disk spool: alerts survive a collector outage and a sensor restart, in order.

Layout: ``queue`` holds records (4-byte big-endian length + bytes), appended and fsynced;
``offset`` holds how many bytes of ``queue`` were delivered. Delivery reads from the offset,
and the offset moves only after the transport accepted a record. When everything is
delivered the two files are reset, so the spool does not grow while the collector is up.
"""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path

from segmenting.errors import CloisonError

_LEN = struct.Struct("!I")


class SpoolError(CloisonError):
    """The spool directory cannot be used."""


class Spool:
    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._queue = self.dir / "queue"
            self._offset = self.dir / "offset"
            self._queue.touch(exist_ok=True)
        except OSError as exc:
            raise SpoolError(f"{self.dir}: cannot use as alert spool: {exc.strerror}") from exc
        self._lock = threading.Lock()
        self.ready = threading.Event()
        if self.pending():
            self.ready.set()

    def _read_offset(self) -> int:
        try:
            return int(self._offset.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def append(self, record: bytes) -> None:
        with self._lock, self._queue.open("ab") as fh:
            fh.write(_LEN.pack(len(record)) + record)
            fh.flush()
            os.fsync(fh.fileno())
        self.ready.set()

    def pending(self) -> int:
        """Bytes not yet delivered."""
        with self._lock:
            return self._queue.stat().st_size - self._read_offset()

    def peek(self, limit: int = 256) -> list[tuple[int, bytes]]:
        """Up to ``limit`` undelivered records as (end offset, record), oldest first."""
        with self._lock:
            off = self._read_offset()
            out: list[tuple[int, bytes]] = []
            with self._queue.open("rb") as fh:
                fh.seek(off)
                while len(out) < limit:
                    head = fh.read(4)
                    if len(head) < 4:
                        break
                    (n,) = _LEN.unpack(head)
                    body = fh.read(n)
                    if len(body) < n:
                        break  # a record being written: deliver it next time
                    off += 4 + n
                    out.append((off, body))
            return out

    def commit(self, end_offset: int) -> None:
        """Mark everything before ``end_offset`` delivered; reset when the queue is drained."""
        with self._lock:
            if end_offset >= self._queue.stat().st_size:
                self._queue.write_bytes(b"")
                self._offset.write_text("0")
                self.ready.clear()
            else:
                tmp = self._offset.with_suffix(".tmp")
                tmp.write_text(str(end_offset))
                tmp.replace(self._offset)  # atomic: a crash leaves the old or the new offset
