"""Syscall numbers written as numbers in C, judged by the branch of each `#if` the target's compiler takes
(preprocessor.py): a number in a branch only the target's compiler takes is that architecture's; one outside
any such branch (or in an #else fallback) is a guess."""

from __future__ import annotations

import re
from pathlib import Path

from picf.models.node import Arch
from picf.releases.lint import preprocessor
from picf.releases.lint.hazard import Fixes, Hazard, patch_for, rel

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


def c_hazards(paths: list[Path], src: Path, arch: Arch, fixes: Fixes) -> list[Hazard]:
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
    fix = patch_for(path, fixes, ("nstar-execveat-arm",)) or "use SYS_<name> from <sys/syscall.h>"
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
                        rel(path, src), line_no, "syscall-number-hardcoded",
                        f"syscall number {number} ({what}) is what {arch} compiles here{other}", fix,
                    )
                )  # fmt: skip
    return out
