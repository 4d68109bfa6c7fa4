"""`picf release ...`: BOSH releases (validate, inspect, render, sync-blobs, build), the ARM patch catalog,
patching a checkout, and the 32-bit ARM lint."""

from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
from pathlib import Path

import typer
from rich.table import Table

from picf import yamldoc
from picf.cli.output import err, fail, note, out, print_json
from picf.models.node import ARCHES, Arch, normalize_arch
from picf.models.release import Release
from picf.releases.build.builder import build
from picf.releases.lint.tree import lint as lint_report
from picf.releases.patch.patching import load_catalog, patch_tree
from picf.releases.read import blobs
from picf.releases.read.repository import RepositorySource
from picf.releases.read.source import ReleaseInvalid, open_release
from picf.releases.render.binding import bind_properties, instance_spec, undeclared
from picf.releases.render.templates import Instance, JobTemplates, render_instances
from picf.releases.scaffold import scaffold
from picf.releases.store import Store

app = typer.Typer(
    help="BOSH releases for ARM: validate, inspect, render, sync blobs, patch, lint, build (with a compile cache).",
    no_args_is_help=True,
)

_STATUS_STYLE = {
    "applied": "green",
    "anchor-missing": "red",
    "already-applied": "",
    "fixed-upstream": "",
    "not-needed": "dim",
}


def _arch(text: str) -> Arch:
    try:
        return normalize_arch(text)
    except ValueError as exc:
        fail(str(exc), 2)


def _source(src: Path) -> Path:
    if not src.is_dir():
        fail(f"{src}: not a directory; pass an upstream checkout (grootfs, guardian, garden-runc-release, ...)", 2)
    return src.resolve()


@app.command("patches")
def patches_command(json: bool = typer.Option(False, "--json", help="Print the catalog as JSON.")) -> None:
    """List the catalog: every ARM fix picf knows."""
    catalog = load_catalog()
    if json:
        print_json([p.model_dump(mode="json") for p in catalog])
        return
    table = Table(title=f"{len(catalog)} ARM patches", title_justify="left")
    for column in ("id", "component", "arches", "fixed upstream in", "title"):
        table.add_column(column, no_wrap=column != "title")
    for p in catalog:
        fixed = "-"
        if p.fixed_upstream:
            fixed = p.fixed_upstream.commit + (f" ({p.fixed_upstream.release})" if p.fixed_upstream.release else "")
            if p.fixed_upstream.arches:
                fixed += f", {'/'.join(p.fixed_upstream.arches)} only"
        table.add_row(p.id, p.component, ", ".join(p.arches), fixed, p.title)
    out.print(table)


