"""Apply the ARM patch catalog to an upstream checkout: find which patches concern it, apply, report.

A patch is all or nothing per checkout: if any of its anchors is missing (upstream changed), none of its
files is touched. Changed files keep their original beside them as `FILE.orig`.
"""

from __future__ import annotations

import difflib
import os
import re
from functools import cache
from pathlib import Path

from ruamel.yaml import YAML

from picf.atomic import write_atomic
from picf.errors import PicfError
from picf.models.node import Arch
from picf.models.patch import Align64, Patch, PatchResult
from picf.releases.lint.declared_go import declared_goroot, sizing_go
from picf.releases.patch.transforms import apply_transform

CATALOG_DIR = Path(__file__).parent / "catalog"
_SKIP_DIRS = {".git", "node_modules", "__pycache__"}


class CatalogError(PicfError):
    """A catalog entry that does not validate (a bug in picf's data, or a user's own entry)."""


@cache
def load_catalog(directory: Path = CATALOG_DIR) -> tuple[Patch, ...]:
    """Every patch of the catalog, validated, ordered by id."""
    patches = []
    yaml = YAML(typ="safe")
    for path in sorted(directory.glob("*.yml")):
        try:
            patches.append(Patch.model_validate(yaml.load(path.read_text())))
        except Exception as exc:  # any way a data file can be wrong ends up here
            raise CatalogError(f"{path}: {exc}") from None
    ids = [p.id for p in patches]
    if len(set(ids)) != len(ids):
        raise CatalogError(f"{directory}: duplicate patch ids")
    return tuple(sorted(patches, key=lambda p: p.id))


def _identifies_as(directory: Path, component: str) -> bool:
    if directory.name == component:
        return True
    gomod = directory / "go.mod"
    if gomod.is_file() and re.search(rf"^module\s+\S*/{re.escape(component)}\s*$", gomod.read_text(), re.MULTILINE):
        return True
    config = directory / ".git" / "config"
    return (
        config.is_file()
        and re.search(rf"url\s*=\s*\S*[/:]{re.escape(component)}(\.git)?\s*$", config.read_text(), re.M) is not None
    )


def component_roots(src: Path, patch: Patch) -> list[Path]:
    """Directories under `src` (itself included) that hold the patch's component, vendored copies too."""
    first = patch.transforms[0].paths
    roots = []
    if any((src / p).is_file() and ("/" in p or _identifies_as(src, patch.component)) for p in first):
        roots.append(src)
    for directory, subdirs, _ in os.walk(src):
        subdirs[:] = sorted(d for d in subdirs if d not in _SKIP_DIRS)
        here = Path(directory)
        if here != src and here.name == patch.component and any((here / p).is_file() for p in first):
            roots.append(here)
    return roots


def patch_tree(
    src: Path,
    arch: Arch,
    *,
    only: str | None = None,
    check: bool = False,
    catalog: tuple[Patch, ...] | None = None,
    go: str | None = None,
) -> list[PatchResult]:
    """Apply (or with `check`, only assess) every catalog patch that concerns `src`. Structs are sized with the Go
    the tree declares (see declared_go), or `go` (a version) when the caller knows the Go that compiles it."""
    patches = catalog if catalog is not None else load_catalog()
    if only is not None:
        patches = tuple(p for p in patches if p.id == only)
        if not patches:
            raise CatalogError(f"no patch {only!r} in the catalog; see `picf release patches`")
    texts: dict[Path, str] = {}  # what each file holds now (or would hold, with --check)
    results: list[PatchResult] = []
    for patch in patches:
        for root in component_roots(src, patch):
            results.append(_patch_root(src, root, patch, arch, texts, check, go))
    return results


def _read(path: Path, texts: dict[Path, str]) -> str | None:
    if path not in texts:
        try:
            texts[path] = path.read_text()
        except (OSError, UnicodeDecodeError):
            return None
    return texts[path]


def _patch_root(
    src: Path, root: Path, patch: Patch, arch: Arch, texts: dict[Path, str], check: bool, go: str | None
) -> PatchResult:
    where = str(root.relative_to(src)) if root != src else "."
    if arch not in patch.arches:
        return PatchResult(patch=patch.id, root=where, status="not-needed", detail=f"{arch} is not affected")
    goroot = None
    if any(isinstance(t, Align64) for t in patch.transforms):
        goroot, _ = declared_goroot(sizing_go(root, go))
    draft: dict[Path, str] = {}
    statuses: list[str] = []
    problems: list[str] = []
    for transform in patch.transforms:
        path = next((root / p for p in transform.paths if (root / p).is_file()), root / transform.file)
        text = draft.get(path)
        if text is None:
            text = _read(path, texts)
        if text is None:
            problems.append(f"{transform.file}: missing")
            continue
        others = {p: t for p, t in {**texts, **draft}.items() if p.parent == path.parent and p != path}
        outcome = apply_transform(path, text, transform, patch.id, arch, others, goroot)
        statuses.append(outcome.status)
        if outcome.status == "anchor-missing":
            problems.append(outcome.detail)
        elif outcome.status == "apply":
            draft[path] = outcome.text
    if problems:
        return PatchResult(patch=patch.id, root=where, status="anchor-missing", detail="; ".join(problems))
    if "fixed-upstream" in statuses and "already-applied" not in statuses:
        # Upstream fixed it its own way: the rest of the patch (a helper, say) is not wanted either.
        return PatchResult(patch=patch.id, root=where, status="fixed-upstream")
    if not draft:
        status = "fixed-upstream" if all(s == "fixed-upstream" for s in statuses) else "already-applied"
        return PatchResult(patch=patch.id, root=where, status=status)
    diff = ""
    changed = []
    for path, new in draft.items():
        old = texts[path]
        rel = str(path.relative_to(src))
        changed.append(rel)
        diff += "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"a/{rel}", f"b/{rel}"))
        if not check:
            orig = path.with_name(path.name + ".orig")
            if not orig.exists():
                write_atomic(orig, old.encode(), backup=False)
            write_atomic(path, new.encode(), backup=False)
        texts[path] = new
    return PatchResult(patch=patch.id, root=where, status="applied", files=changed, diff=diff)
