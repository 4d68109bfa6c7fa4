"""Read a BOSH release repository as bosh-cli does (`release/{job,pkg}/dir_reader.go`, in picf's words).

- `config/final.yml` names the release (`final_name` or `name`, not both) and its blobstore;
  `config/blobs.yml` lists the blobs (`blobs/<path>`: size, object_id, sha);
- each `jobs/<job>/` has a `spec` whose `name` is the directory's, a `monit` (may be absent or empty) and the
  templates the spec lists under `templates/`;
- each `packages/<pkg>/` has a `spec` and a `packaging` script (and maybe `pre_packaging`), or only a
  `spec.lock` (vendored: its tarball is in `.final_builds/packages/<pkg>/index.yml` and the blobstore);
- a package's `files` globs match under `src/` first, then `blobs/`; directories and files reached through a
  symlinked directory are skipped; `excluded_files` are removed.

The version is the final release (`releases/<name>/<name>-<version>.yml`) whose recorded fingerprints all equal
the ones computed here, else `<latest final>+dev`. Problems are collected, each with its file and line, and
raised together as ReleaseInvalid.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from picf import yamldoc
from picf.models.problem import problems_from
from picf.models.release import NAME, VERSION, JobSpec, PackageSpec, Release, ReleaseJob, ReleasePackage, SpecLock
from picf.releases import archive, sandbox
from picf.releases.build.compile import BuildError
from picf.releases.read import blobs, fingerprint, globbing
from picf.releases.read.blobs import BlobEntry, Blobstore, BlobUnavailable
from picf.releases.read.fingerprint import Entry
from picf.releases.read.source import ReleaseInvalid, ReleaseProblem, ReleaseSource
from picf.releases.store import data_dir


@dataclass
class _Reader:
    """Collects the problems of one repository while it is read."""

    root: Path
    problems: list[ReleaseProblem] = field(default_factory=list)
    submodules: list[str] = field(default_factory=list)  # paths .gitmodules names
    unfetched: set[str] = field(default_factory=set)  # submodules found empty (reported once each)

    def unfetched_submodule(self, pattern: str) -> str | None:
        """The submodule (under src/) a pattern points into, when that submodule is not checked out."""
        literal = []
        for part in ("src/" + pattern).split("/"):
            if any(c in part for c in "*?[{"):
                break
            literal.append(part)
        prefix = "/".join(literal)
        for sub in self.submodules:
            if (prefix == sub or prefix.startswith(sub + "/") or sub.startswith(prefix + "/")) and not any(
                (self.root / sub).glob("*")
            ):
                return sub
        return None

    def where(self, path: Path) -> str:
        return str(path)

    def problem(self, path: Path, message: str, doc: Any = None, loc: tuple[str | int, ...] = ()) -> None:
        if isinstance(doc, Path):  # parsed again, round-trip, only now that a line is needed
            try:
                doc = yamldoc.load(yamldoc.decode(doc.read_bytes()))
            except (OSError, yamldoc.YamlProblem):
                doc = None
        line = yamldoc.position(doc, loc)[0] if doc is not None and loc else 0
        self.problems.append(ReleaseProblem(self.where(path), line, message))

    def yaml(self, path: Path) -> tuple[Any, Any] | None:
        """(plain data, where to find positions) of a YAML file, or None with a problem. Specs are parsed with
        libyaml; the round-trip parser, slower, only runs when a problem needs its line."""
        try:
            data = yamldoc.load_plain(yamldoc.decode(path.read_bytes()))
        except yamldoc.YamlProblem as exc:
            self.problems.append(ReleaseProblem(self.where(path), exc.line, exc.message))
            return None
        except OSError as exc:
            self.problems.append(ReleaseProblem(self.where(path), 0, exc.strerror or str(exc)))
            return None
        return data, path

    def spec(self, path: Path, model: type[BaseModel]) -> Any:
        """The YAML file at `path` as `model`, or None with its problems."""
        loaded = self.yaml(path)
        return None if loaded is None else self.model(path, model, *loaded)

    def model(self, path: Path, model: type[BaseModel], data: Any, doc: Any) -> Any:
        if not isinstance(data, dict):
            self.problem(path, f"should be a YAML mapping (a {model.__name__})")
            return None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            for problem in problems_from(exc):
                self.problem(path, f"{problem.path}: {problem.message}", doc, problem.loc)
            return None


@dataclass
class _PackageFiles:
    """Where each file of a package comes from: on disk, or a blob that is not downloaded yet."""

    packaging: Path | None
    pre_packaging: Path | None
    files: dict[str, Path] = field(default_factory=dict)
    absent_blobs: dict[str, BlobEntry] = field(default_factory=dict)


class RepositorySource(ReleaseSource):
    """A release repository opened for reading."""

    def __init__(self, path: Path, release: Release, blobstore: Blobstore | None, blob_entries: list[BlobEntry],
                 files: dict[str, _PackageFiles], locks: dict[str, SpecLock]) -> None:  # fmt: skip
        self.path = path
        self.release = release
        self.blobstore = blobstore
        self.blob_entries = blob_entries
        self._files = files
        self._locks = locks

    def job_tarball(self, name: str, target: Path) -> None:
        job = self.release.job(name)
        if job is None:
            raise KeyError(name)
        job_dir = self.path / "jobs" / name
        staging = target.parent / f".{target.name}.staging"
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "templates").mkdir(parents=True)
        shutil.copyfile(job_dir / "spec", staging / "job.MF")
        monit = job_dir / "monit"
        if monit.is_file():
            shutil.copyfile(monit, staging / "monit")
        else:
            (staging / "monit").write_text("")
        schema = job_dir / "properties_schema.json"
        if schema.is_file():
            shutil.copyfile(schema, staging / "properties_schema.json")
        for src in job.spec.templates:
            copy = staging / "templates" / src
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(job_dir / "templates" / src, copy)
            if os.access(job_dir / "templates" / src, os.X_OK):
                copy.chmod(0o755)
        archive.write_tarball(staging, target, prefix="./")
        shutil.rmtree(staging, ignore_errors=True)

    def stage_package(self, name: str, into: Path) -> None:
        package = self.release.package(name)
        if package is None:
            raise KeyError(name)
        into.mkdir(parents=True, exist_ok=True)
        if package.vendored:
            archive.extract(self.vendored_tarball(name), into, label=f"{name} (vendored package)")
            return
        files = self._files[name]
        if files.absent_blobs:
            missing = ", ".join(sorted(files.absent_blobs))
            raise BlobUnavailable(f"package {name} needs blobs/{missing}, which is not here; run "
                                  f"`picf release sync-blobs {self.path}`")  # fmt: skip
        assert files.packaging is not None
        shutil.copyfile(files.packaging, into / "packaging")
        for rel, source in files.files.items():
            target = into / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_symlink():
                target.symlink_to(os.readlink(source))
            else:
                shutil.copyfile(source, target)
                target.chmod(0o755 if os.access(source, os.X_OK) else 0o644)
        if files.pre_packaging is not None:
            self._pre_package(name, files.pre_packaging, into)

    def _pre_package(self, name: str, script: Path, staged: Path) -> None:
        """bosh-cli's create-release step: `bash -x pre_packaging` in the staged source, with BUILD_DIR and
        RELEASE_DIR; the script itself is then dropped. In the sandbox, the release read-only."""
        shutil.copyfile(script, staged / "pre_packaging")
        build_dir = f"/var/vcap/data/pre_packaging/{name}"
        env = {"BUILD_DIR": build_dir, "RELEASE_DIR": "/var/vcap/data/release", "LANG": "C.UTF-8"}
        box = sandbox.Sandbox(writable=(), binds={build_dir: staged},
                              ro_binds={"/var/vcap/data/release": self.path.resolve()})  # fmt: skip
        argv = sandbox.command(["bash", "-x", "pre_packaging"], Path(build_dir), env, box)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=3600, check=False)
        (staged / "pre_packaging").unlink(missing_ok=True)
        if done.returncode != 0:
            tail = (done.stderr + done.stdout).strip().splitlines()[-20:]
            raise BuildError(name, "any arch", "\n".join([*tail, f"pre_packaging exited {done.returncode}"]))

    def vendored_tarball(self, name: str) -> Path:
        """The tarball of a vendored package (spec.lock), from picf's download cache or the blobstore."""
        lock = self._locks[name]
        index = self.path / ".final_builds" / "packages" / name / "index.yml"
        build = _final_build(index, lock.fingerprint)
        if build is None:
            raise BlobUnavailable(
                f"{index}: no build {lock.fingerprint[:12]}... of vendored package {name} with a blobstore id "
                "and a digest; vendor it again (`bosh vendor-package`)"
            )
        blobstore_id, digest = build
        algorithm, value = fingerprint.strongest(digest)
        cached = data_dir() / "downloads" / f"{algorithm}-{value}"
        if cached.is_file() and fingerprint.verify(cached, digest) is None:
            return cached
        if self.blobstore is None:
            raise BlobUnavailable(f"{name}: vendored package, and config/final.yml names no blobstore to fetch it from")
        blobs.fetch(self.blobstore, blobstore_id, digest, cached, f"vendored package {name}")
        return cached


