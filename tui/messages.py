"""What the dashboard's workers tell the screens: results cross from a worker thread as messages, handled on
the UI thread (posting a message is safe from any thread)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from picf.deploy.ended import DeployEnded
from picf.models.deploy_event import DeployEvent
from picf.models.health import ClusterHealth
from tui.deploying import PlannedDeploy


@dataclass
class PollDone(Message):
    """A poll round came back."""

    health: ClusterHealth


@dataclass
class PollFailed(Message):
    """A poll round raised; the dashboard says why and keeps going."""

    error: str


@dataclass
class LogRead(Message):
    """The last lines of a job's logs."""

    job: str
    lines: list[str]


@dataclass
class LogFollowed(Message):
    """A line of a followed log (`l` on the node screen)."""

    line: str


@dataclass
class OperationDone(Message):
    """A restart, stop or start asked with a key ended."""

    title: str
    outcome: DeployEnded


@dataclass
class DeploySaid(Message):
    """A progress line of a deploy (reading nodes, building, a batch starting)."""

    line: str


@dataclass
class DeployPlanned(Message):
    """A deploy's plan is ready to show (and, unless it has an outcome already, to confirm)."""

    planned: PlannedDeploy


@dataclass
class DeployProgressed(Message):
    """An event of a running deploy (secrets redacted)."""

    event: DeployEvent


@dataclass
class DeployDone(Message):
    """A deploy ended."""

    outcome: DeployEnded
