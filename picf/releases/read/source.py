"""Open a BOSH release in any of its forms: one `Release` model and a way to get at its jobs and packages.

`open_release(path)` takes a release repository (a directory with `config/final.yml`), a release tarball or a
compiled release (a `.tgz` with `release.MF`). What a caller needs of it is the same whatever the form: the
model, a job as the `.tgz` BOSH's archives hold (`job.MF`, `monit`, `templates/`), a package's source staged in
a directory (`packaging` and its files, as the BOSH agent unpacks it), or a compiled package's tarball.
"""

from __future__ import annotations

import shutil
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from picf.errors import PicfError, UsageError
from picf.models.release import Release

RETIRED = (
    "release.yml is picf's own release format, which is retired: picf reads BOSH releases (config/final.yml, "
    "jobs/*/spec, packages/*/spec + packaging); see the README's release section and examples/releases/logfwd"
)


@dataclass(frozen=True)
class ReleaseProblem:
    """Something wrong with a release, in the file (and line) where it is."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


class ReleaseInvalid(PicfError):
    """A release with problems; every one is named with its file and line."""

    def __init__(self, where: str, problems: list[ReleaseProblem]) -> None:
        self.located = problems
        count = f"{len(problems)} problem{'' if len(problems) == 1 else 's'}"
        super().__init__(f"{where}: {count}; fix them and run `picf release validate {where}`", problems=problems)


class ReleaseSource(ABC):
    """A release opened for reading. Use as a context manager: a tarball is unpacked in a work directory of
    picf's own, removed on exit."""

    release: Release
    path: Path

    def __enter__(self) -> ReleaseSource:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:  # noqa: B027 (a repository unpacks nothing)
        """Remove what opening the release unpacked."""

    @abstractmethod
    def job_tarball(self, name: str, target: Path) -> None:
        """Write job `name` as BOSH's job .tgz (`./job.MF`, `./monit`, `./templates/...`) at `target`."""

    @abstractmethod
    def stage_package(self, name: str, into: Path) -> None:
        """Put package `name`'s source in `into`: `packaging` and its files at their relative paths."""

    def compiled_tarball(self, name: str) -> Path | None:
        """A compiled release's tarball of package `name` (its install directory), else None."""
        return None


def work_directory(prefix: str) -> Path:
    """A private scratch directory (mode 0700) for unpacking an untrusted release."""
    return Path(tempfile.mkdtemp(prefix=prefix))


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def open_release(path: Path) -> ReleaseSource:
    """Open the release at `path`: a repository directory or a `.tgz`. ReleaseInvalid lists every problem;
    UsageError when `path` is neither."""
    from picf.releases.read.repository import read_repository
    from picf.releases.read.tarball import read_tarball

    if path.is_dir():
        if (path / "config" / "final.yml").is_file() or (path / "config" / "dev.yml").is_file():
            return read_repository(path)
        if (path / "release.yml").is_file():
            raise UsageError(f"{path / 'release.yml'}: {RETIRED}")
        raise UsageError(
            f"{path}: no config/final.yml; a BOSH release repository has config/final.yml, jobs/ and packages/ "
            "(`picf release new NAME` makes one)"
        )
    if path.is_file():
        return read_tarball(path)
    raise UsageError(f"{path}: no such file or directory; pass a release repository or a release tarball (.tgz)")
