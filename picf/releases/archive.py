"""Release archives: read untrusted `.tgz` files safely, write deterministic ones.

A release tarball is something people download, and so is every `.tgz` inside it (`jobs/*.tgz`,
`packages/*.tgz`). Before anything is written, every entry of an archive is checked: a path that is absolute
or climbs out with `..`, a symlink or hard link whose target lies outside, a device file or fifo, or more
expanded bytes (or entries) than the stated limits refuse the whole archive with one line naming it and the
entry. Only then is it unpacked, with Python's own `data` filter as a second guard (it also drops set-uid bits
and owners).
"""

from __future__ import annotations

import gzip
import io
import os
import posixpath
import tarfile
from dataclasses import dataclass
from pathlib import Path

from picf.errors import PicfError

GIB = 1 << 30


@dataclass(frozen=True)
class Limits:
    """How much one archive may expand to. `PICF_RELEASE_MAX_BYTES` raises the byte limit (a release with a
    large blob, a compiled Go toolchain)."""

    max_bytes: int = 8 * GIB
    max_entries: int = 200_000

    @classmethod
    def default(cls) -> Limits:
        raw = os.environ.get("PICF_RELEASE_MAX_BYTES", "")
        return cls(max_bytes=int(raw)) if raw.isdigit() else cls()


class ArchiveRefused(PicfError):
    """An archive that would write outside its directory, holds a device file, or is too large."""


def _member_path(name: str) -> str:
    """The entry's path relative to the archive root (`./job.MF` -> `job.MF`), '' for the root itself."""
    path = posixpath.normpath(name) if name not in ("", ".", "./") else "."
    return "" if path == "." else path


def _escapes(path: str) -> bool:
    return path == ".." or path.startswith(("/", "../"))


OPAQUE = "\0"  # a link whose target is an absolute path: it may exist, but nothing may go through it


