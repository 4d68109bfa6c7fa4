"""Commands that change something ask first: `--yes`, a yes/no at a terminal, or a refusal a script can read."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from picf.cli.confirm import confirmed
from picf.errors import PicfError


def test_yes_confirms_without_asking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert confirmed("deploy these changes?", True, "needs --yes")


def test_without_a_terminal_it_stops_with_the_commands_words_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # piped input is not an answer
    with pytest.raises(PicfError) as refused:
        confirmed("deploy these changes?", False, "refusing to change nodes without --yes when not at a terminal")
    assert refused.value.exit_code == 2 and refused.value.message.startswith("refusing to change nodes")


def test_every_command_asks_through_the_one_helper() -> None:
    cli = Path(__file__).resolve().parents[2] / "picf" / "cli"
    asking = [p.name for p in cli.glob("*.py") if "typer.confirm(" in p.read_text() and p.name != "confirm.py"]
    assert asking == []
