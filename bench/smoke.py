"""`--smoke`, shared by every bench: the smallest run, for `make test` (tests/integration/test_bench_*.py).

A smoke run checks that the bench still works: it completes and every variant did the whole work (found every
node, read every job, built every package), or it exits 1 saying which did not. Its targets are printed, never
enforced: a smoke run on a busy machine says nothing about speed.
"""

from __future__ import annotations

import argparse

HELP = "the smallest run: every variant must do the whole work; targets are shown, not enforced"


def add_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--smoke", action="store_true", help=HELP)


def exit_code(targets_met: bool, smoke: bool) -> int:
    """0 when the targets were met, or in a smoke run (whose work was checked already); 1 otherwise."""
    return 0 if targets_met or smoke else 1
