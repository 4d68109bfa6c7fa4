"""`picf deploy` on the simulated LAN: real SSH, real Ansible, real monit, ARM binaries under qemu.

The tests run in order on one deployment: first deploy, no-op, diff, failures, recovery.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from picf.deploy import connection
from picf.models.sim import SimLan
from picf.sim import lan as simlan
from tests.integration import stalls
from tests.integration.conftest import TEST_BRIDGE, SshRunner
from tests.integration.deployed import Setup, prepare

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def setup(sim_lan: SimLan, picf_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    yield prepare(tmp_path_factory.mktemp("deploy"), picf_bin)


def state(on_node: SshRunner, node: str) -> dict:  # type: ignore[type-arg]
    out = on_node(node, "cat /var/vcap/picf/state.json 2>/dev/null || echo '{}'").stdout
    return json.loads(out)  # type: ignore[no-any-return]


def _fresh(on_node: SshRunner, node: str) -> bool:
    return on_node(node, "test -e /var/vcap || command -v monit", check=False).returncode != 0


def test_without_the_sudo_password_a_deploy_stops_before_changing_anything(setup: Setup, on_node: SshRunner) -> None:
    env = {k: v for k, v in setup.env.items() if k != "PICF_BECOME_PASSWORD"}
    done = subprocess.run([str(setup.picf), "deploy", "-i", str(setup.inventory), "-m", str(setup.manifest), "--yes"],
                          capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "picf: pi-2: sudo asks for pi's password; pass -K/--ask-become-pass (asked once) or set PICF_BECOME_PASSWORD"
    )
    wrong = subprocess.run([str(setup.picf), "deploy", "-i", str(setup.inventory), "-m", str(setup.manifest), "--yes"],
                           capture_output=True, text=True, timeout=120,
                           env={**env, "PICF_BECOME_PASSWORD": "not-the-password"})  # fmt: skip
    assert wrong.returncode == 1 and "pi-2: sudo refused the password for pi" in wrong.stderr
    assert "not-the-password" not in wrong.stdout + wrong.stderr
    assert _fresh(on_node, "pi-1") and _fresh(on_node, "pi-2")


def test_a_node_without_sudo_stops_the_deploy_before_changing_anything(setup: Setup, on_node: SshRunner) -> None:
    stalls.in_node(simlan.require(TEST_BRIDGE), "pi-1", "mv /usr/bin/sudo /usr/bin/sudo.off")
    try:
        done = setup.deploy("--yes")
    finally:
        stalls.in_node(simlan.require(TEST_BRIDGE), "pi-1", "mv /usr/bin/sudo.off /usr/bin/sudo")
    assert done.returncode == 1
    assert "pi-1: sudo is not installed" in done.stderr and "never logs in as root" in done.stderr
    assert _fresh(on_node, "pi-1") and _fresh(on_node, "pi-2")


def test_first_deploy_runs_the_jobs_under_monit(setup: Setup, on_node: SshRunner) -> None:
    done = setup.deploy("--yes")
    assert done.returncode == 0, done.stderr
    # One canary per architecture the deploy changes: the armv7 cell and the arm64 doppler both go first.
    assert "canaries: pi-1 (armv7), pi-2 (arm64): the first 1 changing node(s) of each arch" in done.stdout
    assert "canary 1/1: pi-1, pi-2" in done.stderr and "deployed to 2 node(s)" in done.stderr
    # pi-1 is a cell: the deploy turned the memory cgroup on and rebooted it, in the canary; pi-2 was not.
    assert "node pi-1 (first deploy)\n  ~ reboot: turn the memory cgroup on" in done.stdout
    assert "pi-1: Reboot to turn the memory cgroup on" in done.stderr
    assert "pi-2: Reboot" not in done.stderr
    assert "memory" in on_node("pi-1", "cat /sys/fs/cgroup/cgroup.controllers").stdout.split()
    cmdline = on_node("pi-1", "cat /boot/firmware/cmdline.txt").stdout
    assert cmdline.count("\n") == 1 and cmdline.split().count("cgroup_enable=memory") == 1
    for node in ("pi-1", "pi-2"):  # monit is the Debian package's service, enabled at boot, and the only one
        assert on_node(node, "systemctl is-active monit; systemctl is-enabled monit").stdout.split() == [
            "active", "enabled",
        ]  # fmt: skip
        assert on_node(node, "pgrep -c -x monit").stdout.strip() == "1"
    root = subprocess.run(["ssh", "-i", simlan.require(TEST_BRIDGE).controller_key, "-o", "BatchMode=yes",
                           "-o", f"UserKnownHostsFile={simlan.require(TEST_BRIDGE).known_hosts}",
                           f"root@{simlan.require(TEST_BRIDGE).nodes[0].address}", "true"],
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert root.returncode == 255, "root SSH must stay locked after a deploy"
    # Right after the deploy's watch saw the jobs run steadily, status says they run (one definition of it).
    health = setup.run("status", "-i", str(setup.inventory), "--json")
    jobs = {(n["name"], j["job"]): j["state"] for n in json.loads(health.stdout)["nodes"] for j in n["jobs"]}
    assert jobs == {("pi-1", "logfwd"): "running", ("pi-2", "logfwd"): "running", ("pi-2", "logsink"): "running"}
    assert health.returncode == 0
    # What the release says, the BOSH agent's way: pre-start before monit started each job, post-start after it
    # ran (it sends a line with the release's C package), post-deploy once every batch succeeded; the cell's
    # logfwd consumes the logsink link the doppler provides, so its post-start line reached pi-2's logsink.
    pi2 = simlan.require(TEST_BRIDGE).node("pi-2")
    assert pi2 is not None
    assert f'"{pi2.address}:7060"' in on_node("pi-1", "cat /var/vcap/jobs/logfwd/config/logfwd.json").stdout
    logs = on_node(
        "pi-1", "cat /var/vcap/sys/log/logfwd/pre-start.stdout.log /var/vcap/sys/log/logfwd/post-start.stdout.log"
    ).stdout
    assert "pre-start: logfwd 0.1.0 on" in logs and "(32-bit, configured for 32-bit pointers)" in logs
    sink = on_node(
        "pi-2", "cat /var/vcap/store/logsink/lines.log /var/vcap/sys/log/logsink/post-deploy.stdout.log"
    ).stdout
    assert "post-start check from 10.231." in sink and "cell/" in sink and "post-deploy: pi-cloud deployed" in sink
    for node, bits in (("pi-1", "32-bit"), ("pi-2", "64-bit")):
        summary = on_node(node, "monit summary").stdout
        assert re.search(r"logfwd\s+OK", summary), summary
        sent = on_node(node, "/var/vcap/packages/lineprobe/bin/lineprobe 7070 hello-from-test; sleep 0.5; "
                             "tail -n 1 /var/vcap/sys/log/logfwd/forwarded.log").stdout  # fmt: skip
        assert bits in sent and "hello-from-test" in sent
        layout = on_node(node, "readlink /var/vcap/packages /var/vcap/jobs; readlink -f /var/vcap/packages/logfwd; "
                               "stat -c %a /var/vcap/jobs/logfwd/config/logfwd.json").stdout.split()  # fmt: skip
        assert layout[:2] == ["/var/vcap/data/picf/current/packages", "/var/vcap/data/picf/current/jobs"]
        assert layout[2].startswith("/var/vcap/data/packages/logfwd/")
        assert layout[3] == "600"
    assert state(on_node, "pi-3") == {}


def test_a_redeploy_without_changes_runs_nothing(setup: Setup) -> None:
    deployments = len(json.loads(setup.run("deployments", "--json").stdout))
    done = setup.deploy("--yes", "--json")
    assert done.returncode == 0
    assert "nothing to do" in done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["event"] for e in events] == ["result"]  # no Ansible event: Ansible never started
    assert len(json.loads(setup.run("deployments", "--json").stdout)) == deployments


def test_dry_run_shows_the_diff_and_changes_nothing(setup: Setup, on_node: SshRunner) -> None:
    before = state(on_node, "pi-1")
    setup.set_port(7071)
    done = setup.deploy("--dry-run")
    assert done.returncode == 0
    assert "- logfwd.port: 7070" in done.stdout and "+ logfwd.port: 7071" in done.stdout
    assert state(on_node, "pi-1") == before


def test_without_yes_and_without_a_terminal_deploy_refuses(setup: Setup) -> None:
    done = setup.deploy()
    assert done.returncode == 2
    assert "--yes" in done.stderr


def test_a_property_change_restarts_the_job_with_the_new_value(setup: Setup, on_node: SshRunner) -> None:
    old_pid = on_node("pi-2", "cat /var/vcap/sys/run/logfwd/logfwd.pid").stdout.strip()
    done = setup.deploy("--yes", "--timings", "--connection", "ssh")  # Ansible's own SSH (Mitogen elsewhere)
    assert done.returncode == 0, done.stderr
    # --timings: where the time went, per phase (the watch among them) and the slowest tasks.
    table = done.stderr[done.stderr.index("phase ") :]
    for phase in ("plan", "ansible start-up", "lock", "switch", "restart", "watch"):
        assert re.search(rf"^{phase} +\d+\.\d +\d+%$", table, re.M), (phase, table)
    assert re.search(r"^  batch 1: Watch changed jobs until they run \(watch\): \d+\.\d s$", table, re.M), table
    assert on_node("pi-2", "cat /var/vcap/sys/run/logfwd/logfwd.pid").stdout.strip() != old_pid
    assert "7071" in on_node("pi-2", "cat /var/vcap/jobs/logfwd/config/logfwd.json").stdout
    assert setup.deploy("--yes").stderr.count("nothing to do") == 1


def test_a_restart_monit_dropped_is_asked_again_and_the_old_process_never_passes_the_watch(
    setup: Setup, on_node: SshRunner
) -> None:
    # monit drops a restart asked of it between `monit reload` and the reload itself (the switch now waits for
    # the reload; this is the watch's own guard, for that and any other lost restart). Replay a watch whose
    # restart was lost: a bundle whose state the node does not record, the running pid noted as the one the
    # restart replaced, and no restart.
    old_pid = on_node("pi-2", "cat /var/vcap/sys/run/logfwd/logfwd.pid").stdout.strip()
    replay = on_node(
        "pi-2",
        "cd /var/vcap/data/picf/bundles; "
        "for b in */; do cmp -s $b/state.json /var/vcap/picf/state.json && src=${b%/}; done; "
        "rm -rf lost && mkdir -p lost/replaced && cp $src/watch_jobs.sh lost/ && echo '{}' > lost/state.json && "
        "cat /var/vcap/sys/run/logfwd/logfwd.pid > lost/replaced/logfwd && "
        "sh lost/watch_jobs.sh $PWD/lost 1000 30000 1 logfwd; echo rc=$?; "
        "install -m 0644 $src/state.json /var/vcap/picf/state.json; rm -rf lost",
    ).stdout
    new_pid = on_node("pi-2", "cat /var/vcap/sys/run/logfwd/logfwd.pid").stdout.strip()
    assert "rc=0" in replay and new_pid != old_pid, (old_pid, replay)
    assert f"logfwd running (pid {new_pid}," in replay, replay
    assert "nothing to do" in setup.deploy("--yes").stderr  # the node's record is back as it was


def test_a_prepared_node_skips_its_preparation_and_is_sent_only_the_packages_it_lacks(
    setup: Setup, on_node: SshRunner
) -> None:
    # Both nodes are prepared and hold this build's packages; pi-2's monit is then stopped, so pi-2 alone is
    # prepared again (the base role starts monit), and neither is sent a package it holds.
    on_node("pi-2", "systemctl stop monit")
    setup.set_port(7090)
    done = setup.deploy("--yes", "--json")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    skipped = {e["host"] for e in events if e["event"] == "runner_on_skipped" and e["task"] == "Prepare the node"}
    assert skipped == {"pi-1"}, events
    prepared = {e["host"] for e in events if e["event"] == "runner_on_ok" and e["task"].startswith("Run monit as")}
    assert prepared == {"pi-2"}
    for node in ("pi-1", "pi-2"):
        assert on_node(node, "pgrep -c -x monit").stdout.strip() == "1"
        bundle = on_node(node, "ls /var/vcap/data/picf/bundles/$(basename $(readlink /var/vcap/data/picf/current))")
        assert "switch.sh" in bundle.stdout.split() and "packages" not in bundle.stdout.split(), bundle.stdout
        assert state(on_node, node)["jobs"]["logfwd"]["properties"]["logfwd.port"] == 7090


def test_a_node_that_is_down_stops_the_deploy_before_it_starts(setup: Setup) -> None:
    setup.set_port(7072)
    simlan.fault(TEST_BRIDGE, "pi-2", "link-down")
    try:
        done = setup.deploy("--yes")
    finally:
        simlan.fault(TEST_BRIDGE, "pi-2", "link-up")
    assert done.returncode == 3
    assert "unreachable" in done.stderr and "pi-2" in done.stderr


@pytest.mark.parametrize("stall", list(stalls.PLAN_STALLS.values()), ids=list(stalls.PLAN_STALLS))
def test_a_node_stuck_while_the_plan_reads_it_stops_the_deploy_by_its_timeout(
    setup: Setup, on_node: SshRunner, stall: stalls.Stall
) -> None:
    before = state(on_node, "pi-1")
    with stall(simlan.require(TEST_BRIDGE), "pi-2"):
        done = setup.deploy("--yes")
    assert done.returncode == 3, done.stderr
    assert "unreachable: pi-2" in done.stderr
    assert state(on_node, "pi-1") == before  # nothing was touched


def test_a_link_lost_mid_deploy_fails_that_batch_and_a_rerun_converges(setup: Setup, on_node: SshRunner) -> None:
    def pull_when_the_canaries_start(line: str, _: subprocess.Popen[str]) -> None:
        if line.startswith("canary 1/1: pi-1, pi-2"):
            simlan.fault(TEST_BRIDGE, "pi-2", "link-down")

    try:
        done = setup.deploy_watching(pull_when_the_canaries_start, "--yes")
    finally:
        simlan.fault(TEST_BRIDGE, "pi-2", "link-up")
    assert done.returncode == 1, done.stderr
    assert "the arm64 canary failed on pi-2" in done.stderr and "unreachable" in done.stderr
    assert "no other arm64 node was touched" in done.stderr
    assert state(on_node, "pi-1")["jobs"]["logfwd"]["properties"]["logfwd.port"] == 7072
    again = setup.deploy("--yes")
    assert again.returncode == 0, again.stderr
    assert state(on_node, "pi-2")["jobs"]["logfwd"]["properties"]["logfwd.port"] == 7072


def test_sigterm_mid_deploy_cancels_and_leaves_each_node_on_one_version(setup: Setup, on_node: SshRunner) -> None:
    setup.set_port(7073)

    sent = threading.Event()

    def terminate_once_the_canary_changes_something(line: str, proc: subprocess.Popen[str]) -> None:
        # The canary's first changed task: Ansible is at work on pi-1. One SIGTERM (a second one interrupts).
        if line.startswith("  pi-1: ") and not sent.is_set():
            sent.set()
            proc.send_signal(signal.SIGTERM)

    done = setup.deploy_watching(terminate_once_the_canary_changes_something, "--yes")
    assert done.returncode != 0
    assert "cancel" in done.stderr
    # A cancelled run ends abruptly: Mitogen's multiplexers (in sessions of their own) must not outlive it.
    deadline = time.monotonic() + 60  # a hang guard only
    while _ansible_of(setup.root) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _ansible_of(setup.root) == []
    history = json.loads(setup.run("deployments", "--json").stdout)
    assert history[0]["result"] == "cancelled"
    for node in ("pi-1", "pi-2"):
        current = on_node(node, "readlink /var/vcap/data/picf/current").stdout.strip()
        assert (
            on_node(node, f"test -e {current}/.complete && readlink -e {current}/jobs/logfwd", check=False).returncode
            == 0
        )
    again = setup.deploy("--yes")
    assert again.returncode == 0, again.stderr
    assert state(on_node, "pi-1")["jobs"]["logfwd"]["properties"]["logfwd.port"] == 7073


def test_a_crashing_canary_stops_the_rollout_and_names_job_node_and_log(setup: Setup, on_node: SshRunner) -> None:
    unpatched = setup.root / "unpatched.yml"
    unpatched.write_text(setup.manifest.read_text().replace("patched: true", "patched: false")
                         .replace("canary_watch_time: 1000-30000", "canary_watch_time: 1000-12000"))  # fmt: skip
    pi2_before = state(on_node, "pi-2")
    done = setup.deploy("--yes", "--only", "pi-1", manifest=unpatched)
    assert done.returncode == 1
    assert "the armv7 canary failed on pi-1" in done.stderr
    assert "logfwd is not running" in done.stderr
    assert "unaligned 64-bit atomic operation" in done.stderr
    assert state(on_node, "pi-2") == pi2_before
    fixed = setup.deploy("--yes")
    assert fixed.returncode == 0, fixed.stderr
    assert re.search(r"logfwd\s+OK", on_node("pi-1", "monit summary").stdout)


def test_a_release_not_built_for_a_nodes_arch_is_refused(setup: Setup) -> None:
    other = setup.root / "arm64-unpatched.yml"
    other.write_text(setup.manifest.read_text().replace("patched: true", "patched: false"))
    done = setup.deploy("--yes", manifest=other)
    assert done.returncode == 1
    assert "no compiled logfwd/0.1.0 for arm64" in done.stderr


def test_rollback_redeploys_the_previous_successful_manifest(setup: Setup, on_node: SshRunner) -> None:
    setup.set_port(7074)
    assert setup.deploy("--yes").returncode == 0
    done = setup.run("deploy", "--rollback", "--yes", "-i", str(setup.inventory), "-m", str(setup.manifest))
    assert done.returncode == 0, done.stderr
    assert state(on_node, "pi-1")["jobs"]["logfwd"]["properties"]["logfwd.port"] == 7073


def test_an_export_runs_with_plain_ansible_playbook_as_picf_would_and_a_second_run_changes_nothing(
    setup: Setup, on_node: SshRunner
) -> None:
    setup.set_port(7079)
    export = setup.root / "export"
    done = setup.deploy("--export", str(export))
    assert done.returncode == 0, done.stderr
    assert f"ansible-playbook -i {export}/hosts.yml -K {export}/site.yml" in done.stderr  # pi-2's sudo asks
    assert os.stat(export).st_mode & 0o777 == 0o700
    assert state(on_node, "pi-1")["jobs"]["logfwd"]["properties"]["logfwd.port"] == 7073  # exporting changes nothing
    # Plain ansible-playbook, run from elsewhere (so not with the export's ansible.cfg), without picf's
    # environment; sudo's password as Ansible takes it, from a private vars file removed afterwards.
    become = setup.root / "become.yml"
    become.write_text(f"ansible_become_password: {setup.env['PICF_BECOME_PASSWORD']}\n")
    become.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PICF_", "ANSIBLE_"))}
    argv = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(export / "hosts.yml"),
            str(export / "site.yml"), "-e", f"@{become}"]  # fmt: skip
    try:
        first = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, cwd=setup.root)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr
        second = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, cwd=setup.root)
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr
        # Mitogen (picf's default connection) checks host keys against the same pins: a key that is not the
        # node's makes the node unreachable, before any task runs.
        pins = (export / "known_hosts").read_text()
        other = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(setup.root / "other")],
                               capture_output=True, timeout=30)  # fmt: skip
        assert other.returncode == 0
        blob = " ".join((setup.root / "other.pub").read_text().split()[:2])
        (export / "known_hosts").write_text("".join(f"{line.split()[0]} {blob}\n" for line in pins.splitlines()))
        strategies = connection.mitogen_strategies()
        assert strategies is not None
        mitogen = {**env, "ANSIBLE_STRATEGY_PLUGINS": str(strategies), "ANSIBLE_STRATEGY": "mitogen_linear"}
        impostor = subprocess.run([*argv, "--limit", "pi-1"], capture_output=True, text=True, timeout=300,
                                  env=mitogen, cwd=setup.root)  # fmt: skip
        (export / "known_hosts").write_text(pins)
        assert impostor.returncode != 0 and "unreachable=1" in impostor.stdout, impostor.stdout[-3000:]
        assert "host key" in impostor.stdout.lower(), impostor.stdout[-3000:]
    finally:
        become.unlink()
    for node in ("pi-1", "pi-2"):
        assert state(on_node, node)["jobs"]["logfwd"]["properties"]["logfwd.port"] == 7079
        assert "7079" in on_node(node, "cat /var/vcap/jobs/logfwd/config/logfwd.json").stdout
    recap = re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0", second.stdout, re.M)
    assert sorted(host for host, _ in recap) == ["localhost", "pi-1", "pi-2"], second.stdout[-2000:]
    assert all(changed == "0" for _, changed in recap), second.stdout[-4000:]
    assert "nothing to do" in setup.deploy("--yes").stderr  # picf sees what the export did as its own
    shutil.rmtree(export)


def _ansible_of(root: Path) -> list[str]:
    """The ansible-playbook processes (main and workers) of deploys whose work dirs are under `root`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "ansible-playbook" in argv and str(root) in argv:
            found.append(f"{proc.name}: {argv[:200]}")
    return found


