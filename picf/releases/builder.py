"""Build a release for one arch: patch (optionally), fingerprint, cross-compile what the cache lacks, store.

Fingerprints follow bosh-cli: SHA-256 over "v2", then each of the package's files sorted by path (path,
content digest, mode), then the sorted dependency names; picf adds its build recipe, so changing ldflags or a
compiler flag rebuilds. The cache key adds the arch and the dependencies' keys, so changing one package
rebuilds it and its dependents only.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from picf.errors import PicfError
from picf.models.node import Arch
from picf.models.patch import Align64
from picf.models.release import CBuild, CompiledJob, CompiledPackage, CompiledRelease, GoBuild, Package, ScriptBuild
from picf.releases import sandbox, transforms
from picf.releases.lint import lint_tree
from picf.releases.patching import patch_tree
from picf.releases.release_dir import ReleaseDir, package_files, read_release
from picf.releases.store import Store, now

GOARCH: dict[str, str] = {"armv6": "arm", "armv7": "arm", "arm64": "arm64", "amd64": "amd64"}
GOARM: dict[str, str] = {"armv6": "6", "armv7": "7"}
CC: dict[str, list[str]] = {
    "armv6": ["arm-linux-gnueabihf-gcc", "-march=armv6+fp", "-marm"],
    "armv7": ["arm-linux-gnueabihf-gcc"],
    "arm64": ["aarch64-linux-gnu-gcc"],
    "amd64": ["gcc"],
}
AUTO_ALIGN = "align64"
Progress = Callable[[str], None]


class BuildError(PicfError):
    """A package failed to build; carries the compiler's own output."""

    def __init__(self, package: str, arch: str, output: str) -> None:
        self.package = package
        self.arch = arch
        self.output = output
        super().__init__(
            f"package {package} failed to build for {arch}: the compiler's message is above",
            problems=output.rstrip().splitlines(),
        )


@dataclass
class PackageOutcome:
    name: str
    cached: bool
    seconds: float


@dataclass
class BuildReport:
    """What `build` did."""

    manifest: CompiledRelease
    packages: list[PackageOutcome] = field(default_factory=list)
    seconds: float = 0.0


def _mode(path: Path) -> str:
    if path.is_symlink():
        return "symlink"
    return "100755" if os.access(path, os.X_OK) else "100644"


def fingerprint(source: Path, files: list[Path], dependencies: tuple[str, ...], recipe: str) -> str:
    """bosh-cli's package fingerprint (v2), plus picf's build recipe."""
    digest = hashlib.sha256(b"v2")
    for path in sorted(files, key=lambda p: str(p.relative_to(source))):
        content = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
        digest.update(str(path.relative_to(source)).encode())
        digest.update(hashlib.sha256(content).hexdigest().encode())
        digest.update(_mode(path).encode())
    for dep in sorted(dependencies):
        digest.update(dep.encode())
    digest.update(recipe.encode())
    return digest.hexdigest()


def cache_key(fingerprint_: str, arch: str, dependency_keys: list[str]) -> str:
    """What identifies a compiled package: its fingerprint, the arch, and what its dependencies compiled to."""
    return hashlib.sha256(f"{fingerprint_}|{arch}|{','.join(sorted(dependency_keys))}".encode()).hexdigest()


def write_tarball(directory: Path, target: Path, compresslevel: int = 9) -> None:
    """A deterministic .tgz of `directory` (sorted entries, zeroed times and owners)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for path in sorted(directory.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(directory)))
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


def _order(packages: tuple[Package, ...]) -> list[Package]:
    by_name = {p.name: p for p in packages}
    ordered: list[Package] = []
    done: set[str] = set()

    def visit(package: Package) -> None:
        if package.name in done:
            return
        done.add(package.name)
        for dep in package.dependencies:
            visit(by_name[dep])
        ordered.append(package)

    for package in packages:
        visit(package)
    return ordered


SANDBOX_NOTE = ("(picf builds each package in a sandbox: no network, no home directory, nothing of the store; "
                "only its compile dir, install target and dependencies are writable)")  # fmt: skip
# Inside the sandbox, Go's caches are seen copy-on-write at these paths.
GOCACHE_INSIDE, GOMODCACHE_INSIDE = "/picf-cache/go-build", "/picf-cache/go-mod"
_warm: set[tuple[tuple[str, str], ...]] = set()


def _run(argv: list[str], cwd: Path, env: dict[str, str], package: str, arch: str, box: sandbox.Sandbox) -> None:
    """Run one build step of `package` in the sandbox; BuildError with the tools' own output."""
    try:
        done = subprocess.run(sandbox.command(argv, cwd, env, box), capture_output=True, text=True, timeout=3600)
    except FileNotFoundError as exc:
        raise BuildError(package, arch, f"{exc.filename}: not installed; run `make setup`") from None
    if done.returncode != 0:
        output = (done.stderr + done.stdout).strip() or f"exit {done.returncode}"
        raise BuildError(package, arch, f"{output}\n{SANDBOX_NOTE}")


