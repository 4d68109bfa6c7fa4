"""The dashboard with 200 nodes refreshed every second: CPU use and time to first paint, in a real terminal.

Run: `.venv/bin/python bench/dashboard.py [--nodes 200] [--seconds 20]` (no root needed). Target (issue #9):
under 25% of one core, first paint under 1 s. Each variant runs in its own process on a pseudo-terminal
(120x40) fed by the same synthetic cluster (tests/tui/synthetic.py: every value drifts each poll), side by
side:
- picf dashboard (Textual; only the cells that changed are updated);
- the baseline a user reaches for: the whole table redrawn every second (rich Live, as `picf status --watch`
  and `watch -n1` do).
CPU is the child's user+system time over the run (from /proc), first paint the time until "CRASH LOOP" shows.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import select
import struct
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import smoke

REPO = Path(__file__).resolve().parents[1]
TARGET_CPU, TARGET_PAINT = 25.0, 1.0


def child(kind: str, nodes: int) -> None:
    sys.path.insert(0, str(REPO))
    from tests.tui.synthetic import SyntheticSource

    source = SyntheticSource(nodes)
    if kind == "tui":
        from tui.app import DashboardApp

        DashboardApp(source, interval=1.0, clock=source.now).run()
        return
    from rich.console import Console
    from rich.live import Live

    from picf.cli.status import render

    console = Console()
    with Live(render(source.poll()), console=console, auto_refresh=False, screen=True) as live:
        while True:
            started = time.monotonic()
            live.update(render(source.poll()), refresh=True)
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def cpu_after(child: Callable[[], None], marker: bytes, seconds: float, wait: float) -> tuple[float, float] | None:
    """Run `child()` in a 120x40 pseudo-terminal; once `marker` is on screen (escape codes stripped), the percent
    of one core it uses over `seconds`. (percent, seconds until the marker), None when it did not show in `wait` s."""
    started = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update({"TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"})
        child()
        os._exit(0)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    painted = None
    seen = b""
    cpu_at_paint = 0.0
    deadline = started + wait
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if painted is None:
                    seen = ANSI.sub(b"", seen + chunk)[-8192:]
                    if marker in seen:
                        painted = time.monotonic() - started
                        cpu_at_paint = cpu_seconds(pid)
                        deadline = time.monotonic() + seconds
        cpu = cpu_seconds(pid) - cpu_at_paint
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)
    return None if painted is None else (100.0 * cpu / seconds, painted)


def measure(kind: str, nodes: int, seconds: float) -> tuple[float, float]:
    """(percent of one core after start-up, seconds to first paint) for one variant."""
    result = cpu_after(lambda: child(kind, nodes), b"CRASH LOOP", seconds, seconds + 5)
    if result is None:
        raise SystemExit(f"{kind}: nothing painted in {seconds + 5:.0f} s")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.nodes, args.seconds = 6, 2.0
    ours_cpu, ours_paint = measure("tui", args.nodes, args.seconds)
    base_cpu, base_paint = measure("rich", args.nodes, args.seconds)
    print(f"{args.nodes} synthetic nodes refreshed every second, {args.seconds:.0f} s each, 120x40 pty")
    print(f"{'variant':52} {'cpu % of a core':>15} {'first paint':>12} {'cpu vs picf':>12}")
    print(f"{'picf dashboard (Textual, changed cells only)':52} {ours_cpu:15.1f} {ours_paint:11.2f}s {'1.0x':>12}")
    print(f"{'whole table redrawn each second (rich Live)':52} {base_cpu:15.1f} {base_paint:11.2f}s "
          f"{base_cpu / ours_cpu if ours_cpu else 0:11.1f}x")  # fmt: skip
    met = ours_cpu < TARGET_CPU and ours_paint < TARGET_PAINT
    print(f"target: under {TARGET_CPU:.0f}% of one core and first paint under {TARGET_PAINT:.0f} s: "
          f"{'met' if met else 'MISSED'}")  # fmt: skip
    return smoke.exit_code(met, args.smoke)


if __name__ == "__main__":
    sys.exit(main())
