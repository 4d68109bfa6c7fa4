"""Build a BOSH release for one arch: each package compiled once, found again by bosh-cli's fingerprint.

`build(path, arch)` opens the release (a repository or a tarball), compiles the packages the release (or one
job, `job=`) needs, dependencies first, and records a compiled release in the store with every job's tarball.
A package's cache key is its fingerprint, the arch and its dependencies' keys (and the Go picf provided): a
package that did not change is not compiled again, and changing one package rebuilds it and its dependents.

With `patch=True` each package's source is staged, the ARM patch catalog applied to it and misaligned 64-bit
atomics aligned (what the lint finds); its fingerprint is then that of the patched source.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from picf.errors import UsageError
from picf.models.node import Arch
from picf.models.patch import Align64
from picf.models.release import CompiledJob, CompiledPackage, CompiledRelease, Release, ReleasePackage
from picf.progress import Say, quiet
from picf.releases import archive
from picf.releases.build import compile, toolchains
from picf.releases.build.compile import BuildError, Dependency
from picf.releases.build.toolchains import GoToolchain
from picf.releases.lint.declared_go import declared_goroot, sizing_go
from picf.releases.lint.tree import lint_tree
from picf.releases.patch import transforms
from picf.releases.patch.patching import patch_tree
from picf.releases.read.fingerprint import Entry, fingerprint
from picf.releases.read.source import ReleaseSource, open_release
from picf.releases.store import Store, now

AUTO_ALIGN = "align64"
OWN_GO = "the release's own Go"
# gzip's fastest level: a compiled Go package compresses to within a few percent of level 9 at a tenth of its
# time (the example's logfwd: 0.05 s instead of 0.7 s), and it is compressed once per build, not per deploy.
PACKAGE_COMPRESSION = 1
# Stemcells of compiled releases: BOSH's (Ubuntu, amd64) and the ones picf's own exports name.
_STEMCELL_ARCH = {"ubuntu": "amd64", "bosh": "amd64", "picf-armv6": "armv6", "picf-armv7": "armv7",
                  "picf-arm64": "arm64", "picf-amd64": "amd64"}  # fmt: skip

__all__ = ["BuildError", "BuildReport", "PackageOutcome", "build", "cache_key"]


@dataclass
class PackageOutcome:
    name: str
    cached: bool
    seconds: float
    note: str = ""


@dataclass
class BuildReport:
    """What `build` did."""

    manifest: CompiledRelease
    packages: list[PackageOutcome] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def cache_key(fingerprint_: str, arch: str, dependency_keys: list[str]) -> str:
    """What identifies a compiled package: its fingerprint, the arch, and what its dependencies compiled to."""
    return hashlib.sha256(f"{fingerprint_}|{arch}|{','.join(sorted(dependency_keys))}".encode()).hexdigest()


def stemcell_arch(stemcell: str) -> str | None:
    os_name = stemcell.split("/", 1)[0]
    return next((arch for prefix, arch in _STEMCELL_ARCH.items() if os_name.startswith(prefix)), None)


@dataclass
class _Built:
    entry: CompiledPackage
    go: GoToolchain | None = None  # a Go picf provides
    own_go: bool = False  # the release's own Go, compiled from its blob
    asked: str | None = None  # the Go version the release's package names


def _staged_fingerprint(staged: Path, dependencies: tuple[str, ...]) -> str:
    entries = [Entry(staged / "packaging", "packaging", with_mode=False)] if (staged / "packaging").exists() else []
    for path in sorted(staged.rglob("*")):
        rel = path.relative_to(staged).as_posix()
        if rel in ("packaging", "pre_packaging") or (path.is_dir() and not path.is_symlink()):
            continue
        entries.append(Entry(path, rel))
    return fingerprint(entries, dependencies)


def _dependency_go(package: ReleasePackage) -> str | None:
    """The Go version of the newest golang package `package` depends on (the Go that compiles it)."""
    versions = [v for d in package.dependencies if (v := toolchains.go_package_version(d)) is not None]
    return max(versions, key=lambda v: tuple(int(p) for p in v.split(".")), default=None)


def _patch(staged: Path, arch: Arch, go: str | None) -> list[str]:
    """The catalog's patches and the atomics alignment applied to a staged package source (its structs sized
    with `go`, the Go of its golang dependency, when it has one)."""
    applied = []
    for result in patch_tree(staged, arch, go=go):
        if result.status == "applied":
            applied.append(result.patch)
            for changed in result.files:
                (staged / (changed + ".orig")).unlink(missing_ok=True)
    hazards = lint_tree(staged, arch, go=go)
    goroot, _ = declared_goroot(sizing_go(staged, go))
    for struct, struct_file in sorted(
        {(h.struct, h.struct_file) for h in hazards if h.id == "atomic64-misaligned" and h.struct_file}
    ):
        owner = staged / struct_file
        if owner.is_symlink() or not owner.resolve().is_relative_to(staged.resolve()):
            continue  # never written through a link: it may lead out of the staged source
        transform = Align64(kind="align64", file=owner.name, structs=(struct,))
        outcome = transforms.align64(owner, owner.read_text(), transform, AUTO_ALIGN, arch, {}, goroot)
        if outcome.status == "apply":
            owner.write_text(outcome.text)
            applied.append(f"{AUTO_ALIGN}:{struct}")
    return applied


def _unpack(store: Store, entry: CompiledPackage, into: Path) -> Path:
    archive.extract(store.blob(entry.sha256), into, label=f"compiled package {entry.name}", absolute_links=True)
    return into


def _toolchain_entry(package: ReleasePackage, arch: Arch, toolchain: GoToolchain) -> CompiledPackage:
    key = cache_key(f"{package.fingerprint}|{toolchain.label}", arch, [])
    return CompiledPackage(name=package.name, arch=arch, fingerprint=package.fingerprint or "", key=key,
                           sha256="", size=0, dependencies=package.dependencies,
                           toolchain=toolchain.label)  # fmt: skip


def build(
    path: Path,
    arch: Arch,
    *,
    patch: bool = False,
    job: str | None = None,
    package: str | None = None,
    store: Store | None = None,
    progress: Say = quiet,
) -> BuildReport:
    """Build the release at `path` for `arch` (only what `job`, or `package`, needs when given); cache hits
    compile nothing."""
    started = time.monotonic()
    store = store or Store()
    with open_release(path) as source, store.session():
        release = source.release
        jobs = list(release.jobs)
        if job is not None:
            chosen = release.job(job)
            if chosen is None:
                names = ", ".join(j.name for j in release.jobs) or "none"
                raise UsageError(f"{path}: no job {job!r} in {release.name} (its jobs: {names})")
            jobs = [chosen]
        if package is not None:
            if release.package(package) is None:
                names = ", ".join(p.name for p in release.packages) or "none"
                raise UsageError(f"{path}: no package {package!r} in {release.name} (its packages: {names})")
            jobs = []
        if package is not None:
            wanted = release.closure([package])
        elif job is not None:
            wanted = release.closure([p for j in jobs for p in j.spec.packages])
        else:
            wanted = [p.name for p in release.packages]
        outcomes: list[PackageOutcome] = []
        built: dict[str, _Built] = {}
        applied: list[str] = []
        for name in release.closure(wanted):
            to_build = release.package(name)
            assert to_build is not None
            t0 = time.monotonic()
            outcome = _build_package(source, release, to_build, arch, patch, built, store, applied, progress)
            outcome.seconds = time.monotonic() - t0
            outcomes.append(outcome)
        compiled_jobs = []
        for release_job in jobs:
            work = store.tempdir("job-")
            source.job_tarball(release_job.name, work / "job.tgz")
            sha, _ = store.put_blob(work / "job.tgz")
            shutil.rmtree(work, ignore_errors=True)
            compiled_jobs.append(CompiledJob(name=release_job.name, fingerprint=release_job.fingerprint, sha256=sha,
                                             packages=release_job.spec.packages))  # fmt: skip
        manifest = CompiledRelease(
            name=release.name, version=release.version, arch=arch, patched=patch, patches=tuple(sorted(set(applied))),
            packages=tuple(built[n].entry for n in wanted if n in built), jobs=tuple(compiled_jobs), built_at=now(),
            source=str(path),
        )  # fmt: skip
        if job is not None or package is not None:
            manifest = _merged(store, manifest)
        store.save_release(manifest)
    notes = [o.note for o in outcomes if o.note]
    return BuildReport(manifest, outcomes, time.monotonic() - started, notes)


def _merged(store: Store, partial: CompiledRelease) -> CompiledRelease:
    """A build of one job's (or one package's) packages added to the release's earlier build for the arch."""
    earlier = [r for r in store.release(partial.name, partial.version, partial.arch) if r.patched == partial.patched]
    if not earlier:
        return partial
    packages = {p.name: p for p in earlier[0].packages} | {p.name: p for p in partial.packages}
    jobs = {j.name: j for j in earlier[0].jobs} | {j.name: j for j in partial.jobs}
    patches = tuple(sorted(set(earlier[0].patches) | set(partial.patches)))
    return partial.model_copy(update={"packages": tuple(packages.values()), "jobs": tuple(jobs.values()),
                                      "patches": patches})  # fmt: skip


