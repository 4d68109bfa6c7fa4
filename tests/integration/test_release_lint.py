"""The 32-bit ARM lint over a fixture corpus annotated with `want: <hazard-id>`: precision and recall."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from picf.models.node import Arch
from picf.releases.lint import preprocessor
from picf.releases.lint.tree import lint_tree
from picf.releases.patch.patching import load_catalog, patch_tree

DATA = Path(__file__).resolve().parents[1] / "data"
CORPORA = (DATA / "lint", DATA / "upstream")
# JSON cannot carry comments; its expected findings are listed here.
JSON_WANTS = {("seccompjson/seccomp-profile.json", 1, "seccomp-arch-missing")}
ALL_ARCH_IDS = {"seccomp-arch-missing", "seccomp-disabled", "syscall-number-hardcoded"}


def wanted(root: Path, arch: Arch) -> set[tuple[str, int, str]]:
    out = set()
    for path in sorted(root.rglob("*")):
        if path.suffix not in {".go", ".c", ".h"}:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for hazard in re.findall(r"want: ([a-z0-9-]+)", line):
                if arch in {"armv6", "armv7"} or hazard in ALL_ARCH_IDS:
                    out.add((str(path.relative_to(root)), n, hazard))
    if root.name == "lint":
        out |= JSON_WANTS
    return out


def found(root: Path, arch: Arch) -> set[tuple[str, int, str]]:
    return {(h.path, h.line, h.id) for h in lint_tree(root, arch, load_catalog())}


@pytest.mark.parametrize("arch", ["armv7", "armv6", "arm64"])
def test_precision_and_recall_over_the_fixture_corpus(arch: Arch, capsys: pytest.CaptureFixture[str]) -> None:
    expected = set().union(*(wanted(root, arch) for root in CORPORA))
    got = set().union(*(found(root, arch) for root in CORPORA))
    hits = expected & got
    precision = len(hits) / len(got) if got else 1.0
    recall = len(hits) / len(expected) if expected else 1.0
    with capsys.disabled():
        print(
            f"\nlint {arch}: {len(expected)} expected, {len(got)} found, precision {precision:.2f}, recall {recall:.2f}"
        )
    assert got - expected == set(), "false positives"
    assert expected - got == set(), "missed hazards"


def test_amd64_has_no_32_bit_hazards() -> None:
    assert found(DATA / "lint", "amd64") == {("seccompjson/off.go", 8, "seccomp-disabled")}


def test_the_patched_upstream_shapes_are_clean(tmp_path: Path) -> None:
    tree = tmp_path / "src"
    shutil.copytree(DATA / "upstream", tree)
    assert found(tree, "armv7")
    patch_tree(tree, "armv7")
    assert found(tree, "armv7") == set()
    assert found(tree, "arm64") == set()


def test_every_hazard_names_the_patch_that_fixes_it_when_there_is_one() -> None:
    hazards = lint_tree(DATA / "upstream", "armv7", load_catalog())
    catalog_ids = {p.id for p in load_catalog()}
    assert {h.fix for h in hazards} <= catalog_ids
    assert str(hazards[0]).count(": ") >= 2 and "(fix: " in str(hazards[0])


FALLBACK_C = """#include <unistd.h>
#if defined (__PPC64__)
#define EXECVEAT_CODE 362
#elif defined (__aarch64__)
#define EXECVEAT_CODE 281
#else
#define EXECVEAT_CODE 322
#endif
int run(int fd) { return syscall(EXECVEAT_CODE, fd, "", 0, 0, 0x1000); }
"""


@pytest.mark.parametrize(("arch", "lines"), [("armv7", [7]), ("armv6", [7]), ("arm64", [])])
def test_a_c_number_is_judged_by_the_branch_the_targets_compiler_takes(
    tmp_path: Path, arch: Arch, lines: list[int]
) -> None:
    # The shape nstar has had since arm64 got its own number: armv7 falls through to x86_64's 322.
    (tmp_path / "nstar.c").write_text(FALLBACK_C)
    hazards = lint_tree(tmp_path, arch)
    assert [h.line for h in hazards] == lines
    assert all("x86_64's execveat" in h.explanation for h in hazards)


BY_ARM_ARCH_C = """#include <unistd.h>
#if defined(__arm__) && __ARM_ARCH >= 7
#define UNSHARE_CODE 337
#elif defined(__aarch64__)
#define UNSHARE_CODE 97
#else
#define UNSHARE_CODE 272
#endif
int run(void) { return syscall(UNSHARE_CODE, 0); }
"""

BY_WORD_SIZE_C = """#include <unistd.h>
#if __SIZEOF_LONG__ == 8
#define GETRANDOM_CODE 318
#else
#define GETRANDOM_CODE 384
#endif
int run(void) { return syscall(GETRANDOM_CODE, 0, 0, 0); }
"""


@pytest.mark.parametrize(
    ("source", "arch", "lines"),
    [
        # armv6's compiler says __ARM_ARCH 6: it falls through to x86_64's 272, armv7's takes its own 337.
        (BY_ARM_ARCH_C, "armv7", []),
        (BY_ARM_ARCH_C, "armv6", [7]),
        (BY_ARM_ARCH_C, "arm64", []),
        # A test of the word size is no test of the architecture: arm64 compiles x86_64's getrandom.
        (BY_WORD_SIZE_C, "arm64", [3]),
        (BY_WORD_SIZE_C, "armv7", [5]),
    ],
    ids=["arm-arch-armv7", "arm-arch-armv6", "arm-arch-arm64", "word-size-arm64", "word-size-armv7"],
)
def test_a_condition_is_what_the_targets_compiler_predefines(
    tmp_path: Path, source: str, arch: Arch, lines: list[int]
) -> None:
    (tmp_path / "calls.c").write_text(source)
    assert [h.line for h in lint_tree(tmp_path, arch)] == lines


def test_each_compiler_answers_the_conditions_it_can_decide() -> None:
    verdicts = preprocessor.judge(
        [
            "defined(__x86_64__)",
            "__SIZEOF_LONG__ == 8",
            "__ARM_ARCH >= 7",
            "defined(SYS_execveat)",
            "defined(__arm__) &&",
        ],
        "armv6",
    )
    assert preprocessor.others("armv6") == ("arm64", "amd64")
    assert verdicts == {
        "defined(__x86_64__)": (False, False, True),
        "__SIZEOF_LONG__ == 8": (False, True, True),
        "__ARM_ARCH >= 7": (False, True, False),  # aarch64's compiler says 8; x86_64's defines no __ARM_ARCH
        "defined(SYS_execveat)": (None, None, None),  # the C library's, not the compiler's
        "defined(__arm__) &&": (None, None, None),  # malformed
    }
    assert preprocessor.predefined("armv7")["__ARM_ARCH"] == "7"
