"""Push to 50 simulated switches with 8 workers, then a push that fails and rolls back all 50.

The switches are fakenos SSH servers with the stateful CLI model of tests/push (IOS, AOS-CX,
ArubaOS-Switch in turn), each given the configuration the renderers produce for a switch of
the reference deployment. Figures go to bench/push.md. Target (issue 8): ≤ 60 s, rollback
included. Run: .venv/bin/python bench/push_scale.py [--switches 50] [--workers 8]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "push"))
sys.path.insert(0, str(ROOT))

from cpush_fakeswitch import USERNAME, FakeSwitch  # noqa: E402

from segmenting.api import load_plan  # noqa: E402
from segmenting.push import cliconf  # noqa: E402
from segmenting.push.engine import PushEngine  # noqa: E402
from segmenting.push.targets import DeviceTarget, PushItem  # noqa: E402
from segmenting.render.registry import render_all  # noqa: E402
from segmenting.render.secrets import GeneratedSecrets  # noqa: E402

FAMILY = {"cisco-ios": "cisco_ios", "aruba-aoscx": "aruba_aoscx", "hp-procurve": "hp_procurve"}
PASSWORD_ENV = "CPUSH_BENCH_PASSWORD"


def rendered_configs(tmp: Path) -> list[tuple[str, str, str]]:
    plan = load_plan(ROOT / "inventory" / "ingeagglo")
    secrets = GeneratedSecrets(tmp / "secrets.json")
    out = []
    for renderer, f in render_all(plan, secrets, list(FAMILY)):
        out.append((f.device, FAMILY[renderer.name], f.text))
    return out


def hostname_of(text: str, default: str) -> str:
    for line in cliconf.normalize(text):
        if line.startswith("hostname "):
            return line.split(None, 1)[1].strip('"')
    return default


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--switches", type=int, default=50)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "push.md")
    args = ap.parse_args()
    os.environ[PASSWORD_ENV] = "bench-" + os.urandom(6).hex()
    with tempfile.TemporaryDirectory(prefix="cpush-bench-") as tmpdir:
        tmp = Path(tmpdir)
        configs = rendered_configs(tmp)
        switches: list[FakeSwitch] = []
        items: list[PushItem] = []
        for i in range(args.switches):
            device, family, text = configs[i % len(configs)]
            name = f"{device}-{i:02d}"
            # The simulator's prompt is the hostname the config sets, as on a real switch.
            sw = FakeSwitch(hostname_of(text, name), family, os.environ[PASSWORD_ENV]).start()
            switches.append(sw)
            target = DeviceTarget(name, "127.0.0.1", family, USERNAME, port=sw.port, password_env=PASSWORD_ENV)
            items.append(PushItem(target, text))
        lines = sum(len(cliconf.normalize(i.candidate)) for i in items)
        try:
            t0 = time.monotonic()
            first = PushEngine(items, workers=args.workers, run_directory=tmp, out=io.StringIO(), progress=False).run()
            t_commit = time.monotonic() - t0
            ok = sum(r.status == "committed" for r in first.results)
            bad = [r for r in first.results if r.status != "committed"]
            for r in bad[:3]:
                print(r.name, r.status, r.detail[:300], file=sys.stderr)
            before = [sw.running_text() for sw in switches]
            # Second push: every switch gets one extra line; the last switch refuses it.
            reject_at = switches[-1]
            reject_at.state.reject = re.compile("cloison-bench-refused")
            items2 = [
                PushItem(i.target, i.candidate + ("\nsnmp-server location cloison-bench-refused\n")) for i in items[:-1]
            ]
            items2.append(
                PushItem(items[-1].target, items[-1].candidate + "\nsnmp-server location cloison-bench-refused\n")
            )
            t1 = time.monotonic()
            second = PushEngine(
                items2, workers=args.workers, run_directory=tmp, out=io.StringIO(), progress=False
            ).run()
            t_rollback = time.monotonic() - t1
            for r in [r for r in second.results if not r.status.startswith(("rolled back", "failed, rolled"))][:4]:
                print("second:", r.name, r.status, r.detail[:400].replace("\n", " "), file=sys.stderr)
            rolled = sum(r.status.startswith(("rolled back", "failed, rolled back")) for r in second.results)
            identical = sum(sw.running_text() == b for sw, b in zip(switches, before, strict=True))
        finally:
            # fakenos joins each server's threads with timeouts: stop them side by side.
            with ThreadPoolExecutor(max_workers=len(switches) or 1) as pool:
                list(pool.map(FakeSwitch.stop, switches))
    total = t_commit + t_rollback
    second_row = (
        "| second push: one switch refuses a line → every switch rolled back "
        f"| {rolled}/{args.switches} rolled back, {identical}/{args.switches} identical to their backup "
        f"| {t_rollback:.1f} s |"
    )
    report = f"""# Push benchmark (bench/push_scale.py)

{args.switches} simulated switches (fakenos + the tests/push stateful CLI model; IOS, AOS-CX and
ArubaOS-Switch in turn), each given a configuration rendered for a switch of the reference
deployment ({lines} config lines in all, {lines / args.switches:.0f} per switch), {args.workers} workers,
on {platform.node()} ({os.cpu_count()} CPUs, Python {platform.python_version()}).

| run | result | time |
|---|---|---|
| first push: backup, diff, apply, read back + verify, save | {ok}/{args.switches} committed | {t_commit:.1f} s |
{second_row}
| **both (target ≤ 60 s)** | | **{total:.1f} s** |

Simulator, not hardware: these figures measure cloison's engine and netmiko's dialogue over
real SSH on the loopback; a real switch answers more slowly (and `write memory` takes seconds).
"""
    args.out.write_text(report, encoding="utf-8")
    print(report)
    return 0 if ok == args.switches and rolled == args.switches and identical == args.switches else 1


if __name__ == "__main__":
    sys.exit(main())
