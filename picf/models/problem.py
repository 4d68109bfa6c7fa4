"""A problem with data: where (a path into it) and what. Shared by every file picf validates."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an inventory: where (a path into the data) and what."""

    loc: Loc
    message: str
    at_key: bool = False  # point at the key itself (an unknown field), not at its value

    @property
    def path(self) -> str:
        """`nodes[2].memory_mb` style rendering of the location."""
        out = ""
        for part in self.loc:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        return out or "(top level)"


ModelAt = Callable[[Loc], type[BaseModel] | None]


def problems_from(error: ValidationError, model_at: ModelAt = lambda _: None) -> list[Problem]:
    """Turn a pydantic ValidationError into Problems in the user's words; `model_at` says which model a
    location's parent is, for spelling suggestions."""
    problems: list[Problem] = []
    for detail in error.errors(include_url=False):
        loc: Loc = tuple(detail["loc"])
        message = str(detail["msg"]).removeprefix("Value error, ")
        if detail["type"] == "extra_forbidden":
            model = model_at(loc)
            close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1) if model else []
            message = f"unknown field; did you mean {close[0]!r}?" if close else "unknown field"
        elif detail["type"] == "tuple_type":
            message = "should be a list"
        elif detail["type"] == "missing":
            message = "required field is missing"
        problems.append(Problem(loc, message, at_key=detail["type"] == "extra_forbidden"))
    return problems
