"""Compile one package the way the BOSH agent does on a stemcell, for the node's arch, in picf's sandbox.

The release's own `packaging` runs unmodified: `bash -x packaging` in `/var/vcap/data/compile/<pkg>`, with
`BOSH_COMPILE_TARGET`, `BOSH_INSTALL_TARGET=/var/vcap/packages/<pkg>`, `BOSH_PACKAGE_NAME` and
`BOSH_PACKAGE_VERSION`, its direct dependencies at `/var/vcap/packages/<dep>`. What makes it compile for the
node instead of for this machine:

- cross toolchains behind the names scripts use: `gcc`, `cc`, `g++`, `ld`, `ar`, `strip` ... are the target's
  (`arm-linux-gnueabihf-*`, `aarch64-linux-gnu-*`), first on PATH;
- the Go package a release vendors is a Go that cross-compiles (see `toolchains`): GOOS/GOARCH/GOARM for the
  node, `go install` output where a native one puts it;
- qemu-user registered for the sandbox (binfmt_misc of its own user namespace): the ARM programs a build runs
  (configure's test programs, code generators) run.

The sandbox (`sandbox.py`) has no network and sees nothing of the controller but the system's programs; Go's
build cache is shared copy-on-write, so a compile reuses what trusted steps compiled and keeps nothing.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from picf.errors import PicfError
from picf.models.node import Arch
from picf.releases import sandbox
from picf.releases.build import toolchains
from picf.releases.build.toolchains import GoToolchain

GOARCH: dict[str, str] = {"armv6": "arm", "armv7": "arm", "arm64": "arm64", "amd64": "amd64"}
GOARM: dict[str, str] = {"armv6": "6", "armv7": "7"}
CROSS_PREFIX: dict[str, str] = {"armv6": "arm-linux-gnueabihf-", "armv7": "arm-linux-gnueabihf-",
                                "arm64": "aarch64-linux-gnu-"}  # fmt: skip
CROSS_FLAGS: dict[str, str] = {"armv6": "-march=armv6+fp -marm"}
QEMU: dict[str, tuple[str, ...]] = {"armv6": ("qemu-arm",), "armv7": ("qemu-arm",), "arm64": ("qemu-aarch64",)}
TOOLS = ("gcc", "cc", "g++", "c++", "cpp", "ar", "as", "ld", "nm", "objcopy", "objdump", "ranlib", "readelf",
         "strip", "gcc-ar", "gcc-nm", "gcc-ranlib")  # fmt: skip
COMPILERS = {"gcc", "cc", "g++", "c++", "cpp"}
CROSS_BIN = "/var/vcap/data/picf/cross/bin"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SANDBOX_NOTE = ("(picf compiles each package in a sandbox: no network, no home directory, nothing of the store; "
                "only its compile dir and install target are writable)")  # fmt: skip
OUTPUT_LINES = 40


class BuildError(PicfError):
    """A package that did not compile; carries the end of its packaging script's output."""

    def __init__(self, package: str, arch: str, output: str) -> None:
        self.package, self.arch, self.output = package, arch, output
        super().__init__(f"package {package} failed to build for {arch}: its output is above",
                         problems=output.rstrip().splitlines())  # fmt: skip


@dataclass(frozen=True)
class Dependency:
    """A direct dependency as the script sees it at /var/vcap/packages/<name>."""

    name: str
    directory: Path  # its install directory on this machine
    go: GoToolchain | None = None  # a Go picf provides (directory is a shared view: read-only)
    own_go: bool = False  # the release's own Go (directory is this compile's copy)
    asked: str | None = None  # the Go version the release asked for (picf may provide a newer one)


def _before_modules(version: str) -> bool:
    parts = [int(p) for p in version.split(".")[:2] if p.isdigit()]
    return len(parts) == 2 and tuple(parts) < (1, 11)


def go_cache() -> Path:
    """Go's build cache shared by picf's builds (copy-on-write inside the sandbox)."""
    path = Path(platformdirs.user_cache_dir("picf")) / "go-build"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cross_tools(arch: Arch, into: Path) -> None:
    """`gcc`, `cc`, `ld` ... that run the target's cross toolchain (nothing for amd64: this machine's)."""
    into.mkdir(parents=True, exist_ok=True)
    prefix = CROSS_PREFIX.get(arch)
    if prefix is None:
        return
    flags = CROSS_FLAGS.get(arch, "")
    for tool in TOOLS:
        real = {"cc": "gcc", "c++": "g++"}.get(tool, tool)
        extra = f" {flags}" if flags and tool in COMPILERS else ""
        script = into / tool
        script.write_text(f'#!/bin/sh\n# picf: `{tool}` builds for {arch}\nexec {prefix}{real}{extra} "$@"\n')
        script.chmod(0o755)


_warm: set[tuple[str, str, str]] = set()


