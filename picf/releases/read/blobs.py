"""A release's blobstore: where its blobs and final build tarballs are, and fetching them, verified.

`config/final.yml` names the blobstore (`config/private.yml` may add options, as in bosh-cli):

- `local`: `options.blobstore_path`, a directory (relative to the release);
- `s3`: anonymous reads of `https://<host or s3.amazonaws.com>[:port]/<bucket_name>/[<folder_name>/]<id>`,
  path-style as bosh-s3cli does by default (`use_ssl: false` for http, `port` when not the default);
- `gcs`: `https://storage.googleapis.com/<bucket_name>/<id>`.

A download goes to a temporary file beside its target and is renamed into place only once its size and digest
(the strongest part of `sha`: SHA-1 or SHA-256) match, so a broken transfer never leaves a blob behind.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from picf.errors import PicfError, UsageError
from picf.progress import Say, quiet
from picf.releases.read import fingerprint

TIMEOUT = 30.0


class BlobUnavailable(PicfError):
    """A blob (or a vendored package's tarball) that could not be had."""


@dataclass(frozen=True)
class Blobstore:
    """`config/final.yml`'s blobstore (with `config/private.yml`'s options over it)."""

    provider: str
    options: dict[str, Any] = field(default_factory=dict)
    release_dir: Path | None = None

    def location(self, object_id: str) -> str:
        """Where an object is: a URL, or a path for the `local` provider."""
        if "/" in object_id or object_id in ("", ".", ".."):
            raise BlobUnavailable(f"object id {object_id!r} is not a plain name; refused")
        options = self.options
        if self.provider == "local":
            base = Path(str(options.get("blobstore_path", "")))
            if not base.is_absolute() and self.release_dir is not None:
                base = self.release_dir / base
            return str(base / object_id)
        bucket = str(options.get("bucket_name") or "")
        if not bucket:
            raise BlobUnavailable(f"blobstore {self.provider}: no bucket_name in config/final.yml")
        if self.provider == "gcs":
            return f"https://storage.googleapis.com/{urllib.parse.quote(bucket)}/{urllib.parse.quote(object_id)}"
        if self.provider == "s3":
            host = str(options.get("host") or "")
            region = str(options.get("region") or "")
            if not host:
                host = f"s3.{region}.amazonaws.com" if region and region != "us-east-1" else "s3.amazonaws.com"
            scheme = "http" if options.get("use_ssl") is False else "https"
            try:
                port = int(options.get("port") or 0)
            except (TypeError, ValueError):
                raise BlobUnavailable(f"blobstore s3: port {options.get('port')!r} is not a number") from None
            netloc = host if port in (0, 80 if scheme == "http" else 443) else f"{host}:{port}"
            key = object_id
            if options.get("folder_name"):
                key = f"{str(options['folder_name']).strip('/')}/{object_id}"
            return f"{scheme}://{netloc}/{urllib.parse.quote(bucket)}/{urllib.parse.quote(key)}"
        raise BlobUnavailable(
            f"blobstore provider {self.provider!r} is not one picf reads (local, s3, gcs); see config/final.yml"
        )


def fetch(
    store: Blobstore,
    object_id: str,
    digest: str,
    target: Path,
    what: str,
    size: int | None = None,
    progress: Say = quiet,
) -> None:
    """Put object `object_id` at `target`, checked against `digest` (and `size`); BlobUnavailable (one line:
    what, its size, where it was looked for, why) when it cannot be had."""
    where = store.location(object_id)
    sized = f" ({size} bytes)" if size is not None else ""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(handle)
    partial = Path(temp)
    try:
        started = time.monotonic()
        try:
            if store.provider == "local":
                shutil.copyfile(where, partial)
            else:
                _download(where, partial, size)
        except (OSError, urllib.error.URLError, TimeoutError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or repr(exc)
            raise BlobUnavailable(f"{what}{sized}: could not be had from {where}: {reason}") from None
        got = partial.stat().st_size
        if size is not None and got != size:
            raise BlobUnavailable(
                f"{what}{sized}: {where} gave {got} bytes; the blobstore or config/blobs.yml is wrong"
            )
        try:
            wrong = fingerprint.verify(partial, digest)
        except ValueError as exc:
            raise BlobUnavailable(f"{what}: {exc}") from None
        if wrong is not None:
            raise BlobUnavailable(f"{what}{sized}: {where} has digest {wrong}, expected {digest}; not kept")
        partial.chmod(0o644)
        os.replace(partial, target)
        progress(f"{what}: {got} bytes from {where} in {time.monotonic() - started:.1f} s")
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def _download(url: str, target: Path, size: int | None) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "picf"})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response, target.open("wb") as out:
        limit = (size or 0) + 1 if size is not None else None
        copied = 0
        for chunk in iter(lambda: response.read(1 << 20), b""):
            out.write(chunk)
            copied += len(chunk)
            if limit is not None and copied > limit:
                break  # more than announced: stop reading, the size check says so


def safe_blob_path(path: str) -> bool:
    """A blobs.yml key names a file inside blobs/: relative, no `.` or `..` component, not empty."""
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and all(p not in ("", ".", "..") for p in parts)


@dataclass(frozen=True)
class BlobEntry:
    """One line of `config/blobs.yml`."""

    path: str
    size: int | None
    sha: str
    object_id: str | None


@dataclass
class SyncReport:
    kept: list[str] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # no object_id: added locally, never uploaded
    unlisted: list[str] = field(default_factory=list)  # in blobs/ but not in blobs.yml (left alone)


def sync(release_dir: Path, store: Blobstore, entries: list[BlobEntry], progress: Say = quiet) -> SyncReport:
    """`bosh sync-blobs`: every blob of `entries` in `release_dir/blobs`, verified; fetched where missing or
    different. BlobUnavailable for the first one that cannot be had (the ones already fetched stay)."""
    blobs_dir = release_dir / "blobs"
    if blobs_dir.is_symlink():
        raise UsageError(f"{blobs_dir}: a symlink; bosh and picf keep blobs in a directory of the release")
    report = SyncReport()
    for entry in entries:
        target = blobs_dir / entry.path
        if not safe_blob_path(entry.path) or not target.resolve().is_relative_to(blobs_dir.resolve()):
            raise BlobUnavailable(f"config/blobs.yml: {entry.path!r} is not a path inside blobs/; refused")
        if target.is_file() and not target.is_symlink():
            try:
                if fingerprint.verify(target, entry.sha) is None:
                    report.kept.append(entry.path)
                    continue
            except ValueError as exc:
                raise BlobUnavailable(f"config/blobs.yml: {entry.path}: {exc}") from None
        if entry.object_id is None:
            if target.is_file():
                report.kept.append(entry.path)
            else:
                report.skipped.append(entry.path)
            continue
        fetch(store, entry.object_id, entry.sha, target, entry.path, entry.size, progress)
        report.fetched.append(entry.path)
    listed = {e.path for e in entries}
    if blobs_dir.is_dir():
        for path in sorted(blobs_dir.rglob("*")):
            rel = path.relative_to(blobs_dir).as_posix()
            if path.is_file() and rel not in listed and not path.name.startswith("."):
                report.unlisted.append(rel)
    return report
