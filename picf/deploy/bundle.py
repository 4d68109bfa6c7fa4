"""The per-node deploy bundle: rendered jobs, monit stanzas, the package versions the node lacks, the node's
new state, and the scripts that put it in place, switch to it and watch it. One tarball and one script per
step keep a deploy to a handful of Ansible round trips per node.

The BOSH agent's job lifecycle, in the order it runs them: the old version's `bin/drain` (and, for a job the
deploy removes, monit stops it) before the switch; the new version's `bin/pre-start` after the switch, before
monit loads it; `bin/post-start` once it runs steadily (watch_jobs.sh); `bin/post-deploy` once every batch
succeeded (site.yml's last play). Each runs through lifecycle.sh."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from picf.deploy.render import RenderedJob
from picf.models.deploy_state import DeployState
from picf.releases.archive import write_tarball

WATCHER = Path(__file__).with_name("watch_jobs.sh")
LIFECYCLE = Path(__file__).resolve().parents[2] / "playbooks" / "roles" / "lifecycle" / "files" / "lifecycle.sh"
DONE_MARKER = "~complete"  # sorts last in the tarball: present only when the bundle unpacked completely
BUNDLES = "/var/vcap/data/picf/bundles"
MONIT_STATUS_URL = "http://127.0.0.1:2822/_status?format=xml"  # picf's monitrc (playbooks/roles/base)


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


def switch_script(
    deploy_id: str,
    packages: list[dict[str, str]],
    jobs: list[RenderedJob],
    changed: Sequence[str] = (),
    removed: Sequence[str] = (),
) -> str:
    """A POSIX sh script that puts packages and jobs in place, builds the deploy's link farm, drains the jobs
    that change or go (and stops the ones that go), switches the node to the new link farm in one rename,
    records the state as not yet watched, runs the changed jobs' pre-start and has monit load the jobs.
    Idempotent; prints what it changed (nothing on a node that already runs this deploy)."""
    bundle = f"{BUNDLES}/{deploy_id}"
    links = f"/var/vcap/data/picf/links/{deploy_id}"
    lines = ["#!/bin/sh", f"# picf: put deploy {deploy_id} in place on this node and switch to it.", "set -e"]
    for p in packages:
        target = f"/var/vcap/data/packages/{p['name']}/{p['fingerprint']}"
        shipped = f"{bundle}/{package_file(p)}"
        lines += [
            f"if [ ! -d {target} ]; then",
            f"  if [ ! -f {shipped} ]; then",
            f'    echo "package {p["name"]}/{p["fingerprint"]} is neither on this node nor in the bundle; '
            f'deploy again (picf ships what a node lacks)" >&2',
            "    exit 1",
            "  fi",
            f"  rm -rf {target}.partial && mkdir -p {target}.partial",
            f"  tar -xzf {shipped} -C {target}.partial && mv -T {target}.partial {target}",
            f'  echo "package {p["name"]}"',
            "fi",
        ]
    for job in jobs:
        target = f"/var/vcap/data/jobs/{job.name}/{job.hash}"
        lines.append(
            f"[ -d {target} ] || {{ mkdir -p /var/vcap/data/jobs/{job.name}; rm -rf {target}.partial; "
            f"cp -a {bundle}/jobs/{job.name}/{job.hash} {target}.partial; mv -T {target}.partial {target}; "
            f'echo "job {job.name}"; }}'
        )
    lines.append(f"if [ ! -e {links}/.complete ]; then")
    lines.append(f"  rm -rf {links}.partial {links}")
    lines.append(f"  mkdir -p {links}.partial/packages {links}.partial/jobs {links}.partial/monit")
    for p in packages:
        lines.append(
            f"  ln -s /var/vcap/data/packages/{p['name']}/{p['fingerprint']} {links}.partial/packages/{p['name']}"
        )
    for job in jobs:
        lines.append(f"  ln -s /var/vcap/data/jobs/{job.name}/{job.hash} {links}.partial/jobs/{job.name}")
        # Readable by the node's first user: picf's health probe finds each job's pid file there.
        lines.append(f"  install -m 0644 {bundle}/monit/{job.name}.monitrc {links}.partial/monit/{job.name}.monitrc")
    lines.append(f"  touch {links}.partial/.complete")
    lines.append(f"  mv -T {links}.partial {links}")
    lines.append(f'  echo "links {deploy_id}"')
    lines.append("fi")
    # The BOSH agent's order: drain, then stop, what changes or goes (the old version's scripts); switch in one
    # rename; record the new state as not yet watched (the watch replaces it once the jobs run steadily);
    # pre-start the new version; then monit loads it. A rerun of a deploy whose pre-start failed switches
    # nothing more but runs pre-start again: its own mark, not the switch, says it succeeded.
    # `monit reload` only signals the daemon, which reloads after its current cycle; until then it still
    # answers as before, and drops a restart asked of it in between. So, as the BOSH agent does, wait for
    # monit's incarnation (the second of its last load) to change; and reload in a later second than that one.
    stopping = [*changed, *removed]
    lines += [
        "incarnation() {",
        f"  {{ wget -q -T 2 -O - '{MONIT_STATUS_URL}' 2>/dev/null ||",
        f"    curl -sf -m 2 '{MONIT_STATUS_URL}' 2>/dev/null; }} |",
        "    sed -n 's:.*<incarnation>\\([0-9]*\\)</incarnation>.*:\\1:p'",
        "}",
        "stop_job() {  # monit stops the job's process; killed if it is still there 30 s later",
        "  [ -e /var/vcap/monit/job/$1.monitrc ] || return 0",
        "  pidfile=$(awk '/with pidfile/ {print $3; exit}' /var/vcap/monit/job/$1.monitrc 2>/dev/null)",
        '  pid=$(cat "${pidfile:-/nonexistent}" 2>/dev/null || true)',
        '  monit stop "$1" >/dev/null 2>&1 || true',
        '  n=0; while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $n -lt 150 ]; do',
        "    sleep 0.2; n=$((n + 1))",
        "  done",
        '  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi',
        '  echo "stopped $1"',
        "}",
        "was=",
        f'if [ "$(readlink /var/vcap/data/picf/current || true)" != "{links}" ]; then',
    ]
    draining = [f"{job}=job_changed" for job in changed] + [f"{job}=job_shutdown" for job in removed]
    if draining:
        lines.append(f"  sh {bundle}/lifecycle.sh drain {' '.join(draining)}")
    lines += [f"  stop_job {job}" for job in stopping]
    lines += [
        f"  ln -sfn {links} /var/vcap/data/picf/current.next",
        "  mv -T /var/vcap/data/picf/current.next /var/vcap/data/picf/current",
        f"  install -m 0644 {bundle}/state.unverified.json /var/vcap/picf/state.json.partial",
        "  mv -f /var/vcap/picf/state.json.partial /var/vcap/picf/state.json",
        f'  echo "switched to {deploy_id}"',
        "fi",
        f"if [ ! -e {bundle}/.loaded ]; then",
    ]
    if changed:
        lines.append(f"  sh {bundle}/lifecycle.sh pre-start {' '.join(changed)}")
    lines += [
        "  was=$(incarnation)",
        '  while [ -n "$was" ] && [ "$(date +%s)" -le "$was" ]; do sleep 0.2; done',
        "  monit reload",
        '  echo "monit reloaded"',
        "fi",
        "tries=0",
        "now=$(incarnation)",
        'until [ -n "$now" ] && [ "$now" != "$was" ]; do',
        "  tries=$((tries + 1))",
        '  [ "$tries" -lt 150 ] || { echo "monit has not reloaded 30 s after \\`monit reload\\`" >&2; exit 1; }',
        "  sleep 0.2",
        "  now=$(incarnation)",
        "done",
        f"touch {bundle}/.loaded",
    ]
    return "\n".join(lines) + "\n"


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
    (root / "switch.sh").write_text(switch_script(deploy_id, packages, jobs, list(changed), list(removed)))
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
