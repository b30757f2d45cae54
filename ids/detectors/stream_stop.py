"""A camera whose stream stops: tampering (cable cut, camera masked and rebooted) or outage.

A camera that has been streaming (UDP from the camera to the ``recording`` zone, i.e. RTP and
RTCP, RFC 3550; or an allowed RTSP connection from the recorder, whose interleaved RTP comes
back on it) and shows no traffic for ``stream_timeout`` seconds of capture time raises one
alert; it re-arms when the stream comes back. The live sensor's BPF keeps RTCP (odd ports)
and a 1-in-64 sample of the bulk, so the detector still sees each stream's heartbeat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ids.decode import Packet
from ids.detectors.base import Detector
from ids.flows import Flow
from ids.signatures import STREAM_STOPPED

if TYPE_CHECKING:
    from ids.engine import Engine


RTSP_PORTS = frozenset({554, 8554})


class _Stream:
    __slots__ = ("alerted", "camera", "dst", "flows", "last", "src")

    def __init__(self, camera: str, src: bytes, dst: bytes) -> None:
        self.camera = camera
        self.src = src
        self.dst = dst
        self.flows: list[Flow] = []
        self.last = 0.0
        self.alerted = False


class StreamStop(Detector):
    name = "stream_stop"
    needs_plan = True

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.timeout = float(engine.options.get("stream_timeout", 10.0))
        self.streams: dict[str, _Stream] = {}

    def new_flow(self, pkt: Packet, flow: Flow) -> None:
        if flow.rule is None:
            return
        if pkt.proto == 17:
            # RTP/RTCP over UDP: the camera sends to the recording zone.
            cam_ip, peer = pkt.src, pkt.dst
        elif pkt.proto == 6 and pkt.dport in RTSP_PORTS:
            # RTSP with interleaved RTP (RFC 2326 section 10.12): the recorder connects to
            # the camera and the media comes back on that connection.
            cam_ip, peer = pkt.dst, pkt.src
        else:
            return
        host = self.engine.host(cam_ip)
        zone = self.engine.zone(peer)
        if host is None or host.kind != "camera" or zone is None or zone.zone != "recording":
            return
        st = self.streams.get(host.id)
        if st is None:
            st = self.streams[host.id] = _Stream(host.id, cam_ip, peer)
        st.flows = [f for f in st.flows if not f.dead]
        st.flows.append(flow)
        flow.camera = host.id

    def tick(self, now: float) -> None:
        for st in self.streams.values():
            last = max((f.last for f in st.flows if not f.dead), default=st.last)
            if last > st.last:
                st.last = last
                st.alerted = False
            if not st.alerted and now - st.last > self.timeout:
                st.alerted = True
                self.engine.alert(
                    STREAM_STOPPED,
                    None,
                    src=st.src,
                    dst=st.dst,
                    ts=now,
                    dedup=st.src,
                    detail=f"no stream from {st.camera} for {now - st.last:.1f}s",
                    extra={"camera": st.camera},
                )
