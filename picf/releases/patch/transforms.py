"""The patch transforms: text in, text out (or a reason why not). Pure apart from align64, which asks Go's type
checker where the fields are.

Each transform answers one of: the new text (apply), "already applied" (picf's marker is there), "fixed
upstream" (the anchor is gone and upstream's own fix is visible), or "anchor missing" (upstream changed: the
file is left alone and the user is told which text was expected where).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from picf.models.node import Arch
from picf.models.patch import Align64, Append, FixedWhen, Replace, SeccompArch, SyscallNumber, Transform
from picf.releases.lint import gotypes
from picf.releases.lint.gotypes import FieldLines, GoFinding


@dataclass(frozen=True)
class Outcome:
    """What one transform does to one file's text."""

    status: str  # apply | already-applied | fixed-upstream | anchor-missing
    text: str
    detail: str = ""


def marker(patch_id: str) -> str:
    """The comment tag picf leaves in patched code, so a second run knows."""
    return f"picf({patch_id})"


def anchor_regex(anchor: str) -> re.Pattern[str]:
    """The anchor as a regex that tolerates gofmt's spacing: any spaces between tokens, one or more between words."""
    parts = re.findall(r"\w+|\s+|[^\w\s]", anchor)
    pattern = ""
    previous = ""
    for part in parts:
        if part.isspace():
            continue
        if pattern:
            pattern += r"\s+" if previous[-1:].isalnum() and part[:1].isalnum() else r"\s*"
        pattern += re.escape(part)
        previous = part
    return re.compile(pattern)


def _fixed_upstream(text: str, rules: tuple[FixedWhen, ...], arch: Arch) -> bool:
    return any((rule.arches is None or arch in rule.arches) and re.search(rule.pattern, text) for rule in rules)


def replace(text: str, t: Replace, patch_id: str, arch: Arch) -> Outcome:
    if t.replacement.strip() in text:
        return Outcome("already-applied", text)
    if _fixed_upstream(text, t.fixed_when, arch):
        return Outcome("fixed-upstream", text)  # even where the anchor's text is still there (a wider type)
    matches = list(anchor_regex(t.anchor).finditer(text))
    if len(matches) == t.count:
        out = text
        for m in reversed(matches):
            out = out[: m.start()] + t.replacement + out[m.end() :]
        return Outcome("apply", out)
    found = f"found {len(matches)} times, expected {t.count}" if matches else "not found"
    return Outcome("anchor-missing", text, f"{t.file}: anchor {t.anchor!r} {found}")


def append(text: str, t: Append, patch_id: str, arch: Arch) -> Outcome:
    first = next((ln.strip() for ln in t.text.splitlines() if ln.strip()), "")
    if first and first in text:
        return Outcome("already-applied", text)
    if _fixed_upstream(text, t.fixed_when, arch):
        return Outcome("fixed-upstream", text)
    return Outcome("apply", text.rstrip("\n") + "\n" + t.text.rstrip("\n") + "\n")


def syscall_number(text: str, t: SyscallNumber, patch_id: str, arch: Arch) -> Outcome:
    if marker(patch_id) in text:
        return Outcome("already-applied", text)
    if _fixed_upstream(text, t.fixed_when, arch):
        return Outcome("fixed-upstream", text)
    define = re.compile(rf"^([ \t]*)#[ \t]*define[ \t]+{re.escape(t.macro)}[ \t]+{t.x86_64}\b[^\n]*$", re.MULTILINE)
    matches = list(define.finditer(text))
    if len(matches) != 1:
        return Outcome("anchor-missing", text, f"{t.file}: `#define {t.macro} {t.x86_64}` found {len(matches)} times")
    lines = [f"/* {marker(patch_id)}: {t.syscall} has a different number on each architecture */"]
    lines.append(f"#if defined(SYS_{t.syscall})")
    lines.append(f"#define {t.macro} SYS_{t.syscall}")
    for cpp_arch, number in t.numbers.items():
        lines.append(f"#elif defined({cpp_arch})")
        lines.append(f"#define {t.macro} {number}")
    lines.append("#else")
    lines.append(f'#error "{t.macro}: no {t.syscall} syscall number known for this architecture"')
    lines.append("#endif")
    m = matches[0]
    out = text[: m.start()] + "\n".join(lines) + text[m.end() :]
    if not re.search(r"#\s*include\s*<sys/syscall\.h>", out):
        includes = list(re.finditer(r"^#\s*include[^\n]*$", out, re.MULTILINE))
        at = includes[-1].end() if includes else 0
        out = out[:at] + ("\n" if at else "") + "#include <sys/syscall.h>" + ("" if at else "\n") + out[at:]
    return Outcome("apply", out)


