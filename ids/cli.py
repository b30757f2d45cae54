"""``cloison ids run`` (live, a mirror port) and ``cloison ids replay`` (capture files).

Both build the same engine and sinks; only the frame source differs. Alerts go as EVE JSON
lines to ``--eve`` (default stdout), optionally to a syslog collector through the on-disk
spool, and the counters to a Prometheus endpoint. A user mistake (missing file, bad
allowlist, unknown interface) is a :class:`CloisonError` with a message, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import signal
import ssl
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from ids import allowlist as allowlist_mod
from ids.alerts import RateLimiter, Sink
from ids.engine import Engine
from ids.outputs.eve import EveWriter
from segmenting.errors import EXIT_OK, CloisonError, UsageError


def register(sub: Any) -> None:
    ids = sub.add_parser("ids", help="the IDS sensor: flag flows the plan does not allow")
    ids_sub = ids.add_subparsers(dest="ids_command", metavar="ACTION")
    ids_sub.required = True

    run = ids_sub.add_parser("run", help="watch a live interface (the switch mirror port)")
    run.add_argument("--iface", required=True, help="capture interface")
    run.add_argument("--duration", type=float, help="stop after this many seconds")
    run.add_argument("--no-bpf", action="store_true", help="do not filter allowlisted RTP bulk in the kernel")
    _common(run)
    run.set_defaults(func=cmd_run)

    replay = ids_sub.add_parser("replay", help="analyse capture files (pcap, pcapng)")
    replay.add_argument("files", nargs="+", metavar="FILE", help="capture files, in order")
    _common(replay)
    replay.set_defaults(func=cmd_replay)


def _common(p: argparse.ArgumentParser) -> None:
    plan = p.add_mutually_exclusive_group(required=True)
    plan.add_argument("--allowlist", metavar="FILE", help="the plan's IDS allowlist (JSON)")
    plan.add_argument("--no-plan", action="store_true", help="run only the plan-independent detectors")
    p.add_argument("--eve", default="-", metavar="FILE", help="EVE JSON output (default: stdout)")
    p.add_argument("--syslog", metavar="HOST:PORT", help="RFC 5424 collector (TCP, or TLS)")
    p.add_argument("--syslog-tls", action="store_true", help="use TLS (RFC 5425)")
    p.add_argument("--syslog-ca", metavar="FILE", help="CA bundle to verify the collector")
    p.add_argument("--spool", metavar="DIR", help="alert spool directory (needed with --syslog)")
    p.add_argument("--metrics", metavar="[HOST:]PORT", help="serve Prometheus /metrics")
    p.add_argument("--stats", action="store_true", help="print counters as JSON on stderr")
    p.add_argument("--max-flows", type=int, default=200_000, help="flow table size cap")
    p.add_argument("--flow-ttl", type=float, default=120.0, help="idle flow timeout (s)")
    p.add_argument("--stream-timeout", type=float, default=10.0, help="stream-stop delay (s)")
    p.add_argument(
        "--maintenance-file",
        metavar="FILE",
        help="maintenance-window flows are allowed only while FILE exists (default: always)",
    )
    p.add_argument(
        "--quarantine",
        choices=["off", "dry-run", "apply"],
        default="off",
        help="nftables quarantine of high-severity offenders (default: off)",
    )


def _host_port(value: str, flag: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    try:
        number = int(port)
    except ValueError as exc:
        raise UsageError(f"{flag}: expected [HOST:]PORT, got {value!r}") from exc
    if not 0 <= number <= 65535:
        raise UsageError(f"{flag}: port {number} out of range")
    return (host.strip("[]") or default_host), number


class _Session:
    """The engine with its sinks and services, closed in order on exit."""

    def __init__(self, args: argparse.Namespace, stack: ExitStack) -> None:
        from ids.outputs.metrics import MetricsServer  # noqa: PLC0415 - only when asked
        from ids.outputs.spool import Spool  # noqa: PLC0415
        from ids.outputs.syslog import SyslogForwarder  # noqa: PLC0415

        self.args = args
        al = None if args.no_plan else allowlist_mod.load(args.allowlist)
        self.allowlist = al
        sinks: list[Sink] = []
        out: IO[str]
        if args.eve == "-":
            out = sys.stdout
        else:
            try:
                out = stack.enter_context(Path(args.eve).open("a", encoding="utf-8"))  # noqa: SIM115
            except OSError as exc:
                raise CloisonError(f"{args.eve}: cannot write EVE output: {exc.strerror}") from exc
        sinks.append(EveWriter(out))
        self.forwarder: SyslogForwarder | None = None
        if args.syslog:
            if not args.spool:
                raise UsageError("--syslog needs --spool DIR (alerts must survive an outage)")
            host, port = _host_port(args.syslog, "--syslog")
            tls = None
            if args.syslog_tls or args.syslog_ca:
                try:
                    tls = ssl.create_default_context(cafile=args.syslog_ca)
                except (OSError, ssl.SSLError) as exc:
                    raise CloisonError(f"{args.syslog_ca}: cannot load CA: {exc}") from exc
            fwd = SyslogForwarder(Spool(args.spool), host, port, tls=tls)
            stack.callback(fwd.close)
            sinks.append(fwd)
            self.forwarder = fwd
        if args.quarantine != "off":
            from ids.response import NftSetQuarantine, QuarantineSink  # noqa: PLC0415

            protected = {h.ip for h in al.hosts if h.ip} if al is not None else set()
            q = NftSetQuarantine(dry_run=args.quarantine != "apply")
            sinks.append(QuarantineSink(q, protected))
        self.engine = Engine(
            al,
            sinks,
            max_flows=args.max_flows,
            flow_ttl=args.flow_ttl,
            limiter=RateLimiter(),
            options={"stream_timeout": args.stream_timeout, "maintenance_file": args.maintenance_file},
        )
        self.kernel: Any = None
        self.metrics: MetricsServer | None = None
        self._stack = stack

    def start_metrics(self) -> None:
        from ids.outputs.metrics import MetricsServer  # noqa: PLC0415

        if self.args.metrics:
            host, port = _host_port(self.args.metrics, "--metrics")
            try:
                self.metrics = MetricsServer(self.engine, host, port, self.kernel)
            except OSError as exc:
                raise CloisonError(f"--metrics {self.args.metrics}: {exc.strerror}") from exc
            self._stack.callback(self.metrics.close)

    def finish(self, elapsed: float, extra: dict[str, Any] | None = None) -> None:
        if self.forwarder is not None:
            self.forwarder.flush(timeout=5.0)
        if self.args.stats:
            stats: dict[str, Any] = dict(self.engine.stats())
            stats["seconds"] = round(elapsed, 3)
            stats["pkt_per_s"] = round(stats["packets"] / elapsed) if elapsed > 0 else 0
            stats.update(extra or {})
            print(json.dumps(stats), file=sys.stderr)


def cmd_replay(args: argparse.Namespace) -> int:
    from ids import pcapfile  # noqa: PLC0415

    with ExitStack() as stack:
        session = _Session(args, stack)
        session.start_metrics()
        engine = session.engine
        start = time.perf_counter()
        for name in args.files:
            engine.feed(pcapfile.read(name), Path(name).name)
        session.finish(time.perf_counter() - start)
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from ids.bpf import media_exclusion  # noqa: PLC0415
    from ids.capture import LiveCapture  # noqa: PLC0415

    stop = threading.Event()
    # systemd stops a service with TERM: finish cleanly (flush the spool, print stats).
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with ExitStack() as stack:
        session = _Session(args, stack)
        bpf = None
        if session.allowlist is not None and not args.no_bpf:
            bpf = media_exclusion(session.allowlist)
        cap = LiveCapture(args.iface, bpf)
        stack.callback(cap.close)
        session.kernel = cap.kernel_stats
        session.start_metrics()
        print(
            f"cloison ids: capturing on {args.iface} ({'kernel filter: ' + bpf if bpf else 'no kernel filter'})",
            file=sys.stderr,
            flush=True,
        )
        start = time.perf_counter()
        try:
            cap.run(session.engine, stop, args.duration)
        except KeyboardInterrupt:
            stop.set()
        received, drops = cap.kernel_stats()
        session.finish(
            time.perf_counter() - start,
            {"kernel_received": received, "kernel_drops": drops, "bpf": bpf or ""},
        )
    return EXIT_OK
