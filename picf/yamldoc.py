"""Round-trip YAML for files people edit by hand: guarded loading, positions, minimal-change saving.

Loading rejects what a hand-edited file should never contain (binary, huge, alias bombs, absurd nesting) with a
line and column. Saving after an edit changes only the lines the edit must: the edited document is dumped by
ruamel, and the lines that differ from a dump of the unedited document are spliced into the original text, so
comments, quoting, blank lines and indentation elsewhere stay byte-for-byte as the person wrote them.
"""

from __future__ import annotations

import difflib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedBase, CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from picf.errors import PicfError, UsageError
from picf.models.problem import ModelAt, Problem, problems_from

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_NODES = 100_000


@dataclass(frozen=True)
class YamlProblem(Exception):
    """A file that is not usable YAML, with a 1-based line and column (0 when unknown)."""

    message: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        return self.message


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.allow_duplicate_keys = False
    yaml.width = 4096
    return yaml


def decode(data: bytes) -> str:
    """Bytes of a YAML file -> text, refusing what no person wrote by hand."""
    if len(data) > MAX_BYTES:
        raise YamlProblem(f"file is {len(data) / 1e6:.1f} MB; picf reads at most {MAX_BYTES // 1024} KB of YAML")
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise YamlProblem("binary data (NUL byte); is this the right file?", line, 1)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise YamlProblem("not UTF-8 text; save the file as UTF-8", line, 1) from None


