"""Render every device of a 10,000-camera synthetic deployment; target <= 5 s (issue 8).

Usage: .venv/bin/python bench/render_scale.py [--communes 200] [--cameras 10000] [--repeat 3]

The deployment comes from ``segmenting.synth.generate``, is written to a temporary folder and
loaded with ``segmenting.api.load_plan`` (loading is timed apart: it is not rendering). Rendering
is timed in memory (``render_all`` into a list, fake secrets) and, once, with the files written
to disk the way ``cloison render`` writes them. Prints a Markdown table for bench/render.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from segmenting import synth
from segmenting.api import load_plan
from segmenting.render.registry import render_all
from segmenting.render.secrets import FakeSecrets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--communes", type=int, default=200)
    ap.add_argument("--cameras", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crend-bench-"))
    try:
        folder = tmp / "deployment"
        synth.write(folder, synth.generate(communes=args.communes, cameras=args.cameras))
        t0 = time.perf_counter()
        plan = load_plan(folder)
        load_s = time.perf_counter() - t0

        runs: list[float] = []
        cpu: list[float] = []
        per: dict[str, float] = defaultdict(float)
        files = size = 0
        devices: set[str] = set()
        for i in range(args.repeat):
            # A fresh plan object each run so no cache (plan digest, look-ups) carries over.
            plan = load_plan(folder) if i else plan
            t = time.perf_counter()
            c = time.process_time()
            last = t
            out = []
            for renderer, f in render_all(plan, FakeSecrets()):
                now = time.perf_counter()
                if i == 0:
                    per[renderer.name] += now - last
                last = now
                out.append(f)
            runs.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            files, size = len(out), sum(len(f.text.encode()) for f in out)
            devices = {f.device for f in out}

        out_dir = tmp / "out"
        t = time.perf_counter()
        for _renderer, f in render_all(plan, FakeSecrets()):
            path = out_dir / f.device / f.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f.text, encoding="utf-8")
        write_s = time.perf_counter() - t

        best, median = min(runs), statistics.median(runs)
        print(f"## Rendering: {args.cameras} cameras, {args.communes} communes, {len(plan.sites)} sites\n")
        print(f"Machine: {platform.node() or '?'} ({platform.machine()}), Python {platform.python_version()}\n")
        print("| measure | value |")
        print("|---|---|")
        print(f"| plan load (validate + plan, not rendering) | {load_s:.2f} s |")
        print(f"| render all devices, in memory, wall clock (best of {args.repeat}) | {best:.2f} s |")
        print(f"| render all devices, in memory, wall clock (median) | {median:.2f} s |")
        print(f"| render all devices, in memory, CPU time (median) | {statistics.median(cpu):.2f} s |")
        print(f"| machine load average when done (2 cores shared) | {os.getloadavg()[0]:.1f} |")
        print(f"| render + write files to disk | {write_s:.2f} s |")
        print(f"| devices / files / bytes | {len(devices)} / {files} / {size:,} |")
        print(f"| target | <= 5 s: {'met' if median <= 5 else 'NOT met'} |")
        print("\n| renderer | wall seconds (first run; the first file also pays the plan digest) |")
        print("|---|---|")
        for name, secs in per.items():
            print(f"| {name} | {secs:.3f} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
