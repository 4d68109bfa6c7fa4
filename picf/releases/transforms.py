"""The patch transforms: text in, text out (or a reason why not). Pure apart from align64's package view.

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
from picf.releases import golayout


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
    matches = list(anchor_regex(t.anchor).finditer(text))
    if len(matches) == t.count:
        out = text
        for m in reversed(matches):
            out = out[: m.start()] + t.replacement + out[m.end() :]
        return Outcome("apply", out)
    if not matches and _fixed_upstream(text, t.fixed_when, arch):
        return Outcome("fixed-upstream", text)
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
        return Outcome("anchor-missing", text, f"{t.file}: no allow list naming {t.allow_group_with!r}")
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


def align64(path: Path, text: str, t: Align64, patch_id: str, arch: Arch, others: dict[Path, str]) -> Outcome:
    """Move atomically used 64-bit fields to the top of the named structs until every access is aligned."""
    out = text
    moved_any = False
    for _ in range(5):
        package = golayout.load_package(path.parent, {**others, path: out})
        structs = {name for gofile in package.files if gofile.path == str(path) for name in gofile.structs}
        missing = [s for s in t.structs if s not in structs]
        if missing:
            return Outcome("anchor-missing", text, f"{t.file}: struct {', '.join(missing)} not found")
        accesses = [a for a in golayout.atomic_accesses(package) if a.chain and a.chain[0][0] in t.structs]
        bad = [a for a in accesses if a.aligned is False]
        if not bad:
            break
        # Fields to lift: for each bad access, the first hop of its chain that is not at an 8-aligned offset.
        lifts: dict[str, list[str]] = {}
        for access in accesses:
            struct, field = access.chain[0]
            lifts.setdefault(struct, [])
            if field not in lifts[struct]:
                lifts[struct].append(field)
        new = _lift_fields(out, str(path), lifts, patch_id)
        if new == out:
            return Outcome(
                "anchor-missing", text, f"{t.file}: cannot move fields of {', '.join(lifts)} (one-line struct?)"
            )
        out, moved_any = new, True
    else:
        return Outcome("anchor-missing", text, f"{t.file}: fields still misaligned after moving them")
    if moved_any:
        return Outcome("apply", out)
    return Outcome("already-applied" if marker(patch_id) in text else "fixed-upstream", text)


def _lift_fields(text: str, path: str, lifts: dict[str, list[str]], patch_id: str) -> str:
    from picf.releases.gosource import parse_file

    gofile = parse_file(path, text)
    lines = text.split("\n")
    # Work bottom-up so earlier line numbers stay valid.
    for name in sorted(lifts, key=lambda n: -gofile.structs[n].open_line if n in gofile.structs else 0):
        decl = gofile.structs.get(name)
        if decl is None or decl.open_line == decl.close_line:
            continue
        fields = [f for f in decl.struct.fields if set(f.field_names) & set(lifts[name])]
        if not fields:
            continue
        first_field = decl.struct.fields[0]
        if [f.line for f in decl.struct.fields[: len(fields)]] == [f.line for f in fields] and marker(patch_id) in text:
            continue
        blocks = [lines[f.first_line - 1 : f.last_line] for f in fields]
        for f in sorted(fields, key=lambda f: -f.first_line):
            del lines[f.first_line - 1 : f.last_line]
        indent = re.match(r"[ \t]*", lines[first_field.first_line - 1] if first_field not in fields else blocks[0][-1])
        pad = indent.group() if indent else "\t"
        note = f"{pad}// {marker(patch_id)}: 64-bit atomic fields first, 8-byte aligned on 32-bit ARM"
        insert = [note] + [ln for block in blocks for ln in block]
        lines[decl.open_line : decl.open_line] = insert
    return "\n".join(lines)


def apply_transform(path: Path, text: str, t: Transform, patch_id: str, arch: Arch, others: dict[Path, str]) -> Outcome:
    """Run one transform on one file's text."""
    if isinstance(t, Replace):
        return replace(text, t, patch_id, arch)
    if isinstance(t, Append):
        return append(text, t, patch_id, arch)
    if isinstance(t, SyscallNumber):
        return syscall_number(text, t, patch_id, arch)
    if isinstance(t, SeccompArch):
        return seccomp_arch(text, t, patch_id, arch)
    return align64(path, text, t, patch_id, arch, others)
