"""Find the 32-bit ARM hazards of FACTS.md section 1 in any Go or C tree, before it reaches a Pi.

Go is answered by Go's own type checker (picf's analyzer, golint/, run through gotypes with the Go the tree
declares): it type-checks every package of the tree for linux/arm with the compiler's sizes, so layouts,
constants and the types of values returned by functions are the compiler's, not a guess (go_findings.py maps
its findings to the catalog's patches). C sources are read in c_syscalls.py, each `#if` judged by the target's
own compiler (preprocessor.py); seccomp profiles in seccomp.py. This module walks a tree and gathers them.

Checks (ids in brackets):
- [atomic64-misaligned] 64-bit sync/atomic calls on a field whose offset is not a multiple of 8 on 32-bit ARM;
  [atomic64-unproven] when a type the tree does not hold sits before the field in the layout (it is named);
- [timespec-int64] typed 64-bit values in syscall.Timespec/Timeval fields (int32 on linux/arm);
- [statfs-type-int64] Statfs_t.Type (int32 on arm) compared with a 64-bit value, and
  [statfs-type-sign-extension] int64(x.Type) compared with magic numbers above 2^31;
- [sscanf-int-overflow] fmt.Sscanf and friends into an int or int32 in a package that reads uid_map/gid_map;
- [syscall-number-hardcoded] syscall numbers written as numbers in C, outside a per-arch #if;
- [seccomp-arch-missing] seccomp architecture lists without the target's SCMP_ARCH_*, and
  [seccomp-disabled] a seccomp profile set to nil (in the tree's own code: a vendored library's option that
  lets its caller choose no seccomp is that caller's choice, not a hazard).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from picf.errors import UsageError
from picf.models.node import Arch
from picf.models.patch import Patch
from picf.releases.lint import gotypes
from picf.releases.lint.c_syscalls import c_hazards
from picf.releases.lint.declared_go import declared_goroot, sizing_go
from picf.releases.lint.go_findings import go_hazard
from picf.releases.lint.hazard import Hazard, catalog_fixes
from picf.releases.lint.seccomp import seccomp_go_hazards, seccomp_json_hazards

_SKIP_DIRS = {".git", "node_modules", "testdata", "__pycache__"}
_THIRTY_TWO_BIT: set[str] = {"armv6", "armv7"}


@dataclass(frozen=True)
class LintReport:
    """Everything one lint found, with what the Go answers rest on."""

    hazards: list[Hazard]
    go_version: str = ""  # empty when no Go was type-checked (a 64-bit target, or no Go here)
    go_packages: int = 0
    missing_imports: tuple[str, ...] = field(default=())
    go_declared: str = ""  # `go1.21 (go.mod)`: the Go the tree asks for, when it says
    go_note: str = ""  # when go_version is not the Go declared: why


def lint_tree(src: Path, arch: Arch, catalog: tuple[Patch, ...] = (), go: str | None = None) -> list[Hazard]:
    """Every hazard in the Go and C sources under `src` for `arch`, sorted by file and line."""
    return lint(src, arch, catalog, go).hazards


def lint(src: Path, arch: Arch, catalog: tuple[Patch, ...] = (), go: str | None = None) -> LintReport:
    """The hazards under `src` for `arch`, and what the Go answers rest on. Structs are sized with the Go the
    tree declares (see declared_go), or `go` (a version) when the caller knows the Go that compiles it."""
    hazards: list[Hazard] = []
    fixes = catalog_fixes(src, catalog)
    go_files: list[Path] = []
    c_files: list[Path] = []
    checked = 0
    for directory, subdirs, files in os.walk(src):
        subdirs[:] = sorted(d for d in subdirs if d not in _SKIP_DIRS)
        here = Path(directory)
        for name in files:
            path = here / name
            if name.endswith(".go") and not name.endswith("_test.go"):
                go_files.append(path)
            elif name.endswith((".c", ".h")):
                c_files.append(path)
            elif name.endswith(".json") and "seccomp" in name.lower():
                hazards.extend(seccomp_json_hazards(path, src, arch))
            else:
                continue
            checked += 1
    if not checked:
        raise UsageError(f"{src}: no Go or C sources and no seccomp profile here; pass a source tree")
    hazards.extend(c_hazards(c_files, src, arch, fixes))
    for path in go_files:
        hazards.extend(seccomp_go_hazards(path, src, arch, fixes))
    report, declared, note = None, None, ""
    if go_files and arch in _THIRTY_TWO_BIT:
        declared = sizing_go(src, go)
        goroot, note = declared_goroot(declared)
        report = gotypes.analyze(src, gotypes.GOARCH[arch], goroot=goroot)
        sized = f"{report.go_version}: {note}" if note else report.go_version
        hazards.extend(go_hazard(f, src, report.go_version, sized, fixes) for f in report.findings)
    ordered = sorted(set(hazards), key=lambda h: (h.path, h.line, h.id, h.explanation))
    if report is None:
        return LintReport(ordered)
    asked = f"go{declared.version} ({declared.where})" if declared else ""
    return LintReport(ordered, report.go_version, report.packages, report.missing_imports, asked, note)
