"""The compiled-package store: content-addressed blobs, cache entries and release manifests on disk.

Layout under the XDG data dir (`~/.local/share/picf`, or `$PICF_DATA_DIR`):

    store/blobs/<sha256>                          package and job tarballs
    store/compiled/<cache key>.json               a compiled package; written after its blob
    store/releases/<name>/<version>/<arch>.json   a compiled release's manifest (`<arch>+patched.json`)

A blob appears only by rename after it is complete and synced, and an entry is trusted only when its blob is
there with the recorded size: a killed build leaves temp files (removed by the next build), never a half
artefact that a later build would use.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import platformdirs

from picf.atomic import locked, write_atomic
from picf.models.release import CompiledPackage, CompiledRelease


def data_dir() -> Path:
    """picf's data dir (`$PICF_DATA_DIR` overrides the XDG default)."""
    return Path(os.environ.get("PICF_DATA_DIR") or platformdirs.user_data_dir("picf"))


class Store:
    """One store directory."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or data_dir() / "store"
        for sub in ("blobs", "compiled", "releases", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Hold the store's lock for a build, and sweep what a killed build left in tmp/."""
        with locked(self.root / "store", timeout=600):
            for leftover in (self.root / "tmp").iterdir():
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
            yield

    def tempdir(self, prefix: str) -> Path:
        """A scratch directory inside the store (same filesystem, so blobs can be renamed in)."""
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.root / "tmp"))

    def blob(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256

    def put_blob(self, source: Path) -> tuple[str, int]:
        """Move a finished file into the store under its sha256; return (sha256, size)."""
        digest = hashlib.sha256()
        with source.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
            os.fsync(handle.fileno())
        sha = digest.hexdigest()
        size = source.stat().st_size
        target = self.blob(sha)
        if target.exists() and target.stat().st_size == size:
            source.unlink()
        else:
            os.replace(source, target)
        return sha, size

    def compiled(self, key: str) -> CompiledPackage | None:
        """The cache entry for `key`, if it and its blob are intact."""
        path = self.root / "compiled" / f"{key}.json"
        try:
            entry = CompiledPackage.model_validate_json(path.read_text())
        except (OSError, ValueError):
            return None
        blob = self.blob(entry.sha256)
        if not blob.is_file() or blob.stat().st_size != entry.size:
            return None
        return entry

    def record(self, entry: CompiledPackage) -> None:
        write_atomic(
            self.root / "compiled" / f"{entry.key}.json", entry.model_dump_json(indent=2).encode(), backup=False
        )

    def _manifest_path(self, name: str, version: str, arch: str, patched: bool) -> Path:
        return self.root / "releases" / name / version / f"{arch}{'+patched' if patched else ''}.json"

    def save_release(self, manifest: CompiledRelease) -> Path:
        path = self._manifest_path(manifest.name, manifest.version, manifest.arch, manifest.patched)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, manifest.model_dump_json(indent=2).encode(), backup=False)
        return path

    def releases(self) -> list[CompiledRelease]:
        """Every compiled release in the store, newest build first."""
        out = []
        for path in (self.root / "releases").glob("*/*/*.json"):
            with contextlib.suppress(OSError, ValueError):
                out.append(CompiledRelease.model_validate_json(path.read_text()))
        return sorted(out, key=lambda r: r.built_at, reverse=True)

    def release(self, name: str, version: str | None = None, arch: str | None = None) -> list[CompiledRelease]:
        """Compiled releases matching name (and version, arch)."""
        return [
            r
            for r in self.releases()
            if r.name == name and (version is None or r.version == version) and (arch is None or r.arch == arch)
        ]


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
