"""Live IDS benchmark: highest mixed-traffic rate with zero kernel drops, and alert latency.

A veth pair, its far end in a namespace (``cids-bl<pid>``); tcpreplay (pinned to core 0)
replays the synthetic site (bench/ids_site.py) into it at rising rates; the sensor
(``cloison ids run``, pinned to core 1) listens on the near end. For each rate the sensor's
``PACKET_STATISTICS`` give frames passed by the kernel filter and frames dropped. Runs with
the kernel BPF (allowlisted RTP left out, RTCP kept) and without (``--no-bpf``, every frame
reaches Python). Latency: while tcpreplay runs, a sender injects one telnet SYN from a rogue
device and notes the time of its send(); a watcher notes when the alert line appears in
eve.json. The sensor reads frames from a TPACKET_V3 ring (blocks handed over when full or
after 50 ms).

    .venv/bin/python bench/ids_live.py [--rates 10000,25000,50000,...] [--seconds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ids_site

ROOT = Path(__file__).resolve().parents[1]
PCAP_FRAMES = 300_000
CLOISON = str(ROOT / ".venv" / "bin" / "cloison")
PY = str(ROOT / ".venv" / "bin" / "python")

INJECT = r"""
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
frame = bytes.fromhex(sys.argv[2])
time.sleep(float(sys.argv[3]))
t = time.time()
s.send(frame)
print(repr(t))
"""


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check)


@contextlib.contextmanager
def lab(tag: str) -> Iterator[tuple[str, str, str]]:
    ns, near, far = f"cids-{tag}", f"cids-{tag}s", f"cids-{tag}a"
    try:
        sh("ip", "netns", "add", ns)
        sh(
            "ip",
            "netns",
            "exec",
            ns,
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        )
        sh("ip", "link", "add", near, "type", "veth", "peer", "name", far)
        sh("ip", "link", "set", far, "netns", ns)
        sh("sysctl", "-qw", f"net.ipv6.conf.{near}.disable_ipv6=1", check=False)
        sh("ip", "link", "set", near, "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", far, "up")
        yield ns, near, far
    finally:
        sh("ip", "link", "del", near, check=False)
        sh("ip", "netns", "del", ns, check=False)


def attack_frame() -> bytes:
    return ids_site.eth(
        ids_site.GW_MAC,
        bytes.fromhex("027777777777"),
        ids_site.ipv4(bytes([10, 64, 0, 201]), ids_site.cam_ip(0), 6, ids_site.tcp(41000, 23, 0x02)),
    )


def watch_eve(eve: Path, seen: list[float], stop: threading.Event) -> None:
    """Note the wall time at which the attack's alert line appears in the EVE file."""
    while not stop.is_set():
        if eve.exists() and b"10.64.0.201" in eve.read_bytes():
            seen.append(time.time())
            return
        time.sleep(0.005)


def run_rate(
    ns: str, near: str, far: str, pcap: Path, allow: Path, rate: int, seconds: float, bpf: bool, work: Path
) -> dict[str, float]:
    count = int(rate * seconds)
    eve = work / "eve.json"
    eve.unlink(missing_ok=True)
    sensor = subprocess.Popen(
        [
            "taskset",
            "-c",
            "1",
            CLOISON,
            "ids",
            "run",
            "--iface",
            near,
            "--allowlist",
            str(allow),
            "--duration",
            "600",  # stopped with TERM once tcpreplay is done
            "--stats",
            "--eve",
            str(eve),
            *([] if bpf else ["--no-bpf"]),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert sensor.stderr is not None
    line = sensor.stderr.readline()  # "capturing on ...": imports done, BPF attached
    assert "capturing on" in line, line
    seen: list[float] = []
    stop = threading.Event()
    watcher = threading.Thread(target=watch_eve, args=(eve, seen, stop), daemon=True)
    watcher.start()
    inject = subprocess.Popen(
        ["ip", "netns", "exec", ns, PY, "-c", INJECT, far, attack_frame().hex(), str(seconds / 2)],
        stdout=subprocess.PIPE,
        text=True,
    )
    loops = -(-count // PCAP_FRAMES)  # tcpreplay stops at --limit; loop the file to get there
    rp = sh(
        "ip",
        "netns",
        "exec",
        ns,
        "taskset",
        "-c",
        "0",
        "tcpreplay",
        "-q",
        "-i",
        far,
        f"--pps={rate}",
        f"--loop={loops}",
        f"--limit={count}",
        str(pcap),
        check=False,
    )
    sent_at = float(inject.communicate(timeout=30)[0].strip())
    time.sleep(1.0)  # let the sensor drain its socket
    sensor.send_signal(signal.SIGTERM)
    _, err = sensor.communicate(timeout=60)
    stats = json.loads(err.strip().splitlines()[-1])
    m = re.search(r"Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps", rp.stdout + rp.stderr)
    stop.set()
    watcher.join()
    # From the send() of the attack frame to its alert being readable in eve.json.
    latency = seen[0] - sent_at if seen else float("nan")
    return {
        "rate": rate,
        "achieved_pps": float(m.group(1)) if m else float("nan"),
        "sent": count,
        "kernel_received": stats["kernel_received"],
        "kernel_drops": stats["kernel_drops"],
        "processed": stats["packets"],
        "latency_s": latency,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", default="10000,25000,50000,75000,100000,150000")
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (namespaces, AF_PACKET)")
    tmp = tempfile.TemporaryDirectory(prefix="cids-live-")  # ~370 MB of capture, removed at exit
    work = Path(tmp.name)
    pcap = ids_site.write_site(work / "site.pcap", PCAP_FRAMES)
    # A TERM (or INT, ignored by background jobs) must still remove the namespace and link.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    allow = ids_site.allowlist_60(work / "allowlist.json")
    rates = [int(r) for r in args.rates.split(",")]
    rows = []
    with lab(f"bl{os.getpid() % 10000}") as (ns, near, far):
        for bpf in (True, False):
            for rate in rates:
                r = run_rate(ns, near, far, pcap, allow, rate, args.seconds, bpf, work)
                r["bpf"] = bpf
                rows.append(r)
                print(json.dumps(r), file=sys.stderr)
    print(f"\nload average: {os.getloadavg()}, cores: {os.cpu_count()}")
    print("\n| kernel BPF | target pps | achieved pps (tcpreplay) | frames to Python | kernel drops | alert latency |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {'on' if r['bpf'] else 'off'} | {r['rate']:,} | {r['achieved_pps']:,.0f} | "
            f"{r['kernel_received']:,} | {r['kernel_drops']:,} | {r['latency_s'] * 1000:.0f} ms |"
        )


if __name__ == "__main__":
    main()
