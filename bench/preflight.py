"""The pre-flight's cost against what the crash loop costs when it is found on the Pis, side by side.

Run as root: `.venv/bin/python bench/preflight.py [--rounds 1]`. One simulated LAN of stock Raspberry Pi OS
nodes (a 3B+ armv7 cell and a 4B arm64 doppler), the example release built without the ARM patches (its
logfwd crash-loops on armv7), and, each round on fresh cards:

1. `picf deploy` with its pre-flight: the crash loop is found on an emulated armv7 node and the deploy stops,
   no Pi touched. Measured: the deploy's wall time until it exits 1 naming the job, the arch and the patch.
2. `picf deploy --no-preflight` (what a deploy without it does): the Pis are prepared, the release goes on,
   the armv7 canary's watch fails; then `picf status` polled until it shows the crash loop with its
   diagnosis (the patch to apply). Measured: deploy plus diagnosis, until the same three facts are known.

Both are checked to have found the same thing (logfwd, armv7, align64); the ratio is printed. The cards are
reset between rounds (`picf sim down` and `up`): the second way leaves them prepared and running the loop.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import smoke

REPO = Path(__file__).resolve().parents[1]
PICF = Path(sys.executable).parent / "picf"
EXAMPLE = REPO / "examples" / "releases" / "logfwd"
BRIDGE, SUBNET, PREFIX = "picff", "10.231.13.0/24", "flight"


def run(env: dict[str, str], *argv: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(PICF), *argv], env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode not in ok:
        raise SystemExit(f"picf {' '.join(argv[:3])} exited {done.returncode}:\n{done.stdout[-2000:]}\n"
                         f"{done.stderr[-2000:]}")  # fmt: skip
    return done


def fresh_lan(env: dict[str, str], root: Path) -> tuple[Path, Path]:
    """A LAN of fresh cards, its inventory (a cell and a doppler) and the unpatched manifest."""
    run(env, "sim", "down", "--bridge", BRIDGE)
    run(env, "sim", "up", "--nodes", "2", "--models", "3b+,4b", "--bridge", BRIDGE, "--subnet", SUBNET,
        "--hostname-prefix", PREFIX)  # fmt: skip
    inventory, manifest = root / "cluster.yml", root / "deployment.yml"
    inventory.write_text(run(env, "sim", "inventory", "--bridge", BRIDGE).stdout)
    for node, role in ((f"{PREFIX}-1", "cell"), (f"{PREFIX}-2", "doppler")):
        run(env, "inventory", "roles", node, f"+{role}", "--inventory", str(inventory))
    text = (REPO / "inventory" / "deployment.yml").read_text()
    manifest.write_text(text.replace("patched: true", "patched: false"))
    return inventory, manifest


def with_preflight(env: dict[str, str], inventory: Path, manifest: Path) -> float:
    started = time.perf_counter()
    done = run(env, "deploy", "-i", str(inventory), "-m", str(manifest), "--yes", ok=(1,))
    took = time.perf_counter() - started
    found = done.stderr
    assert "pre-flight: logfwd does not run on armv7" in found and "patch align64" in found, found[-2000:]
    state = run(env, "ssh", f"{PREFIX}-1", "-i", str(inventory), "-m", str(manifest), "--",
                "test -e /var/vcap/picf/state.json && echo touched || echo untouched").stdout  # fmt: skip
    assert state.strip() == "untouched", state
    return took


def on_the_pis(env: dict[str, str], inventory: Path, manifest: Path) -> tuple[float, float]:
    """Seconds to deploy (until the canary's watch fails), and until `picf status` shows the diagnosis."""
    started = time.perf_counter()
    run(env, "deploy", "-i", str(inventory), "-m", str(manifest), "--yes", "--no-preflight", "--canaries", "0",
        "--max-in-flight", "100%", ok=(0, 1))  # fmt: skip
    deployed = time.perf_counter() - started
    while True:
        status = run(env, "status", "-i", str(inventory), "--json", ok=(0, 1, 3))
        data = json.loads(status.stdout)
        loops = [j for n in data["nodes"] for j in n["jobs"] if j["state"] == "crash-loop" and j.get("diagnosis")]
        if loops and loops[0]["job"] == "logfwd" and loops[0]["diagnosis"]["patch"] == "align64":
            return deployed, time.perf_counter() - started
        if time.perf_counter() - started > 600:
            raise SystemExit(f"no diagnosed crash loop within 600 s: {status.stdout[-2000:]}")
        time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    smoke.add_flag(parser)  # one round is its smallest already
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the simulated LAN builds namespaces")
    with tempfile.TemporaryDirectory(prefix="picf-bench-preflight-") as tmp:
        root = Path(tmp)
        env = {**os.environ, "PICF_DATA_DIR": str(root / "data"), "PICF_STATE_DIR": str(root / "state")}
        for arch in ("armv7", "arm64"):
            run(env, "release", "build", str(EXAMPLE), "--arch", arch)
        try:
            flights, pis, deploys = [], [], []
            for _ in range(args.rounds):
                inventory, manifest = fresh_lan(env, root)
                flights.append(with_preflight(env, inventory, manifest))
                deployed, diagnosed = on_the_pis(env, inventory, manifest)
                deploys.append(deployed)
                pis.append(diagnosed)
        finally:
            run(env, "sim", "down", "--bridge", BRIDGE, ok=(0, 1, 2))
    flight, found = min(flights), min(pis)
    print(f"crash loop found by the pre-flight (emulated armv7, no Pi touched): {flight:6.1f} s")
    print(f"crash loop found on the Pis (deploy {min(deploys):.1f} s, then status until diagnosed): {found:6.1f} s")
    print(f"ratio: the pre-flight takes {flight / found:.2f}x the time, and leaves every card as it was")


if __name__ == "__main__":
    main()
