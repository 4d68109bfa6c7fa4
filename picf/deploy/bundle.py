"""The per-node deploy bundle: rendered jobs, monit stanzas, the node's new state, and the scripts that
activate it. One tarball per node keeps the number of Ansible round trips small."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from picf.deploy.render import RenderedJob
from picf.releases.builder import write_tarball

WATCHER = Path(__file__).with_name("watch_job.sh")
DONE_MARKER = "~complete"  # sorts last in the tarball: present only when the bundle unpacked completely


def activate_script(deploy_id: str, packages: list[dict[str, str]], jobs: list[RenderedJob]) -> str:
    """A POSIX sh script that puts packages and jobs in place and builds the deploy's link farm (idempotent;
    prints what it changed). Switching to the deploy is a separate, single rename."""
    bundle = f"/var/vcap/data/picf/bundles/{deploy_id}"
    links = f"/var/vcap/data/picf/links/{deploy_id}"
    lines = [
        "#!/bin/sh",
        f"# picf: put deploy {deploy_id} in place on this node.",
        "set -e",
    ]
    for p in packages:
        target = f"/var/vcap/data/packages/{p['name']}/{p['fingerprint']}"
        lines.append(f'[ -d {target} ] || {{ mv -T {target}.partial {target}; echo "package {p["name"]}"; }}')
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
    return "\n".join(lines) + "\n"


def write_bundle(
    stage: Path, deploy_id: str, packages: list[dict[str, str]], jobs: list[RenderedJob], state: dict[str, Any]
) -> Path:
    """Write `stage/bundle.tgz` (its files under `<deploy_id>/`) and return its path."""
    root = stage / "bundle" / deploy_id
    for job in jobs:
        for path, (content, mode) in job.files.items():
            target = root / "jobs" / job.name / job.hash / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
            target.chmod(mode)
        monit = root / "monit" / f"{job.name}.monitrc"
        monit.parent.mkdir(parents=True, exist_ok=True)
        monit.write_text(job.monit)
        monit.chmod(0o644)
    # Written when the node switches, before its jobs are watched; replaced by state.json once they run.
    for name, verified in (("state.json", True), ("state.unverified.json", False)):
        (root / name).write_text(json.dumps({**state, "verified": verified}, indent=2, sort_keys=True))
        (root / name).chmod(0o644)  # secrets in it are hashes; picf reads it as the node's first user
    (root / "activate.sh").write_text(activate_script(deploy_id, packages, jobs))
    shutil.copy(WATCHER, root / "watch_job.sh")
    (root / DONE_MARKER).write_text(deploy_id)
    root.chmod(0o700)
    tarball = stage / "bundle.tgz"
    write_tarball(stage / "bundle", tarball)
    shutil.rmtree(stage / "bundle")
    return tarball
