"""A job's templates and their rendering for instances: the job as BOSH's archives hold it, rendered by Ruby.

`JobTemplates` is one job's `spec`, `monit` and `templates/` (from a release repository or a job `.tgz`).
`render_instances` renders many instances (of many jobs) in one Ruby run and returns, for each, its files at
their destinations under `/var/vcap/jobs/<job>/` and its monit file; the director's `Error filling in template`
becomes one line per failing template, `FILE:LINE: message (instance)`, all raised together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from picf import yamldoc
from picf.errors import PicfError
from picf.models.release import JobSpec
from picf.releases import archive
from picf.releases.render import erb


class RenderFailed(PicfError):
    """Templates that did not render; each is a problem line."""


@dataclass(frozen=True)
class JobTemplates:
    """One job's spec, monit file and templates (source path under templates/ -> text)."""

    spec: JobSpec
    monit: str
    templates: dict[str, str]
    where: str  # how messages name the job's directory: `jobs/logfwd` or `release.tgz: jobs/logfwd.tgz`
    release: str = ""  # NAME/VERSION: templates of different releases never share a Ruby process

    @classmethod
    def from_files(cls, files: dict[str, bytes], where: str, release: str = "") -> JobTemplates:
        spec_text = files.get("job.MF", files.get("spec"))
        if spec_text is None:
            raise RenderFailed(f"{where}: no spec (job.MF)")
        try:
            spec = JobSpec.model_validate(yamldoc.to_plain(yamldoc.load(yamldoc.decode(spec_text))))
        except (yamldoc.YamlProblem, ValidationError) as exc:
            raise RenderFailed(f"{where}: its spec does not validate: {str(exc).splitlines()[0]}") from None
        templates = {}
        for src in spec.templates:
            text = files.get(f"templates/{src}")
            if text is None:
                raise RenderFailed(f"{where}/templates/{src}: no such file (listed in the job's spec)")
            templates[src] = text.decode("utf-8", errors="replace")
        monit = files.get("monit", b"").decode("utf-8", errors="replace")
        return cls(spec, monit, templates, where, release)

    @classmethod
    def from_tarball(cls, tarball: Path, where: str, release: str = "") -> JobTemplates:
        return cls.from_files(archive.read_all(tarball, label=where), where, release)

    @classmethod
    def from_directory(cls, job_dir: Path) -> JobTemplates:
        files: dict[str, bytes] = {}
        for name in ("spec", "monit"):
            if (job_dir / name).is_file():
                files[name] = (job_dir / name).read_bytes()
        for path in (job_dir / "templates").rglob("*") if (job_dir / "templates").is_dir() else ():
            if path.is_file():
                files[f"templates/{path.relative_to(job_dir / 'templates').as_posix()}"] = path.read_bytes()
        return cls.from_files(files, str(job_dir))


@dataclass(frozen=True)
class Instance:
    """One job on one instance: what its templates see."""

    job: JobTemplates
    properties: dict[str, Any]
    spec: dict[str, Any]
    links: dict[str, Any] = field(default_factory=dict)
    label: str = ""  # named in errors: the node


@dataclass(frozen=True)
class RenderedJob:
    """A job's files at their destinations under /var/vcap/jobs/<job>/, and its monit file."""

    files: dict[str, str]
    monit: str


def render_instances(instances: list[Instance]) -> list[RenderedJob]:
    """Render every instance, one Ruby run per release (templates of one release may see each other's data,
    as in the director; another release's may not); RenderFailed listing each template that failed."""
    by_release: dict[str, list[int]] = {}
    for n, instance in enumerate(instances):
        by_release.setdefault(instance.job.release, []).append(n)
    rendered: dict[int, RenderedJob] = {}
    problems: list[str] = []
    for members in by_release.values():
        done, failed = _render_run([instances[n] for n in members])
        rendered.update(zip(members, done, strict=True))
        problems += failed
    if problems:
        failed_count = f"{len(problems)} template{'s' if len(problems) > 1 else ''}"
        raise RenderFailed(f"{failed_count} did not render; fix the template or the properties it reads",
                           problems=problems)  # fmt: skip
    return [rendered[n] for n in range(len(instances))]


def _render_run(instances: list[Instance]) -> tuple[list[RenderedJob], list[str]]:
    """One Ruby run: each instance's result (placeholders where it failed) and the problem lines."""
    templates: list[erb.Template] = []
    index: dict[tuple[int, str], int] = {}
    jobs: dict[int, JobTemplates] = {}
    for instance in instances:
        jobs.setdefault(id(instance.job), instance.job)
    for key, job in jobs.items():
        index[(key, "")] = len(templates)
        templates.append(erb.Template(f"{job.where}/monit", job.monit))
        for src, text in job.templates.items():
            index[(key, src)] = len(templates)
            templates.append(erb.Template(f"{job.where}/templates/{src}", text))
    contexts = [{"properties": i.properties, "spec": i.spec, "links": i.links} for i in instances]
    renders: list[tuple[int, int]] = []
    for n, instance in enumerate(instances):
        key = id(instance.job)
        renders.append((index[(key, "")], n))
        renders += [(index[(key, src)], n) for src in instance.job.templates]
    results = erb.render(templates, contexts, renders)
    out: list[RenderedJob] = []
    problems: list[str] = []
    position = 0
    for instance in instances:
        count = 1 + len(instance.job.templates)
        chunk = results[position : position + count]
        position += count
        for result in chunk:
            if result.error is not None:
                problems.append(f"{result.error}" + (f" ({instance.label})" if instance.label else ""))
        if all(r.error is None for r in chunk):
            files = {dst: chunk[1 + i].value() for i, dst in enumerate(instance.job.spec.templates.values())}
            out.append(RenderedJob(files, chunk[0].value()))
        else:
            out.append(RenderedJob({}, ""))
    return out, problems
