"""The keys, generated from the screens' own BINDINGS (so the help cannot drift from what the keys do)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Static

FOOTNOTE = """Crash loops, failing jobs, unreachable nodes and power/heat warnings are listed on top.
Rows of unreachable nodes are dimmed, with when they last answered. ctrl+p opens the command palette."""

_KEY_NAMES = {"slash": "/", "question_mark": "?", "escape": "esc", "enter": "enter"}


def _key(keys: str) -> str:
    return ",".join(_KEY_NAMES.get(k, k) for k in keys.split(","))


def help_text(sections: Iterable[tuple[str, Iterable[BindingType]]]) -> str:
    """One block per screen: each key and what it does (its Binding's description or action)."""
    blocks = ["picf dashboard"]
    for title, bindings in sections:
        rows = []
        for binding in bindings:
            if not isinstance(binding, Binding):
                continue
            what = binding.description or binding.action.replace("_", " ")
            rows.append(f"  {_key(binding.key):<9} {what}")
        if rows:
            blocks.append(f"{title}\n" + "\n".join(rows))
    blocks.append(FOOTNOTE)
    return "\n\n".join(blocks)


class HelpScreen(ModalScreen[None]):
    """The keys."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "app.pop_screen", "Close")]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        yield Static(self.text, id="help")
