"""`picf deploy --export DIR`: a deploy's plan as a directory that plain `ansible-playbook` runs.

    ansible-playbook -i DIR/hosts.yml DIR/site.yml    (add -K when sudo on the nodes asks for a password)

does what `picf deploy` would: the same roles, variables, bundles and pinned host keys, the canary batch
first (one play per batch, each with its watch times), and no batch after one that failed on any node. The
directory holds rendered configuration (credentials), so it is private to its owner (0700); sudo's password
is never written: Ansible asks for it with -K. A second run changes nothing (`changed=0` on every task).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from picf import yamldoc
from picf.atomic import write_atomic
from picf.deploy.playbook_run import PLAYBOOKS
from picf.deploy.plays import inventory_groups, rollout_plays
from picf.deploy.prepare import DeployPlan
from picf.deploy.rollout import ansible_inputs
from picf.errors import UsageError


@dataclass(frozen=True)
class Exported:
    """Where the export went and how to run it."""

    directory: Path
    hosts: Path
    playbook: Path
    asks_become_password: bool


def export_deploy(plan: DeployPlan, directory: Path) -> Exported:
    """Write the deploy `plan` decided into `directory` (new or empty): hosts.yml, site.yml, ansible.cfg, roles/,
    the bundles, known_hosts. Planned as an export (`DeployRequest.export`), each bundle carries every package
    version its node links and every node runs the base role."""
    directory = directory.expanduser().resolve()
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise UsageError(f"{directory}: exists and is not an empty directory; choose a new one")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory.chmod(0o700)
    inputs = ansible_inputs(plan, directory)
    hosts: dict[str, Any] = inputs.inventory["all"]["hosts"]
    shutil.copytree(PLAYBOOKS / "roles", directory / "roles", ignore=shutil.ignore_patterns("__pycache__"))
    connection = dict(inputs.inventory["all"]["vars"])
    ssh_args = f"-o UserKnownHostsFile={inputs.known_hosts} -o StrictHostKeyChecking=yes"
    connection.update(
        {
            "ansible_python_interpreter": "/usr/bin/python3",  # Raspberry Pi OS's, as picf's own runs use
            "ansible_ssh_pipelining": True,
            "ansible_ssh_common_args": f"{ssh_args} -o ServerAliveInterval=2 -o ServerAliveCountMax=2",
        }
    )
    inventory = {"all": {"vars": connection, "hosts": hosts, "children": inventory_groups(plan.rollout, hosts)}}
    _write(directory / "hosts.yml", _header("the nodes the deploy changes or runs post-deploy on, and picf's variables")
           + yamldoc.dump(inventory))  # fmt: skip
    _write(directory / "site.yml", _header("the rollout: canaries, then batches")
           + yamldoc.dump(rollout_plays(plan.rollout, inputs.watch_vars)))  # fmt: skip
    _write(directory / "ansible.cfg", _ANSIBLE_CFG)
    for path in directory.rglob("*"):
        if not path.is_symlink():
            path.chmod((path.stat().st_mode & 0o700) | (0o700 if path.is_dir() else 0o600))
    asks = any(r.sudo == "password" for r in plan.reports.values() if r.node in hosts)
    return Exported(directory, directory / "hosts.yml", directory / "site.yml", asks)


def _header(what: str) -> str:
    return f"---\n# Written by `picf deploy --export`: {what}.\n"


def _write(path: Path, text: str) -> None:
    write_atomic(path, text.encode(), mode=0o600, backup=False)


# Read when ansible-playbook runs from inside the directory; hosts.yml carries what matters from anywhere else.
_ANSIBLE_CFG = """# Written by `picf deploy --export`: picf's Ansible settings.
[defaults]
inventory = hosts.yml
host_key_checking = True
gathering = explicit
retry_files_enabled = False
interpreter_python = /usr/bin/python3

[ssh_connection]
pipelining = True
ssh_args = -o ControlMaster=auto -o ControlPersist=120s -o PreferredAuthentications=publickey
"""
