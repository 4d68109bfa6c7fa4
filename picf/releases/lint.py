"""Find the 32-bit ARM hazards of FACTS.md section 1 in any Go or C tree, before it reaches a Pi.

Go is answered by Go's own type checker (picf's analyzer, picf/releases/golint, run through gotypes): it
type-checks every package of the tree for linux/arm with the compiler's sizes, so layouts, constants and the
types of values returned by functions are the compiler's, not a guess. This module maps its findings to the
catalog's patches, and keeps the checks that need no type information: C sources and seccomp profiles. A C
`#if` is judged by the target's own compiler (picf/releases/preprocessor.py).

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

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from picf.errors import UsageError
from picf.models.node import Arch
from picf.models.patch import Patch
from picf.releases import gotypes, preprocessor, toolchains
from picf.releases.declared_go import DeclaredGo, declared_go
from picf.releases.gotypes import GoFinding
from picf.releases.patching import component_roots

_SKIP_DIRS = {".git", "node_modules", "testdata", "__pycache__"}
_THIRTY_TWO_BIT: set[str] = {"armv6", "armv7"}
_SECCOMP_ARCH = {"armv6": "ARM", "armv7": "ARM", "arm64": "AARCH64", "amd64": "X86_64"}
_ALIGN_PATCHES = ("diodes-manytoone-align", "metricemitter-align")

# x86_64 syscall numbers people hard-code, with the numbers of the same call elsewhere.
_SYSCALLS_X86_64: dict[int, tuple[str, int, int]] = {
    # number: (name, arm EABI, arm64)
    322: ("execveat", 387, 281),
    319: ("memfd_create", 385, 279),
    318: ("getrandom", 384, 278),
    317: ("seccomp", 383, 277),
    316: ("renameat2", 382, 276),
    308: ("setns", 375, 268),
    272: ("unshare", 337, 97),
    155: ("pivot_root", 218, 41),
    165: ("mount", 21, 40),
    59: ("execve", 11, 221),
    56: ("clone", 120, 220),
}


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


@dataclass(frozen=True)
class LintReport:
    """Everything one lint found, with what the Go answers rest on."""

    hazards: list[Hazard]
    go_version: str = ""  # empty when no Go was type-checked (a 64-bit target, or no Go here)
    go_packages: int = 0
    missing_imports: tuple[str, ...] = field(default=())
    go_declared: str = ""  # `go1.21 (go.mod)`: the Go the tree asks for, when it says
    go_note: str = ""  # when go_version is not the Go declared: why


Fixes = dict[Path, str]  # a file under SRC (resolved) -> the catalog patch that fixes it


def _catalog_fixes(src: Path, catalog: tuple[Patch, ...]) -> Fixes:
    """Which catalog patch touches which file of the tree: walked once per lint, not once per hazard."""
    return {
        (root / name).resolve(): patch.id
        for patch in catalog
        for root in component_roots(src, patch)
        for name in patch.files
    }


def _patch_for(path: Path, fixes: Fixes, ids: tuple[str, ...]) -> str | None:
    """The catalog patch (one of `ids`) that fixes this file, if any (so the advice names it)."""
    patch = fixes.get(path.resolve())
    return patch if patch in ids else None


def lint_tree(src: Path, arch: Arch, catalog: tuple[Patch, ...] = (), go: str | None = None) -> list[Hazard]:
    """Every hazard in the Go and C sources under `src` for `arch`, sorted by file and line."""
    return lint(src, arch, catalog, go).hazards


def lint(src: Path, arch: Arch, catalog: tuple[Patch, ...] = (), go: str | None = None) -> LintReport:
    """The hazards under `src` for `arch`, and what the Go answers rest on. Structs are sized with the Go the
    tree declares (see declared_go), or `go` (a version) when the caller knows the Go that compiles it."""
    hazards: list[Hazard] = []
    fixes = _catalog_fixes(src, catalog)
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
                hazards.extend(_lint_seccomp_json(path, src, arch))
            else:
                continue
            checked += 1
    if not checked:
        raise UsageError(f"{src}: no Go or C sources and no seccomp profile here; pass a source tree")
    hazards.extend(_lint_c_files(c_files, src, arch, fixes))
    for path in go_files:
        hazards.extend(_seccomp_go_hazards(path, src, arch, fixes))
    report, declared, note = None, None, ""
    if go_files and arch in _THIRTY_TWO_BIT:
        declared = DeclaredGo(go, "its golang package") if go else declared_go(src)
        goroot, note = _toolchain(declared)
        report = gotypes.analyze(src, gotypes.GOARCH[arch], goroot=goroot)
        sized = f"{report.go_version}: {note}" if note else report.go_version
        hazards.extend(_go_hazard(f, src, report.go_version, sized, fixes) for f in report.findings)
    ordered = sorted(set(hazards), key=lambda h: (h.path, h.line, h.id, h.explanation))
    if report is None:
        return LintReport(ordered)
    asked = f"go{declared.version} ({declared.where})" if declared else ""
    return LintReport(ordered, report.go_version, report.packages, report.missing_imports, asked, note)


def _toolchain(declared: DeclaredGo | None) -> tuple[Path | None, str]:
    """The GOROOT of the Go to size structs with (None: the machine's), and a note when it is not the one
    declared. Only the Go toolchains here are used: a lint fetches nothing."""
    if declared is None:
        return None, ""
    try:
        toolchain, note = toolchains.provide(declared.version, fetch=False)
    except toolchains.ToolchainUnavailable:
        return None, f"go{declared.version} ({declared.where}) is not here; sized with the machine's Go"
    return toolchain.goroot, f"{note} ({declared.where})" if note else ""


def _rel(path: Path | str, src: Path) -> str:
    try:
        return str(Path(path).relative_to(src))
    except ValueError:
        return str(path)


# --- Go: the analyzer's findings, in the catalog's words ----------------------------------------------------


def _go_hazard(f: GoFinding, src: Path, go_version: str, sized: str, fixes: Fixes) -> Hazard:
    here = src / f.file
    if f.kind == "atomic64" and f.verdict == "misaligned":
        why = f" ({f.detail})" if f.detail else ""
        fix = _patch_for(src / (f.struct_file or f.file), fixes, _ALIGN_PATCHES) or (
            f"`picf release build --patch` moves {f.lift or f.field} to the top of {f.struct}; "
            "or make it an atomic.Int64/atomic.Uint64"
        )
        return Hazard(
            f.file, f.line, "atomic64-misaligned",
            f"{f.call} on {f.struct}.{f.field} at offset {f.offset}, not 8-byte aligned on 32-bit ARM{why} "
            f"[layout of {sized}]",
            fix, f.struct, f.field, f.offset, go_version, f.struct_file,
        )  # fmt: skip
    if f.kind == "atomic64":
        return Hazard(
            f.file, f.line, "atomic64-unproven",
            f"{f.call} on {f.struct}.{f.field}: its offset depends on {f.unknown}, "
            "from a package this tree does not hold",
            f"vendor the package of {f.unknown}, or move {f.lift or f.field} to the top of {f.struct}",
            f.struct, f.field, f.offset, go_version, f.struct_file, f.unknown,
        )  # fmt: skip
    if f.kind == "timespec":
        fix = _patch_for(here, fixes, ("grootfs-utime-omit",)) or "use an untyped constant or syscall.NsecToTimespec"
        return Hazard(
            f.file, f.line, "timespec-int64",
            f"typed 64-bit value in {f.struct}.{f.field} ({f.detail}), which is int32 on linux/arm (does not compile)",
            fix, go=go_version, struct=f.struct, field=f.field,
        )  # fmt: skip
    if f.kind == "statfs":
        fix = _patch_for(here, fixes, ("grootfs-statfs-type",)) or "compare int64(uint32(x.Type))"
        if f.verdict == "sign-extend":
            return Hazard(
                f.file, f.line, "statfs-type-sign-extension",
                f"{f.detail} sign-extends the int32 field on arm: magic numbers above 2^31 (Btrfs 0x9123683E) "
                "never match",
                fix, go=go_version, field=f.field,
            )  # fmt: skip
        return Hazard(
            f.file, f.line, "statfs-type-int64",
            f"{f.field} (int32 on linux/arm) compared with a 64-bit value ({f.detail}) (does not compile)",
            fix, go=go_version, field=f.field,
        )  # fmt: skip
    fix = _patch_for(here, fixes, ("idmapper-uid-map-overflow",)) or "scan into int64 (or uint32) and clamp"
    return Hazard(
        f.file, f.line, "sscanf-int-overflow",
        f"{f.call or 'fmt.Sscanf'} into {f.field} ({f.detail}) while reading uid_map/gid_map: 4294967295 "
        "overflows a 32-bit int",
        fix, go=go_version, field=f.field,
    )  # fmt: skip


# --- Go: seccomp, which needs no types ---------------------------------------------------------------------

# Comments, and the literals a comment marker may hide in, in one pass (literals are kept, comments blanked).
_GO_LEXEMES = re.compile(r"//[^\n]*|/\*.*?\*/|`[^`]*`|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.DOTALL)
_NIL_SECCOMP = re.compile(r"\bSeccomp\s*(?::|=)\s*nil\b")
_ARCHITECTURES = re.compile(r"\bArchitectures\s*:\s*[^{\n]*\{")


def _go_code(text: str) -> str:
    """Go source with its comments blanked (line numbers kept)."""

    def blank(m: re.Match[str]) -> str:
        lexeme = m.group()
        return re.sub(r"[^\n]", " ", lexeme) if lexeme.startswith("/") else lexeme

    return _GO_LEXEMES.sub(blank, text)


def _seccomp_go_hazards(path: Path, src: Path, arch: Arch, fixes: Fixes) -> list[Hazard]:
    try:
        raw = path.read_text(errors="replace")
    except OSError:
        return []
    if "Seccomp" not in raw and "Architectures" not in raw:
        return []
    code = _go_code(raw)
    rel = _rel(path, src)
    vendored = "vendor" in Path(rel).parts
    out = []
    if not vendored:
        for m in _NIL_SECCOMP.finditer(code):
            out.append(
                Hazard(
                    rel, code.count("\n", 0, m.start()) + 1, "seccomp-disabled",
                    "seccomp is switched off: containers run without a syscall filter",
                    "keep the profile and add the ARM architectures to it",
                )
            )  # fmt: skip
    wanted = _SECCOMP_ARCH[arch]
    fix = _patch_for(path, fixes, ("guardian-seccomp-arm",)) or f"add SCMP_ARCH_{wanted}"
    for m in _ARCHITECTURES.finditer(code):
        depth, end = 1, m.end()
        while end < len(code) and depth:
            depth += {"{": 1, "}": -1}.get(code[end], 0)
            end += 1
        names = re.findall(r"\w+", code[m.end() : end - 1])
        listed = {n.replace("SCMP_ARCH_", "Arch").upper() for n in names}
        if names and f"ARCH{wanted}" not in listed:
            out.append(
                Hazard(
                    rel, code.count("\n", 0, m.start()) + 1, "seccomp-arch-missing",
                    f"seccomp architectures lack SCMP_ARCH_{wanted}: on {arch} every container is killed (SIGSYS)",
                    fix,
                )
            )  # fmt: skip
    return out


def _lint_seccomp_json(path: Path, src: Path, arch: Arch) -> list[Hazard]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    arches: list[str] = []
    if isinstance(data, dict):
        arches = [a for a in data.get("architectures", []) if isinstance(a, str)]
        for entry in data.get("archMap", []) if isinstance(data.get("archMap"), list) else []:
            if isinstance(entry, dict):
                arches.append(str(entry.get("architecture", "")))
                arches.extend(str(s) for s in entry.get("subArchitectures", []) or [])
    wanted = f"SCMP_ARCH_{_SECCOMP_ARCH[arch]}"
    if arches and wanted not in arches:
        return [
            Hazard(_rel(path, src), 1, "seccomp-arch-missing", f"profile architectures lack {wanted}", f"add {wanted}")
        ]
    return []


# --- C ----------------------------------------------------------------------------------------------------

_COMMENTS = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)
_DIRECTIVE = re.compile(r"\s*#\s*(ifdef|ifndef|if|elif|else|endif)\b(.*)")


def _c_lines(raw: str) -> list[str]:
    """A C file's lines without comments; a conditional directive continued with `\\` is joined on the line
    where it starts (the lines it took are left blank, so numbers are kept)."""
    lines = _COMMENTS.sub(lambda m: "\n" * m.group().count("\n"), raw).split("\n")
    n = 0
    while n < len(lines):
        start = n
        while _DIRECTIVE.match(lines[start]) and lines[n].endswith("\\") and n + 1 < len(lines):
            n += 1
        if n > start:
            lines[start : n + 1] = ["".join(line.removesuffix("\\") for line in lines[start : n + 1])] + [""] * (
                n - start
            )
        n += 1
    return lines


def _conditions(lines: list[str]) -> list[str | None]:
    """Per line, the condition its `#if`/`#ifdef`/`#ifndef`/`#elif` tests, as an `#if` expression."""
    out: list[str | None] = []
    for line in lines:
        m = _DIRECTIVE.match(line)
        word, rest = (m.group(1), m.group(2).strip()) if m else ("", "")
        name = rest.split()[0] if rest else ""
        out.append({"if": rest, "elif": rest, "ifdef": f"defined({name})", "ifndef": f"!defined({name})"}.get(word))
    return out


Verdicts = dict[str, tuple[bool | None, ...]]  # a condition -> its value for the target's compiler, then others'


def _branches(lines: list[str], verdicts: Verdicts) -> list[tuple[bool, bool]]:
    """Per line: (compiled for the target, in a branch the target's compiler takes and no other architecture's
    does). Conditions no compiler decides (a libc's SYS_ macro, a feature) may be either way: their lines count
    as compiled, and an #else is never an architecture's own branch."""
    out: list[tuple[bool, bool]] = []
    # Per open #if: per compiler (target first) whether this branch is taken and whether an earlier one was.
    stack: list[tuple[list[bool | None], list[bool | None], bool]] = []
    for line, condition in zip(lines, _conditions(lines), strict=True):
        m = _DIRECTIVE.match(line)
        word = m.group(1) if m else ""
        values = verdicts.get(condition or "", ())
        if word in {"if", "ifdef", "ifndef"}:
            branch = list(values)
            stack.append((branch, list(branch), _only_target(values, branch)))
        elif stack and word == "elif":
            _, taken, _ = stack[-1]
            branch = [
                False if t is True else (v if t is False else (False if v is False else None))
                for v, t in zip(values, taken, strict=True)
            ]
            taken = [
                True if t or b else (None if None in (t, b) else False) for t, b in zip(taken, branch, strict=True)
            ]
            stack[-1] = (branch, taken, _only_target(values, branch))
        elif stack and word == "else":
            _, taken, _ = stack[-1]
            stack[-1] = ([None if t is None else not t for t in taken], [True] * len(taken), False)
        elif stack and word == "endif":
            stack.pop()
        compiled = all(branch[0] is not False for branch, _, _ in stack)
        out.append((compiled, compiled and any(chosen for _, _, chosen in stack)))
    return out


def _only_target(values: tuple[bool | None, ...], branch: list[bool | None]) -> bool:
    """The target's compiler may take this branch, by a test it answers true, and no other compiler takes it."""
    return values[0] is True and branch[0] is not False and all(b is False for b in branch[1:])


def _lint_c_files(paths: list[Path], src: Path, arch: Arch, fixes: Fixes) -> list[Hazard]:
    """The C hazards of these files, their conditions judged by the compilers in one run each."""
    if arch == "amd64" or not paths:
        return []
    files = {}
    for path in paths:
        try:
            files[path] = _c_lines(path.read_text(errors="replace"))
        except OSError:
            continue
    conditions = [c for lines in files.values() for c in _conditions(lines) if c is not None]
    verdicts = preprocessor.judge(conditions, arch)
    return [h for path, lines in files.items() for h in _lint_c(path, lines, src, arch, fixes, verdicts)]


def _lint_c(path: Path, lines: list[str], src: Path, arch: Arch, fixes: Fixes, verdicts: Verdicts) -> list[Hazard]:
    branches = _branches(lines, verdicts)
    # Numbers as the target's compiler sees them: a define in a branch chosen for this very architecture is
    # that architecture's number; one outside any such branch (or in an #else fallback) is a guess.
    defines: dict[str, list[tuple[int, int]]] = {}
    for n, line in enumerate(lines, 1):
        m = re.match(r"\s*#\s*define\s+(\w+)\s+(\d+)\s*$", line)
        compiled, chosen = branches[n - 1]
        if m and compiled and not chosen:
            defines.setdefault(m.group(1), []).append((int(m.group(2)), n))
    out = []
    fix = _patch_for(path, fixes, ("nstar-execveat-arm",)) or "use SYS_<name> from <sys/syscall.h>"
    for n, line in enumerate(lines, 1):
        for name in re.findall(r"\bsyscall\s*\(\s*(\w+)", line):
            if name.isdigit() and branches[n - 1][0] and not branches[n - 1][1]:
                numbers = [(int(name), n)]
            else:
                numbers = defines.get(name, [])
            for number, line_no in numbers:
                if number >= 403:  # numbers from 403 on are the same on every architecture (Linux 5.1's y2038 set)
                    continue
                known = _SYSCALLS_X86_64.get(number)
                other = f"; on arm {known[0]} is {known[1]}, on arm64 {known[2]}" if known else ""
                what = f"x86_64's {known[0]}" if known else "an architecture-specific number"
                out.append(
                    Hazard(
                        _rel(path, src), line_no, "syscall-number-hardcoded",
                        f"syscall number {number} ({what}) is what {arch} compiles here{other}", fix,
                    )
                )  # fmt: skip
    return out
