"""Lab figures: ``lab up`` cold (rootfs built) and from the cached rootfs, ``lab down``, memory.

Run as root on the lab machine: ``.venv/bin/python bench/lab_timing.py [--skip-cold] [--runs N]``.
Writes ``bench/lab.md`` (the lead merges it into bench/README.md). "Cold" removes the cached
rootfs archive and its extracted tree, so the build runs again; the .deb cache is kept (it is
what a rebuild after a package-list change costs). The first build on a fresh machine also
downloads every package: that figure is reported separately when ``--fresh`` is given.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

from segmenting.lab import lab, rootfs
from segmenting.lab.names import CACHE_DIR, default_paths
from segmenting.lab.run import SubprocessRunner
from segmenting.lab.state import load

REPO = Path(__file__).resolve().parents[1]
DEPLOYMENT = REPO / "inventory" / "ingeagglo"
OUT = Path(__file__).with_name("lab.md")


def quiet(_: str) -> None:
    pass


def one_cycle(label: str, rows: list[list[str]], mem: list[float]) -> None:
    paths, r = default_paths(), SubprocessRunner()
    load_before = os.getloadavg()[0]
    t0 = time.monotonic()
    res = lab.up(DEPLOYMENT, 3, paths, r, progress=quiet)
    up_s = time.monotonic() - t0
    time.sleep(20)  # let the daemons settle (802.1X retries, cameras streaming) before measuring memory
    info = lab.status(paths)
    mem.append(float(info["memory_total_mib"]))  # type: ignore[arg-type]
    st = load(paths.state)
    t1 = time.monotonic()
    lab.down(paths, r, progress=quiet)
    down_s = time.monotonic() - t1
    rows.append([label, f"{up_s:.1f}", f"{res.rootfs_seconds:.1f}", f"{down_s:.1f}", f"{mem[-1]:.0f}",
                 str(len(st.procs)), f"{load_before:.1f}"])  # fmt: skip
    print(rows[-1], flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-cold", action="store_true")
    ap.add_argument("--fresh", action="store_true", help="also drop the .deb cache (downloads everything)")
    ap.add_argument("--runs", type=int, default=2, help="warm runs")
    args = ap.parse_args()
    rows: list[list[str]] = []
    mem: list[float] = []
    if not args.skip_cold:
        for p in (rootfs.archive_path(), rootfs.tree_path()):
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
        if args.fresh:
            shutil.rmtree(CACHE_DIR / "debs", ignore_errors=True)
        one_cycle(
            "cold (rootfs built" + (", every .deb downloaded)" if args.fresh else ", .deb cache kept)"), rows, mem
        )
    for i in range(args.runs):
        one_cycle(f"cached rootfs, run {i + 1}", rows, mem)
    size = rootfs.archive_path().stat().st_size / 2**20
    lines = [
        "# Lab figures (`bench/lab_timing.py`)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} cores, "
        f"kernel {platform.release()}); default lab: CSU (7 nodes), 3 sites (fiber, VDSL, cellular: 3 gateways, "
        "3 OVS switches, 10 cameras), internet, State, laptop, 2 operator routers. The machine is shared: "
        "the load average at the start of each run is given.",
        "",
        "| run | `lab up` (s) | of which rootfs build (s) | `lab down` (s) | memory (MiB, PSS) | processes | load |",
        "|---|---|---|---|---|---|---|",
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        f"Rootfs archive: {size:.0f} MiB (`{rootfs.archive_path().name}`, {len(rootfs.PACKAGES)} packages asked).",
        "Memory: proportional set size of every process in the lab's namespaces (nodes' systemd, sshd, "
        "journald…; OVS; hostapd; wpa_supplicant; the cameras' RTSP servers), measured 20 s after `lab up`, "
        "before any role runs.",
        "`lab up` ends when every node and switch answers SSH; 802.1X needs RADIUS (a role, or the tests' stand-in).",
    ]
    OUT.write_text("\n".join(lines) + "\n")
    print(OUT.read_text())


if __name__ == "__main__":
    main()