_NIL_SECCOMP = re.compile(r"\bSeccomp\s*(?::|=)\s*nil\b")


def _literal_after(text: str, key: str) -> tuple[int, int] | None:
    """Span (inside the braces) of the composite literal that follows `key:`."""
    m = re.search(rf"\b{key}\s*:\s*[^{{\n]*\{{", text)
    if not m:
        return None
    depth, i = 1, m.end()
    while i < len(text) and depth:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return (m.end(), i - 1) if depth == 0 else None


def seccomp_arch(text: str, t: SeccompArch, patch_id: str, arch: Arch) -> Outcome:
    nil = _NIL_SECCOMP.search(text)
    if nil:
        line = text[: nil.start()].count("\n") + 1
        return Outcome(
            "anchor-missing", text,
            f"{t.file}:{line}: seccomp is switched off here; picf adds ARM to the profile, it does not patch "
            "around a disabled one: restore the profile first",
        )  # fmt: skip
    if marker(patch_id) in text:
        return Outcome("already-applied", text)
    span = _literal_after(text, "Architectures")
    if span is None:
        return Outcome("anchor-missing", text, f"{t.file}: no `Architectures:` list found")
    body = text[span[0] : span[1]]
    qualified = re.search(r"(\w+\.)?ArchX86_64\b", body)
    if qualified is None:
        return Outcome("anchor-missing", text, f"{t.file}: `Architectures:` does not list ArchX86_64")
    prefix = qualified.group(1) or ""
    missing = [a for a in t.add_arches if not re.search(rf"\b{a}\b", body)]
    if not missing:
        return Outcome("fixed-upstream", text)
    stripped = body.rstrip()
    addition = ", ".join(prefix + a for a in missing)
    if "\n" in stripped:
        indent = re.findall(r"\n([ \t]*)\S", body)[-1]
        new_body = f"{stripped}\n{indent}{addition}, // {marker(patch_id)}\n" + body[len(body.rstrip(" \t")) :].lstrip(
            "\n"
        )
    else:
        sep = "" if stripped.endswith(",") else ", "
        new_body = f"{stripped}{sep}{addition} /* {marker(patch_id)} */"
    out = text[: span[0]] + new_body + text[span[1] :]
    # The ARM-only syscalls join the allow list that holds an everyday syscall.
    group = re.search(
        rf"Names\s*:\s*\[\]string\s*\{{(?P<names>[^}}]*\"{re.escape(t.allow_group_with)}\"[^}}]*)\}}", out
    )
    if group is None:
        return _allow_calls(text, out, t, patch_id)
    names = group.group("names")
    wanted = [s for s in t.add_syscalls if f'"{s}"' not in names]
    if wanted:
        if "\n" in names:
            indent = re.findall(r"\n([ \t]*)\"", names)[0]
            extra = "".join(f'\n{indent}"{s}",' for s in wanted)
            extra = f"\n{indent}// {marker(patch_id)}: ARM-only syscalls, as containerd allows them{extra}"
            insert_at = group.start("names")
            out = out[:insert_at] + extra + out[insert_at:]
        else:
            listed = ", ".join(f'"{s}"' for s in wanted)
            out = out[: group.start("names")] + listed + ", " + out[group.start("names") :]
    return Outcome("apply", out)


def _allow_calls(text: str, out: str, t: SeccompArch, patch_id: str) -> Outcome:
    """The later shape of a profile: one `Allow...("name"),` call per syscall (guardian since 2019). The ARM-only
    syscalls are added after the call that allows `allow_group_with`, in the same form."""
    call = re.search(rf'^([ \t]*)(\w+)\("{re.escape(t.allow_group_with)}"\),[^\n]*$', out, re.MULTILINE)
    if call is None:
        return Outcome("anchor-missing", text, f"{t.file}: no allow list naming {t.allow_group_with!r}")
    indent, helper = call.group(1), call.group(2)
    wanted = [s for s in t.add_syscalls if not re.search(rf'\b{helper}\("{re.escape(s)}"\)', out)]
    if wanted:
        added = "".join(f'\n{indent}{helper}("{s}"),' for s in wanted)
        note = f"\n{indent}// {marker(patch_id)}: ARM-only syscalls, as containerd allows them"
        out = out[: call.end()] + note + added + out[call.end() :]
    return Outcome("apply", out)