def test_a_second_deploy_of_the_cluster_says_who_deploys_and_touches_nothing_and_wait_waits(setup: Setup) -> None:
    setup.set_port(7080)
    deployments = len(json.loads(setup.run("deployments", "--json").stdout))
    second: list[subprocess.CompletedProcess[str]] = []
    waiting: list[threading.Thread] = []
    waited: list[subprocess.CompletedProcess[str]] = []

    def meanwhile() -> None:
        second.append(setup.deploy("--yes"))
        thread = threading.Thread(target=lambda: waited.append(setup.deploy("--yes", "--wait", "--json")))
        thread.start()
        waiting.append(thread)

    first = setup.deploy_watching(
        setup.when_task_starts("Restart changed jobs under monit", meanwhile), "--yes", "--json"
    )
    for thread in waiting:
        thread.join(timeout=300)
    assert first.returncode == 0, first.stderr
    assert second and second[0].returncode == 1
    message = second[0].stderr.strip().splitlines()[-1]
    assert re.fullmatch(
        rf"picf: {re.escape(str(setup.inventory))}: a deploy of this cluster is running: \S+@\S+ pid \d+ since "
        r"\d\d:\d\d:\d\d \(picf deploy .*\); wait for it, or pass --wait to start when it ends",
        message,
    ), message
    assert waited and waited[0].returncode == 0, waited[0].stderr if waited else "no --wait deploy"
    assert "waiting for the deploy of" in waited[0].stderr and "nothing to do" in waited[0].stderr
    # Only the first deploy is in the history: the refused one never started, the waiting one found nothing to do.
    assert len(json.loads(setup.run("deployments", "--json").stdout)) == deployments + 1


