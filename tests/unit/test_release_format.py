"""Release tooling around the BOSH format: the scaffold, the compile cache's keys, deterministic tarballs, the Go
toolchains a release asks for. Pure logic."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from picf.releases.archive import write_tarball
from picf.releases.build.builder import cache_key, stemcell_arch
from picf.releases.build.toolchains import compile_env, go_package_version
from picf.releases.read.source import open_release
from picf.releases.scaffold import scaffold


def test_a_scaffolded_release_is_a_bosh_release_that_validates(tmp_path: Path) -> None:
    scaffold(tmp_path / "hello", "hello")
    with open_release(tmp_path / "hello") as source:
        release = source.release
    assert release.name == "hello" and release.version == "0+dev" and release.form == "repository"
    assert [j.name for j in release.jobs] == ["hello"]
    assert {p.name: p.vendored for p in release.packages} == {"golang-1.21-linux": True, "hello": False}
    assert (tmp_path / "hello/jobs/hello/templates/hello_ctl.erb").is_file()


def test_cache_keys_depend_on_arch_and_dependency_keys() -> None:
    assert cache_key("f", "armv7", ["x", "y"]) == cache_key("f", "armv7", ["y", "x"])
    assert cache_key("f", "armv7", []) != cache_key("f", "arm64", [])
    assert cache_key("f", "armv7", ["x"]) != cache_key("f", "armv7", ["z"])


def test_tarballs_are_deterministic(tmp_path: Path) -> None:
    (tmp_path / "in/bin").mkdir(parents=True)
    (tmp_path / "in/bin/tool").write_text("x")
    write_tarball(tmp_path / "in", tmp_path / "one.tgz", prefix="./")
    os.utime(tmp_path / "in/bin/tool", (0, 12345))
    write_tarball(tmp_path / "in", tmp_path / "two.tgz", prefix="./")
    assert (tmp_path / "one.tgz").read_bytes() == (tmp_path / "two.tgz").read_bytes()


def test_the_go_a_package_is_a_toolchain_of_comes_from_its_name_or_its_tarball() -> None:
    assert go_package_version("golang", ["golang/go1.9.3.linux-amd64.tar.gz"]) == "1.9.3"
    assert go_package_version("golang1.9.4") == "1.9.4"
    assert go_package_version("golang-1.21-linux") == "1.21"
    assert go_package_version("garden-runc-golang-1.21-linux") == "1.21"
    assert go_package_version("golang-1-linux") == "1"
    assert go_package_version("golang-1.26-windows") is None
    assert go_package_version("guardian") is None


def test_compile_env_is_the_golang_release_s_for_the_package_name() -> None:
    env = compile_env("golang-1.21-linux")
    assert 'export GOROOT=$(readlink -nf "/var/vcap/packages/golang-1.21-linux")' in env["compile.env"]
    assert "GOTOOLCHAIN=local" in env["compile.env"] and "GOTOOLCHAIN" not in env["runtime.env"]
    assert "export GOCACHE=/var/vcap/data/golang-1.21-linux/cache" in env["runtime.env"]


def test_compiled_packages_are_used_for_the_arch_their_stemcell_says() -> None:
    assert stemcell_arch("ubuntu-jammy/1.181") == "amd64"
    assert stemcell_arch("picf-armv7/1") == "armv7"
    assert stemcell_arch("windows2019/2019.2") is None


def test_a_go_view_copies_what_links_outside_the_goroot_point_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debian's /usr/lib/go-1.19 links src, api, ... to /usr/share/go-1.19: bound alone in the sandbox, a link
    would point at nothing (the standard library would be missing)."""
    from picf.releases.build import toolchains

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    share, goroot = tmp_path / "share/go-1.19", tmp_path / "lib/go-1.19"
    (share / "src/bufio").mkdir(parents=True)
    (share / "src/bufio/bufio.go").write_text("package bufio\n")
    (goroot / "bin").mkdir(parents=True)
    (goroot / "bin/go").write_text("#!/bin/sh\n")
    (goroot / "VERSION").write_text("go1.19.8\n")
    (goroot / "src").symlink_to("../../share/go-1.19/src")
    (goroot / "pkg").mkdir()
    (goroot / "pkg/inner").symlink_to("../VERSION")  # inside the goroot: kept as a link
    view = toolchains.view(toolchains.GoToolchain("1.19.8", goroot, "Debian"))
    assert not (view / "src").is_symlink() and (view / "src/bufio/bufio.go").read_text() == "package bufio\n"
    assert (view / "pkg/inner").is_symlink()
    assert (view / "bin/go.real").read_text() == "#!/bin/sh\n" and "picf" in (view / "bin/go").read_text()
    assert (goroot / "bin/go").read_text() == "#!/bin/sh\n"  # the toolchain itself is untouched


def test_a_sandbox_that_does_not_start_is_named_with_what_to_do() -> None:
    from picf.releases.sandbox import did_not_start

    refused = did_not_start("bwrap: setting up uid map: Permission denied\n")
    assert (
        refused is not None and "unprivileged user namespaces" in str(refused) and "bwrap: setting up" in str(refused)
    )
    assert did_not_start("+ set -e\nmake: *** [all] Error 1\n") is None  # the package's own failure
