"""The job lifecycle scripts as picf runs them on a node (playbooks/roles/lifecycle/files/lifecycle.sh), run
here with POSIX sh on a /var/vcap of a test's own (PICF_VCAP): the BOSH agent's contract for pre-start,
post-start, post-deploy and drain."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

LIFECYCLE = Path(__file__).resolve().parents[2] / "playbooks" / "roles" / "lifecycle" / "files" / "lifecycle.sh"


def script(vcap: Path, job: str, name: str, body: str) -> None:
    path = vcap / "jobs" / job / "bin" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def run(vcap: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PICF_VCAP": str(vcap), "PICF_DRAIN_MAX": "5"}
    return subprocess.run(["sh", str(LIFECYCLE), *args], capture_output=True, text=True, env=env, timeout=60)


def test_every_jobs_script_runs_with_its_output_in_the_jobs_logs(tmp_path: Path) -> None:
    script(tmp_path, "a", "pre-start", 'echo "a out"; echo "a err" >&2; echo "$PATH"\n')
    script(tmp_path, "b", "pre-start", "echo b\n")
    done = run(tmp_path, "pre-start", "a", "b", "c")  # c has no pre-start: nothing to run
    assert done.returncode == 0, done.stdout
    assert (tmp_path / "sys/log/a/pre-start.stdout.log").read_text() == "a out\n/usr/sbin:/usr/bin:/sbin:/bin\n"
    assert (tmp_path / "sys/log/a/pre-start.stderr.log").read_text() == "a err\n"
    assert (tmp_path / "sys/log/b/pre-start.stdout.log").read_text() == "b\n"
    assert not (tmp_path / "sys/log/c").exists()
    run(tmp_path, "pre-start", "b")
    assert (tmp_path / "sys/log/b/pre-start.stdout.log").read_text() == "b\nb\n"  # appended, as the agent does


def test_a_failing_script_fails_the_step_naming_the_job_its_exit_and_its_last_lines(tmp_path: Path) -> None:
    script(tmp_path, "a", "post-start", 'echo "cannot reach the sink" >&2; exit 3\n')
    script(tmp_path, "b", "post-start", "echo fine\n")
    done = run(tmp_path, "post-start", "a", "b")
    assert done.returncode == 1
    assert "post-start of a exited 3" in done.stdout and "  cannot reach the sink" in done.stdout
    assert "post-start b: ok" in done.stdout and done.stdout.rstrip().endswith("post-start failed: a")


def test_drain_waits_what_it_prints_and_polls_again_while_it_prints_a_negative_number(tmp_path: Path) -> None:
    # First answer -1 (wait a second, ask again), then 0; the arguments say why it runs, as BOSH's do.
    script(
        tmp_path, "a", "drain", 'echo "$*" >&2\nif [ -e "$0.asked" ]; then echo 0; else touch "$0.asked"; echo -1; fi\n'
    )
    done = run(tmp_path, "drain", "a=job_changed", "gone=job_shutdown")
    assert done.returncode == 0, done.stdout
    assert (tmp_path / "sys/log/a/drain.stderr.log").read_text() == (
        "job_changed hash_changed\njob_check_status hash_unchanged\n"
    )
    assert (tmp_path / "sys/log/a/drain.stdout.log").read_text() == "-1\n0\n"


@pytest.mark.parametrize(("answer", "says"), [("soon", "printed soon, not a number"), ("-1", "still asks to wait")])
def test_a_drain_that_prints_no_number_or_never_ends_fails(tmp_path: Path, answer: str, says: str) -> None:
    script(tmp_path, "a", "drain", f"echo {answer}\n")
    done = run(tmp_path, "drain", "a=job_changed")
    assert done.returncode == 1 and says in done.stdout, done.stdout
