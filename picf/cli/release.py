"""`picf release ...`: the ARM patch catalog, patching a checkout, and the 32-bit ARM lint."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer
from rich.table import Table

from picf.cli.output import err, fail, note, out, print_json
from picf.models.node import ARCHES, Arch, normalize_arch
from picf.releases.lint import lint_tree
from picf.releases.patching import CatalogError, load_catalog, patch_tree

app = typer.Typer(help="Patch and lint the Cloud Foundry releases for ARM (build comes next).", no_args_is_help=True)

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
    try:
        catalog = load_catalog()
    except CatalogError as exc:
        fail(str(exc))
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
    try:
        results = patch_tree(root, target, only=only, check=check)
    except CatalogError as exc:
        fail(str(exc), 2)
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
    """Find 32-bit ARM hazards: misaligned 64-bit atomics, int32 fields, uid_map overflow, syscall numbers, seccomp."""
    target = _arch(arch)
    root = _source(src)
    hazards = lint_tree(root, target, load_catalog())
    if json:
        print_json([dataclasses.asdict(h) for h in hazards])
    else:
        for hazard in hazards:
            out.print(str(hazard), markup=False, highlight=False)
        note(f"{len(hazards)} hazard(s) for {target} in {src}")
    raise typer.Exit(1 if hazards else 0)
