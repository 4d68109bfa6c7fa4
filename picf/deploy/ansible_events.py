"""Where an Ansible event becomes a picf event: ansible-runner's event dict in, an `AnsibleEvent` out.

The task's phase is what its playbook declares: a tag `picf_phase_<phase>` (and `picf_bookkeeping` on the
rollout's own tasks). Ansible's events name the file and line a task comes from (`task_path`), not its tags, so
the tags are read from that file, once per file. Nothing here matches a task by its name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

from picf import yamldoc
from picf.models.deploy_event import DEFAULT_PHASE, FAILURES, AnsibleEvent, AnsibleKind

PHASE_TAG = "picf_phase_"
BOOKKEEPING_TAG = "picf_bookkeeping"  # a task of the rollout's own (its checks between batches), not a node's
_KINDS: frozenset[str] = frozenset(get_args(AnsibleKind))


def phase_tag(phase: str) -> str:
    """The tag a task carries to say it belongs to `phase`."""
    return PHASE_TAG + phase.replace(" ", "_")


def phase_of(tags: tuple[str, ...]) -> str:
    """The phase a task's tags declare."""
    return next((t[len(PHASE_TAG) :].replace("_", " ") for t in tags if t.startswith(PHASE_TAG)), DEFAULT_PHASE)


def tags_by_line(text: str) -> dict[int, tuple[str, ...]]:
    """Each task (or play, block, handler) of a playbook or tasks file by its first line (1-based, as Ansible
    counts), with its tags and those it inherits from the play or block around it."""
    out: dict[int, tuple[str, ...]] = {}

    def walk(node: Any, inherited: tuple[str, ...]) -> None:
        if isinstance(node, list):
            for item in node:
                if isinstance(item, dict):
                    own = item.get("tags") or ()
                    tags = (*inherited, *([own] if isinstance(own, str) else own))
                    line = getattr(getattr(item, "lc", None), "line", None)
                    if line is not None:
                        out[line + 1] = tags
                    for value in item.values():
                        walk(value, tags)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value, inherited)

    walk(yamldoc.load(text), ())
    return out


class TaskTags:
    """The tags of the task at an Ansible `task_path` (`FILE:LINE`), each file read once."""

    def __init__(self) -> None:
        self._files: dict[str, dict[int, tuple[str, ...]]] = {}

    def at(self, task_path: str | None) -> tuple[str, ...]:
        """The task's tags; none when Ansible named no file picf can read."""
        file, _, line = (task_path or "").rpartition(":")
        if not file or not line.isdigit():
            return ()
        if file not in self._files:
            try:
                self._files[file] = tags_by_line(Path(file).read_text())
            except (OSError, yamldoc.YamlProblem):
                self._files[file] = {}
        return self._files[file].get(int(line), ())


def _message(res: dict[str, Any]) -> str:
    """What a failed task said (never its arguments: they could hold secrets)."""
    if res.get("censored"):
        return "(output hidden: the task handles credentials)"
    parts = [str(res.get(k, "")).strip() for k in ("msg", "stdout", "stderr")]
    results = res.get("results")
    for item in results if isinstance(results, list) else []:
        if isinstance(item, dict) and item.get("failed"):
            parts.extend(str(item.get(k, "")).strip() for k in ("msg", "stdout", "stderr"))
    return "\n".join(dict.fromkeys(p for p in parts if p and p != "non-zero return code"))


def picf_event(raw: dict[str, Any], tags: TaskTags) -> AnsibleEvent | None:
    """The picf event for an ansible-runner event; None for the kinds picf neither shows nor records."""
    kind = raw.get("event", "")
    if kind not in _KINDS:
        return None
    data = raw.get("event_data") or {}
    if kind == "playbook_on_play_start":
        return AnsibleEvent(event=kind, play=data.get("play"), hosts=data.get("play_pattern"))
    task_tags = tags.at(data.get("task_path"))
    res: dict[str, Any] = data["res"] if isinstance(data.get("res"), dict) else {}
    failure = kind in FAILURES
    return AnsibleEvent(
        event=kind,
        host=data.get("host"),
        task=data.get("task"),
        role=data.get("role"),
        hosts=data.get("play_pattern"),
        changed=kind == "runner_on_ok" and bool(res.get("changed")),
        message=_message(res) if failure else "",
        ignored=failure and bool(data.get("ignore_errors")),
        phase=phase_of(task_tags),
        bookkeeping=BOOKKEEPING_TAG in task_tags,
    )