@app.command("patch")
def patch_command(
    src: Path = typer.Argument(..., help="An upstream checkout (a repository, or a release with submodules)."),
    arch: str = typer.Option(..., "--arch", help=f"Target: {', '.join(ARCHES)}."),
    check: bool = typer.Option(False, "--check", help="Report what would change; change nothing."),
    only: str | None = typer.Option(None, "--only", help="Apply only this patch id."),
    diff: bool = typer.Option(False, "--diff", help="Print the unified diff of every change."),
    json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Apply the catalog patches that concern SRC for ARCH (idempotent; originals kept as FILE.orig)."""
    target = _arch(arch)
    root = _source(src)
    results = patch_tree(root, target, only=only, check=check)
    if json:
        print_json([r.model_dump(mode="json") for r in results])
    else:
        if not results:
            note(f"{src}: no catalog patch concerns this tree (see `picf release patches`)")
        for r in results:
            verb = "would apply" if check and r.status == "applied" else r.status
            where = "" if r.root == "." else f" [{r.root}]"
            line = f"{r.patch}{where}: {verb}"
            if r.files:
                line += f" ({', '.join(r.files)})"
            if r.detail:
                line += f": {r.detail}"
            out.print(line, style=_STATUS_STYLE.get(r.status) or None, markup=False, highlight=False)
        if diff:
            for r in results:
                if r.diff:
                    out.print(r.diff, markup=False, highlight=False, end="")
    if any(r.status == "anchor-missing" for r in results):
        err.print(
            "picf: some anchors are missing: upstream changed those files; they were left untouched", markup=False
        )
        raise typer.Exit(1)


@app.command("lint")
def lint_command(
    src: Path = typer.Argument(..., help="A Go and/or C source tree."),
    arch: str = typer.Option(..., "--arch", help=f"Target: {', '.join(ARCHES)}."),
    json: bool = typer.Option(False, "--json", help="Print the hazards as JSON."),
) -> None:
    """Find 32-bit ARM hazards: misaligned 64-bit atomics, int32 fields, uid_map overflow, syscall numbers, seccomp.

    Go is checked by Go's own type checker for linux/ARCH, package by package, vendor/ included."""
    target = _arch(arch)
    root = _source(src)
    report = lint_report(root, target, load_catalog())
    if json:
        print_json(
            {
                "arch": target,
                "go_version": report.go_version or None,
                "go_declared": report.go_declared or None,
                "go_note": report.go_note or None,
                "go_packages": report.go_packages,
                "missing_imports": list(report.missing_imports),
                "hazards": [dataclasses.asdict(h) for h in report.hazards],
            }
        )
    else:
        for hazard in report.hazards:
            out.print(str(hazard), markup=False, highlight=False)
        if report.missing_imports:
            shown = ", ".join(report.missing_imports[:5]) + (" ..." if len(report.missing_imports) > 5 else "")
            note(f"{len(report.missing_imports)} import(s) not in this tree (their types are unknown): {shown}")
        checked = (
            f"; {report.go_packages} Go package(s) type-checked with {report.go_version}" if report.go_version else ""
        ) + (f"; the tree declares {report.go_declared}" if report.go_declared else "")
        if report.go_note:
            note(report.go_note)
        note(f"{len(report.hazards)} hazard(s) for {target} in {src}{checked}")
    raise typer.Exit(1 if report.hazards else 0)


@app.command("new")
def new_command(
    name: str = typer.Argument(..., help="Release name (lower case, digits, - and _)."),
    directory: Path | None = typer.Option(None, "--dir", help="Where to create it (default: ./NAME)."),
    json: bool = typer.Option(False, "--json", help="Print the files created as JSON."),
) -> None:
    """Make a BOSH release repository that validates and builds: a Go package, a job, a template, monit."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", name):
        fail(f"{name!r}: use lower-case letters, digits, '-' and '_'", 2)
    target = directory or Path(name)
    if target.exists():
        fail(f"{target}: already exists; pick another --dir", 2)
    created = scaffold(target, name)
    if json:
        print_json({"release": name, "directory": str(target), "created": [str(p) for p in created]})
        return
    for path in created:
        note(f"created {path}")
    note(f"next: picf release validate {target} && picf release build {target} --arch armv7")


def _release_json(release: Release) -> dict[str, object]:
    return {
        "name": release.name, "version": release.version, "form": release.form,
        "commit_hash": release.commit_hash, "uncommitted_changes": release.uncommitted_changes,
        "jobs": [{"name": j.name, "fingerprint": j.fingerprint, "sha1": j.sha1, "packages": list(j.spec.packages),
                  "templates": j.spec.templates, "properties": sorted(j.spec.properties),
                  "consumes": [c.model_dump() for c in j.spec.consumes],
                  "provides": [p.model_dump() for p in j.spec.provides]} for j in release.jobs],
        "packages": [{"name": p.name, "fingerprint": p.fingerprint, "sha1": p.sha1,
                      "dependencies": list(p.dependencies), "vendored": p.vendored, "stemcell": p.stemcell,
                      "missing_blobs": list(p.missing_blobs)} for p in release.packages],
        "license": release.license,
    }  # fmt: skip


@app.command("validate")
def validate_command(
    path: Path = typer.Argument(Path("."), help="A release repository, release tarball or compiled release."),
    json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Check a BOSH release: specs, templates, package files and blobs, dependencies (problems with file:line)."""
    try:
        with open_release(path) as source:
            release = source.release
    except ReleaseInvalid as exc:
        if not json:
            raise
        problems = [{"file": p.file, "line": p.line or None, "message": p.message} for p in exc.located]
        print_json({"path": str(path), "valid": False, "problems": problems})
        raise typer.Exit(1) from None
    missing = sorted({b for p in release.packages for b in p.missing_blobs})
    if json:
        print_json({"path": str(path), "valid": True, **_release_json(release), "problems": []})
        return
    out.print(f"{path}: valid, {release.name}/{release.version} ({release.form}) with {len(release.jobs)} job(s) "
              f"and {len(release.packages)} package(s)", markup=False)  # fmt: skip
    if missing:
        shown = ", ".join(missing[:3]) + (" ..." if len(missing) > 3 else "")
        note(f"{len(missing)} blob(s) not downloaded yet ({shown}): `picf release sync-blobs {path}` fetches them")


def _compiled_inspect(release: str, arch: str | None, json: bool) -> None:
    name, _, version = release.partition("/")
    found = Store().release(name, version or None, _arch(arch) if arch else None)
    if not found:
        fail(f"{release}: neither a release (directory or .tgz) nor a compiled release in the store; "
             "see `picf release list`", 2)  # fmt: skip
    if json:
        print_json([r.model_dump(mode="json") for r in found])
        return
    for r in found:
        table = Table(title=f"{r.name}/{r.version} {r.arch}{' patched' if r.patched else ''} ({r.built_at})",
                      title_justify="left")  # fmt: skip
        for column in ("package", "fingerprint", "sha256", "size", "depends on"):
            table.add_column(column, no_wrap=True)
        for p in r.packages:
            size = "-" if p.toolchain and not p.size else f"{p.size / 1024:.0f} KiB"
            table.add_row(p.name, p.fingerprint[:16], p.sha256[:16] or (p.toolchain or "-"), size,
                          ", ".join(p.dependencies))  # fmt: skip
        for j in r.jobs:
            table.add_row(f"job {j.name}", j.fingerprint[:16], j.sha256[:16], "-", ", ".join(j.packages))
        out.print(table)


@app.command("inspect")
def inspect_command(
    release: str = typer.Argument(..., help="A release (repository or .tgz), or NAME[/VERSION] in the store."),
    arch: str | None = typer.Option(None, "--arch", help="A compiled release in the store: only this arch."),
    json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A release's jobs and packages with their bosh-cli fingerprints (or a compiled release of the store)."""
    path = Path(release)
    if not path.exists():
        _compiled_inspect(release, arch, json)
        return
    with open_release(path) as source:
        model = source.release
    if json:
        print_json(_release_json(model))
        return
    title = f"{model.name}/{model.version} ({model.form}{', commit ' + model.commit_hash if model.commit_hash else ''})"
    table = Table(title=title, title_justify="left")
    for column in ("", "name", "fingerprint", "depends on / packages", "note"):
        table.add_column(column, no_wrap=column != "note")
    for j in model.jobs:
        table.add_row("job", j.name, j.fingerprint, ", ".join(j.spec.packages), "")
    for p in model.packages:
        why = "vendored (spec.lock)" if p.vendored else (f"compiled for {p.stemcell}" if p.stemcell else "")
        if p.missing_blobs:
            why = f"blobs not here: {', '.join(p.missing_blobs)}"
        table.add_row("package", p.name, p.fingerprint or "? (sync-blobs)", ", ".join(p.dependencies), why)
    out.print(table)


def _yaml_file(path: Path | None, what: str) -> dict[str, object]:
    if path is None:
        return {}
    if not path.is_file():
        fail(f"{path}: no such file ({what})", 2)
    try:
        data = yamldoc.to_plain(yamldoc.load(yamldoc.decode(path.read_bytes())))
    except yamldoc.YamlProblem as exc:
        fail(f"{path}:{exc.line}: {exc.message}", 1)
    if data is None:
        return {}
    if not isinstance(data, dict):
        fail(f"{path}: should be a YAML mapping ({what})", 1)
    return data


@app.command("render")
def render_command(
    path: Path = typer.Argument(..., help="A release repository or release tarball."),
    job: str = typer.Argument(..., help="The job to render."),
    properties: Path | None = typer.Option(
        None,
        "--properties",
        help="YAML: the job's properties, nested as in a manifest (undeclared ones are dropped, as the director does).",
    ),
    spec: Path | None = typer.Option(
        None,
        "--spec",
        help="YAML: the instance (name, index, id, az, ip, address, "
        "deployment, bootstrap, networks); unset keys get picf's defaults.",
    ),
    links: Path | None = typer.Option(
        None,
        "--links",
        help="YAML: link name -> {instances: [...], properties: {...}}, as the job's consumes list names them.",
    ),
    out_dir: Path = typer.Option(..., "--out", help="Where to write each template at its destination, and monit."),
    json: bool = typer.Option(False, "--json", help="Print the files written as JSON."),
) -> None:
    """Render a job's templates with real Ruby ERB, as the BOSH director renders them (sandboxed)."""
    with open_release(path) as source:
        release = source.release
        found = release.job(job)
        if found is None:
            fail(f"{path}: no job {job!r} in {release.name} (its jobs: {', '.join(j.name for j in release.jobs)})", 2)
        work = Path(tempfile.mkdtemp(prefix="picf-render-"))
        try:
            source.job_tarball(job, work / "job.tgz")
            templates = JobTemplates.from_tarball(work / "job.tgz", f"jobs/{job}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    manifest_properties = _yaml_file(properties, "--properties")
    dropped = undeclared(templates.spec, manifest_properties)
    if dropped:
        note(f"not declared by job {job}, dropped (as the director does): {', '.join(dropped)}")
    given = _yaml_file(spec, "--spec")
    group = str(given.get("name", job))
    if not str(given.get("index", 0)).isdigit():
        fail(f"{spec}: index {given.get('index')!r} is not a number", 1)
    instance = instance_spec(deployment=str(given.get("deployment", "picf")), group=group,
                             index=int(str(given.get("index", 0))), node=group, ip=str(given.get("ip", "127.0.0.1")),
                             address=str(given.get("address", given.get("ip", "127.0.0.1"))),
                             az=str(given["az"]) if given.get("az") else None,
                             release=(release.name, release.version))  # fmt: skip
    instance.update(given)
    bound = bind_properties(templates.spec, manifest_properties)
    rendered = render_instances([Instance(templates, bound, instance, dict(_yaml_file(links, "--links")))])[0]
    written = []
    for destination, text in {**rendered.files, "monit": rendered.monit}.items():
        target = out_dir / destination
        if not target.resolve().is_relative_to(out_dir.resolve()):
            fail(f"job {job}: template destination {destination!r} is outside the job's directory", 1)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(0o755 if destination.startswith("bin/") else 0o644)
        written.append(str(target))
    if json:
        print_json({"job": job, "release": release.name, "version": release.version, "files": written})
        return
    for file in written:
        note(f"wrote {file}")


@app.command("sync-blobs")
def sync_blobs_command(
    directory: Path = typer.Argument(Path("."), help="A release repository."),
    json: bool = typer.Option(False, "--json", help="Print what was fetched and kept as JSON."),
) -> None:
    """Fetch the blobs config/blobs.yml lists from the release's blobstore into blobs/ (size and digest checked)."""
    with open_release(directory) as source:
        if not isinstance(source, RepositorySource):
            fail(f"{directory}: a release tarball has its blobs inside; sync-blobs is for release repositories", 2)
        if source.blobstore is None and any(e.object_id for e in source.blob_entries):
            fail(f"{directory}/config/final.yml: no blobstore to fetch blobs from", 1)
        store = source.blobstore or blobs.Blobstore("local")
        report = blobs.sync(directory, store, source.blob_entries, progress=note)
    if json:
        print_json({"directory": str(directory), "fetched": report.fetched, "kept": report.kept,
                    "not_uploaded": report.skipped, "unlisted": report.unlisted})  # fmt: skip
        return
    for path in report.skipped:
        note(f"{path}: no object_id in config/blobs.yml (added locally, never uploaded); skipped")
    for path in report.unlisted:
        note(f"blobs/{path}: not in config/blobs.yml; left alone")
    out.print(f"{directory}: {len(report.fetched)} blob(s) fetched, {len(report.kept)} already here", markup=False)


@app.command("build")
def build_command(
    path: Path = typer.Argument(..., help="A release repository, release tarball or compiled release."),
    arch: str = typer.Option(..., "--arch", help=f"Target: {', '.join(ARCHES)}."),
    job: str | None = typer.Option(None, "--job", help="Only the packages this job needs (with their dependencies)."),
    package: str | None = typer.Option(None, "--package", help="Only this package (with its dependencies)."),
    patch: bool = typer.Option(
        False, "--patch", help="Apply the ARM patches and align 64-bit atomics first (in a copy)."
    ),
    json: bool = typer.Option(False, "--json", help="Print the compiled release as JSON."),
) -> None:
    """Compile a release's packages for ARCH, running their packaging scripts; unchanged ones come from the cache."""
    target = _arch(arch)
    if job is not None and package is not None:
        fail("--job and --package: give one of them", 2)
    report = build(path, target, patch=patch, job=job, package=package, progress=note)
    built = sum(not p.cached for p in report.packages)
    if json:
        print_json(
            {
                "release": report.manifest.model_dump(mode="json"),
                "compiled": [p.name for p in report.packages if not p.cached],
                "cached": [p.name for p in report.packages if p.cached],
                "notes": report.notes,
                "seconds": round(report.seconds, 3),
            }
        )
        return
    m = report.manifest
    patched = f" (patched: {', '.join(m.patches) or 'nothing needed'})" if m.patched else ""
    cached = len(report.packages) - built
    line = f"{m.name}/{m.version} for {m.arch}{patched}: {built} compiled, {cached} cached, in {report.seconds:.2f} s"
    out.print(line, markup=False)


@app.command("list")
def list_command(json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Compiled releases in the store."""
    releases = Store().releases()
    if json:
        print_json([r.model_dump(mode="json") for r in releases])
        return
    table = Table(title=f"{len(releases)} compiled release(s)", title_justify="left")
    for column in ("release", "arch", "patched", "packages", "jobs", "built"):
        table.add_column(column)
    for r in releases:
        table.add_row(f"{r.name}/{r.version}", r.arch, ", ".join(r.patches) or ("yes" if r.patched else "no"),
                      ", ".join(p.name for p in r.packages), ", ".join(j.name for j in r.jobs), r.built_at)  # fmt: skip
    out.print(table)