def test_a_deploy_killed_with_sigkill_leaves_no_ansible_and_no_secret_and_the_next_deploy_recovers(
    setup: Setup, on_node: SshRunner
) -> None:
    setup.set_port(7081)
    killed = threading.Event()

    def kill_in_the_watch(line: str, proc: subprocess.Popen[str]) -> None:
        if (
            not killed.is_set()
            and line.startswith("{")
            and json.loads(line).get("task") == "Watch changed jobs until they run"
        ):
            killed.set()
            proc.kill()  # SIGKILL: nothing in picf runs after this

    done = setup.deploy_watching(kill_in_the_watch, "--yes", "--json")
    assert killed.is_set() and done.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 60  # a hang guard only: the run is killed within a second
    while _ansible_of(setup.root) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _ansible_of(setup.root) == []
    # What a killed deploy leaves on disk holds no secret: sudo's password never reached ansible-runner's env/.
    leftovers = list((setup.root / "tmp").glob("picf-deploy-*"))
    assert leftovers, "the killed deploy's work dir (removed by the next deploy)"
    become = setup.env["PICF_BECOME_PASSWORD"].encode()
    creds = re.search(r"logfwd_token: (\S+)", (setup.manifest.parent / "creds.yml").read_text())
    assert creds is not None
    for path in leftovers[0].rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert become not in data and creds.group(1).encode() not in data, path
    again = setup.deploy("--yes")
    assert again.returncode == 0, again.stderr
    assert "taking over the deploy lock of" in again.stderr and "that process is gone" in again.stderr
    assert "the work directory of a deploy that was killed" in again.stderr
    assert list((setup.root / "tmp").glob("picf-deploy-*")) == []
    assert state(on_node, "pi-1")["jobs"]["logfwd"]["properties"]["logfwd.port"] == 7081


