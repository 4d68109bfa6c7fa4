"""How the dashboard deploys: picf's own deploy (plan, confirm, ansible-runner), run from a worker thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from picf.deploy.deployment import DeployOptions, deploy

Say = Callable[[str], None]
Confirm = Callable[[list[str]], bool]
OnEvent = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Outcome:
    """How a deploy ended: picf deploy's exit code and message."""

    exit_code: int
    message: str


class Deployer(Protocol):
    """Runs a deploy: shows the plan through `confirm`, progress through `say` and `on_event`."""

    title: str

    def run(self, confirm: Confirm, say: Say, on_event: OnEvent, cancelled: threading.Event) -> Outcome:
        """Plan, ask, execute (in the calling thread)."""
        ...


@dataclass
class PicfDeployer:
    """`picf deploy --inventory INVENTORY --manifest MANIFEST`; `prepare` runs first (the demo's patched build)."""

    inventory: Path
    manifest: Path
    title: str = "deploy"
    prepare: Callable[[Say], None] | None = None
    options: dict[str, Any] = field(default_factory=dict)  # canaries, max_in_flight, only

    def run(self, confirm: Confirm, say: Say, on_event: OnEvent, cancelled: threading.Event) -> Outcome:
        """Plan, ask, execute; any failure comes back as an Outcome, never as an exception in the UI."""
        try:
            if self.prepare is not None:
                self.prepare(say)
            result = deploy(
                DeployOptions(
                    inventory=self.inventory, manifest=self.manifest, confirm=confirm, say=say,
                    on_event=on_event, cancelled=cancelled, **self.options,
                )
            )  # fmt: skip
        except Exception as exc:  # the dashboard must stay up whatever a deploy does
            return Outcome(1, f"{type(exc).__name__}: {exc}".splitlines()[0])
        return Outcome(result.exit_code, result.message)
