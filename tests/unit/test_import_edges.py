"""The direction of imports (DESIGN.md): models <- library <- cli / tui; the one edge from picf to tui is the
dashboard command's, through `tui.launch`."""

from __future__ import annotations

import ast
from pathlib import Path

PICF = Path(__file__).resolve().parents[2] / "picf"


def imported_by(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def edges(prefix: str, where: list[Path]) -> dict[str, set[str]]:
    found = {str(p.relative_to(PICF.parent)): {n for n in imported_by(p) if n == prefix or n.startswith(prefix + ".")}
             for p in where}  # fmt: skip
    return {path: names for path, names in found.items() if names}


def test_only_the_dashboard_command_imports_tui_through_its_one_door() -> None:
    assert edges("tui", sorted(PICF.rglob("*.py"))) == {"picf/cli/dashboard.py": {"tui.launch"}}


def test_the_core_never_imports_the_cli() -> None:
    entry = PICF / "__main__.py"  # `python -m picf` runs the CLI
    core = sorted(p for p in PICF.rglob("*.py") if "cli" not in p.relative_to(PICF).parts and p != entry)
    assert edges("picf.cli", core) == {}
