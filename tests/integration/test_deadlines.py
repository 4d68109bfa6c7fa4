"""Every command keeps its own deadline whatever the network does: a host that accepts TCP and then goes
silent, one that dies mid-handshake, a login or a command that hangs and then loses its cable.

Each test names the moment, makes the node stop there (a marker says when it has), pulls the cable at that
moment where it can, and checks that the command ends by itself with the other nodes handled and the stuck
one reported. The subprocess timeouts here only catch a hang; how close each command stays to its deadline
is measured by bench/deadlines.py.
"""

from __future__ import annotations

import json
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from picf.health.poller import Poller
from picf.inventory import read_inventory
from picf.models.sim import SimLan
from tests.integration import stalls

pytestmark = pytest.mark.integration

HANG_GUARD = 40  # seconds: far above every deadline below; reaching it means the command hung


@pytest.fixture(scope="module")
def inventory(sim_lan: SimLan, picf_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("deadlines") / "cluster.yml"
    path.write_text(subprocess.run([str(picf_bin), "sim", "inventory", "--bridge", sim_lan.bridge],
                                   capture_output=True, text=True, check=True).stdout)  # fmt: skip
    return path


def run(picf_bin: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(picf_bin), *args], capture_output=True, text=True, timeout=HANG_GUARD)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def discover(picf_bin: Path, lan: SimLan) -> dict[str, Any]:
    done = run(picf_bin, "discover", "-I", lan.bridge, "--user", "pi", "--key", lan.controller_key,
               "--timeout", "4", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    candidates: dict[str, Any] = {c["hostname"]: c for c in json.loads(done.stdout)["candidates"]}
    return candidates


@pytest.mark.parametrize(
    "stall", [*stalls.CONNECT_STALLS.values(), stalls.cable_pulled_mid_command("/usr/local/bin/getconf")],
    ids=[*stalls.CONNECT_STALLS, "cable-pulled-mid-probe"],
)  # fmt: skip
def test_discover_ends_by_its_timeout_and_reports_the_stuck_node(
    sim_lan: SimLan, picf_bin: Path, stall: stalls.Stall
) -> None:
    with stall(sim_lan, "pi-1"):
        candidates = discover(picf_bin, sim_lan)
    assert candidates["pi-1"]["probe_error"], candidates["pi-1"]
    assert not candidates["pi-1"]["probed"]
    assert candidates["pi-2"]["probed"] and candidates["pi-3"]["probed"]


def status(picf_bin: Path, inventory: Path) -> tuple[int, dict[str, Any]]:
    done = run(picf_bin, "status", "-i", str(inventory), "--timeout", "2", "--json")
    return done.returncode, json.loads(done.stdout)


@pytest.mark.parametrize(
    "stall", [*stalls.CONNECT_STALLS.values(), stalls.cable_pulled_mid_command("/usr/bin/vcgencmd")],
    ids=[*stalls.CONNECT_STALLS, "cable-pulled-mid-answer"],
)  # fmt: skip
def test_one_status_poll_ends_by_its_timeout_and_marks_the_stuck_node_unreachable(
    sim_lan: SimLan, picf_bin: Path, inventory: Path, stall: stalls.Stall
) -> None:
    with stall(sim_lan, "pi-2"):
        code, data = status(picf_bin, inventory)
    states = {n["name"]: n["state"] for n in data["nodes"]}
    assert states == {"pi-1": "up", "pi-2": "unreachable", "pi-3": "up"}, data
    assert code == 3


def test_status_after_the_stall_finds_the_node_again(sim_lan: SimLan, picf_bin: Path, inventory: Path) -> None:
    code, data = status(picf_bin, inventory)
    assert code == 0 and {n["state"] for n in data["nodes"]} == {"up"}, data


def test_overlapping_polls_take_turns_on_one_connection_and_shell_per_node(inventory: Path) -> None:
    # The dashboard's `r` can ask for a round while its poll loop is in one.
    cluster = read_inventory(inventory).cluster
    with Poller(cluster, timeout=5) as poller:
        start = threading.Barrier(4)

        def poll() -> list[str]:
            start.wait()
            return [n.state.value for n in poller.poll().nodes]

        with ThreadPoolExecutor(4) as pool:
            rounds = list(pool.map(lambda _: poll(), range(4)))
        assert rounds == [["up", "up", "up"]] * 4
        assert [slot.shell.opened for slot in poller._slots if slot.shell] == [1, 1, 1]
