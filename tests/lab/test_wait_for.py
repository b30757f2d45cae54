"""``wait_for``, the lab tests' polling helper (segmenting.lab.pytest_plugin): pure, no lab needed."""

from __future__ import annotations

import time

from segmenting.lab.pytest_plugin import wait_for


def test_returns_the_first_true_value() -> None:
    values = iter([None, {}, {"p1": "authorized"}, {"p1": "closed"}])
    assert wait_for(lambda: next(values), 5, step=0) == {"p1": "authorized"}


def test_gives_up_after_the_deadline_with_the_last_value() -> None:
    calls: list[float] = []

    def never() -> int:
        calls.append(time.monotonic())
        return 0

    started = time.monotonic()
    last = wait_for(never, 0.2, step=0.05)
    assert last == 0
    assert len(calls) >= 2, "polled more than once"
    assert 0.2 <= time.monotonic() - started < 2
