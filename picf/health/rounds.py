"""Health rounds, paced: the loop of `picf status --watch` and the timer of the dashboard wait the same way."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Protocol

from picf.models.health import ClusterHealth


class RoundSource(Protocol):
    """Something that polls the cluster: picf's Poller, or made-up data in tests."""

    def poll(self, wait_s: float | None = None) -> ClusterHealth:
        """One round, returned within about `wait_s` however slow the nodes are. Safe from several threads:
        a round asked while one runs waits its turn (the dashboard's `r` during a timed round)."""
        ...


def wait_before_next(started: float, interval: float) -> float:
    """Seconds to wait after a round begun at `started` (time.monotonic()), so that rounds begin `interval`
    seconds apart; none after a round that took longer."""
    return max(0.0, interval - (time.monotonic() - started))


def every_round(source: RoundSource, interval: float) -> Iterator[ClusterHealth]:
    """Round after round, `interval` seconds apart, each given at most `interval` to answer (a late node keeps
    its last state); the time the caller spends on a round counts toward the wait."""
    while True:
        started = time.monotonic()
        yield source.poll(wait_s=interval)
        time.sleep(wait_before_next(started, interval))
