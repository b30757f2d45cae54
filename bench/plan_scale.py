#!/usr/bin/env python3
"""How long cloison takes to load, validate and plan deployments of 250, 10,000 and 50,000 cameras.

Synthetic deployments (20, 200 and 1,000 communes, :func:`segmenting.synth.generate`) are
written to temporary folders; each measurement runs in a fresh Python process so that peak
memory (``ru_maxrss``) is that one run's, and imports are not counted in the time. Two cases:

* ``first``: no lock file yet — every site, link, camera and CSU host gets allocated;
* ``locked``: the lock file written by the first run is read back (the everyday case).

Targets (issue 2): 10,000 cameras in ≤ 3 s and ≤ 500 MB; 50,000 in ≤ 15 s; time per camera
no worse than linear. ``--write bench/plan.md`` records the figures with machine and date.

    .venv/bin/python bench/plan_scale.py [--sizes 250,10000,50000] [--repeat 3] [--write bench/plan.md]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from segmenting import synth  # noqa: E402
from segmenting.api import load_plan, write_lock  # noqa: E402

AS_OF = date(2026, 11, 28)
COMMUNES = {250: 20, 10_000: 200, 50_000: 1_000}
TIME_TARGET = {10_000: 3.0, 50_000: 15.0}  # seconds
MEMORY_TARGET = {10_000: 500.0}  # MB, peak resident size of the whole process
LINEAR_SLACK = 1.25  # per-camera time may vary this much between sizes before we call it superlinear


def child(folder: Path) -> None:
    """One measurement: time load + validate + plan (imports done); print one JSON line."""
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start, cpu_start = time.perf_counter(), time.process_time()
    plan = load_plan(folder, AS_OF)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu,
                "peak_mb": peak,
                "baseline_mb": rss_before,
                "cameras": len(plan.cameras),
                "sites": len(plan.sites),
                "flows": len(plan.flows),
                "new_allocations": plan.new_allocations,
            }
        )
    )


def measure(folder: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(folder)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        raise SystemExit(f"measurement failed for {folder}:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run_size(cameras: int, repeat: int, workdir: Path) -> dict[str, Any]:
    communes = COMMUNES.get(cameras, max(20, cameras // 50))
    folder = workdir / f"synth-{cameras}"
    synth.write(folder, synth.generate(communes=communes, cameras=cameras))
    size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
    first = [measure(folder) for _ in range(repeat)]
    write_lock(folder, load_plan(folder, AS_OF).lock)
    locked = [measure(folder) for _ in range(repeat)]
    row: dict[str, Any] = {
        "cameras": cameras,
        "communes": communes,
        "sites": locked[0]["sites"],
        "flows": locked[0]["flows"],
        "yaml_mb": round(size_mb, 1),
    }
    for name, runs in (("first", first), ("locked", locked)):
        times = [r["seconds"] for r in runs]
        row[f"{name}_s"] = min(times)  # the least disturbed run: other load only ever adds time
        row[f"{name}_median_s"] = statistics.median(times)
        row[f"{name}_peak_mb"] = max(r["peak_mb"] for r in runs)
        row[f"{name}_cpu_s"] = min(r["cpu_seconds"] for r in runs)
    row["baseline_mb"] = locked[0]["baseline_mb"]
    row["us_per_camera"] = row["locked_cpu_s"] / cameras * 1e6
    return row


def verdicts(rows: list[dict[str, Any]]) -> list[str]:
    """Each target judged on wall time (what was asked) and on CPU time (what other load cannot inflate)."""
    out = []
    by_size = {r["cameras"]: r for r in rows}

    def mark(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    for size, limit in TIME_TARGET.items():
        if size in by_size:
            r = by_size[size]
            wall = max(r["first_s"], r["locked_s"])
            cpu = max(r["first_cpu_s"], r["locked_cpu_s"])
            out.append(
                f"{size:,} cameras ≤ {limit:g} s: wall {mark(wall <= limit)} ({wall:.2f} s), "
                f"CPU {mark(cpu <= limit)} ({cpu:.2f} s)"
            )
    for size, limit in MEMORY_TARGET.items():
        if size in by_size:
            peak = max(by_size[size]["first_peak_mb"], by_size[size]["locked_peak_mb"])
            out.append(f"{size:,} cameras ≤ {limit:g} MB: {mark(peak <= limit)} ({peak:.0f} MB)")
    sizes = sorted(by_size)
    for small, large in itertools.pairwise(sizes):
        if small < 1000:
            continue  # 250 cameras is dominated by fixed costs (CSU, flows), not per-camera work
        per_cam = {n: by_size[n]["locked_cpu_s"] / n for n in (small, large)}
        ratio = per_cam[large] / per_cam[small]
        out.append(
            f"CPU time per camera {small:,} → {large:,}: {per_cam[small] * 1e6:.0f} → {per_cam[large] * 1e6:.0f} µs, "
            f"×{ratio:.2f} ({mark(ratio <= LINEAR_SLACK)}: linear is ×1.00)"
        )
    return out


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def load_average() -> str:
    """Other processes on the machine stretch wall time: say how busy it was."""
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "unknown"


def markdown(rows: list[dict[str, Any]], command: str, started: datetime, host: str, loads: tuple[str, str]) -> str:
    lines = [
        "# Plan benchmark: load + validate + plan at scale",
        "",
        f"- date: {started:%Y-%m-%d %H:%M} UTC",
        f"- machine: {host}",
        f"- load average (1 min) at start / end: {loads[0]} / {loads[1]} on {os.cpu_count()} cores — above the core "
        "count, other processes took CPU from the benchmark and wall times are inflated; CPU times are not",
        f"- command: `{command}`",
        "- what is timed: `segmenting.api.load_plan(folder)` — read the YAML, check structure and meaning, "
        "allocate addresses, build the plan with its guardrail check — in a fresh process (imports not counted); "
        "peak = the process's maximum resident size (`ru_maxrss`, imports included).",
        "- *first*: no lock file, every address allocated; *locked*: the lock file read back (the everyday case). "
        "Times are the best of the repeats (another process on the machine only ever adds time); medians beside; "
        "CPU s is the process's own CPU time, which other load on the machine barely changes.",
        "",
        "| cameras | communes | sites | flows | YAML MB | first: wall s (median) | first: CPU s "
        "| locked: wall s (median) | locked: CPU s | peak MB | µs/camera (locked, CPU) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        peak = max(r["first_peak_mb"], r["locked_peak_mb"])
        lines.append(
            f"| {r['cameras']:,} | {r['communes']:,} | {r['sites']:,} | {r['flows']:,} | {r['yaml_mb']} | "
            f"{r['first_s']:.2f} ({r['first_median_s']:.2f}) | {r['first_cpu_s']:.2f} | "
            f"{r['locked_s']:.2f} ({r['locked_median_s']:.2f}) | {r['locked_cpu_s']:.2f} | "
            f"{peak:.0f} | {r['us_per_camera']:.0f} |"
        )
    lines += ["", "Targets (issue 2):", "", *(f"- {v}" for v in verdicts(rows)), ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="250,10000,50000", help="camera counts, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size and case (best is reported)")
    parser.add_argument("--write", type=Path, metavar="FILE.md", help="also write the Markdown report here")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    started = datetime.now(UTC)
    host = machine()
    load_start = load_average()
    rows = []
    with tempfile.TemporaryDirectory(prefix="cloison-bench-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            print(f"{size:,} cameras …", file=sys.stderr, flush=True)
            rows.append(run_size(size, args.repeat, Path(tmp)))
    command = "python bench/plan_scale.py " + " ".join(sys.argv[1:])
    report = markdown(rows, command.strip(), started, host, (load_start, load_average()))
    print(report)
    if args.write:
        args.write.write_text(report, encoding="utf-8")
    failed = any("FAIL" in v for v in verdicts(rows))
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