def _final_build(index: Path, wanted: str) -> tuple[str, str] | None:
    """(blobstore_id, sha1) of the build of `index` whose version is `wanted`."""
    try:
        data = yamldoc.load_plain(yamldoc.decode(index.read_bytes()))
    except (OSError, yamldoc.YamlProblem):
        return None
    builds = data.get("builds") if isinstance(data, dict) else None
    for build in builds.values() if isinstance(builds, dict) else ():
        if isinstance(build, dict) and str(build.get("version")) == wanted and build.get("blobstore_id"):
            digest = str(build.get("sha1") or "")
            try:
                fingerprint.parse_digests(digest)
            except ValueError:
                return None
            return str(build["blobstore_id"]), digest
    return None


def read_final_config(reader: _Reader, root: Path) -> tuple[str | None, Blobstore | None]:
    """The release's name and blobstore from config/final.yml (and config/private.yml's options)."""
    path = root / "config" / "final.yml"
    if not path.is_file():
        path = root / "config" / "dev.yml"
    loaded = reader.yaml(path)
    if loaded is None:
        return None, None
    data, doc = loaded
    if not isinstance(data, dict):
        reader.problem(path, "should be a YAML mapping")
        return None, None
    name, final_name = data.get("name"), data.get("final_name")
    if name and final_name:
        reader.problem(path, "has both 'name' and 'final_name'; bosh-cli expects one", doc, ("final_name",))
    chosen = name or final_name
    if not chosen:
        reader.problem(path, "no 'name' (or 'final_name'): the release needs a name")
    elif not re.match(NAME, str(chosen)):
        reader.problem(path, f"{chosen!r} is not a release name (letters, digits, '.', '_', '-')", doc,
                       ("name" if name else "final_name",))  # fmt: skip
        chosen = None
    blobstore = None
    config = data.get("blobstore")
    if isinstance(config, dict) and config.get("provider"):
        if not isinstance(config.get("options") or {}, dict):
            reader.problem(path, "blobstore.options should be a mapping", doc, ("blobstore", "options"))
            return (str(chosen) if chosen else None), None
        options = dict(config.get("options") or {})
        private = root / "config" / "private.yml"
        if private.is_file():
            with contextlib.suppress(OSError, yamldoc.YamlProblem, AttributeError):
                extra = yamldoc.load_plain(yamldoc.decode(private.read_bytes()))
                extra_options = ((extra or {}).get("blobstore") or {}).get("options") or {}
                if isinstance(extra_options, dict):
                    options.update(extra_options)
        blobstore = Blobstore(str(config["provider"]), options, root)
    return (str(chosen) if chosen else None), blobstore


