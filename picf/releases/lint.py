"""Find the 32-bit ARM hazards of FACTS.md section 1 in any Go or C tree, before it reaches a Pi.

Checks (ids in brackets):
- [atomic64-misaligned] 64-bit sync/atomic calls on a struct field whose offset is not a multiple of 8 on
  gc/arm; [atomic64-unproven] when the layout depends on a type picf cannot see;
- [timespec-int64] typed 64-bit values in syscall.Timespec/Timeval fields (int32 on linux/arm);
- [statfs-type-int64] Statfs_t.Type (int32 on arm) compared with a 64-bit value, and
  [statfs-type-sign-extension] int64(x.Type) compared with magic numbers above 2^31;
- [sscanf-int-overflow] fmt.Sscanf with %d into an int, in code that reads /proc/*/uid_map or gid_map;
- [syscall-number-hardcoded] syscall numbers written as numbers in C, outside a per-arch #if;
- [seccomp-arch-missing] seccomp architecture lists without the target's SCMP_ARCH_*, and
  [seccomp-disabled] a seccomp profile set to nil.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from picf.errors import UsageError
from picf.models.node import Arch
from picf.models.patch import Patch
from picf.releases import golayout
from picf.releases.gosource import GoFile, Token, all_code_tokens, code_tokens, ident_list
from picf.releases.patching import component_roots

_SKIP_DIRS = {".git", "node_modules", "testdata", "__pycache__"}
_THIRTY_TWO_BIT: set[str] = {"armv6", "armv7"}
_SECCOMP_ARCH = {"armv6": "ARM", "armv7": "ARM", "arm64": "AARCH64", "amd64": "X86_64"}

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
    """One finding: `path:line: id: explanation (fix: ...)`."""

    path: str
    line: int
    id: str
    explanation: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.id}: {self.explanation} (fix: {self.fix})"


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


def lint_tree(src: Path, arch: Arch, catalog: tuple[Patch, ...] = ()) -> list[Hazard]:
    """Every hazard in the Go and C sources under `src` for `arch`, sorted by file and line."""
    hazards: list[Hazard] = []
    fixes = _catalog_fixes(src, catalog)
    go_dirs: set[Path] = set()
    checked = 0
    for directory, subdirs, files in os.walk(src):
        subdirs[:] = sorted(d for d in subdirs if d not in _SKIP_DIRS)
        here = Path(directory)
        for name in files:
            path = here / name
            if name.endswith(".go") and not name.endswith("_test.go"):
                go_dirs.add(here)
                checked += 1
            elif name.endswith((".c", ".h")):
                hazards.extend(_lint_c(path, src, arch, fixes))
                checked += 1
            elif name.endswith(".json") and "seccomp" in name.lower():
                hazards.extend(_lint_seccomp_json(path, src, arch))
                checked += 1
    if not checked:
        raise UsageError(f"{src}: no Go or C sources and no seccomp profile here; pass a source tree")
    for package_dir in sorted(go_dirs):
        hazards.extend(_lint_go_package(package_dir, src, arch, fixes))
    return sorted(set(hazards), key=lambda h: (h.path, h.line, h.id))


def _rel(path: Path | str, src: Path) -> str:
    try:
        return str(Path(path).relative_to(src))
    except ValueError:
        return str(path)


# --- Go ---------------------------------------------------------------------------------------------------


def _lint_go_package(directory: Path, src: Path, arch: Arch, fixes: Fixes) -> list[Hazard]:
    package = golayout.load_package(directory)
    out: list[Hazard] = []
    if arch in _THIRTY_TWO_BIT:
        out.extend(_atomic_hazards(package, src, fixes))
        for gofile in package.files:
            out.extend(_timespec_hazards(gofile, package, src, fixes))
            out.extend(_statfs_hazards(gofile, package, src, fixes))
            out.extend(_sscanf_hazards(gofile, package, src, fixes))
    for gofile in package.files:
        out.extend(_seccomp_go_hazards(gofile, src, arch, fixes))
    return out


def _atomic_hazards(package: golayout.Package, src: Path, fixes: Fixes) -> list[Hazard]:
    out = []
    ids = ("diodes-manytoone-align", "metricemitter-align")
    for access in golayout.atomic_accesses(package):
        field = ".".join(access.path)
        owner = access.base_type or "?"
        if access.aligned is True:
            continue
        if access.aligned is False:
            struct_file = _struct_file(package, access.chain[0][0]) if access.chain else Path(access.file)
            fix = _patch_for(struct_file, fixes, ids) or (
                f"`picf release build --patch` moves {access.chain[0][1]} to the top of {access.chain[0][0]}; "
                "or make it an atomic.Uint64"
            )
            out.append(
                Hazard(
                    _rel(access.file, src), access.line, "atomic64-misaligned",
                    f"{access.call} on {owner}.{field} at offset {access.offset}, not 8-byte aligned on 32-bit ARM",
                    fix,
                )
            )  # fmt: skip
        else:
            out.append(
                Hazard(
                    _rel(access.file, src), access.line, "atomic64-unproven",
                    f"{access.call} on {owner}.{field}: cannot prove 8-byte alignment (type not in this tree)",
                    "move the field to the top of its struct, or make it an atomic.Uint64",
                )
            )  # fmt: skip
    return out


def _struct_file(package: golayout.Package, name: str) -> Path:
    for gofile in package.files:
        if name in gofile.structs:
            return Path(gofile.path)
    return package.directory


def _typed64_names(gofile: GoFile, package: golayout.Package) -> set[str]:
    names: set[str] = set()
    for f in package.files:
        names.update(n for n, t in f.consts.items() if t in {"int64", "uint64"})
    return names


def _value_is_typed64(tokens: list[Token], i: int, typed: set[str]) -> bool:
    """Is the expression starting at tokens[i] a typed 64-bit value (`int64(...)` or a typed constant)?"""
    if i >= len(tokens):
        return False
    tok = tokens[i]
    if tok.text in {"int64", "uint64"} and i + 1 < len(tokens) and tokens[i + 1].text == "(":
        return True
    return tok.kind == "ident" and tok.text in typed and (i + 1 >= len(tokens) or tokens[i + 1].text in {",", "}"})


def _timespec_hazards(gofile: GoFile, package: golayout.Package, src: Path, fixes: Fixes) -> list[Hazard]:
    tokens = all_code_tokens(gofile)
    typed = _typed64_names(gofile, package)
    out = []
    for i in range(len(tokens) - 4):
        if not (
            tokens[i + 1].text == "." and tokens[i + 2].text in {"Timespec", "Timeval"} and tokens[i + 3].text == "{"
        ):
            continue
        if tokens[i].text not in {"syscall", "unix"}:
            continue
        depth, j = 1, i + 4
        while j < len(tokens) and depth:
            depth += {"{": 1, "}": -1}.get(tokens[j].text, 0)
            is_field = tokens[j].text in {"Sec", "Nsec", "Usec"} and j + 1 < len(tokens) and tokens[j + 1].text == ":"
            if depth == 1 and is_field and _value_is_typed64(tokens, j + 2, typed):
                fix = _patch_for(Path(gofile.path), fixes, ("grootfs-utime-omit",)) or (
                    "use an untyped constant or syscall.NsecToTimespec"
                )
                out.append(
                    Hazard(
                        _rel(gofile.path, src), tokens[j].line, "timespec-int64",
                        f"typed 64-bit value {tokens[j + 2].text} in {tokens[i + 2].text}.{tokens[j].text}, "
                        "which is int32 on linux/arm (does not compile)",
                        fix,
                    )
                )  # fmt: skip
            j += 1
    return out


def _statfs_vars(tokens: list[Token]) -> set[str]:
    names: set[str] = set()
    for i in range(len(tokens) - 3):
        if tokens[i].kind != "ident":
            continue
        declared = tokens[i + 1].text in {"syscall", "unix"} and tokens[i + 3].text == "Statfs_t"
        pointer = tokens[i + 1].text == "*" and i + 4 < len(tokens) and tokens[i + 4].text == "Statfs_t"
        if declared or pointer:
            names.add(tokens[i].text)
    return names


def _statfs_hazards(gofile: GoFile, package: golayout.Package, src: Path, fixes: Fixes) -> list[Hazard]:
    out = []
    typed = _typed64_names(gofile, package)
    fix = _patch_for(Path(gofile.path), fixes, ("grootfs-statfs-type",)) or "compare int64(uint32(x.Type))"
    declared = _statfs_vars(all_code_tokens(gofile))  # once per file, not once per function
    for func in gofile.funcs:
        tokens = code_tokens(gofile, func.body)
        params = golayout.func_params(gofile, func)
        wide = typed | {name for name, t in params.items() if t in {"int64", "uint64"}}
        statfs = declared | {n for n, t in params.items() if t == "Statfs_t"}
        for i in range(len(tokens) - 3):
            if not (tokens[i].text in statfs and tokens[i + 1].text == "." and tokens[i + 2].text == "Type"):
                continue
            before = tokens[i - 1].text if i else ""
            if before == "(":  # a conversion: int64(x.Type) sign-extends, uint32(x.Type) is the fix
                conv = tokens[i - 2].text if i > 1 else ""
                if conv in {"int64", "int"} and (i < 3 or tokens[i - 3].text != "("):
                    out.append(
                        Hazard(
                            _rel(gofile.path, src), tokens[i].line, "statfs-type-sign-extension",
                            f"{conv}({tokens[i].text}.Type) sign-extends the int32 field on arm: magic numbers above "
                            "2^31 (Btrfs 0x9123683E) never match",
                            fix,
                        )
                    )  # fmt: skip
                continue
            op = tokens[i + 3].text
            other = tokens[i + 4] if i + 4 < len(tokens) else None
            if op in {"==", "!="} and other is not None and (other.text in wide or other.text in {"int64", "uint64"}):
                out.append(
                    Hazard(
                        _rel(gofile.path, src), tokens[i].line, "statfs-type-int64",
                        f"{tokens[i].text}.Type (int32 on linux/arm) compared with 64-bit {other.text} "
                        "(does not compile)",
                        fix,
                    )
                )  # fmt: skip
    return out


def _int_vars(tokens: list[Token]) -> set[str]:
    """Names declared `var a, b, c int` (or `a := 0`) in a function body."""
    names: set[str] = set()
    i = 0
    while i < len(tokens):
        if tokens[i].text == "var":
            group, j = ident_list(tokens, i + 1, ",")
            if j + 1 < len(tokens) and tokens[j + 1].text in {"int", "uint"}:
                names.update(group)
        elif (
            tokens[i].kind == "ident"
            and i + 2 < len(tokens)
            and tokens[i + 1].text == ":="
            and tokens[i + 2].text == "0"
        ):
            names.add(tokens[i].text)
        i += 1
    return names


def _sscanf_hazards(gofile: GoFile, package: golayout.Package, src: Path, fixes: Fixes) -> list[Hazard]:
    mentions_map = any(
        t.kind in {"str", "raw"} and re.search(r"/proc/[^\"`]*[ug]id_map", t.text)
        for f in package.files
        for t in f.tokens
    )
    if not mentions_map:
        return []
    out = []
    fix = _patch_for(Path(gofile.path), fixes, ("idmapper-uid-map-overflow",)) or "scan into int64 and clamp"
    for func in gofile.funcs:
        tokens = code_tokens(gofile, func.body)
        ints = _int_vars(tokens)
        for i in range(len(tokens) - 3):
            if not (
                tokens[i].text == "fmt" and tokens[i + 2].text in {"Sscanf", "Fscanf"} and tokens[i + 3].text == "("
            ):
                continue
            depth, j, fmt_has_d, targets = 1, i + 4, False, []
            while j < len(tokens) and depth:
                depth += {"(": 1, ")": -1}.get(tokens[j].text, 0)
                if tokens[j].kind in {"str", "raw"} and "%d" in tokens[j].text:
                    fmt_has_d = True
                if tokens[j].text == "&" and j + 1 < len(tokens):
                    targets.append(tokens[j + 1].text)
                j += 1
            bad = [t for t in targets if t in ints]
            if fmt_has_d and bad:
                out.append(
                    Hazard(
                        _rel(gofile.path, src), tokens[i].line, "sscanf-int-overflow",
                        f"fmt.{tokens[i + 2].text} %d into int {', '.join(bad)} while reading uid_map/gid_map: "
                        "4294967295 overflows a 32-bit int",
                        fix,
                    )
                )  # fmt: skip
    return out


def _seccomp_go_hazards(gofile: GoFile, src: Path, arch: Arch, fixes: Fixes) -> list[Hazard]:
    tokens = all_code_tokens(gofile)
    out = []
    wanted = _SECCOMP_ARCH[arch]
    fix = _patch_for(Path(gofile.path), fixes, ("guardian-seccomp-arm",)) or f"add SCMP_ARCH_{wanted}"
    for i in range(len(tokens) - 2):
        if tokens[i].text == "Seccomp" and tokens[i + 1].text in {":", "="} and tokens[i + 2].text == "nil":
            out.append(
                Hazard(
                    _rel(gofile.path, src), tokens[i].line, "seccomp-disabled",
                    "seccomp is switched off: containers run without a syscall filter",
                    "keep the profile and add the ARM architectures to it",
                )
            )  # fmt: skip
        if tokens[i].text == "Architectures" and tokens[i + 1].text == ":":
            j = i + 2
            while j < len(tokens) and tokens[j].text != "{":
                j += 1
            depth, k, names = 1, j + 1, []
            while k < len(tokens) and depth:
                depth += {"{": 1, "}": -1}.get(tokens[k].text, 0)
                if tokens[k].kind in {"ident", "str"}:
                    names.append(tokens[k].text.strip('"'))
                k += 1
            listed = {n.replace("SCMP_ARCH_", "Arch").upper() for n in names}
            if names and f"ARCH{wanted}" not in listed:
                out.append(
                    Hazard(
                        _rel(gofile.path, src), tokens[i].line, "seccomp-arch-missing",
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
_ARCH_MACROS = re.compile(r"__x86_64__|__i386__|__arm__|__aarch64__|__powerpc64__|\bSYS_\w+|__NR_\w+")


def _lint_c(path: Path, src: Path, arch: Arch, fixes: Fixes) -> list[Hazard]:
    if arch == "amd64":
        return []
    try:
        raw = path.read_text(errors="replace")
    except OSError:
        return []
    text = _COMMENTS.sub(lambda m: "\n" * m.group().count("\n"), raw)
    lines = text.split("\n")
    guarded: list[bool] = []  # per line: inside a conditional that names an arch or SYS_ macro
    stack: list[bool] = []
    for line in lines:
        stripped = line.strip()
        if re.match(r"#\s*if", stripped):
            stack.append(bool(_ARCH_MACROS.search(stripped)) or (bool(stack) and stack[-1]))
        elif re.match(r"#\s*(elif|else)", stripped) and stack:
            stack[-1] = stack[-1] or bool(_ARCH_MACROS.search(stripped))
        elif re.match(r"#\s*endif", stripped) and stack:
            stack.pop()
        guarded.append(bool(stack) and stack[-1])
    defines = {}
    for n, line in enumerate(lines, 1):
        m = re.match(r"\s*#\s*define\s+(\w+)\s+(\d+)\s*$", line)
        if m and not guarded[n - 1]:
            defines[m.group(1)] = (int(m.group(2)), n)
    out = []
    fix = _patch_for(path, fixes, ("nstar-execveat-arm",)) or "use SYS_<name> from <sys/syscall.h>"
    used = set(re.findall(r"\bsyscall\s*\(\s*(\w+)", text))
    for name in used:
        if name.isdigit():
            number, line_no = (
                int(name),
                next(i for i, ln in enumerate(lines, 1) if re.search(rf"syscall\s*\(\s*{name}\b", ln)),
            )
        elif name in defines:
            number, line_no = defines[name]
        else:
            continue
        if number >= 403:  # numbers from 403 on are the same on every architecture (Linux 5.1's y2038 set)
            continue
        known = _SYSCALLS_X86_64.get(number)
        other = f"; on arm {known[0]} is {known[1]}, on arm64 {known[2]}" if known else ""
        what = f"x86_64's {known[0]}" if known else "an architecture-specific number"
        out.append(
            Hazard(
                _rel(path, src), line_no, "syscall-number-hardcoded",
                f"syscall number {number} ({what}) is written as a number{other}", fix,
            )
        )  # fmt: skip
    return out
