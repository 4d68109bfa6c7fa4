"""Rollback: the request that redeploys the last successful manifest, read from the deployment history."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from picf.deploy.history import Deployment, History
from picf.deploy.prepare import DeployRequest
from picf.errors import UsageError


def rollback_request(request: DeployRequest, history: History | None = None) -> tuple[DeployRequest, Deployment]:
    """`request` with the manifest of the last successful deployment before the latest one (its text as the
    history kept it, with `((placeholders))`); credentials stay in the current manifest's vars store."""
    history = history or History()
    latest = history.deployments(limit=1)
    previous = history.last_successful(latest[0].name, before=latest[0].id) if latest else None
    if previous is None:
        raise UsageError("no earlier successful deployment to roll back to (see `picf deployments`)")
    manifest = Path(f"deployment-{previous.id}.yml")  # names the history's copy in messages
    return dataclasses.replace(
        request, manifest=manifest, manifest_text=previous.manifest_text, creds=request.vars_store
    ), previous
