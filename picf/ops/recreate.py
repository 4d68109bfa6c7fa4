"""`picf recreate NODE`: rebuild what picf put on a node from the store and the last successful deployment.

BOSH recreates a VM from its stemcell; a Pi's card cannot be re-flashed from here, so picf does the rest:
the node's jobs are stopped, picf's packages, jobs, link farms, bundles and state are cleared (its logs and
/var/vcap/store kept), and the last successful deployment's manifest is deployed to it as to a fresh node
(the base preparation again, every package shipped, every job started and watched). The host key is checked
first: a re-flashed card has a new one, and picf says so instead of trusting it.
"""

from __future__ import annotations

from pathlib import Path

from picf import transport
from picf.deploy import vars as varstore
from picf.deploy.history import Deployment, History
from picf.deploy.prepare import DeployRequest
from picf.errors import Unreachable, UsageError
from picf.hostkeys import mismatch
from picf.models.cluster import Cluster
from picf.models.node import Node


class NewHostKey(Unreachable):
    """The node presents another host key than the pinned one: a re-flashed card, or an impostor."""


def check_host_key(cluster: Cluster, node: Node, timeout: float) -> None:
    """The key the node presents is the pinned one; NewHostKey (saying how to pin a re-flashed card's) if not."""
    if node.host_key is None:
        raise UsageError(f"{node.name}: no host key pinned; run `picf inventory pin {node.name}` first")
    seen, _ = transport.fetch_host_key(node.address, cluster.ssh.port, timeout)
    if seen != node.host_key:
        raise NewHostKey(
            f"{node.name} ({node.address}): {mismatch(seen, node.host_key, node.name)}; then recreate again"
        )


def last_deployment(inventory: Path, history: History | None = None) -> Deployment:
    """The last successful deployment of the cluster whose inventory is `inventory`."""
    where = str(inventory.resolve())
    for deployment in (history or History()).deployments(limit=1000):
        if deployment.inventory == where and deployment.result == "succeeded":
            return deployment
    raise UsageError(f"{inventory}: no successful deployment of this cluster to recreate from (see `picf "
                     "deployments`); deploy first (picf deploy)")  # fmt: skip


def recreate_request(
    inventory: Path, manifest: Path, node: Node, password: str | None, history: History | None = None
) -> tuple[DeployRequest, Deployment]:
    """The deploy that recreates `node`: the last successful deployment's manifest (as the history kept it,
    credentials from the vars store beside `manifest`), on that node only, cleared first."""
    deployment = last_deployment(inventory, history)
    request = DeployRequest(
        inventory=inventory,
        manifest=Path(f"deployment-{deployment.id}.yml"),  # names the history's copy in messages
        manifest_text=deployment.manifest_text,
        creds=varstore.store_beside(manifest),
        only=node.name,
        become_password=password,
        recreate=True,
    )
    return request, deployment
