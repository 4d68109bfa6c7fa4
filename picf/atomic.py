"""Safe file writes: a lock per file, atomic replace (temp + fsync + rename + dir fsync), and a `.bak`.

Every file picf writes that a person may also edit (inventory, manifest, vars store) goes through here, so a
crash or a kill mid-write leaves either the old file or the new one, never half of either.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from picf.errors import PicfError


class LockTimeout(PicfError, OSError):
    """Another picf process holds the file's lock for too long."""


def lock_path(path: Path) -> Path:
    """The lock file that guards `path` (beside it, so it survives the rename of `path`)."""
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def locked(path: Path, timeout: float = 10.0) -> Iterator[None]:
    """Hold an exclusive advisory lock on `path` for the duration of the block."""
    lock_file = lock_path(path)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"{path}: another picf command is editing this file (lock {lock_file}); "
                        "wait for it or remove the lock file if no picf runs"
                    ) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, mode: int | None = None, backup: bool = True) -> None:
    """Replace `path` with `data` atomically; keep the previous content in `path.bak` when asked.

    `mode` defaults to the existing file's mode (or 0644 for a new file); pass 0o600 for secrets.
    """
    directory = path.parent
    old_mode: int | None = None
    with contextlib.suppress(FileNotFoundError):
        old_mode = path.stat().st_mode & 0o7777
    final_mode = mode if mode is not None else (old_mode if old_mode is not None else 0o644)
    if backup and old_mode is not None:
        _replace(path.with_name(path.name + ".bak"), path.read_bytes(), final_mode)
    _replace(path, data, final_mode)
    _fsync_dir(directory)


def _replace(target: Path, data: bytes, mode: int) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
