"""How the dashboard deploys: picf's own deploy, decided (`plan`) then done (`execute`) in worker threads.

The deploy screen shows the plan between the two calls and asks; nothing waits on the answer in a thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from picf.deploy.ended import DeployEnded, nothing_to_do
from picf.deploy.prepare import DeployRequest, Prepared, plan_lines, prepare_deploy
from picf.deploy.rollout import OnDeployEvent, execute
from picf.errors import PicfError
from picf.progress import Say

OnEvent = OnDeployEvent


@dataclass
class PlannedDeploy:
    """A plan to show: its lines; `outcome` is set when nothing is left to confirm (nothing to do, refused,
    could not plan). `prepared` is the deployer's own handle for `execute`."""

    lines: list[str]
    outcome: DeployEnded | None = None
    prepared: Any = None


class Deployer(Protocol):
    """Plans a deploy, then executes the plan the person confirmed (each call in a worker thread)."""

    title: str

    def plan(self, say: Say) -> PlannedDeploy:
        """Decide the deploy; change nothing."""
        ...

    def execute(self, planned: PlannedDeploy, say: Say, on_event: OnEvent, cancelled: threading.Event) -> DeployEnded:
        """Do the confirmed plan; stop at a safe point when `cancelled` is set."""
        ...

    def discard(self, planned: PlannedDeploy) -> None:
        """Drop a plan that will not run (free what it holds)."""
        ...


@dataclass
class PicfDeployer:
    """`picf deploy --inventory INVENTORY --manifest MANIFEST`; `build_first` runs before planning (the demo's
    patched build). Any failure comes back as an DeployEnded, never as an exception in the UI."""

    inventory: Path
    manifest: Path
    title: str = "deploy"
    build_first: Callable[[Say], None] | None = None
    options: dict[str, Any] = field(default_factory=dict)  # canaries, max_in_flight, only, become_password

    def plan(self, say: Say) -> PlannedDeploy:
        """Build (if asked), then prepare the deploy."""
        try:
            if self.build_first is not None:
                self.build_first(say)
            prepared = prepare_deploy(DeployRequest(self.inventory, self.manifest, **self.options), say)
        except PicfError as exc:
            return PlannedDeploy([*exc.problems], DeployEnded.stopped_by(exc))
        except Exception as exc:  # the dashboard must stay up whatever a deploy does
            return PlannedDeploy([], DeployEnded(1, f"{type(exc).__name__}: {exc}".splitlines()[0]))
        plan = prepared.plan
        if plan.nothing_to_do:
            prepared.close()
            return PlannedDeploy([], nothing_to_do(plan.stopped_jobs()))
        if plan.refused is not None:
            prepared.close()
            return PlannedDeploy(plan_lines(plan), DeployEnded.stopped_by(plan.refused))
        return PlannedDeploy(plan_lines(plan), prepared=prepared)

    def execute(self, planned: PlannedDeploy, say: Say, on_event: OnEvent, cancelled: threading.Event) -> DeployEnded:
        """Roll the plan out."""
        prepared = planned.prepared
        assert isinstance(prepared, Prepared)
        try:
            return execute(prepared, on_event, cancelled, say)
        except PicfError as exc:
            return DeployEnded.stopped_by(exc)
        except Exception as exc:
            return DeployEnded(1, f"{type(exc).__name__}: {exc}".splitlines()[0])
        finally:
            prepared.close()

    def discard(self, planned: PlannedDeploy) -> None:
        """Remove the prepared deploy's work directory."""
        if isinstance(planned.prepared, Prepared):
            planned.prepared.close()
