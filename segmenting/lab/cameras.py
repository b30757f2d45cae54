"""Cameras: a network namespace each, a real RTSP/RTP stream, a real 802.1X supplicant.

The stream is one H.264 clip (2 minutes of ffmpeg's test pattern, no B-frames) generated once
(cached) and looped without re-encoding or end by :mod:`segmenting.lab.camera_rtsp`
(gst-rtsp-server), which — unlike VLC's RTSP output — serves RTP interleaved over TCP, the only
transport the plan's recorder flow allows. Each reader gets the clip from its start and then the
clip again, timestamps running on, as long as it reads: a recorder never sees the stream end.
The server runs as ``nobody``; port 554 is opened to it by lowering ``ip_unprivileged_port_start``
inside the camera's namespace only (a per-namespace sysctl).
EAP-TLS cameras run ``wpa_supplicant -D wired``; MAB cameras have no supplicant, as legacy
cameras do, and are admitted by MAC.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from segmenting.lab.names import CACHE_DIR, LabPaths
from segmenting.lab.run import Runner
from segmenting.lab.state import LabState
from segmenting.lab.topology import Camera

RTSP_PATH = "stream"
RTSP_TRANSPORT = "tcp"  # the plan's recorder flow: RTSP tcp/554, RTP interleaved in it
SERVER = Path(__file__).with_name("camera_rtsp.py")
SYSTEM_PYTHON = "/usr/bin/python3"  # has GStreamer's bindings (python3-gi); the venv does not
NOBODY = 65534


def clip(r: Runner, cache: Path = CACHE_DIR) -> Path:
    path = cache / "clip-640x360-120s-nobf.mp4"
    if not path.exists():
        tmp = cache / "clip.partial.mp4"
        r.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=10",
               "-t", "120", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "10", "-bf", "0",
               str(tmp)],
              timeout=300)  # fmt: skip
        if not r.dry_run:
            tmp.rename(path)
            path.chmod(0o644)
    return path


def server_copy(cache: Path, dry_run: bool = False) -> Path:
    """The RTSP server script where ``nobody`` can read it: beside the clip in the cache.

    The checkout may not be readable by nobody (a clone in a 0700 directory, the lab folder is
    0700). The copy is named by its content and written atomically, so servers starting at the
    same time never read a half-written file, and an older copy is never run.
    """
    data = SERVER.read_bytes()
    path = cache / f"camera_rtsp-{hashlib.sha256(data).hexdigest()[:12]}.py"
    if not dry_run and not path.exists():
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.chmod(0o644)
        tmp.replace(path)
    return path


def rtsp_url(cam: Camera) -> str:
    return f"rtsp://{cam.ip.split('/')[0]}:554/{RTSP_PATH}"


def start_stream(r: Runner, cam: Camera, paths: LabPaths, video: Path, state: LabState) -> None:
    home = paths.camera(cam.id)
    home.mkdir(parents=True, exist_ok=True)
    server = server_copy(video.parent, r.dry_run)
    if not r.dry_run:
        os.chown(home, NOBODY, NOBODY)
    r.run(["ip", "netns", "exec", cam.ns, "sysctl", "-qw", "net.ipv4.ip_unprivileged_port_start=0"])
    argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--",
            SYSTEM_PYTHON, str(server), str(video), "554", RTSP_PATH]  # fmt: skip
    env = {"HOME": str(home), "XDG_CACHE_HOME": str(home), "XDG_CONFIG_HOME": str(home)}
    state.add_proc(r.spawn(argv, what=f"rtsp:{cam.id}", log=paths.logs / f"{cam.id}.rtsp.log", ns=cam.ns, env=env))


def start_supplicant(
    r: Runner, cam: Camera, paths: LabPaths, *, key: Path, cert: Path, ca: Path, state: LabState
) -> None:
    home = paths.camera(cam.id)
    home.mkdir(parents=True, exist_ok=True)
    conf = home / "wpa_supplicant.conf"
    conf.write_text(
        f"# cloison lab: 802.1X supplicant of {cam.id}\n"
        f"ctrl_interface={home / 'wpa'}\nap_scan=0\neapol_version=2\n"
        "network={\n  key_mgmt=IEEE8021X\n  eap=TLS\n"
        f'  identity="{cam.identity}"\n  ca_cert="{ca}"\n  client_cert="{cert}"\n  private_key="{key}"\n'
        "  eapol_flags=0\n}\n"
    )
    conf.chmod(0o600)
    state.add_proc(r.spawn(["wpa_supplicant", "-D", "wired", "-i", "eth0", "-c", str(conf)],
                           what=f"supplicant:{cam.id}", log=paths.logs / f"{cam.id}.wpa.log", ns=cam.ns))  # fmt: skip


def announce(r: Runner, cam: Camera, paths: LabPaths, state: LabState) -> None:
    """A legacy camera keeps looking for its gateway (ARP), as real ones do: MAB sees its MAC."""
    state.add_proc(r.spawn(["ping", "-q", "-i", "2", cam.gateway], what=f"announce:{cam.id}",
                           log=paths.logs / f"{cam.id}.announce.log", ns=cam.ns))  # fmt: skip
