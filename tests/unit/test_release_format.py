"""Release format, fingerprints and cache keys: pure logic on small release directories."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from picf.errors import UsageError
from picf.releases.builder import cache_key, fingerprint, write_tarball
from picf.releases.release_dir import ReleaseInvalid, read_release
from picf.releases.scaffold import scaffold

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "releases" / "logfwd"


def test_the_example_release_validates() -> None:
    found = read_release(EXAMPLE)
    assert [p.name for p in found.release.packages] == ["logfwd", "lineprobe"]
    assert found.release.jobs[0].templates == {"ctl.sh.j2": "bin/logfwd_ctl", "config.json.j2": "config/logfwd.json"}


def test_a_scaffolded_release_validates(tmp_path: Path) -> None:
    scaffold(tmp_path / "hello", "hello")
    assert read_release(tmp_path / "hello").release.name == "hello"


@pytest.fixture
def release(tmp_path: Path) -> Path:
    target = tmp_path / "logfwd"
    shutil.copytree(EXAMPLE, target)
    return target


def problems(directory: Path) -> list[str]:
    with pytest.raises(ReleaseInvalid) as caught:
        read_release(directory)
    return [str(p) for p in caught.value.problems]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_unknown_dependency_and_job_package_are_located_in_release_yml(release: Path) -> None:
    probe_files = '    files: ["tools/lineprobe.c"]'
    edit(release / "release.yml", probe_files, probe_files + "\n    dependencies: [golang]")
    edit(release / "release.yml", "packages: [logfwd, lineprobe]", "packages: [logfwd, lineprob]")
    found = problems(release)
    where = f"{release}/release.yml:21:20: packages[1].dependencies[0]: unknown package 'golang'"
    assert any(p.startswith(where) for p in found), found
    assert any("jobs[0].packages[1]: unknown package 'lineprob'" in p for p in found), found


def test_a_typo_in_a_field_suggests_the_right_one(release: Path) -> None:
    edit(release / "release.yml", "    templates:\n", "    templats:\n")
    assert any("did you mean 'templates'" in p for p in problems(release))


def test_a_monit_stanza_without_restart_throttling_is_refused(release: Path) -> None:
    edit(release / "jobs/logfwd/monit.j2", "then timeout", "then alert")
    assert any("monit.j2:1:1" in p and "restarts within" in p for p in problems(release))


def test_a_template_that_does_not_render_with_defaults_is_located(release: Path) -> None:
    (release / "jobs/logfwd/config.json.j2").write_text('{\n  "x": "{{ p("logfwd.nope") }}"\n}\n')
    assert any("config.json.j2" in p and "logfwd.nope" in p for p in problems(release))
    (release / "jobs/logfwd/config.json.j2").write_text('{\n  "x": "{{ p("logfwd.port") }"\n}\n')
    assert any("config.json.j2:2:1: (top level): template syntax" in p for p in problems(release))


def test_globs_that_match_nothing_and_missing_sources_are_reported(release: Path) -> None:
    (release / "src/tools/lineprobe.c").unlink()
    found = problems(release)
    assert any("packages[1].files: no file" in p for p in found)
    assert any("packages[1].build.sources[0]: tools/lineprobe.c: no such file" in p for p in found)


def test_a_dependency_cycle_is_refused(release: Path) -> None:
    edit(release / "release.yml", "    files: [\"go.mod\", \"cmd/**/*.go\", \"metrics/*.go\"]",
         "    files: [\"go.mod\", \"cmd/**/*.go\", \"metrics/*.go\"]\n    dependencies: [lineprobe]")  # fmt: skip
    probe_files = '    files: ["tools/lineprobe.c"]'
    edit(release / "release.yml", probe_files, probe_files + "\n    dependencies: [logfwd]")
    assert any("cycle" in p for p in problems(release))


def test_no_release_yml_is_a_usage_error_that_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="picf release new"):
        read_release(tmp_path)


def files_fingerprint(root: Path, deps: tuple[str, ...] = (), recipe: str = "go") -> str:
    return fingerprint(root, sorted(p for p in root.rglob("*") if p.is_file()), deps, recipe)


def test_fingerprints_change_with_content_mode_dependencies_and_recipe(tmp_path: Path) -> None:
    (tmp_path / "a.go").write_text("package a\n")
    (tmp_path / "b.sh").write_text("echo b\n")
    base = files_fingerprint(tmp_path)
    assert files_fingerprint(tmp_path) == base
    assert files_fingerprint(tmp_path, ("golang",)) != base
    assert files_fingerprint(tmp_path, recipe="go -ldflags=-s") != base
    os.chmod(tmp_path / "b.sh", 0o755)
    executable = files_fingerprint(tmp_path)
    assert executable != base
    (tmp_path / "a.go").write_text("package a // changed\n")
    assert files_fingerprint(tmp_path) not in {base, executable}


def test_cache_keys_depend_on_arch_and_dependency_keys() -> None:
    assert cache_key("f", "armv7", ["x", "y"]) == cache_key("f", "armv7", ["y", "x"])
    assert cache_key("f", "armv7", []) != cache_key("f", "arm64", [])
    assert cache_key("f", "armv7", ["x"]) != cache_key("f", "armv7", ["z"])


def test_tarballs_are_deterministic(tmp_path: Path) -> None:
    (tmp_path / "in/bin").mkdir(parents=True)
    (tmp_path / "in/bin/tool").write_text("x")
    write_tarball(tmp_path / "in", tmp_path / "one.tgz")
    os.utime(tmp_path / "in/bin/tool", (0, 12345))
    write_tarball(tmp_path / "in", tmp_path / "two.tgz")
    assert (tmp_path / "one.tgz").read_bytes() == (tmp_path / "two.tgz").read_bytes()


@pytest.mark.parametrize("name", ["garden-runc-1.11.1", "loggregator-101.6"])
def test_the_real_release_definitions_only_lack_their_fetched_source(name: str) -> None:
    found = problems(EXAMPLE.parent / name)
    assert len(found) == 1
    assert "src: no such directory; fetch the source first" in found[0]
