"""A lab camera streams without end: a reader gets the clip again, timestamps running on.

The real server (gst-rtsp-server under the machine's python3, as the lab runs it) serves a clip
of a few seconds on the loopback; ffmpeg reads it the way the recorder role does (RTSP over TCP,
stream copy, the same timestamp filter) for longer than the clip. A server that ends with its
clip would end the session early (the recorder would then lose a restart delay of footage at
every loop — what failed the e2e recording test once).
"""

from __future__ import annotations

import itertools
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from segmenting.lab.cameras import RTSP_PATH, SERVER, SYSTEM_PYTHON
from segmenting.lab.run import SubprocessRunner

pytestmark = pytest.mark.slow

CLIP_S, READ_S, FPS = 3, 8, 10
SETTS = "setts=pts=if(eq(PTS\\,NOPTS)\\,0\\,PTS):dts=if(eq(DTS\\,NOPTS)\\,0\\,DTS)"  # as record-camera


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("rtsp")
    clip = folder / "clip.mp4"
    source = f"testsrc=size=320x180:rate={FPS}"
    SubprocessRunner().run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source, "-t", str(CLIP_S),
                            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                            "-g", "10", "-bf", "0", str(clip)], timeout=120)  # fmt: skip
    port = _free_port()
    log = (folder / "server.log").open("w")
    proc = subprocess.Popen([SYSTEM_PYTHON, str(SERVER), str(clip), str(port), RTSP_PATH], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, (folder / "server.log").read_text()
                time.sleep(0.2)
        yield f"rtsp://127.0.0.1:{port}/{RTSP_PATH}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_a_reader_gets_more_than_the_clip_with_timestamps_running_on(server: str, tmp_path: Path) -> None:
    out = tmp_path / "read.mkv"
    read = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-timeout", "10000000",
                           "-i", server, "-t", str(READ_S), "-map", "0", "-c", "copy", "-bsf:v", SETTS, "-y", str(out)],
                          capture_output=True, text=True, timeout=READ_S + 30, check=False)  # fmt: skip
    assert read.returncode == 0, read.stderr[-1500:]
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pts_time",
                            "-of", "csv=p=0", str(out)], capture_output=True, text=True, check=True)  # fmt: skip
    stamps = [float(t) for t in probe.stdout.split() if t.strip()]
    # Frames from more than two loops of the clip, at the camera's rate, never going back in time.
    assert len(stamps) >= (READ_S - 1) * FPS, f"{len(stamps)} frames in {READ_S} s of a {CLIP_S} s clip"
    assert stamps[-1] - stamps[0] >= READ_S - 1, f"the stream covers {stamps[-1] - stamps[0]:.1f} s"
    # The first packets come before the stream's first timing reference (RTCP sender report) and
    # carry none: the filter gives them 0, as in the recorder. After those, every step is a frame.
    steps = [b - a for a, b in itertools.pairwise(stamps)][FPS:]
    assert all(0 < s < 2.5 / FPS for s in steps), f"timestamps jump: {sorted(steps)[:3]} … {sorted(steps)[-3:]}"
