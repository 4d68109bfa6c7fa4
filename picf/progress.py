"""How long work tells the person what it is doing: one line at a time, to whichever front end is showing it."""

from __future__ import annotations

from collections.abc import Callable

Say = Callable[[str], None]


def quiet(_: str) -> None:
    """A Say that says nothing."""
