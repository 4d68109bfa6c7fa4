"""How fast `picf sim up` builds a 10-Pi LAN and `picf sim down` removes it, against the by-hand recipe.

Run as root: `.venv/bin/python bench/sim_up.py [--nodes 10] [--rounds 3]`. Targets (issue #3): up of 10
nodes under 10 s, down under 5 s on a 2-core machine. The baseline is bench/sim_baseline.sh: the same kind
of node built one at a time, each checked with `ssh` before the next, as someone without picf would script it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import smoke

HERE = Path(__file__).resolve().parent
PICF = Path(sys.executable).with_name("picf")
BRIDGE, SUBNET = "picfb", "10.231.7.0/24"
UP_TARGET_S, DOWN_TARGET_S = 10.0, 5.0


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    return time.perf_counter() - start


def answering(nodes: int) -> None:
    """Every node of the LAN just built answers on SSH (what `up` promises), or the bench stops."""
    lan = json.loads(subprocess.run([str(PICF), "sim", "status", "--bridge", BRIDGE, "--json"], check=True,
                                    capture_output=True, text=True, timeout=60).stdout)  # fmt: skip
    up = [n for n in lan["nodes"] if n["ssh_up"]]
    if len(up) != nodes:
        raise SystemExit(f"picf sim up: {len(up)} of {nodes} nodes answer on SSH: {lan['nodes']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.nodes, args.rounds = 2, 1
    if os.geteuid() != 0:
        print("bench/sim_up.py needs root (it builds namespaces)", file=sys.stderr)
        return 2
    n = str(args.nodes)
    picf_up, picf_down, base_up, base_down = [], [], [], []
    subprocess.run([str(PICF), "sim", "down", "--bridge", BRIDGE], capture_output=True)
    subprocess.run([str(HERE / "sim_baseline.sh"), "down", n], capture_output=True)
    for _ in range(args.rounds):
        picf_up.append(timed([str(PICF), "sim", "up", "--nodes", n, "--bridge", BRIDGE, "--subnet", SUBNET]))
        answering(args.nodes)
        picf_down.append(timed([str(PICF), "sim", "down", "--bridge", BRIDGE]))
        base_up.append(timed([str(HERE / "sim_baseline.sh"), "up", n]))
        base_down.append(timed([str(HERE / "sim_baseline.sh"), "down", n]))
    rows = [
        ("up", statistics.median(picf_up), statistics.median(base_up), UP_TARGET_S),
        ("down", statistics.median(picf_down), statistics.median(base_down), DOWN_TARGET_S),
    ]
    print(f"{args.nodes} simulated Pis, median of {args.rounds} rounds on {os.cpu_count()} cores")
    print(f"{'step':6} {'picf s':>8} {'by hand s':>10} {'ratio':>7} {'target s':>9}  verdict")
    ok = True
    for step, ours, theirs, target in rows:
        verdict = "meets target" if ours < target else "MISSES target"
        ok &= ours < target
        print(f"{step:6} {ours:8.2f} {theirs:10.2f} {theirs / ours:6.1f}x {target:9.1f}  {verdict}")
    return smoke.exit_code(ok, args.smoke)


if __name__ == "__main__":
    raise SystemExit(main())
