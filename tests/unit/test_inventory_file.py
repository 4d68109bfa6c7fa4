"""The inventory file: edits keep everything they do not touch, refuse invalid results, write safely."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from picf import inventory as inv

EXAMPLE = Path(__file__).resolve().parents[2] / "inventory" / "cluster.yml"


@pytest.fixture
def cluster_file(tmp_path: Path) -> Path:
    path = tmp_path / "cluster.yml"
    path.write_bytes(EXAMPLE.read_bytes())
    return path


def changed_lines(before: str, after: str) -> list[tuple[str, list[str], list[str]]]:
    a, b = before.splitlines(), after.splitlines()
    return [
        (tag, a[i1:i2], b[j1:j2])
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b).get_opcodes()
        if tag != "equal"
    ]


def test_the_committed_example_inventory_is_valid() -> None:
    cluster = inv.read_inventory(EXAMPLE).cluster
    assert {n.name for n in cluster.nodes} == {"pi-api", "pi-cell-1", "pi-cell-2", "pi-nats"}


def test_set_changes_one_line_and_keeps_the_inline_comment(cluster_file: Path) -> None:
    before = cluster_file.read_text()
    inv.edit_inventory(cluster_file, lambda d: inv.set_node_fields(d, "pi-api", {"memory_mb": 8192}))
    assert changed_lines(before, cluster_file.read_text()) == [
        ("replace", ["    memory_mb: 4096"], ["    memory_mb: 8192"])
    ]


def test_set_of_a_new_field_inserts_it_in_the_usual_place(cluster_file: Path) -> None:
    before = cluster_file.read_text()
    inv.edit_inventory(cluster_file, lambda d: inv.set_node_fields(d, "pi-cell-2", {"memory_mb": 1024}))
    changes = changed_lines(before, cluster_file.read_text())
    assert changes == [("insert", [], ["    memory_mb: 1024"])]
    text = cluster_file.read_text()
    assert text.index("memory_mb: 1024", text.index("pi-cell-2")) < text.index("roles: [cell]", text.index("pi-cell-2"))


def test_roles_edit_keeps_flow_style(cluster_file: Path) -> None:
    before = cluster_file.read_text()
    inv.edit_inventory(cluster_file, lambda d: inv.change_roles(d, "pi-cell-1", ["router"], []))
    assert changed_lines(before, cluster_file.read_text()) == [
        ("replace", ["    roles: [cell]"], ["    roles: [cell, router]"])
    ]


def test_removing_a_node_keeps_the_comment_of_the_next_node(cluster_file: Path) -> None:
    inv.edit_inventory(cluster_file, lambda d: inv.remove_node(d, "pi-api"))
    text = cluster_file.read_text()
    assert "pi-api" not in text
    assert "# Two Pi 3B+ (32-bit userland)" in text
    assert inv.read_inventory(cluster_file).cluster.node("pi-cell-1") is not None


def test_add_appends_a_node_and_keeps_the_rest(cluster_file: Path) -> None:
    before = cluster_file.read_text()
    fields = {"name": "pi-new", "address": "10.231.0.30", "arch": "arm64", "roles": ["router"]}
    inv.edit_inventory(cluster_file, lambda d: inv.add_node(d, fields))
    after = cluster_file.read_text()
    assert after.startswith(before)
    assert after[len(before) :] == "  - name: pi-new\n    address: 10.231.0.30\n    arch: arm64\n    roles: [router]\n"


def test_an_edit_that_would_make_the_file_invalid_is_refused_and_writes_nothing(cluster_file: Path) -> None:
    before = cluster_file.read_bytes()
    with pytest.raises(inv.InventoryError, match=r"nodes\[3\]\.roles\[1\]: role 'cell' needs arch"):
        inv.edit_inventory(cluster_file, lambda d: inv.change_roles(d, "pi-nats", ["cell"], []))
    assert cluster_file.read_bytes() == before
    assert not cluster_file.with_name("cluster.yml.bak").exists()


def test_a_write_keeps_a_backup_and_the_mode(cluster_file: Path) -> None:
    os.chmod(cluster_file, 0o640)
    before = cluster_file.read_bytes()
    inv.edit_inventory(cluster_file, lambda d: inv.set_node_fields(d, "pi-api", {"labels.rack": "bottom"}))
    assert cluster_file.with_name("cluster.yml.bak").read_bytes() == before
    assert cluster_file.stat().st_mode & 0o777 == 0o640
    assert not [p for p in cluster_file.parent.iterdir() if p.name.endswith(".tmp")]


def test_dry_run_shows_the_diff_and_writes_nothing(cluster_file: Path) -> None:
    before = cluster_file.read_bytes()
    result = inv.edit_inventory(
        cluster_file, lambda d: inv.set_node_fields(d, "pi-api", {"memory_mb": 2048}), dry_run=True
    )
    assert "+    memory_mb: 2048" in result.diff
    assert not result.written
    assert cluster_file.read_bytes() == before


def test_unknown_node_names_the_known_ones(cluster_file: Path) -> None:
    with pytest.raises(inv.InventoryUsageError, match=r"no node named 'pi-x' .*pi-api"):
        inv.edit_inventory(cluster_file, lambda d: inv.remove_node(d, "pi-x"))


def test_setting_roles_through_set_is_refused(cluster_file: Path) -> None:
    with pytest.raises(inv.InventoryUsageError, match="picf inventory roles"):
        inv.edit_inventory(cluster_file, lambda d: inv.set_node_fields(d, "pi-api", {"roles": "cell"}))


@pytest.mark.parametrize(
    ("text", "value"),
    [("1024", 1024), ("true", True), ("armv7", "armv7"), ("", None), ("null", None), ("10.0.0.1", "10.0.0.1")],
)
def test_command_line_values_read_as_yaml_scalars(text: str, value: object) -> None:
    assert inv.parse_scalar(text) == value


# --- round trip, as a property -------------------------------------------------------------------------

_comment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ():,.-'", min_size=0, max_size=30).map(str.strip)


@st.composite
def inventories(draw: st.DrawFn) -> tuple[str, list[str]]:
    """Hand-written-looking inventories: comments, quoting styles, blank lines, two indentation styles."""
    dash, inner = draw(st.sampled_from([("  - ", "    "), ("- ", "  "), ("    - ", "      ")]))
    quote = draw(st.sampled_from(["{}", "'{}'", '"{}"']))
    lines = []
    if draw(st.booleans()):
        lines.append(f"# {draw(_comment)}")
    lines.append(f"name: {quote.format('lab')}")
    if draw(st.booleans()):
        lines += ["ssh:", f"  user: pi   # {draw(_comment)}"]
    lines.append("nodes:")
    names = [f"pi-{i}" for i in range(draw(st.integers(1, 5)))]
    for i, name in enumerate(names):
        if draw(st.booleans()):
            lines.append("")
        if draw(st.booleans()):
            lines.append(f"{dash[:-2]}# {draw(_comment)}")
        lines.append(f"{dash}name: {quote.format(name)}")
        address = quote.format(f"10.231.0.{10 + i}")
        comment = f"   # {draw(_comment)}" if draw(st.booleans()) else ""
        lines.append(f"{inner}address: {address}{comment}")
        lines.append(f"{inner}arch: {draw(st.sampled_from(['armv7', 'arm64']))}")
        if draw(st.booleans()):
            lines.append(f"{inner}memory_mb: {draw(st.sampled_from([1024, 2048, 4096]))}")
        if draw(st.booleans()):
            lines.append(f"{inner}roles: [router]")
        else:
            lines += [f"{inner}roles:", f"{inner}  - router"]
    return "\n".join(lines) + "\n", names


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=inventories(), data=st.data())
def test_round_trip_is_byte_for_byte_and_an_edit_changes_one_line(
    tmp_path: Path, case: tuple[str, list[str]], data: st.DataObject
) -> None:
    text, names = case
    path = tmp_path / "cluster.yml"
    path.write_text(text)
    assert inv.read_inventory(path).cluster.name == "lab"

    result = inv.edit_inventory(path, lambda d: None)
    assert not result.written
    assert path.read_text() == text

    target = data.draw(st.sampled_from(names))
    inv.edit_inventory(path, lambda d: inv.set_node_fields(d, target, {"memory_mb": 512}))
    changes = changed_lines(text, path.read_text())
    assert len(changes) == 1
    tag, old, new = changes[0]
    assert (tag, len(old), len(new)) in {("replace", 1, 1), ("insert", 0, 1)}
    assert new[0].strip() == "memory_mb: 512"
    assert inv.read_inventory(path).cluster.node(target).effective_memory_mb == 512  # type: ignore[union-attr]
