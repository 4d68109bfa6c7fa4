"""A deploy that follows a script instead of running Ansible: it drives the deploy screen's behaviour
(plan, question, progress, cancel) deterministically for pilot and snapshot tests. The real deploy from the
dashboard is exercised against the simulated LAN in tests/integration/test_dashboard.py."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from picf.deploy.ended import DeployEnded
from picf.models.deploy_event import AnsibleEvent
from picf.progress import Say
from tui.deploying import OnEvent, PlannedDeploy

PLAN = [
    "pi-1 (armv7):",
    "  ~ job logfwd (hash 3f2a91c0 -> 8d41be07)",
    "  + package logfwd 5c0e11aa (patched: align64:Counter)",
    "  - package logfwd 0b7d2e44",
    "pi-2 (arm64):",
    "  = nothing to change",
]


@dataclass
class ScriptedDeployer:
    title: str = "deploy"
    hosts: tuple[str, ...] = ("pi-1", "pi-3")
    tasks: tuple[str, ...] = ("base : vcap layout", "release : switch current", "start : watch logfwd")
    step: threading.Event = field(default_factory=threading.Event)  # set: run to the end without pausing
    asked: list[list[str]] = field(default_factory=list)

    discarded: list[PlannedDeploy] = field(default_factory=list)

    def plan(self, say: Say) -> PlannedDeploy:
        say("reading the state of 3 node(s) ...")
        self.asked.append(list(PLAN))
        return PlannedDeploy(list(PLAN))

    def execute(self, planned: PlannedDeploy, say: Say, on_event: OnEvent, cancelled: threading.Event) -> DeployEnded:
        for task in self.tasks:
            for host in self.hosts:
                on_event(AnsibleEvent(event="playbook_on_task_start", host=host, task=task))
                on_event(AnsibleEvent(event="runner_on_ok", host=host, task=task))
            while not self.step.wait(0.05):
                if cancelled.is_set():
                    break
            if cancelled.is_set():
                return DeployEnded(1, "cancelled during batch 1; rerun to converge")
        return DeployEnded(0, f"deployed to {len(self.hosts)} node(s) in 12.3 s")

    def discard(self, planned: PlannedDeploy) -> None:
        self.discarded.append(planned)


@dataclass
class ScriptedOperator:
    """Day-2 verbs that record what they were asked and answer from a script: the keys' behaviour (which job,
    which verb, the question first) without a LAN. The real verbs run on the simulated LAN in test_ops.py."""

    asked: list[tuple[str, str, str | None]] = field(default_factory=list)
    lines: tuple[str, ...] = ("logfwd.stderr.log: starts=1 lines=1", "logfwd.stderr.log: starts=1 lines=2")
    shells: list[str] = field(default_factory=list)

    def follow_log(self, node: str, job: str | None, emit: Say, stop: threading.Event) -> None:
        self.asked.append(("follow", node, job))
        for line in self.lines:
            emit(line)
        stop.wait(5)

    def control(self, action: str, node: str, job: str | None, say: Say) -> DeployEnded:
        self.asked.append((action, node, job))
        return DeployEnded(0, f"{node}: {job or 'every job'} {action}ed")

    def shell(self, node: str) -> int:
        self.shells.append(node)
        return 0