def _build_package(
    source: ReleaseSource,
    release: Release,
    package: ReleasePackage,
    arch: Arch,
    patch: bool,
    built: dict[str, _Built],
    store: Store,
    applied: list[str],
    progress: Say,
) -> PackageOutcome:
    name = package.name
    dep_keys = [built[d].entry.key for d in package.dependencies]
    if package.stemcell is not None:
        return _take_compiled(source, package, arch, dep_keys, built, store, progress)
    go_version = toolchains.go_package_version(name, list(package.missing_blobs))
    work = store.tempdir(f"build-{name}-")
    try:
        staged: Path | None = None
        if go_version is not None and not package.vendored and not package.missing_blobs:
            # The release's own Go is used when its distribution is here (a synced blob, a tarball's package).
            staged = work / "source"
            source.stage_package(name, staged)
            files = [p.relative_to(staged).as_posix() for p in staged.rglob("go*.linux-*.tar.gz")]
            go_version = toolchains.go_package_version(name, files)
            own_blob = bool(files)
        else:
            own_blob = False
        if go_version is not None and not own_blob:
            return _provide_go(package, arch, go_version, built, "a Go toolchain", progress)
        fp = package.fingerprint
        # A fingerprint picf computed from a repository's files is the package; one a tarball or a vendored
        # package claims is only a claim: its files are fingerprinted here, so a release cannot pass its own
        # code off as another's cached package.
        claimed = source.release.form != "repository" or package.vendored
        if staged is None and (patch or fp is None or claimed):
            staged = work / "source"
            source.stage_package(name, staged)
            if patch:
                applied += [f"{p}" for p in _patch(staged, arch, _dependency_go(package))]
            fp = _staged_fingerprint(staged, package.dependencies)
            if claimed and not patch and fp != package.fingerprint:
                progress(f"{name}: its files give fingerprint {fp[:12]}..., not the {str(package.fingerprint)[:12]}... "
                         "the release records; cached under what its files give")  # fmt: skip
        if fp is None:  # the release's own Go, staged above: its blob is here
            assert staged is not None
            fp = _staged_fingerprint(staged, package.dependencies)
        key = cache_key(fp, arch, dep_keys)
        entry = store.compiled(key)
        if entry is not None:
            built[name] = _Built(entry, own_go=entry.toolchain is not None)
            progress(f"{name} for {arch}: cached")
            return PackageOutcome(name, True, 0.0)
        if staged is None:
            staged = work / "source"
            source.stage_package(name, staged)
        progress(f"compiling {name} for {arch} ...")
        t0 = time.monotonic()
        dependencies = []
        for dep in package.dependencies:
            have = built[dep]
            if have.go is not None:
                view = toolchains.view(have.go)
                compile.warm_go(have.go, view, dep, arch)
                dependencies.append(Dependency(dep, view, go=have.go, asked=have.asked))
            elif have.own_go:
                directory = _unpack(store, have.entry, work / "deps" / dep)
                toolchains.install_wrapper(directory)
                dependencies.append(Dependency(dep, directory, own_go=True))
            else:
                dependencies.append(Dependency(dep, _unpack(store, have.entry, work / "deps" / dep)))
        install = compile.compile_package(name, fp, arch, staged, dependencies, work)
        own_go = go_version is not None and toolchains.runs_here(install)
        if go_version is not None and not own_go:
            return _provide_go(package, arch, go_version, built, "its Go does not run here", progress)
        tarball = work / "package.tgz"
        archive.write_tarball(install, tarball, compresslevel=PACKAGE_COMPRESSION, prefix="./")
        sha, size = store.put_blob(tarball)
        entry = CompiledPackage(name=name, arch=arch, fingerprint=fp, key=key, sha256=sha, size=size,
                                dependencies=package.dependencies,
                                toolchain=OWN_GO if own_go else None)  # fmt: skip
        store.record(entry)
        built[name] = _Built(entry, own_go=own_go)
        progress(f"compiled {name} for {arch} in {time.monotonic() - t0:.1f} s")
        return PackageOutcome(name, False, 0.0)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _provide_go(
    package: ReleasePackage, arch: Arch, asked: str, built: dict[str, _Built], why: str, progress: Say
) -> PackageOutcome:
    """A Go toolchain package for which picf provides the Go it names (nothing compiled, nothing stored)."""
    toolchain, note = toolchains.provide(asked, progress)
    built[package.name] = _Built(_toolchain_entry(package, arch, toolchain), go=toolchain, asked=asked)
    line = f"{package.name}: {why}; picf provides {toolchain.label}" + (f" ({note})" if note else "")
    progress(line)
    return PackageOutcome(package.name, True, 0.0, note=line)


