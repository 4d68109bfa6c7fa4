"""`picf inventory` as a user runs it: a separate process, real files, exit codes, stderr."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from picf import inventory as inv

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad_inventories"

# file -> (line, col, field path or None, fragment of the message) for the first problem reported.
EXPECTED: dict[str, tuple[int, int, str | None, str]] = {
    "01_syntax_unclosed_flow.yml": (8, 1, None, "YAML syntax"),
    "02_duplicate_key.yml": (7, 5, None, "duplicate key 'address'"),
    "03_tab_indent.yml": (4, 1, None, "tab used for indentation"),
    "04_wrong_type_memory.yml": (5, 16, "nodes[0].memory_mb", "valid integer"),
    "05_typo_adress.yml": (3, 5, "nodes[0].address", "required field is missing"),
    "06_duplicate_names.yml": (8, 11, "nodes[1].name", "pi-1 is already used by nodes[0]"),
    "07_duplicate_addresses.yml": (9, 14, "nodes[1].address", "already used by nodes[0]"),
    "08_duplicate_macs.yml": (8, 10, "nodes[1].mac", "b8:27:eb:00:00:01 is already used"),
    "09_bad_ip.yml": (4, 14, "nodes[0].address", "neither an IP address"),
    "10_bad_mac.yml": (5, 10, "nodes[0].mac", "not a MAC address"),
    "11_unknown_role.yml": (7, 13, "nodes[0].roles[0]", "unknown role 'cel'"),
    "12_cell_on_armv6.yml": (8, 19, "nodes[0].roles[1]", "needs arch armv7 or arm64 or amd64"),
    "13_cell_too_little_memory.yml": (8, 9, "nodes[0].roles[0]", "needs at least 1024 MB"),
    "14_empty.yml": (0, 0, None, "empty inventory"),
    "15_binary_garbage.yml": (1, 1, None, "binary data"),
    "16_list_at_top.yml": (1, 1, None, "must be a mapping"),
    "17_nodes_not_a_list.yml": (2, 1, "nodes", "should be a list"),
    "18_bad_hostname.yml": (3, 11, "nodes[0].name", "RFC 1123"),
    "19_roles_not_a_list.yml": (7, 12, "nodes[0].roles", "should be a list"),
    "20_bad_host_key.yml": (5, 15, "nodes[0].host_key", "SHA256:"),
    "21_bad_arch.yml": (5, 11, "nodes[0].arch", "unknown arch 'x86'"),
    "22_missing_address.yml": (3, 5, "nodes[0].address", "required field is missing"),
    "23_not_utf8.yml": (6, 1, None, "not UTF-8"),
    "24_unknown_top_level.yml": (2, 1, "sshh", "did you mean 'ssh'"),
    "25_duplicate_host_keys.yml": (8, 15, "nodes[1].host_key", "is already used by nodes[0]"),
    "26_bad_ssh_port.yml": (3, 9, "ssh.port", "less than or equal to 65535"),
    "27_alias_bomb.yml": (0, 0, None, "anchors/aliases"),
    "28_deep_nesting.yml": (0, 0, None, "nesting too deep"),
    "29_many_errors.yml": (5, 14, "nodes[0].address", "neither an IP address"),
    "30_unknown_model.yml": (5, 12, "nodes[0].model.family", "unknown Raspberry Pi family '9'"),
    "31_bad_indentation.yml": (7, 4, None, "YAML syntax"),
}


def run(picf_bin: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(picf_bin), *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def assert_clean_failure(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.strip(), "a failure must say what is wrong"


def test_the_corpus_has_every_kind_of_bad_input() -> None:
    assert sorted(p.name for p in CORPUS.iterdir()) == sorted(EXPECTED)
    assert len(EXPECTED) >= 20


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_inventory_is_reported_in_one_line_with_its_position(picf_bin: Path, name: str) -> None:
    path = CORPUS / name
    before = path.read_bytes()
    result = run(picf_bin, "inventory", "validate", "-i", str(path))
    assert_clean_failure(result)
    assert result.returncode == 1
    line, col, field, fragment = EXPECTED[name]
    first = result.stderr.splitlines()[0]
    where = f"{path}:{line}:{col}: " if line else f"{path}: "
    assert first.startswith((where, f"picf: {where}")), first
    if field:
        assert f": {field}: " in first, first
    assert fragment in first, first
    assert path.read_bytes() == before


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_an_edit_of_a_bad_inventory_leaves_it_byte_for_byte_unchanged(
    picf_bin: Path, name: str, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_bytes((CORPUS / name).read_bytes())
    before = path.read_bytes()
    result = run(picf_bin, "inventory", "set", "pi-1", "labels.owner=me", "--inventory", str(path))
    assert_clean_failure(result)
    assert path.read_bytes() == before
    assert not path.with_name(path.name + ".bak").exists()


def test_every_problem_is_reported_at_once(picf_bin: Path) -> None:
    result = run(picf_bin, "inventory", "validate", "-i", str(CORPUS / "29_many_errors.yml"))
    located = [line.split(": ")[0].rsplit(":", 2)[1:] for line in result.stderr.splitlines()[:3]]
    assert located == [["5", "14"], ["12", "11"], ["16", "21"]]


def test_validate_json_lists_problems(picf_bin: Path) -> None:
    result = run(picf_bin, "inventory", "validate", "--json", "-i", str(CORPUS / "29_many_errors.yml"))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert [p["path"] for p in report["problems"]] == ["nodes[0].address", "nodes[2].name", "nodes[2].roles[1]"]


def test_a_10_mb_file_is_refused_without_reading_it_as_yaml(picf_bin: Path, tmp_path: Path) -> None:
    path = tmp_path / "huge.yml"
    path.write_bytes(b"name: big\nnodes: []\n" + b"# padding\n" * 1_000_000)
    result = run(picf_bin, "inventory", "validate", "-i", str(path))
    assert_clean_failure(result)
    assert "picf reads at most" in result.stderr


def test_a_directory_and_a_missing_file_are_usage_errors(picf_bin: Path, tmp_path: Path) -> None:
    for target in (tmp_path, tmp_path / "nope.yml"):
        result = run(picf_bin, "inventory", "validate", "-i", str(target))
        assert_clean_failure(result)
        assert result.returncode == 2
        assert str(target) in result.stderr


def test_valid_inventory_shows_as_table_and_json(picf_bin: Path, example_inventory: Path) -> None:
    assert run(picf_bin, "inventory", "validate", "-i", str(example_inventory)).returncode == 0
    table = run(picf_bin, "inventory", "show", "-i", str(example_inventory))
    assert table.returncode == 0
    assert "pi-cell-1" in table.stdout and "3B+" in table.stdout
    data = json.loads(run(picf_bin, "inventory", "show", "--json", "-i", str(example_inventory)).stdout)
    assert [n["arch"] for n in data["nodes"]] == ["arm64", "armv7", "armv7", "armv6"]


def test_edit_commands_change_the_file_as_asked(picf_bin: Path, example_inventory: Path) -> None:
    inv_args = ("--inventory", str(example_inventory))
    assert (
        run(
            picf_bin,
            "inventory",
            "add",
            "pi-5",
            "--address",
            "10.231.0.50",
            "--arch",
            "aarch64",
            "--role",
            "router",
            *inv_args,
        ).returncode
        == 0
    )
    assert run(picf_bin, "inventory", "set", "pi-5", "memory_mb=8192", "labels.rack=top", *inv_args).returncode == 0
    assert run(picf_bin, "inventory", "roles", "pi-5", "+api", "-router", *inv_args).returncode == 0
    assert run(picf_bin, "inventory", "rm", "pi-nats", *inv_args).returncode == 0
    cluster = inv.read_inventory(example_inventory).cluster
    pi5 = cluster.node("pi-5")
    assert pi5 is not None
    assert (pi5.arch, pi5.memory_mb, pi5.roles, pi5.labels) == ("arm64", 8192, ("api",), {"rack": "top"})
    assert cluster.node("pi-nats") is None


def test_refused_edit_exits_1_and_says_why(picf_bin: Path, example_inventory: Path) -> None:
    before = example_inventory.read_bytes()
    result = run(picf_bin, "inventory", "roles", "pi-nats", "+cell", "--inventory", str(example_inventory))
    assert_clean_failure(result)
    assert result.returncode == 1
    assert "edit refused" in result.stderr and "armv6" in result.stderr
    assert example_inventory.read_bytes() == before


def test_usage_errors_exit_2(picf_bin: Path, example_inventory: Path) -> None:
    for args in (
        ("inventory", "set", "pi-api", "memory_mb", "--inventory", str(example_inventory)),
        ("inventory", "set", "nobody", "memory_mb=1", "--inventory", str(example_inventory)),
        ("inventory", "roles", "pi-api", "cell", "--inventory", str(example_inventory)),
        ("inventory", "add", "pi-9", "--address", "10.0.0.9", "--arch", "sparc", "-i", str(example_inventory)),
        ("inventory", "frobnicate"),
    ):
        result = run(picf_bin, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_concurrent_edits_do_not_lose_one_another(picf_bin: Path, example_inventory: Path) -> None:
    def add(i: int) -> int:
        return run(
            picf_bin, "inventory", "add", f"pi-c{i}", "--address", f"10.231.1.{i}", "-i", str(example_inventory)
        ).returncode

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(add, range(8)))
    assert codes == [0] * 8
    names = {n.name for n in inv.read_inventory(example_inventory).cluster.nodes}
    assert {f"pi-c{i}" for i in range(8)} <= names


def test_status_and_dashboard_without_an_inventory_give_one_line(picf_bin: Path, tmp_path: Path) -> None:
    for argv in (("status", "-i", str(tmp_path / "none.yml")), ("dashboard", "-i", str(tmp_path / "none.yml"))):
        result = run(picf_bin, *argv)
        assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr


def test_version_and_help_list_the_command_groups(picf_bin: Path) -> None:
    assert run(picf_bin, "--version").stdout.startswith("picf ")
    help_text = run(picf_bin, "--help").stdout
    for group in ("discover", "inventory", "release", "deploy", "status", "dashboard", "sim", "demo"):
        assert group in help_text
