"""`picf release ...`: the ARM patch catalog, patching a checkout, and the 32-bit ARM lint."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import typer
from rich.table import Table

from picf.cli.output import err, fail, note, out, print_json
from picf.models.node import ARCHES, Arch, normalize_arch
from picf.releases.builder import build
from picf.releases.lint import lint as lint_report
from picf.releases.patching import load_catalog, patch_tree
from picf.releases.release_dir import ReleaseInvalid, read_release
from picf.releases.scaffold import scaffold
from picf.releases.store import Store

app = typer.Typer(help="Releases for ARM: patch, lint, build (with a compile cache), inspect.", no_args_is_help=True)

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


@app.command()
def patches(json: bool = typer.Option(False, "--json", help="Print the catalog as JSON.")) -> None:
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


@app.command()
def patch(
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


@app.command()
def lint(
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
        )
        note(f"{len(report.hazards)} hazard(s) for {target} in {src}{checked}")
    raise typer.Exit(1 if report.hazards else 0)


@app.command()
def new(
    name: str = typer.Argument(..., help="Release name (lower case, digits, - and _)."),
    directory: Path | None = typer.Option(None, "--dir", help="Where to create it (default: ./NAME)."),
    json: bool = typer.Option(False, "--json", help="Print the files created as JSON."),
) -> None:
    """Scaffold a release that validates and builds: a Go package, a job, templates and a monit stanza."""
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


@app.command()
def validate(
    directory: Path = typer.Argument(Path("."), help="Release directory (with release.yml)."),
    json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Check a release: release.yml, package files, job templates and the monit stanza (errors with file:line)."""
    try:
        found = read_release(directory)
    except ReleaseInvalid as exc:
        if not json:
            raise
        problems = [{"file": p.file, "line": p.line, "col": p.col, "path": p.problem.path,
                     "message": p.problem.message} for p in exc.located]  # fmt: skip
        print_json({"directory": str(directory), "valid": False, "problems": problems})
        raise typer.Exit(1) from None
    release = found.release
    if json:
        print_json({"directory": str(directory), "valid": True, "release": release.name,
                    "version": release.version, "packages": [p.name for p in release.packages],
                    "jobs": [j.name for j in release.jobs], "problems": []})  # fmt: skip
        return
    out.print(f"{directory}: valid, {release.name}/{release.version} with {len(release.packages)} package(s) and "
              f"{len(release.jobs)} job(s)", markup=False)  # fmt: skip


@app.command("build")
def build_command(
    directory: Path = typer.Argument(..., help="Release directory (with release.yml)."),
    arch: str = typer.Option(..., "--arch", help=f"Target: {', '.join(ARCHES)}."),
    patch: bool = typer.Option(
        False, "--patch", help="Apply the ARM patches and align 64-bit atomics first (in a copy)."
    ),
    json: bool = typer.Option(False, "--json", help="Print the compiled release as JSON."),
) -> None:
    """Cross-compile a release's packages for ARCH; unchanged packages come from the cache."""
    target = _arch(arch)
    report = build(directory, target, patch=patch, progress=note)
    built = sum(not p.cached for p in report.packages)
    if json:
        print_json(
            {
                "release": report.manifest.model_dump(mode="json"),
                "compiled": [p.name for p in report.packages if not p.cached],
                "cached": [p.name for p in report.packages if p.cached],
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


@app.command()
def inspect(
    release: str = typer.Argument(..., help="NAME or NAME/VERSION."),
    arch: str | None = typer.Option(None, "--arch", help="Only this arch."),
    json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """One compiled release: its packages (fingerprint, cache key, sha256, size) and jobs."""
    name, _, version = release.partition("/")
    found = Store().release(name, version or None, _arch(arch) if arch else None)
    if not found:
        fail(f"no compiled release {release!r}; build it with `picf release build DIR --arch ...`", 2)
    if json:
        print_json([r.model_dump(mode="json") for r in found])
        return
    for r in found:
        table = Table(title=f"{r.name}/{r.version} {r.arch}{' patched' if r.patched else ''} ({r.built_at})",
                      title_justify="left")  # fmt: skip
        for column in ("package", "fingerprint", "sha256", "size", "depends on"):
            table.add_column(column, no_wrap=True)
        for p in r.packages:
            table.add_row(
                p.name, p.fingerprint[:16], p.sha256[:16], f"{p.size / 1024:.0f} KiB", ", ".join(p.dependencies)
            )
        for j in r.jobs:
            table.add_row(f"job {j.name}", "-", j.sha256[:16], "-", ", ".join(j.packages))
        out.print(table)
