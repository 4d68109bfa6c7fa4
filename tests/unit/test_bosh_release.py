"""BOSH releases as bosh-cli reads them: fingerprints checked against what the real bosh-cli recorded, the
tarball it made read into the same model, compiled releases, bad input located by file and line, bosh-cli's
globbing, blobs not downloaded yet, digest strings, and archives that try to write outside their directory."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from picf import yamldoc
from picf.errors import UsageError
from picf.releases import archive
from picf.releases.archive import ArchiveRefused, Limits
from picf.releases.read import fingerprint, globbing
from picf.releases.read.blobs import BlobUnavailable
from picf.releases.read.source import ReleaseInvalid, open_release

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "releases" / "logfwd"
TARBALL = REPO / "tests" / "data" / "releases" / "logfwd-0.1.0.tgz"
RECORDED = EXAMPLE / "releases" / "logfwd" / "logfwd-0.1.0.yml"


@pytest.fixture(autouse=True)
def private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICF_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PICF_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PICF_RELEASE_MAX_BYTES", raising=False)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bosh_v2(files: list[tuple[str, bytes, str]], dependencies: tuple[str, ...] = ()) -> str:
    """bosh-cli's v2 fingerprint, written out here from (relative name, content, mode) of each file: mode ''
    for packaging, 'symlink' (content = the link's target text) for a package's symlink."""
    text = "v2"
    for name, content, mode in sorted(files, key=lambda f: f[0].encode()):
        text += name + "sha256:" + sha256(content) + mode
    if dependencies:
        text += ",".join(sorted(dependencies))
    return sha256(text.encode())


def recorded() -> dict[tuple[str, str], str]:
    """(kind, name) -> fingerprint, as bosh-cli wrote them in releases/logfwd/logfwd-0.1.0.yml."""
    data = yamldoc.to_plain(yamldoc.load(RECORDED.read_text()))
    out = {("job", j["name"]): j["fingerprint"] for j in data["jobs"]}
    return out | {("package", p["name"]): p["fingerprint"] for p in data["packages"]}


def fingerprints(path: Path) -> dict[tuple[str, str], str | None]:
    with open_release(path) as source:
        release = source.release
    out: dict[tuple[str, str], str | None] = {("job", j.name): j.fingerprint for j in release.jobs}
    return out | {("package", p.name): p.fingerprint for p in release.packages}


def version(path: Path) -> str:
    with open_release(path) as source:
        return source.release.version


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def staged(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


# --- fingerprints of the example release against bosh-cli's own record ---------------------------------------


@pytest.fixture
def logfwd(tmp_path: Path) -> Path:
    """A private copy of examples/releases/logfwd, as bosh-cli last finalized it (0.1.0)."""
    return Path(shutil.copytree(EXAMPLE, tmp_path / "logfwd", symlinks=True))


def test_every_fingerprint_of_the_example_equals_the_one_bosh_cli_recorded_and_the_version_is_0_1_0() -> None:
    ours = fingerprints(EXAMPLE)
    assert ours == recorded()
    assert len(ours) == 5  # logfwd, logsink; golang-1.21-linux (vendored), lineprobe, logfwd
    with open_release(EXAMPLE) as source:
        assert (source.release.name, source.release.version, source.release.form) == ("logfwd", "0.1.0", "repository")
    for (kind, name), value in ours.items():
        index = EXAMPLE / ".final_builds" / f"{kind}s" / name / "index.yml"
        builds = yamldoc.to_plain(yamldoc.load(index.read_text()))["builds"]
        assert value in {build["version"] for build in builds.values()}, (kind, name)


def test_the_fingerprint_of_a_package_is_bosh_clis_v2_text_of_its_files_and_dependencies() -> None:
    src = EXAMPLE / "src"
    files = [("packaging", (EXAMPLE / "packages/logfwd/packaging").read_bytes(), "")]
    files += [(p.relative_to(src).as_posix(), p.read_bytes(), "100644") for p in (src / "logfwd").rglob("*.go")]
    files += [("logfwd/go.mod", (src / "logfwd/go.mod").read_bytes(), "100644")]
    assert fingerprints(EXAMPLE)["package", "logfwd"] == bosh_v2(files, ("golang-1.21-linux",))


CHANGES: dict[str, tuple[tuple[str, str], Callable[[Path], None]]] = {
    "template-content": (("job", "logfwd"), lambda r: edit(r / "jobs/logfwd/templates/drain.erb", "\n", "\n# x\n")),
    "template-exec-bit": (("job", "logsink"), lambda r: (r / "jobs/logsink/templates/post-deploy.erb").chmod(0o755)),
    "job-spec-comment": (("job", "logfwd"), lambda r: edit(r / "jobs/logfwd/spec", "\npackages:", "\n# x\npackages:")),
    "package-file": (("package", "lineprobe"), lambda r: edit(r / "src/lineprobe/lineprobe.c", "\n", "\n/* x */\n")),
    "package-file-exec-bit": (("package", "lineprobe"), lambda r: (r / "src/lineprobe/configure").chmod(0o644)),
    "packaging": (("package", "logfwd"), lambda r: edit(r / "packages/logfwd/packaging", "set -e -x", "set -eux")),
    "dependency-list": (
        ("package", "lineprobe"),
        lambda r: edit(r / "packages/lineprobe/spec", "files:", "dependencies:\n- logfwd\n\nfiles:"),
    ),
}


@pytest.mark.parametrize("case", list(CHANGES))
def test_a_change_to_what_bosh_cli_hashes_changes_that_fingerprint_only_and_makes_a_dev_version(
    logfwd: Path, case: str
) -> None:
    item, change = CHANGES[case]
    before = fingerprints(logfwd)
    change(logfwd)
    after = fingerprints(logfwd)
    assert after[item] != before[item]
    assert {k: v for k, v in after.items() if k != item} == {k: v for k, v in before.items() if k != item}
    assert version(logfwd) == "0.1.0+dev"


def test_a_package_spec_is_not_hashed_so_a_comment_in_it_keeps_the_fingerprint_and_the_version(logfwd: Path) -> None:
    edit(logfwd / "packages/logfwd/spec", "files:", "# Go sources only; the toolchain is vendored\nfiles:")
    assert fingerprints(logfwd) == recorded()
    assert version(logfwd) == "0.1.0"


def test_a_template_file_the_spec_does_not_list_is_not_hashed(logfwd: Path) -> None:
    (logfwd / "jobs/logfwd/templates/unused.erb").write_text("<%= 'not in spec' %>\n")
    assert fingerprints(logfwd) == recorded()


# --- the tarball bosh-cli made -------------------------------------------------------------------------------


def test_the_tarball_bosh_cli_made_reads_into_the_same_release_as_its_repository() -> None:
    with open_release(EXAMPLE) as repo, open_release(TARBALL) as tgz:
        ours, theirs = repo.release, tgz.release
    assert theirs.form == "tarball"
    assert (theirs.name, theirs.version) == (ours.name, ours.version) == ("logfwd", "0.1.0")
    assert fingerprints(TARBALL) == fingerprints(EXAMPLE) == recorded()
    assert [(p.name, p.dependencies) for p in theirs.packages] == [(p.name, p.dependencies) for p in ours.packages]
    assert [j.spec for j in theirs.jobs] == [j.spec for j in ours.jobs]
    record = yamldoc.to_plain(yamldoc.load(RECORDED.read_text()))
    assert (theirs.commit_hash, theirs.uncommitted_changes) == (record["commit_hash"], False)
    assert {j.name: j.sha1 for j in theirs.jobs} == {j["name"]: j["sha1"] for j in record["jobs"]}
    assert {p.name: p.sha1 for p in theirs.packages} == {p["name"]: p["sha1"] for p in record["packages"]}


def test_job_specs_of_a_tarball_come_from_job_mf() -> None:
    with open_release(TARBALL) as source:
        logfwd, logsink = source.release.job("logfwd"), source.release.job("logsink")
    assert logfwd is not None and logsink is not None
    assert logfwd.packages == ("logfwd", "lineprobe")
    assert [(c.name, c.type, c.optional) for c in logfwd.spec.consumes] == [("logsink", "logsink", True)]
    provides = [(p.name, p.type, p.properties) for p in logsink.spec.provides]
    assert provides == [("logsink", "logsink", ("logsink.port",))]
    assert logfwd.spec.templates["logfwd_ctl.erb"] == "bin/logfwd_ctl"
    assert logfwd.spec.properties["logfwd.port"].default == 7070


def test_a_tarballs_package_stages_as_its_repository_does(tmp_path: Path) -> None:
    with open_release(EXAMPLE) as repo, open_release(TARBALL) as tgz:
        for name in ("lineprobe", "logfwd"):
            repo.stage_package(name, tmp_path / "repo" / name)
            tgz.stage_package(name, tmp_path / "tgz" / name)
            assert staged(tmp_path / "tgz" / name) == staged(tmp_path / "repo" / name)
        tgz.stage_package("golang-1.21-linux", tmp_path / "tgz" / "golang")
    lineprobe = staged(tmp_path / "tgz" / "lineprobe")
    assert set(lineprobe) == {"packaging", "lineprobe/configure", "lineprobe/Makefile", "lineprobe/lineprobe.c"}
    assert lineprobe["packaging"] == (EXAMPLE / "packages/lineprobe/packaging").read_bytes()
    assert os.access(tmp_path / "tgz" / "lineprobe" / "lineprobe" / "configure", os.X_OK)
    assert set(staged(tmp_path / "tgz" / "golang")) == {"packaging", "compile.env.unix", "runtime.env.unix"}


def test_a_tarballs_job_is_its_tgz_with_job_mf_monit_and_templates(tmp_path: Path) -> None:
    with open_release(TARBALL) as source:
        source.job_tarball("logsink", tmp_path / "logsink.tgz")
    members = archive.read_all(tmp_path / "logsink.tgz")
    assert set(members) == {"job.MF", "monit", "templates/logsink_ctl.erb", "templates/logsink.json.erb",
                            "templates/post-deploy.erb"}  # fmt: skip
    assert members["job.MF"] == (EXAMPLE / "jobs/logsink/spec").read_bytes()


def rewrite(
    tmp_path: Path, manifest: Callable[[str], str] = lambda text: text, replace: dict[str, bytes] | None = None
) -> Path:
    """A copy of the bosh-cli tarball with its release.MF edited and some members' contents replaced."""
    replace = dict(replace or {})
    target = tmp_path / "edited" / TARBALL.name
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(TARBALL) as old, tarfile.open(target, "w:gz") as new:
        for member in old:
            data = old.extractfile(member).read() if member.isfile() else None  # type: ignore[union-attr]
            if member.name == "release.MF":
                data = manifest(data.decode()).encode()  # type: ignore[union-attr]
            data = replace.pop(member.name, data)
            if data is not None:
                member.size = len(data)
            new.addfile(member, io.BytesIO(data) if data is not None else None)
    assert not replace, f"no such members: {replace}"
    return target


def member(name: str) -> bytes:
    with tarfile.open(TARBALL) as tar:
        return tar.extractfile(name).read()  # type: ignore[union-attr]


def test_a_release_mf_that_quotes_its_version_reads_as_written(tmp_path: Path) -> None:
    path = rewrite(tmp_path, lambda text: text.replace("version: 0.1.0\n", "version: '22'\n", 1))
    assert version(path) == "22"


def test_an_unquoted_version_that_looks_like_a_number_reads_as_written(tmp_path: Path) -> None:
    path = rewrite(tmp_path, lambda text: text.replace("version: 0.1.0\n", "version: 1.10\n", 1))
    assert version(path) == "1.10"  # bosh-cli reads it into a string: the text as written


def test_an_older_release_mf_without_packages_per_job_reads_them_from_job_mf(tmp_path: Path) -> None:
    older = rewrite(tmp_path, lambda text: re.sub(r"  packages:\n(  - \S+\n)+", "", text))
    with tarfile.open(older) as tar:
        assert "  packages:" not in tar.extractfile("release.MF").read().decode()  # type: ignore[union-attr]
    with open_release(older) as source:
        assert [j.packages for j in source.release.jobs] == [("logfwd", "lineprobe"), ("logfwd",)]
        assert fingerprints(older) == recorded()


def test_a_release_mf_with_40_hex_sha1_digests_is_checked_with_sha1(tmp_path: Path) -> None:
    sha1 = hashlib.sha1(member("packages/lineprobe.tgz")).hexdigest()
    digest = "sha256:" + sha256(member("packages/lineprobe.tgz"))
    path = rewrite(tmp_path, lambda text: text.replace(f"sha1: {digest}", f"sha1: {sha1}"))
    with open_release(path) as source:
        package = source.release.package("lineprobe")
        assert package is not None and package.sha1 == sha1
        source.stage_package("lineprobe", tmp_path / "lineprobe")
    assert (tmp_path / "lineprobe" / "lineprobe" / "lineprobe.c").is_file()
    wrong = rewrite(tmp_path, lambda text: text.replace(f"sha1: {digest}", "sha1: " + "f" * 40))
    with open_release(wrong) as source, pytest.raises(ReleaseInvalid) as caught:
        source.stage_package("lineprobe", tmp_path / "wrong")
    assert caught.value.problems[0].endswith(f"has digest {sha1}, release.MF says {'f' * 40}: the tarball is damaged")


def test_an_inner_tgz_whose_digest_differs_from_release_mf_is_refused_as_damaged_when_used(tmp_path: Path) -> None:
    path = rewrite(tmp_path, replace={"packages/lineprobe.tgz": member("packages/logfwd.tgz"),
                                      "jobs/logsink.tgz": member("jobs/logsink.tgz") + b"\0"})  # fmt: skip
    with open_release(path) as source:
        assert fingerprints(path) == recorded()  # read from release.MF: nothing is used yet
        source.stage_package("logfwd", tmp_path / "logfwd")  # the others are fine
        with pytest.raises(ReleaseInvalid) as caught:
            source.stage_package("lineprobe", tmp_path / "lineprobe")
        assert caught.value.exit_code == 1
        assert caught.value.problems == (
            f"{path}: packages/lineprobe.tgz has digest sha256:{sha256(member('packages/logfwd.tgz'))}, release.MF "
            f"says sha256:{sha256(member('packages/lineprobe.tgz'))}: the tarball is damaged",
        )
        with pytest.raises(ReleaseInvalid) as caught:
            source.job_tarball("logsink", tmp_path / "logsink.tgz")
        (problem,) = caught.value.problems
        assert problem.startswith(f"{path}: jobs/logsink.tgz has digest sha256:") and problem.endswith("damaged")
    assert not (tmp_path / "lineprobe").exists()
    assert not (tmp_path / "logsink.tgz").exists()


def test_a_release_mf_job_without_fingerprint_or_version_is_a_problem_located_at_it(tmp_path: Path) -> None:
    path = rewrite(
        tmp_path, lambda text: re.sub(r"(- name: logsink\n)  version: \S+\n  fingerprint: \S+\n", r"\1", text)
    )
    with pytest.raises(ReleaseInvalid) as caught:
        open_release(path).close()
    assert caught.value.problems == (f"{path}: release.MF:13: jobs[1]: logsink: needs a version (or fingerprint)",)


def test_a_release_mf_job_without_a_digest_is_a_problem_located_at_it(tmp_path: Path) -> None:
    path = rewrite(tmp_path, lambda text: re.sub(r"(- name: logsink\n(?:  \w+: \S+\n){2})  sha1: \S+\n", r"\1", text))
    with pytest.raises(ReleaseInvalid) as caught:
        open_release(path).close()
    assert caught.value.problems == (
        f"{path}: release.MF:13: jobs[1]: logsink: needs a sha1 digest (sha256:<hex> or 40-hex SHA-1)",
    )


def test_a_release_mf_with_a_malformed_digest_is_a_problem_naming_it(tmp_path: Path) -> None:
    digest = "sha256:" + sha256(member("packages/lineprobe.tgz"))
    path = rewrite(tmp_path, lambda text: text.replace(f"sha1: {digest}", "sha1: sha256:lineprobe"))
    with pytest.raises(ReleaseInvalid) as caught, open_release(path) as source:
        source.stage_package("lineprobe", tmp_path / "lineprobe")
    assert any("sha256:lineprobe" in problem for problem in caught.value.problems)


def test_a_package_name_in_release_mf_that_climbs_out_of_the_tarball_is_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # work directory: tmp_path/tmp/picf-release-*
    (tmp_path / "tmp").mkdir()
    outside = tmp_path / "outside.tgz"  # = <work>/packages/../../../outside.tgz
    outside.write_bytes(tgz({"packaging": b"echo read from outside the release\n"}))
    extra = "- name: ../../../outside\n  version: 0a\n  fingerprint: 0a\n  sha1: sha256:" + sha256(outside.read_bytes())
    path = rewrite(tmp_path, lambda text: text.replace("no_compression:", extra + "\nno_compression:"))
    with pytest.raises(ReleaseInvalid) as caught, open_release(path) as source:
        source.stage_package("../../../outside", tmp_path / "staged")
    assert any("../../../outside" in problem for problem in caught.value.problems)
    assert not (tmp_path / "staged").exists()


def test_a_tarball_is_unpacked_in_a_work_directory_removed_on_close() -> None:
    with open_release(TARBALL) as source:
        work = source.work  # type: ignore[attr-defined]
        assert (work / "release.MF").is_file()
    assert not work.exists()


# --- a compiled release ----------------------------------------------------------------------------------------


def tgz(files: dict[str, bytes], prefix: str = "./") -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(prefix + name)
            info.size, info.mode = len(data), 0o755 if name.startswith("bin/") else 0o644
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def compiled_release(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A compiled release as the director's `export-release` writes it (`./`-prefixed members)."""
    logsink_job = member("jobs/logsink.tgz")
    compiled = {
        "golang-1.21-linux": tgz({"bosh/compile.env": b"export GOROOT=/var/vcap/packages/golang-1.21-linux\n"}),
        "logfwd": tgz({"bin/logfwd": b"\x7fELF logfwd", "bin/logsink": b"\x7fELF logsink"}),
    }
    fps = recorded()
    manifest = f"""---
name: logfwd
version: 0.1.0
commit_hash: 0a1b2c3
uncommitted_changes: false
jobs:
- name: logsink
  version: {fps["job", "logsink"]}
  fingerprint: {fps["job", "logsink"]}
  sha1: sha256:{sha256(logsink_job)}
compiled_packages:
- name: golang-1.21-linux
  version: {fps["package", "golang-1.21-linux"]}
  fingerprint: {fps["package", "golang-1.21-linux"]}
  sha1: sha256:{sha256(compiled["golang-1.21-linux"])}
  stemcell: "ubuntu-jammy/1.10"
  dependencies: []
- name: logfwd
  version: {fps["package", "logfwd"]}
  fingerprint: {fps["package", "logfwd"]}
  sha1: sha256:{sha256(compiled["logfwd"])}
  stemcell: "ubuntu-jammy/1.10"
  dependencies:
  - golang-1.21-linux
"""
    files = {"release.MF": manifest.encode(), "jobs/logsink.tgz": logsink_job}
    files |= {f"compiled_packages/{name}.tgz": data for name, data in compiled.items()}
    path = tmp_path / "logfwd-0.1.0-ubuntu-jammy-1.10.tgz"
    path.write_bytes(tgz(files))
    return path, compiled


def test_a_compiled_release_reads_with_its_stemcell_per_package(tmp_path: Path) -> None:
    path, compiled = compiled_release(tmp_path)
    with open_release(path) as source:
        release = source.release
        assert (release.name, release.version, release.form) == ("logfwd", "0.1.0", "compiled")
        assert [(p.name, p.stemcell, p.dependencies) for p in release.packages] == [
            ("golang-1.21-linux", "ubuntu-jammy/1.10", ()),
            ("logfwd", "ubuntu-jammy/1.10", ("golang-1.21-linux",)),
        ]
        assert release.package("logfwd").fingerprint == recorded()["package", "logfwd"]  # type: ignore[union-attr]
        assert release.job("logsink").packages == ("logfwd",)  # type: ignore[union-attr]
        inner = source.compiled_tarball("logfwd")
        assert inner is not None and inner.read_bytes() == compiled["logfwd"]
        with pytest.raises(KeyError, match="compiled"):
            source.stage_package("logfwd", tmp_path / "staged")


def test_a_source_release_has_no_compiled_tarballs() -> None:
    with open_release(TARBALL) as source:
        assert all(p.stemcell is None for p in source.release.packages)
        assert source.compiled_tarball("logfwd") is None


# --- bad input, located by file and line --------------------------------------------------------------------


FINAL_YML = """---
name: demo
blobstore:
  provider: local
  options:
    blobstore_path: /var/tmp/demo-blobs
"""
WEB_SPEC = """---
name: web
templates:
  ctl.erb: bin/ctl
packages:
- app
"""
APP_SPEC = """---
name: app
dependencies: []
files:
- app/**/*
"""
PACKAGING = "set -e\ncp -a app/. ${BOSH_INSTALL_TARGET}/\n"


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """A small release in BOSH's shape: job web (needs package app), package app (src/app)."""
    return write_tree(tmp_path / "demo", {
        "config/final.yml": FINAL_YML,
        "jobs/web/spec": WEB_SPEC,
        "jobs/web/monit": "",
        "jobs/web/templates/ctl.erb": "#!/bin/bash\nexec /var/vcap/packages/app/bin/app\n",
        "packages/app/spec": APP_SPEC,
        "packages/app/packaging": PACKAGING,
        "src/app/main.c": "int main(void) { return 0; }\n",
    })  # fmt: skip


def problems(path: Path) -> list[str]:
    with pytest.raises(ReleaseInvalid) as caught:
        open_release(path)
    assert caught.value.exit_code == 1
    assert str(path) in str(caught.value)
    return list(caught.value.problems)


def test_the_small_release_reads_with_bosh_clis_fingerprints(demo: Path) -> None:
    with open_release(demo) as source:
        release = source.release
    assert (release.name, release.version, release.form) == ("demo", "0+dev", "repository")
    assert release.package("app").fingerprint == bosh_v2([  # type: ignore[union-attr]
        ("packaging", PACKAGING.encode(), ""), ("app/main.c", (demo / "src/app/main.c").read_bytes(), "100644")
    ])  # fmt: skip
    assert release.job("web").fingerprint == bosh_v2([  # type: ignore[union-attr]
        ("job.MF", WEB_SPEC.encode(), "100644"), ("monit", b"", "100644"),
        ("templates/ctl.erb", (demo / "jobs/web/templates/ctl.erb").read_bytes(), "100644"),
    ])  # fmt: skip


def test_a_job_whose_name_differs_from_its_directory_is_one_line_naming_the_spec(demo: Path) -> None:
    edit(demo / "jobs/web/spec", "name: web", "name: webserver")
    assert problems(demo) == [f"{demo}/jobs/web/spec:2: job name 'webserver' differs from its directory 'web'"]


def test_a_template_listed_in_the_spec_but_missing_is_located_at_its_line(demo: Path) -> None:
    edit(demo / "jobs/web/spec", "  ctl.erb: bin/ctl\n", "  ctl.erb: bin/ctl\n  health.erb: bin/health\n")
    assert problems(demo) == [f"{demo}/jobs/web/spec:5: template health.erb: no such file under templates/"]


def test_a_package_depending_on_an_unknown_package_is_located_at_the_dependency(demo: Path) -> None:
    edit(demo / "packages/app/spec", "dependencies: []", "dependencies:\n- zlib")
    assert problems(demo) == [f"{demo}/packages/app/spec:4: package app depends on unknown package 'zlib'"]


def test_a_dependency_cycle_is_one_line_naming_the_packages_in_it(demo: Path) -> None:
    edit(demo / "packages/app/spec", "dependencies: []", "dependencies:\n- lib")
    write_tree(demo, {
        "packages/lib/spec": "---\nname: lib\ndependencies:\n- app\nfiles:\n- lib/*\n",
        "packages/lib/packaging": "cp -a lib ${BOSH_INSTALL_TARGET}\n",
        "src/lib/lib.c": "int lib;\n",
    })  # fmt: skip
    assert problems(demo) == [f"{demo}/packages/app/spec:3: dependency cycle: app -> lib -> app"]


def test_a_job_needing_an_unknown_package_is_located_at_it(demo: Path) -> None:
    edit(demo / "jobs/web/spec", "- app\n", "- app\n- nginx\n")
    assert problems(demo) == [f"{demo}/jobs/web/spec:7: job web needs unknown package 'nginx'"]


def test_a_files_glob_matching_nothing_is_located_at_the_pattern(demo: Path) -> None:
    edit(demo / "packages/app/spec", "- app/**/*\n", "- app/**/*\n- vendor/*.tar.gz\n")
    assert problems(demo) == [f"{demo}/packages/app/spec:6: no file under src/ or blobs/ matches 'vendor/*.tar.gz'"]


def test_a_glob_matching_only_a_directory_matches_nothing(demo: Path) -> None:
    edit(demo / "packages/app/spec", "- app/**/*\n", "- app\n")
    assert problems(demo) == [f"{demo}/packages/app/spec:5: no file under src/ or blobs/ matches 'app'"]


def test_both_name_and_final_name_in_final_yml_is_located_at_final_name(demo: Path) -> None:
    edit(demo / "config/final.yml", "name: demo\n", "name: demo\nfinal_name: demo-release\n")
    assert problems(demo) == [f"{demo}/config/final.yml:3: has both 'name' and 'final_name'; bosh-cli expects one"]


def test_a_malformed_sha_in_blobs_yml_is_located_at_the_sha(demo: Path) -> None:
    write_tree(demo, {"config/blobs.yml": "---\nvendor/zlib-1.3.tar.gz:\n  size: 1024\n  sha: sha256:1234\n"})
    found = problems(demo)
    assert len(found) == 1
    assert found[0].startswith(f"{demo}/config/blobs.yml:4: vendor/zlib-1.3.tar.gz: sha: 'sha256:1234' is not a digest")


def test_a_blobs_yml_that_is_not_a_mapping_is_a_problem_not_a_crash(demo: Path) -> None:
    write_tree(demo, {"config/blobs.yml": "---\n- zlib/zlib-1.3.tar.gz\n"})
    (problem,) = problems(demo)
    assert problem.startswith(f"{demo}/config/blobs.yml: ")


def test_every_problem_is_reported_at_once(demo: Path) -> None:
    edit(demo / "jobs/web/spec", "- app\n", "- app\n- nginx\n")
    edit(demo / "packages/app/spec", "dependencies: []", "dependencies:\n- zlib")
    assert len(problems(demo)) == 2


def test_a_directory_in_the_retired_release_yml_format_is_a_usage_error_saying_so(tmp_path: Path) -> None:
    write_tree(tmp_path / "old", {"release.yml": "name: old\npackages: []\njobs: []\n"})
    with pytest.raises(UsageError, match=r"release\.yml is picf's own release format, which is retired") as caught:
        open_release(tmp_path / "old")
    assert caught.value.exit_code == 2
    assert str(tmp_path / "old" / "release.yml") in str(caught.value)


def test_a_directory_without_config_final_yml_is_a_usage_error(tmp_path: Path) -> None:
    write_tree(tmp_path / "bare", {"jobs/web/spec": WEB_SPEC})
    with pytest.raises(UsageError, match=r"no config/final\.yml") as caught:
        open_release(tmp_path / "bare")
    assert caught.value.exit_code == 2


# --- globbing: bosh-cli's doublestar rules --------------------------------------------------------------------


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "src", {
        "a/x.go": "", "a/.hidden": "", "a/b/z.txt": "", "a/b/c/y.go": "", "a/b/c/.gitignore": "", "d/w.go": "",
    })  # fmt: skip


def test_double_star_is_zero_or_more_directories(src: Path) -> None:
    assert globbing.glob(src, "a/**/*.go") == ["a/b/c/y.go", "a/x.go"]
    assert globbing.glob(src, "**/*.go") == ["a/b/c/y.go", "a/x.go", "d/w.go"]
    for path in ("a/x.go", "a/b/c/y.go"):
        assert globbing.match("a/**/*.go", path)
    assert not globbing.match("a/**/*.go", "d/w.go")


def test_a_star_matches_dot_files_but_never_crosses_a_slash(src: Path) -> None:
    assert globbing.glob(src, "a/*") == ["a/.hidden", "a/b", "a/x.go"]
    assert globbing.glob(src, "a/**/.*") == ["a/.hidden", "a/b/c/.gitignore"]
    assert globbing.match("a/*", "a/.hidden")
    assert not globbing.match("a/*", "a/b/z.txt")
    assert not globbing.match("*.go", "a/x.go")


def test_braces_are_alternatives(src: Path) -> None:
    assert globbing.glob(src, "{a,d}/*.go") == ["a/x.go", "d/w.go"]
    assert globbing.glob(src, "a/b/*.{go,txt}") == ["a/b/z.txt"]
    assert globbing.match("vendor/*.{tar.gz,tgz}", "vendor/zlib.tgz")
    assert not globbing.match("vendor/*.{tar.gz,tgz}", "vendor/zlib.zip")


def test_glob_returns_directories_and_the_reader_drops_them(demo: Path) -> None:
    write_tree(demo, {"src/app/lib/util.c": "int util;\n"})
    edit(demo / "packages/app/spec", "- app/**/*\n", "- app/*\n")
    assert globbing.glob(demo / "src", "app/*") == ["app/lib", "app/main.c"]
    with open_release(demo) as source:
        package = source.release.package("app")
        source.stage_package("app", demo.parent / "staged")
    main = (demo / "src/app/main.c").read_bytes()
    assert package is not None
    assert package.fingerprint == bosh_v2([("packaging", PACKAGING.encode(), ""), ("app/main.c", main, "100644")])
    assert staged(demo.parent / "staged") == {"packaging": PACKAGING.encode(), "app/main.c": main}


def test_files_under_a_symlinked_directory_are_left_out_but_a_symlink_file_is_packaged_as_its_target_text(
    demo: Path,
) -> None:
    write_tree(demo, {"src/shared/util.c": "int util;\n"})
    (demo / "src/app/shared").symlink_to("../shared")
    (demo / "src/app/current.c").symlink_to("main.c")
    edit(demo / "packages/app/spec", "- app/**/*\n", "- app/**/*.c\n")
    assert "app/shared/util.c" in globbing.glob(demo / "src", "app/**/*.c")  # doublestar descends into it
    with open_release(demo) as source:
        package = source.release.package("app")
        source.stage_package("app", demo.parent / "staged")
    assert package is not None
    assert package.fingerprint == bosh_v2([
        ("packaging", PACKAGING.encode(), ""),
        ("app/main.c", (demo / "src/app/main.c").read_bytes(), "100644"),
        ("app/current.c", b"main.c", "symlink"),
    ])  # fmt: skip
    out = demo.parent / "staged"
    assert (out / "app/current.c").is_symlink() and os.readlink(out / "app/current.c") == "main.c"
    assert not (out / "app/shared").exists()


def test_a_file_in_src_wins_over_a_blob_of_the_same_path(demo: Path) -> None:
    write_tree(demo, {"blobs/app/main.c": "int blob;\n"})
    with open_release(demo) as source:
        source.stage_package("app", demo.parent / "staged")
    assert (demo.parent / "staged/app/main.c").read_bytes() == (demo / "src/app/main.c").read_bytes()


# --- blobs not downloaded yet ----------------------------------------------------------------------------------


ZLIB = b"zlib 1.3 source, as the blobstore holds it\n"


def with_blob(demo: Path, sha: str) -> None:
    edit(demo / "packages/app/spec", "- app/**/*\n", "- app/**/*\n- zlib/zlib-1.3.tar.gz\n")
    write_tree(demo, {"config/blobs.yml": (
        f"zlib/zlib-1.3.tar.gz:\n  size: {len(ZLIB)}\n  object_id: 4f0c2b1e-3c1d-4e4f-6a2b-7d9e0f1a2b3c\n  sha: {sha}\n"
    )})  # fmt: skip


def app(demo: Path) -> tuple[str | None, tuple[str, ...]]:
    with open_release(demo) as source:
        package = source.release.package("app")
    assert package is not None
    return package.fingerprint, package.missing_blobs


def test_a_blob_not_downloaded_with_a_sha256_gets_the_fingerprint_it_will_have_once_downloaded(demo: Path) -> None:
    with_blob(demo, f"sha256:{sha256(ZLIB)}")
    before, missing = app(demo)
    assert missing == ("zlib/zlib-1.3.tar.gz",)
    write_tree(demo, {"blobs/zlib/zlib-1.3.tar.gz": ZLIB})
    (demo / "blobs/zlib/zlib-1.3.tar.gz").chmod(0o644)
    assert app(demo) == (before, ())
    assert before == bosh_v2([
        ("packaging", PACKAGING.encode(), ""), ("app/main.c", (demo / "src/app/main.c").read_bytes(), "100644"),
        ("zlib/zlib-1.3.tar.gz", ZLIB, "100644"),
    ])  # fmt: skip


def test_a_blob_not_downloaded_with_only_a_sha1_has_no_fingerprint_yet(demo: Path) -> None:
    with_blob(demo, hashlib.sha1(ZLIB).hexdigest())
    assert app(demo) == (None, ("zlib/zlib-1.3.tar.gz",))
    with open_release(demo) as source, pytest.raises(BlobUnavailable, match=re.escape("blobs/zlib/zlib-1.3.tar.gz")):
        source.stage_package("app", demo.parent / "staged")
    write_tree(demo, {"blobs/zlib/zlib-1.3.tar.gz": ZLIB})
    fp, missing = app(demo)
    assert fp is not None and missing == ()


# --- digest strings --------------------------------------------------------------------------------------------


DATA = b"a package tarball\n"
SHA1, SHA256 = hashlib.sha1(DATA).hexdigest(), sha256(DATA)


def test_digest_strings_in_every_form_bosh_writes_are_read() -> None:
    assert fingerprint.parse_digests(f"sha256:{SHA256}") == {"sha256": SHA256}
    assert fingerprint.parse_digests(SHA1) == {"sha1": SHA1}
    assert fingerprint.parse_digests(f"sha1:{SHA1};sha256:{SHA256}") == {"sha1": SHA1, "sha256": SHA256}
    assert fingerprint.parse_digests(f"sha256:{SHA256.upper()}") == {"sha256": SHA256}
    assert fingerprint.strongest(f"sha1:{SHA1};sha256:{SHA256}") == ("sha256", SHA256)
    assert fingerprint.strongest(SHA1) == ("sha1", SHA1)


@pytest.mark.parametrize(
    "junk",
    ["", ";", "md5:" + "0" * 32, "sha256:1234", "sha256:" + "g" * 64, "0" * 64, "sha1:" + "0" * 64,
     f"sha256:{SHA256};nonsense", "sha256 " + SHA256],
)  # fmt: skip
def test_junk_is_not_a_digest(junk: str) -> None:
    with pytest.raises(ValueError):
        fingerprint.parse_digests(junk)


def test_verify_checks_the_strongest_digest_and_says_what_the_file_has(tmp_path: Path) -> None:
    path = write_tree(tmp_path, {"p.tgz": DATA}) / "p.tgz"
    assert fingerprint.verify(path, f"sha256:{SHA256}") is None
    assert fingerprint.verify(path, SHA1) is None
    assert fingerprint.verify(path, f"sha1:{'0' * 40};sha256:{SHA256}") is None  # the sha1 is not the one checked
    assert fingerprint.verify(path, f"sha1:{SHA1};sha256:{'0' * 64}") == f"sha256:{SHA256}"
    assert fingerprint.verify(path, "0" * 40) == SHA1


# --- safe archives ---------------------------------------------------------------------------------------------


def evil(tmp_path: Path, *entries: tarfile.TarInfo | tuple[str, bytes] | tuple[str, bytes, int]) -> Path:
    """An archive in tmp_path/in/ with these entries (a (name, data[, mode]) tuple is a regular file)."""
    path = tmp_path / "in" / "evil.tgz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for entry in entries:
            if isinstance(entry, tuple):
                info = tarfile.TarInfo(entry[0])
                info.size, info.mode = len(entry[1]), entry[2] if len(entry) == 3 else 0o644
                tar.addfile(info, io.BytesIO(entry[1]))
            else:
                tar.addfile(entry)
    return path


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def special(name: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.devmajor, info.devminor = kind, 1, 3
    return info


def everything_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


REFUSED = {
    "dot-dot": ([("./ok", b"ok"), ("../x", b"pwned")], "'../x' is outside the archive"),
    "dot-dot-inside": ([("a/../../x", b"pwned")], "'a/../../x' is outside the archive"),
    "absolute": ([("/etc/x", b"pwned")], "'/etc/x' is outside the archive"),
    "symlink-absolute": ([link("passwd", "/etc/passwd")], "symlink 'passwd' points outside the archive"),
    "symlink-climbing": ([link("a/b", "../../x")], "symlink 'a/b' points outside the archive"),
    "hardlink-not-in-archive": ([link("h", "secret", tarfile.LNKTYPE)], "hard link 'h' points outside"),
    "hardlink-climbing": ([link("h", "../x", tarfile.LNKTYPE)], "hard link 'h' points outside"),
    "char-device": ([special("null", tarfile.CHRTYPE)], "'null' is a device file or fifo"),
    "block-device": ([special("sda", tarfile.BLKTYPE)], "'sda' is a device file or fifo"),
    "fifo": ([special("pipe", tarfile.FIFOTYPE)], "'pipe' is a device file or fifo"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_an_archive_with_an_entry_that_escapes_or_is_special_is_refused_naming_it_and_nothing_is_written(
    tmp_path: Path, case: str
) -> None:
    entries, says = REFUSED[case]
    path = evil(tmp_path, *entries)
    with pytest.raises(ArchiveRefused, match=re.escape(f"{path}: ")) as caught:
        archive.check(path)
    assert says in str(caught.value) and str(caught.value).endswith("refused")
    with pytest.raises(ArchiveRefused, match=re.escape(says)):
        archive.extract(path, tmp_path / "out" / "target", label="the release")
    assert everything_under(tmp_path) == {"in", "in/evil.tgz"}


def test_a_symlink_chain_that_climbs_out_through_another_symlink_writes_nothing_outside(tmp_path: Path) -> None:
    # d/e/l points at the archive root, so m -> d/e/l/.. is the root's parent although it reads as d/e.
    path = evil(tmp_path, link("d/e/l", "../.."), link("m", "d/e/l/.."), ("m/pwned", b"pwned"))
    with pytest.raises(ArchiveRefused, match=re.escape(str(path))):
        archive.extract(path, tmp_path / "out" / "target")
    assert not (tmp_path / "out" / "pwned").exists()
    assert everything_under(tmp_path) == {"in", "in/evil.tgz"}  # refused before anything was written


def test_check_refuses_a_symlink_chain_that_climbs_out_through_another_symlink(tmp_path: Path) -> None:
    path = evil(tmp_path, link("d/e/l", "../.."), link("m", "d/e/l/.."))
    with pytest.raises(ArchiveRefused, match="symlink 'm' points outside the archive"):
        archive.check(path)


def test_an_archive_larger_than_the_limit_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    path = evil(tmp_path, ("a", b"x" * 60), ("b", b"x" * 60))
    archive.check(path, Limits(max_bytes=120))
    with pytest.raises(ArchiveRefused, match=re.escape(f"{path}: expands to more than 119 bytes")):
        archive.check(path, Limits(max_bytes=119))
    with pytest.raises(ArchiveRefused, match="more than 119 bytes"):
        archive.extract(path, tmp_path / "out", Limits(max_bytes=119))
    assert everything_under(tmp_path) == {"in", "in/evil.tgz"}


def test_an_archive_with_more_entries_than_the_limit_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    path = evil(tmp_path, ("a", b""), ("b", b""), ("c", b""))
    archive.check(path, Limits(max_entries=3))
    with pytest.raises(ArchiveRefused, match=re.escape(f"{path}: more than 2 entries")):
        archive.check(path, Limits(max_entries=2))
    with pytest.raises(ArchiveRefused, match="more than 2 entries"):
        archive.extract(path, tmp_path / "out", Limits(max_entries=2))
    assert everything_under(tmp_path) == {"in", "in/evil.tgz"}


@pytest.mark.parametrize(("limits", "entries"), [(Limits(max_bytes=119), 2), (Limits(max_entries=2), 3)])
def test_a_limit_refusal_names_the_entry_that_went_over_it(tmp_path: Path, limits: Limits, entries: int) -> None:
    path = evil(tmp_path, *[(name, b"x" * 60) for name in "abc"[:entries]])
    last = "abc"[entries - 1]
    with pytest.raises(ArchiveRefused, match=f"'{last}'"):
        archive.check(path, limits)


def test_a_well_formed_archive_extracts_with_its_links_and_modes(tmp_path: Path) -> None:
    path = evil(
        tmp_path, ("./packaging", b"make\n"), ("./bin/run", b"#!/bin/sh\n", 0o4755), ("./src/a.c", b"int a;\n"),
        link("./src/current.c", "a.c"), link("./src/b.c", "src/a.c", tarfile.LNKTYPE), link("./up", "src/../src/a.c"),
    )  # fmt: skip
    assert len(archive.check(path)) == 6
    archive.extract(path, tmp_path / "out")
    out = tmp_path / "out"
    assert (out / "packaging").read_bytes() == b"make\n"
    assert (out / "bin/run").stat().st_mode & 0o7777 == 0o755  # executable, set-uid dropped
    assert (out / "src/current.c").is_symlink() and (out / "src/current.c").read_bytes() == b"int a;\n"
    assert (out / "src/b.c").read_bytes() == b"int a;\n" and not (out / "src/b.c").is_symlink()
    assert (out / "up").read_bytes() == b"int a;\n"
    assert archive.read_member(path, "src/a.c") == b"int a;\n"
    assert everything_under(out) == {"packaging", "bin", "bin/run", "src", "src/a.c", "src/current.c", "src/b.c", "up"}
    assert everything_under(tmp_path / "in") == {"evil.tgz"}


# --- a release is untrusted input: what it names stays inside it ----------------------------------------------


@pytest.mark.parametrize("destination", ["/home/pi/.ssh/authorized_keys", "../../etc/cron.d/x", "bin/../../x", ""])
def test_a_template_destination_outside_the_job_is_refused(demo: Path, destination: str) -> None:
    edit(demo / "jobs/web/spec", "ctl.erb: bin/ctl", f"ctl.erb: {destination!r}")
    [found] = problems(demo)
    assert "must be a relative path inside the job, without '..'" in found


def test_a_template_source_that_climbs_out_of_templates_is_refused(demo: Path) -> None:
    (demo / "payload").write_text("x\n")
    edit(demo / "jobs/web/spec", "ctl.erb: bin/ctl", "../../../payload: bin/ctl")
    [found] = problems(demo)
    assert "must be a relative path inside the job" in found


def test_a_template_that_is_a_symlink_to_a_controller_file_is_refused(demo: Path, tmp_path: Path) -> None:
    secret = tmp_path / "id_rsa"
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY----- decoy\n")
    (demo / "jobs/web/templates/ctl.erb").unlink()
    (demo / "jobs/web/templates/ctl.erb").symlink_to(secret)
    [found] = problems(demo)
    assert found.startswith(f"{demo / 'jobs/web/spec'}:") and "symlink to a file outside the release" in found


def test_a_packaging_script_that_is_a_symlink_out_of_the_release_is_refused(demo: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere.sh").write_text("echo\n")
    (demo / "packages/app/packaging").unlink()
    (demo / "packages/app/packaging").symlink_to(tmp_path / "elsewhere.sh")
    assert any("symlink to a file outside the release" in p for p in problems(demo))


@pytest.mark.parametrize("name", ["../../../../tmp/escape", "a b", "$(touch x)"])
def test_a_release_name_that_is_not_a_name_is_refused(demo: Path, name: str) -> None:
    edit(demo / "config/final.yml", "name: demo", f"name: {name!r}")
    [found] = problems(demo)
    assert "is not a release name" in found


def test_reading_a_repository_runs_nothing_its_git_config_names(demo: Path, tmp_path: Path) -> None:
    """`git status` would run a repository's core.fsmonitor (or filters) outside any sandbox: picf reads HEAD
    from the files instead."""
    ran = tmp_path / "FSMONITOR_RAN"
    git = demo / ".git"
    (git / "refs/heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs/heads/main").write_text("0123456789abcdef0123456789abcdef01234567\n")
    (git / "config").write_text(f"[core]\n\tfsmonitor = touch {ran}; echo\n\thooksPath = /nonexistent\n")
    with open_release(demo) as source:
        assert source.release.commit_hash == "0123456"
    assert not ran.exists()


@pytest.mark.parametrize("claim", ["abc$(touch /tmp/pwned)", "../../x", "0" * 39, "g" * 64])
def test_a_fingerprint_in_release_mf_that_is_not_hex_is_a_problem(tmp_path: Path, claim: str) -> None:
    path = rewrite(tmp_path, lambda text: re.sub(r"(- name: lineprobe\n  version: )\S+\n  fingerprint: \S+",
                                                 rf"\g<1>'{claim}'\n  fingerprint: '{claim}'", text))  # fmt: skip
    with pytest.raises(ReleaseInvalid) as caught:
        open_release(path).close()
    assert any("is not one (40 to 128 hex digits)" in p for p in caught.value.problems)


def test_an_archive_with_an_entry_twice_is_refused(tmp_path: Path) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for content in (b"name: shown\n", b"name: used\n"):
            info = tarfile.TarInfo("./job.MF")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    path = tmp_path / "twice.tgz"
    path.write_bytes(raw.getvalue())
    with pytest.raises(ArchiveRefused, match=re.escape("'./job.MF' is in it twice")):
        archive.check(path)


def test_a_compiled_packages_absolute_symlink_is_kept_but_nothing_goes_through_it(tmp_path: Path) -> None:
    with tarfile.open(tmp_path / "links.tgz", "w:gz") as tar:
        info = tarfile.TarInfo("./bin/tool")
        info.type, info.linkname = tarfile.SYMTYPE, "/var/vcap/packages/app/bin/real"
        tar.addfile(info)
    archive.extract(tmp_path / "links.tgz", tmp_path / "out", absolute_links=True)
    assert os.readlink(tmp_path / "out/bin/tool") == "/var/vcap/packages/app/bin/real"
    with pytest.raises(ArchiveRefused, match="points outside the archive"):
        archive.check(tmp_path / "links.tgz")  # a source package: no absolute link
    with tarfile.open(tmp_path / "through.tgz", "w:gz") as tar:
        info = tarfile.TarInfo("./etc")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc"
        tar.addfile(info)
        data = b"owned\n"
        info = tarfile.TarInfo("./etc/cron.d/x")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ArchiveRefused, match="outside the archive"):
        archive.check(tmp_path / "through.tgz", absolute_links=True)


@pytest.mark.parametrize("pattern", ["[z-a]*.go", "app/[]"])
def test_a_files_glob_picf_cannot_read_is_a_problem_not_a_crash(demo: Path, pattern: str) -> None:
    edit(demo / "packages/app/spec", "- app/**/*", f"- {pattern!r}")
    assert any("is not a glob bosh-cli reads" in p for p in problems(demo))


def test_blobstore_options_that_are_not_a_mapping_are_a_problem(demo: Path) -> None:
    edit(demo / "config/final.yml", "  options:\n    blobstore_path: /var/tmp/demo-blobs", "  options: nope")
    [found] = problems(demo)
    assert "blobstore.options should be a mapping" in found


def test_empty_keys_in_a_spec_read_as_bosh_cli_reads_them(demo: Path) -> None:
    (demo / "jobs/web/spec").write_text(WEB_SPEC + "consumes:\nprovides:\nproperties:\n  web.port:\n")
    with open_release(demo) as source:
        job = source.release.job("web")
    assert job is not None and job.spec.consumes == () and job.spec.properties["web.port"].default is None
