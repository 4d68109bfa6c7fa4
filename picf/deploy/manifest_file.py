"""Read `inventory/deployment.yml`: every problem at once, as FILE:LINE:COL: field: message."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel

from picf import yamldoc
from picf.models.manifest import JobRef, Manifest, ReleaseRef, RoleJobs, Update, Variable
from picf.models.problem import Loc, Problem


class ManifestInvalid(yamldoc.FileInvalid):
    """The manifest has problems; each is located in the file."""

    check_command = "fix them and run `picf deploy --dry-run`"


def _model_at(loc: Loc) -> type[BaseModel] | None:
    parents = loc[:-1]
    if not parents:
        return Manifest
    if parents == ("update",):
        return Update
    if len(parents) == 2 and parents[0] in {"releases", "variables"}:
        return ReleaseRef if parents[0] == "releases" else Variable
    if len(parents) == 2 and parents[0] == "roles":
        return RoleJobs
    if len(parents) == 4 and parents[0] == "roles" and parents[2] == "jobs":
        return JobRef
    return None


def read_manifest(path: Path, text: str | None = None) -> tuple[Manifest, str, str]:
    """The manifest, a hash of its text and the text; ManifestInvalid with located problems otherwise. `text`,
    when given, is the manifest's content kept elsewhere (a rollback's, from the history); `path` names it."""
    missing = "no such file; write one (see inventory/deployment.yml in the picf repo)"
    try:
        manifest, doc, text = yamldoc.load_model(path, Manifest, _model_at, missing, text)
    except yamldoc.FileInvalid as exc:
        raise ManifestInvalid(exc.located) from None
    names = [r.name for r in manifest.releases]
    problems = []
    for role, group in manifest.roles.items():
        for j, job in enumerate(group.jobs):
            if job.release not in names:
                problems.append(
                    Problem(("roles", role, "jobs", j, "release"), f"release {job.release!r} is not listed")
                )
    if problems:
        raise ManifestInvalid(yamldoc.locate(str(path), doc, problems))
    return manifest, hashlib.sha256(text.encode()).hexdigest(), text
