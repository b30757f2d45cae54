"""Time ``cloison audit`` on the running lab (issue 6 target: full audit <= 60 s) and write bench/audit.md.

Run with the lab up (``cloison lab up``), as root: ``.venv/bin/python bench/audit_lab.py --repeat 3``.
Read-only on the lab: the audit only reads hosts and sends probes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 60


def one(out: Path) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "segmenting.cli", "audit", "-o", str(out),
         "--waivers", str(ROOT / "tests/conformance/waivers-lab.yml")],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 4):
        sys.exit(f"audit failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    data = json.loads((out / "audit.json").read_text())
    results = json.loads((out / "results.json").read_text())
    return {
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "pytest": results["duration_s"],
        "hosts": len(data["hosts"]),
        "checks": len(data["checks"]),
        "probes": len(data["reachability"]),
        "exit": proc.returncode,
        "failing": len(data["failed_controls"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", default=str(ROOT / "bench" / "audit.md"))
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory(prefix="caud-bench-") as tmp:
        for i in range(args.repeat):
            runs.append(one(Path(tmp) / str(i)))
            print(f"run {i + 1}: {runs[-1]['wall']:.1f} s", flush=True)
    walls = [r["wall"] for r in runs]
    last = runs[-1]
    load = os.getloadavg()[0]
    text = f"""# Audit benchmark (issue 6)

`bench/audit_lab.py` runs `cloison audit` on the running lab ({last["hosts"]} managed nodes of 3 sites and
the CSU, plus the reachability matrix) {args.repeat} times and times the whole command (pytest start,
collection, one SSH session per node in parallel, every check, every probe, the reports).
Target: the full audit of the lab in 60 s or less.

Run: `.venv/bin/python bench/audit_lab.py --repeat 3` (lab up, as root).

Machine: {platform.node() or "vm"} ({platform.machine()}), Python {platform.python_version()}

| measure | value |
|---|---|
| full audit, wall clock (best of {args.repeat}) | {min(walls):.1f} s |
| full audit, wall clock (median) | {statistics.median(walls):.1f} s |
| inside pytest (checks + probes, median) | {statistics.median(r["pytest"] for r in runs):.1f} s |
| CPU time of the audit (median) | {statistics.median(r["cpu"] for r in runs):.1f} s |
| nodes / checks / reachability probes | {last["hosts"]} / {last["checks"]} / {last["probes"]} |
| failing controls on this lab at the time (exit {last["exit"]}) | {last["failing"]} |
| machine load average when done (2 cores shared) | {load:.1f} |
| target | <= {TARGET_S} s: {"met" if statistics.median(walls) <= TARGET_S else "NOT met"} |

What makes it fit: every check module declares its read-only commands; before the first check
each node runs all of them in one SSH session (all nodes in parallel), and the checks read the
answers; probes run in parallel, one process per source namespace.
"""
    Path(args.write).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
