"""Commands on the simulator's host: the one place `picf sim` starts processes and reads kernel state."""

from __future__ import annotations

import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from picf.errors import PicfError

REQUIRED_TOOLS = ("ip", "unshare", "nsenter", "chroot", "sshd", "ssh-keygen", "avahi-daemon", "mount", "umount")


class SimError(PicfError):
    """Something the simulator cannot do; `str()` is one line saying what and what to do."""

    exit_code = 1


def as_root_command() -> str:
    """This very command, as root, spelled so that it works: `sudo picf` fails when picf lives in a virtualenv
    (sudo's secure_path does not include it), so name the executable by its full path."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("picf")
    if argv0.name == "__main__.py" or not argv0.exists():
        program = [sys.executable, "-m", "picf"]
    else:
        program = [str(argv0.resolve())]
    return shlex.join(["sudo", *program, *sys.argv[1:]])


def require_root_and_linux() -> None:
    """The simulator builds namespaces, bridges and mounts: it needs Linux and root."""
    if platform.system() != "Linux":
        raise SimError(f"picf sim needs Linux (this is {platform.system()}); run it on a Linux machine or VM")
    if os.geteuid() != 0:
        raise SimError(f"picf sim needs root to build namespaces and a bridge; run: {as_root_command()}")
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists()]
    if missing:
        raise SimError(f"missing tools: {', '.join(missing)}; run `make setup` (or apt-get install them)")


def run(
    args: Sequence[str],
    *,
    check: bool = True,
    input_text: str | None = None,
    timeout: float = 30,
    cwd: Path | None = None,
) -> str:
    """Run a host command; return stdout, raise SimError with the command's own message on failure."""
    try:
        done = subprocess.run(
            list(args), input=input_text, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd
        )
    except FileNotFoundError:
        raise SimError(f"{args[0]}: not installed; run `make setup`") from None
    except subprocess.TimeoutExpired:
        raise SimError(f"`{' '.join(args)}` did not finish in {timeout:.0f} s") from None
    if check and done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise SimError(f"`{' '.join(args)}` failed: {message[-1] if message else f'exit {done.returncode}'}")
    return done.stdout


def netns_list() -> list[str]:
    """Names of the network namespaces `ip netns` knows."""
    out = run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def link_exists(name: str) -> bool:
    """True when a network interface called `name` exists in the host's namespace."""
    return Path("/sys/class/net", name).exists()


def link_is_up(name: str) -> bool:
    """The administrative state of a host interface."""
    try:
        flags = int(Path("/sys/class/net", name, "flags").read_text(), 16)
    except (OSError, ValueError):
        return False
    return bool(flags & 0x1)


def pid_alive(pid: int | None) -> bool:
    """True when `pid` runs (and is not a zombie)."""
    if not pid:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def kill(pid: int) -> None:
    """SIGKILL `pid` and wait (briefly) until it is gone."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    for _ in range(400):
        if not pid_alive(pid):
            return
        time.sleep(0.005)


def children_of(pid: int) -> list[int]:
    """Direct children of `pid`."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def mounts_below(directory: Path) -> list[str]:
    """Mount points at or below `directory` in the host's mount table, deepest first."""
    prefix = str(directory)
    points = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        point = line.split()[1].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    return sorted(points, key=len, reverse=True)


def in_node(
    keeper_pid: int, command: str, *, timeout: float = 30, check: bool = True, input_text: str | None = None
) -> str:
    """Run a shell command inside a node (all its namespaces and its root) as its root, as its boot did."""
    return run([*_enter(keeper_pid), "/bin/sh", "-c", command], timeout=timeout, check=check, input_text=input_text)


def shell_argv(keeper_pid: int) -> list[str]:
    """argv for an interactive login shell on a node."""
    return [*_enter(keeper_pid), "/bin/bash", "-l"]


def _enter(keeper_pid: int) -> list[str]:
    # -T: the node's time namespace, where its uptime starts at its own boot
    return ["nsenter", "-t", str(keeper_pid), "-U", "-m", "-u", "-n", "-p", "-T", "-r", "-w"]
