"""The pre-flight: before a deploy touches a node, each job it changes runs in a throwaway emulated node on the
controller, once per architecture, and a job that does not run steadily there stops the deploy.

The 2018 port learned on the Pis that the metron agent crash-looped on 32-bit ARM; picf runs the same ARM
binaries under qemu-user on the controller (picf/sim/emulated.py), so that lesson costs the controller half a
minute instead of a Pi's deploy. For each arch the deploy changes, the job is tried as rendered for the first
node of that arch that changes it (in the rollout's order: the canary's rendering where the canary changes it),
with that node's compiled packages, watched for the canary watch time with the deploy's own rule. A job that
fails there is named with its arch, the last lines of its log, and the crash-loop detector's diagnosis.

A job needing what an emulated node cannot give (a device, a kernel feature, a peer to talk to before it
starts) is marked `preflight: false` on its manifest entry and skipped with a line saying so.
"""

from __future__ import annotations

import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from picf.deploy.prepare import DeployPlan
from picf.deploy.render import RenderedJob
from picf.health.detector import last_failure
from picf.health.diagnosis import diagnose_job
from picf.models.health import Diagnosis, steady_seconds
from picf.models.manifest import parse_watch_time
from picf.progress import Say, quiet
from picf.releases.store import Store
from picf.sim.emulated import EmulatedNodeFailed, JobFiles, PackageBlob, run_jobs


@dataclass(frozen=True)
class PreflightCase:
    """The jobs one emulated node runs: as rendered for `node`, of architecture `arch`."""

    arch: str
    node: str
    address: str
    jobs: tuple[RenderedJob, ...]
    packages: tuple[PackageBlob, ...]


@dataclass(frozen=True)
class JobVerdict:
    """How one job did in the pre-flight."""

    arch: str
    node: str
    job: str
    ok: bool
    watch: tuple[str, ...] = ()  # the watch's words about it
    log: tuple[str, ...] = ()  # the last lines of its logs
    diagnosis: Diagnosis | None = None
    last_exit: str | None = None  # the line that says how it ended, as `picf status` shows it


