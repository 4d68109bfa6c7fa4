"""How fast `picf discover` finds and identifies 20 simulated Pis, against what a user would do without it.

Run as root: `.venv/bin/python bench/discover.py [--nodes 20] [--rounds 3]`. Target (issue #4): all 20 found
and identified (model, arch, memory, host key) in under 2 s. Baselines, side by side on the same LAN:
- `avahi-browse -artp` (finds and resolves only), with its own avahi-daemon and D-Bus on the bridge;
- a sequential SSH probe: `ssh` to each address in turn reading the model, revision and arch.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import smoke

from picf.discovery import DiscoveryOptions, discover
from picf.models.cluster import SshDefaults
from picf.sim import lan as simlan

PICF = Path(sys.executable).with_name("picf")
BRIDGE, SUBNET = "picfb", "10.231.7.0/24"
TARGET_S = 2.0
AVAHI_CONF = """[server]
use-ipv4=yes
use-ipv6=no
allow-interfaces={bridge}
enable-dbus=yes
[publish]
disable-publishing=yes
"""
SSH_PROBE = "tr -d '\\0' < /sys/firmware/devicetree/base/model; grep ^Revision /proc/cpuinfo; dpkg --print-architecture"


def time_picf_library(user: str, lan_key: str) -> tuple[float, int]:
    options = DiscoveryOptions(interfaces=[BRIDGE], ssh=SshDefaults(user=user, private_key=lan_key))
    result = discover(None, options)
    identified = sum(1 for c in result.candidates if c.probed and c.model and c.arch and c.host_key)
    return result.seconds, identified


def time_picf_cli(user: str, lan_key: str) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(
        [str(PICF), "discover", "-I", BRIDGE, "--user", user, "--key", lan_key, "--json"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    candidates = json.loads(done.stdout)["candidates"]
    return elapsed, sum(1 for c in candidates if c.get("model") and c.get("arch") and c.get("host_key"))


def time_avahi_browse(nodes: int) -> tuple[float, int]:
    """avahi-browse -artp against an avahi-daemon (with its own D-Bus) listening on the bridge."""
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp, "avahi.conf")
        conf.write_text(AVAHI_CONF.format(bridge=BRIDGE))
        script = f"""
set -e
mount -t tmpfs tmpfs /run
mkdir -p /run/dbus /run/avahi-daemon
dbus-daemon --system --fork
avahi-daemon --no-drop-root --no-chroot -f {conf} -D
until avahi-browse -at >/dev/null 2>&1; do sleep 0.05; done
start=$(date +%s.%N)
avahi-browse -artp > {tmp}/out 2>/dev/null
end=$(date +%s.%N)
echo "$start $end"
avahi-daemon -k || true
kill $(cat /run/dbus/pid) || true
"""
        done = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        start, end = (float(x) for x in done.stdout.split()[-2:])
        resolved = {line.split(";")[3] for line in Path(tmp, "out").read_text().splitlines() if line.startswith("=")}
    return end - start, len(resolved)


def time_sequential_ssh(user: str, lan_key: str, addresses: list[str]) -> tuple[float, int]:
    known_dir = tempfile.mkdtemp()
    known = Path(known_dir, "known_hosts")
    ok = 0
    start = time.perf_counter()
    for address in addresses:
        done = subprocess.run(
            ["ssh", "-i", lan_key, "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=accept-new",
             "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", f"{user}@{address}", SSH_PROBE],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        ok += done.returncode == 0 and "Raspberry Pi" in done.stdout
    elapsed = time.perf_counter() - start
    shutil.rmtree(known_dir)
    return elapsed, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.nodes, args.rounds = 2, 1
    if os.geteuid() != 0:
        print("bench/discover.py needs root (it builds the simulated LAN)", file=sys.stderr)
        return 2
    for tool in ("avahi-browse", "dbus-daemon", "ssh"):
        if shutil.which(tool) is None:
            print(f"{tool} is missing; run `make setup`", file=sys.stderr)
            return 2
    simlan.down(BRIDGE)
    try:
        report = simlan.up(args.nodes, ["3b+", "4b", "zerow", "5"], BRIDGE, SUBNET)
        # a stock image: the first user with the LAN's key (root may not log in over SSH)
        user, key = report.lan.user, report.lan.controller_key
        addresses = [n.address for n in report.lan.nodes]
        picf_s, picf_cli_s, avahi_s, ssh_s = [], [], [], []
        found = cli_found = avahi_found = ssh_found = 0
        for _ in range(args.rounds):
            seconds, found = time_picf_library(user, key)
            picf_s.append(seconds)
            seconds, cli_found = time_picf_cli(user, key)
            picf_cli_s.append(seconds)
            seconds, avahi_found = time_avahi_browse(args.nodes)
            avahi_s.append(seconds)
            seconds, ssh_found = time_sequential_ssh(user, key, addresses)
            ssh_s.append(seconds)
    finally:
        simlan.down(BRIDGE)
    ours, cli = statistics.median(picf_s), statistics.median(picf_cli_s)
    print(f"{args.nodes} simulated Pis, median of {args.rounds} rounds on {os.cpu_count()} cores")
    print(f"{'tool':42} {'seconds':>8} {'found':>6} {'vs picf':>8}")
    print(f"{'picf discover (library: find + identify)':42} {ours:8.2f} {found:6d} {'1.0x':>8}")
    print(f"{'picf discover (CLI, incl. Python start-up)':42} {cli:8.2f} {cli_found:6d} {cli / ours:7.1f}x")
    for name, value, count in (
        ("avahi-browse -artp (find + resolve only)", statistics.median(avahi_s), avahi_found),
        ("sequential ssh probe (identify only)", statistics.median(ssh_s), ssh_found),
    ):
        print(f"{name:42} {value:8.2f} {count:6d} {value / ours:7.1f}x")
    short = [name for name, count in (("picf (library)", found), ("picf (CLI)", cli_found),
             ("avahi-browse", avahi_found), ("ssh", ssh_found)) if count != args.nodes]  # fmt: skip
    if short:
        print(f"incomplete: {', '.join(short)} did not find all {args.nodes} nodes", file=sys.stderr)
        return 1
    met = ours < TARGET_S
    print(f"target: all {args.nodes} found and identified in under {TARGET_S:.0f} s: {'met' if met else 'MISSED'}")
    return smoke.exit_code(met, args.smoke)


if __name__ == "__main__":
    raise SystemExit(main())
