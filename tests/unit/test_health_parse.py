"""The health probe's parsers: recorded answers from simulated Pis, hand-made edge cases, garbage."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from picf.health import parse
from picf.models.health import MonitEventKind, Throttle

DATA = Path(__file__).parent.parent / "data" / "health"


def recorded(name: str) -> list[dict[str, object]]:
    with gzip.open(DATA / name, "rt") as f:
        return [json.loads(line) for line in f]


def sample_of(node: str, index: int = -1) -> tuple[str, str, float]:
    rows = [r for r in recorded("patched-deploy.jsonl.gz") if r["node"] == node]
    row = rows[index]
    return str(row["text"]), str(row["nonce"]), float(row["at"])  # type: ignore[arg-type]


def test_a_recorded_answer_parses_completely() -> None:
    text, nonce, at = sample_of("pi-1")
    sample = parse.parse_sample(text, nonce, at)
    v = sample.vitals
    assert sample.problems == ()
    assert v.model == "Raspberry Pi 3 Model B Plus Rev 1.3"
    assert v.mem_total_kb == 970752 and v.mem_available_kb is not None and 0 < (v.mem_percent or 0) < 100
    assert v.load is not None and v.uptime_s is not None and v.uptime_s > 0
    assert v.temp_c == 47.2 and v.throttle == Throttle(bits=0) and v.memory_cgroup is True
    assert v.cpu_times is not None and v.cpu_percent is not None  # monit's system view until two samples exist
    assert sample.monit_up and sample.monit_poll_s == 2
    assert [p.name for p in sample.processes] == ["logfwd"]
    assert sample.processes[0].pid is not None and sample.processes[0].status_text == "running"
    assert sample.releases == {"logfwd": "logfwd/0.1.0"} and sample.node_arch == "armv7"
    assert sample.node_time is not None and abs(sample.node_time - at) < 5  # btime + uptime = the node's clock


def test_the_first_answer_of_a_shell_has_disks_later_ones_do_not() -> None:
    rows = [r for r in recorded("patched-deploy.jsonl.gz") if r["node"] == "pi-2"]
    first = parse.parse_sample(str(rows[0]["text"]), str(rows[0]["nonce"]), 0.0)
    second = parse.parse_sample(str(rows[1]["text"]), str(rows[1]["nonce"]), 0.0)
    assert {d.mount for d in first.vitals.disks} == {"/", "/var/vcap/data"}
    assert second.vitals.disks == ()


def test_a_crash_looping_node_sends_its_logs_and_monits_events() -> None:
    rows = [r for r in recorded("unpatched-deploy.jsonl.gz") if r["node"] == "pi-1"]
    sample = parse.parse_sample(str(rows[-1]["text"]), str(rows[-1]["nonce"]), 0.0)
    assert any("panic: unaligned 64-bit atomic operation" in line for line in sample.logs["logfwd"])
    kinds = {e.kind for e in sample.monit_events}
    assert {MonitEventKind.RESTART, MonitEventKind.FAILED_START, MonitEventKind.GAVE_UP} <= kinds
    assert sample.processes[0].monitor == 0 and sample.processes[0].status_text == "not monitored"


def test_an_answer_for_another_poll_or_no_answer_is_an_error() -> None:
    text, nonce, _ = sample_of("pi-1")
    with pytest.raises(parse.ProbeError):
        parse.parse_sample(text, "0000", 0.0)
    with pytest.raises(parse.ProbeError):
        parse.parse_sample("", nonce, 0.0)
    with pytest.raises(parse.ProbeError):
        parse.parse_sample("x" * (parse.MAX_BLOB + 1), nonce, 0.0)


def test_a_log_line_cannot_pose_as_a_section_or_end_the_answer() -> None:
    nonce = "abc"
    text = "\n".join([
        f"@@picf:begin {nonce}", "@@picf:uptime", "10.0 5.0", "@@picf:log logfwd",
        f"| @@picf:end {nonce}", "| @@picf:uptime", "| 99999 1", f"@@picf:end {nonce}", "",
    ])  # fmt: skip
    sample = parse.parse_sample(text, nonce, 0.0)
    assert sample.vitals.uptime_s == 10.0
    assert sample.logs["logfwd"] == (f"@@picf:end {nonce}", "@@picf:uptime", "99999 1")


def test_every_truncation_of_a_real_answer_parses_or_is_refused() -> None:
    text, nonce, _ = sample_of("pi-1", 3)
    lines = text.splitlines()
    end = lines[-1]
    for cut in range(1, len(lines)):
        body = [*lines[:cut], end]  # an answer cut short by the node (the marker arrives, the data does not)
        sample = parse.parse_sample("\n".join(body), nonce, 0.0)
        assert sample.at == 0.0
        for raw in (text[: len(text) * cut // len(lines)],):  # and a cut without the end marker
            with pytest.raises(parse.ProbeError):
                parse.parse_sample(raw, nonce, 0.0)


def test_garbage_in_every_section_is_never_fatal() -> None:
    rng = random.Random(7)
    text, nonce, _ = sample_of("pi-1")
    lines = text.splitlines()
    junk = [
        "",
        "nan nan nan",
        "-1 -1",
        "cpu x y z",
        "throttled=0xZZ",
        "temp=abc'C",
        "\x00\x01\x02",
        "9" * 40,
        "<monit><service type='3'><name>x</name></service></monit>",
        "<!DOCTYPE x [<!ENTITY a 'b'>]><monit/>",
        "inf inf inf",
        "MemTotal: 99999999999999999999 kB",
        "| [2026-13-45T99:99:99+0000] 'x' trying to restart",
    ]
    for _ in range(300):
        mutated = [rng.choice(junk) if not line.startswith("@@picf:") and rng.random() < 0.3 else line
                   for line in lines]  # fmt: skip
        sample = parse.parse_sample("\n".join(mutated), nonce, 0.0)  # raises on a parser bug
        assert sample.at == 0.0 and all(d.used_kb >= 0 for d in sample.vitals.disks)


@pytest.mark.parametrize(
    ("bits", "now", "since", "summary"),
    [
        (0x0, [], [], "ok"),
        (0x50005, ["under-voltage", "throttled"], ["under-voltage", "throttled"], "under-voltage,throttled"),
        (
            0xE000E,
            ["capped", "throttled", "soft-limit"],
            ["capped", "throttled", "soft-limit"],
            "capped,throttled,soft-limit",
        ),
        (0x10000, [], ["under-voltage"], "(since boot: under-voltage)"),
        (0x20001, ["under-voltage"], ["capped"], "under-voltage (since boot: capped)"),
    ],
)
def test_throttle_bits_decode_as_the_firmware_documents(
    bits: int, now: list[str], since: list[str], summary: str
) -> None:
    t = parse.parse_throttled([f"throttled={bits:#x}"])
    assert t is not None and t.now == now and t.since_boot == since and t.summary() == summary


def test_temperature_prefers_sysfs_then_vcgencmd() -> None:
    assert parse.parse_temperature(["84512"], ["temp=40.0'C"]) == 84.5
    assert parse.parse_temperature([], ["temp=42.9'C"]) == 42.9
    assert parse.parse_temperature(["garbage"], []) is None
    assert parse.parse_temperature(["999999999"], []) is None


def test_monit_log_times_in_both_formats() -> None:
    iso = parse.parse_monit_log(["[2026-11-27T07:46:29+0000] info     : 'logfwd' trying to restart"], 2026)
    old = parse.parse_monit_log(["[UTC Nov 27 07:46:29] info     : 'logfwd' trying to restart"], 2026)
    assert iso[0].at == old[0].at and iso[0].kind is MonitEventKind.RESTART and iso[0].job == "logfwd"
    gave_up = parse.parse_monit_log(
        ["[2026-11-27T07:48:04+0000] error    : 'logfwd' service restarted 3 times within 3 cycles(s) - unmonitor"],
        2026,
    )
    assert gave_up[0].kind is MonitEventKind.GAVE_UP and "3 times" in gave_up[0].text


def test_monit_xml_refuses_entities_and_reports_broken_xml() -> None:
    assert parse.parse_monit_xml("").problem == "monit did not answer on 127.0.0.1:2822"
    assert "DTD" in (parse.parse_monit_xml('<!DOCTYPE m [<!ENTITY a "aaaa">]><monit>&a;</monit>').problem or "")
    assert "not XML" in (parse.parse_monit_xml("<monit><service").problem or "")
    ok = parse.parse_monit_xml(
        '<monit><server><poll>10</poll></server><service type="3"><name>metron</name><status>512</status>'
        "<monitor>1</monitor><pendingaction>0</pendingaction></service></monit>"
    )
    assert ok.poll_s == 10 and ok.processes[0].status_text == "does not exist"


def test_cpu_use_between_two_samples() -> None:
    a = parse.parse_stat(["cpu 100 0 100 800 0 0 0 0 0 0"])
    b = parse.parse_stat(["cpu 150 0 150 900 0 0 0 0 0 0"])
    assert parse.cpu_percent(a, b) == 50.0
    assert parse.cpu_percent(b, a) is None and parse.cpu_percent(None, b) is None


def test_df_rows_are_named_by_the_path_asked_about() -> None:
    disks = parse.parse_df(["/ /dev/root 1000 250 750 25% /", "/var/vcap/data /dev/root 1000 250 750 25% /", "bad"])
    assert [(d.mount, d.percent) for d in disks] == [("/", 25.0), ("/var/vcap/data", 25.0)]