def _take_compiled(
    source: ReleaseSource,
    package: ReleasePackage,
    arch: Arch,
    dep_keys: list[str],
    built: dict[str, _Built],
    store: Store,
    progress: Say,
) -> PackageOutcome:
    """A compiled release's package: used as it is when it was compiled for `arch`."""
    assert package.stemcell is not None and package.fingerprint is not None
    compiled_for = stemcell_arch(package.stemcell)
    if compiled_for != arch:
        raise BuildError(package.name, arch, f"{source.path}: compiled for {package.stemcell} "
                         f"({compiled_for or 'an unknown arch'}); build it for {arch} from the release's source "
                         "(its repository or release tarball)")  # fmt: skip
    # Nothing to fingerprint in a compiled package: its key holds the digest of the tarball it was checked against.
    key = cache_key(f"{package.fingerprint}|compiled|{package.sha1}|{package.name}", arch, dep_keys)
    entry = store.compiled(key)
    if entry is None:
        tarball = source.compiled_tarball(package.name)
        assert tarball is not None
        work = store.tempdir("compiled-")
        try:
            shutil.copyfile(tarball, work / "package.tgz")
            sha, size = store.put_blob(work / "package.tgz")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        entry = CompiledPackage(name=package.name, arch=arch, fingerprint=package.fingerprint, key=key, sha256=sha,
                                size=size, dependencies=package.dependencies)  # fmt: skip
        store.record(entry)
    built[package.name] = _Built(entry)
    progress(f"{package.name} for {arch}: compiled for {package.stemcell}, taken as it is")
    return PackageOutcome(package.name, True, 0.0)
