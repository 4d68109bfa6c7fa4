"""Run a command (the test suite) while every core is kept busy, as on a shared CI machine.

    python tests/loaded.py [--hogs N] -- COMMAND ...

Starts N busy-loop processes (default: one per core) at normal priority, runs COMMAND, stops the hogs,
and exits with COMMAND's exit code. The hogs are bounded: they die with this process (and after --max
seconds in any case)."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import subprocess
import sys
import time


def hog(deadline: float) -> None:
    x = 0
    while time.monotonic() < deadline:
        for _ in range(100_000):
            x = (x * 31 + 7) % 1_000_003
        if os.getppid() == 1:  # the runner died: stop
            return


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hogs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--max", type=float, default=3 * 3600, help="seconds the hogs run at most")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    deadline = time.monotonic() + args.max
    hogs = [multiprocessing.Process(target=hog, args=(deadline,), daemon=True) for _ in range(args.hogs)]
    for process in hogs:
        process.start()
    print(f"loaded.py: {args.hogs} CPU hog(s) running beside: {' '.join(command)}", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        done = subprocess.run(command, check=False)
    except KeyboardInterrupt:
        return 130
    finally:
        for process in hogs:
            if process.pid:
                os.kill(process.pid, signal.SIGKILL)
    print(f"loaded.py: {' '.join(command)} exited {done.returncode} after {time.monotonic() - started:.0f} s "
          f"with {args.hogs} hog(s)", file=sys.stderr)  # fmt: skip
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
