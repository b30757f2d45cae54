"""A camera whose stream stops: tampering (cable cut, camera masked and rebooted) or outage.

A camera that has been streaming (UDP from the camera to the ``recording`` zone, i.e. RTP and
RTCP, RFC 3550) and sends nothing to it for ``stream_timeout`` seconds of capture time raises
one alert; it re-arms when the stream comes back. The live sensor's BPF keeps RTCP (odd
ports), so the detector still sees each stream's heartbeat when RTP bulk is filtered out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ids.decode import Packet
from ids.detectors.base import Detector
from ids.flows import Flow
from ids.signatures import STREAM_STOPPED

if TYPE_CHECKING:
    from ids.engine import Engine


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
        if pkt.proto != 17 or flow.rule is None:
            return
        host = self.engine.host(pkt.src)
        zone = self.engine.zone(pkt.dst)
        if host is None or host.kind != "camera" or zone is None or zone.zone != "recording":
            return
        st = self.streams.get(host.id)
        if st is None:
            st = self.streams[host.id] = _Stream(host.id, pkt.src, pkt.dst)
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