def _trusted(argv: list[str], cwd: Path, env: dict[str, str], package: str, arch: str) -> None:
    """A step that runs none of the release's code (Go building its own standard library, fetching modules
    by go.sum): outside the sandbox, so what it puts in Go's caches is shared with later builds."""
    done = subprocess.run(argv, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise BuildError(package, arch, (done.stderr + done.stdout).strip() or f"exit {done.returncode}")


def _warm_go(go_env: dict[str, str], cwd: Path, fetch_modules: bool, package: str, arch: str) -> None:
    """Compile the standard library for the target into the shared cache (and fetch the module's
    dependencies) before the sandboxed build, which sees both but keeps nothing it writes."""
    key = tuple(sorted(go_env.items()))
    if key not in _warm:
        _trusted(["go", "build", "-trimpath", "std"], cwd, go_env, package, arch)
        _warm.add(key)
    if fetch_modules:
        _trusted(["go", "mod", "download"], cwd, {**go_env, "GOFLAGS": "-mod=mod"}, package, arch)


def _compile(
    release: ReleaseDir, source: Path, package: Package, arch: Arch, work: Path, deps: dict[str, Path]
) -> Path:
    """Compile one package in `work` (in the sandbox); return its install directory."""
    compile_dir, install = work / "compile", work / "install"
    install.mkdir(parents=True)
    for path in package_files(source, package.files):
        target = compile_dir / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target, follow_symlinks=False)
    packages_dir = work / "packages"
    for name, directory in deps.items():
        shutil.copytree(directory, packages_dir / name)
    cache = Path(platformdirs.user_cache_dir("picf"))
    shared = {GOCACHE_INSIDE: cache / "go-build", GOMODCACHE_INSIDE: cache / "gopath" / "pkg" / "mod"}
    for directory in shared.values():
        directory.mkdir(parents=True, exist_ok=True)
    scratch = work / "sandbox"
    scratch.mkdir()
    box = sandbox.Sandbox(writable=(work,), copy_on_write=shared, scratch=scratch)
    go_env = {"GOOS": "linux", "GOARCH": GOARCH[arch], "CGO_ENABLED": "0", "GOTOOLCHAIN": "local"}
    if arch in GOARM:
        go_env["GOARM"] = GOARM[arch]
    env = {
        **go_env, "GOCACHE": GOCACHE_INSIDE, "GOMODCACHE": GOMODCACHE_INSIDE, "GOPATH": "/tmp/gopath",
        "GOPROXY": "off", "GOFLAGS": "",
        "CC": CC[arch][0], "BOSH_INSTALL_TARGET": str(install), "BOSH_COMPILE_TARGET": str(compile_dir),
        "BOSH_PACKAGE_NAME": package.name, "BOSH_PACKAGES_DIR": str(packages_dir), "PICF_ARCH": arch,
    }  # fmt: skip
    build = package.build
    bin_dir = install / "bin"
    if isinstance(build, GoBuild):
        bin_dir.mkdir()
        if build.cgo:
            env["CGO_ENABLED"] = go_env["CGO_ENABLED"] = "1"
        argv = ["go", "build", "-trimpath", "-ldflags", build.ldflags, "-o", str(bin_dir / build.binary), build.package]
        trusted_env = {**go_env, "GOCACHE": str(shared[GOCACHE_INSIDE]), "GOMODCACHE": str(shared[GOMODCACHE_INSIDE])}
        if build.gopath:
            gopath = work / "gopath"
            shutil.copytree(compile_dir / build.module, gopath / "src" / build.gopath, symlinks=True)
            env.update(GO111MODULE="off", GOPATH=str(gopath))
            cwd = gopath / "src" / build.gopath
            _warm_go({**trusted_env, "GO111MODULE": "off"}, cwd, False, package.name, arch)
        else:
            cwd = compile_dir / build.module
            vendored = (cwd / "vendor").is_dir()
            env["GOFLAGS"] = "-mod=vendor" if vendored else "-mod=mod"
            _warm_go(trusted_env, cwd, not vendored and (cwd / "go.sum").is_file(), package.name, arch)
        _run(argv, cwd, env, package.name, arch, box)
    elif isinstance(build, CBuild):
        bin_dir.mkdir()
        sources = [str(compile_dir / s) for s in build.sources]
        _run([*CC[arch], "-static", *build.flags, "-o", str(bin_dir / build.binary), *sources], compile_dir, env,
             package.name, arch, box)  # fmt: skip
    else:
        assert isinstance(build, ScriptBuild)
        script = (release.path / build.script).resolve()
        readable = sandbox.Sandbox(writable=box.writable, readable=(script,), copy_on_write=shared, scratch=scratch)
        _run(["bash", "-e", str(script)], compile_dir, env, package.name, arch, readable)
    return install


