"""What is wrong in a round, most urgent first: the one order `picf status` and the dashboard list problems in."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from picf.models.health import ClusterHealth, Diagnosis, JobHealth, JobState, NodeHealth, NodeState


class ProblemKind(StrEnum):
    """What kind of trouble, in the order they are listed."""

    CRASH_LOOP = "crash loop"
    FAILING = "failing"
    UNREACHABLE = "unreachable"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One thing wrong: a job (crash loop, failing), a node (unreachable) or a node's warning (power, heat)."""

    kind: ProblemKind
    node: NodeHealth
    job: JobHealth | None = None
    warning: Diagnosis | None = None


def problems_of(health: ClusterHealth) -> list[Problem]:
    """Crash loops, then failing jobs, unreachable nodes, then power and heat warnings; nodes in order in each."""
    # A person on call fixes what is down before what is degraded: a crash loop carries its fix, then the rest.
    out: list[Problem] = []
    for state, kind in ((JobState.CRASH_LOOP, ProblemKind.CRASH_LOOP), (JobState.FAILING, ProblemKind.FAILING)):
        out += [Problem(kind, node, job) for node in health.nodes for job in node.jobs if job.state is state]
    out += [Problem(ProblemKind.UNREACHABLE, n) for n in health.nodes if n.state is NodeState.UNREACHABLE]
    out += [Problem(ProblemKind.WARNING, n, warning=w) for n in health.nodes for w in n.warnings]
    return out
