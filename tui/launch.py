"""The dashboard's one door from picf: `picf dashboard` and `picf demo` open it through `run_dashboard`.

tui imports picf, never the other way round, with this one exception, kept in one place: `picf.cli.dashboard`
imports this module (lazily, when the dashboard is asked for) and nothing else in picf imports tui."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from picf.health.poller import Poller
from picf.models.cluster import Cluster
from picf.progress import Say
from tui.app import DashboardApp
from tui.deploying import PicfDeployer
from tui.operating import PicfOperator


def run_dashboard(
    cluster: Cluster,
    inventory: Path,
    manifest: Path,
    *,
    interval: float = 1.0,
    timeout: float = 5.0,
    become_password: str | None = None,
    operate: bool = True,
    welcome: str | None = None,
    build_patched: Callable[[Say], None] | None = None,
) -> int:
    """The dashboard on this terminal until the person quits; its exit code. `d` deploys `manifest` (when it
    exists), the day-2 keys act on nodes when `operate`, and `p` runs `build_patched` then deploys."""
    options: dict[str, Any] = {"become_password": become_password} if become_password is not None else {}
    has_manifest = manifest.is_file()
    deployer = PicfDeployer(inventory, manifest, options=options) if has_manifest else None
    fixer = (
        PicfDeployer(inventory, manifest, title="patch and redeploy", build_first=build_patched, options=options)
        if build_patched is not None
        else None
    )
    operator = None
    if operate:
        operator = PicfOperator(inventory, manifest if has_manifest else None, become_password, timeout)
    app = DashboardApp(
        Poller(cluster, timeout=timeout),
        interval=interval,
        deployer=deployer,
        fixer=fixer,
        welcome=welcome,
        operator=operator,
    )
    app.run()
    return app.return_code or 0
