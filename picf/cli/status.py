"""`picf status`: vitals, jobs, crash loops and their diagnosis, once or continuously."""

from __future__ import annotations

import json as jsonlib
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from picf import transport
from picf.cli import longrun
from picf.cli.options import inventory_option, inventory_path
from picf.cli.output import fail, out, print_json
from picf.health import view
from picf.health.poller import Poller
from picf.health.problems import problems_of
from picf.health.rounds import every_round
from picf.inventory import read_inventory
from picf.models.cluster import Cluster
from picf.models.health import ClusterHealth, JobState, NodeState

_STATE_STYLE = {
    JobState.RUNNING: "green",
    JobState.STARTING: "cyan",
    JobState.FAILING: "red",
    JobState.CRASH_LOOP: "bold red",
    JobState.STOPPED: "yellow",
    JobState.UNKNOWN: "dim",
}


def health_json(health: ClusterHealth) -> dict[str, Any]:
    """The round as JSON: the model plus the derived numbers and the exit code."""
    data = health.model_dump(mode="json", exclude={"nodes": {"__all__": {"vitals": {"cpu_times"}}}})
    s = view.summarize(health)
    data["summary"] = {
        "nodes_up": s.nodes_up,
        "nodes_total": s.nodes_total,
        "jobs_running": s.jobs_running,
        "jobs_total": s.jobs_total,
        "crash_loops": s.crash_loops,
        "failing": s.failing,
        "hottest": s.hottest.name if s.hottest else None,
        "throttled": s.throttled,
        "under_voltage": s.under_voltage,
    }
    for node, raw in zip(health.nodes, data["nodes"], strict=True):
        if node.vitals is not None:
            raw["vitals"]["mem_percent"] = node.vitals.mem_percent
            if node.vitals.throttle is not None:
                raw["vitals"]["throttle"]["now"] = node.vitals.throttle.now
                raw["vitals"]["throttle"]["since_boot"] = node.vitals.throttle.since_boot
    data["exit_code"] = health.exit_code
    return data


def render(health: ClusterHealth) -> RenderableType:
    """The problems first (in `problems_of` order), then the nodes (like `bosh vms --vitals`), then the jobs."""
    parts: list[RenderableType] = [Text(view.summary_line(health), style="bold")]
    problems = Text()
    for problem in problems_of(health):
        node, job = problem.node, problem.job
        if job is not None:
            problems.append(f"\n{problem.kind.value.upper()} ", style=_STATE_STYLE[job.state])
            problems.append(view.loop_line(node, job))
            if job.last_exit:
                problems.append(f"\n    last exit: {job.last_exit}", style="dim")
            if job.diagnosis:
                for step in job.diagnosis.fix:
                    problems.append(f"\n    fix: {step}")
        elif problem.warning is not None:
            problems.append("\nWARNING ", style="yellow")
            problems.append(f"{node.name}: {problem.warning.cause}")
            for step in problem.warning.fix:
                problems.append(f"\n    fix: {step}")
        else:
            problems.append("\nUNREACHABLE ", style="red")
            problems.append(f"{node.name}: {node.error} ({view.last_seen(node, health.at)})")
    if problems.plain:
        parts.append(problems)
    nodes = Table(title="nodes", title_justify="left", show_edge=False)
    names = max((len(n.name) for n in health.nodes), default=4)
    keep = {"Node": names, "State": 11, "Temp": 6, "Throttle": 8, "Jobs": 4}  # never squeezed away
    for column in ("Node", "State", "Model", "Arch", "Uptime", "Load (1m, 5m, 15m)", "CPU", "Memory", "Swap",
                   "/", "/var/vcap/data", "Temp", "Throttle", "Jobs"):  # fmt: skip
        nodes.add_column(column, no_wrap=True, min_width=keep.get(column))
    for node in health.nodes:
        v = node.vitals
        nodes.add_row(
            node.name,
            Text(view.node_state(node), style="green" if node.state is NodeState.UP else "red"),
            view.short_model(node),
            node.arch or "-",
            view.duration(v.uptime_s if v else None),
            view.load(node),
            view.percent(v.cpu_percent if v else None),
            view.percent(v.mem_percent if v else None),
            view.percent(v.swap_percent if v else None),
            view.disk(node, "/"),
            view.disk(node, "/var/vcap/data"),
            view.temperature(node),
            view.throttle_flags(node),
            view.jobs_ok(node),
            style="dim" if node.state is not NodeState.UP else None,
        )
    parts.append(nodes)
    jobs = Table(title="jobs", title_justify="left", show_edge=False)
    for column in ("Node", "Job", "State", "Detail", "PID", "Restarts", "Release"):
        jobs.add_column(column, no_wrap=True, min_width={"Node": names, "Job": 6, "State": 10}.get(column))
    for node in health.nodes:
        for job in node.jobs:
            jobs.add_row(
                node.name,
                job.job,
                Text(job.state.value, style=_STATE_STYLE[job.state]),
                job.detail,
                str(job.pid) if job.pid else "-",
                str(job.restarts),
                job.release or "-",
            )
    if jobs.row_count:
        parts.append(jobs)
    return Group(*parts)


def load_cluster(inventory: Path, only: list[str]) -> Cluster:
    """The inventory's cluster with nodes, every name in `only` known; a UsageError otherwise."""
    cluster = read_inventory(inventory).cluster
    unknown = [n for n in only if cluster.node(n) is None]
    if unknown:
        fail(f"{inventory}: no node named {', '.join(unknown)}; see `picf inventory show`", 2)
    if not cluster.nodes:
        fail(f"{inventory}: no nodes yet; add some with `picf discover --write`", 2)
    return cluster


def status_command(
    inventory: Path | None = inventory_option(),
    node: list[str] = typer.Option([], "--node", "-n", help="Only this node (repeatable)."),
    watch: bool = typer.Option(False, "--watch", "-w", help="Keep polling and redraw until Ctrl-C."),
    interval: float = typer.Option(2.0, "--interval", min=0.2, help="Seconds between polls with --watch."),
    timeout: float = typer.Option(5.0, "--timeout", min=0.5, help="Seconds a node has to answer."),
    json: bool = typer.Option(False, "--json", help="JSON on stdout (one object per poll with --watch)."),
) -> None:
    """Node vitals, job health and crash loops with their diagnosis. Exit 0 healthy, 1 crash loop or failing
    job, 3 a node unreachable."""
    if watch:
        longrun.without_thread_caches()
    cluster = load_cluster(inventory_path(inventory), node)
    transport.load_identity(cluster.ssh)  # a locked or missing key: one line now, not one per node
    nodes = [n for n in cluster.nodes if not node or n.name in node]
    health: ClusterHealth
    with Poller(cluster, nodes, timeout=timeout) as poller:
        if not watch:
            health = poller.poll()
            if json:
                print_json(health_json(health))
            else:
                out.print(render(health))
            raise typer.Exit(health.exit_code)
        health = poller.health()
        try:
            if json:
                for health in every_round(poller, interval):
                    sys.stdout.write(jsonlib.dumps(health_json(health)) + "\n")
                    sys.stdout.flush()
            with Live(render(health), console=out, auto_refresh=False, screen=False) as live:
                for health in every_round(poller, interval):
                    live.update(render(health), refresh=True)
        except KeyboardInterrupt:
            pass
    raise typer.Exit(health.exit_code)
