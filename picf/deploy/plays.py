"""A rollout as one Ansible playbook: playbooks/site.yml's play once per batch, canaries first.

Between batches a play on the controller checks that every node of the batches before succeeded, so the run
stops after a batch that failed on any node (Ansible itself would go on with the next play). `picf deploy`
runs these plays in one ansible-playbook run (Ansible starts once, sudo's password is asked once); `--export`
writes the same plays for plain ansible-playbook.
"""

from __future__ import annotations

import copy
from typing import Any

from picf import yamldoc
from picf.deploy.ansible_events import BOOKKEEPING_TAG, phase_tag
from picf.deploy.plan import Rollout
from picf.deploy.playbook_run import PLAYBOOKS

SITE = PLAYBOOKS / "site.yml"
PREPARE_TAG = phase_tag("prepare node")  # site.yml's step that runs the base role on a node not yet prepared
_ROLLOUTS_OWN = [BOOKKEEPING_TAG, phase_tag("between batches")]  # the tags of the rollout's own tasks


def batch_group(number: int) -> str:
    """The inventory group of batch `number` (0-based)."""
    return f"picf_batch_{number + 1}"


def batch_of_play(hosts: str) -> int | None:
    """The batch (0-based) a play of `rollout_plays` deploys, from its hosts pattern; None for a check play."""
    prefix = "picf_batch_"
    if hosts.startswith(prefix) and hosts[len(prefix) :].isdigit():
        return int(hosts[len(prefix) :]) - 1
    return None


def batch_groups(rollout: Rollout) -> dict[str, Any]:
    """The inventory's `children`: one group per batch."""
    return {batch_group(i): {"hosts": {name: None for name in group}} for i, group in enumerate(rollout.groups)}


def prepared_nodes(inventory: dict[str, Any]) -> frozenset[str]:
    """The nodes an inventory of `ansible_inputs` marks as prepared (they skip the base role)."""
    hosts: dict[str, dict[str, Any]] = inventory["all"]["hosts"]
    return frozenset(name for name, host in hosts.items() if host.get("picf_node_prepared"))


def site_play() -> dict[str, Any]:
    """The one play of playbooks/site.yml."""
    plays = yamldoc.to_plain(yamldoc.load(SITE.read_text()))
    if not isinstance(plays, list) or len(plays) != 1 or not isinstance(plays[0], dict):
        raise ValueError(f"{SITE}: expected exactly one play")
    play: dict[str, Any] = plays[0]
    return play


def rollout_plays(
    rollout: Rollout, watch_vars: dict[bool, dict[str, Any]], prepared: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """site.yml's play for each batch (with its watch times), a check before each batch after the first.

    A batch whose nodes are all `prepared` gets the play without its step tagged as preparing the node (Ansible
    would still spend a task deciding to skip it on every node)."""
    template = site_play()
    plays: list[dict[str, Any]] = []
    for number, group in enumerate(rollout.groups):
        canary = rollout.is_canary(number)
        if number:
            plays.append(_check(number))
        named = ", ".join(f"{n} {rollout.kind_of.get(n, '?')}" if canary else n for n in group)
        play = copy.deepcopy(template)
        play["name"] = f"{template['name']}: " + (f"canaries ({named})" if canary else f"batch {number + 1} ({named})")
        play["hosts"] = batch_group(number)
        play["vars"] = {**play.get("vars", {}), **watch_vars[canary]}
        if set(group) <= prepared:
            play["tasks"] = [t for t in play.get("tasks", []) if PREPARE_TAG not in t.get("tags", ())]
        mark = {"name": "Mark this node's batch done", "tags": list(_ROLLOUTS_OWN),
                "ansible.builtin.set_fact": {"picf_batch_ok": True}}  # fmt: skip
        play["post_tasks"] = [*play.get("post_tasks", []), mark]
        plays.append(play)
    if rollout.groups:
        plays += [_check(len(rollout.groups), "the post-deploy scripts"), post_deploy_play()]
    return plays


POST_DEPLOY_PLAY = "Run post-deploy scripts"
POST_DEPLOY_GROUP = "picf_post_deploy"


def post_deploy_play() -> dict[str, Any]:
    """Once every batch succeeded: each node's jobs' bin/post-deploy (the BOSH agent's last step)."""
    return {
        "name": POST_DEPLOY_PLAY,
        "hosts": POST_DEPLOY_GROUP,
        "gather_facts": False,
        "become": True,
        "tasks": [{"name": "Post-deploy", "ansible.builtin.include_role": {"name": "lifecycle",
                                                                          "tasks_from": "post_deploy"}}],
    }  # fmt: skip


def inventory_groups(rollout: Rollout, hosts: dict[str, Any]) -> dict[str, Any]:
    """The inventory's `children`: one group per batch, and the nodes that run post-deploy scripts."""
    post = {name: None for name, host in hosts.items() if host.get("picf_post_deploy")}
    return {**batch_groups(rollout), POST_DEPLOY_GROUP: {"hosts": post}}


def _check(number: int, before: str | None = None) -> dict[str, Any]:
    earlier = [batch_group(i) for i in range(number)]
    return {
        "name": f"Stop unless every node of the batches before {before or f'batch {number + 1}'} succeeded",
        "hosts": "localhost",
        "gather_facts": False,
        "become": False,
        "tasks": [{
            "name": "Check the earlier batches",
            "tags": list(_ROLLOUTS_OWN),
            "ansible.builtin.assert": {
                "that": [f"groups[{g!r}] | map('extract', hostvars) | selectattr('picf_batch_ok', 'defined') "
                         f"| list | length == groups[{g!r}] | length" for g in earlier],
                "fail_msg": "an earlier batch failed on a node; nodes not yet updated were left as they were",
                "quiet": True,
            },
        }],
    }  # fmt: skip