def warm_go(go: GoToolchain, view: Path, package: str, arch: Arch) -> None:
    """Compile Go's standard library for the target into the shared cache, with the toolchain where packaging
    scripts see it (`/var/vcap/packages/<package>`: older Go's cache entries depend on GOROOT's path). A
    trusted step, it builds none of the release's code: the cache is writable to it alone."""
    key = (str(go.goroot), package, arch)
    marker = go_cache() / f".picf-std-{hashlib.sha256(repr((*key, go.version)).encode()).hexdigest()[:16]}"
    if key in _warm or marker.exists():  # warmed before (Go trims what it has not used for days: then again)
        return
    inside = f"/var/vcap/packages/{package}"
    cgo = "0" if arch != "amd64" else "1"
    env = {"GOROOT": inside, "GOOS": "linux", "GOARCH": GOARCH[arch], "GOCACHE": "/var/vcap/data/picf/go-build",
           "GOTOOLCHAIN": "local", "GOFLAGS": "", "GOPROXY": "off", "CGO_ENABLED": cgo}  # fmt: skip
    if arch in GOARM:
        env["GOARM"] = GOARM[arch]
    box = sandbox.Sandbox(writable=(), ro_binds={inside: view}, binds={"/var/vcap/data/picf/go-build": go_cache()})
    argv = sandbox.command([f"{inside}/bin/go.real", "build", "std"], Path("/tmp"), env, box)
    if subprocess.run(argv, capture_output=True, timeout=3600, check=False).returncode == 0:
        marker.touch()
    _warm.add(key)


def compile_package(
    name: str, version: str, arch: Arch, staged: Path, dependencies: list[Dependency], work: Path
) -> Path:
    """Run package `name`'s `packaging` (in `staged`) for `arch`; return its install directory."""
    compile_dir, install = work / "compile", work / "install"
    if compile_dir.exists():
        shutil.rmtree(compile_dir)
    shutil.move(str(staged), compile_dir)
    install.mkdir(parents=True, exist_ok=True)
    cross = work / "cross"
    cross_tools(arch, cross)
    scratch = work / "sandbox"
    scratch.mkdir(exist_ok=True)
    inside_compile = f"/var/vcap/data/compile/{name}"
    binds: dict[str, Path] = {inside_compile: compile_dir, f"/var/vcap/packages/{name}": install}
    ro_binds: dict[str, Path] = {CROSS_BIN: cross}
    cache_dirs = {"/tmp/.cache/go-build": go_cache()}
    for dep in dependencies:
        inside = f"/var/vcap/packages/{dep.name}"
        if dep.own_go:
            binds[inside] = dep.directory  # this compile's own copy: an old Go writes its GOROOT/pkg
        else:
            ro_binds[inside] = dep.directory
        if dep.go is not None or dep.own_go:
            cache_dirs[f"/var/vcap/data/{dep.name}/cache"] = go_cache()
        if dep.go is not None:
            env_dir = work / f"go-env-{dep.name}"
            env_dir.mkdir(exist_ok=True)
            for file, text in toolchains.compile_env(dep.name).items():
                (env_dir / file).write_text(text)
            ro_binds[f"{inside}/bosh"] = env_dir
    env = {
        "BOSH_COMPILE_TARGET": inside_compile, "BOSH_INSTALL_TARGET": f"/var/vcap/packages/{name}",
        "BOSH_PACKAGE_NAME": name, "BOSH_PACKAGE_VERSION": f"{version}.1", "PICF_ARCH": arch,
        "PICF_GOARCH": GOARCH[arch], "GOPROXY": "off", "LANG": "C.UTF-8",
    }  # fmt: skip
    if arch in GOARM:
        env["PICF_GOARM"] = GOARM[arch]
    if any(d.go is not None and d.asked and _before_modules(d.asked) for d in dependencies):
        # The release asked for a Go from before modules: its scripts build GOPATH trees, as that Go did.
        env["GO111MODULE"] = "off"
    if arch in CROSS_PREFIX:
        env["QEMU_LD_PREFIX"] = "/usr/" + CROSS_PREFIX[arch].rstrip("-")
    box = sandbox.Sandbox(
        writable=(), copy_on_write=cache_dirs, scratch=scratch, binds=binds, ro_binds=ro_binds,
        path=f"{CROSS_BIN}:{SYSTEM_PATH}", emulate=QEMU.get(arch, ()),
    )  # fmt: skip
    argv = sandbox.command(["bash", "-x", "packaging"], Path(inside_compile), env, box)
    log = work / "packaging.log"
    try:
        with log.open("w") as output:
            done = subprocess.run(argv, stdout=output, stderr=subprocess.STDOUT, timeout=3600, check=False)
    except subprocess.TimeoutExpired:
        raise BuildError(name, arch, "packaging ran for more than an hour; stopped") from None
    if done.returncode != 0:
        refused = sandbox.did_not_start(log.read_text(errors="replace")[:2000])
        if refused is not None:
            raise refused
        tail = log.read_text(errors="replace").splitlines()[-OUTPUT_LINES:]
        raise BuildError(name, arch, "\n".join([*tail, f"packaging exited {done.returncode}", SANDBOX_NOTE]))
    return install
