"""Live capture from an interface (the switch mirror port): AF_PACKET, BPF, kernel drop counts.

Linux ``packet(7)``: a raw ``AF_PACKET`` socket on ``ETH_P_ALL``, a large receive buffer
(``SO_RCVBUFFORCE``, root), the classic BPF program from ``ids/bpf.py`` attached *before*
bind so no unfiltered frame slips in, promiscuous membership, and ``PACKET_STATISTICS`` for
frames received and dropped by the kernel (the counters reset on each read, so they are
accumulated here). Frames go to :meth:`Engine.process` exactly as a capture file's do.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time

from ids.decode import LINKTYPE_ETHERNET
from ids.engine import Engine
from segmenting.errors import CloisonError

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_STATISTICS = 6
SO_RCVBUFFORCE = 33
PACKET_OUTGOING = 4


class CaptureError(CloisonError):
    """The interface cannot be opened for capture."""


class LiveCapture:
    def __init__(self, iface: str, bpf: str | None = None, rcvbuf: int = 64 << 20) -> None:
        self.iface = iface
        self.received = 0
        self.drops = 0
        try:
            ifindex = socket.if_nametoindex(iface)
        except OSError as exc:
            raise CaptureError(f"interface {iface!r} does not exist") from exc
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        except PermissionError as exc:
            raise CaptureError("capturing needs root (or CAP_NET_RAW)") from exc
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if bpf:
            from scapy.arch.linux import attach_filter  # noqa: PLC0415 - live only, heavy

            try:
                attach_filter(sock, bpf, iface)
            except Exception as exc:
                sock.close()
                raise CaptureError(f"cannot compile the BPF filter {bpf!r}: {exc}") from exc
        sock.bind((iface, ETH_P_ALL))
        mreq = struct.pack("IHH8s", ifindex, PACKET_MR_PROMISC, 0, b"")
        sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        sock.setblocking(False)
        self.sock = sock

    def kernel_stats(self) -> tuple[int, int]:
        """(frames passed to the socket, frames dropped), cumulative since opening."""
        raw = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        packets, drops = struct.unpack("II", raw)
        self.received += packets
        self.drops += drops
        return self.received, self.drops

    def run(self, engine: Engine, stop: threading.Event, duration: float | None = None) -> None:
        """Feed the engine until ``stop`` is set or ``duration`` seconds passed."""
        recvfrom = self.sock.recvfrom
        process = engine.process
        now = time.time
        iface = self.iface
        fd = self.sock.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        end = now() + duration if duration is not None else float("inf")
        while not stop.is_set():
            # Drain everything queued, then sleep in poll: one syscall per frame under load.
            try:
                for _ in range(4096):  # bounded so the stop/duration checks still run
                    frame, addr = recvfrom(65535)
                    if addr[2] != PACKET_OUTGOING:
                        process(now(), LINKTYPE_ETHERNET, frame, iface)
            except BlockingIOError:
                pass
            except OSError as exc:  # the interface went down or away under us
                raise CaptureError(f"capture on {iface} failed: {exc.strerror}") from exc
            t = now()
            if t >= end:
                break
            engine.idle(t)
            poller.poll(200)

    def close(self) -> None:
        self.sock.close()
