"""One health poll round over 20 simulated Pis: picf's kept-open shells against what a user would reach for.

Run as root: `.venv/bin/python bench/poll.py [--nodes 20] [--rounds 15]`. Target (issue #8): a warm round in
under 50 ms. Each node first gets what a deployed node has for the probe to read (monit on 127.0.0.1:2822
supervising one job, picf's state file), so every variant runs the same full probe. Side by side:
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

from picf import transport
from picf.health.parse import parse_sample
from picf.health.poller import PROBE_SCRIPT, Poller
from picf.inventory import read_inventory
from picf.models.cluster import Cluster
from picf.sim import lan as simlan

BRIDGE, SUBNET = "picfp", "10.231.8.0/24"
TARGET_MS = 50.0
DEPLOYED = r"""
mkdir -p /var/vcap/monit/job /var/vcap/sys/run/sleeper /var/vcap/sys/log/sleeper /var/vcap/picf
cat > /var/vcap/monit/monitrc <<'RC'
set daemon 2
set logfile /var/vcap/monit/monit.log
set pidfile /var/vcap/monit/monit.pid
set idfile /var/vcap/monit/monit.id
set statefile /var/vcap/monit/monit.state
set httpd port 2822 and use address 127.0.0.1
  allow 127.0.0.1
include /var/vcap/monit/job/*.monitrc
RC
chmod 600 /var/vcap/monit/monitrc
cat > /var/vcap/monit/job/sleeper.monitrc <<'RC'
check process sleeper
  with pidfile /var/vcap/sys/run/sleeper/sleeper.pid
  start program "/bin/sh -c 'sleep 100000 & echo $! > /var/vcap/sys/run/sleeper/sleeper.pid'"
  stop program "/bin/sh -c 'kill $(cat /var/vcap/sys/run/sleeper/sleeper.pid)'"
RC
echo '{"arch": "armv7", "jobs": {"sleeper": {"release": "bench/1"}}}' > /var/vcap/picf/state.json
monit -c /var/vcap/monit/monitrc
for i in $(seq 100); do
  wget -q -O - 'http://127.0.0.1:2822/_status?format=xml' 2>/dev/null | grep -q '<pid>' && exit 0
  sleep 0.2
done
echo "monit did not start the job" >&2; exit 1
"""


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


def bench_ssh(cluster: Cluster, key: str, known_hosts: str, rounds: int, parallel: bool) -> float:
    def argv(address: str) -> list[str]:
        return ["ssh", "-i", key, "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes",
                "-o", "BatchMode=yes", f"root@{address}", "sh"]  # fmt: skip

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
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/poll.py needs root (it builds the simulated LAN)", file=sys.stderr)
        return 2
    simlan.down(BRIDGE)
    try:
        report = simlan.up(args.nodes, ["3b+", "4b", "zerow", "5"], BRIDGE, SUBNET)
        lan = report.lan
        with tempfile.TemporaryDirectory() as tmp:
            inventory = Path(tmp, "cluster.yml")
            inventory.write_text(simlan.inventory_text(BRIDGE))
            cluster = read_inventory(inventory).cluster
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda n: transport.connect(n.address, cluster.ssh, n.host_key).run(DEPLOYED, timeout=60),
                          cluster.nodes))  # fmt: skip
        results = [
            ("picf Poller, kept-open shells, 16 parallel", bench_picf(cluster, args.rounds, 16)),
            ("picf Poller, kept-open shells, sequential", bench_picf(cluster, args.rounds, 1)),
            ("picf Poller, asking monit every poll, 16 par.", bench_picf(cluster, args.rounds, 16, fresh=True)),
            ("fabric run per node, live conn, 16 parallel", bench_fabric(cluster, args.rounds, 16)),
            ("fabric run per node, live conn, sequential", bench_fabric(cluster, max(3, args.rounds // 3), 1)),
            ("fresh ssh per node, all at once", bench_ssh(cluster, lan.controller_key, lan.known_hosts, 5, True)),
            ("fresh ssh per node, sequential", bench_ssh(cluster, lan.controller_key, lan.known_hosts, 3, False)),
        ]
    finally:
        simlan.down(BRIDGE)
    ours = results[0][1]
    print(f"one poll round over {args.nodes} simulated Pis (full probe each), median, {os.cpu_count()} cores")
    print(f"{'variant':46} {'ms/round':>9} {'vs picf':>8}")
    for name, ms in results:
        print(f"{name:46} {ms:9.1f} {ms / ours:7.1f}x")
    print(f"target: a warm round under {TARGET_MS:.0f} ms: {'met' if ours < TARGET_MS else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
