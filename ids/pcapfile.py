"""Capture-file reading without dissection: libpcap format and pcapng.

Formats: the libpcap file format (draft-ietf-opsawg-pcap: microsecond and nanosecond magic,
either byte order) and pcapng (draft-ietf-opsawg-pcapng: SHB, IDB with ``if_tsresol``, EPB,
SPB, OPB). Records come out as ``(timestamp, linktype, frame bytes)``, exactly what a live
AF_PACKET socket hands the engine, so a replay and a live run share every later step.
Scapy's ``RawPcapReader`` does the same job; this reader exists because the hot loop here
reads the whole file through ``mmap`` with one ``struct`` call per record.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from pathlib import Path

from ids.decode import SUPPORTED_LINKTYPES
from segmenting.errors import EXIT_INVALID, CloisonError

Record = tuple[float, int, bytes]


class CaptureFileError(CloisonError):
    """A capture file cannot be read."""

    exit_code = EXIT_INVALID


_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"


def read(path: str | Path) -> Iterator[Record]:
    """Yield the records of a pcap or pcapng file; a truncated tail ends the iteration."""
    p = Path(path)
    try:
        fh = p.open("rb")
    except FileNotFoundError as exc:
        raise CaptureFileError(f"{p}: capture file not found") from exc
    except OSError as exc:
        raise CaptureFileError(f"{p}: cannot open capture file: {exc.strerror}") from exc
    with fh:
        head = fh.read(4)
        if len(head) < 4:
            raise CaptureFileError(f"{p}: empty or truncated capture file (no header)")
        if head in _PCAP_MAGICS:
            endian, scale = _PCAP_MAGICS[head]
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                yield from _pcap(p, mm, endian, scale)
        elif head == _PCAPNG_SHB:
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                yield from _pcapng(p, mm)
        else:
            raise CaptureFileError(
                f"{p}: not a pcap or pcapng file (magic {head.hex()}); convert it with `editcap -F pcap`"
            )


def _check_linktype(p: Path, linktype: int) -> None:
    if linktype not in SUPPORTED_LINKTYPES:
        raise CaptureFileError(f"{p}: link type {linktype} is not supported (Ethernet, Linux SLL/SLL2, raw IP)")


def _pcap(p: Path, mm: mmap.mmap, endian: str, scale: float) -> Iterator[Record]:
    if len(mm) < 24:
        raise CaptureFileError(f"{p}: truncated pcap global header")
    linktype = struct.unpack_from(endian + "I", mm, 20)[0] & 0x0FFFFFFF
    _check_linktype(p, linktype)
    rec = struct.Struct(endian + "IIII")
    unpack = rec.unpack_from
    off = 24
    size = len(mm)
    while off + 16 <= size:
        sec, frac, caplen, _orig = unpack(mm, off)
        off += 16
        if caplen > 262144 or off + caplen > size:
            return  # truncated or corrupt record: stop like tcpdump does
        yield sec + frac * scale, linktype, mm[off : off + caplen]
        off += caplen


def _pcapng(p: Path, mm: mmap.mmap) -> Iterator[Record]:
    size = len(mm)
    off = 0
    endian = "<"
    ifaces: list[tuple[int, float]] = []
    while off + 12 <= size:
        btype_raw = mm[off : off + 4]
        if btype_raw == _PCAPNG_SHB:
            bom = mm[off + 8 : off + 12]
            endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        btype, blen = struct.unpack_from(endian + "II", mm, off)
        if blen < 12 or off + blen > size:
            return
        body = off + 8
        if btype == 1:  # Interface Description Block
            linktype = struct.unpack_from(endian + "H", mm, body)[0]
            ifaces.append((linktype, _tsresol(mm, endian, body + 8, off + blen - 4)))
        elif btype in (6, 2):  # Enhanced / obsolete Packet Block
            if btype == 6:
                ifid, hi, lo, caplen, _orig = struct.unpack_from(endian + "IIIII", mm, body)
            else:
                ifid, _drops, hi, lo, caplen, _orig = struct.unpack_from(endian + "HHIIII", mm, body)
            if ifid < len(ifaces) and body + 20 + caplen <= off + blen:
                lt, res = ifaces[ifid]
                _check_linktype(p, lt)
                yield ((hi << 32) | lo) * res, lt, mm[body + 20 : body + 20 + caplen]
        elif btype == 3 and ifaces:  # Simple Packet Block: no timestamp
            orig = struct.unpack_from(endian + "I", mm, body)[0]
            cap = min(orig, blen - 16)
            lt, _res = ifaces[0]
            _check_linktype(p, lt)
            yield 0.0, lt, mm[body + 4 : body + 4 + cap]
        off += blen
    return


def _tsresol(mm: mmap.mmap, endian: str, off: int, end: int) -> float:
    """The IDB's ``if_tsresol`` option (code 9), default microseconds."""
    while off + 4 <= end:
        code, length = struct.unpack_from(endian + "HH", mm, off)
        if code == 0:
            break
        if code == 9 and length >= 1:
            v = mm[off + 4]
            return float(2 ** -(v & 0x7F)) if v & 0x80 else float(10 ** -(v & 0x7F))
        off += 4 + ((length + 3) & ~3)
    return 1e-6


class PcapWriter:
    """Minimal libpcap writer (microsecond timestamps), for tests and benchmarks."""

    def __init__(self, path: str | Path, linktype: int = 1) -> None:
        self._fh = Path(path).open("wb")  # noqa: SIM115 - closed in close()
        self._fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype))
        self._hdr = struct.Struct("<IIII")

    def write(self, ts: float, frame: bytes) -> None:
        sec = int(ts)
        usec = round((ts - sec) * 1e6)
        if usec >= 1_000_000:
            sec, usec = sec + 1, usec - 1_000_000
        self._fh.write(self._hdr.pack(sec, usec, len(frame), len(frame)))
        self._fh.write(frame)

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