def read_blob_entries(reader: _Reader, root: Path) -> list[BlobEntry]:
    path = root / "config" / "blobs.yml"
    if not path.is_file():
        return []
    loaded = reader.yaml(path)
    if loaded is None:
        return []
    data, doc = loaded
    out: list[BlobEntry] = []
    if data is not None and not isinstance(data, dict):
        reader.problem(path, "should be a mapping of blob paths to {size, object_id, sha}")
        return []
    for key, value in (data or {}).items():
        if not blobs.safe_blob_path(str(key)):
            reader.problem(path, f"{key}: not a path inside blobs/", doc, (key,))
            continue
        if not isinstance(value, dict) or "sha" not in value:
            reader.problem(path, f"{key}: needs size, sha (and object_id once uploaded)", doc, (key,))
            continue
        try:
            fingerprint.parse_digests(str(value["sha"]))
        except ValueError as exc:
            reader.problem(path, f"{key}: sha: {exc}", doc, (key, "sha"))
            continue
        size = value.get("size")
        object_id = value.get("object_id")
        out.append(BlobEntry(str(key), int(size) if isinstance(size, int) else None, str(value["sha"]),
                             str(object_id) if object_id else None))  # fmt: skip
    return out


def _outside(root: Path, path: Path) -> bool:
    """Whether `path` (a spec, a template, a packaging script) resolves outside the release: a symlink to the
    controller's files would be read into a job or a compile."""
    try:
        return not path.resolve().is_relative_to(root.resolve())
    except OSError:
        return True


