"""What a deploy reports as it runs: one model per Ansible event picf keeps, and the pre-flight's verdict.

Models only; `picf.deploy.ansible_events` makes an `AnsibleEvent` out of what ansible-runner hands over.
`as_json()` is what `picf deploy --json` streams and the history records (never task arguments).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

AnsibleKind = Literal[
    "playbook_on_play_start",
    "playbook_on_task_start",
    "runner_on_ok",
    "runner_on_failed",
    "runner_on_unreachable",
    "runner_on_skipped",
    "runner_item_on_failed",
]
FAILURES = ("runner_on_failed", "runner_on_unreachable", "runner_item_on_failed")

# Phases in the order a deploy goes through them; a task of picf's playbooks declares its own with a tag
# `picf_phase_<phase, spaces as _>` (the rollout's own tasks: "between batches").
PHASES = ("plan", "pre-flight", "ansible start-up", "lock", "prepare node", "upload", "switch", "restart", "watch",
          "between batches", "ansible wrap-up")  # fmt: skip
DEFAULT_PHASE = "between batches"


class AnsibleEvent(BaseModel):
    """One Ansible event of a deploy: a play or a task starting, or a host's result of a task.

    `hosts` is the pattern of the play the event belongs to; `phase` and `bookkeeping` (a task of the rollout's
    own, not of a node's deploy) are what the task's playbook declares in its tags."""

    model_config = ConfigDict(frozen=True)

    event: AnsibleKind
    host: str | None = None
    task: str | None = None
    role: str | None = None
    play: str | None = None
    hosts: str | None = None
    changed: bool = False
    message: str = ""
    ignored: bool = False
    phase: str = DEFAULT_PHASE
    bookkeeping: bool = False

    @property
    def failed(self) -> bool:
        """A host's result that stops its deploy (a failure not ignored, or the host unreachable)."""
        return self.event in FAILURES and not self.ignored

    def as_json(self) -> dict[str, Any]:
        """The parts picf shows and records, with the keys `picf deploy --json` has always streamed."""
        if self.event == "playbook_on_play_start":
            return {"event": self.event, "play": self.play, "hosts": self.hosts}
        out: dict[str, Any] = {"event": self.event, "host": self.host, "task": self.task}
        if self.event == "playbook_on_task_start":
            out["role"] = self.role
        if self.event == "runner_on_ok":
            out["changed"] = self.changed
        if self.event in FAILURES:
            out["message"] = self.message
            out["ignored"] = self.ignored
        return out


class PreflightChecked(BaseModel):
    """The pre-flight's verdict, before any node is touched."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    seconds: float
    summary: str
    lines: list[str]
    skipped: list[str]

    @property
    def host(self) -> None:
        """No node: the pre-flight runs on this machine."""
        return None

    def as_json(self) -> dict[str, Any]:
        """As `picf deploy --json` streams it."""
        return {"event": "preflight", "ok": self.ok, "seconds": round(self.seconds, 3), "summary": self.summary,
                "lines": self.lines, "skipped": self.skipped}  # fmt: skip


DeployEvent = AnsibleEvent | PreflightChecked
