"""`picf deploy` against its own floor (the stability watch) and against plain `ansible-playbook`.

Run as root: `.venv/bin/python bench/deploy.py [--nodes 10] [--small 3]`. One simulated LAN of stock
Raspberry Pi OS nodes (3B+ armv7 and 4B arm64; bench-1 a router, the rest dopplers), the example release, and:

1. first deploy to the first SMALL nodes (fresh cards: picf installs monit and prepares each node), then a
   property change on them. Target (issue #18), for both: within 2x its watch floor + 5 s. The
   floor is the deploy's own `watch` phase (`--timings`): what the canaries and batches must wait whatever
   the tool.
2. first deploy to all NODES, then a no-op deploy (nothing to do: no Ansible at all).
3. one property changed on every node, three ways, side by side: exported with `picf deploy --export` and run
   by plain `ansible-playbook` (the same roles, bundles and batches, as someone without picf would run
   them: preparation checked on every node, OpenSSH with pipelining); `picf deploy --connection ssh`;
   `picf deploy` (Mitogen). Target: picf at least 2x faster than plain ansible-playbook.
4. a change on 1 of NODES nodes (the router's port) against a deploy limited to that node (`--only bench-1`):
   the other nodes must cost (almost) nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import smoke

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PICF = BIN / "picf"
BRIDGE, SUBNET = "picfb", "10.231.7.0/24"
PREFIX = "bench"  # its own node names: a test LAN's pi-3.local is left alone

ROUTER = """  router:
    jobs:
      - name: logfwd
        release: logfwd
        properties:
          logfwd:
            port: 7170
            token: ((logfwd_token))