def _packageable(base: Path, rel: str) -> bool:
    """bosh-cli's test: not a directory, and not reached through a symlinked directory."""
    path = base / rel
    if path.is_symlink():
        return True
    if path.is_dir():
        return False
    try:
        return path.resolve().relative_to(base.resolve()).as_posix() == rel
    except ValueError:
        return False


def _read_job(reader: _Reader, job_dir: Path) -> ReleaseJob | None:
    spec_path = job_dir / "spec"
    if not spec_path.is_file():
        reader.problem(job_dir, "no spec file: a job directory holds spec, monit and templates/")
        return None
    for file in (spec_path, job_dir / "monit", job_dir / "properties_schema.json"):
        if file.exists() and _outside(reader.root, file):
            reader.problem(file, "a symlink to a file outside the release; refused")
            return None
    spec: JobSpec | None = reader.spec(spec_path, JobSpec)
    if spec is None:
        return None
    doc = spec_path  # where the round-trip parser finds a problem's line
    ok = True
    if spec.name != job_dir.name:
        reader.problem(spec_path, f"job name {spec.name!r} differs from its directory {job_dir.name!r}", doc, ("name",))
        ok = False
    entries = [Entry(spec_path, "job.MF", follow_symlinks=True)]
    for extra in ("monit", "properties_schema.json"):
        if (job_dir / extra).is_file():
            entries.append(Entry(job_dir / extra, extra, follow_symlinks=True))
    for src in spec.templates:
        template = job_dir / "templates" / src
        if not template.is_file():
            reader.problem(spec_path, f"template {src}: no such file under templates/", doc, ("templates", src))
            ok = False
            continue
        if _outside(reader.root, template):
            reader.problem(spec_path, f"template {src}: a symlink to a file outside the release; refused", doc,
                           ("templates", src))  # fmt: skip
            ok = False
            continue
        entries.append(Entry(template, f"templates/{src}", follow_symlinks=True))
    if not ok:
        return None
    return ReleaseJob(name=spec.name, fingerprint=fingerprint.fingerprint(entries), spec=spec)


