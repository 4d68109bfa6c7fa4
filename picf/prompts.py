"""How the library asks the person at the keyboard for a secret (a key's passphrase), when there is one.

The CLI sets the asker once it knows it runs at a terminal; the library never reads a terminal itself and
never keeps what it was told anywhere but in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

Ask = Callable[[Path], "str | None"]
_ask: Ask | None = None


def set_passphrase_asker(ask: Ask | None) -> None:
    """How to ask for a key's passphrase (None: never ask; say how to avoid it instead)."""
    global _ask
    _ask = ask


def ask_passphrase(path: Path) -> str | None:
    """The passphrase of the private key `path`, if someone can be asked."""
    return _ask(path) if _ask is not None else None
