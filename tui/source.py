"""Where the dashboard's data comes from: picf's Poller on a real cluster, or a synthetic one."""

from __future__ import annotations

from typing import Protocol

from picf.models.health import ClusterHealth


class HealthSource(Protocol):
    """Polls the cluster (called from a worker thread, never from the UI thread)."""

    def poll(self, wait_s: float | None = None) -> ClusterHealth:
        """One round; returns within about `wait_s` however slow the nodes are."""
        ...

    def read_log(self, node: str, job: str, lines: int = 200) -> list[str]:
        """The last lines of a job's logs."""
        ...

    def close(self) -> None:
        """Stop and close connections."""
        ...
