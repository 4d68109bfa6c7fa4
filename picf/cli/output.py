"""Where the CLI writes: data to stdout, messages and progress to stderr; NO_COLOR respected by rich.

Errors are rendered in one place, `report_error`, called by `picf.cli.app.main` for every PicfError."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

from rich.console import Console

from picf.errors import PicfError

# Piped output is not cut to 80 columns: tables stay readable in logs and `| less`.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 200)


def print_json(data: Any) -> None:
    """Machine-readable output on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = 1) -> NoReturn:
    """Stop the command: one line on stderr naming what is wrong and what to do, then exit with `code`."""
    raise PicfError(message, exit_code=code)


def report_error(exc: PicfError) -> None:
    """An error as the person sees it: its located problems, one per line, then `picf: MESSAGE`."""
    for problem in exc.problems:
        err.print(problem, markup=False, highlight=False)
    err.print(f"picf: {exc.message}", markup=False, highlight=False)


def note(message: str) -> None:
    """A message for the person (stderr, so stdout stays clean data)."""
    err.print(message, markup=False, highlight=False)
