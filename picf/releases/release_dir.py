"""A release directory: read and check `release.yml`, its packages' files, its jobs' templates and monit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from pydantic import BaseModel

from picf import yamldoc
from picf.models.problem import Loc, Problem
from picf.models.release import CBuild, Job, LocalSource, Package, Property, Release, ScriptBuild
from picf.releases import templates
from picf.yamldoc import LocatedProblem

_MONIT_RULES = (
    (r"check process \S+", "a `check process NAME` line"),
    (r"with pidfile /var/vcap/sys/run/\S+\.pid", "a pid file under /var/vcap/sys/run/"),
    (r'start program "[^"]+"', "a start program"),
    (r'stop program "[^"]+"', "a stop program"),
    (r"if \d+ restarts within \d+ cycles then (timeout|unmonitor)", "`if N restarts within M cycles then timeout`"),
)


class ReleaseInvalid(yamldoc.FileInvalid):
    """The release directory has problems; each is located in its file."""

    check_command = "fix them and run `picf release validate`"


@dataclass
class ReleaseDir:
    """A checked release directory."""

    path: Path
    release: Release

    @property
    def source(self) -> Path:
        """The local source directory (git sources are fetched by the builder)."""
        source = self.release.source
        return self.path / (source.path if hasattr(source, "path") else "src")

    def job_dir(self, name: str) -> Path:
        return self.path / "jobs" / name


def package_files(source: Path, globs: tuple[str, ...]) -> list[Path]:
    """Files under `source` matched by the globs, sorted, without the `.orig` copies patching leaves."""
    found: set[Path] = set()
    for pattern in globs:
        for path in source.glob(pattern):
            if path.is_file() and not path.name.endswith(".orig"):
                found.add(path)
    return sorted(found)


def read_release(directory: Path) -> ReleaseDir:
    """Read and check a release directory; ReleaseInvalid lists every problem with file:line."""
    manifest = directory / "release.yml"
    try:
        release, doc, _ = yamldoc.load_model(
            manifest, Release, _model_at, "is this a release directory? `picf release new NAME` makes one"
        )
    except yamldoc.FileInvalid as exc:
        raise ReleaseInvalid(exc.located) from None
    found = ReleaseDir(directory, release)
    problems = yamldoc.locate(str(manifest), doc, _rule_problems(found)) + _file_problems(found)
    if problems:
        raise ReleaseInvalid(problems)
    return found


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """Which model the parent of `loc` is (for spelling suggestions)."""
    parents = loc[:-1]
    shapes: dict[tuple[str | int, ...], type[BaseModel]] = {(): Release, ("source",): LocalSource}
    if len(parents) == 2 and parents[0] in {"packages", "jobs"}:
        return Package if parents[0] == "packages" else Job
    if len(parents) == 4 and parents[0] == "jobs" and parents[2] == "properties":
        return Property
    return shapes.get(parents)


def _rule_problems(found: ReleaseDir) -> list[Problem]:
    release = found.release
    out: list[Problem] = []
    names = [p.name for p in release.packages]
    local = hasattr(release.source, "path") and found.source.is_dir()
    if hasattr(release.source, "path") and not local:
        out.append(
            Problem(("source", "path"), f"{found.source}: no such directory; fetch the source first (see release.yml)")
        )
    for i, package in enumerate(release.packages):
        if names.index(package.name) != i:
            out.append(Problem(("packages", i, "name"), f"package {package.name!r} is defined twice"))
        for d, dep in enumerate(package.dependencies):
            if dep not in names:
                out.append(Problem(("packages", i, "dependencies", d), f"unknown package {dep!r}"))
        if _cycle(release, package.name):
            out.append(Problem(("packages", i, "dependencies"), f"{package.name} depends on itself through a cycle"))
        if local and not package_files(found.source, package.files):
            out.append(Problem(("packages", i, "files"), f"no file under {found.source} matches {list(package.files)}"))
        build = package.build
        if isinstance(build, ScriptBuild) and not (found.path / build.script).is_file():
            out.append(Problem(("packages", i, "build", "script"), f"{build.script}: no such file in the release"))
        if isinstance(build, CBuild):
            for s, source in enumerate(build.sources):
                if local and not (found.source / source).is_file():
                    out.append(Problem(("packages", i, "build", "sources", s), f"{source}: no such file in the source"))
    job_names = [j.name for j in release.jobs]
    for i, job in enumerate(release.jobs):
        if job_names.index(job.name) != i:
            out.append(Problem(("jobs", i, "name"), f"job {job.name!r} is defined twice"))
        for p, package_name in enumerate(job.packages):
            if package_name not in names:
                out.append(Problem(("jobs", i, "packages", p), f"unknown package {package_name!r}"))
        for template in (*job.templates, job.monit):
            if not (found.job_dir(job.name) / template).is_file():
                key = "monit" if template == job.monit else "templates"
                out.append(Problem(("jobs", i, key), f"jobs/{job.name}/{template}: no such file"))
    return out


def _cycle(release: Release, start: str) -> bool:
    seen: set[str] = set()
    stack = [start]
    while stack:
        current = release.package(stack.pop())
        if current is None:
            continue
        for dep in current.dependencies:
            if dep == start:
                return True
            if dep not in seen:
                seen.add(dep)
                stack.append(dep)
    return False


def template_context(job: Job, properties: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """What a job template sees: `p("name")` (the deployment's value, else the default) and `spec`."""

    @templates.template_callable
    def p(name: str, default: Any = None) -> Any:
        if name in properties:
            return properties[name]
        declared = job.properties.get(name)
        if declared is not None and declared.default is not None:
            return declared.default
        if default is not None:
            return default
        raise jinja2.UndefinedError(f"property {name!r} has no value and no default")

    return {"p": p, "spec": spec}


def _file_problems(found: ReleaseDir) -> list[LocatedProblem]:
    """Templates render with the defaults (sandboxed, checked first), and the monit stanza follows BOSH's
    conventions."""
    out: list[LocatedProblem] = []
    env = templates.environment()
    for job in found.release.jobs:
        spec = {"name": job.name, "address": "127.0.0.1", "index": 0, "job": job.name}
        for template in (*job.templates, job.monit):
            path = found.job_dir(job.name) / template
            if not path.is_file():
                continue
            try:
                rendered = templates.render(env, path, template_context(job, {}, spec))
            except templates.TemplateRefused as exc:
                refused = f"template uses {exc.what}, which release templates may not"
                out.append(LocatedProblem(str(path), exc.line, 1, Problem((), refused)))
                continue
            except templates.TemplateFailed as exc:
                message = exc.detail if exc.detail.startswith("template syntax") else (
                    f"does not render with defaults: {exc.detail}")  # fmt: skip
                out.append(LocatedProblem(str(path), exc.line, 1, Problem((), message)))
                continue
            if template == job.monit:
                for pattern, what in _MONIT_RULES:
                    if not re.search(pattern, rendered):
                        problem = Problem((), f"monit stanza needs {what} (BOSH convention)")
                        out.append(LocatedProblem(str(path), 1, 1, problem))
    return out
