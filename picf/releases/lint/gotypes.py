"""Ask Go's own type checker about a Go tree: picf's small analyzer (picf/releases/lint/golint, Go standard library
only), built with a given Go toolchain (else the machine's) and cached by the hash of its source and that Go's
version, and the target's standard library as that Go exports it (`go list -export std` with GOARCH set; Go's
build cache keeps it).

`analyze(root, goarch, goroot=...)` returns the analyzer's findings; go_findings.py maps them to catalog patches.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from importlib.resources import files
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field

from picf.atomic import locked, write_atomic
from picf.errors import PicfError, UsageError

SOURCE = Path(str(files("picf.releases.lint").joinpath("golint")))
GOARCH = {"armv6": "arm", "armv7": "arm", "arm64": "arm64", "amd64": "amd64"}


class FieldLines(BaseModel):
    model_config = ConfigDict(frozen=True)

    names: tuple[str, ...]
    first: int
    last: int


class GoFinding(BaseModel):
    """One finding of the analyzer (see the comment at the top of golint/main.go)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["atomic64", "timespec", "statfs", "sscanf"]
    file: str
    line: int
    call: str = ""
    verdict: str = ""
    struct: str = ""
    field: str = ""
    offset: int | None = None
    unknown: str = ""
    detail: str = ""
    struct_file: str = ""
    struct_lines: tuple[int, int] = (0, 0)
    fields: tuple[FieldLines, ...] = ()
    lift: str = ""


class GoReport(BaseModel):
    """What the analyzer says about one tree."""

    model_config = ConfigDict(frozen=True)

    go_version: str
    goarch: str
    packages: int
    files: int
    findings: tuple[GoFinding, ...] = ()
    missing_imports: tuple[str, ...] = Field(default=())


def cache_dir() -> Path:
    """Where the built analyzer and the standard library's export lists live ($PICF_CACHE_DIR overrides)."""
    override = os.environ.get("PICF_CACHE_DIR")
    return Path(override) if override else platformdirs.user_cache_path("picf")


def go_binary(goroot: Path | None = None) -> str:
    """The `go` of a toolchain (`goroot`), else the machine's (Debian's), which builds the analyzer."""
    if goroot is not None:
        return str(goroot / "bin" / "go")
    found = shutil.which("go") or next(
        (p for p in ("/usr/lib/go/bin/go", "/usr/local/go/bin/go") if Path(p).exists()), None
    )
    if found is None:
        raise PicfError("Go is not installed; picf's lint asks Go's type checker: run `make setup` (golang-go)")
    return found


def go_env(goarch: str | None = None) -> dict[str, str]:
    """The environment picf runs Go in: offline, its caches under picf's, for linux/`goarch` when given."""
    # Go's own cache under picf's: the standard library compiled for a target once, reused by every lint.
    env = {
        **os.environ,
        "GOCACHE": str(cache_dir() / "go-build"),
        "GOPATH": str(cache_dir() / "gopath"),
        "GOFLAGS": "",
        "GO111MODULE": "on",
        "CGO_ENABLED": "0",
        "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
    }
    env.pop("GOROOT", None)  # each go finds its own
    if goarch is not None:
        env.update(GOOS="linux", GOARCH=goarch)
    return env


@functools.cache
def go_version(goroot: Path | None = None) -> str:
    """`go1.19.8`: the Go whose standard library the layouts come from."""
    done = subprocess.run(
        [go_binary(goroot), "env", "GOVERSION"], capture_output=True, text=True, env=go_env(), check=False
    )
    if done.returncode != 0:
        raise PicfError(f"`go env GOVERSION` failed: {done.stderr.strip()[:200]}")
    return done.stdout.strip()


def analyzer(goroot: Path | None = None) -> Path:
    """The analyzer binary, built with the Go at `goroot` (else the machine's) once per version of its source and
    of that Go (then reused): its go/types and the export data it reads are that Go's."""
    digest = hashlib.sha256()
    for name in sorted(p.name for p in SOURCE.iterdir() if p.suffix in {".go", ".mod"}):
        digest.update(name.encode() + b"\0" + (SOURCE / name).read_bytes())
    version = go_version(goroot)
    digest.update(version.encode())
    binary = cache_dir() / "golint" / f"picf-golint-{digest.hexdigest()[:16]}"
    if binary.exists():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    with locked(binary):
        if binary.exists():
            return binary
        partial = binary.with_name(binary.name + ".partial")
        done = subprocess.run([go_binary(goroot), "build", "-trimpath", "-o", str(partial), "."], cwd=SOURCE,
                              env=go_env(), capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
        if done.returncode != 0:
            raise PicfError(f"building picf's Go analyzer failed: {done.stderr.strip()[-300:]}")
        partial.rename(binary)
    return binary


def std_exports(goarch: str, goroot: Path | None = None) -> Path:
    """`IMPORTPATH EXPORTFILE` for the standard library of the Go at `goroot` (else the machine's) compiled for
    linux/`goarch` (Go caches the build)."""
    target = cache_dir() / "golint" / f"std-{go_version(goroot)}-{goarch}.txt"
    if target.exists() and all(Path(line.split()[1]).exists() for line in target.read_text().splitlines()[:3]):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with locked(target):
        done = subprocess.run(
            # -trimpath as `picf release build` compiles: the same cache entries serve the lint and the builds
            [go_binary(goroot), "list", "-trimpath", "-export", "-f", "{{.ImportPath}} {{.Export}}", "std"],
            env=go_env(goarch), capture_output=True, text=True, timeout=1200, check=False, cwd=cache_dir(),
        )  # fmt: skip
        if done.returncode != 0:
            raise PicfError(f"compiling Go's standard library for {goarch} failed: {done.stderr.strip()[-300:]}")
        write_atomic(target, done.stdout.encode(), backup=False)
    return target


def prepare(goarches: tuple[str, ...] = ("arm", "arm64")) -> None:
    """Build the analyzer and the standard library's export data for `goarches` (what `make setup` runs)."""
    analyzer()
    for goarch in goarches:
        std_exports(goarch)


def analyze(root: Path, goarch: str, overlay: dict[Path, str] | None = None, goroot: Path | None = None) -> GoReport:
    """Type-check every package under `root` for linux/`goarch` with the Go at `goroot` (else the machine's)
    and return the findings. `overlay` gives files new contents (the patch engine's drafts) without writing
    them."""
    if not root.is_dir():
        raise UsageError(f"{root}: not a directory")
    binary = analyzer(goroot)
    exports = std_exports(goarch, goroot)
    with tempfile.TemporaryDirectory(prefix="picf-golint-") as tmp:
        argv = [str(binary), "-root", str(root.resolve()), "-goarch", goarch, "-std", str(exports)]
        if overlay:
            mapping = {}
            for i, (path, text) in enumerate(overlay.items()):
                replacement = Path(tmp) / f"{i}.go"
                replacement.write_text(text)
                mapping[str(path.resolve())] = str(replacement)
            (Path(tmp) / "overlay.json").write_text(json.dumps(mapping))
            argv += ["-overlay", str(Path(tmp) / "overlay.json")]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=1800, check=False, env=go_env(goarch))
    if done.returncode != 0:
        raise PicfError(f"picf's Go analyzer failed on {root}: {done.stderr.strip()[-300:]}")
    return GoReport.model_validate_json(done.stdout)


if __name__ == "__main__":  # `python -m picf.releases.lint.gotypes arm arm64`: what `make setup` runs
    import sys

    prepare(tuple(sys.argv[1:]) or ("arm", "arm64"))
