"""Where the CLI writes: data to stdout, messages and progress to stderr; NO_COLOR respected by rich."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console

# Piped output is not cut to 80 columns: tables stay readable in logs and `| less`.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 200)


def print_json(data: Any) -> None:
    """Machine-readable output on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr naming what is wrong and what to do, then exit with `code`."""
    err.print(f"picf: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


def note(message: str) -> None:
    """A message for the person (stderr, so stdout stays clean data)."""
    err.print(message, markup=False, highlight=False)
