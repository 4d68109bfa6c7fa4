"""Where a deploy's time goes, from Ansible's own events: per task and per phase (`picf deploy --timings`).

Pure: `DeployTimings` takes picf's Ansible events (each task's phase as its playbook declares it) with the
moment picf received each one (and the batch they belong to), and the moments the Ansible run started and
ended. A task lasts from its start to the next task's start (or the end of the run); the time from the run's
start to its first task is Ansible's start-up; the rest, its wrap-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from picf.models.deploy_event import PHASES, AnsibleEvent


@dataclass
class TaskTime:
    """One task of one batch, and how long the batch spent in it (wall time, all hosts at once)."""

    batch: int
    task: str
    phase: str
    seconds: float


@dataclass
class DeployTimings:
    """Wall time per phase and per task of a deploy."""

    plan_seconds: float = 0.0
    preflight_seconds: float = 0.0
    tasks: list[TaskTime] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    _open: tuple[int, str, str, float] | None = None
    _run_started: float = 0.0
    _first_task: bool = True
    _last_result: float = 0.0

    def run_started(self, at: float) -> None:
        """The Ansible run starts."""
        self._run_started, self._first_task, self._open, self._last_result = at, True, None, at

    def event(self, batch: int, event: AnsibleEvent, at: float) -> None:
        """An event of batch `batch`, received at `at`."""
        if event.event != "playbook_on_task_start":
            self._last_result = at  # a host's result: the running task has got this far
            return
        task = event.task or ""
        if self._open is not None and self._open[1] == task:  # the same task started on another host
            return
        self._close(at)
        if self._first_task:
            self._add("ansible start-up", at - self._run_started)
            self._first_task = False
        self._open = (batch, task, event.phase, at)

    def run_ended(self, at: float) -> None:
        """The Ansible run ended: its last task ended with its last result; the rest is wrap-up."""
        if self._first_task:
            self._add("ansible start-up", at - self._run_started)
            return
        end = self._last_result if self._open is not None and self._last_result >= self._open[3] else at
        self._close(end)
        self._add("ansible wrap-up", at - end)

    def _close(self, at: float) -> None:
        if self._open is None:
            return
        batch, task, phase, started = self._open
        self.tasks.append(TaskTime(batch, task, phase, at - started))
        self._add(phase, at - started)
        self._open = None

    def _add(self, phase: str, seconds: float) -> None:
        self.phases[phase] = self.phases.get(phase, 0.0) + max(0.0, seconds)

    def as_dict(self) -> dict[str, Any]:
        """For --json: phases in order (plan first), then the tasks."""
        phases = {"plan": round(self.plan_seconds, 3)}
        if self.preflight_seconds:
            phases["pre-flight"] = round(self.preflight_seconds, 3)
        phases.update({p: round(self.phases[p], 3) for p in PHASES if p in self.phases})
        return {"phases": phases, "tasks": [
            {"batch": t.batch + 1, "task": t.task, "phase": t.phase, "seconds": round(t.seconds, 3)} for t in self.tasks
        ]}  # fmt: skip

    def lines(self, most: int = 8) -> list[str]:
        """The breakdown as a person reads it: phases with their share, then the slowest tasks."""
        phases = self.as_dict()["phases"]
        total = sum(phases.values()) or 1.0
        out = [f"{'phase':<18} {'seconds':>8} {'share':>6}"]
        out += [f"{name:<18} {seconds:8.1f} {seconds / total:6.0%}" for name, seconds in phases.items()]
        out.append(f"{'total':<18} {total:8.1f}")
        slowest = sorted(self.tasks, key=lambda t: t.seconds, reverse=True)[:most]
        if slowest:
            out.append("slowest tasks:")
            out += [f"  batch {t.batch + 1}: {t.task} ({t.phase}): {t.seconds:.1f} s" for t in slowest]
        return out
