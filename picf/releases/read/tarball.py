"""Read a release tarball (`bosh create-release --tarball`) or a compiled release (`bosh export-release`).

`release.MF` says what the tarball holds: jobs and packages with their fingerprints and the digests (`sha1`) of
their `.tgz` files, `compiled_packages` with a `stemcell` in a compiled release. As bosh-cli does, picf takes
the fingerprints from `release.MF` and checks each inner `.tgz` against its recorded digest before using it.
The whole tarball is checked (no entry escaping, no device file, not too large) and unpacked into a private
work directory; each inner `.tgz` is checked again before it is unpacked.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from picf import yamldoc
from picf.models.problem import problems_from
from picf.models.release import FINGERPRINT, NAME, VERSION, JobSpec, Release, ReleaseJob, ReleasePackage
from picf.releases import archive
from picf.releases.read import fingerprint
from picf.releases.read.source import ReleaseInvalid, ReleaseProblem, ReleaseSource, remove, work_directory
from picf.releases.read.versions import scalar


class TarballSource(ReleaseSource):
    """A release tarball unpacked in a private work directory (removed by close())."""

    def __init__(self, path: Path, work: Path, release: Release) -> None:
        self.path = path
        self.work = work
        self.release = release

    def close(self) -> None:
        remove(self.work)

    def _inner(self, kind: str, name: str, digest: str | None) -> Path:
        inner = self.work / kind / f"{name}.tgz"
        if not inner.is_file():
            raise ReleaseInvalid(str(self.path), [ReleaseProblem(str(self.path), 0, f"{kind}/{name}.tgz is missing")])
        if digest:
            wrong = fingerprint.verify(inner, digest)
            if wrong is not None:
                problem = ReleaseProblem(str(self.path), 0, f"{kind}/{name}.tgz has digest {wrong}, release.MF "
                                         f"says {digest}: the tarball is damaged")  # fmt: skip
                raise ReleaseInvalid(str(self.path), [problem])
        return inner

    def job_tarball(self, name: str, target: Path) -> None:
        job = self.release.job(name)
        if job is None:
            raise KeyError(name)
        inner = self._inner("jobs", name, job.sha1)
        archive.check(inner, label=f"{self.path}: jobs/{name}.tgz")
        shutil.copyfile(inner, target)

    def stage_package(self, name: str, into: Path) -> None:
        package = self.release.package(name)
        if package is None:
            raise KeyError(name)
        if package.stemcell is not None:
            raise KeyError(f"{name} is compiled (for {package.stemcell}); it has no source to stage")
        inner = self._inner("packages", name, package.sha1)
        archive.extract(inner, into, label=f"{self.path}: packages/{name}.tgz")

    def compiled_tarball(self, name: str) -> Path | None:
        package = self.release.package(name)
        if package is None or package.stemcell is None:
            return None
        inner = self._inner("compiled_packages", name, package.sha1)
        archive.check(inner, label=f"{self.path}: compiled_packages/{name}.tgz", absolute_links=True)
        return inner


def _problem(path: Path, message: str, doc: Any = None, loc: tuple[str | int, ...] = ()) -> ReleaseProblem:
    line = yamldoc.position(doc, loc)[0] if doc is not None and loc else 0
    return ReleaseProblem(f"{path}: release.MF", line, message)


def read_tarball(path: Path) -> TarballSource:
    """Check and unpack the tarball at `path`; its model from release.MF (job specs from each job.MF)."""
    work = work_directory("picf-release-")
    try:
        archive.extract(path, work, label=str(path))
        manifest = work / "release.MF"
        if not manifest.is_file():
            raise ReleaseInvalid(str(path), [ReleaseProblem(str(path), 0, "no release.MF: not a BOSH release tarball")])
        try:
            doc = yamldoc.load(yamldoc.decode(manifest.read_bytes()))
        except yamldoc.YamlProblem as exc:
            raise ReleaseInvalid(str(path), [ReleaseProblem(f"{path}: release.MF", exc.line, exc.message)]) from None
        data = yamldoc.to_plain(doc)
        problems: list[ReleaseProblem] = []
        if not isinstance(data, dict) or not data.get("name") or data.get("version") is None:
            raise ReleaseInvalid(str(path), [_problem(path, "needs name and version")])
        if not re.match(NAME, str(data["name"])) or not re.match(VERSION, scalar(doc["version"])):
            raise ReleaseInvalid(str(path), [_problem(path, "name or version is not a release's (letters, digits, "
                                                      "'.', '_', '-', '+')", doc, ("name",))])  # fmt: skip
        jobs: list[ReleaseJob] = []
        for i, entry in enumerate(data.get("jobs") or []):
            job = _job(path, work, entry, doc, i, problems)
            if job is not None:
                jobs.append(job)
        packages: list[ReleasePackage] = []
        compiled = bool(data.get("compiled_packages"))
        for key in ("compiled_packages",) if compiled else ("packages",):
            for i, entry in enumerate(data.get(key) or []):
                wrong = _entry_problem(entry, key == "compiled_packages")
                if wrong is not None:
                    problems.append(_problem(path, f"{key}[{i}]: {wrong}", doc, (key, i)))
                    continue
                packages.append(ReleasePackage(
                    name=str(entry["name"]), fingerprint=str(entry.get("fingerprint") or entry["version"]),
                    dependencies=tuple(str(d) for d in entry.get("dependencies") or ()), sha1=str(entry["sha1"]),
                    stemcell=str(entry["stemcell"]) if key == "compiled_packages" else None,
                ))  # fmt: skip
        names = {p.name for p in packages}
        for package in packages:
            for dep in package.dependencies:
                if dep not in names:
                    problems.append(_problem(path, f"package {package.name} depends on unknown package {dep!r}"))
        for job in jobs:
            for name in job.spec.packages:
                if name not in names:
                    problems.append(_problem(path, f"job {job.name} needs package {name!r}, which is not in it"))
        if problems:
            raise ReleaseInvalid(str(path), problems)
        license_data = data.get("license") or {}
        release = Release(
            name=str(data["name"]), version=scalar(doc["version"]), form="compiled" if compiled else "tarball",
            commit_hash=str(data["commit_hash"]) if data.get("commit_hash") else None,
            uncommitted_changes=bool(data["uncommitted_changes"]) if "uncommitted_changes" in data else None,
            jobs=tuple(jobs), packages=tuple(packages),
            license=str(license_data.get("fingerprint")) if isinstance(license_data, dict) and license_data else None,
        )  # fmt: skip
        return TarballSource(path, work, release)
    except BaseException:
        remove(work)
        raise


def _entry_problem(entry: Any, compiled: bool = False) -> str | None:
    """What is wrong with a release.MF entry, if anything: its name becomes a file name, its digest is checked."""
    if not isinstance(entry, dict):
        return "should be a mapping (name, version, fingerprint, sha1)"
    name = str(entry.get("name") or "")
    if not re.match(NAME, name):
        return f"name {name!r} is not a job or package name (letters, digits, '.', '_', '-')"
    if not (entry.get("fingerprint") or entry.get("version")):
        return f"{name}: needs a version (or fingerprint)"
    claimed = str(entry.get("fingerprint") or entry.get("version"))
    if not re.match(FINGERPRINT, claimed):
        return f"{name}: fingerprint {claimed[:80]!r} is not one (40 to 128 hex digits)"
    if not entry.get("sha1"):
        return f"{name}: needs a sha1 digest (sha256:<hex> or 40-hex SHA-1)"
    if compiled and not entry.get("stemcell"):
        return f"{name}: a compiled package needs its stemcell (os/version)"
    try:
        fingerprint.parse_digests(str(entry["sha1"]))
    except ValueError:
        return f"{name}: sha1 {entry['sha1']!r} is not a digest (sha256:<hex> or 40-hex SHA-1)"
    return None


def _job(path: Path, work: Path, entry: Any, doc: Any, i: int, problems: list[ReleaseProblem]) -> ReleaseJob | None:
    wrong = _entry_problem(entry)
    if wrong is not None:
        problems.append(_problem(path, f"jobs[{i}]: {wrong}", doc, ("jobs", i)))
        return None
    name = str(entry["name"])
    inner = work / "jobs" / f"{name}.tgz"
    if not inner.is_file():
        problems.append(_problem(path, f"job {name}: jobs/{name}.tgz is missing", doc, ("jobs", i)))
        return None
    archive.check(inner, label=f"{path}: jobs/{name}.tgz")  # one job.MF, nothing escaping: what is shown is used
    text = archive.read_member(inner, "job.MF", label=f"{path}: jobs/{name}.tgz")
    if text is None:
        problems.append(_problem(path, f"job {name}: jobs/{name}.tgz has no job.MF", doc, ("jobs", i)))
        return None
    try:
        spec_doc = yamldoc.load(yamldoc.decode(text))
        spec = JobSpec.model_validate(yamldoc.to_plain(spec_doc))
    except yamldoc.YamlProblem as exc:
        problems.append(ReleaseProblem(f"{path}: jobs/{name}.tgz: job.MF", exc.line, exc.message))
        return None
    except ValidationError as exc:
        for problem in problems_from(exc):
            line = yamldoc.position(spec_doc, problem.loc)[0]
            problems.append(ReleaseProblem(f"{path}: jobs/{name}.tgz: job.MF", line,
                                           f"{problem.path}: {problem.message}"))  # fmt: skip
        return None
    if spec.name != name:
        problems.append(_problem(path, f"jobs/{name}.tgz holds job {spec.name!r}", doc, ("jobs", i)))
        return None
    # Older release.MF files list no packages per job: the spec in job.MF is what counts.
    return ReleaseJob(name=name, fingerprint=str(entry.get("fingerprint") or entry.get("version")), spec=spec,
                      sha1=str(entry["sha1"]))  # fmt: skip
