"""Prometheus metrics in the text exposition format (version 0.0.4), served over HTTP.

Counters: packets seen, slow-path packets, Scapy dissections, kernel drops
(PACKET_STATISTICS on live sockets), alerts by signature, alerts suppressed; gauge: flows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ids.engine import Engine


def _label(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(engine: Engine, kernel: Callable[[], tuple[int, int]] | None = None) -> str:
    s = engine.stats()
    lines = [
        "# HELP cloison_ids_packets_total Frames seen by the sensor.",
        "# TYPE cloison_ids_packets_total counter",
        f"cloison_ids_packets_total {s['packets']}",
        "# HELP cloison_ids_slow_path_total Frames decoded past the raw fast path.",
        "# TYPE cloison_ids_slow_path_total counter",
        f"cloison_ids_slow_path_total {s['slow_path']}",
        "# HELP cloison_ids_dissected_total Payloads dissected by Scapy.",
        "# TYPE cloison_ids_dissected_total counter",
        f"cloison_ids_dissected_total {s['dissected']}",
        "# HELP cloison_ids_flows Flows in the flow table.",
        "# TYPE cloison_ids_flows gauge",
        f"cloison_ids_flows {s['flows']}",
        "# HELP cloison_ids_alerts_suppressed_total Alerts dropped by deduplication.",
        "# TYPE cloison_ids_alerts_suppressed_total counter",
        f"cloison_ids_alerts_suppressed_total {s['alerts_suppressed']}",
    ]
    if kernel is not None:
        received, drops = kernel()
        lines += [
            "# HELP cloison_ids_kernel_packets_total Frames the kernel passed the socket.",
            "# TYPE cloison_ids_kernel_packets_total counter",
            f"cloison_ids_kernel_packets_total {received}",
            "# HELP cloison_ids_kernel_drops_total Frames the kernel dropped (socket full).",
            "# TYPE cloison_ids_kernel_drops_total counter",
            f"cloison_ids_kernel_drops_total {drops}",
        ]
    lines += [
        "# HELP cloison_ids_alerts_total Alerts emitted, by signature.",
        "# TYPE cloison_ids_alerts_total counter",
    ]
    for sid, n in sorted(dict(engine.alerts_by_sid).items()):
        name = _label(engine.signatures[sid].name)
        lines.append(f'cloison_ids_alerts_total{{signature_id="{sid}",signature="{name}"}} {n}')
    return "\n".join(lines) + "\n"


class MetricsServer:
    """``GET /metrics`` on a background thread."""

    def __init__(
        self,
        engine: Engine,
        host: str,
        port: int,
        kernel: Callable[[], tuple[int, int]] | None = None,
    ) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = render(outer.engine, outer.kernel).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.engine = engine
        self.kernel = kernel
        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
