"""Struct layout as gc lays it out on 32-bit ARM, and where sync/atomic touches 64-bit fields.

The rule (sync/atomic, "Bugs"): on ARM, 386 and 32-bit MIPS, 64-bit words accessed atomically must be 64-bit
aligned; only the first word of an allocated struct, array or slice (or a global or local variable) is. On
gc/arm, int64/uint64/float64 are 8 bytes with 4-byte alignment, so a uint64 after a slice (12 bytes) sits at
offset 12 and `atomic.AddUint64` on it panics. Sizes and alignments are those of FACTS.md section 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from picf.releases.gosource import (
    FuncDecl,
    GoFile,
    StructDecl,
    Token,
    TypeExpr,
    code_tokens,
    ident_list,
    parse_file,
)

# (size, align) on gc/arm (32-bit)
_BASIC32: dict[str, tuple[int, int]] = {
    "bool": (1, 1), "int8": (1, 1), "uint8": (1, 1), "byte": (1, 1),
    "int16": (2, 2), "uint16": (2, 2),
    "int32": (4, 4), "uint32": (4, 4), "rune": (4, 4), "float32": (4, 4),
    "int64": (8, 4), "uint64": (8, 4), "float64": (8, 4), "complex64": (8, 4), "complex128": (16, 4),
    "int": (4, 4), "uint": (4, 4), "uintptr": (4, 4),
    "string": (8, 4), "error": (8, 4), "any": (8, 4),
}  # fmt: skip

# Types from other packages whose 32-bit layout is stable and well known.
_EXTERNAL32: dict[str, tuple[int, int]] = {
    "unsafe.Pointer": (4, 4),
    "sync.Mutex": (8, 4),
    "sync.RWMutex": (24, 4),
    "sync.Once": (12, 4),
    "time.Time": (20, 4),
    "time.Duration": (8, 4),
    "atomic.Int64": (8, 8),  # aligned by the compiler since Go 1.19
    "atomic.Uint64": (8, 8),
    "atomic.Int32": (4, 4),
    "atomic.Uint32": (4, 4),
    "atomic.Bool": (4, 4),
    "atomic.Value": (8, 4),
    "atomic.Pointer": (4, 4),
    "http.Client": (20, 4),
}

ATOMIC64 = re.compile(r"^(Add|Load|Store|Swap|CompareAndSwap)(Int64|Uint64)$")


@dataclass
class Package:
    """The Go files of one directory (one package), parsed."""

    directory: Path
    files: list[GoFile]

    def struct(self, name: str) -> StructDecl | None:
        for gofile in self.files:
            if name in gofile.structs:
                return gofile.structs[name]
        return None

    def alias(self, name: str) -> TypeExpr | None:
        for gofile in self.files:
            if name in gofile.aliases:
                return gofile.aliases[name]
        return None


def load_package(directory: Path, overrides: dict[Path, str] | None = None) -> Package:
    """Parse every non-test .go file in `directory` (`overrides` replaces a file's text)."""
    files = []
    for path in sorted(directory.glob("*.go")):
        if path.name.endswith("_test.go"):
            continue
        text = (overrides or {}).get(path)
        if text is None:
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
        files.append(parse_file(str(path), text))
    return Package(directory=directory, files=files)


def _round(offset: int, align: int) -> int:
    return (offset + align - 1) // align * align


def layout(t: TypeExpr, package: Package, depth: int = 0) -> tuple[int, int] | None:
    """(size, align) of a type on gc/arm, or None when it depends on something picf cannot see."""
    if depth > 20:
        return None
    if t.kind in {"pointer", "map", "chan", "func"}:
        return 4, 4
    if t.kind == "slice":
        return 12, 4
    if t.kind == "interface":
        return 8, 4
    if t.kind == "array":
        if t.length is None or t.elem is None:
            return None
        inner = layout(t.elem, package, depth + 1)
        return None if inner is None else (inner[0] * t.length, inner[1])
    if t.kind == "struct":
        offsets = field_offsets(t, package, depth + 1)
        return None if offsets is None else offsets[1]
    if t.kind == "name":
        if t.package:
            return _EXTERNAL32.get(f"{t.package}.{t.name}")
        if t.name in _BASIC32:
            return _BASIC32[t.name]
        decl = package.struct(t.name)
        if decl is not None:
            return layout(decl.struct, package, depth + 1)
        alias = package.alias(t.name)
        if alias is not None:
            return layout(alias, package, depth + 1)
    return None


def field_offsets(
    struct: TypeExpr, package: Package, depth: int = 0
) -> tuple[list[tuple[str, int, TypeExpr]], tuple[int, int]] | None:
    """Every field name with its offset and type, and the struct's (size, align); None if unknown."""
    offset, max_align = 0, 1
    out: list[tuple[str, int, TypeExpr]] = []
    for f in struct.fields:
        size_align = layout(f.type, package, depth + 1)
        if size_align is None:
            return None
        size, align = size_align
        for name in f.field_names:
            offset = _round(offset, align)
            out.append((name, offset, f.type))
            offset += size
        max_align = max(max_align, align)
    return out, (_round(offset, max_align), max_align)


@dataclass(frozen=True)
class AtomicAccess:
    """A 64-bit sync/atomic call on `&base.f1.f2...` and where the field lies."""

    file: str
    line: int
    call: str
    path: tuple[str, ...]  # field names after the base variable
    base_type: str | None  # struct the base variable has (None: not resolved)
    owner: str | None  # struct declaring the final field
    offset: int | None  # from the start of the allocated base struct; None when unknown
    chain: tuple[tuple[str, str], ...]  # (struct, field) pairs walked, outermost first

    @property
    def aligned(self) -> bool | None:
        return None if self.offset is None else self.offset % 8 == 0


def _atomic_names(gofile: GoFile) -> set[str]:
    return {local for local, path in gofile.imports.items() if path == "sync/atomic"}


def _locals(tokens: list[Token], func: FuncDecl, params: dict[str, str]) -> dict[str, str]:
    """Variables of a function whose struct type is evident: receiver, params, `var x T`, `x := &T{`."""
    known = dict(params)
    if func.receiver_name and func.receiver_type:
        known[func.receiver_name] = func.receiver_type
    for i, tok in enumerate(tokens[:-2]):
        nxt = tokens[i + 1]
        if tok.text == "var" and nxt.kind == "ident":
            j = i + 2
            while j < len(tokens) and tokens[j].text in {"*", "&"}:
                j += 1
            if j < len(tokens) and tokens[j].kind == "ident":
                known[nxt.text] = tokens[j].text
        if tok.kind == "ident" and nxt.text == ":=":
            j = i + 2
            while j < len(tokens) and tokens[j].text in {"&", "*"}:
                j += 1
            if j + 1 < len(tokens) and tokens[j].text == "new" and tokens[j + 1].text == "(":
                if j + 2 < len(tokens):
                    known[tok.text] = tokens[j + 2].text
            elif j + 1 < len(tokens) and tokens[j].kind == "ident" and tokens[j + 1].text == "{":
                known[tok.text] = tokens[j].text
    return known


def _walk(
    base: str, path: tuple[str, ...], package: Package
) -> tuple[int | None, str | None, tuple[tuple[str, str], ...]]:
    """Offset of base.path... from the allocation start; pointer hops restart at 0 (a new allocation)."""
    offset = 0
    current: str | None = base
    chain: list[tuple[str, str]] = []
    owner: str | None = None
    for name in path:
        if current is None:
            return None, owner, tuple(chain)
        found = _find_field(current, name, package, set())
        if found is None:
            return None, owner, tuple(chain)
        rel, ftype, hops = found
        chain.extend(hops)
        owner = hops[-1][0]
        offset += rel
        nxt: str | None = None
        if ftype.kind == "pointer" and ftype.elem is not None and ftype.elem.kind == "name" and not ftype.elem.package:
            offset, nxt = 0, ftype.elem.name
        elif ftype.kind == "name" and not ftype.package and package.struct(ftype.name) is not None:
            nxt = ftype.name
        current = nxt
    return offset, owner, tuple(chain)


def _find_field(
    struct_name: str, name: str, package: Package, seen: set[str]
) -> tuple[int, TypeExpr, list[tuple[str, str]]] | None:
    """A field by name, directly or promoted from an embedded struct; its offset within `struct_name`."""
    if struct_name in seen:
        return None
    seen.add(struct_name)
    decl = package.struct(struct_name)
    if decl is None:
        return None
    offsets = field_offsets(decl.struct, package)
    if offsets is None:
        # Unknown layout: still say which field it is, with no offset.
        for f in decl.struct.fields:
            if name in f.field_names and not f.embedded:
                return None
        return None
    by_name = {n: (off, t) for n, off, t in offsets[0]}
    if name in by_name:
        off, ftype = by_name[name]
        return off, ftype, [(struct_name, name)]
    for f in decl.struct.fields:
        if f.embedded and f.type.kind == "name" and not f.type.package:
            inner = _find_field(f.type.name, name, package, seen)
            if inner is not None:
                embedded_name = f.field_names[0]
                return by_name[embedded_name][0] + inner[0], inner[1], [(struct_name, embedded_name), *inner[2]]
    return None


def _owner_guess(path: tuple[str, ...], package: Package) -> list[str]:
    """Structs of the package that declare the first field of `path` (when the base is unresolved)."""
    return sorted(
        name
        for gofile in package.files
        for name, decl in gofile.structs.items()
        if any(path[0] in f.field_names for f in decl.struct.fields)
    )


def atomic_accesses(package: Package) -> list[AtomicAccess]:
    """Every `atomic.{Add,Load,Store,Swap,CompareAndSwap}{Int64,Uint64}(&x.f...)` in the package."""
    found: list[AtomicAccess] = []
    for gofile in package.files:
        names = _atomic_names(gofile)
        if not names:
            continue
        for func in gofile.funcs:
            tokens = code_tokens(gofile, func.body)
            local_types = _locals(tokens, func, func_params(gofile, func))
            for i in range(len(tokens) - 5):
                if not (tokens[i].text in names and tokens[i + 1].text == "." and ATOMIC64.match(tokens[i + 2].text)):
                    continue
                if tokens[i + 3].text != "(" or tokens[i + 4].text != "&":
                    continue
                idents, _ = ident_list(tokens, i + 5, ".")
                if len(idents) < 2:
                    continue  # &global or &local: aligned by the allocator
                base, path = idents[0], tuple(idents[1:])
                call = f"{tokens[i].text}.{tokens[i + 2].text}"
                base_type = local_types.get(base)
                candidates = [base_type] if base_type and package.struct(base_type) else _owner_guess(path, package)
                if len(candidates) != 1:
                    found.append(AtomicAccess(gofile.path, tokens[i].line, call, path, None, None, None, ()))
                    continue
                offset, owner, chain = _walk(candidates[0], path, package)
                found.append(AtomicAccess(gofile.path, tokens[i].line, call, path, candidates[0], owner, offset, chain))
    return found


def func_params(gofile: GoFile, func: FuncDecl) -> dict[str, str]:
    """`name *T` / `name T` parameters of a function (the struct-typed ones matter)."""
    tokens = gofile.code
    # find the func keyword at func.line, then the parameter list after the name
    params: dict[str, str] = {}
    for i, tok in enumerate(tokens):
        if tok.line == func.line and tok.text == "func":
            j = i + 1
            if j < len(tokens) and tokens[j].text == "(":  # receiver
                depth = 0
                while j < len(tokens):
                    depth += tokens[j].text == "("
                    depth -= tokens[j].text == ")"
                    j += 1
                    if depth == 0:
                        break
            j += 1  # name
            if j < len(tokens) and tokens[j].text == "(":
                group: list[Token] = []
                depth = 0
                while j < len(tokens):
                    depth += tokens[j].text in "([{"
                    depth -= tokens[j].text in ")]}"
                    group.append(tokens[j])
                    j += 1
                    if depth == 0:
                        break
                for k in range(1, len(group) - 2):
                    if group[k].kind == "ident" and group[k + 1].text == "*" and group[k + 2].kind == "ident":
                        params[group[k].text] = group[k + 2].text
                    elif group[k].kind == "ident" and group[k + 1].kind == "ident" and group[k - 1].text in "(,":
                        params[group[k].text] = group[k + 1].text
            break
    return params