def test_a_node_another_controller_deploys_to_is_left_alone_until_its_lease_ends(
    setup: Setup, on_node: SshRunner
) -> None:
    setup.set_port(7082)
    lease = "/var/vcap/picf/deploy.owner"
    on_node("pi-1", f'echo "someone@other-controller:abc $(( $(date +%s) + 600 ))" > {lease}')
    refused = setup.deploy("--yes")
    assert refused.returncode == 1
    assert "another controller is deploying to this node: someone@other-controller:abc" in refused.stderr
    assert state(on_node, "pi-1")["jobs"]["logfwd"]["properties"]["logfwd.port"] == 7081
    on_node("pi-1", f'echo "someone@other-controller:abc $(( $(date +%s) - 1 ))" > {lease}')
    taken = setup.deploy("--yes")
    assert taken.returncode == 0, taken.stderr
    assert "pi-1: Take this node's deploy lock" in taken.stderr  # shown as a change: the expired lease taken over
    assert state(on_node, "pi-1")["jobs"]["logfwd"]["properties"]["logfwd.port"] == 7082
    assert on_node("pi-1", f"test -e {lease}", check=False).returncode == 1  # released at the end


def _power(node: str, kind: str) -> Callable[[], None]:
    return lambda: simlan.fault(TEST_BRIDGE, node, kind)


