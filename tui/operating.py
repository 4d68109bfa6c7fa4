"""The dashboard's day-2 verbs on a real cluster, through the same library as `picf logs|restart|stop|start|ssh`:
one place each (picf.ops), so the keys and the commands cannot disagree."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from picf.deploy.ended import DeployEnded
from picf.deploy.manifest_file import read_manifest
from picf.errors import PicfError
from picf.inventory import read_inventory
from picf.models.cluster import Cluster
from picf.models.manifest import Manifest
from picf.ops import jobs as jobctl
from picf.ops import logs as joblogs
from picf.ops import shell
from picf.ops.targets import Target, resolve
from picf.progress import Say

Action = Literal["restart", "stop", "start"]


class Operator(Protocol):
    """What the dashboard's keys do to a node or a job (each call in a worker thread, except `shell`)."""

    def follow_log(self, node: str, job: str | None, emit: Say, stop: threading.Event) -> None:
        """Follow the logs of a job (None: every job of the node) until `stop` is set, line by line."""
        ...

    def control(self, action: Action, node: str, job: str | None, say: Say) -> DeployEnded:
        """Restart, stop or start a job (None: every job of the node), as `picf ACTION` does."""
        ...

    def shell(self, node: str) -> int:
        """An interactive shell on the node (the dashboard is suspended meanwhile); its exit code."""
        ...


@dataclass
class PicfOperator:
    """The verbs on the cluster of `inventory`, with `manifest` for the target grammar and watch times."""

    inventory: Path
    manifest: Path | None = None
    become_password: str | None = None
    timeout: float = 5.0

    def _load(self) -> tuple[Cluster, Manifest | None]:
        cluster = read_inventory(self.inventory).cluster
        manifest = read_manifest(self.manifest)[0] if self.manifest is not None and self.manifest.is_file() else None
        return cluster, manifest

    def _target(self, cluster: Cluster, manifest: Manifest | None, node: str, job: str | None) -> Target:
        spec = f"{node}/{job}" if job else f"node:{node}"
        return resolve([spec], cluster, manifest, str(self.inventory))[0]

    def follow_log(self, node: str, job: str | None, emit: Say, stop: threading.Event) -> None:
        cluster, manifest = self._load()
        target = self._target(cluster, manifest, node, job)
        reader = joblogs.NodeLogs(cluster, target, target.jobs, self.become_password, lines=100)

        def line(item: joblogs.LogLine | joblogs.LogNote) -> None:
            if isinstance(item, joblogs.LogNote):
                emit(f"picf: {item.text}")
            else:
                emit(f"{item.job}/{item.file}: {item.text}" if job is None else f"{item.file}: {item.text}")

        joblogs.follow(cluster, [reader], line, stop)

    def control(self, action: Action, node: str, job: str | None, say: Say) -> DeployEnded:
        try:
            cluster, manifest = self._load()
            target = self._target(cluster, manifest, node, job)
            outcomes = jobctl.control(cluster, self.inventory, manifest, [target], action, self.become_password, say,
                                      self.timeout)  # fmt: skip
        except PicfError as exc:
            return DeployEnded(exc.exit_code, exc.message)
        outcome = outcomes[0]
        if outcome.result == "ok":
            return DeployEnded(0, f"{node}: {outcome.message}")
        return DeployEnded(3 if outcome.result == "unreachable" else 1, outcome.message)

    def shell(self, node: str) -> int:
        cluster, _ = self._load()
        found = cluster.node(node)
        if found is None:
            raise PicfError(f"{node}: not in {self.inventory}")
        return shell.interactive(cluster, found, [], self.timeout)
