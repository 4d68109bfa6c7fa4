"""What lets a deploy skip work: the base role's mark, the package versions a node holds, Mitogen or SSH."""

from __future__ import annotations

from pathlib import Path

import pytest

from picf.deploy import connection, nodes
from picf.deploy.base import BASE_ROLE, base_fingerprint, is_prepared
from picf.errors import UsageError


def _report(**fields: object) -> nodes.NodeReport:
    return nodes.NodeReport("pi-1", **fields)  # type: ignore[arg-type]


def test_the_node_answer_gives_the_mark_monit_and_the_package_versions() -> None:
    text = "@@prepared\nabc123\nmonit-running\n@@packages\n/var/vcap/data/packages/logfwd/f1\n" \
           "/var/vcap/data/packages/logfwd/f2.partial\n/var/vcap/data/packages/lineprobe/f3\n"  # fmt: skip
    sections = nodes._sections(text)
    assert nodes._prepared_mark(sections["prepared"]) == "abc123"
    assert "monit-running" in sections["prepared"].split()
    assert nodes._packages(sections["packages"]) == {"logfwd/f1", "lineprobe/f3"}  # a half-unpacked one is not held
    assert nodes._prepared_mark("monit-running\n") is None and nodes._packages("") == frozenset()


def test_a_node_is_prepared_only_with_the_current_mark_monit_running_and_the_cgroup_it_needs() -> None:
    mark = base_fingerprint(2, memory_cgroup=False)
    assert is_prepared(_report(prepared_mark=mark, monit_running=True), mark, memory_cgroup=False)
    assert not is_prepared(_report(prepared_mark=None, monit_running=True), mark, False)  # a fresh card
    assert not is_prepared(_report(prepared_mark=mark, monit_running=False), mark, False)  # monit stopped
    cell = base_fingerprint(2, memory_cgroup=True)
    assert cell != mark  # a role that gains the memory cgroup runs the base role again
    assert not is_prepared(_report(prepared_mark=cell, monit_running=True, memory_cgroup=False), cell, True)
    assert is_prepared(_report(prepared_mark=cell, monit_running=True, memory_cgroup=True), cell, True)
    assert base_fingerprint(10, False) != mark  # so does another monit cycle


def test_an_edited_base_role_changes_the_fingerprint(tmp_path: Path) -> None:
    import shutil

    role = tmp_path / "base"
    shutil.copytree(BASE_ROLE, role)
    assert base_fingerprint(2, False, role) == base_fingerprint(2, False)
    tasks = role / "tasks" / "main.yml"
    tasks.write_text(tasks.read_text() + "\n# edited\n")
    assert base_fingerprint(2, False, role) != base_fingerprint(2, False)


def test_the_connection_is_mitogen_when_installed_and_ssh_on_request_or_as_the_fallback(tmp_path: Path) -> None:
    mitogen = connection.choose("auto", tmp_path)
    assert mitogen.kind == "mitogen" and mitogen.env["ANSIBLE_STRATEGY"] == "mitogen_linear"
    assert mitogen.env["ANSIBLE_STRATEGY_PLUGINS"] == str(tmp_path)
    assert int(mitogen.env["ANSIBLE_TIMEOUT"]) >= 30  # its whole bootstrap, on a busy controller too
    assert mitogen.host_vars["mitogen_ssh_keepalive_interval"] * mitogen.host_vars["mitogen_ssh_keepalive_count"] <= 5
    assert connection.choose("ssh", tmp_path) == connection.Connection("ssh")
    with pytest.raises(UsageError, match="--connection 'telnet'"):
        connection.choose("telnet", tmp_path)


def test_without_mitogen_auto_falls_back_with_a_note_and_mitogen_is_refused() -> None:
    fallback = connection.choose("auto", None)
    assert fallback.kind == "ssh" and "not installed" in fallback.note and not fallback.env
    with pytest.raises(UsageError, match="--connection mitogen: Mitogen for Ansible is not installed"):
        connection.choose("mitogen", None)


def test_mitogen_is_found_in_this_environment() -> None:
    found = connection.mitogen_strategies()  # a dependency of picf: installed with it
    assert found is not None and (found / "mitogen_linear.py").is_file()
