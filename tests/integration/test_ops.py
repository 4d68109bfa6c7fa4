"""Day-2 operations on the simulated LAN after a deploy: picf ssh, logs, restart|stop|start and recreate, with
their faults (unknown targets, a changed host key, a node down, a restart and a reboot under `logs -f`, a stop
during a deploy, a damaged node and a re-flashed one)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from picf.models.sim import SimLan
from picf.sim import lan as simlan
from tests.integration import stalls
from tests.integration.conftest import TEST_BRIDGE, SshRunner
from tests.integration.deployed import Setup, prepare

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def setup(
    sim_lan: SimLan, picf_bin: Path, tmp_path_factory: pytest.TempPathFactory, on_node: SshRunner
) -> Iterator[Setup]:
    s = prepare(tmp_path_factory.mktemp("ops"), picf_bin, unpatched=("armv7", "arm64"))
    done = s.deploy("--yes")
    assert done.returncode == 0, done.stderr
    yield s
    for node in ("pi-1", "pi-2"):  # later modules find every job monitored and none marked stopped
        on_node(node, "rm -rf /var/vcap/picf/stopped; monit monitor all; monit start all", check=False)


def inv(setup: Setup) -> list[str]:
    return ["-i", str(setup.inventory), "-m", str(setup.manifest)]


def job_states(setup: Setup) -> dict[tuple[str, str], str]:
    done = setup.run("status", "-i", str(setup.inventory), "--json", timeout=60)
    return {(n["name"], j["job"]): j["state"] for n in json.loads(done.stdout)["nodes"] for j in n["jobs"]}


def wait_for_state(setup: Setup, key: tuple[str, str], state: str, timeout: float = 60) -> None:
    stalls.wait_until(lambda: job_states(setup).get(key) == state, timeout, f"{key} {state}")


def test_ssh_runs_one_command_with_its_exit_code_a_shell_and_a_role_in_parallel(setup: Setup) -> None:
    one = setup.run("ssh", "pi-1", *inv(setup), "--", "id -un; exit 7")
    assert one.returncode == 7 and one.stdout.strip() == "pi", one.stderr
    shell = subprocess.run([str(setup.picf), "ssh", "pi-2", *inv(setup)], input="echo from-the-shell; exit 5\n",
                           capture_output=True, text=True, timeout=60, env=setup.env)  # fmt: skip
    assert shell.returncode == 5 and "from-the-shell" in shell.stdout, shell.stderr
    both = setup.run("ssh", "logfwd", *inv(setup), "--", "hostname; echo oops >&2")
    assert both.returncode == 0, both.stderr
    assert sorted(both.stdout.splitlines()) == ["pi-1 | pi-1", "pi-2 | pi-2"]
    assert sorted(both.stderr.splitlines()) == ["pi-1 | oops", "pi-2 | oops"]
    mixed = setup.run("ssh", "logfwd", *inv(setup), "--json", "--", 'test "$(hostname)" = pi-1')
    runs = {r["node"]: r["exit_code"] for r in json.loads(mixed.stdout)}
    assert runs == {"pi-1": 0, "pi-2": 1} and mixed.returncode == 1


def test_ssh_refuses_a_changed_host_key_an_unknown_target_and_a_shell_on_several_nodes(
    setup: Setup, sim_lan: SimLan
) -> None:
    other = setup.root / "changed-key.yml"
    pi1, pi2 = sim_lan.node("pi-1"), sim_lan.node("pi-2")
    assert pi1 is not None and pi2 is not None and pi1.host_key and pi2.host_key
    other.write_text(setup.inventory.read_text().replace(pi1.host_key, "SHA256:" + "x" * 43))
    changed = setup.run("ssh", "pi-1", "-i", str(other), "-m", str(setup.manifest), "--", "true")
    assert changed.returncode == 3
    assert changed.stderr.strip().splitlines()[-1].startswith(f"picf: {pi1.address}: host key {pi1.host_key} is not "
                                                              "the pinned SHA256:xxx")  # fmt: skip
    unknown = setup.run("ssh", "pi-9", *inv(setup), "--", "true")
    assert unknown.returncode == 2 and "pi-9: no node, role or job named pi-9" in unknown.stderr
    several = setup.run("ssh", "logfwd", *inv(setup))
    assert several.returncode == 2 and "an interactive shell needs one" in several.stderr


def test_logs_show_each_jobs_last_lines_prefixed_reading_through_sudo_where_it_must(
    setup: Setup, on_node: SshRunner
) -> None:
    on_node("pi-2", "printf 'only root reads this\\n' > /var/vcap/sys/log/logfwd/private.log; "
                    "chmod 600 /var/vcap/sys/log/logfwd/private.log")  # fmt: skip
    on_node("pi-1", "printf '2020-01-01T00:00:00Z long ago\\n  its detail\\n%s just now\\n' \"$(date -u +%FT%TZ)\" "
                    "> /var/vcap/sys/log/logfwd/stamped.log")  # fmt: skip
    done = setup.run("logs", "logfwd", *inv(setup), "-n", "2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(re.match(r"pi-1/logfwd +logfwd\.stderr\.log: .*logfwd", line) for line in lines), lines
    assert any(re.match(r"pi-2/logfwd +private\.log: only root reads this", line) for line in lines), lines
    per_file: dict[str, int] = {}
    for line in lines:
        key = line.split(":", 1)[0]
        per_file[key] = per_file.get(key, 0) + 1
    assert max(per_file.values()) <= 2, per_file
    since = setup.run("logs", "pi-1/logfwd", *inv(setup), "--since", "1h", "--json")
    texts = [json.loads(line)["line"] for line in since.stdout.splitlines() if '"stamped.log"' in line]
    assert len(texts) == 1 and texts[0].endswith("just now"), texts
    env = {k: v for k, v in setup.env.items() if k != "PICF_BECOME_PASSWORD"}
    no_password = subprocess.run([str(setup.picf), "logs", "pi-2/logfwd", *inv(setup)], capture_output=True,
                                 text=True, timeout=60, env=env)  # fmt: skip
    assert no_password.returncode == 2
    assert no_password.stderr.strip().splitlines()[-1] == (
        "picf: pi-2: sudo asks for pi's password; pass -K/--ask-become-pass or set PICF_BECOME_PASSWORD"
    )
    wrong = setup.run("logs", "pi-1/logsink", *inv(setup))
    assert wrong.returncode == 2 and "pi-1/logsink: the manifest runs no job logsink on pi-1" in wrong.stderr
    fetched = setup.run("logs", "logfwd", *inv(setup), "--download", str(setup.root / "logs"), "--json")
    assert fetched.returncode == 0, fetched.stderr
    tarballs = {t["node"]: Path(t["tarball"]) for t in json.loads(fetched.stdout)}
    assert set(tarballs) == {"pi-1", "pi-2"}
    for node, path in tarballs.items():
        assert path.name.startswith(f"{node}-") and path.stat().st_mode & 0o777 == 0o600
        with tarfile.open(path) as tar:
            names = tar.getnames()
        assert "logfwd/logfwd.stderr.log" in names and all(n.startswith("logfwd") for n in names)
    with tarfile.open(tarballs["pi-2"]) as tar:
        member = tar.extractfile("logfwd/private.log")
        assert member is not None and member.read() == b"only root reads this\n"


class Follow:
    """`picf logs -f` in the background, its lines kept as they come."""

    def __init__(self, setup: Setup, *targets: str) -> None:
        argv = [str(setup.picf), "logs", *targets, *inv(setup), "-f", "-n", "0"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=setup.env)
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, keep in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, keep), daemon=True).start()

    @staticmethod
    def _read(stream: object, keep: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            keep.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 60, stream: str = "out") -> None:
        lines = self.out if stream == "out" else self.err
        stalls.wait_until(lambda: any(text in line for line in lines), timeout, f"{text!r} in logs -f")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def test_logs_follow_goes_on_across_a_restart_a_truncated_file_and_a_reboot(setup: Setup, on_node: SshRunner) -> None:
    follow = Follow(setup, "pi-1/logfwd", "pi-2/logfwd")
    try:
        # A line written before its first round ends is not shown (-n 0): write until one is.
        for i in range(60):
            on_node("pi-1", f"echo MARK-ONE-{i} >> /var/vcap/sys/log/logfwd/extra.log")
            if any("pi-1/logfwd extra.log: MARK-ONE-" in line for line in follow.out):
                break
            time.sleep(1)
        follow.wait_for("pi-1/logfwd extra.log: MARK-ONE-")
        restarted = setup.run("restart", "pi-1/logfwd", *inv(setup), "-y")
        assert restarted.returncode == 0, restarted.stderr
        follow.wait_for("pi-1/logfwd pre-start.stdout.log: pre-start: logfwd")
        on_node("pi-1", "truncate -s 0 /var/vcap/sys/log/logfwd/extra.log; "
                        "echo MARK-TWO >> /var/vcap/sys/log/logfwd/extra.log")  # fmt: skip
        follow.wait_for("pi-1/logfwd extra.log: MARK-TWO")
        follow.wait_for("picf: pi-1: logfwd/extra.log was truncated; reading it from its start", stream="err")
        simlan.fault(TEST_BRIDGE, "pi-1", "power-cycle")
        follow.wait_for("picf: pi-1: lost (", stream="err")
        follow.wait_for("picf: pi-1: answers again; following on where it stopped", timeout=120, stream="err")
        on_node("pi-1", "echo MARK-THREE >> /var/vcap/sys/log/logfwd/extra.log")
        follow.wait_for("pi-1/logfwd extra.log: MARK-THREE")
        on_node("pi-2", "echo MARK-FOUR >> /var/vcap/sys/log/logfwd/extra.log")
        follow.wait_for("pi-2/logfwd extra.log: MARK-FOUR")
        ones = [line for line in follow.out if "MARK-ONE-" in line]
        assert len(ones) == len(set(ones))  # nothing read twice
    finally:
        follow.stop()
    wait_for_state(setup, ("pi-1", "logfwd"), "running", timeout=120)


def test_stop_keeps_a_job_stopped_in_status_and_across_a_deploy_until_start(setup: Setup, on_node: SshRunner) -> None:
    stopped = setup.run("stop", "pi-2/logsink", *inv(setup), "-y")
    assert stopped.returncode == 0, stopped.stderr
    assert "pi-2: logsink stopped" in stopped.stdout
    assert re.search(r"logsink\s+Not monitored", on_node("pi-2", "monit summary").stdout)
    assert job_states(setup)[("pi-2", "logsink")] == "stopped"
    assert setup.run("status", "-i", str(setup.inventory)).returncode == 0  # stopped is not failing
    time.sleep(5)  # several monit cycles: nothing starts it again, and it is still not a crash loop
    assert job_states(setup)[("pi-2", "logsink")] == "stopped"
    # a deploy that changes the job updates it and keeps it stopped
    setup.manifest.write_text(setup.manifest.read_text().replace("port: 7060", "port: 7061"))
    deployed = setup.deploy("--yes")
    assert deployed.returncode == 0, deployed.stderr
    assert "stopped with picf stop, kept stopped: pi-2/logsink (--start starts them)" in deployed.stdout
    recorded = json.loads(on_node("pi-2", "cat /var/vcap/picf/state.json").stdout)["jobs"]["logsink"]
    assert "7061" in json.dumps(recorded)
    assert job_states(setup)[("pi-2", "logsink")] == "stopped"
    # until asked: --start starts it once the deploy (here: nothing to do) is done
    started = setup.deploy("--yes", "--start")
    assert started.returncode == 0, started.stderr
    assert "(stopped with picf stop: pi-2: logsink)" in started.stderr and "started: pi-2: logsink" in started.stderr
    assert job_states(setup)[("pi-2", "logsink")] == "running"
    assert on_node("pi-2", "ls /var/vcap/picf/stopped 2>/dev/null | wc -l").stdout.strip() == "0"


def test_restart_and_start_go_canaries_first_and_run_the_jobs_lifecycle(setup: Setup, on_node: SshRunner) -> None:
    before = {n: on_node(n, "wc -l < /var/vcap/sys/log/logfwd/pre-start.stdout.log").stdout.strip()
              for n in ("pi-1", "pi-2")}  # fmt: skip
    done = setup.run("restart", "logfwd", *inv(setup), "-y", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0] == "canaries: pi-1, pi-2"  # one per arch, as a deploy picks them
    assert [(o["node"], o["result"]) for o in json.loads(done.stdout)] == [("pi-1", "ok"), ("pi-2", "ok")]
    for node in ("pi-1", "pi-2"):
        assert f"{node}: logfwd running (pid" in done.stderr and f"{node}: post-start logfwd: ok" in done.stderr
        after = on_node(node, "wc -l < /var/vcap/sys/log/logfwd/pre-start.stdout.log").stdout.strip()
        assert int(after) == int(before[node]) + 1
    assert job_states(setup)[("pi-1", "logfwd")] == "running"
    started = setup.run("start", "pi-1", *inv(setup), "-y")  # a running job: started again, watched
    assert started.returncode == 0 and "pi-1: logfwd started" in started.stdout, started.stderr


def test_a_node_down_is_one_line_and_exit_3_while_the_others_are_served(setup: Setup) -> None:
    simlan.fault(TEST_BRIDGE, "pi-2", "link-down")
    try:
        logs = setup.run("logs", "logfwd", *inv(setup), "-n", "1", "--timeout", "2")
        assert logs.returncode == 3
        assert [line for line in logs.stderr.splitlines() if line.startswith("picf:")] == [
            logs.stderr.strip().splitlines()[0]
        ]
        assert logs.stderr.startswith("picf: pi-2 (")
        assert any(line.startswith("pi-1/logfwd") for line in logs.stdout.splitlines())
        ran = setup.run("ssh", "logfwd", *inv(setup), "--timeout", "2", "--", "echo up")
        assert ran.returncode == 3 and ran.stdout.strip() == "pi-1 | up"
        restarted = setup.run("restart", "logfwd", *inv(setup), "-y", "--timeout", "2")
        assert restarted.returncode == 3 and "pi-1: logfwd restarted" in restarted.stdout, restarted.stderr
    finally:
        simlan.fault(TEST_BRIDGE, "pi-2", "link-up")


def test_stop_during_a_deploy_is_refused_naming_the_deploy(setup: Setup) -> None:
    setup.set_port(7071)
    refused: list[subprocess.CompletedProcess[str]] = []

    def stop() -> None:
        refused.append(setup.run("stop", "pi-1/logfwd", *inv(setup), "-y"))

    done = setup.deploy_watching(setup.when_task_starts("Restart changed jobs under monit", stop), "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert len(refused) == 1 and refused[0].returncode == 1
    assert re.search(r"picf: \S+: a deploy of this cluster is running: \S+@\S+ pid \d+ since [\d:]+ \(picf deploy ",
                     refused[0].stderr), refused[0].stderr  # fmt: skip
    assert job_states(setup)[("pi-1", "logfwd")] == "running"


def test_recreate_rebuilds_a_damaged_node_and_refuses_a_new_host_key(setup: Setup, on_node: SshRunner,
                                                                    sim_lan: SimLan) -> None:  # fmt: skip
    on_node("pi-2", "rm -rf /var/vcap/data/packages /var/vcap/data/jobs /var/vcap/picf/state.json")
    kept = on_node("pi-2", "wc -c < /var/vcap/store/logsink/lines.log").stdout.strip()
    done = setup.run("recreate", "pi-2", "-i", str(setup.inventory), "-y")
    assert done.returncode == 0, done.stderr
    assert "recreating pi-2 from deployment" in done.stderr and "node pi-2 (first deploy)" in done.stdout
    assert "pi-2: Clear what picf put on the node" in done.stderr and "pi-1:" not in done.stderr
    assert job_states(setup)[("pi-2", "logsink")] == "running" and job_states(setup)[("pi-2", "logfwd")] == "running"
    assert "logsink" in json.loads(on_node("pi-2", "cat /var/vcap/picf/state.json").stdout)["jobs"]
    assert int(on_node("pi-2", "wc -c < /var/vcap/store/logsink/lines.log").stdout) >= int(kept)
    key = "/etc/ssh/ssh_host_ed25519_key"
    restart = f"{stalls.STOP_SSHD}; {simlan.START_SSHD}"
    stalls.in_node(sim_lan, "pi-2", f"cp {key} /root/k && cp {key}.pub /root/k.pub && rm {key} {key}.pub && "
                                    f"ssh-keygen -q -t ed25519 -N '' -f {key} && {restart}")  # fmt: skip
    try:
        reflashed = setup.run("recreate", "pi-2", "-i", str(setup.inventory), "-y")
    finally:
        stalls.in_node(sim_lan, "pi-2", f"mv /root/k {key} && mv /root/k.pub {key}.pub && {restart}")
    assert reflashed.returncode == 3
    last = reflashed.stderr.strip().splitlines()[-1]
    assert last.startswith("picf: pi-2 (") and "a re-flashed card has a new key" in last
    assert "picf inventory pin pi-2" in last and len(reflashed.stderr.strip().splitlines()) == 1


def _recorded(on_node: SshRunner) -> dict[str, str]:
    return {
        n: on_node(n, "cat /var/vcap/picf/state.json; ls /var/vcap/data/picf/bundles").stdout for n in ("pi-1", "pi-2")
    }


def test_preflight_finds_the_armv7_crash_loop_on_an_emulated_node_and_the_deploy_touches_no_pi(
    setup: Setup, on_node: SshRunner
) -> None:
    unpatched = setup.unpatched_manifest()
    before = _recorded(on_node)
    alone = setup.run("preflight", "-i", str(setup.inventory), "-m", str(unpatched), "--json", "--all")
    assert alone.returncode == 1, alone.stderr
    report = json.loads(alone.stdout)
    verdicts = {(j["job"], j["arch"]): j for j in report["jobs"]}
    assert verdicts[("logfwd", "arm64")]["ok"] is True  # the same unpatched build runs on 64-bit ARM
    armv7 = verdicts[("logfwd", "armv7")]
    assert armv7["ok"] is False and armv7["rendered_for"] == "pi-1"
    assert armv7["diagnosis"]["signature"] == "unaligned-atomic-64" and armv7["diagnosis"]["patch"] == "align64"
    assert any("panicUnaligned" in line or "unaligned 64-bit atomic" in line for line in armv7["log"])
    deployed = setup.deploy("--yes", "--timings", manifest=unpatched, preflight=True)
    assert deployed.returncode == 1
    err = deployed.stderr
    assert "pre-flight: logfwd does not run on armv7 (emulated, as rendered for pi-1); no node was touched" in err
    assert "  last exit: panic: unaligned 64-bit atomic operation" in err
    assert "fix: picf release build <logfwd source> --arch armv7 --patch" in err
    assert err.strip().splitlines()[-1] == "picf: pre-flight failed: logfwd on armv7 (emulated); no node was touched"
    assert "canary" not in err and "Take this node's deploy lock" not in err
    assert _recorded(on_node) == before  # no node was touched
    skip = setup.run("deploy", "-i", str(setup.inventory), "-m", str(unpatched), "--dry-run")
    assert skip.returncode == 0  # a dry run never starts the emulated nodes


def test_a_job_marked_preflight_false_is_skipped_with_a_line_and_a_passing_preflight_is_timed(
    setup: Setup, on_node: SshRunner
) -> None:
    marked = setup.root / "marked.yml"
    yaml = YAML()
    doc = yaml.load(setup.unpatched_manifest().read_text())
    for group in doc["roles"].values():
        for job in group["jobs"]:
            if job["name"] == "logfwd":
                job["preflight"] = False
    with marked.open("w") as out:
        yaml.dump(doc, out)
    assert marked.read_text().count("preflight: false") == 2
    done = setup.run("preflight", "-i", str(setup.inventory), "-m", str(marked), "--all")
    assert done.returncode == 0, done.stderr
    assert "pre-flight: skipped logfwd on armv7: the manifest marks it `preflight: false`" in done.stderr
    assert "pre-flight: logsink on arm64 ran steadily in" in done.stderr
    setup.set_port(7072)  # a change, patched: the pre-flight passes and the deploy goes on, timed
    deployed = setup.deploy("--yes", "--timings", preflight=True)
    assert deployed.returncode == 0, deployed.stderr
    assert re.search(r"pre-flight: logfwd on arm64, logfwd on armv7 ran steadily in [\d.]+ s", deployed.stderr)
    assert re.search(r"^pre-flight +[\d.]+ +\d+%$", deployed.stderr, flags=re.M), deployed.stderr


def test_an_emulated_node_that_cannot_start_stops_the_deploy_in_one_line(setup: Setup, on_node: SshRunner) -> None:
    from picf.sim import repo

    cache = setup.root / "cache"
    monit = cache / "picf" / "monit" / repo.ensure_debs()[0].stem / "usr" / "bin" / "monit"
    monit.parent.mkdir(parents=True)
    monit.write_text("#!/bin/sh\necho 'monit: cannot run here' >&2\nexit 1\n")
    monit.chmod(0o755)
    setup.set_port(7073)
    before = _recorded(on_node)
    env = {**setup.env, "XDG_CACHE_HOME": str(cache)}
    done = subprocess.run([str(setup.picf), "deploy", *inv(setup), "--yes"], capture_output=True, text=True,
                          timeout=300, env=env)  # fmt: skip
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("picf: pre-flight could not run: the emulated ") and "did not start" in last, done.stderr
    assert _recorded(on_node) == before


async def test_the_dashboard_stops_and_starts_a_job_and_follows_its_logs_on_the_nodes(
    setup: Setup, on_node: SshRunner
) -> None:
    """The keys through the real verbs: `t` on pi-2's logsink row stops it on the node (after `y`), `t` again
    starts it; `l` follows its logs."""
    from textual.widgets import DataTable, RichLog

    from picf.health.poller import Poller
    from picf.inventory import read_inventory
    from tui.app import DashboardApp
    from tui.node_screen import NodeScreen
    from tui.operating import PicfOperator

    saved = {k: os.environ.get(k) for k in ("PICF_DATA_DIR", "PICF_STATE_DIR")}
    os.environ.update({k: setup.env[k] for k in saved})  # the verbs run in this process
    operator = PicfOperator(setup.inventory, setup.manifest, setup.env["PICF_BECOME_PASSWORD"])
    app = DashboardApp(Poller(read_inventory(setup.inventory).cluster, timeout=3), interval=1.0, operator=operator)
    try:
        async with app.run_test(size=(120, 40)) as pilot:

            async def until(check: Callable[[], bool], timeout: float) -> None:
                started = time.monotonic()
                while not check():
                    assert time.monotonic() - started < timeout
                    await pilot.pause(0.25)

            await until(lambda: app.model.node("pi-2") is not None and bool(app.model.node("pi-2").jobs), 30)  # type: ignore[union-attr]
            app.push_screen(NodeScreen(app.dashboard, "pi-2"))
            await pilot.pause()
            table = app.screen.query_one("#jobs", DataTable)
            table.move_cursor(row=[str(k.value) for k in table.rows].index("logsink"))
            await pilot.press("t", "y")
            await until(lambda: job_state(app, "logsink") == "stopped", 60)
            assert re.search(r"logsink\s+Not monitored", on_node("pi-2", "monit summary").stdout)
            assert on_node("pi-2", "ls /var/vcap/picf/stopped").stdout.split() == ["logsink"]
            table.move_cursor(row=[str(k.value) for k in table.rows].index("logsink"))
            await pilot.press("t", "y")
            await until(lambda: job_state(app, "logsink") == "running", 60)
            await pilot.press("l")
            on_node("pi-2", "echo FROM-THE-DASHBOARD-TEST >> /var/vcap/sys/log/logsink/extra.log")
            log = app.screen.query_one("#log", RichLog)
            await until(lambda: any("FROM-THE-DASHBOARD-TEST" in line.text for line in log.lines), 30)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def job_state(app: object, job: str) -> str | None:
    node = app.model.node("pi-2")  # type: ignore[attr-defined]
    return next((j.state.value for j in node.jobs if j.job == job), None) if node else None
