"""picf's errors: one root, a small tree under it, each saying what failed, where and what to do.

The library raises them; the CLI renders them in one place (`picf.cli.app.main`): the `file:line` problems
first, one per line, then the one-line message, then exits with the error's code (README, "Exit codes").
"""

from __future__ import annotations

from collections.abc import Iterable

# The exit codes every command shares.
OK = 0
FAILED = 1  # invalid data, a refused edit or plan, a failed rollout, hazards found, a crash loop
USAGE = 2  # a missing file, an unknown name, a malformed argument, a tree with nothing to check
UNREACHABLE = 3  # a node did not answer, nothing answered on mDNS


class PicfError(Exception):
    """Something a person must act on; `str()` is one line: what is wrong, where, what to do."""

    exit_code = FAILED

    def __init__(self, message: str, *, problems: Iterable[object] = (), exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = tuple(str(p) for p in problems)  # `file:line:col: field: message` lines, printed first
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class UsageError(PicfError):
    """The command named something that is not there or cannot be used (a missing file, an unknown node)."""

    exit_code = USAGE


class Unreachable(PicfError):
    """A node (or the whole LAN) did not answer."""

    exit_code = UNREACHABLE