def _deploy_powering_off(
    setup: Setup, node: str, task: str, manifest: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """A deploy (with --json) during which `node` loses power as Ansible starts `task`; powered on again after."""
    try:
        cut = setup.when_task_starts(task, _power(node, "power-off"))
        return setup.deploy_watching(cut, "--yes", "--json", manifest=manifest)
    finally:
        simlan.fault(TEST_BRIDGE, node, "power-on")


def _memory_cgroup_off(on_node: SshRunner, node: str) -> None:
    on_node(node, "sed -i 's/ cgroup_enable=memory//g' /boot/firmware/cmdline.txt")
    simlan.fault(TEST_BRIDGE, node, "power-cycle")
    assert "memory" not in on_node(node, "cat /sys/fs/cgroup/cgroup.controllers").stdout.split()


def test_a_power_cut_while_the_cmdline_is_edited_leaves_it_one_whole_line_and_a_rerun_converges(
    setup: Setup, on_node: SshRunner
) -> None:
    _memory_cgroup_off(on_node, "pi-1")
    before = on_node("pi-1", "cat /boot/firmware/cmdline.txt").stdout
    # The power goes as the edit starts, and comes back only after the deploy has given up on pi-1.
    done = _deploy_powering_off(setup, "pi-1", "Turn the memory cgroup on at the next boot")
    assert done.returncode != 0
    after = on_node("pi-1", "cat /boot/firmware/cmdline.txt").stdout
    assert after in (before, before.rstrip("\n") + " cgroup_enable=memory\n")  # the old line or the new one
    again = setup.deploy("--yes")
    assert again.returncode == 0, again.stderr
    assert "memory" in on_node("pi-1", "cat /sys/fs/cgroup/cgroup.controllers").stdout.split()


def test_a_node_that_does_not_come_back_from_its_reboot_stops_the_rollout(setup: Setup, on_node: SshRunner) -> None:
    _memory_cgroup_off(on_node, "pi-1")
    setup.set_port(7075)
    pi2_before = state(on_node, "pi-2")
    short = setup.root / "short-reboot.yml"
    short.write_text(setup.manifest.read_text() + "reboot_timeout: 20\n")
    done = _deploy_powering_off(setup, "pi-1", "Reboot to turn the memory cgroup on", manifest=short)
    assert done.returncode == 1
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "the armv7 canary failed on pi-1" in result["message"]
    assert "Reboot to turn the memory cgroup on" in result["message"]
    # pi-2 is the arm64 canary, updated beside pi-1: no other armv7 node exists to be left untouched here.
    assert state(on_node, "pi-2") != pi2_before
    again = setup.deploy("--yes")
    assert again.returncode == 0, again.stderr
    assert state(on_node, "pi-2")["jobs"]["logfwd"]["properties"]["logfwd.port"] == 7075


def test_a_power_cut_during_the_switch_leaves_the_node_on_one_version_and_a_rerun_converges(
    setup: Setup, on_node: SshRunner
) -> None:
    setup.set_port(7076)
    # pi-2 is the arm64 canary: its switch starts with the canary batch's, the first one.
    done = _deploy_powering_off(setup, "pi-2", "Switch the node to this deploy in one rename")
    assert done.returncode != 0
    current = on_node("pi-2", "readlink /var/vcap/data/picf/current").stdout.strip()
    assert (
        on_node("pi-2", f"test -e {current}/.complete && readlink -e {current}/jobs/logfwd", check=False).returncode
        == 0
    )
    again = setup.deploy("--yes")
    assert again.returncode == 0, again.stderr
    assert state(on_node, "pi-2")["jobs"]["logfwd"]["properties"]["logfwd.port"] == 7076


def test_after_a_power_cut_of_every_node_every_job_runs_again_without_a_redeploy(setup: Setup) -> None:
    first = setup.deploy("--yes")  # deployed (or "nothing to do" after the tests above), so it runs on its own too
    assert first.returncode == 0, first.stderr
    boots = {s.name: s.boots for s in simlan.status(TEST_BRIDGE)}
    cut_at = time.monotonic()
    cuts = [threading.Thread(target=simlan.fault, args=(TEST_BRIDGE, n, "power-cycle")) for n in boots]
    for cut in cuts:
        cut.start()
    for cut in cuts:
        cut.join()
    deadline = time.monotonic() + 120  # a bound that only catches "never": bench/ measures how long it takes
    while True:
        health = json.loads(setup.run("status", "-i", str(setup.inventory), "--json").stdout)
        jobs = [j["state"] for n in health["nodes"] for j in n["jobs"]]
        if jobs == ["running"] * 3 or time.monotonic() > deadline:  # pi-1's logfwd, pi-2's logsink and logfwd
            break
        time.sleep(1)
    assert jobs == ["running"] * 3, health
    assert {s.name: s.boots for s in simlan.status(TEST_BRIDGE)} == {n: b + 1 for n, b in boots.items()}
    # Status shows the reboot: each node booted after the cut, so the uptime it reports is below the time since
    # (an order of events, whatever the machine's speed; the 1 s is the uptime's rounding).
    since_cut = time.monotonic() - cut_at
    assert all(n["vitals"]["uptime_s"] <= since_cut + 1 for n in health["nodes"])
    again = setup.deploy("--yes")
    assert again.returncode == 0 and "nothing to do" in again.stderr


def test_secrets_never_reach_output_history_or_ansible_artifacts(setup: Setup) -> None:
    creds = setup.manifest.parent / "creds.yml"
    assert os.stat(creds).st_mode & 0o777 == 0o600
    token = re.search(r"logfwd_token: (\S+)", creds.read_text())
    assert token is not None
    secret = token.group(1)
    assert len(secret) == 20
    assert all(secret not in out for out in setup.outputs)
    become = setup.env["PICF_BECOME_PASSWORD"]  # sudo's: in no output, no history, no file of the deploy
    assert all(become not in out for out in setup.outputs)
    for path in setup.root.rglob("*"):
        if path.is_file():
            assert become.encode() not in path.read_bytes(), path
    history = setup.root / "state" / "history.sqlite"
    assert secret.encode() not in history.read_bytes()
    leftovers = list((setup.root / "tmp").glob("picf-deploy-*"))
    assert leftovers == [], "deploy work dirs (Ansible artifacts) must be removed"
