"""A lab camera's RTSP server: one clip looped without end, RTP over TCP (interleaved) or UDP.

Run by the machine's ``/usr/bin/python3`` (GStreamer's introspection bindings, ``python3-gi``, are
not in the venv) inside a camera's namespace, as ``nobody``: ``camera_rtsp.py CLIP PORT PATH``.
The H.264 clip is payloaded as it is stored — demuxed, never re-encoded — so a camera costs about
what VLC's replay costs (LAB-NOTES: live encoding is ~14 % of a core per camera). gst-rtsp-server
is used rather than VLC because VLC's RTSP output refuses RTP-over-TCP, the transport the plan's
recorder flow allows (RTSP tcp/554, RTP interleaved; RFC 2326 §10.12).

A camera streams for as long as it is powered, so a reader never sees the end of the clip: its
access units are read once into memory and fed through ``appsrc`` again and again, each loop's
timestamps following the previous one's (a file source would end the session, and the recorder
would lose its restart delay of footage every loop). The clip has no B-frames (like most
cameras' streams), so presentation order is decoding order and one timestamp serves both.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import gi  # type: ignore[import-not-found, unused-ignore]

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # type: ignore[import-not-found, unused-ignore]  # noqa: E402

Frame = tuple[bytes, int, int, bool]  # access unit, presentation time (ns), duration (ns), key frame


def read_clip(clip: str) -> tuple[list[Frame], Any]:
    """Every access unit of the clip (Annex B, SPS/PPS before each key frame) and their caps."""
    pipe: Any = Gst.parse_launch(
        f'filesrc location="{clip}" ! qtdemux ! h264parse config-interval=-1 '
        "! video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=sink sync=false"
    )
    sink = pipe.get_by_name("sink")
    pipe.set_state(Gst.State.PLAYING)
    frames: list[Frame] = []
    caps = None
    while (sample := sink.emit("pull-sample")) is not None:
        caps = caps or sample.get_caps()
        buf = sample.get_buffer()
        frames.append((buf.extract_dup(0, buf.get_size()), buf.pts, buf.duration,
                       not buf.has_flags(Gst.BufferFlags.DELTA_UNIT)))  # fmt: skip
    pipe.set_state(Gst.State.NULL)
    return frames, caps


def feeder(frames: list[Frame]) -> Any:
    """A ``need-data`` handler pushing the clip's access units in a loop, timestamps running on."""
    first = frames[0][1]
    period = frames[-1][1] + frames[-1][2] - first
    sent = 0

    def need_data(appsrc: Any, _length: int) -> None:
        nonlocal sent
        data, pts, duration, key = frames[sent % len(frames)]
        buf = Gst.Buffer.new_wrapped(data)
        buf.pts = buf.dts = pts - first + (sent // len(frames)) * period
        buf.duration = duration
        if not key:
            buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
        sent += 1
        appsrc.emit("push-buffer", buf)

    return need_data


def main(argv: list[str]) -> int:
    clip, port, path = argv[1], argv[2], argv[3]
    Gst.init(None)
    frames, caps = read_clip(clip)
    if not frames:
        print(f"{clip}: no H.264 access unit in the clip", file=sys.stderr)
        return 1
    server: Any = GstRtspServer.RTSPServer()
    server.set_service(port)
    factory: Any = GstRtspServer.RTSPMediaFactory()
    factory.set_launch("( appsrc name=src format=time ! rtph264pay name=pay0 pt=96 config-interval=1 )")
    # One pipeline per client (not shared): each reader gets the clip from its start, at its pace.
    factory.set_shared(False)

    def configure(_factory: Any, media: Any) -> None:
        src = media.get_element().get_by_name("src")
        src.set_property("caps", caps)
        src.connect("need-data", feeder(frames))

    factory.connect("media-configure", configure)
    # The default lower transports include TCP (interleaved) and UDP: the client chooses.
    server.get_mount_points().add_factory(f"/{path}", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on port {port}", file=sys.stderr)
        return 1
    loop: Any = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