@dataclass
class PreflightResult:
    """The pre-flight's outcome: what was tried, what was skipped and why, how long it took."""

    verdicts: list[JobVerdict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    broken: str | None = None  # an emulated node that could not start: the deploy does not go on silently

    @property
    def ok(self) -> bool:
        return self.broken is None and all(v.ok for v in self.verdicts)

    def lines(self) -> list[str]:
        """The failures as a person reads them: job, arch, log, diagnosis and fix."""
        out: list[str] = []
        if self.broken is not None:
            out.append(f"pre-flight: {self.broken}; run `picf preflight` again, or deploy with --no-preflight")
        for v in self.verdicts:
            if v.ok:
                continue
            out.append(f"pre-flight: {v.job} does not run on {v.arch} (emulated, as rendered for {v.node}); "
                       "no node was touched")  # fmt: skip
            out += [f"  {line}" for line in v.watch if not line.startswith("--- last lines")][:3]
            if v.last_exit is not None:
                out.append(f"  last exit: {v.last_exit}")
            if v.log:
                out.append("  last lines of its log:")
                out += [f"    {line}" for line in v.log[-12:]]
            if v.diagnosis is not None:
                patch = f" -> patch {v.diagnosis.patch}" if v.diagnosis.patch else ""
                out.append(f"  diagnosis: {v.diagnosis.cause}{patch}")
                out += [f"    fix: {step}" for step in v.diagnosis.fix]
        return out

    def summary(self) -> str:
        if self.broken is not None:
            return f"pre-flight could not run: {self.broken}"
        failed = [f"{v.job} on {v.arch}" for v in self.verdicts if not v.ok]
        if failed:
            return f"pre-flight failed: {', '.join(failed)} (emulated); no node was touched"
        tried = ", ".join(sorted({f"{v.job} on {v.arch}" for v in self.verdicts})) or "nothing to try"
        return f"pre-flight: {tried} ran steadily in {self.seconds:.1f} s"


def plan_cases(plan: DeployPlan, every_job: bool = False) -> tuple[list[PreflightCase], list[str]]:
    """Which jobs each emulated node runs (the ones the deploy changes; with `every_job`, all it runs), and the
    lines for the jobs skipped."""
    manifest = plan.manifest
    marked = {job.name for group in manifest.roles.values() for job in group.jobs if not job.preflight}
    store = Store()
    order = [n.name for n in plan.scope] if every_job else [n for group in plan.rollout.groups for n in group]
    covered: set[tuple[str, str]] = set()
    cases: list[PreflightCase] = []
    skipped: list[str] = []
    for name in order:
        node_plan = plan.node_plan(name)
        node = plan.node(name)
        arch = str(node.arch)
        changed = (
            {j.name for j in plan.rendered[name]}
            if every_job
            else {j.job for j in node_plan.jobs if j.action in ("add", "update")}
        )
        jobs = []
        for job in plan.rendered[name]:
            if job.name not in changed or not job.processes or (arch, job.name) in covered:
                continue
            covered.add((arch, job.name))
            if job.name in marked:
                skipped.append(f"pre-flight: skipped {job.name} on {arch}: the manifest marks it `preflight: false`")
                continue
            jobs.append(job)
        if not jobs:
            continue
        wanted = plan.wanted[name].packages
        packages = tuple(PackageBlob(p, str(v.fingerprint), store.blob(str(v.sha256)))
                         for p, v in sorted(wanted.items()))  # fmt: skip
        report = plan.reports.get(name)
        address = report.ip if report is not None and report.ip else node.address
        cases.append(PreflightCase(arch, name, address, tuple(jobs), packages))
    return cases, skipped


def run_preflight(plan: DeployPlan, scratch: Path, say: Say = quiet, every_job: bool = False) -> PreflightResult:
    """Try every changed job (with `every_job`, every job) on an emulated node of its arch, all at once; the
    emulated nodes work in directories under `scratch` (the deploy's work directory)."""
    started = time.monotonic()
    cases, skipped = plan_cases(plan, every_job)
    result = PreflightResult(skipped=skipped)
    for line in skipped:
        say(line)
    if not cases:
        result.seconds = time.monotonic() - started
        return result
    manifest = plan.manifest
    watch = parse_watch_time(manifest.update.canary_watch_time)
    stable = steady_seconds(manifest.monit_interval)
    named = "; ".join(f"{', '.join(j.name for j in c.jobs)} on {c.arch}" for c in cases)
    say(f"pre-flight: starting {named} on emulated nodes (watch {watch[0]}-{watch[1]} ms) ...")

    def one(case: PreflightCase) -> list[JobVerdict]:
        with tempfile.TemporaryDirectory(prefix="picf-preflight-", dir=scratch) as work:
            files = [JobFiles(j.name, j.files, j.monit) for j in case.jobs]
            run = run_jobs(Path(work), case.arch, case.address, files, list(case.packages), watch, stable,
                           manifest.monit_interval)  # fmt: skip
        verdicts = []
        for job in case.jobs:
            mine = [line for line in run.output if re.match(rf"(pre-start of )?{re.escape(job.name)}\b", line)]
            ok = any(line.startswith(f"{job.name} running") for line in run.output) or (run.ok and not mine)
            log = run.logs.get(job.name, [])
            monit_words = [line for line in run.monit_log if f"'{job.name}'" in line]
            diagnosis = None if ok else diagnose_job([*log, *monit_words], case.arch, job.name, job.release)
            last = None if ok else last_failure(log) or (diagnosis.evidence if diagnosis else None)
            verdicts.append(JobVerdict(case.arch, case.node, job.name, ok, tuple(mine), tuple(log), diagnosis, last))
        return verdicts

    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        futures = [pool.submit(one, case) for case in cases]
        for future in futures:
            try:
                result.verdicts += future.result()
            except EmulatedNodeFailed as exc:
                result.broken = str(exc)
    result.seconds = time.monotonic() - started
    return result
