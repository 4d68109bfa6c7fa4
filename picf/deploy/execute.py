"""Run a deploy's plays (playbooks/site.yml's play per batch) through ansible-runner; the only place deploy
starts Ansible."""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner

from picf import yamldoc

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"

EventSink = Callable[[dict[str, Any]], None]


@dataclass
class RunResult:
    """How one ansible-runner run ended, per host (the controller's own checks between batches included)."""

    status: str  # successful | failed | canceled | timeout
    failed: dict[str, str] = field(default_factory=dict)  # host -> what failed (task, message, log tail)
    unreachable: dict[str, str] = field(default_factory=dict)
    ansible_failed: str = ""  # Ansible's own last words when it failed before any host did


WRAPPER = Path(__file__).with_name("ansible_playbook.sh")


def _tied_ansible_playbook(work: Path) -> Path:
    """A bin/ dir whose `ansible-playbook` dies with this process (and takes Ansible's workers with it)."""
    bin_dir = work / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    wrapper = bin_dir / "ansible-playbook"
    shutil.copyfile(WRAPPER, wrapper)
    wrapper.chmod(0o700)
    return bin_dir


def ansible_env(known_hosts: Path, control_dir: Path, connect_timeout: float, work: Path) -> dict[str, str]:
    """Ansible tuned for speed (pipelining, ControlPersist) with host keys checked against picf's pins; its
    ansible-playbook is tied to this process (see ansible_playbook.sh)."""
    venv_bin = Path(sys.executable).parent  # ansible-playbook lives beside this Python, which need not be on PATH
    return {
        "PATH": f"{_tied_ansible_playbook(work)}:{venv_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PICF_PID": str(os.getpid()),
        "PICF_ANSIBLE_PLAYBOOK": str(venv_bin / "ansible-playbook"),
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        # A reused connection to a node that lost its link must fail in seconds, not hang: ServerAlive.
        "ANSIBLE_SSH_ARGS": (
            "-o ControlMaster=auto -o ControlPersist=120s -o PreferredAuthentications=publickey "
            "-o ServerAliveInterval=2 -o ServerAliveCountMax=2"
        ),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_dir),
        "ANSIBLE_SSH_COMMON_ARGS": (
            f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes "
            f"-o ConnectTimeout={max(1, round(connect_timeout))}"
        ),
        "ANSIBLE_TIMEOUT": str(max(1, round(connect_timeout))),
        "ANSIBLE_GATHERING": "explicit",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "1",
        # Raspberry Pi OS ships /usr/bin/python3; discovery could find a user's pyenv shims instead.
        "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
    }


def _become_prompt(password: str | None) -> dict[str, Any]:
    if password is None:
        return {}
    return {"cmdline": "--ask-become-pass", "passwords": {r"^BECOME password.*:\s*?$": password}}


def _summarise(event: dict[str, Any]) -> dict[str, Any] | None:
    """The parts of an Ansible event picf shows and records (never task arguments: they could hold secrets)."""
    kind = event.get("event", "")
    data = event.get("event_data", {})
    if kind == "playbook_on_play_start":
        return {"event": kind, "play": data.get("play"), "hosts": data.get("play_pattern")}
    if kind not in {"runner_on_ok", "runner_on_failed", "runner_on_unreachable", "runner_on_skipped",
                    "playbook_on_task_start", "runner_item_on_failed"}:  # fmt: skip
        return None
    out: dict[str, Any] = {"event": kind, "host": data.get("host"), "task": data.get("task")}
    if kind == "playbook_on_task_start":
        out["role"] = data.get("role")
    res = data.get("res", {}) if isinstance(data.get("res"), dict) else {}
    if kind == "runner_on_ok":
        out["changed"] = bool(res.get("changed"))
    if kind in {"runner_on_failed", "runner_on_unreachable", "runner_item_on_failed"}:
        if res.get("censored"):
            out["message"] = "(output hidden: the task handles credentials)"
        else:
            parts = [str(res.get(k, "")).strip() for k in ("msg", "stdout", "stderr")]
            results = res.get("results")
            for item in results if isinstance(results, list) else []:
                if isinstance(item, dict) and item.get("failed"):
                    parts.extend(str(item.get(k, "")).strip() for k in ("msg", "stdout", "stderr"))
            out["message"] = "\n".join(dict.fromkeys(p for p in parts if p and p != "non-zero return code"))
        out["ignored"] = bool(data.get("ignore_errors"))
    return out


def run_playbook(
    plays: list[dict[str, Any]],
    inventory: dict[str, Any],
    work: Path,
    env: dict[str, str],
    on_event: EventSink,
    cancelled: threading.Event,
    become_password: str | None = None,
    forks: int = 1,
) -> RunResult:
    """Run `plays` (each names its hosts), the roles from playbooks/; stream summarised events to `on_event`.

    sudo's password, when nodes ask for one, reaches Ansible only as the answer to its own `BECOME password:`
    prompt (ansible-runner's pexpect), so it is in no file, no command line and no environment."""
    failed: dict[str, str] = {}
    unreachable: dict[str, str] = {}

    def handler(event: dict[str, Any]) -> bool:
        summary = _summarise(event)
        if summary is None:
            return True
        host = summary.get("host")
        if summary["event"] == "runner_on_failed" and host and not summary.get("ignored"):
            failed[host] = f"{summary['task']}: {summary.get('message', '')}".strip()
        if summary["event"] == "runner_on_unreachable" and host:
            unreachable[host] = f"{summary['task']}: {summary.get('message', 'unreachable')}"
        on_event(summary)
        return True

    project = work / "project"
    project.mkdir(parents=True, exist_ok=True, mode=0o700)
    (project / "deploy.yml").write_text(yamldoc.dump(plays))
    runner = ansible_runner.run(
        private_data_dir=str(work),
        project_dir=str(project),
        playbook="deploy.yml",
        inventory=inventory,
        envvars={**env, "ANSIBLE_ROLES_PATH": str(PLAYBOOKS / "roles")},
        forks=max(1, forks),
        quiet=True,
        event_handler=handler,
        cancel_callback=cancelled.is_set,
        settings={"suppress_ansible_output": True},
        # Keep env/ (sudo's password, the variables) in memory: a file there would outlive a killed deploy.
        suppress_env_files=True,
        **_become_prompt(become_password),
    )
    status = str(runner.status)
    last_words = ""
    if status != "successful" and not failed and not unreachable:
        # Ansible itself failed (a syntax error, a missing binary): its own last words say why.
        tail = (runner.stdout.read() if runner.stdout else "").strip().splitlines()[-5:]
        last_words = "ansible: " + (" / ".join(tail) or status)
    return RunResult(status=status, failed=failed, unreachable=unreachable, ansible_failed=last_words)
