"""Where the dashboard's data comes from: picf's Poller on a real cluster, or a synthetic one."""

from __future__ import annotations

from typing import Protocol

from picf.health.rounds import RoundSource


class HealthSource(RoundSource, Protocol):
    """Polls the cluster (called from worker threads, never from the UI thread) and reads logs."""

    def read_log(self, node: str, job: str, lines: int = 200) -> list[str]:
        """The last lines of a job's logs."""
        ...

    def close(self) -> None:
        """Stop and close connections."""
        ...
