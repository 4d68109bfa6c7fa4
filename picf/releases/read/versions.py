"""Release versions as their YAML writes them: `1.10` stays `1.10` (not the float 1.1), `'22'` is `22`."""

from __future__ import annotations

from typing import Any

from ruamel.yaml.scalarfloat import ScalarFloat

from picf import yamldoc


def scalar(value: Any) -> str:
    """The text of a version scalar from a round-trip document (ruamel keeps a float's original form)."""
    if isinstance(value, ScalarFloat | float):
        return yamldoc.dump({"v": value}).split(":", 1)[1].strip()
    return str(value)
