"""A lab camera's RTSP server: one clip replayed, RTP over TCP (interleaved) or UDP.

Run by the machine's ``/usr/bin/python3`` (GStreamer's introspection bindings, ``python3-gi``, are
not in the venv) inside a camera's namespace, as ``nobody``: ``camera_rtsp.py CLIP PORT PATH``.
The H.264 clip is payloaded as it is stored — demuxed, never re-encoded — so a camera costs about
what VLC's replay costs (LAB-NOTES: live encoding is ~14 % of a core per camera). gst-rtsp-server
is used rather than VLC because VLC's RTSP output refuses RTP-over-TCP, the transport the plan's
recorder flow allows (RTSP tcp/554, RTP interleaved; RFC 2326 §10.12).
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import gi  # type: ignore[import-not-found, unused-ignore]

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # type: ignore[import-not-found, unused-ignore]  # noqa: E402


def main(argv: list[str]) -> int:
    clip, port, path = argv[1], argv[2], argv[3]
    Gst.init(None)
    server: Any = GstRtspServer.RTSPServer()
    server.set_service(port)
    factory: Any = GstRtspServer.RTSPMediaFactory()
    # One pipeline per client (not shared): each reader gets the clip from its start, at its pace.
    factory.set_launch(f'( filesrc location="{clip}" ! qtdemux ! rtph264pay name=pay0 pt=96 config-interval=1 )')
    factory.set_shared(False)
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
