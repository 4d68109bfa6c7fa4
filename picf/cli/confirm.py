"""How a command that changes something asks first: `--yes`, or a yes/no at a terminal; a script never hangs."""

from __future__ import annotations

import sys

import typer

from picf.cli.output import fail


def confirmed(question: str, yes: bool, not_at_a_terminal: str) -> bool:
    """True with `--yes` or when the person answers yes at a terminal; without a terminal, stop with
    `not_at_a_terminal` (exit 2: the command needs `--yes` there)."""
    if yes:
        return True
    if not sys.stdin.isatty():
        fail(not_at_a_terminal, 2)
    return typer.confirm(question, err=True)
