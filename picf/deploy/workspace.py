"""What a deploy holds while it runs: the cluster's deploy lock, a private work directory (rendered configuration
and bundles carry credentials), and the secret values its output must never show.

`prepare_deploy` opens it, `close()` (or leaving a `with` block) frees it; a deploy killed with SIGKILL cannot,
so the next one removes the work directories whose process is gone.
"""

from __future__ import annotations

import getpass
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from picf.deploy.lock import ClusterLock, process_alive
from picf.progress import Say

WORK_PREFIX = "picf-deploy-"


@dataclass(frozen=True)
class DeployWorkspace:
    """A deploy's work directory, the cluster lock it holds (none for a dry run or an export) and the secrets to
    redact; held from planning until `close()`."""

    directory: Path
    lock: ClusterLock | None = None
    secrets: frozenset[str] = field(default=frozenset(), repr=False)

    def redact(self, text: str) -> str:
        """`text` with every secret value replaced."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "<redacted>")
        return text

    def close(self) -> None:
        """Remove the work directory (rendered configuration holds credentials) and release the lock."""
        shutil.rmtree(self.directory, ignore_errors=True)
        if self.lock is not None:
            self.lock.release()

    def __enter__(self) -> DeployWorkspace:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def new_work_directory(say: Say) -> Path:
    """A private directory for one deploy, named for this process (after removing those of killed deploys)."""
    _remove_work_of_killed_deploys(say)
    return Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-"))


def _remove_work_of_killed_deploys(say: Say) -> None:
    """A deploy killed with SIGKILL cannot remove its work directory (rendered configuration, credentials in
    its bundles): the next deploy does, for each one whose process is gone."""
    for directory in Path(tempfile.gettempdir()).glob(f"{WORK_PREFIX}*-*"):
        pid = directory.name.removeprefix(WORK_PREFIX).split("-", 1)[0]
        if not pid.isdigit() or directory.owner() != getpass.getuser() or process_alive(int(pid)):
            continue
        shutil.rmtree(directory, ignore_errors=True)
        say(f"removed {directory}: the work directory of a deploy that was killed (pid {pid})")
