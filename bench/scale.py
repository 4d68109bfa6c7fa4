"""picf at 20, 50 and 100 simulated Pis: what grows with the node count, and what must not.

Run as root: `.venv/bin/python bench/scale.py [--sizes 20,50,100] [--watch-seconds 120]`. For each size, on a
LAN built anew (stock images, 3B+ armv7 and 4B arm64, every node a doppler):

- `picf sim up` and the memory the LAN takes (MemAvailable before and after, per node);
- `picf discover` (found and identified over SSH); target: 100 nodes in under 3 s;
- a first `picf deploy` (monit installed, nodes prepared, the example release) and a no-op deploy; target:
  no-op under 3 s;
- one warm health poll round (`Poller.poll()` once every node has answered, median of 5, with picf's CPU and
  the simulated Pis'); target: under 150 ms;
- `picf status --watch` for --watch-seconds: its RSS, open files, threads and SSH connections after the first
  round in which every node answered and at the end (bounded: none may grow with time, connections one per node);
- the dashboard (`picf dashboard`, Textual, 1 s polls) in a 120x40 pseudo-terminal: CPU over 20 s.

`--poll-only INVENTORY` measures the warm poll round alone on a LAN already deployed, and
`--watch-only INVENTORY --watch-seconds 3600` is the hour-long memory check on a LAN already deployed: picf's
`status --watch` beside the same command with glibc's default per-thread malloc caches (picf turns them off
for its long-running commands; with one SSH reader thread per node they grow RSS for hours).

Each figure is printed with its ratio to the smallest size, beside the node-count ratio: "linear" means it grew
no faster than the nodes did. The baselines a user would reach for at these sizes are in the other benches
(bench/discover.py: avahi-browse and an ssh loop; bench/poll.py: fabric and OpenSSH; bench/deploy.py: plain
ansible-playbook).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import smoke
from dashboard import cpu_after  # bench/dashboard.py: this script's directory is first on sys.path

from picf.health.poller import Poller
from picf.inventory import read_inventory

REPO = Path(__file__).resolve().parents[1]
PICF = Path(sys.executable).with_name("picf")
BRIDGE, SUBNET = "picfs", "10.231.14.0/24"
PREFIX = "scale"  # its own node names: a test LAN's pi-3.local is left alone


def run(argv: list[str], env: dict[str, str], timeout: float = 3600) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[1:4])} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return took, done.stdout


def machine_cpu_seconds() -> float:
    """CPU time every core of this machine has spent busy since boot (/proc/stat, in USER_HZ ticks)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    idle = int(fields[3]) + int(fields[4])  # idle + iowait
    return (sum(int(f) for f in fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run_cpu(argv: list[str], env: dict[str, str]) -> tuple[float, str, float, float]:
    """`run`, plus the CPU seconds picf spent (it and its children: ssh, Ansible) and the rest of the machine
    spent meanwhile (here: the simulated Pis' sshd, avahi, shells; on real hardware each Pi's own CPU)."""
    before_self = resource.getrusage(resource.RUSAGE_CHILDREN)
    before_all = machine_cpu_seconds()
    took, out = run(argv, env)
    after_self = resource.getrusage(resource.RUSAGE_CHILDREN)
    picf = (after_self.ru_utime - before_self.ru_utime) + (after_self.ru_stime - before_self.ru_stime)
    return took, out, picf, max(0.0, machine_cpu_seconds() - before_all - picf)


def mem_available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


def process_resources(pid: int) -> dict[str, float]:
    """RSS (MB), open files, threads and established TCP connections to port 22 of one process."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ssh = 0
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "01" and fields[2].endswith(":0016") and fields[9] in inodes:
            ssh += 1
    return {"rss_mb": int(status["VmRSS"].split()[0]) / 1024, "files": len(list(Path(f"/proc/{pid}/fd").iterdir())),
            "threads": int(status["Threads"]), "ssh": ssh}  # fmt: skip


def watch_resources(inventory: Path, env: dict[str, str], seconds: float) -> tuple[dict[str, float], dict[str, float]]:
    """`picf status --watch` on every node: its resources after the first poll and after `seconds`."""
    argv = [str(PICF), "status", "-i", str(inventory), "--watch", "--interval", "1", "--json"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        give_up = time.monotonic() + 120
        while True:  # "start" is the first round in which every node answered: all connected, nothing in flight
            line = proc.stdout.readline()
            if not line:
                raise SystemExit("picf status --watch ended before its first complete round")
            if all(n["state"] == "up" for n in json.loads(line)["nodes"]):
                break
            if time.monotonic() > give_up:
                raise SystemExit("picf status --watch: not every node answered a round in 120 s")
        first = process_resources(proc.pid)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            proc.stdout.readline()
        return first, process_resources(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def dashboard_cpu(inventory: Path, env: dict[str, str], jobs: int, seconds: float = 20.0) -> float:
    """Percent of one core the dashboard uses polling every second, once its header counts every job running."""
    every_job_ok = f"jobs {jobs}/{jobs} ok".encode()

    def dashboard() -> None:
        os.environ.update({k: v for k, v in env.items() if k not in ("TERM", "COLUMNS", "LINES")})  # the pty's
        os.execv(str(PICF), [str(PICF), "dashboard", "-i", str(inventory), "--interval", "1"])

    result = cpu_after(dashboard, every_job_ok, seconds, 60)
    if result is None:
        raise SystemExit(f"the dashboard did not show {every_job_ok.decode()} in 60 s")
    return result[0]


def warm_poll(inventory: Path, rounds: int = 5) -> tuple[float, float, float, int]:
    """One health poll round on open connections (once every node has answered), median of `rounds`: wall ms,
    picf's CPU ms, the rest of the machine's CPU ms (the simulated Pis' probes); and the jobs seen running."""
    walls, own, lan = [], [], []
    with Poller(read_inventory(inventory).cluster, timeout=10.0) as poller:
        give_up = time.monotonic() + 120
        while not all(n.state.value == "up" for n in poller.poll().nodes):  # every node connected
            if time.monotonic() > give_up:
                raise SystemExit("not every node answered a poll in 120 s")
        for _ in range(rounds):
            time.sleep(0.5)
            cpu, machine, start = time.process_time(), machine_cpu_seconds(), time.perf_counter()
            health = poller.poll()
            walls.append(1000 * (time.perf_counter() - start))
            own.append(1000 * (time.process_time() - cpu))
            lan.append(max(0.0, 1000 * (machine_cpu_seconds() - machine) - own[-1]))
    running = sum(1 for n in health.nodes for j in n.jobs if j.state.value in ("running", "starting"))
    return statistics.median(walls), statistics.median(own), statistics.median(lan), running


def poll_only(inventory: Path) -> int:
    """The warm poll round on an inventory whose LAN is already up and deployed."""
    nodes = len(read_inventory(inventory).cluster.nodes)
    wall, own, lan, running = warm_poll(inventory, rounds=9)
    print(f"warm poll round on {nodes} nodes (median of 9): {wall:.0f} ms; CPU: picf {own:.0f} ms, the simulated "
          f"Pis {lan:.0f} ms ({os.cpu_count()} cores share both); {running} jobs running or starting")  # fmt: skip
    met = wall < 150
    print(f"warm poll under 150 ms: {'met' if met else 'MISSED'}")
    return 0 if met else 1


def measure(size: int, root: Path, env: dict[str, str], watch_seconds: float) -> dict[str, float]:
    picf = str(PICF)
    run([picf, "sim", "down", "--bridge", BRIDGE], env)
    before = mem_available_mb()
    up, _ = run([picf, "sim", "up", "--nodes", str(size), "--models", "3b+,4b", "--bridge", BRIDGE, "--subnet",
                 SUBNET, "--hostname-prefix", PREFIX], env)  # fmt: skip
    memory = (before - mem_available_mb()) / size
    lan = json.loads(run([picf, "sim", "status", "--bridge", BRIDGE, "--json"], env)[1])
    env = {**env, "PICF_BECOME_PASSWORD": lan["password"]}
    key = f"/run/picf-sim/{BRIDGE}/id_ed25519"
    discover, found, discover_cpu, discover_lan_cpu = run_cpu(
        [picf, "discover", "--interface", BRIDGE, "--user", lan["user"], "--key", key, "--json"], env)  # fmt: skip
    identified = sum(1 for c in json.loads(found)["candidates"] if c.get("model"))
    inventory = root / f"cluster-{size}.yml"
    text = run([picf, "sim", "inventory", "--bridge", BRIDGE], env)[1]
    inventory.write_text(text.replace("roles: []", "roles: [doppler]"))
    manifest = root / "deployment.yml"
    manifest.write_text((REPO / "inventory/deployment.yml").read_text())
    deploy = [picf, "deploy", "-i", str(inventory), "-m", str(manifest), "--yes"]
    first, _ = run(deploy, env)
    noop, _, noop_cpu, noop_lan_cpu = run_cpu(deploy, env)
    poll_ms, poll_cpu_ms, poll_lan_cpu_ms, running = warm_poll(inventory)
    start_res, end_res = watch_resources(inventory, env, watch_seconds)
    cpu = dashboard_cpu(inventory, env, running)
    run([picf, "sim", "down", "--bridge", BRIDGE], env)
    return {"up": up, "memory_mb": memory, "discover": discover, "identified": identified, "first": first,
            "noop": noop, "discover_cpu": discover_cpu, "discover_lan_cpu": discover_lan_cpu, "noop_cpu": noop_cpu,
            "noop_lan_cpu": noop_lan_cpu, "poll_ms": poll_ms, "poll_cpu_ms": poll_cpu_ms,
            "poll_lan_cpu_ms": poll_lan_cpu_ms, "running": running,
            "dashboard": cpu,
            **{f"start_{k}": v for k, v in start_res.items()},
            **{f"end_{k}": v for k, v in end_res.items()}}  # fmt: skip


def watch_only(inventory: Path, seconds: float) -> int:
    """`picf status --watch` on an inventory whose LAN is already up and deployed: resources at start and end,
    side by side with the same command keeping glibc's default per-thread malloc caches (which picf turns off
    for its long-running commands: picf/cli/longrun.py)."""
    nodes = len(read_inventory(inventory).cluster.nodes)
    default_caches = "glibc's default thread caches"
    runs = {"picf": dict(os.environ), default_caches: {**os.environ, "GLIBC_TUNABLES": "glibc.malloc.tcache_count=7"}}
    with ThreadPoolExecutor(len(runs)) as pool:  # side by side: the same LAN, the same hour
        futures = {name: pool.submit(watch_resources, inventory, env, seconds) for name, env in runs.items()}
        results = {name: future.result() for name, future in futures.items()}
    print(f"picf status --watch on {nodes} nodes for {seconds:.0f} s (1 s polls), after its first complete round "
          f"and at the end; two side by side:")  # fmt: skip
    for name, (start, end) in results.items():
        print(f"  {name}:")
        for key, unit in (("rss_mb", "MB"), ("files", ""), ("threads", ""), ("ssh", "")):
            print(f"    {key:8} {start[key]:8.1f} -> {end[key]:8.1f} {unit}")
    start, end = results["picf"]
    base_start, base_end = results[default_caches]
    print(
        f"RSS growth: picf {end['rss_mb'] - start['rss_mb']:+.1f} MB, with glibc's default caches "
        f"{base_end['rss_mb'] - base_start['rss_mb']:+.1f} MB"
    )
    flat = end["rss_mb"] <= 1.1 * start["rss_mb"] and end["files"] <= start["files"] and end["ssh"] <= nodes
    verdict = "met" if flat else "MISSED"
    print(f"picf: memory flat (within 10%), files not growing, at most one SSH connection per node: {verdict}")
    return 0 if flat else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="20,50,100")
    parser.add_argument("--watch-seconds", type=float, default=120.0)
    parser.add_argument("--watch-only", metavar="INVENTORY", type=Path,
                        help="only `picf status --watch` on this inventory's deployed simulated LAN (the hour-long "
                             "memory check: --watch-seconds 3600)")  # fmt: skip
    parser.add_argument("--poll-only", metavar="INVENTORY", type=Path,
                        help="only the warm poll round on this inventory's deployed simulated LAN")  # fmt: skip
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.watch_seconds = "2", 3.0
    if args.watch_only:
        return watch_only(args.watch_only, args.watch_seconds)
    if args.poll_only:
        return poll_only(args.poll_only)
    if os.geteuid() != 0:
        print("bench/scale.py needs root (it builds the simulated LAN)", file=sys.stderr)
        return 2
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PICF_DATA_DIR": f"{tmp}/data", "PICF_STATE_DIR": f"{tmp}/state", "TMPDIR": tmp}
        for arch in ("armv7", "arm64"):
            run([str(PICF), "release", "build", str(REPO / "examples/releases/logfwd"), "--arch", arch, "--patch"], env)
        try:
            for size in sizes:
                results[size] = measure(size, Path(tmp), env, args.watch_seconds)
                print(f"{size} nodes: {json.dumps({k: round(v, 3) for k, v in results[size].items()})}", flush=True)
        finally:
            subprocess.run([str(PICF), "sim", "down", "--bridge", BRIDGE], capture_output=True, env=env)
    short = [
        f"{s} nodes: {r['identified']:.0f} identified, {r['running']:.0f} jobs running"
        for s, r in results.items()
        if r["identified"] != s or r["running"] < 2 * s
    ]  # every node a doppler: logsink and logfwd
    if short:
        print(f"incomplete: {'; '.join(short)}", file=sys.stderr)
        return 1
    base = sizes[0]
    print(f"\nsimulated Pis (3B+ armv7, 4B arm64, stock images); {os.cpu_count()} cores; ratios against {base} nodes")
    rows = [("sim up", "up", "s"), ("discover (found and identified)", "discover", "s"),
            ("first deploy", "first", "s"), ("no-op deploy", "noop", "s"), ("warm poll round", "poll_ms", "ms"),
            ("dashboard at 1 Hz, % of a core", "dashboard", "%")]  # fmt: skip
    print(f"{'':34}" + "".join(f"{str(s) + ' nodes':>18}" for s in sizes))
    for label, key, unit in rows:
        cells = []
        for s in sizes:
            value, ratio = results[s][key], results[s][key] / results[base][key] if results[base][key] else 0
            cells.append(f"{value:9.2f} {unit:2} {ratio:4.1f}x")
        print(f"{label:34}" + "".join(f"{c:>18}" for c in cells))
    print(f"{'node count':34}" + "".join(f"{s / base:17.1f}x" for s in sizes))
    for s in sizes:
        r = results[s]
        print(f"{s} nodes: {r['identified']:.0f} identified, {r['running']:.0f} jobs running or starting; "
              f"{r['memory_mb']:.1f} MB "
              f"per simulated node; status --watch for {args.watch_seconds:.0f} s: RSS {r['start_rss_mb']:.1f} -> "
              f"{r['end_rss_mb']:.1f} MB, files {r['start_files']:.0f} -> {r['end_files']:.0f}, threads "
              f"{r['start_threads']:.0f} -> {r['end_threads']:.0f}, SSH connections {r['start_ssh']:.0f} -> "
              f"{r['end_ssh']:.0f}")  # fmt: skip
        print(f"{s} nodes: CPU seconds, picf's own / the simulated Pis' (the rest of the machine): discover "
              f"{r['discover_cpu']:.1f} / {r['discover_lan_cpu']:.1f}, no-op deploy {r['noop_cpu']:.1f} / "
              f"{r['noop_lan_cpu']:.1f} ({os.cpu_count()} cores share both); a warm poll round "
              f"{r['poll_cpu_ms']:.0f} ms / {r['poll_lan_cpu_ms']:.0f} ms")  # fmt: skip
    top = results[sizes[-1]]
    targets = [("discover under 3 s", top["discover"] < 3), ("warm poll under 150 ms", top["poll_ms"] < 150),
               ("no-op deploy under 3 s", top["noop"] < 3),
               ("status --watch memory flat (within 10%)", top["end_rss_mb"] <= 1.1 * top["start_rss_mb"]),
               ("one SSH connection per node", top["end_ssh"] <= sizes[-1])]  # fmt: skip
    for label, ok in targets:
        print(f"at {sizes[-1]} nodes, {label}: {'met' if ok else 'MISSED'}")
    return smoke.exit_code(all(ok for _, ok in targets), args.smoke)


if __name__ == "__main__":
    raise SystemExit(main())
