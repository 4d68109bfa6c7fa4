"""One deploy at a time per cluster, as BOSH holds a lock per deployment.

The lock is an flock on a file in picf's state dir, one per inventory file (a cluster), held from planning to
the end of the rollout. The kernel drops it when its process dies, however it dies (SIGKILL included); the
file keeps who held it (user, host, pid, since, what), so a second deploy says who is deploying and since
when, and a lock left by a dead process is taken over with a line saying so.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import hashlib
import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from picf.deploy.history import state_dir
from picf.errors import PicfError
from picf.progress import Say, quiet


class ClusterLocked(PicfError):
    """Another deploy of this cluster (or a day-2 command that changes it) is running."""


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a cluster's deploy lock."""

    user: str
    host: str
    pid: int
    since: float
    command: str
    activity: str = "deploy"  # what holds the cluster: a deploy, or a day-2 command such as `picf stop`

    def describe(self) -> str:
        """`root@ctl pid 4242 since 15:02:11 (picf deploy -i cluster.yml)`"""
        since = time.strftime("%H:%M:%S", time.localtime(self.since))
        return f"{self.user}@{self.host} pid {self.pid} since {since} ({self.command})"


def lock_file(inventory: Path) -> Path:
    """The lock file of the cluster whose inventory is `inventory`."""
    key = hashlib.sha256(str(inventory.resolve()).encode()).hexdigest()[:16]
    return state_dir() / "locks" / f"{inventory.stem}-{key}.lock"


def node_lock_owner(inventory: Path) -> str:
    """How this controller names itself in a node's deploy lock: user@host:cluster (no spaces)."""
    key = hashlib.sha256(str(inventory.resolve()).encode()).hexdigest()[:12]
    return f"{getpass.getuser()}@{socket.gethostname()}:{key}".replace(" ", "_")


def _holder(text: str) -> Holder | None:
    try:
        data: dict[str, Any] = json.loads(text)
        return Holder(
            str(data["user"]), str(data["host"]), int(data["pid"]), float(data["since"]), str(data["command"]),
            str(data.get("activity", "deploy")),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError):
        return None


def process_alive(pid: int) -> bool:
    """Whether a process with this pid exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ClusterLock:
    """The deploy lock of one cluster, held until `release()`."""

    def __init__(self, inventory: Path, activity: str = "deploy") -> None:
        self.inventory = inventory
        self.activity = activity
        self.path = lock_file(inventory)
        self._fd: int | None = None

    def acquire(self, wait: bool = False, say: Say = quiet, poll: float = 0.2) -> None:
        """Take the lock; ClusterLocked naming the holder when another deploy has it (unless `wait`)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(os.pread(fd, 4096, 0).decode(errors="replace"))
                who = holder.describe() if holder else "another picf process"
                if not wait:
                    os.close(fd)
                    what = f"a {holder.activity if holder else 'deploy'}"
                    raise ClusterLocked(f"{self.inventory}: {what} of this cluster is running: {who}; "
                                        "wait for it, or pass --wait to start when it ends") from None  # fmt: skip
                if not told:
                    say(f"waiting for the deploy of {who} to end ...")
                    told = True
                time.sleep(poll)
        previous = _holder(os.pread(fd, 4096, 0).decode(errors="replace"))
        if previous is not None and previous.pid != os.getpid() and not process_alive(previous.pid):
            say(f"taking over the deploy lock of {previous.describe()}: that process is gone (it did not end "
                "cleanly; the nodes converge on this deploy)")  # fmt: skip
        command = " ".join(["picf", *sys.argv[1:]])[:200] if sys.argv[0].endswith("picf") else "picf"
        me = {"user": getpass.getuser(), "host": socket.gethostname(), "pid": os.getpid(), "since": time.time(),
              "command": command, "activity": self.activity}  # fmt: skip
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        """Give the lock back (the holder record is cleared: the deploy ended cleanly)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)
        self._fd = None

    def holder(self) -> Holder | None:
        """Who holds the lock now (None when nobody does)."""
        if not self.path.exists():
            return None
        fd = os.open(self.path, os.O_RDWR)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return _holder(os.pread(fd, 4096, 0).decode(errors="replace"))
            return None
        finally:
            os.close(fd)