def _patched_source(release: ReleaseDir, arch: Arch, store: Store, progress: Progress) -> tuple[Path, list[str]]:
    """A copy of the source with the catalog's patches for `arch`, and misaligned 64-bit atomics aligned."""
    copy = store.tempdir("src-") / "src"
    shutil.copytree(release.source, copy, symlinks=True)
    applied = [r.patch for r in patch_tree(copy, arch) if r.status == "applied"]
    for struct, struct_file in sorted(
        {(h.struct, h.struct_file) for h in lint_tree(copy, arch) if h.id == "atomic64-misaligned" and h.struct_file}
    ):
        # The align64 transform moves the struct's atomic fields first, where Go's type checker placed them.
        owner = copy / struct_file
        transform = Align64(kind="align64", file=owner.name, structs=(struct,))
        outcome = transforms.align64(owner, owner.read_text(), transform, AUTO_ALIGN, arch, {})
        if outcome.status == "apply":
            owner.write_text(outcome.text)
            applied.append(f"{AUTO_ALIGN}:{struct}")
    for patch in applied:
        progress(f"patched: {patch}")
    return copy, sorted(set(applied))


def _job_tarball(release: ReleaseDir, job_name: str, store: Store) -> str:
    job = next(j for j in release.release.jobs if j.name == job_name)
    work = store.tempdir("job-")
    staging = work / "job"
    shutil.copytree(release.job_dir(job_name), staging)
    (staging / "job.json").write_text(json.dumps(job.model_dump(mode="json"), indent=2, sort_keys=True))
    tarball = work / "job.tgz"
    write_tarball(staging, tarball)
    sha, _ = store.put_blob(tarball)
    shutil.rmtree(work, ignore_errors=True)
    return sha


def build(
    directory: Path, arch: Arch, *, patch: bool = False, store: Store | None = None, progress: Progress = lambda _: None
) -> BuildReport:
    """Build every package of the release at `directory` for `arch` (cache hits compile nothing)."""
    started = time.monotonic()
    release = read_release(directory)
    store = store or Store()
    if not hasattr(release.release.source, "path"):
        raise BuildError("(source)", arch, "git sources: run `git clone --recurse-submodules` into the release's "
                         "src/ and set `source: {path: src}` (fetching is not built into picf yet)")  # fmt: skip
    if not release.source.is_dir():
        raise BuildError("(source)", arch, f"{release.source}: no such directory")
    with store.session():
        source, applied = _patched_source(release, arch, store, progress) if patch else (release.source, [])
        outcomes: list[PackageOutcome] = []
        compiled: dict[str, CompiledPackage] = {}
        for package in _order(release.release.packages):
            t0 = time.monotonic()
            recipe = _recipe(release, package)
            fp = fingerprint(source, package_files(source, package.files), package.dependencies, recipe)
            key = cache_key(fp, arch, [compiled[d].key for d in package.dependencies])
            entry = store.compiled(key)
            if entry is None:
                progress(f"compiling {package.name} for {arch} ...")
                work = store.tempdir(f"build-{package.name}-")
                deps = {d: _installed(store, compiled[d], work / "deps") for d in package.dependencies}
                install = _compile(release, source, package, arch, work, deps)
                tarball = work / "package.tgz"
                write_tarball(install, tarball)
                sha, size = store.put_blob(tarball)
                entry = CompiledPackage(name=package.name, arch=arch, fingerprint=fp, key=key, sha256=sha, size=size,
                                        dependencies=package.dependencies)  # fmt: skip
                store.record(entry)
                shutil.rmtree(work, ignore_errors=True)
                outcomes.append(PackageOutcome(package.name, False, time.monotonic() - t0))
                progress(f"compiled {package.name} for {arch} in {time.monotonic() - t0:.1f} s")
            else:
                outcomes.append(PackageOutcome(package.name, True, time.monotonic() - t0))
                progress(f"{package.name} for {arch}: cached")
            compiled[package.name] = entry
        jobs = tuple(
            CompiledJob(name=j.name, sha256=_job_tarball(release, j.name, store), packages=j.packages)
            for j in release.release.jobs
        )
        manifest = CompiledRelease(
            name=release.release.name, version=release.release.version, arch=arch, patched=patch,
            patches=tuple(applied), packages=tuple(compiled[p.name] for p in release.release.packages), jobs=jobs,
            built_at=now(),
        )  # fmt: skip
        store.save_release(manifest)
        if patch:
            shutil.rmtree(source.parent, ignore_errors=True)
    return BuildReport(manifest=manifest, packages=outcomes, seconds=time.monotonic() - started)


def _recipe(release: ReleaseDir, package: Package) -> str:
    """How a package is built, for its fingerprint: the build section, and a packaging script's own content
    (BOSH fingerprints the `packaging` file too: a changed script must rebuild)."""
    recipe = json.dumps(package.build.model_dump(mode="json"), sort_keys=True)
    if isinstance(package.build, ScriptBuild):
        script = release.path / package.build.script
        recipe += "\0" + hashlib.sha256(script.read_bytes() if script.is_file() else b"").hexdigest()
    return recipe


def _installed(store: Store, entry: CompiledPackage, into: Path) -> Path:
    """Unpack a compiled dependency (scripts find it under $BOSH_PACKAGES_DIR/<name>)."""
    target = into / entry.name
    target.mkdir(parents=True)
    with tarfile.open(store.blob(entry.sha256)) as tar:
        tar.extractall(target, filter="data")
    return target
