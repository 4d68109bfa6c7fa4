"""One consistent CLI: every command that reads the inventory names it `-i/--inventory` (and honours
PICF_INVENTORY), every command that reports something has `--json`, and the README documents every option."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main

from picf.cli.app import app

REPO = Path(__file__).resolve().parents[2]

# Commands that read the inventory.
READS_INVENTORY = {
    "discover", "deploy", "status", "dashboard", "inventory validate", "inventory show", "inventory add",
    "inventory set", "inventory roles", "inventory rm", "inventory pin", "ssh", "logs", "restart", "stop",
    "start", "recreate", "preflight",
}  # fmt: skip
# Commands that only act (a terminal UI, a shell, YAML on stdout, a scaffold's files): no report to put in JSON.
NO_JSON = {"dashboard", "demo", "sim shell", "sim inventory"}


def commands() -> Iterator[tuple[str, Any]]:
    def walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from walk(sub, (*path, name))
        else:
            yield " ".join(path), command

    yield from walk(typer.main.get_command(app), ())


def options(command: Any) -> set[str]:
    return {
        opt for param in command.params for opt in (*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ()))
    }


ALL = dict(commands())


def test_the_command_list_is_what_this_test_knows() -> None:
    assert {"discover", "deploy", "status", "inventory validate", "release lint", "sim up"} <= set(ALL)


@pytest.mark.parametrize("name", sorted(n for n in ALL if n in READS_INVENTORY))
def test_commands_that_read_the_inventory_take_dash_i_and_the_environment(name: str) -> None:
    command = ALL[name]
    assert {"-i", "--inventory"} <= options(command), name
    inventory = next(p for p in command.params if "--inventory" in getattr(p, "opts", ()))
    assert inventory.envvar == "PICF_INVENTORY"
    assert not [p for p in command.params if p.param_type_name == "argument" and "inventory" in p.name], name


def test_no_command_takes_the_inventory_as_an_argument() -> None:
    for name, command in ALL.items():
        for param in command.params:
            if param.param_type_name == "argument":
                assert "inventory" not in (param.name or ""), name


@pytest.mark.parametrize("name", sorted(n for n in ALL if n not in NO_JSON))
def test_every_command_that_reports_something_has_json(name: str) -> None:
    assert "--json" in options(ALL[name]), name


def readme_commands() -> list[tuple[str, set[str]]]:
    """Each `picf ...` line of the README's shell blocks: the command and the options it shows."""
    text = (REPO / "README.md").read_text()
    out = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if not line.startswith("picf "):
                continue
            words = line.split()[1:]
            path = []
            for word in words:
                candidate = " ".join([*path, word])
                if candidate in ALL or any(n.startswith(candidate + " ") for n in ALL):
                    path.append(word)
                else:
                    break
            flags = set(re.findall(r"(?<![\w-])(--[a-zA-Z][\w-]*|-[a-zA-Z](?![\w-]))", line))
            out.append((" ".join(path), flags))
    return out


def test_every_option_the_readme_shows_exists() -> None:
    shown = readme_commands()
    assert len(shown) > 20
    for name, flags in shown:
        assert name in ALL, f"README shows `picf {name}`, which is not a command"
        unknown = flags - options(ALL[name]) - {"--help"}
        assert not unknown, f"README shows {sorted(unknown)} for `picf {name}`"


def test_every_command_is_in_the_readme() -> None:
    shown = {name for name, _ in readme_commands()}
    assert set(ALL) - shown == set()


@pytest.mark.parametrize("name", sorted(ALL))
def test_a_commands_function_is_named_for_it(name: str) -> None:
    assert ALL[name].callback.__name__ == name.split()[-1].replace("-", "_") + "_command"
