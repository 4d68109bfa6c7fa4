"""Shared fixtures for every suite."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def picf_bin() -> Path:
    """The installed `picf` console script of this virtualenv."""
    candidate = Path(sys.executable).with_name("picf")
    if candidate.exists():
        return candidate
    found = shutil.which("picf")
    assert found, "picf is not installed; run `make setup`"
    return Path(found)


@pytest.fixture
def example_inventory(tmp_path: Path) -> Path:
    """A private copy of the committed example inventory."""
    path = tmp_path / "cluster.yml"
    path.write_bytes((REPO / "inventory" / "cluster.yml").read_bytes())
    return path


def in_ci() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("PICF_CI"))


# The longest modules first: `make test` hands modules to two pytest-xdist workers in collection order, and a long
# module collected last would leave one worker running it alone at the end.
LONGEST_FIRST = ("test_bench_lan", "test_deploy", "test_ops", "test_bench_build", "test_demo", "test_status")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        module = item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")
        return LONGEST_FIRST.index(module) if module in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a module, and of the others, stays
