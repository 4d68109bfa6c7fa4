"""Package `files:` globs with the semantics bosh-cli uses (the doublestar library, v1).

`*` and `?` never cross `/` and match dot-files too; `**` as a whole path component is zero or more directories
(symlinked directories are descended into); `**` glued to other text is a `*`; `[abc]`, `[a-z]`, `[^x]`,
`{a,b}` and `\\` escapes work; a component without wildcards matches if it exists. Results are paths relative
to the base, files and directories alike (callers drop directories, as bosh-cli does).
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

_MAGIC = re.compile(r"[*?\[{\\]")


def _split(pattern: str) -> list[str]:
    cleaned = posixpath.normpath("/" + pattern.strip()).lstrip("/")
    return [] if cleaned in ("", ".") else cleaned.split("/")


@lru_cache(maxsize=4096)
def _regex(component: str) -> re.Pattern[str]:
    out, i, n = [], 0, len(component)
    while i < n:
        c = component[i]
        if c == "\\" and i + 1 < n:
            out.append(re.escape(component[i + 1]))
            i += 2
            continue
        if c == "*":
            while i < n and component[i] == "*":
                i += 1
            out.append("[^/]*")
            continue
        if c == "?":
            out.append("[^/]")
        elif c == "[":
            end = component.find("]", i + 2 if component[i + 1 : i + 2] in ("^", "!") else i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = component[i + 1 : end]
                negate = body[:1] in ("^", "!")
                body = body[1:] if negate else body
                out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
                i = end
        elif c == "{":
            end = component.find("}", i)
            if end == -1:
                out.append(re.escape(c))
            else:
                choices = component[i + 1 : end].split(",")
                out.append("(?:" + "|".join(_regex(choice).pattern[:-2] for choice in choices) + ")")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def _children(directory: Path) -> list[str]:
    try:
        return sorted(os.listdir(directory))
    except OSError:
        return []


def _is_dir(path: Path) -> bool:
    return path.is_dir()  # follows symlinks, as doublestar does


def _walk(base: Path, rel: str, parts: list[str], seen: frozenset[str]) -> Iterator[str]:
    if not parts:
        yield rel
        return
    head, rest = parts[0], parts[1:]
    here = base / rel if rel else base
    if head == "**":
        yield from _walk(base, rel, rest, seen)  # zero directories
        real = os.path.realpath(here)
        if real in seen:
            return
        for name in _children(here):
            child = f"{rel}/{name}" if rel else name
            if not rest:
                yield child
            if _is_dir(base / child):
                yield from _walk(base, child, parts, seen | {real})
        return
    if not _MAGIC.search(head):
        child = f"{rel}/{head}" if rel else head
        if os.path.lexists(base / child):
            yield from _walk(base, child, rest, seen)
        return
    regex = _regex(head)
    for name in _children(here):
        if regex.match(name):
            yield from _walk(base, f"{rel}/{name}" if rel else name, rest, seen)


def glob(base: Path, pattern: str) -> list[str]:
    """Paths under `base` (relative, `/`-separated, sorted) that `pattern` matches; [] when `base` is absent."""
    if not base.is_dir():
        return []
    parts = _split(pattern)
    if not parts:
        return []
    return sorted(set(_walk(base, "", parts, frozenset())) - {""})


@lru_cache(maxsize=1024)
def _path_regex(pattern: str) -> re.Pattern[str]:
    parts = _split(pattern)
    out = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            out.append(".*" if last else "(?:[^/]+/)*")
        else:
            out.append(_regex(part).pattern[:-2] + ("" if last else "/"))
    return re.compile("".join(out) + r"\Z")


def match(pattern: str, path: str) -> bool:
    """Whether `pattern` matches the relative path `path` (for files known by name only: blobs.yml entries
    not downloaded yet)."""
    return bool(_split(pattern)) and _path_regex(pattern).match(path) is not None


def valid(pattern: str) -> bool:
    """Whether every component of `pattern` is a glob picf (and bosh-cli) can read: `[z-a]`, `[]` are not."""
    try:
        for part in _split(pattern):
            if part != "**":
                _regex(part)
    except re.error:
        return False
    return True
