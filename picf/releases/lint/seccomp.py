"""Seccomp profiles without the target's architecture, or switched off: in Go (no types needed) and JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

from picf.models.node import Arch
from picf.releases.lint.hazard import Fixes, Hazard, patch_for, rel

_SECCOMP_ARCH = {"armv6": "ARM", "armv7": "ARM", "arm64": "AARCH64", "amd64": "X86_64"}
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


def seccomp_go_hazards(path: Path, src: Path, arch: Arch, fixes: Fixes) -> list[Hazard]:
    """A Go file's seccomp profiles set to nil, or whose architectures lack the target's."""
    try:
        raw = path.read_text(errors="replace")
    except OSError:
        return []
    if "Seccomp" not in raw and "Architectures" not in raw:
        return []
    code = _go_code(raw)
    where = rel(path, src)
    vendored = "vendor" in Path(where).parts
    out = []
    if not vendored:
        for m in _NIL_SECCOMP.finditer(code):
            out.append(
                Hazard(
                    where, code.count("\n", 0, m.start()) + 1, "seccomp-disabled",
                    "seccomp is switched off: containers run without a syscall filter",
                    "keep the profile and add the ARM architectures to it",
                )
            )  # fmt: skip
    wanted = _SECCOMP_ARCH[arch]
    fix = patch_for(path, fixes, ("guardian-seccomp-arm",)) or f"add SCMP_ARCH_{wanted}"
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
                    where, code.count("\n", 0, m.start()) + 1, "seccomp-arch-missing",
                    f"seccomp architectures lack SCMP_ARCH_{wanted}: on {arch} every container is killed (SIGSYS)",
                    fix,
                )
            )  # fmt: skip
    return out


def seccomp_json_hazards(path: Path, src: Path, arch: Arch) -> list[Hazard]:
    """A JSON seccomp profile whose architectures lack the target's."""
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
            Hazard(rel(path, src), 1, "seccomp-arch-missing", f"profile architectures lack {wanted}", f"add {wanted}")
        ]
    return []
