"""Rounds paced `interval` apart, start to start: what `picf status --watch` and the dashboard's timer share."""

from __future__ import annotations

import time
from itertools import islice

from picf.health.rounds import every_round, wait_before_next
from tests.tui.synthetic import SyntheticSource


def test_every_round_asks_the_source_once_per_round_with_the_interval_as_its_budget() -> None:
    asked: list[float | None] = []

    class Recording(SyntheticSource):
        def poll(self, wait_s: float | None = None):  # type: ignore[no-untyped-def]
            asked.append(wait_s)
            return super().poll(wait_s)

    rounds = [h.at for h in islice(every_round(Recording(2), 0.0), 3)]
    assert rounds == sorted(set(rounds)) and asked == [0.0, 0.0, 0.0]


def test_a_round_slower_than_the_interval_is_followed_at_once() -> None:
    assert wait_before_next(time.monotonic() - 5.0, 1.0) == 0.0
    assert 0.0 < wait_before_next(time.monotonic(), 60.0) <= 60.0
