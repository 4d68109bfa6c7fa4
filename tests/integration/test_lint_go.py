"""picf's Go analyzer on fixtures in the style of analysistest: each `// want "REGEXP"` comment states a finding
that must be reported on its line (matched against `id: explanation`), and no other line may have one.

The analyzer is a separate Go program run by picf (it crosses a process), so these live with the integration
tests; they need neither root nor the simulated LAN.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from picf.models.node import Arch
from picf.releases.build import toolchains
from picf.releases.lint import gotypes
from picf.releases.lint.hazard import Hazard
from picf.releases.lint.tree import lint, lint_tree
from picf.releases.patch.patching import load_catalog

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "golint"
WANT = re.compile(r'//\s*want\s+"((?:[^"\\]|\\.)*)"')


def wants(root: Path) -> dict[tuple[str, int], list[str]]:
    out: dict[tuple[str, int], list[str]] = {}
    for path in sorted(root.rglob("*.go")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for pattern in WANT.findall(line):
                out.setdefault((str(path.relative_to(root)), n), []).append(pattern)
    return out


def check(root: Path, hazards: list[Hazard]) -> None:
    expected = wants(root)
    got: dict[tuple[str, int], list[str]] = {}
    for h in hazards:
        got.setdefault((h.path, h.line), []).append(f"{h.id}: {h.explanation}")
    problems = []
    for where, patterns in expected.items():
        for pattern in patterns:
            if not any(re.search(pattern, text) for text in got.get(where, [])):
                problems.append(f"{where[0]}:{where[1]}: no finding matches {pattern!r} (got {got.get(where)})")
    for where, texts in got.items():
        for text in texts:
            if not any(re.search(p, text) for p in expected.get(where, [])):
                problems.append(f"{where[0]}:{where[1]}: unexpected finding {text!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("tree", ["plain", "modtree", "gopath"])
def test_findings_are_exactly_the_wanted_ones(tree: str) -> None:
    check(FIXTURES / tree, lint_tree(FIXTURES / tree, "armv7", load_catalog()))


@pytest.mark.parametrize("arch", ["arm64", "amd64"])
def test_a_64_bit_target_has_none_of_the_32_bit_hazards(arch: Arch) -> None:
    for tree in ("plain", "modtree", "gopath"):
        assert lint_tree(FIXTURES / tree, arch, load_catalog()) == []


def test_a_vendored_type_is_sized_not_guessed() -> None:
    # modtree's Stream holds dep.Header from vendor/: resolved, so the verdict is exact, not "unproven".
    report = gotypes.analyze(FIXTURES / "modtree", "arm")
    assert [(f.struct, f.verdict, f.offset) for f in report.findings] == [("Stream", "misaligned", 12)]
    assert report.missing_imports == ()


def test_findings_name_the_go_whose_standard_library_sized_them() -> None:
    report = gotypes.analyze(FIXTURES / "plain", "arm")
    assert re.fullmatch(r"go1\.\d+(\.\d+)?", report.go_version)
    hazards = lint_tree(FIXTURES / "plain", "armv7", load_catalog())
    assert all(h.go == report.go_version for h in hazards if h.id.startswith("atomic64"))
    assert report.missing_imports == ("example.com/notinthetree/metrics",)


def test_each_pass_finds_exactly_what_its_own_fixtures_want() -> None:
    # `go test` of the analyzer's module, with the Go that builds it: each pass (one file) on its fixtures under
    # golint/testdata/src/<pass>, whose `// want` comments state its findings in the analyzer's own words.
    env = {
        **gotypes.go_env(),
        "PICF_GOLINT_STD_ARM": str(gotypes.std_exports("arm")),
        "PICF_GOLINT_STD_ARM64": str(gotypes.std_exports("arm64")),
    }
    done = subprocess.run(
        [gotypes.go_binary(), "test", "-count=1", "./..."],
        cwd=gotypes.SOURCE, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert (gotypes.SOURCE / "testdata" / "src" / "atomicalign").is_dir()


MISALIGNED = """package counter

import "sync/atomic"

type Counter struct {
	flags int32
	n     int64
}

func (c *Counter) Inc() { atomic.AddInt64(&c.n, 1) }
"""


@pytest.mark.parametrize("declared", ["1.21", "1.27"])
def test_structs_are_sized_with_the_go_the_tree_declares(tmp_path: Path, declared: str) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "go.mod").write_text(f"module example.com/counter\n\ngo {declared}\n")
    (tmp_path / "counter.go").write_text(MISALIGNED)
    toolchain, fallback = toolchains.provide(declared, fetch=False)  # the Go here for that version, offline
    report = lint(tmp_path, "armv7", load_catalog())
    [hazard] = report.hazards
    assert report.go_version == hazard.go == f"go{toolchain.version}"
    assert report.go_declared == f"go{declared} (go.mod)"
    assert f"[layout of go{toolchain.version}" in hazard.explanation
    if declared == "1.27" and not toolchain.version.startswith("1.27"):  # none here: the nearest, and it says so
        assert fallback and report.go_note.startswith(fallback) and fallback in hazard.explanation
    else:
        assert report.go_note == "" and f"[layout of go{toolchain.version}]" in hazard.explanation
