"""What the dashboard's screens share: the model of the latest rounds, the data source, the clock, the
deployers. The app owns it and hands it to each screen, so no screen reaches into the app."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tui.deploying import Deployer
from tui.model import DashboardModel
from tui.operating import Operator
from tui.source import HealthSource


@dataclass
class Dashboard:
    """The dashboard's state and collaborators."""

    source: HealthSource
    deployer: Deployer | None = None
    fixer: Deployer | None = None
    clock: Callable[[], float] = time.time
    model: DashboardModel = field(default_factory=DashboardModel)
    operator: Operator | None = None  # logs, restart, stop/start and shell on a real cluster

    def now(self) -> float:
        """The clock the dashboard shows times with."""
        return self.clock()
