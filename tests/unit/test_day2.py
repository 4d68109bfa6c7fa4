"""Day-2 operations' pure logic: the target grammar, the log rounds' answers, exit codes, the stopped mark."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from picf.deploy.lock import ClusterLock, ClusterLocked
from picf.errors import UsageError
from picf.health.detector import CrashLoopDetector
from picf.health.parse import parse_sample
from picf.models.cluster import Cluster
from picf.models.health import JobState, MonitEvent, MonitEventKind, MonitProcess, NodeSample, Vitals
from picf.models.manifest import Manifest
from picf.ops.logs import FileMark, parse_answer, parse_duration
from picf.ops.logs import line_time as stamp
from picf.ops.shell import NodeRun, combined_exit
from picf.ops.targets import Target, as_recorded, resolve


def _cluster() -> Cluster:
    return Cluster.model_validate(
        {
            "name": "lab",
            "ssh": {"user": "pi", "private_key": "~/.ssh/id_ed25519"},
            "nodes": [
                {"name": "pi-1", "address": "10.0.0.1", "arch": "armv7", "roles": ["cell"]},
                {"name": "pi-2", "address": "10.0.0.2", "arch": "arm64", "roles": ["doppler"]},
                {"name": "pi-3", "address": "10.0.0.3", "arch": "arm64", "roles": ["cell"]},
                {"name": "nats", "address": "10.0.0.4", "arch": "armv6", "roles": ["nats"]},
            ],
        }
    )


def _manifest() -> Manifest:
    return Manifest.model_validate(
        {
            "name": "pi-cloud",
            "releases": [{"name": "logfwd", "version": "0.1.0"}],
            "roles": {
                "doppler": {
                    "jobs": [{"name": "logsink", "release": "logfwd"}, {"name": "logfwd", "release": "logfwd"}]
                },
                "cell": {"jobs": [{"name": "logfwd", "release": "logfwd"}]},
                "nats": {"jobs": [{"name": "nats", "release": "logfwd"}]},
            },
        }
    )


def _names(targets: list[Target]) -> list[tuple[str, tuple[str, ...], bool]]:
    return [(t.name, t.jobs, t.whole_node) for t in targets]


def test_each_form_of_target_names_the_nodes_and_jobs_it_means() -> None:
    cluster, manifest = _cluster(), _manifest()
    assert _names(resolve(["pi-2"], cluster, manifest, "here")) == [("pi-2", ("logsink", "logfwd"), True)]
    assert _names(resolve(["pi-2/logsink"], cluster, manifest, "here")) == [("pi-2", ("logsink",), False)]
    assert _names(resolve(["cell"], cluster, manifest, "here")) == [
        ("pi-1", ("logfwd",), False),
        ("pi-3", ("logfwd",), False),
    ]
    assert _names(resolve(["logfwd"], cluster, manifest, "here")) == [
        ("pi-1", ("logfwd",), False),
        ("pi-2", ("logfwd",), False),
        ("pi-3", ("logfwd",), False),
    ]
    # several targets merge per node, in the inventory's order
    merged = resolve(["pi-3", "pi-2/logsink", "pi-2/logfwd"], cluster, manifest, "here")
    assert _names(merged) == [("pi-2", ("logsink", "logfwd"), False), ("pi-3", ("logfwd",), True)]


def test_a_name_with_two_meanings_is_refused_unless_its_kind_is_written() -> None:
    cluster = _cluster()
    manifest = _manifest()  # "nats" is a node, a role and a job
    with pytest.raises(UsageError, match="nats is a node and a role and a job; write node:nats or role:nats or job:"):
        resolve(["nats"], cluster, manifest, "here")
    assert _names(resolve(["role:nats"], cluster, manifest, "here")) == [("nats", ("nats",), False)]
    assert _names(resolve(["node:nats"], cluster, manifest, "here")) == [("nats", ("nats",), True)]
    with pytest.raises(UsageError, match=r"thing:nats: thing: is not a kind of target"):
        resolve(["thing:nats"], cluster, manifest, "here")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("pi-9", "pi-9: no node, role or job named pi-9 in cluster.yml"),
        ("pi-9/logfwd", "pi-9/logfwd: no node named pi-9 in cluster.yml"),
        ("pi-1/logsink", r"pi-1/logsink: the manifest runs no job logsink on pi-1 \(it runs: logfwd\)"),
        ("job:pi-1", "job:pi-1: no job named pi-1 in cluster.yml"),
        ("", "no node, role or job named  in"),
    ],
)
def test_an_unknown_target_is_one_line_naming_it(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        resolve([spec], _cluster(), _manifest(), "cluster.yml")


def test_a_job_the_node_does_not_record_is_named_with_what_it_runs() -> None:
    both = resolve(["pi-2/logsink", "pi-2/logfwd"], _cluster(), _manifest(), "here")[0]
    assert as_recorded(both, {"jobs": {"logsink": {}, "logfwd": {}}}) == (both, [])
    assert as_recorded(both, {"jobs": {"logfwd": {}}})[1] == [
        "pi-2/logsink: not deployed on pi-2 (it runs: logfwd); deploy first (picf deploy)"
    ]
    assert as_recorded(both, None)[1][0].startswith("pi-2/logsink: not deployed on pi-2 (it runs: nothing)")
    # a whole node is what it records, whatever the manifest says now
    node = resolve(["pi-2"], _cluster(), _manifest(), "here")[0]
    assert as_recorded(node, {"jobs": {"old": {}, "logfwd": {}}})[0].jobs == ("logfwd", "old")
    assert as_recorded(node, {})[1] == ["pi-2: runs no job picf deployed; deploy first (picf deploy)"]


def test_a_log_round_moves_each_file_on_and_says_when_one_was_replaced() -> None:
    marks: dict[str, FileMark] = {}
    first = parse_answer(
        "pi-1",
        "@@file logfwd/logfwd.stderr.log 11 20 0 tail 123\n|one\n|two\n\n@@missing logsink\n@@end\n",
        marks,
        None,
    )
    assert [(line.job, line.file, line.text) for line in first.lines] == [
        ("logfwd", "logfwd.stderr.log", "one"),
        ("logfwd", "logfwd.stderr.log", "two"),
    ]
    assert first.notes == ["logsink: no logs yet (/var/vcap/sys/log/logsink does not exist)"]
    assert marks == {"logfwd/logfwd.stderr.log": FileMark("11", 20, "123")}
    again = parse_answer("pi-1", "@@file logfwd/logfwd.stderr.log 12 4 0 replaced 9\n|new\n@@end\n", marks, None)
    assert again.notes == ["logfwd/logfwd.stderr.log was replaced; reading it from its start"]
    assert [line.text for line in again.lines] == ["new"] and marks["logfwd/logfwd.stderr.log"].offset == 4
    denied = parse_answer("pi-1", "@@denied logfwd\n@@end\n", {}, None)
    assert denied.denied and not denied.lines


def test_since_keeps_lines_from_their_own_time_on_and_the_untimed_lines_under_them() -> None:
    text = (
        "@@file j/a.log 1 100 0 tail 1\n"
        "|2026-12-05T10:00:00Z old\n|  old detail\n"
        "|2026/12/05 11:00:00 new\n|  new detail\n"
        "|1796461200 epoch line, before\n"
    )
    since = datetime(2026, 12, 5, 10, 30, tzinfo=UTC).timestamp()
    kept = [line.text for line in parse_answer("n", text, {}, since).lines]
    assert kept == ["2026/12/05 11:00:00 new", "  new detail"]
    assert stamp("[2026-12-05 11:00:00.5+01:00] x") == datetime(2026, 12, 5, 10, 0, 0, 500000, UTC).timestamp()
    assert stamp("no time here") is None


def test_durations() -> None:
    assert [parse_duration(d) for d in ("90s", "15m", "2h", "1d")] == [90, 900, 7200, 86400]
    with pytest.raises(UsageError, match="--since '5 minutes': give a duration like 90s"):
        parse_duration("5 minutes")


def test_a_command_on_several_nodes_exits_with_what_they_agree_on() -> None:
    assert combined_exit([NodeRun("a", 0), NodeRun("b", 0)]) == 0
    assert combined_exit([NodeRun("a", 4), NodeRun("b", 4)]) == 4
    assert combined_exit([NodeRun("a", 0), NodeRun("b", 2)]) == 1
    assert combined_exit([NodeRun("a", 0), NodeRun("b", error="b: no TCP connection")]) == 3


def test_a_job_picf_stop_stopped_is_stopped_not_a_crash_loop_whatever_monit_did_before() -> None:
    d = CrashLoopDetector()
    events = tuple(
        MonitEvent(at=datetime.fromtimestamp(1000 + i, UTC), job="metron", kind=MonitEventKind.RESTART, text="r")
        for i in range(5)
    )
    process = MonitProcess(name="metron", status=0, monitor=0, pid=None, uptime_s=None)

    def sample(stopped: frozenset[str] | None) -> NodeSample:
        return NodeSample(at=1010, node_time=1010, vitals=Vitals(), monit_up=True, processes=(process,),
                          monit_events=events, stopped=stopped)  # fmt: skip

    assert CrashLoopDetector().observe("pi", sample(None))[0].state is JobState.CRASH_LOOP
    job = d.observe("pi", sample(frozenset({"metron"})))[0]
    assert job.state is JobState.STOPPED and "picf stop" in job.detail and job.diagnosis is None


def test_the_probe_reports_the_stopped_jobs_with_the_state_file() -> None:
    text = "\n".join(["@@picf:begin n1", "@@picf:uptime", "100.0 50.0", "@@picf:state", "@@picf:stopped",
                      "| logsink", "| logfwd", "@@picf:end n1"])  # fmt: skip
    assert parse_sample(text, "n1", 1.0).stopped == frozenset({"logsink", "logfwd"})
    no_state = "\n".join(["@@picf:begin n1", "@@picf:uptime", "100.0 50.0", "@@picf:end n1"])
    assert parse_sample(no_state, "n1", 1.0).stopped is None  # unchanged since the last read


def test_a_day2_command_holding_the_lock_is_named_as_such(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICF_STATE_DIR", str(tmp_path))
    monkeypatch.setattr("sys.argv", ["/usr/bin/picf", "stop", "pi-1/logfwd"])
    inventory = tmp_path / "cluster.yml"
    held = ClusterLock(inventory, activity="picf stop")
    held.acquire()
    try:
        with pytest.raises(ClusterLocked, match=r"a picf stop of this cluster is running: .*\(picf stop pi-1/"):
            ClusterLock(inventory).acquire()
    finally:
        held.release()