def _resolve(path: str, links: dict[str, str]) -> str | None:
    """`path` inside the archive with the archive's own symlinks followed, as the file system would follow them
    once unpacked; None when it leads outside (or loops)."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    done: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if not done:
                return None
            done.pop()
            continue
        here = "/".join([*done, part])
        if here in links:
            hops += 1
            target = links[here]
            if hops > 40 or target.startswith("/") or target == OPAQUE:
                return None
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            done = []  # a link's target is kept relative to the archive's root
            continue
        done.append(part)
    return "/".join(done)


def check(
    archive: Path, limits: Limits | None = None, label: str | None = None, absolute_links: bool = False
) -> list[tarfile.TarInfo]:
    """Every entry of `archive`, checked; ArchiveRefused naming the archive and the first bad entry. With
    `absolute_links` (a compiled package: `bin/tool -> /var/vcap/packages/x/bin/tool` is usual), a symlink
    may point at an absolute path, but no entry may lie beyond one."""
    limits = limits or Limits.default()
    where = label or str(archive)
    total = 0
    members: list[tarfile.TarInfo] = []
    files: set[str] = set()
    seen: set[str] = set()
    links: dict[str, str] = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                members.append(member)
                if len(members) > limits.max_entries:
                    raise ArchiveRefused(
                        f"{where}: more than {limits.max_entries} entries (at {member.name!r}); refused"
                    )
                path = _member_path(member.name)
                if path and path in seen and not member.isdir():
                    raise ArchiveRefused(f"{where}: entry {member.name!r} is in it twice; refused")
                seen.add(path)
                if _escapes(path) or member.name.startswith("/") or _resolve(path, links) is None:
                    raise ArchiveRefused(f"{where}: entry {member.name!r} is outside the archive; refused")
                if member.isdev() or member.isfifo():
                    raise ArchiveRefused(f"{where}: entry {member.name!r} is a device file or fifo; refused")
                if member.issym():
                    target = member.linkname
                    joined = posixpath.join(posixpath.dirname(path), target)
                    if absolute_links and target.startswith("/"):
                        links[path] = OPAQUE
                        total += member.size
                        continue
                    if target.startswith("/") or _resolve(joined, links) is None:
                        raise ArchiveRefused(
                            f"{where}: symlink {member.name!r} points outside the archive ({target}); refused"
                        )
                    links[path] = joined
                elif member.islnk():
                    target = _member_path(member.linkname)
                    if _escapes(target) or target not in files:
                        raise ArchiveRefused(
                            f"{where}: hard link {member.name!r} points outside the archive ({member.linkname}); "
                            "refused"
                        )
                elif not (member.isfile() or member.isdir()):
                    raise ArchiveRefused(f"{where}: entry {member.name!r} is of an unknown kind; refused")
                total += member.size
                if total > limits.max_bytes:
                    raise ArchiveRefused(
                        f"{where}: expands to more than {limits.max_bytes} bytes (at {member.name!r}); refused "
                        "(set PICF_RELEASE_MAX_BYTES to allow more)"
                    )
                if member.isfile():
                    files.add(path)
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as exc:
        if isinstance(exc, ArchiveRefused):
            raise
        raise ArchiveRefused(f"{where}: not a readable .tgz ({_reason(exc)}); is the download complete?") from None
    return members


def _reason(exc: BaseException) -> str:
    """One line of why tarfile could not read an archive."""
    if isinstance(exc, tarfile.ReadError):
        return "not a gzip-compressed tar archive, or cut short"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def extract(
    archive: Path, into: Path, limits: Limits | None = None, label: str | None = None, absolute_links: bool = False
) -> None:
    """Check every entry of `archive` (see `check`), then unpack it into `into`."""
    check(archive, limits, label, absolute_links)
    into.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            # Python's own filter, a second guard: `data` refuses absolute links, `tar` allows them (checked above)
            tar.extractall(into, filter="tar" if absolute_links else "data")
    except (tarfile.TarError, OSError) as exc:
        raise ArchiveRefused(f"{label or archive}: {exc}; refused") from None


def read_member(archive: Path, name: str, max_bytes: int = 16 << 20, label: str | None = None) -> bytes | None:
    """The content of one regular file of `archive` (`release.MF`, `./job.MF`), without unpacking the rest;
    None when it has no such file."""
    wanted = _member_path(name)
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                if _member_path(member.name) == wanted and member.isfile():
                    if member.size > max_bytes:
                        raise ArchiveRefused(f"{label or archive}: {name} is {member.size} bytes; refused")
                    handle = tar.extractfile(member)
                    return handle.read() if handle is not None else None
    except (tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, ArchiveRefused):
            raise
        raise ArchiveRefused(
            f"{label or archive}: not a readable .tgz ({_reason(exc)}); is the download complete?"
        ) from None
    return None


def write_tarball(directory: Path, target: Path, compresslevel: int = 9, prefix: str = "") -> None:
    """A deterministic .tgz of `directory` (sorted entries, zeroed times and owners); entries are named
    `prefix + path` (BOSH's archives use `./`)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for path in sorted(directory.rglob("*")):
            # gettarinfo gives None for a socket (typeshed says otherwise)
            info: tarfile.TarInfo | None = tar.gettarinfo(str(path), arcname=prefix + str(path.relative_to(directory)))
            if info is None or not (info.isfile() or info.isdir() or info.issym() or info.islnk()):
                continue  # a socket or fifo a build left behind: nothing a package can carry
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isfile():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    with (
        target.open("wb") as out,
        gzip.GzipFile(filename="", fileobj=out, mode="wb", compresslevel=compresslevel, mtime=0) as gz,
    ):
        gz.write(raw.getvalue())
        gz.flush()
        out.flush()


def read_all(archive: Path, limits: Limits | None = None, label: str | None = None) -> dict[str, bytes]:
    """Every regular file of a small archive (a job's .tgz), by its relative path, after checking it."""
    check(archive, limits, label)
    out: dict[str, bytes] = {}
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            if member.isfile():
                handle = tar.extractfile(member)
                if handle is not None:
                    out[_member_path(member.name)] = handle.read()
    return out
