"""How a deploy ended, for every front end: `picf deploy`, `picf recreate` and the dashboard's deploy screen."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from picf.deploy.timings import DeployTimings
from picf.errors import PicfError


@dataclass
class DeployEnded:
    """The exit code (0 ok, 1 failed or refused, 2 usage), a message, the history id and where the time went
    (when Ansible ran)."""

    exit_code: int
    message: str
    deployment: int | None = None
    timings: DeployTimings | None = None

    @classmethod
    def stopped_by(cls, error: PicfError) -> DeployEnded:
        """A deploy that stopped before changing anything, for `error`'s reason."""
        return cls(error.exit_code, error.message)


def nothing_to_do(stopped: Mapping[str, tuple[str, ...]]) -> DeployEnded:
    """Every node already runs what the manifest wants (`stopped`: the jobs `picf stop` stopped, kept so)."""
    kept = "; ".join(f"{node}: {', '.join(jobs)}" for node, jobs in stopped.items())
    return DeployEnded(0, "nothing to do: every node runs what the manifest wants"
                          + (f" (stopped with picf stop: {kept})" if kept else ""))  # fmt: skip
