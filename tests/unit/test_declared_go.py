"""Which Go a source tree declares: its release's golang package, else its go.mod's `go` line."""

from __future__ import annotations

from pathlib import Path

from picf.releases.lint.declared_go import DeclaredGo, declared_go


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_module_declares_its_go_line(tmp_path: Path) -> None:
    write(tmp_path / "go.mod", "module example.com/x\n\ngo 1.21.5\n\nrequire example.com/y v1.0.0\n")
    assert declared_go(tmp_path) == DeclaredGo("1.21.5", "go.mod")


def test_a_package_of_a_module_takes_the_go_mod_above_it(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    write(tmp_path / "go.mod", "module example.com/x\ngo 1.20\n")
    app = write(tmp_path / "cmd" / "app" / "main.go", "package main\n").parent
    assert declared_go(app) == DeclaredGo("1.20", str((tmp_path / "go.mod").resolve()))


def test_a_go_mod_beyond_the_checkout_is_not_the_trees(tmp_path: Path) -> None:
    write(tmp_path / "go.mod", "module example.com/outer\ngo 1.22\n")
    (tmp_path / "inner" / ".git").mkdir(parents=True)
    assert declared_go(tmp_path / "inner") is None


def test_a_tree_of_modules_takes_the_shallowest_not_a_vendored_one(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    write(tmp_path / "vendor" / "a" / "go.mod", "module a\ngo 1.23\n")
    write(tmp_path / "src" / "b" / "go.mod", "module b\ngo 1.17\n")
    write(tmp_path / "src" / "b" / "c" / "go.mod", "module c\ngo 1.22\n")
    assert declared_go(tmp_path) == DeclaredGo("1.17", "src/b/go.mod")


def test_inside_a_release_its_golang_package_wins_over_go_mod(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    write(tmp_path / "packages" / "golang-1.21-linux" / "spec.lock", "name: golang-1.21-linux\nfingerprint: abc\n")
    write(
        tmp_path / "packages" / "golang-old" / "spec", "name: golang-old\nfiles:\n- golang/go1.9.4.linux-amd64.tar.gz\n"
    )
    write(tmp_path / "packages" / "app" / "spec", "name: app\ndependencies: [golang-1.21-linux]\nfiles: [app/**/*]\n")
    src = write(tmp_path / "src" / "app" / "go.mod", "module app\ngo 1.19\n").parent
    assert declared_go(src) == DeclaredGo("1.21", "packages/golang-1.21-linux")
    assert declared_go(tmp_path) == DeclaredGo("1.21", "packages/golang-1.21-linux")


def test_a_tree_that_says_nothing_declares_nothing(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    write(tmp_path / "main.go", "package main\n")
    assert declared_go(tmp_path) is None
