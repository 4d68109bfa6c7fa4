"""A made-up cluster that changes every poll: deterministic data for the dashboard's tests, snapshots and bench.

It only stands in for the cluster where a real one cannot be used (pixel-exact snapshots, 200 nodes); the
end-to-end test runs the dashboard against the simulated LAN.
"""

from __future__ import annotations

import math
import threading

from picf.health.diagnosis import diagnose_job, node_warnings
from picf.models.health import (
    ClusterHealth,
    DiskUsage,
    JobHealth,
    JobState,
    NodeHealth,
    NodeState,
    Throttle,
    Vitals,
)

BOARDS = (("Raspberry Pi 3 Model B Plus Rev 1.3", "armv7", 970_752),
          ("Raspberry Pi 4 Model B Rev 1.5", "arm64", 3_884_096),
          ("Raspberry Pi Zero 2 W Rev 1.0", "armv7", 439_000),
          ("Raspberry Pi 5 Model B Rev 1.0", "arm64", 8_126_000))  # fmt: skip
PANIC = ("panic: unaligned 64-bit atomic operation", "", "goroutine 1 [running]:",
         "runtime/internal/atomic.panicUnaligned()", "example.com/logfwd/metrics.(*Counter).Add(...)")  # fmt: skip
EPOCH = 1_795_766_400.0  # 2026-11-27 08:00 UTC: a fixed clock for snapshots


class SyntheticSource:
    """`nodes` Pis: pi-1 crash-loops (armv7, the unaligned atomic), pi-2 runs hot, pi-3 has a weak supply,
    the last one's cable is out (when there are 5 or more); the rest are fine. Values drift with each poll."""

    def __init__(self, nodes: int = 6, cluster: str = "pi-demo", start: float = EPOCH) -> None:
        self.count = nodes
        self.cluster = cluster
        self.tick = 0
        self.start = start
        self.fixed = False  # what `patch and redeploy` does in a demo: the loop clears
        self._lock = threading.Lock()

    def now(self) -> float:
        """The synthetic clock: one second per poll."""
        return self.start + self.tick

    def _node(self, i: int) -> NodeHealth:
        name = f"pi-{i + 1}"
        model, arch, mem_kb = BOARDS[i % len(BOARDS)]
        t = self.tick
        if self.count >= 5 and i == self.count - 1:
            return NodeHealth(name=name, address=f"10.231.0.{11 + i}", model=model, arch=arch, roles=("cell",),
                              state=NodeState.UNREACHABLE, error=f"10.231.0.{11 + i}: no answer in 5 s",
                              last_seen=self.start - 42)  # fmt: skip
        wave = math.sin((t + i * 7) / 5)
        temp = 84.5 if i == 1 else round(46 + 6 * wave + (i % 5), 1)
        bits = 0xE000E if i == 1 else (0x50005 if i == 2 else 0)
        vitals = Vitals(
            model=model, uptime_s=3600.0 * (i + 1) + t, load=(round(0.4 + 0.3 * wave, 2), 0.35, 0.3),
            cpu_percent=round(20 + 15 * wave, 1), mem_total_kb=mem_kb,
            mem_available_kb=int(mem_kb * (0.6 + 0.1 * wave)), swap_total_kb=102_396, swap_free_kb=102_396,
            disks=(DiskUsage(mount="/", total_kb=30_000_000, used_kb=6_000_000 + 50_000 * i),
                   DiskUsage(mount="/var/vcap/data", total_kb=30_000_000, used_kb=6_000_000 + 50_000 * i)),
            temp_c=temp, throttle=Throttle(bits=bits), memory_cgroup=True,
        )  # fmt: skip
        jobs = [self._job(i, arch)]
        return NodeHealth(
            name=name, address=f"10.231.0.{11 + i}", model=model, arch=arch, roles=("doppler",),
            state=NodeState.UP, last_seen=self.now(), poll_ms=2.0 + i % 3, vitals=vitals, jobs=tuple(jobs),
            warnings=node_warnings(vitals),
        )  # fmt: skip

    def _job(self, i: int, arch: str) -> JobHealth:
        if i == 0 and not self.fixed:
            diagnosis = diagnose_job(PANIC, "armv7", "logfwd", "logfwd/0.1.0")
            return JobHealth(job="logfwd", state=JobState.CRASH_LOOP, detail="3 restarts in 5m; monit gave up",
                             restarts=3, window_s=300, last_exit=PANIC[0], release="logfwd/0.1.0",
                             diagnosis=diagnosis)  # fmt: skip
        return JobHealth(job="logfwd", state=JobState.RUNNING, detail="up 12m", pid=4000 + i, uptime_s=720 + self.tick,
                         release="logfwd/0.1.0")  # fmt: skip

    def poll(self, wait_s: float | None = None) -> ClusterHealth:
        """The next round (no waiting: the data is made up)."""
        with self._lock:
            self.tick += 1
            return ClusterHealth(cluster=self.cluster, at=self.now(),
                                 nodes=tuple(self._node(i) for i in range(self.count)))  # fmt: skip

    def read_log(self, node: str, job: str, lines: int = 200) -> list[str]:
        """The job's log: the panic for the crash-looping job, a report line for the others."""
        if node == "pi-1" and not self.fixed:
            return ["==> logfwd.stderr.log", *PANIC, "\texample.com/logfwd/metrics/counter.go:20"]
        return ["==> logfwd.stdout.log", f"{job}: 120 lines in, 120 forwarded"]

    def close(self) -> None:
        """Nothing to close."""
