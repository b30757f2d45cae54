"""Offline IDS benchmark: ``cloison ids replay`` vs a naive Scapy loop vs tshark, one file.

The capture is a synthetic site (bench/ids_site.py: 60 cameras, ~97 % RTP, ~2.5 % control,
~0.5 % attack probes), 1,000,000 frames by default. All three are timed in one run on the same
file; the naive loop (``for p in PcapReader(f)`` reading the 5-tuple) is timed on the first
``--naive`` frames and extrapolated, because at ~3k frames/s a million would take minutes.

    .venv/bin/python bench/ids_offline.py [--packets 1000000] [--naive 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ids_site

ROOT = Path(__file__).resolve().parents[1]
CLOISON = str(ROOT / ".venv" / "bin" / "cloison")


def naive(path: Path, limit: int) -> tuple[int, float, float]:
    from scapy.layers.inet import IP, TCP, UDP  # noqa: PLC0415
    from scapy.utils import PcapReader  # noqa: PLC0415

    n = 0
    start = time.perf_counter()
    cpu = time.process_time()
    for p in PcapReader(str(path)):
        n += 1
        if IP in p:
            ip = p[IP]
            l4 = p.getlayer(TCP) or p.getlayer(UDP)
            _ = (ip.src, ip.dst, ip.proto, getattr(l4, "sport", 0), getattr(l4, "dport", 0))
        if n >= limit:
            break
    return n, time.perf_counter() - start, time.process_time() - cpu


def child_cpu() -> float:
    """CPU seconds (user + system) used by finished children so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--naive", type=int, default=20_000)
    ap.add_argument("--dir", default=None, help="work directory to keep (default: a temp dir, removed)")
    args = ap.parse_args()
    tmp = None if args.dir else tempfile.TemporaryDirectory(prefix="cids-bench-")  # 1.2 GB capture
    work = Path(args.dir or tmp.name)  # type: ignore[union-attr]
    work.mkdir(parents=True, exist_ok=True)
    pcap = work / f"site-{args.packets}.pcap"
    if not pcap.exists():
        t = time.perf_counter()
        ids_site.write_site(pcap, args.packets)
        print(
            f"generated {pcap} ({pcap.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f}s", file=sys.stderr
        )
    allow = ids_site.allowlist_60(work / "allowlist.json")
    results: dict[str, dict[str, float]] = {}

    for label, plan in (
        ("cloison ids replay (plan)", ["--allowlist", str(allow)]),
        ("cloison ids replay (--no-plan)", ["--no-plan"]),
    ):
        t, cpu = time.perf_counter(), child_cpu()
        out = subprocess.run(
            [CLOISON, "ids", "replay", str(pcap), *plan, "--stats", "--eve", str(work / "eve.json")],
            capture_output=True,
            text=True,
            check=True,
        )
        wall, cpu = time.perf_counter() - t, child_cpu() - cpu
        stats = json.loads(out.stderr.strip().splitlines()[-1])
        results[label] = {
            "packets": stats["packets"],
            "seconds": wall,
            "cpu": cpu,
            "pps": stats["packets"] / wall,
            "loop_pps": stats["pkt_per_s"],
            "alerts": stats["alerts"],
            "slow_path": stats["slow_path"],
        }
        (work / "eve.json").unlink()

    n, secs, naive_cpu = naive(pcap, args.naive)
    results["naive PcapReader loop"] = {
        "packets": n,
        "seconds": secs,
        "cpu": naive_cpu,
        "pps": n / secs,
        "extrapolated_seconds": args.packets * secs / n,
    }

    if shutil.which("tshark"):
        t = time.perf_counter()
        subprocess.run(
            [
                "tshark",
                "-n",
                "-r",
                str(pcap),
                "-T",
                "fields",
                "-e",
                "ip.src",
                "-e",
                "ip.dst",
                "-e",
                "ip.proto",
                "-e",
                "tcp.srcport",
                "-e",
                "tcp.dstport",
                "-e",
                "udp.srcport",
                "-e",
                "udp.dstport",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
        wall, cpu = time.perf_counter() - t, child_cpu() - cpu
        results["tshark -T fields (5-tuple)"] = {
            "packets": args.packets,
            "seconds": wall,
            "cpu": cpu,
            "pps": args.packets / wall,
        }

    base = results["naive PcapReader loop"]["pps"]
    base_cpu = results["naive PcapReader loop"]["packets"] / results["naive PcapReader loop"]["cpu"]
    print(f"\nload average before/after: {os.getloadavg()}, cores: {os.cpu_count()}")
    print("\n| reader | packets | wall s | packets/s (wall) | × naive | CPU s | packets/CPU-s | × naive (CPU) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, r in results.items():
        extra = r.get("extrapolated_seconds")
        note = f" (extrapolated: {extra:.0f} s for all)" if extra else ""
        print(
            f"| {label}{note} | {int(r['packets']):,} | {r['seconds']:.1f} | {r['pps']:,.0f} | {r['pps'] / base:.1f} | "
            f"{r['cpu']:.1f} | {r['packets'] / r['cpu']:,.0f} | {r['packets'] / r['cpu'] / base_cpu:.1f} |"
        )
    for label, r in results.items():
        if "alerts" in r:
            print(
                f"{label}: {int(r['alerts'])} alerts, slow path {int(r['slow_path']):,} "
                f"frames, loop-only {r['loop_pps']:,.0f} pkt/s"
            )
    print(json.dumps(results), file=sys.stderr)


if __name__ == "__main__":
    main()
