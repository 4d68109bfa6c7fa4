"""Deploy's pure parts: watch times, canaries and batches, the plan and its diff, redaction, the vars store,
rendering."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from picf.deploy import vars as varstore
from picf.deploy.links import Group, LinkError, resolve_links
from picf.deploy.manifest_file import ManifestInvalid, read_manifest
from picf.deploy.plan import Conflict, WrongArch, batches, plan_node, render_plan, render_rollout, wanted_state
from picf.deploy.render import RenderError, check_properties
from picf.errors import PicfError
from picf.models.deploy_state import DeployedJob, DeployState
from picf.models.manifest import JobRef, Update, Variable, parse_watch_time
from picf.models.node import Node
from picf.models.release import CompiledJob, CompiledPackage, CompiledRelease, JobSpec
from picf.releases.render.templates import JobTemplates

REPO = Path(__file__).resolve().parents[2]


def test_watch_times_parse_like_bosh() -> None:
    assert parse_watch_time("5000-30000") == (5000, 30000)
    assert parse_watch_time(1000) == (1000, 1000)
    for bad in ("30000-5000", "soon", "-1"):
        with pytest.raises(ValueError):
            parse_watch_time(bad)


def test_max_in_flight_as_number_or_percentage() -> None:
    assert Update(max_in_flight=2).in_flight(10) == 2
    assert Update(max_in_flight="50%").in_flight(5) == 3
    assert Update(max_in_flight="1%").in_flight(3) == 1
    with pytest.raises(ValueError):
        Update(max_in_flight="150%")


def test_one_canary_per_architecture_then_batches_in_inventory_order() -> None:
    arch = {"a": "armv7", "b": "armv7", "c": "arm64", "d": "armv7", "e": "arm64", "f": "armv6"}
    assert batches(list(arch), 1, 2, arch) == [["a", "c", "f"], ["b", "d"], ["e"]]
    assert batches(list(arch), 2, 5, arch) == [["a", "b", "c", "e", "f"], ["d"]]
    assert batches(["a", "b"], 0, 1, arch) == [["a"], ["b"]]


def test_the_rollout_names_its_canaries_and_why() -> None:
    arch = {"a": "armv7", "c": "arm64", "b": "armv7"}
    lines = render_rollout(batches(["a", "b", "c"], 1, 1, arch), 1, arch, "arch")
    assert lines == ["canaries: a (armv7), c (arm64): the first 1 changing node(s) of each arch this deploy changes",
                     "then 1 batch(es): b"]  # fmt: skip
    assert render_rollout([["a", "b"]], 0, arch, "arch") == ["then 1 batch(es): a, b"]


def test_canaries_go_first_then_batches() -> None:
    assert batches(["a", "b", "c", "d", "e"], 1, 2) == [["a"], ["b", "c"], ["d", "e"]]
    assert batches(["a", "b"], 0, 5) == [["a", "b"]]
    assert batches([], 1, 1) == []


def release(arch: str, fingerprint: str = "f" * 64) -> CompiledRelease:
    package = CompiledPackage(name="logfwd", arch=arch, fingerprint=fingerprint, key="k", sha256="s" * 64, size=1)  # type: ignore[arg-type]
    job = CompiledJob(name="logfwd", fingerprint="e" * 64, sha256="e" * 64, packages=("logfwd",))
    return CompiledRelease(name="logfwd", version="0.1.0", arch=arch, patched=True, packages=(package,),  # type: ignore[arg-type]
                           jobs=(job,), built_at="now")  # fmt: skip


def jobs(port: int = 7070, token: str = "<redacted>:abc") -> dict[str, DeployedJob]:
    return {"logfwd": DeployedJob(hash=f"h{port}{token}", release="logfwd/0.1.0", packages=["logfwd"],
                                  properties={"logfwd.port": port, "logfwd.token": token})}  # fmt: skip


def test_a_fresh_node_gets_everything_and_a_same_node_nothing() -> None:
    wanted = wanted_state("d", "armv7", [release("armv7")], jobs(), 2)
    fresh = plan_node("pi-1", None, wanted)
    assert fresh.first_deploy and fresh.packages_added and [j.action for j in fresh.jobs] == ["add"]
    assert plan_node("pi-1", wanted, wanted).empty


def test_a_changed_property_shows_as_a_diff_and_secrets_stay_redacted() -> None:
    old = wanted_state("d", "armv7", [release("armv7")], jobs(7070, "<redacted>:aaa"), 2)
    new = wanted_state("d", "armv7", [release("armv7")], jobs(7071, "<redacted>:bbb"), 2)
    plan = plan_node("pi-1", old, new)
    assert plan.jobs[0].lines == ["- logfwd.port: 7070", "+ logfwd.port: 7071", "~ logfwd.token: <redacted>"]
    text = "\n".join(render_plan([plan]))
    assert "aaa" not in text and "bbb" not in text


def test_a_new_package_build_replaces_the_old_one() -> None:
    old = wanted_state("d", "armv7", [release("armv7", "a" * 64)], jobs(), 2)
    new = wanted_state("d", "armv7", [release("armv7", "b" * 64)], jobs(), 2)
    plan = plan_node("pi-1", old, new)
    assert plan.packages_added == [f"logfwd {'b' * 12} (armv7)"]
    assert plan.packages_removed == [f"logfwd {'a' * 12}"]


def test_a_wrong_arch_build_is_refused() -> None:
    with pytest.raises(WrongArch, match="built for armv7, the node runs arm64"):
        wanted_state("d", "arm64", [release("armv7")], jobs(), 2)


def test_the_vars_store_generates_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "creds.yml"
    wanted = [Variable(name="token", type="password"), Variable(name="ca", type="certificate", options={"is_ca": True}),
              Variable(name="tls", type="certificate", options={"ca": "ca", "common_name": "pi-1"}),
              Variable(name="key", type="ssh")]  # fmt: skip
    first = varstore.ensure(path, wanted)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert len(first["token"]) == 20 and first["token"].isalnum() and first["token"].islower()
    assert "BEGIN CERTIFICATE" in first["tls"]["certificate"] and first["tls"]["ca"] == first["ca"]["certificate"]
    assert first["key"]["public_key"].startswith("ssh-ed25519 ")
    assert varstore.ensure(path, wanted) == first  # never overwritten


def test_placeholders_interpolate_and_mark_secrets() -> None:
    store = {"token": "s3cretvalue1", "tls": {"certificate": "CERT"}}
    assert varstore.interpolate("((token))", store) == ("s3cretvalue1", True)
    assert varstore.interpolate("Bearer ((token))", store) == ("Bearer s3cretvalue1", True)
    assert varstore.interpolate("((tls.certificate))", store) == ("CERT", True)
    assert varstore.interpolate(7070, store) == (7070, False)
    with pytest.raises(varstore.VarsError, match="not defined"):
        varstore.interpolate("((nope))", store)


def test_a_property_written_flat_is_refused_with_the_nested_form_to_write() -> None:
    spec = JobSpec(name="x", properties={"x.port": {"default": 1}})  # type: ignore[dict-item]
    templates = JobTemplates(spec, "", {}, "jobs/x")
    with pytest.raises(RenderError, match=r"'x.port' is written flat; .* write x: \{port: ...\}"):
        check_properties(JobRef(name="x", release="r", properties={"x.port": 2}), templates, "roles.cell.jobs.x")
    check_properties(JobRef(name="x", release="r", properties={"x": {"port": 2}}), templates, "roles.cell.jobs.x")


SPECS = {
    "sink": JobSpec.model_validate({"name": "sink", "provides": [{"name": "sink", "type": "logs", "properties":
                                    ["sink.port"]}], "properties": {"sink.port": {"default": 7071}}}),
    "fwd": JobSpec.model_validate({"name": "fwd", "consumes": [{"name": "sink", "type": "logs"}]}),
    "opt": JobSpec.model_validate({"name": "opt", "consumes": [{"name": "sink", "type": "logs", "optional": True}]}),
}  # fmt: skip


def _groups(*groups: tuple[str, list[str], list[JobRef]]) -> list[Group]:
    return [Group(name, tuple(Node(name=n, address=f"{n}.local", arch="armv7") for n in nodes), tuple(jobs))
            for name, nodes, jobs in groups]  # fmt: skip


def _links(groups: list[Group]) -> dict[tuple[str, str], dict[str, Any]]:
    addresses = {n.name: (f"10.0.0.{i}", n.address) for g in groups for i, n in enumerate(g.nodes, 1)}
    return resolve_links("d", groups, lambda _release, job: SPECS[job], {"tok": "s3cret"}, addresses)


def test_a_link_goes_to_the_one_job_providing_its_type_with_instances_and_properties() -> None:
    sink = JobRef(name="sink", release="r", properties={"sink": {"port": 9}})
    groups = _groups(("doppler", ["pi-2", "pi-3"], [sink]), ("cell", ["pi-1"], [JobRef(name="fwd", release="r")]))
    link = _links(groups)[("cell", "fwd")]["sink"]
    assert link["properties"] == {"sink": {"port": 9}}
    assert [(i["name"], i["index"], i["address"], i["bootstrap"]) for i in link["instances"]] == [
        ("doppler", 0, "10.0.0.1", True), ("doppler", 1, "10.0.0.2", False)]  # fmt: skip
    assert _links(groups)[("doppler", "sink")] == {}


def test_a_link_property_the_provider_does_not_set_is_its_spec_default() -> None:
    groups = _groups(("doppler", ["pi-2"], [JobRef(name="sink", release="r")]),
                     ("cell", ["pi-1"], [JobRef(name="fwd", release="r")]))  # fmt: skip
    assert _links(groups)[("cell", "fwd")]["sink"]["properties"] == {"sink": {"port": 7071}}


def test_links_no_job_provides_are_an_error_unless_optional() -> None:
    with pytest.raises(LinkError, match=r"roles.cell.jobs.fwd: link 'sink' \(type logs\): no job of the deployment"):
        _links(_groups(("cell", ["pi-1"], [JobRef(name="fwd", release="r")])))
    assert _links(_groups(("cell", ["pi-1"], [JobRef(name="opt", release="r")])))[("cell", "opt")] == {}


def test_two_providers_need_from_and_nil_refuses_a_link() -> None:
    sinks = [("a", ["pi-2"], [JobRef(name="sink", release="r", provides={"sink": {"as": "left"}})]),
             ("b", ["pi-3"], [JobRef(name="sink", release="r", provides={"sink": {"as": "right"}})])]  # fmt: skip
    with pytest.raises(LinkError, match=r"several jobs provide it .*pick one with consumes"):
        _links(_groups(*sinks, ("cell", ["pi-1"], [JobRef(name="fwd", release="r")])))
    chosen = _links(
        _groups(*sinks, ("cell", ["pi-1"], [JobRef(name="fwd", release="r", consumes={"sink": {"from": "right"}})]))
    )
    assert chosen[("cell", "fwd")]["sink"]["instances"][0]["name"] == "b"
    refused = _links(_groups(*sinks, ("cell", ["pi-1"], [JobRef(name="opt", release="r", consumes={"sink": "nil"})])))
    assert refused[("cell", "opt")] == {}
    with pytest.raises(LinkError, match="refused with nil, but the job needs it"):
        _links(_groups(*sinks, ("cell", ["pi-1"], [JobRef(name="fwd", release="r", consumes={"sink": "nil"})])))


def test_a_provider_withheld_with_nil_provides_nothing() -> None:
    groups = _groups(("doppler", ["pi-2"], [JobRef(name="sink", release="r", provides={"sink": "nil"})]),
                     ("cell", ["pi-1"], [JobRef(name="opt", release="r")]))  # fmt: skip
    assert _links(groups)[("cell", "opt")] == {}


def test_the_example_manifest_reads_and_a_bad_one_is_located(tmp_path: Path) -> None:
    manifest, _, _ = read_manifest(REPO / "inventory" / "deployment.yml")
    assert manifest.update.canaries == 1 and manifest.monit_interval == 2
    bad = tmp_path / "deployment.yml"
    bad.write_text(
        "name: x\nreleases:\n  - {name: r, version: '1'}\nroles:\n  cell:\n    jobs:\n"
        "      - {name: j, release: q}\nupdate:\n  max_in_flight: 0\n"
    )
    with pytest.raises(ManifestInvalid) as caught:
        read_manifest(bad)
    assert "deployment.yml:9:18: update.max_in_flight" in caught.value.problems[0]


def test_a_new_build_of_a_jobs_package_restarts_the_job() -> None:
    old = wanted_state("d", "armv7", [release("armv7", "a" * 64)], jobs(), 2)
    new = wanted_state("d", "armv7", [release("armv7", "b" * 64)], jobs(), 2)
    [job] = plan_node("pi-1", old, new).jobs
    assert (job.action, job.lines) == ("update", ["~ package logfwd: new build"])


def test_a_node_left_unverified_by_a_failed_deploy_is_redeployed() -> None:
    wanted = wanted_state("d", "armv7", [release("armv7")], jobs(), 2)
    [job] = plan_node("pi-1", wanted.model_copy(update={"verified": False}), wanted).jobs
    assert (job.action, job.lines) == ("update", ["~ the last deploy here did not finish"])
    assert plan_node("pi-1", wanted.model_copy(update={"verified": True}), wanted).empty


def _report(node: str, sudo: str | None, password_ok: bool | None = None, cgroup: bool | None = None) -> Any:
    from picf.deploy.nodes import NodeReport

    return NodeReport(node, sudo=sudo, become_password_ok=password_ok, memory_cgroup=cgroup)  # type: ignore[arg-type]


def _nodes(*names: str, roles: tuple[str, ...] = ("doppler",)) -> list[Node]:
    return [Node(name=n, address=f"{n}.local", arch="armv7", memory_mb=1024, roles=list(roles)) for n in names]


def test_root_comes_through_sudo_and_each_way_it_cannot_is_one_line_before_any_change() -> None:
    from picf.deploy.prepare import _privilege_problem

    scope = _nodes("pi-1", "pi-2")
    fine = {"pi-1": _report("pi-1", "nopasswd"), "pi-2": _report("pi-2", "root")}
    assert _privilege_problem("pi", scope, fine, have_password=False) is None
    asks = {"pi-1": _report("pi-1", "nopasswd"), "pi-2": _report("pi-2", "password")}
    refused = _privilege_problem("pi", scope, asks, have_password=False)
    assert isinstance(refused, PicfError) and refused.exit_code == 2
    assert refused.message.startswith("pi-2: sudo asks for pi's password") and "-K" in refused.message
    wrong = {**asks, "pi-2": _report("pi-2", "password", password_ok=False)}
    assert getattr(_privilege_problem("pi", scope, wrong, have_password=True), "exit_code", 0) == 1
    right = {**asks, "pi-2": _report("pi-2", "password", password_ok=True)}
    assert _privilege_problem("pi", scope, right, have_password=True) is None
    missing = {**fine, "pi-1": _report("pi-1", "missing")}
    refused = _privilege_problem("pi", scope, missing, have_password=False)
    assert refused is not None and refused.exit_code == 1 and "pi-1: sudo is not installed" in refused.message


def test_a_reboot_is_planned_only_where_a_role_needs_the_memory_cgroup_and_the_kernel_runs_without_it() -> None:
    from picf.deploy.prepare import _reboot_reason
    from picf.models.cluster import Cluster

    cell, doppler = _nodes("pi-1", roles=("cell",))[0], _nodes("pi-2")[0]
    cluster = Cluster(name="c", nodes=(cell, doppler))
    assert "memory cgroup" in (_reboot_reason(cluster, cell, _report("pi-1", "nopasswd", cgroup=False)) or "")
    assert _reboot_reason(cluster, cell, _report("pi-1", "nopasswd", cgroup=True)) is None
    assert _reboot_reason(cluster, doppler, _report("pi-2", "nopasswd", cgroup=False)) is None


def test_a_node_read_splits_into_state_cgroup_and_sudo_even_without_a_trailing_newline() -> None:
    from picf.deploy.nodes import _sections
    from picf.node_probe import memory_cgroup

    text = '@@picf:state\n{"jobs": {}}\n@@picf:cgroup\nv1 0\nv2 cpuset cpu memory\n@@picf:sudo\nnopasswd'
    sections = _sections(text)
    assert sections["state"] == '{"jobs": {}}' and sections["sudo"] == "nopasswd"
    assert memory_cgroup(sections["cgroup"].splitlines()) is True  # cgroup v2's controllers win over v1's row


def _recorded(kind: str, task: str, file: Path, host: str | None = "pi-1", **data: Any) -> dict[str, Any]:
    """An event as ansible-runner hands it over for the task named `task` of `file` (its `task_path`)."""
    line = next(i for i, text in enumerate(file.read_text().splitlines(), 1) if text.strip() == f"- name: {task}")
    event_data = {"task": task, "task_path": f"{file}:{line}", "host": host, "play_pattern": "picf_batch_1", **data}
    return {"event": kind, "uuid": "u", "stdout": "", "event_data": event_data}


ROLES = REPO / "playbooks" / "roles"


def test_deploy_timings_split_a_batch_into_start_up_tasks_by_phase_and_wrap_up() -> None:
    from picf.deploy.ansible_events import TaskTags, picf_event
    from picf.deploy.timings import DeployTimings

    timings = DeployTimings(plan_seconds=0.8)
    timings.run_started(100.0)
    lock, release, start = (ROLES / "node_lock/tasks/main.yml", ROLES / "release/tasks/main.yml",
                            ROLES / "start/tasks/main.yml")  # fmt: skip
    script = [
        (101.5, "playbook_on_task_start", lock, "Take this node's deploy lock"),
        (101.6, "playbook_on_task_start", lock, "Take this node's deploy lock"),  # the second host
        (101.9, "runner_on_ok", lock, "Take this node's deploy lock"),
        (102.0, "playbook_on_task_start", release, "Upload this deploy's bundle"),
        (103.0, "playbook_on_task_start", release, "Switch the node to this deploy in one rename"),
        (103.5, "playbook_on_task_start", start, "Restart changed jobs under monit"),
        (104.0, "playbook_on_task_start", start, "Watch changed jobs until they run"),
        (110.0, "runner_on_ok", start, "Watch changed jobs until they run"),
    ]
    tags = TaskTags()
    for at, kind, file, task in script:
        event = picf_event(_recorded(kind, task, file), tags)
        assert event is not None
        timings.event(0, event, at)
    timings.run_ended(111.0)
    phases = timings.as_dict()["phases"]
    assert phases == {"plan": 0.8, "ansible start-up": 1.5, "lock": 0.5, "upload": 1.0, "switch": 0.5,
                      "restart": 0.5, "watch": 6.0, "ansible wrap-up": 1.0}  # fmt: skip
    assert [t.task for t in timings.tasks] == [
        "Take this node's deploy lock", "Upload this deploy's bundle",
        "Switch the node to this deploy in one rename", "Restart changed jobs under monit",
        "Watch changed jobs until they run",
    ]  # fmt: skip
    lines = timings.lines()
    assert lines[0].split() == ["phase", "seconds", "share"] and lines[1].split()[:2] == ["plan", "0.8"]
    assert lines[lines.index("slowest tasks:") + 1] == "  batch 1: Watch changed jobs until they run (watch): 6.0 s"


def test_a_tasks_phase_is_the_tag_its_playbook_declares_whatever_its_name() -> None:
    from picf.deploy.ansible_events import TaskTags, picf_event, tags_by_line

    tags = TaskTags()
    base = picf_event(_recorded("playbook_on_task_start", "Install monit from the OS's packages",
                                ROLES / "base/tasks/main.yml"), tags)  # fmt: skip
    site = picf_event(_recorded("playbook_on_task_start", "Prepare the node", REPO / "playbooks/site.yml"), tags)
    assert base is not None and base.phase == "prepare node"
    assert site is not None and site.phase == "prepare node"  # the include a prepared node skips
    # A task renamed keeps its phase; a task inherits the tags of the block (or play) around it.
    text = (
        "- name: Renamed\n  tags: [picf_phase_upload]\n- name: B\n  tags: [picf_phase_watch]\n  block:\n    - name: C\n"
    )
    assert tags_by_line(text) == {1: ("picf_phase_upload",), 3: ("picf_phase_watch",), 6: ("picf_phase_watch",)}
    # Every task of picf's roles declares its phase, but the post-deploy scripts (they run after every batch).
    for file in ROLES.glob("*/*/*.yml"):
        if file.parent.name in {"tasks", "handlers"} and "lifecycle" not in file.parts:
            for line, declared in tags_by_line(file.read_text()).items():
                assert any(t.startswith("picf_phase_") for t in declared), f"{file}:{line}"


def test_an_ansible_failure_keeps_its_message_but_never_the_task_arguments() -> None:
    from picf.deploy.ansible_events import TaskTags, picf_event

    res = {"msg": "non-zero return code", "stderr": "boom", "invocation": {"module_args": {"token": "s3cret"}}}
    switch = "Switch the node to this deploy in one rename"
    raw = _recorded("runner_on_failed", switch, ROLES / "release/tasks/main.yml", res=res, ignore_errors=None)
    event = picf_event(raw, TaskTags())
    assert event is not None and event.failed and event.phase == "switch"
    assert event.as_json() == {"event": "runner_on_failed", "host": "pi-1",
                               "task": "Switch the node to this deploy in one rename", "message": "boom",
                               "ignored": False}  # fmt: skip
    censored = picf_event({**raw, "event_data": {**raw["event_data"], "res": {"censored": "x"}}}, TaskTags())
    assert censored is not None and censored.message == "(output hidden: the task handles credentials)"
    assert picf_event({"event": "verbose", "event_data": {}}, TaskTags()) is None


def test_a_state_an_earlier_picf_wrote_reads_and_a_wanted_state_writes_the_same_keys() -> None:
    import json

    written = {"arch": "armv7", "deployment": "d", "monit_interval": 2, "verified": False,
               "jobs": {"logfwd": {"hash": "h", "packages": ["logfwd"], "properties": {"logfwd.port": 7070},
                                   "release": "logfwd/0.1.0"}},  # an earlier picf: no processes, no lifecycle
               "packages": {"logfwd": {"arch": "armv7", "fingerprint": "f" * 40, "sha256": "s" * 64}}}  # fmt: skip
    state = DeployState.model_validate_json(json.dumps(written))
    assert state.verified is False and state.jobs["logfwd"].processes == [] and state.packages["logfwd"].arch == "armv7"
    wanted = wanted_state("d", "armv7", [release("armv7")], jobs(), 2).as_json()
    assert list(wanted) == ["deployment", "arch", "packages", "jobs", "monit_interval"]
    assert list(wanted["jobs"]["logfwd"]) == ["hash", "release", "properties", "packages", "processes", "lifecycle"]
    assert list(wanted["packages"]["logfwd"]) == ["fingerprint", "sha256", "arch"]


def test_two_releases_with_a_package_of_the_same_name_on_one_node_are_refused() -> None:
    other = release("armv7").model_copy(update={"name": "other"})
    both = {"logfwd": jobs()["logfwd"], "x": jobs()["logfwd"].model_copy(update={"release": "other/0.1.0"})}
    with pytest.raises(Conflict, match="package logfwd comes from two releases"):
        wanted_state("d", "armv7", [release("armv7"), other], both, 2)


def test_a_job_without_templates_gets_its_directory_in_the_bundle(tmp_path: Path) -> None:
    from picf.deploy.bundle import write_bundle
    from picf.deploy.render import RenderedJob

    job = RenderedJob(name="empty", release="r/1", files={}, monit="", properties={}, packages=(), hash="a" * 64)
    tarball = write_bundle(tmp_path / "stage", "d1", [], [], [job], DeployState())
    import tarfile

    with tarfile.open(tarball) as tar:
        assert "d1/jobs/empty/" + "a" * 64 in tar.getnames()


def test_the_plan_decides_what_a_bundle_ships_and_whether_the_node_runs_the_base_role() -> None:
    from picf.deploy.base import base_fingerprint
    from picf.deploy.nodes import NodeReport
    from picf.deploy.prepare import _node_deploy
    from picf.models.cluster import Cluster
    from picf.models.manifest import Manifest

    jobs_of_cell = {"cell": {"jobs": [{"name": "logfwd", "release": "logfwd"}]}}
    manifest = Manifest.model_validate({"name": "d", "releases": [{"name": "logfwd", "version": "0.1.0"}],
                                        "roles": jobs_of_cell})  # fmt: skip
    cell = _nodes("pi-1", roles=("cell",))[0]
    wanted = wanted_state("d", "armv7", [release("armv7")], jobs(), 2)
    version = f"logfwd/{'f' * 64}"
    fingerprint = base_fingerprint(manifest.monit_interval, True)
    report = NodeReport("pi-1", packages=frozenset({version}), prepared_mark=fingerprint, monit_running=True,
                        memory_cgroup=True)  # fmt: skip
    deploy = _node_deploy(manifest, Cluster(name="c", nodes=(cell,)), cell, report, wanted, export=False)
    assert deploy.memory_cgroup and deploy.skips_base and deploy.ships == frozenset()
    export = _node_deploy(manifest, Cluster(name="c", nodes=(cell,)), cell, report, wanted, export=True)
    assert not export.skips_base and export.ships == {version}