def _read_package(
    reader: _Reader, root: Path, package_dir: Path, blob_entries: list[BlobEntry]
) -> tuple[ReleasePackage, _PackageFiles | None, SpecLock | None, Any] | None:
    lock_path = package_dir / "spec.lock"
    if lock_path.is_file():
        lock: SpecLock | None = reader.spec(lock_path, SpecLock)
        if lock is None:
            return None
        package = ReleasePackage(name=lock.name, fingerprint=lock.fingerprint, dependencies=lock.dependencies,
                                 vendored=True)  # fmt: skip
        return package, None, lock, lock_path
    spec_path = package_dir / "spec"
    if not spec_path.is_file():
        reader.problem(package_dir, "no spec (or spec.lock): a package directory holds spec and packaging")
        return None
    spec: PackageSpec | None = reader.spec(spec_path, PackageSpec)
    if spec is None:
        return None
    doc = spec_path
    packaging = package_dir / "packaging"
    pre_packaging = package_dir / "pre_packaging"
    if not packaging.is_file():
        reader.problem(package_dir, f"no packaging script for package {spec.name}")
    for script in (packaging, pre_packaging):
        if script.exists() and _outside(root, script):
            reader.problem(script, "a symlink to a file outside the release; refused")
            return None
    files = _PackageFiles(packaging if packaging.is_file() else None,
                          pre_packaging if pre_packaging.is_file() else None)  # fmt: skip
    src, blobs_dir = root / "src", root / "blobs"
    for i, pattern in enumerate(spec.files):
        found = False
        if not globbing.valid(pattern):
            reader.problem(spec_path, f"{pattern!r} is not a glob bosh-cli reads", doc, ("files", i))
            continue
        for base in (src, blobs_dir):
            for rel in globbing.glob(base, pattern):
                if _packageable(base, rel):
                    found = True
                    files.files.setdefault(rel, base / rel)
        for entry in blob_entries:
            if entry.path not in files.files and globbing.match(pattern, entry.path):
                found = True
                files.absent_blobs.setdefault(entry.path, entry)
        if not found:
            submodule = reader.unfetched_submodule(pattern)
            if submodule is None:
                reader.problem(spec_path, f"no file under src/ or blobs/ matches {pattern!r}", doc, ("files", i))
            elif submodule not in reader.unfetched:
                reader.unfetched.add(submodule)
                why = f"{submodule} is a git submodule that is not checked out (no file matches {pattern!r}); run "
                reader.problem(spec_path, why + "`git submodule update --init --recursive`", doc, ("files", i))
    for pattern in (p for p in spec.excluded_files if globbing.valid(p)):
        for rel in [r for r in [*files.files, *files.absent_blobs] if globbing.match(pattern, r)]:
            files.files.pop(rel, None)
            files.absent_blobs.pop(rel, None)
    for special in ("packaging", "pre_packaging"):
        if special in files.files:
            reader.problem(spec_path, f"'{special}' may not be listed in files (it is part of every package)", doc,
                           ("files",))  # fmt: skip
    entries = [Entry(path, rel) for rel, path in files.files.items()]
    if files.packaging:
        entries.append(Entry(files.packaging, "packaging", with_mode=False))
    if files.pre_packaging:
        entries.append(Entry(files.pre_packaging, "pre_packaging", with_mode=False))
    known: dict[str, tuple[str, str]] = {}
    for rel, entry in files.absent_blobs.items():
        digests = fingerprint.parse_digests(entry.sha)
        if "sha256" in digests:
            known[rel] = (digests["sha256"], "100644")
    computable = len(known) == len(files.absent_blobs)
    fp = fingerprint.known_digest_fingerprint(entries, known, spec.dependencies) if computable else None
    package = ReleasePackage(name=spec.name, fingerprint=fp, dependencies=spec.dependencies,
                             missing_blobs=tuple(sorted(files.absent_blobs)))  # fmt: skip
    return package, files, None, doc


def _version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.+-]", version))


def _final_versions(root: Path, name: str) -> list[tuple[str, dict[str, Any]]]:
    """Every final release record of `name`: (version, its data), newest first."""
    found = []
    for path in (root / "releases" / name).glob(f"{name}-*.yml"):
        with contextlib.suppress(OSError, yamldoc.YamlProblem):
            text = yamldoc.decode(path.read_bytes())
            data = yamldoc.load_plain(text)
            # The version as written (`1.10` is not the float 1.1): from the text, as bosh-cli writes it.
            written = re.search(r"^version:[ \t]*['\"]?([^'\"\s]+)", text, re.MULTILINE)
            if isinstance(data, dict) and written and re.match(VERSION, written.group(1)):
                found.append((written.group(1), data))
    return sorted(found, key=lambda item: _version_key(item[0]), reverse=True)


def _version(root: Path, name: str, jobs: list[ReleaseJob], packages: list[ReleasePackage]) -> str:
    ours = {("job", j.name): j.fingerprint for j in jobs}
    ours |= {("package", p.name): p.fingerprint for p in packages if p.fingerprint}
    finals = _final_versions(root, name)
    for version, data in finals:
        recorded = {("job", str(j.get("name"))): str(j.get("fingerprint")) for j in data.get("jobs") or []}
        recorded |= {("package", str(p.get("name"))): str(p.get("fingerprint")) for p in data.get("packages") or []}
        names = {("job", j.name) for j in jobs} | {("package", p.name) for p in packages}
        if names == set(recorded) and all(ours[key] == recorded[key] for key in ours):
            return version
    return f"{finals[0][0]}+dev" if finals else "0+dev"


