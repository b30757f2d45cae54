"""EVE JSON lines (Suricata's ``eve.json``): one alert object per line, flushed per alert so a
tailing SIEM shipper sees it at once (the latency target is first packet -> alert <= 1 s)."""

from __future__ import annotations

import json
from typing import IO, Any


class EveWriter:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.count = 0

    def __call__(self, eve: dict[str, Any]) -> None:
        self.stream.write(json.dumps(eve, separators=(",", ":")) + "\n")
        self.stream.flush()
        self.count += 1