def align64(
    path: Path, text: str, t: Align64, patch_id: str, arch: Arch, others: dict[Path, str], goroot: Path | None = None
) -> Outcome:
    """Move atomically used 64-bit fields to the top of the named structs until every access is aligned. Go's
    type checker (the analyzer) says which accesses are misaligned and where each field is declared; structs are
    sized with the Go at `goroot` (the one the tree declares), else the machine's."""
    missing = [s for s in t.structs if not re.search(rf"\btype\s+{re.escape(s)}\b[^\n]*\bstruct\s*{{", text)]
    if missing:
        return Outcome("anchor-missing", text, f"{t.file}: struct {', '.join(missing)} not found")
    out = text
    for _ in range(5):
        overlay = {**{p: v for p, v in others.items() if p.suffix == ".go"}, path: out}
        report = gotypes.analyze(path.parent, gotypes.GOARCH[arch], overlay, goroot)
        bad = [
            f for f in report.findings
            if f.kind == "atomic64" and f.verdict == "misaligned" and f.struct in t.structs
            and f.struct_file == path.name and f.lift
        ]  # fmt: skip
        if not bad:
            break
        new = _lift_fields(out, bad, patch_id)
        if new == out:
            where = ", ".join(sorted({f"{f.struct}.{f.field}" for f in bad}))
            return Outcome("anchor-missing", text, f"{t.file}: moving fields does not align {where}")
        out = new
    else:
        return Outcome("anchor-missing", text, f"{t.file}: fields still misaligned after moving them")
    if out != text:
        return Outcome("apply", out)
    return Outcome("already-applied" if marker(patch_id) in text else "fixed-upstream", text)


def _lift_fields(text: str, findings: list[GoFinding], patch_id: str) -> str:
    """Move the field declarations each finding names (`lift`) to the top of its struct, as the analyzer
    located them; one marker comment per struct."""
    lines = text.split("\n")
    by_struct: dict[tuple[int, int], tuple[tuple[FieldLines, ...], set[str]]] = {}
    for f in findings:
        fields, names = by_struct.setdefault(f.struct_lines, (f.fields, set()))
        names.add(f.lift)
    note_text = f"// {marker(patch_id)}: 64-bit atomic fields first, 8-byte aligned on 32-bit ARM"
    # Bottom-up, so the line numbers of structs above stay valid.
    for (open_line, close_line), (fields, names) in sorted(by_struct.items(), reverse=True):
        if open_line == close_line or not fields:
            continue  # a one-line struct: nothing to move line by line
        moving = [d for d in fields if names & set(d.names)]
        if not moving or [d.first for d in fields[: len(moving)]] == [d.first for d in moving]:
            continue  # already first
        blocks = [lines[d.first - 1 : d.last] for d in moving]
        indent = re.match(r"[ \t]*", lines[fields[0].first - 1])
        pad = indent.group() if indent else "\t"
        for d in sorted(moving, key=lambda d: -d.first):
            del lines[d.first - 1 : d.last]
        has_note = note_text in lines[open_line]
        insert = ([] if has_note else [pad + note_text]) + [ln for block in blocks for ln in block]
        lines[open_line + (1 if has_note else 0) : open_line + (1 if has_note else 0)] = insert
    return "\n".join(lines)


def apply_transform(
    path: Path, text: str, t: Transform, patch_id: str, arch: Arch, others: dict[Path, str], goroot: Path | None = None
) -> Outcome:
    """Run one transform on one file's text (an align64 sizes structs with the Go at `goroot`)."""
    if isinstance(t, Replace):
        return replace(text, t, patch_id, arch)
    if isinstance(t, Append):
        return append(text, t, patch_id, arch)
    if isinstance(t, SyscallNumber):
        return syscall_number(text, t, patch_id, arch)
    if isinstance(t, SeccompArch):
        return seccomp_arch(text, t, patch_id, arch)
    return align64(path, text, t, patch_id, arch, others, goroot)