def load(text: str) -> Any:
    """Parse round-trip YAML; raise YamlProblem with the position of the first error."""
    tab_line = next((i for i, ln in enumerate(text.splitlines(), 1) if ln[: len(ln) - len(ln.lstrip())].count("\t")), 0)
    if tab_line:
        raise YamlProblem("tab used for indentation; YAML needs spaces", tab_line, 1)
    try:
        doc = _yaml().load(text)
    except DuplicateKeyError as exc:
        mark = exc.problem_mark
        key = (exc.problem or "").split('"')[1] if '"' in (exc.problem or "") else "a key"
        raise YamlProblem(
            f"duplicate key {key!r}: a key may appear once per mapping",
            mark.line + 1 if mark else 0,
            mark.column + 1 if mark else 0,
        ) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise YamlProblem(
            f"YAML syntax: {what}", mark.line + 1 if mark else 0, mark.column + 1 if mark else 0
        ) from None
    except YAMLError as exc:
        raise YamlProblem(f"YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise YamlProblem(f"nesting too deep; picf accepts at most {MAX_DEPTH} levels") from None
    _check_shape(doc)
    return doc


def load_plain(text: str) -> Any:
    """Plain data from YAML, with libyaml (C) when it reads it, for files picf reads many of and edits none
    (release specs); YamlProblem, located by the round-trip parser, when it does not."""
    import yaml as libyaml  # PyYAML, with its C loader

    try:
        data = libyaml.load(text, Loader=getattr(libyaml, "CSafeLoader", libyaml.SafeLoader))
    except libyaml.YAMLError:
        return to_plain(load(text))  # raises the located YamlProblem (or reads what libyaml would not)
    _check_shape(data)
    return data


def _check_shape(doc: Any) -> None:
    """Refuse absurd nesting and alias bombs before anything walks the expanded tree."""
    count = 0
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise YamlProblem(
                f"document expands to more than {MAX_NODES} values (anchors/aliases?); inventories are small"
            )
        if depth > MAX_DEPTH:
            line, col = _own_position(node)
            raise YamlProblem(f"nesting deeper than {MAX_DEPTH} levels", line, col)
        if isinstance(node, Mapping):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def _own_position(node: Any) -> tuple[int, int]:
    if isinstance(node, CommentedBase):
        return node.lc.line + 1, node.lc.col + 1
    return 0, 0


def position(doc: Any, loc: Sequence[str | int], at_key: bool = False) -> tuple[int, int]:
    """1-based (line, col) of the value at `loc` in a round-trip document, or of its nearest parent.

    With `at_key`, the position of the last key itself (for "unknown field" problems)."""
    node = doc
    best = _own_position(doc) if isinstance(doc, CommentedBase) else (1, 1)
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            key_line, key_col = node.lc.key(part)
            child = node[part]
            if (at_key and part == loc[-1]) or (isinstance(child, (CommentedMap, CommentedSeq)) and len(child)):
                best = (key_line + 1, key_col + 1)
            else:
                val_line, val_col = node.lc.value(part)
                best = (val_line + 1, val_col + 1)
            node = child
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line, col = node.lc.item(part)
            best = (line + 1, col + 1)
            node = node[part]
        else:
            break
    return best


Indent = tuple[int, int, int]
_INDENT_STYLES: tuple[Indent, ...] = (
    (2, 4, 2),
    (2, 2, 0),
    (4, 4, 0),
    (4, 6, 2),
    (4, 6, 4),
    (4, 4, 2),
    (3, 3, 0),
)


def dump(doc: Any, indent: Indent = (2, 4, 2)) -> str:
    """Serialise a round-trip document with (mapping, sequence, offset) indentation, ruamel's terms."""
    yaml = _yaml()
    yaml.indent(mapping=indent[0], sequence=indent[1], offset=indent[2])
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def guess_indent(doc: Any, original: str) -> Indent:
    """The indentation style whose dump of `doc` differs from `original` in the fewest lines."""
    lines = original.splitlines()

    def differing(style: Indent) -> int:
        dumped = dump(doc, style).splitlines()
        matcher = difflib.SequenceMatcher(None, lines, dumped, autojunk=False)
        return len(lines) - sum(block.size for block in matcher.get_matching_blocks())

    return min(_INDENT_STYLES, key=differing)


def splice_edit(original: str, before_edit: str, after_edit: str) -> str | None:
    """Apply the line changes between two dumps to the original text; None where they overlap its own
    formatting differences (the caller then uses the plain dump)."""
    if before_edit == after_edit:
        return original
    ours = original.splitlines(keepends=True)
    base = before_edit.splitlines(keepends=True)
    theirs = after_edit.splitlines(keepends=True)
    # Map base line numbers to original line numbers where the two agree.
    base_to_ours: dict[int, int] = {}
    for tag, b1, b2, o1, _o2 in difflib.SequenceMatcher(None, base, ours, autojunk=False).get_opcodes():
        if tag == "equal":
            for k in range(b2 - b1):
                base_to_ours[b1 + k] = o1 + k
    result = list(ours)
    shift = 0
    for tag, b1, b2, t1, t2 in difflib.SequenceMatcher(None, base, theirs, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if b1 < b2:  # replaced or deleted lines: every one must exist unchanged in the original
            if any(b not in base_to_ours for b in range(b1, b2)):
                return None
            o_start, o_end = base_to_ours[b1], base_to_ours[b2 - 1] + 1
            if o_end - o_start != b2 - b1:
                return None
        else:  # pure insertion: anchor after the previous base line (or before the next one)
            if b1 > 0 and (b1 - 1) in base_to_ours:
                o_start = o_end = base_to_ours[b1 - 1] + 1
            elif b1 in base_to_ours:
                o_start = o_end = base_to_ours[b1]
            elif b1 == 0:
                o_start = o_end = 0
            else:
                return None
        result[o_start + shift : o_end + shift] = theirs[t1:t2]
        shift += (t2 - t1) - (o_end - o_start)
    return "".join(result)


def to_plain(node: Any) -> Any:
    """Round-trip document -> plain dicts/lists/scalars (what validation and comparisons see)."""
    if isinstance(node, Mapping):
        return {to_plain(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, ScalarBoolean):  # an int subclass in ruamel, a bool to everyone else
        return bool(node)
    for plain in (bool, str, int, float):
        if isinstance(node, plain):
            return plain(node)
    return node


@dataclass(frozen=True)
class LocatedProblem:
    """A Problem placed in a file: renders as `FILE:LINE:COL: path: message`."""

    file: str
    line: int
    col: int
    problem: Problem

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}" if self.line else self.file
        return f"{where}: {self.problem.path}: {self.problem.message}"


def locate(file: str, doc: Any, problems: list[Problem]) -> list[LocatedProblem]:
    """Place each problem at its line and column in the round-trip document, in file order."""
    located = [LocatedProblem(file, *position(doc, p.loc, p.at_key), p) for p in problems]
    return sorted(located, key=lambda p: (p.line, p.col))


class FileInvalid(PicfError):
    """A YAML file whose content does not make a valid model; carries every located problem."""

    check_command = "fix them"  # what to run after fixing, in the summary line (subclasses name their command)

    def __init__(self, located: list[LocatedProblem]) -> None:
        self.located = located
        file = located[0].file if located else "the file"
        count = f"{len(located)} problem{'' if len(located) == 1 else 's'}"
        super().__init__(f"{file}: {count}; {self.check_command}", problems=located)


M = TypeVar("M", bound=BaseModel)


def load_model(
    path: Path, model: type[M], model_at: ModelAt, missing: str, text: str | None = None
) -> tuple[M, Any, str]:
    """Read `path` (or take its `text`, kept elsewhere) and validate it as `model`: (the model, the round-trip
    document, the text). FileInvalid names every problem with its line and column; `missing` is the advice for
    an absent file."""
    if text is None and not path.exists():
        raise UsageError(f"{path}: no such file; {missing}")
    if text is None and not path.is_file():
        raise UsageError(f"{path}: not a file; {missing}")
    try:
        text = decode(path.read_bytes()) if text is None else text
        doc = load(text)
    except YamlProblem as exc:
        raise FileInvalid([LocatedProblem(str(path), exc.line, exc.col, Problem((), exc.message))]) from None
    try:
        return model.model_validate(to_plain(doc)), doc, text
    except ValidationError as exc:
        raise FileInvalid(locate(str(path), doc, problems_from(exc, model_at))) from None
