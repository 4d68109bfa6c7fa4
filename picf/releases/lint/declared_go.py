"""The Go a source tree declares: its release's golang package when the tree is inside a BOSH release (the Go
that compiles it), else the `go` line of its go.mod (the nearest above it within its checkout, else the
shallowest below)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from picf.releases.build import toolchains
from picf.releases.build.toolchains import go_package_version

_GO_LINE = re.compile(r"^go\s+(\d+\.\d+(?:\.\d+)?)\s*$", re.MULTILINE)
_SKIP = {"vendor", "testdata", "node_modules", ".git"}


@dataclass(frozen=True)
class DeclaredGo:
    """A Go version (`1.21`, `1.21.13`) and what declares it (`go.mod`, `packages/golang-1.21-linux`)."""

    version: str
    where: str


def declared_go(src: Path) -> DeclaredGo | None:
    """The Go `src` declares, or None when nothing does."""
    src = src.resolve()
    release = next((d for d in (src, *src.parents) if (d / "packages").is_dir() and (d / "jobs").is_dir()), None)
    if release is not None:
        found = release_go(release)
        if found is not None:
            return found
    for directory in (src, *src.parents):
        found = _go_mod(directory / "go.mod", src)
        if found is not None:
            return found
        if directory == release or (directory / ".git").exists():
            break  # a go.mod beyond the release or the checkout is another project's
    below = sorted(
        (p for p in src.rglob("go.mod") if not _SKIP & set(p.relative_to(src).parts)),
        key=lambda p: (len(p.parts), str(p)),
    )
    return next((found for p in below if (found := _go_mod(p, src)) is not None), None)


def sizing_go(src: Path, go: str | None = None) -> DeclaredGo | None:
    """The Go to size `src`'s structs with: `go` (a version) when the caller knows the Go that compiles it (its
    golang package), else the Go the tree declares."""
    return DeclaredGo(go, "its golang package") if go else declared_go(src)


def declared_goroot(declared: DeclaredGo | None) -> tuple[Path | None, str]:
    """The GOROOT of the Go to size structs with (None: the machine's), and a note when it is not the one
    declared. Only the Go toolchains here are used: sizing fetches nothing."""
    if declared is None:
        return None, ""
    try:
        toolchain, note = toolchains.provide(declared.version, fetch=False)
    except toolchains.ToolchainUnavailable:
        return None, f"go{declared.version} ({declared.where}) is not here; sized with the machine's Go"
    return toolchain.goroot, f"{note} ({declared.where})" if note else ""


def release_go(release: Path) -> DeclaredGo | None:
    """The newest Go of the golang packages of a release directory (`packages/<name>/`, its spec or the
    spec.lock of a vendored package)."""
    found: list[DeclaredGo] = []
    for package in sorted(p for p in release.glob("packages/*") if p.is_dir()):
        files: list[str] = []
        try:
            data = yaml.safe_load((package / "spec").read_text()) if (package / "spec").is_file() else None
        except (OSError, yaml.YAMLError):
            data = None
        if isinstance(data, dict) and isinstance(data.get("files"), list):
            files = [str(f) for f in data["files"]]
        version = go_package_version(package.name, files)
        if version is not None:
            found.append(DeclaredGo(version, f"packages/{package.name}"))
    return max(found, key=lambda d: tuple(int(p) for p in d.version.split(".")), default=None)


def _go_mod(path: Path, src: Path) -> DeclaredGo | None:
    try:
        found = _GO_LINE.search(path.read_text(errors="replace"))
    except OSError:
        return None
    if found is None:
        return None
    try:
        where = path.relative_to(src).as_posix()
    except ValueError:
        where = str(path)
    return DeclaredGo(found.group(1), where)
