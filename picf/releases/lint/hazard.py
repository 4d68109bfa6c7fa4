"""A lint finding (`Hazard`), and which catalog patch fixes which file of a tree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from picf.models.patch import Patch
from picf.releases.patch.patching import component_roots


@dataclass(frozen=True)
class Hazard:
    """One finding: `path:line: id: explanation (fix: ...)`. Go layout findings also carry the struct, the
    field path, its offset on the target and the Go whose standard library sized it."""

    path: str
    line: int
    id: str
    explanation: str
    fix: str
    struct: str = ""
    field: str = ""
    offset: int | None = None
    go: str = ""
    struct_file: str = ""
    unknown: str = ""

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.id}: {self.explanation} (fix: {self.fix})"


Fixes = dict[Path, str]  # a file under SRC (resolved) -> the catalog patch that fixes it


def catalog_fixes(src: Path, catalog: tuple[Patch, ...]) -> Fixes:
    """Which catalog patch touches which file of the tree: walked once per lint, not once per hazard."""
    return {
        (root / name).resolve(): patch.id
        for patch in catalog
        for root in component_roots(src, patch)
        for name in patch.files
    }


def patch_for(path: Path, fixes: Fixes, ids: tuple[str, ...]) -> str | None:
    """The catalog patch (one of `ids`) that fixes this file, if any (so the advice names it)."""
    patch = fixes.get(path.resolve())
    return patch if patch in ids else None


def rel(path: Path | str, src: Path) -> str:
    """`path` as a finding names it: relative to the tree when it is in it."""
    try:
        return str(Path(path).relative_to(src))
    except ValueError:
        return str(path)
