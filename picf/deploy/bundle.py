"""The per-node deploy bundle: rendered jobs, monit stanzas, the package versions the node lacks, the node's
new state, and the scripts that put it in place, switch to it and watch it. One tarball and one script per
step keep a deploy to a handful of Ansible round trips per node.

The BOSH agent's job lifecycle, in the order it runs them: the old version's `bin/drain` (and, for a job the
deploy removes, monit stops it) before the switch; the new version's `bin/pre-start` after the switch, before
monit loads it; `bin/post-start` once it runs steadily (watch_jobs.sh); `bin/post-deploy` once every batch
succeeded (site.yml's last play). Each runs through lifecycle.sh."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from picf.deploy.render import RenderedJob
from picf.models.deploy_state import DeployState
from picf.releases.archive import write_tarball

WATCHER = Path(__file__).with_name("watch_jobs.sh")
SWITCH = Path(__file__).with_name("switch.sh")
_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*"  # a BOSH package or job name: no blank, nothing the shell expands
_SWITCH_LINE = re.compile(rf"(package|job) {_NAME} [0-9a-f]+|(changed|removed) {_NAME}")
LIFECYCLE = Path(__file__).resolve().parents[2] / "playbooks" / "roles" / "lifecycle" / "files" / "lifecycle.sh"
DONE_MARKER = "~complete"  # sorts last in the tarball: present only when the bundle unpacked completely


def write_job_files(directory: Path, job: str, files: dict[str, tuple[str, int]]) -> None:
    """A job's rendered files (path under the job dir -> content and mode) written under `directory`; a
    destination outside it is refused."""
    directory.mkdir(parents=True, exist_ok=True)  # a job may have no template
    for path, (content, mode) in files.items():
        target = directory / path
        if not target.resolve().is_relative_to(directory.resolve()):
            raise ValueError(f"job {job}: template destination {path!r} is outside the job")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        target.chmod(mode)


def package_file(package: dict[str, str]) -> str:
    """Where a shipped package version sits in the bundle."""
    return f"packages/{package['name']}-{package['fingerprint']}.tgz"


def switch_list(
    packages: list[dict[str, str]],
    jobs: list[RenderedJob],
    changed: Sequence[str] = (),
    removed: Sequence[str] = (),
) -> str:
    """What switch.sh puts in place and switches to, as the data it reads (switch.list, its format in the
    script): every package version the deploy links, every job, the jobs that change and the ones that go."""
    lines = [f"package {p['name']} {p['fingerprint']}" for p in packages]
    lines += [f"job {job.name} {job.hash}" for job in jobs]
    lines += [f"changed {job}" for job in changed] + [f"removed {job}" for job in removed]
    for line in lines:
        if not _SWITCH_LINE.fullmatch(line):
            raise ValueError(f"switch.list: {line!r} is not a name and a version switch.sh can read")
    return "".join(f"{line}\n" for line in lines)


def write_bundle(
    stage: Path,
    deploy_id: str,
    packages: list[dict[str, str]],
    shipped: list[dict[str, str]],
    jobs: list[RenderedJob],
    state: DeployState,
    changed: Sequence[str] = (),
    removed: Sequence[str] = (),
) -> Path:
    """Write `stage/bundle.tgz` (its files under `<deploy_id>/`) and return its path. `packages` are every
    package version the deploy links; `shipped` those of them the bundle carries (their `blob`); `changed` the
    jobs it adds or updates, `removed` the ones it takes away (for the lifecycle scripts)."""
    root = stage / "bundle" / deploy_id
    for job in jobs:
        write_job_files(root / "jobs" / job.name / job.hash, job.name, job.files)
        monit = root / "monit" / f"{job.name}.monitrc"
        monit.parent.mkdir(parents=True, exist_ok=True)
        monit.write_text(job.monit)
        monit.chmod(0o644)
    for package in shipped:
        copy = root / package_file(package)
        copy.parent.mkdir(parents=True, exist_ok=True)
        _link_or_copy(Path(package["blob"]), copy)
    # Written when the node switches, before its jobs are watched; replaced by state.json once they run.
    for name, verified in (("state.json", True), ("state.unverified.json", False)):
        (root / name).write_text(json.dumps({**state.as_json(), "verified": verified}, indent=2, sort_keys=True))
        (root / name).chmod(0o644)  # secrets in it are hashes; picf reads it as the node's first user
    shutil.copy(SWITCH, root / "switch.sh")
    (root / "switch.list").write_text(switch_list(packages, jobs, changed, removed))
    shutil.copy(WATCHER, root / "watch_jobs.sh")
    shutil.copy(LIFECYCLE, root / "lifecycle.sh")
    (root / "post-start.jobs").write_text("".join(f"{job}\n" for job in changed))
    (root / DONE_MARKER).write_text(deploy_id)
    root.chmod(0o700)
    tarball = stage / "bundle.tgz"
    write_tarball(stage / "bundle", tarball, compresslevel=1)  # the packages in it are compressed already
    shutil.rmtree(stage / "bundle")
    return tarball


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        target.hardlink_to(source)
    except OSError:
        shutil.copyfile(source, target)