"""


class Bench:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env = root, env
        self.manifest = root / "deployment.yml"
        self.phases: dict[str, float] = {}

    def run(self, *argv: str, env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess[str]]:
        start = time.perf_counter()
        done = subprocess.run(argv, env=env or self.env, capture_output=True, text=True, timeout=3600)
        took = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv[:4])} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        return took, done

    def picf(self, *argv: str) -> tuple[float, subprocess.CompletedProcess[str]]:
        return self.run(str(PICF), *argv)

    def deploy(self, inventory: Path, *extra: str) -> tuple[float, float]:
        """Wall seconds of a deploy and its watch phase (its other phases in `self.phases`)."""
        took, done = self.picf("deploy", "-i", str(inventory), "-m", str(self.manifest), "--yes", "--json", *extra)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        self.phases = {k: float(v) for k, v in ((result.get("timings") or {}).get("phases") or {}).items()}
        return took, self.phases.get("watch", 0.0)

    def set_port(self, role: str, port: int) -> None:
        text = self.manifest.read_text()
        head, _, tail = text.partition(f"  {role}:\n")
        # the role's first logfwd job's port (properties nested, as BOSH reads them)
        tail = re.sub(r"(- name: logfwd\n(?:.*\n)*?\s+logfwd:\n\s+port: )\d+", rf"\g<1>{port}", tail, count=1)
        self.manifest.write_text(f"{head}  {role}:\n{tail}")


def inventory_of(full: Path, names: list[str], target: Path) -> Path:
    """The LAN's inventory cut down to `names` (the file keeps the LAN's ssh settings)."""
    lines, keep = [], True
    for line in full.read_text().splitlines(keepends=True):
        match = re.match(r"  - name: (\S+)", line)
        if match:
            keep = match[1] in names
        elif not line.startswith("    "):
            keep = True
        if keep:
            lines.append(line)
    target.write_text("".join(lines))
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--small", type=int, default=3)
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.nodes, args.small = 2, 1
    if os.geteuid() != 0:
        print("bench/deploy.py needs root (it builds the simulated LAN)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {**os.environ, "PICF_DATA_DIR": f"{tmp}/data", "PICF_STATE_DIR": f"{tmp}/state", "TMPDIR": tmp}
        b = Bench(root, env)
        subprocess.run([str(PICF), "sim", "down", "--bridge", BRIDGE], capture_output=True, env=env)
        try:
            b.picf("sim", "up", "--nodes", str(args.nodes), "--models", "3b+,4b", "--bridge", BRIDGE,
                   "--subnet", SUBNET, "--hostname-prefix", PREFIX)  # fmt: skip
            lan = json.loads(b.picf("sim", "status", "--bridge", BRIDGE, "--json")[1].stdout)
            env["PICF_BECOME_PASSWORD"] = lan["password"]
            full = root / "cluster.yml"
            full.write_text(b.picf("sim", "inventory", "--bridge", BRIDGE)[1].stdout)
            for i in range(1, args.nodes + 1):
                b.picf("inventory", "roles", f"{PREFIX}-{i}", "+router" if i == 1 else "+doppler", "-i", str(full))
            for arch in ("armv7", "arm64"):
                b.picf("release", "build", str(REPO / "examples/releases/logfwd"), "--arch", arch, "--patch")
            text = (REPO / "inventory/deployment.yml").read_text()
            b.manifest.write_text(text.replace("roles:\n", "roles:\n" + ROUTER, 1))
            small = inventory_of(full, [f"{PREFIX}-{i}" for i in range(1, args.small + 1)], root / "small.yml")

            first_small, floor_first = b.deploy(small)
            prepare_first = b.phases.get("prepare node", 0.0)
            b.set_port("doppler", 7071)
            b.set_port("router", 7171)
            change_small, floor_small = b.deploy(small)
            first_all, _ = b.deploy(full)
            noop, _ = b.deploy(full)

            b.set_port("doppler", 7072)
            export = root / "export"
            b.picf("deploy", "-i", str(full), "-m", str(b.manifest), "--export", str(export))
            become = root / "become.yml"
            become.write_text(f"ansible_become_password: {lan['password']}\n")
            become.chmod(0o600)
            plain_env = {k: v for k, v in env.items() if not k.startswith(("PICF_", "ANSIBLE_"))}
            plain, _ = b.run(str(BIN / "ansible-playbook"), "-i", str(export / "hosts.yml"), str(export / "site.yml"),
                             "-e", f"@{become}", env=plain_env)  # fmt: skip
            b.set_port("doppler", 7073)
            ssh, floor_ssh = b.deploy(full, "--connection", "ssh")
            b.set_port("doppler", 7074)
            mitogen, floor_mitogen = b.deploy(full)

            b.set_port("router", 7172)
            one_of_all, _ = b.deploy(full)
            b.set_port("router", 7173)
            only_one, _ = b.deploy(full, "--only", f"{PREFIX}-1")
        finally:
            subprocess.run([str(PICF), "sim", "down", "--bridge", BRIDGE], capture_output=True, env=env)
    small_target = 2 * floor_small + 5
    speedup = plain / mitogen
    print(f"{args.nodes} simulated Pis (3B+ armv7, 4B arm64), stock images, canaries 1 per arch, max_in_flight 50%,"
          f" monit cycle 2 s; {os.cpu_count()} cores")  # fmt: skip
    first_target = 2 * floor_first + 5
    print(f"{args.small} nodes: first deploy (monit installed, nodes prepared): {first_small:6.1f} s   watch floor "
          f"{floor_first:.1f} s; target <= 2x floor + 5 = {first_target:.1f} s: "
          f"{'met' if first_small <= first_target else 'MISSED'} (preparing stock nodes: "
          f"{prepare_first:.1f} s)")  # fmt: skip
    print(f"{args.small} nodes: one property changed:                     {change_small:6.1f} s   watch floor "
          f"{floor_small:.1f} s; target <= 2x floor + 5 = {small_target:.1f} s: "
          f"{'met' if change_small <= small_target else 'MISSED'}")  # fmt: skip
    print(f"{args.nodes} nodes: first deploy:                                 {first_all:6.1f} s")
    print(f"{args.nodes} nodes: no-op deploy:                                 {noop:6.2f} s")
    print(f"{args.nodes} nodes: one property changed, plain ansible-playbook: {plain:6.1f} s")
    print(f"{args.nodes} nodes: one property changed, picf --connection ssh:  {ssh:6.1f} s   "
          f"({plain / ssh:.2f}x; watch {floor_ssh:.1f} s)")  # fmt: skip
    print(
        f"{args.nodes} nodes: one property changed, picf (Mitogen):         {mitogen:6.1f} s   "
        f"({speedup:.2f}x; watch {floor_mitogen:.1f} s); target >= 2x: {'met' if speedup >= 2 else 'MISSED'}"
    )
    print(
        f"1 of {args.nodes} nodes changed:                                   {one_of_all:6.1f} s   "
        f"against the same change with --only {PREFIX}-1: {only_one:.1f} s ({one_of_all / only_one:.2f}x)"
    )
    return smoke.exit_code(first_small <= first_target and change_small <= small_target and speedup >= 2, args.smoke)


if __name__ == "__main__":
    raise SystemExit(main())
