"""`picf deploy` on 10 simulated Pis: first deploy, a no-op redeploy, one property changed, against a plain
`ansible-playbook` run of the same playbooks with the same inputs.

Run as root: `.venv/bin/python bench/deploy.py [--nodes 10]`. Targets (issue #7): no-op redeploy under 2 s;
picf's overhead over plain ansible-playbook under 20%. The baseline is a property change exported with
`picf deploy --export` and run by plain `ansible-playbook` (same roles, variables, bundles and batches); picf
then deploys the next property change. Both restart and watch the same jobs.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PICF = BIN / "picf"
BRIDGE, SUBNET = "picfb", "10.231.7.0/24"


def run(argv: list[str], env: dict[str, str], timeout: float = 1800) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=10)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/deploy.py needs root (it builds the simulated LAN)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {**os.environ, "PICF_DATA_DIR": f"{tmp}/data", "PICF_STATE_DIR": f"{tmp}/state", "TMPDIR": tmp}
        picf = [str(PICF)]
        run([*picf, "sim", "down", "--bridge", BRIDGE], env)
        try:
            run([*picf, "sim", "up", "--nodes", str(args.nodes), "--models", "3b+,4b", "--bridge", BRIDGE,
                 "--subnet", SUBNET], env)  # fmt: skip
            inventory = root / "cluster.yml"
            inventory.write_text(subprocess.run([*picf, "sim", "inventory", "--bridge", BRIDGE], env=env,
                                                capture_output=True, text=True, check=True).stdout)  # fmt: skip
            for i in range(1, args.nodes + 1):
                run([*picf, "inventory", "roles", f"pi-{i}", "+doppler", "--inventory", str(inventory)], env)
            for arch in ("armv7", "arm64"):
                run([*picf, "release", "build", str(REPO / "examples/releases/logfwd"), "--arch", arch, "--patch"], env)
            manifest = root / "deployment.yml"
            manifest.write_text((REPO / "inventory/deployment.yml").read_text())
            deploy = [*picf, "deploy", "-i", str(inventory), "-m", str(manifest), "--yes"]
            first = run(deploy, env)
            noop = run(deploy, env)
            # The baseline: the same kind of change (one property), exported by picf and run by plain
            # ansible-playbook (same roles, variables, bundles and batches); then picf deploys the next change.
            manifest.write_text(re.sub(r"logfwd\.port: \d+", "logfwd.port: 7071", manifest.read_text()))
            export = root / "export"
            run([*picf, "deploy", "-i", str(inventory), "-m", str(manifest), "--export", str(export)], env)
            argv = [str(BIN / "ansible-playbook"), "-i", str(export / "hosts.yml"), str(export / "site.yml")]
            plain = run(argv, {k: v for k, v in env.items() if not k.startswith("PICF_")})
            manifest.write_text(re.sub(r"logfwd\.port: \d+", "logfwd.port: 7072", manifest.read_text()))
            change = run(deploy, env)
        finally:
            run([*picf, "sim", "down", "--bridge", BRIDGE], env)
    overhead = (change - plain) / plain
    print(f"{args.nodes} simulated Pis (3B+ armv7 and 4B arm64), canaries 1, max_in_flight 50%, monit cycle 2 s")
    print(f"first deploy:                         {first:6.1f} s")
    print(f"no-op redeploy:                       {noop:6.2f} s   (target < 2 s: {'met' if noop < 2 else 'MISSED'})")
    print(f"one property changed (picf deploy):   {change:6.1f} s")
    print(f"same batches, plain ansible-playbook: {plain:6.1f} s")
    print(f"picf's overhead over ansible-playbook: {overhead * 100:5.1f} %  (target < 20%: "
          f"{'met' if overhead < 0.2 else 'MISSED'})")  # fmt: skip
    return 0 if noop < 2 and overhead < 0.2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
