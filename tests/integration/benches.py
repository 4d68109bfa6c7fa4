"""Run a bench/ script's smoke run (`--smoke`, bench/smoke.py): its smallest size, every variant checked to do
the whole work. Never a time: the benches print their figures and targets, and a smoke run enforces none."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import require_root_linux

BENCH = Path(__file__).resolve().parents[2] / "bench"


def smoke(name: str, *extra: str, root: bool = True) -> str:
    """Run bench/NAME.py --smoke; its output, after checking that it completed."""
    if root:
        require_root_linux()
    done = subprocess.run([sys.executable, str(BENCH / f"{name}.py"), "--smoke", *extra], capture_output=True,
                          text=True, timeout=1500, check=False)  # fmt: skip
    assert done.returncode == 0, f"bench/{name}.py --smoke exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout
