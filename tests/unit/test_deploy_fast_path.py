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
    text = "@@picf:prepared\nabc123\nmonit-running\n@@picf:packages\n/var/vcap/data/packages/logfwd/f1\n" \
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


def test_the_rollout_is_site_yml_once_per_batch_with_a_check_before_each_later_batch() -> None:
    from picf.deploy.plan import Rollout
    from picf.deploy.plays import (
        POST_DEPLOY_GROUP,
        batch_of_play,
        inventory_groups,
        rollout_plays,
        site_play,
    )

    rollout = Rollout([["pi-1", "pi-2"], ["pi-3"], ["pi-4"]], canaries=1, kind_of={"pi-1": "armv7", "pi-2": "arm64"},
                      per="arch")  # fmt: skip
    watch = {True: {"picf_watch_high": 30000}, False: {"picf_watch_high": 10000}}
    plays = rollout_plays(rollout, watch)
    assert [p["hosts"] for p in plays] == ["picf_batch_1", "localhost", "picf_batch_2", "localhost", "picf_batch_3",
                                           "localhost", POST_DEPLOY_GROUP]  # fmt: skip
    assert [batch_of_play(p["hosts"]) for p in plays] == [0, None, 1, None, 2, None, None]
    # After the last batch: a check that every batch succeeded, then the jobs' post-deploy scripts.
    assert len(plays[5]["tasks"][0]["ansible.builtin.assert"]["that"]) == 3
    assert plays[6]["tasks"][0]["ansible.builtin.include_role"] == {"name": "lifecycle", "tasks_from": "post_deploy"}
    site = site_play()
    for play in plays[:5:2]:  # the node plays: site.yml's, with the batch's watch times and a mark at the end
        assert play["tasks"] == site["tasks"] and play["roles"] == site["roles"]
        assert play["post_tasks"][:-1] == site["post_tasks"]
        assert play["post_tasks"][-1]["ansible.builtin.set_fact"] == {"picf_batch_ok": True}
    assert plays[0]["vars"]["picf_watch_high"] == 30000 and plays[2]["vars"]["picf_watch_high"] == 10000
    assert plays[0]["name"].endswith("canaries (pi-1 armv7, pi-2 arm64)")
    # The check before batch 3 covers batches 1 and 2; a failed check ends the run (its only host failed).
    check = plays[3]["tasks"][0]
    assert "picf_bookkeeping" in check["tags"] and len(check["ansible.builtin.assert"]["that"]) == 2
    assert "'picf_batch_2'" in check["ansible.builtin.assert"]["that"][1]
    hosts = {
        "pi-1": {"picf_post_deploy": ["sink"]},
        "pi-3": {"picf_post_deploy": []},
        "pi-9": {"picf_post_deploy": ["x"]},
    }
    groups = inventory_groups(rollout, hosts)
    assert groups["picf_batch_2"] == {"hosts": {"pi-3": None}}
    assert groups[POST_DEPLOY_GROUP] == {"hosts": {"pi-1": None, "pi-9": None}}
    assert batch_of_play("picf_batch_x") is None and batch_of_play("all") is None


def test_a_batch_of_prepared_nodes_has_no_prepare_step_and_a_mixed_batch_keeps_it() -> None:
    from picf.deploy.plan import Rollout
    from picf.deploy.plays import prepared_nodes, rollout_plays, site_play

    rollout = Rollout([["pi-1"], ["pi-2", "pi-3"], ["pi-4"]], canaries=1, kind_of={"pi-1": "armv7"}, per="arch")
    inventory = {"all": {"hosts": {"pi-1": {"picf_node_prepared": True}, "pi-2": {"picf_node_prepared": True},
                                   "pi-3": {"picf_node_prepared": False}, "pi-4": {}}}}  # fmt: skip
    prepared = prepared_nodes(inventory)
    assert prepared == {"pi-1", "pi-2"}
    plays = rollout_plays(rollout, {True: {}, False: {}}, prepared)
    names = [[t["name"] for t in p["tasks"]] for p in plays[:5:2]]
    site = [t["name"] for t in site_play()["tasks"]]
    assert "Prepare the node" in site
    assert names == [[n for n in site if n != "Prepare the node"], site, site]


def test_the_switch_drains_the_old_jobs_before_the_rename_and_pre_starts_the_new_ones_after() -> None:
    """The BOSH agent's order: drain (and stop a job that goes) on the old version, switch, pre-start on the new
    version, and only then does monit load it."""
    from picf.deploy.bundle import SWITCH

    script = SWITCH.read_text()
    order = [script.index(step) for step in (
        'sh "$bundle/lifecycle.sh" drain $draining',
        'stop_job "$job"',
        "mv -T /var/vcap/data/picf/current.next /var/vcap/data/picf/current",
        'sh "$bundle/lifecycle.sh" pre-start $changed',
        "monit reload\n",
    )]  # fmt: skip
    assert order == sorted(order)


def test_what_the_switch_puts_in_place_is_data_it_reads_not_shell() -> None:
    from picf.deploy.bundle import switch_list
    from picf.deploy.render import RenderedJob

    job = RenderedJob(name="logfwd", release="logfwd/0.1.0", files={}, monit="check process logfwd\n",
                      properties={}, packages=(), hash="a" * 64, processes=("logfwd",))  # fmt: skip
    package = {"name": "logfwd", "fingerprint": "f" * 64}
    listed = switch_list([package], [job], changed=["logfwd"], removed=["oldjob"])
    assert listed.splitlines() == [f"package logfwd {'f' * 64}", f"job logfwd {'a' * 64}", "changed logfwd",
                                   "removed oldjob"]  # fmt: skip
    assert switch_list([package], [job]).splitlines() == listed.splitlines()[:2]  # nothing to drain or pre-start
    with pytest.raises(ValueError, match=r"switch\.sh can read"):
        switch_list([], [job], removed=["old job; reboot"])
