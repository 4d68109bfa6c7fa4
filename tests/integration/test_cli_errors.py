"""Every command, given broken input, says what is wrong in one line and exits with its code: never a
traceback. Nothing here reaches a node: a broken inventory stops each command before it connects."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "releases" / "logfwd"

pytestmark = pytest.mark.integration

BROKEN_INVENTORIES = {
    "missing": None,
    "not yaml": "cluster: [unclosed\n  nodes: {\n",
    "invalid": "cluster: pi-cloud\nnodes:\n  - name: pi-1\n    address: not an address!\n    arch: sparc\n",
}

# Commands that read the inventory (given as -i FILE).
INVENTORY_COMMANDS: dict[str, list[str]] = {
    "status": ["status"],
    "deploy": ["deploy", "--dry-run"],
    "deploy --export": ["deploy", "--export", "{tmp}/export"],
    "dashboard": ["dashboard"],
    "discover": ["discover", "--no-probe", "--timeout", "1", "-I", "lo"],
    "inventory validate": ["inventory", "validate"],
    "inventory show": ["inventory", "show"],
    "inventory add": ["inventory", "add", "pi-9", "--address", "pi-9.local"],
    "inventory set": ["inventory", "set", "pi-1", "arch=armv7"],
    "inventory roles": ["inventory", "roles", "pi-1", "+cell"],
    "inventory rm": ["inventory", "rm", "pi-1"],
    "inventory pin": ["inventory", "pin", "pi-1"],
}

# Other broken inputs, each with the command that reads it.
OTHER: dict[str, Callable[[Path], list[str]]] = {
    "release lint of a missing tree": lambda tmp: ["release", "lint", str(tmp / "nowhere"), "--arch", "armv7"],
    "release lint of an empty tree": lambda tmp: ["release", "lint", str(_mkdir(tmp / "empty")), "--arch", "armv7"],
    "release patch of a missing tree": lambda tmp: ["release", "patch", str(tmp / "nowhere"), "--arch", "armv7"],
    "release validate of a missing dir": lambda tmp: ["release", "validate", str(tmp / "nowhere")],
    "release validate of a retired release.yml": lambda tmp: ["release", "validate", str(_retired_release(tmp))],
    "release validate of a broken final.yml": lambda tmp: ["release", "validate", str(_broken_release(tmp))],
    "release validate of a job spec that is not YAML": lambda tmp: ["release", "validate", str(_broken_job(tmp))],
    "release inspect of a file that is not a tarball": lambda tmp: [
        "release",
        "inspect",
        str(_write(tmp / "release.tgz", "not a tarball\n")),
    ],
    "release render of an unknown job": lambda tmp: [
        "release",
        "render",
        str(EXAMPLE),
        "nope",
        "--out",
        str(tmp / "out"),
    ],
    "release render with properties that are not a map": lambda tmp: [
        "release",
        "render",
        str(EXAMPLE),
        "logfwd",
        "--properties",
        str(_write(tmp / "p.yml", "- a list\n")),
        "--out",
        str(tmp / "out"),
    ],
    "release sync-blobs of a missing dir": lambda tmp: ["release", "sync-blobs", str(tmp / "nowhere")],
    "release render with an index that is not a number": lambda tmp: [
        "release",
        "render",
        str(EXAMPLE),
        "logfwd",
        "--spec",
        str(_write(tmp / "s.yml", "index: abc\n")),
        "--out",
        str(tmp / "out"),
    ],
    "release build with both --job and --package": lambda tmp: [
        "release",
        "build",
        str(EXAMPLE),
        "--arch",
        "armv7",
        "--job",
        "logfwd",
        "--package",
        "logfwd",
    ],
    "release build of a missing dir": lambda tmp: ["release", "build", str(tmp / "nowhere"), "--arch", "armv7"],
    "release build for an unknown arch": lambda tmp: ["release", "build", str(_broken_release(tmp)), "--arch", "z80"],
    "release inspect of an unknown release": lambda tmp: ["release", "inspect", "nothing/0.0.0"],
    "deploy with a missing manifest": lambda tmp: [
        "deploy",
        "--dry-run",
        "-i",
        str(_valid_inventory(tmp)),
        "-m",
        str(tmp / "nowhere.yml"),
    ],
    "deploy with an invalid manifest": lambda tmp: [
        "deploy",
        "--dry-run",
        "-i",
        str(_valid_inventory(tmp)),
        "-m",
        str(_write(tmp / "m.yml", "name: [x\n")),
    ],
    "deployments with a corrupt history": lambda tmp: ["deployments"],
    "sim status of a bridge with a bad name": lambda tmp: ["sim", "status", "--bridge", "Not A Bridge!"],
    "sim fault of an unknown kind": lambda tmp: ["sim", "fault", "pi-1", "melt", "--bridge", "nosuchlan"],
    "sim shell of a LAN that is not up": lambda tmp: ["sim", "shell", "pi-1", "--bridge", "nosuchlan"],
}


def _mkdir(path: Path) -> Path:
    path.mkdir(exist_ok=True)
    return path


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _valid_inventory(tmp: Path) -> Path:
    # `.local` names: nothing is sent anywhere when they do not resolve (and the manifest fails first).
    return _write(tmp / "valid.yml", "cluster: pi-cloud\nnodes:\n  - {name: pi-1, address: pi-1.local, arch: armv7}\n")


def _retired_release(tmp: Path) -> Path:
    release = _mkdir(tmp / "retired")
    _write(release / "release.yml", "name: logfwd\nversion: 0.1.0\n")
    return release


def _broken_release(tmp: Path) -> Path:
    release = _mkdir(tmp / "release")
    _write(_mkdir(release / "config") / "final.yml", "final_name: [logfwd\n")
    return release


def _broken_job(tmp: Path) -> Path:
    release = tmp / "job-release"
    shutil.copytree(EXAMPLE, release)
    _write(release / "jobs/logfwd/spec", "name: logfwd\ntemplates: [\n")
    return release


def _run(picf_bin: Path, argv: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PICF_DATA_DIR": str(tmp / "data"), "PICF_STATE_DIR": str(tmp / "state"),
           "XDG_CONFIG_HOME": str(tmp / "config"), "NO_COLOR": "1"}  # fmt: skip
    env.pop("PICF_INVENTORY", None)
    state = _mkdir(tmp / "state")
    _write(state / "history.sqlite", "this is not a database, it is a text file that lost its way\n" * 20)
    return subprocess.run([str(picf_bin), *argv], capture_output=True, text=True, timeout=120, env=env,
                          cwd=tmp, stdin=subprocess.DEVNULL)  # fmt: skip


def _assert_one_line_error(done: subprocess.CompletedProcess[str], codes: tuple[int, ...] = (1, 2, 3)) -> None:
    assert done.returncode in codes, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    assert last.startswith("picf: ") and len(last) < 400, done.stderr


# discover makes a new inventory when there is none: a missing file is not an error there.
CASES = [
    (c, i) for c in sorted(INVENTORY_COMMANDS) for i in sorted(BROKEN_INVENTORIES) if (c, i) != ("discover", "missing")
]


@pytest.mark.parametrize(("command", "inventory"), CASES)
def test_a_broken_inventory_gets_one_line_and_an_exit_code(
    picf_bin: Path, tmp_path: Path, command: str, inventory: str
) -> None:
    text = BROKEN_INVENTORIES[inventory]
    path = tmp_path / "cluster.yml"
    if text is not None:
        path.write_text(text)
    argv = [part.replace("{tmp}", str(tmp_path)) for part in INVENTORY_COMMANDS[command]]
    done = _run(picf_bin, [*argv, "-i", str(path)], tmp_path)
    _assert_one_line_error(done, (2,) if text is None else (1, 2, 3))
    assert str(path.name) in done.stderr  # the error names the file
    if text is not None:
        assert path.read_text() == text  # nothing rewritten
    assert not (tmp_path / "export").exists()


@pytest.mark.parametrize("case", sorted(OTHER))
def test_other_broken_input_gets_one_line_and_an_exit_code(picf_bin: Path, tmp_path: Path, case: str) -> None:
    _assert_one_line_error(_run(picf_bin, OTHER[case](tmp_path), tmp_path))
