"""Live capture from an interface (the switch mirror port): AF_PACKET, BPF, kernel drop counts.

Linux ``packet(7)``: a raw ``AF_PACKET`` socket on ``ETH_P_ALL``, a large receive buffer
(``SO_RCVBUFFORCE``, root), the classic BPF program from ``ids/bpf.py`` attached *before*
bind so no unfiltered frame slips in, promiscuous membership, and ``PACKET_STATISTICS`` for
frames received and dropped by the kernel (the counters reset on each read, so they are
accumulated here). Frames go to :meth:`Engine.process` exactly as a capture file's do.
"""

from __future__ import annotations

import mmap
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
PACKET_RX_RING = 5
PACKET_VERSION = 10
TPACKET_V3 = 2
TP_STATUS_USER = 1
_BLOCK = struct.Struct("III")  # block_status, num_pkts, offset_to_first_pkt (at +8)
_HDR = struct.Struct("IIIIIIH")  # next, sec, nsec, snaplen, len, status, mac offset
_VLAN = struct.Struct("IH")  # tpacket_hdr_variant1 at +32: vlan_tci, vlan_tpid
TP_STATUS_VLAN_VALID = 1 << 4
_SLL_PKTTYPE = 48 + 10  # sockaddr_ll after the aligned tpacket3_hdr, sll_pkttype in it


class CaptureError(CloisonError):
    """The interface cannot be opened for capture."""


class LiveCapture:
    def __init__(
        self,
        iface: str,
        bpf: str | None = None,
        rcvbuf: int = 64 << 20,
        *,
        ring: bool = True,
        block_size: int = 1 << 20,
        blocks: int = 64,
    ) -> None:
        self.iface = iface
        self.ring: mmap.mmap | None = None
        self.ring_frames = 0
        self._stats_lock = threading.Lock()
        self.block_size = block_size
        self.blocks = blocks
        self.received = 0
        self.drops = 0
        try:
            ifindex = socket.if_nametoindex(iface)
        except OSError as exc:
            raise CaptureError(f"interface {iface!r} does not exist") from exc
        try:
            # Protocol 0: the socket receives nothing until bind() names the interface, so no
            # frame from another interface slips in while the filter and ring are set up.
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
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
        if ring:
            self._setup_ring(sock)
        sock.bind((iface, ETH_P_ALL))  # CPython applies htons to the protocol itself
        mreq = struct.pack("IHH8s", ifindex, PACKET_MR_PROMISC, 0, b"")
        sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        sock.setblocking(False)
        self.sock = sock

    def _setup_ring(self, sock: socket.socket) -> None:
        """A TPACKET_V3 receive ring (packet_mmap.rst): the kernel fills 1 MiB blocks that
        Python reads in place, one poll per block instead of one syscall per frame. A block
        is handed over when full or after 50 ms, which bounds the added alert latency."""
        frame_size = 2048
        req = struct.pack(
            "7I",
            self.block_size,
            self.blocks,
            frame_size,
            self.block_size * self.blocks // frame_size,
            50,
            0,
            0,
        )
        try:
            sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
            sock.setsockopt(SOL_PACKET, PACKET_RX_RING, req)
            self.ring = mmap.mmap(
                sock.fileno(),
                self.block_size * self.blocks,
                mmap.MAP_SHARED,
                mmap.PROT_READ | mmap.PROT_WRITE,
            )
        except OSError:
            self.ring = None  # no ring support: fall back to one recvfrom per frame

    def kernel_stats(self) -> tuple[int, int]:
        """(frames passed to the socket, frames dropped), cumulative since opening."""
        size = 12 if self.ring is not None else 8  # tpacket_stats_v3 has a third counter
        # Reading resets the kernel's counters; the metrics thread reads them too.
        with self._stats_lock:
            raw = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, size)
            packets, drops = struct.unpack("II", raw[:8])
            self.received += packets
            self.drops += drops
            return self.received, self.drops

    def run(self, engine: Engine, stop: threading.Event, duration: float | None = None) -> None:
        """Feed the engine until ``stop`` is set or ``duration`` seconds passed."""
        if self.ring is not None:
            self._run_ring(engine, stop, duration)
            return
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

    def _run_ring(self, engine: Engine, stop: threading.Event, duration: float | None) -> None:
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLIN | select.POLLERR)
        now = time.time
        end = now() + duration if duration is not None else float("inf")
        i = 0
        while not stop.is_set():
            if self._ring_block(engine, i):
                i = (i + 1) % self.blocks
                if now() >= end:
                    break
                continue
            t = now()
            if t >= end:
                break
            engine.idle(t)
            poller.poll(200)
        # On the way out, let the kernel retire the block being filled (50 ms timeout) and
        # process what is left, so stopping the sensor does not skip the last frames.
        deadline = now() + 1.0
        while now() < deadline:
            if self._ring_block(engine, i):
                i = (i + 1) % self.blocks
            elif self.ring_frames >= self.kernel_stats()[0]:
                break
            else:
                time.sleep(0.01)

    def _ring_block(self, engine: Engine, i: int) -> bool:
        """Process ring block ``i`` if the kernel handed it over; False when it has not."""
        mm = self.ring
        assert mm is not None
        base = i * self.block_size
        status, count, off = _BLOCK.unpack_from(mm, base + 8)
        if not status & TP_STATUS_USER:
            return False
        process = engine.process
        frame_hdr = _HDR.unpack_from
        iface = self.iface
        off += base
        self.ring_frames += count
        for _ in range(count):
            nxt, sec, nsec, snap, _len, st, mac = frame_hdr(mm, off)
            if mm[off + _SLL_PKTTYPE] != PACKET_OUTGOING:
                frame = mm[off + mac : off + mac + snap]
                if st & TP_STATUS_VLAN_VALID and len(frame) >= 12:
                    # The kernel took the 802.1Q tag off (VLAN offload): put it back so the
                    # camera-VLAN checks see what a capture file would show.
                    tci, tpid = _VLAN.unpack_from(mm, off + 32)
                    frame = frame[:12] + struct.pack("!HH", tpid or 0x8100, tci & 0xFFFF) + frame[12:]
                process(sec + nsec * 1e-9, LINKTYPE_ETHERNET, frame, iface)
            off += nxt
        struct.pack_into("I", mm, base + 8, 0)  # TP_STATUS_KERNEL: the block is free again
        return True

    def close(self) -> None:
        if self.ring is not None:
            self.ring.close()
        self.sock.close()
