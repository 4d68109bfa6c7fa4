"""Run a deploy's plays (playbooks/site.yml's play per batch) through ansible-runner: the only place deploy
starts Ansible. Its events reach the caller as picf's (`ansible_events`)."""

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
from picf.deploy.ansible_events import TaskTags, picf_event
from picf.models.deploy_event import AnsibleEvent

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"

OnAnsibleEvent = Callable[[AnsibleEvent], None]


@dataclass
class RunResult:
    """How one ansible-runner run ended, per host (the controller's own checks between batches included)."""

    status: str  # successful | failed | canceled | timeout
    failed: dict[str, AnsibleEvent] = field(default_factory=dict)  # host -> its failure that was not ignored
    unreachable: dict[str, AnsibleEvent] = field(default_factory=dict)
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


def run_playbook(
    plays: list[dict[str, Any]],
    inventory: dict[str, Any],
    work: Path,
    env: dict[str, str],
    on_event: OnAnsibleEvent,
    cancelled: threading.Event,
    become_password: str | None = None,
    forks: int = 1,
) -> RunResult:
    """Run `plays` (each names its hosts), the roles from playbooks/; stream picf's events to `on_event`.

    sudo's password, when nodes ask for one, reaches Ansible only as the answer to its own `BECOME password:`
    prompt (ansible-runner's pexpect), so it is in no file, no command line and no environment."""
    failed: dict[str, AnsibleEvent] = {}
    unreachable: dict[str, AnsibleEvent] = {}
    tags = TaskTags()

    def handler(raw: dict[str, Any]) -> bool:
        event = picf_event(raw, tags)
        if event is None:
            return True
        if event.event == "runner_on_failed" and event.host and not event.ignored:
            failed[event.host] = event
        if event.event == "runner_on_unreachable" and event.host:
            unreachable[event.host] = event
        on_event(event)
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
