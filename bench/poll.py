"""One health poll round over 20 simulated Pis: picf's kept-open shells against what a user would reach for.

Run as root: `.venv/bin/python bench/poll.py [--nodes 20] [--rounds 15]`. Target (issue #8): a warm round in
under 50 ms. Each node first gets what a deployed node has for the probe to read (monit on 127.0.0.1:2822
supervising its jobs, picf's state file: the example release deployed by `picf deploy`), so every variant
runs the same full probe. Side by side:
- picf: `Poller.poll()`, one persistent fabric connection and one open shell per node, 16 in parallel;
- the same, one node at a time; and the same asking monit on every poll (the probe otherwise re-reads monit's
  view only when a job's pid died or changed or half a monit cycle has passed: between two of monit's cycles its
  answer cannot change);
- fabric: `Connection.run(probe)` on a live connection (a new exec channel per command), sequential and
  parallel;
- OpenSSH: a fresh `ssh node sh` per node, sequential and all at once.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import smoke

from picf import transport
from picf.health.parse import parse_sample
from picf.health.poller import PROBE_SCRIPT, Poller
from picf.inventory import read_inventory
from picf.models.cluster import Cluster
from picf.sim import lan as simlan

REPO = Path(__file__).resolve().parents[1]
BRIDGE, SUBNET, PREFIX = "picfp", "10.231.8.0/24", "poll"
TARGET_MS = 50.0
PICF = Path(sys.executable).with_name("picf")
EXAMPLE = REPO / "examples" / "releases" / "logfwd"


def picf(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run([str(PICF), *argv], env=env, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise SystemExit(f"picf {' '.join(argv[:3])} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return done.stdout


def deploy_example(nodes: int, root: Path) -> Path:
    """A LAN of stock cards running the example release as picf deploys it (monit installed from the OS's
    packages, the jobs under it, picf's state file): what the probe reads on a real cluster. Its inventory."""
    env = {**os.environ, "PICF_DATA_DIR": str(root / "data"), "PICF_STATE_DIR": str(root / "state")}
    picf(env, "sim", "up", "--nodes", str(nodes), "--models", "3b+,4b", "--bridge", BRIDGE, "--subnet", SUBNET,
         "--hostname-prefix", PREFIX)  # fmt: skip
    env["PICF_BECOME_PASSWORD"] = simlan.require(BRIDGE).password  # a Trixie card's sudo asks for it
    for arch in ("armv7", "arm64"):
        picf(env, "release", "build", str(EXAMPLE), "--arch", arch, "--patch")
    inventory, manifest = root / "cluster.yml", root / "deployment.yml"
    inventory.write_text(picf(env, "sim", "inventory", "--bridge", BRIDGE).replace("roles: []", "roles: [doppler]"))
    manifest.write_text((REPO / "inventory" / "deployment.yml").read_text())
    picf(env, "deploy", "-i", str(inventory), "-m", str(manifest), "--yes", "--no-preflight")
    return inventory


def median_ms(rounds: int, one_round: Callable[[], None]) -> float:
    one_round()  # warm-up (connections, page cache)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        one_round()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def probe_line() -> tuple[str, str]:
    nonce = secrets.token_hex(8)
    return nonce, f"{PROBE_SCRIPT}\npicf_probe {nonce}\n"


def check(text: str, nonce: str) -> None:
    sample = parse_sample(text, nonce, time.time())
    assert sample.monit_up and sample.processes and sample.processes[0].pid, sample.problems


def bench_picf(cluster: Cluster, rounds: int, parallel: int, fresh: bool = False) -> float:
    with Poller(cluster, timeout=10, parallel=parallel, fresh_monit=fresh) as poller:

        def one() -> None:
            health = poller.poll()
            assert all(n.state.value == "up" and n.jobs[0].pid for n in health.nodes), health

        return median_ms(rounds, one)


def bench_fabric(cluster: Cluster, rounds: int, parallel: int) -> float:
    conns = [transport.connect(n.address, cluster.ssh, n.host_key) for n in cluster.nodes]
    try:

        def probe(conn: transport.NodeConnection) -> None:
            nonce, script = probe_line()
            check(conn.run(script, timeout=10), nonce)

        with ThreadPoolExecutor(max_workers=parallel) as pool:
            return median_ms(rounds, lambda: list(pool.map(probe, conns)))
    finally:
        for conn in conns:
            conn.close()


def bench_ssh(cluster: Cluster, user: str, key: str, known_hosts: str, rounds: int, parallel: bool) -> float:
    def argv(address: str) -> list[str]:
        return ["ssh", "-i", key, "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes",
                "-o", "BatchMode=yes", f"{user}@{address}", "sh"]  # fmt: skip

    def one() -> None:
        nonce, script = probe_line()
        if parallel:
            procs = [subprocess.Popen(argv(n.address), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                     for n in cluster.nodes]  # fmt: skip
            for proc in procs:
                out, _ = proc.communicate(script, timeout=30)
                check(out, nonce)
        else:
            for n in cluster.nodes:
                done = subprocess.run(argv(n.address), input=script, capture_output=True, text=True, timeout=30)
                check(done.stdout, nonce)

    return median_ms(rounds, one)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=15)
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.nodes, args.rounds = 2, 2
    if os.geteuid() != 0:
        print("bench/poll.py needs root (it builds the simulated LAN)", file=sys.stderr)
        return 2
    simlan.down(BRIDGE)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cluster = read_inventory(deploy_example(args.nodes, Path(tmp))).cluster
        lan = simlan.require(BRIDGE)
        login = (lan.user, lan.controller_key, lan.known_hosts)
        results = [
            ("picf Poller, kept-open shells, 16 parallel", bench_picf(cluster, args.rounds, 16)),
            ("picf Poller, kept-open shells, sequential", bench_picf(cluster, args.rounds, 1)),
            ("picf Poller, asking monit every poll, 16 par.", bench_picf(cluster, args.rounds, 16, fresh=True)),
            ("fabric run per node, live conn, 16 parallel", bench_fabric(cluster, args.rounds, 16)),
            ("fabric run per node, live conn, sequential", bench_fabric(cluster, max(3, args.rounds // 3), 1)),
            ("fresh ssh per node, all at once", bench_ssh(cluster, *login, 5, True)),
            ("fresh ssh per node, sequential", bench_ssh(cluster, *login, 3, False)),
        ]
    finally:
        simlan.down(BRIDGE)
    ours = results[0][1]
    print(f"one poll round over {args.nodes} simulated Pis (full probe each), median, {os.cpu_count()} cores")
    print(f"{'variant':46} {'ms/round':>9} {'vs picf':>8}")
    for name, ms in results:
        print(f"{name:46} {ms:9.1f} {ms / ours:7.1f}x")
    met = ours < TARGET_MS
    print(f"target: a warm round under {TARGET_MS:.0f} ms: {'met' if met else 'MISSED'}")
    return smoke.exit_code(met, args.smoke)


if __name__ == "__main__":
    sys.exit(main())