def _cycles(packages: dict[str, ReleasePackage]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for dep in packages[name].dependencies:
            if dep not in packages:
                continue
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[name] = 2

    for name in sorted(packages):
        if name not in state:
            visit(name, [name])
    return cycles


def _commit(root: Path) -> str | None:
    """The short commit hash of the repository's HEAD, read from its files: running git on a downloaded
    repository would run what its .git/config says (fsmonitor, filters), outside any sandbox."""
    top = next((d for d in (root.resolve(), *root.resolve().parents) if (d / ".git").exists()), None)
    if top is None:
        return None
    git = top / ".git"
    try:
        if git.is_file():  # a worktree or submodule: `gitdir: PATH`
            git = (top / git.read_text().split(":", 1)[1].strip()).resolve()
        head = (git / "HEAD").read_text().strip()
        if head.startswith("ref: "):
            ref = head[5:].strip()
            if ".." in ref.split("/"):
                return None
            loose = git / ref
            if loose.is_file():
                head = loose.read_text().strip()
            else:
                packed = (git / "packed-refs").read_text() if (git / "packed-refs").is_file() else ""
                head = next((line.split()[0] for line in packed.splitlines() if line.endswith(" " + ref)), "")
    except (OSError, IndexError):
        return None
    return head[:7] if re.fullmatch(r"[0-9a-f]{40,64}", head) else None


def read_repository(root: Path) -> RepositorySource:
    """Read and check the release repository at `root`."""
    reader = _Reader(root)
    modules = root / ".gitmodules"
    if modules.is_file():
        reader.submodules = re.findall(r"^\s*path\s*=\s*(\S+)\s*$", modules.read_text(errors="replace"), re.M)
    name, blobstore = read_final_config(reader, root)
    blob_entries = read_blob_entries(reader, root)
    jobs: list[ReleaseJob] = []
    job_docs: dict[str, Any] = {}
    for job_dir in sorted(p for p in (root / "jobs").glob("*") if p.is_dir()):
        job = _read_job(reader, job_dir)
        if job is not None:
            jobs.append(job)
            job_docs[job.name] = job_dir / "spec"
    packages: dict[str, ReleasePackage] = {}
    files: dict[str, _PackageFiles] = {}
    locks: dict[str, SpecLock] = {}
    spec_docs: dict[str, tuple[Path, Any]] = {}
    for package_dir in sorted(p for p in (root / "packages").glob("*") if p.is_dir()):
        read = _read_package(reader, root, package_dir, blob_entries)
        if read is None:
            continue
        package, package_files, lock, doc = read
        spec_file = package_dir / ("spec.lock" if lock else "spec")
        if package.name in packages:
            reader.problem(spec_file, f"package {package.name!r} is defined twice", doc, ("name",))
            continue
        packages[package.name] = package
        spec_docs[package.name] = (spec_file, doc)
        if package_files is not None:
            files[package.name] = package_files
        if lock is not None:
            locks[package.name] = lock
    for package in packages.values():
        spec_file, doc = spec_docs[package.name]
        for i, dep in enumerate(package.dependencies):
            if dep not in packages:
                reader.problem(spec_file, f"package {package.name} depends on unknown package {dep!r}", doc,
                               ("dependencies", i))  # fmt: skip
    for cycle in _cycles(packages):
        spec_file, doc = spec_docs[cycle[0]]
        reader.problem(spec_file, f"dependency cycle: {' -> '.join(cycle)}", doc, ("dependencies",))
    for job in jobs:
        spec_path = job_docs[job.name]
        for i, package_name in enumerate(job.spec.packages):
            if package_name not in packages:
                reader.problem(spec_path, f"job {job.name} needs unknown package {package_name!r}", spec_path,
                               ("packages", i))  # fmt: skip
    if not (root / "jobs").is_dir() and not (root / "packages").is_dir():
        reader.problem(root, "no jobs/ and no packages/: nothing to release")
    if reader.problems:
        raise ReleaseInvalid(str(root), reader.problems)
    assert name is not None
    package_list = [packages[n] for n in sorted(packages)]
    license_files = sorted([*root.glob("LICENSE*"), *root.glob("NOTICE*")], key=lambda p: p.name.encode())
    license_fp = None
    if license_files:
        license_fp = fingerprint.fingerprint([Entry(p, p.name, with_mode=False) for p in license_files if p.is_file()])
    release = Release(
        name=name, version=_version(root, name, jobs, package_list), form="repository",
        commit_hash=_commit(root),
        jobs=tuple(sorted(jobs, key=lambda j: j.name)), packages=tuple(package_list), license=license_fp,
    )  # fmt: skip
    return RepositorySource(root, release, blobstore, blob_entries, files, locks)
