"""The ARM patch catalog and its transforms, on fixtures with the upstream shapes (align64 asks picf's Go analyzer,
a separate process, where the fields are)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from picf.models.patch import Patch
from picf.releases.build import toolchains
from picf.releases.patch.patching import component_roots, load_catalog, patch_tree

UPSTREAM = Path(__file__).resolve().parents[1] / "data" / "upstream"
FACTS_FIXES = {
    "grootfs-utime-omit", "grootfs-statfs-type", "idmapper-uid-map-overflow", "guardian-seccomp-arm",
    "nstar-execveat-arm", "diodes-manytoone-align", "metricemitter-align",
}  # fmt: skip


@pytest.fixture
def upstream(tmp_path: Path) -> Path:
    target = tmp_path / "src"
    shutil.copytree(UPSTREAM, target)
    return target


def statuses(results: list) -> dict[str, str]:  # type: ignore[type-arg]
    return {r.patch: r.status for r in results}


def snapshot(tree: Path) -> dict[str, bytes]:
    return {str(p.relative_to(tree)): p.read_bytes() for p in sorted(tree.rglob("*")) if p.is_file()}


def test_the_catalog_has_one_entry_per_fix_in_the_facts() -> None:
    catalog = load_catalog()
    assert {p.id for p in catalog} == FACTS_FIXES
    for patch in catalog:
        assert len(patch.why) > 150, f"{patch.id}: say why in a paragraph"
        assert patch.repo.startswith("cloudfoundry/")


def test_every_patch_applies_to_the_2018_shapes_for_armv7(upstream: Path) -> None:
    results = patch_tree(upstream, "armv7")
    assert statuses(results) == dict.fromkeys(FACTS_FIXES, "applied")


def test_applying_twice_changes_nothing(upstream: Path) -> None:
    patch_tree(upstream, "armv7")
    after_first = snapshot(upstream)
    assert set(statuses(patch_tree(upstream, "armv7")).values()) == {"already-applied"}
    assert snapshot(upstream) == after_first


def test_check_changes_nothing_but_reports_what_would_change(upstream: Path) -> None:
    before = snapshot(upstream)
    results = patch_tree(upstream, "armv7", check=True)
    assert set(statuses(results).values()) == {"applied"}
    assert all(r.diff for r in results)
    assert snapshot(upstream) == before


def test_originals_are_kept_beside_changed_files(upstream: Path) -> None:
    original = (upstream / "go-diodes/many_to_one.go").read_bytes()
    patch_tree(upstream, "armv7", only="diodes-manytoone-align")
    assert (upstream / "go-diodes/many_to_one.go.orig").read_bytes() == original
    assert (upstream / "go-diodes/many_to_one.go").read_bytes() != original


def test_patches_for_other_arches_are_reported_not_needed(upstream: Path) -> None:
    results = statuses(patch_tree(upstream, "arm64"))
    assert results["grootfs-utime-omit"] == "not-needed"
    assert results["metricemitter-align"] == "not-needed"
    assert results["guardian-seccomp-arm"] == "applied"
    assert set(statuses(patch_tree(upstream, "amd64")).values()) == {"not-needed"}


def test_a_changed_upstream_file_is_an_anchor_missing_and_left_untouched(upstream: Path) -> None:
    path = upstream / "grootfs/base_image_puller/unpacker/tar_modtime_linux.go"
    path.write_text(path.read_text().replace("const utimeOmit int64 = ((1 << 30) - 2)", "var utimeOmit = omit()"))
    before = snapshot(upstream / "grootfs")
    [result] = patch_tree(upstream, "armv7", only="grootfs-utime-omit")
    assert result.status == "anchor-missing"
    assert "const utimeOmit int64" in result.detail
    assert snapshot(upstream / "grootfs") == before


def test_an_anchor_formatted_differently_still_matches(upstream: Path) -> None:
    path = upstream / "grootfs/base_image_puller/unpacker/tar_modtime_linux.go"
    path.write_text(path.read_text().replace("((1 << 30) - 2)", "( (1<<30) -2 )"))
    [result] = patch_tree(upstream, "armv7", only="grootfs-utime-omit")
    assert result.status == "applied"
    assert "const utimeOmit = (1 << 30) - 2" in path.read_text()


@pytest.mark.parametrize(
    ("patch_id", "file", "old", "new"),
    [
        # idmapper d11c131: parse into 64-bit ints.
        ("idmapper-uid-map-overflow", "idmapper/max_valid_uid.go", "var container, host, size int\n",
         "var container, host, size int64\n"),
        # go-diodes 3385e722: writeIndex moved to the top (readIndex, not atomic, stays).
        ("diodes-manytoone-align", "go-diodes/many_to_one.go",
         "\tbuffer     []unsafe.Pointer\n\twriteIndex uint64 // bumped by every writer\n",
         "\twriteIndex uint64 // bumped by every writer\n\tbuffer     []unsafe.Pointer\n"),
    ],
)  # fmt: skip
def test_fixed_upstream_is_told_apart_from_anchor_missing(
    upstream: Path, patch_id: str, file: str, old: str, new: str
) -> None:
    path = upstream / file
    text = path.read_text()
    assert old in text
    fixed = text.replace(old, new)
    if patch_id == "idmapper-uid-map-overflow":
        fixed = fixed.replace("fmt.Sscanf(", "scanWide(")  # upstream's own code around it
    path.write_text(fixed)
    [result] = patch_tree(upstream, "armv7", only=patch_id)
    assert result.status == "fixed-upstream"
    assert path.read_text() == fixed


def test_nstar_fixed_upstream_for_arm64_only(upstream: Path) -> None:
    path = upstream / "guardian/rundmc/nstar/nstar.c"
    path.write_text(
        path.read_text().replace(
            "#define EXECVEAT_CODE 322 /* want: syscall-number-hardcoded */",
            "#if defined(__aarch64__)\n#define EXECVEAT_CODE 281\n#else\n#define EXECVEAT_CODE 322\n#endif",
        )
    )
    assert statuses(patch_tree(upstream, "arm64", only="nstar-execveat-arm", check=True)) == {
        "nstar-execveat-arm": "fixed-upstream"
    }
    assert statuses(patch_tree(upstream, "armv7", only="nstar-execveat-arm")) == {"nstar-execveat-arm": "applied"}
    assert "#define EXECVEAT_CODE 387" in path.read_text()


def test_seccomp_switched_off_is_refused_not_patched_around(upstream: Path) -> None:
    path = upstream / "guardian/guardiancmd/seccomp.go"
    path.write_text(path.read_text() + "\nfunc init() { spec.Linux.Seccomp = nil }\n")
    before = path.read_bytes()
    [result] = patch_tree(upstream, "armv7", only="guardian-seccomp-arm")
    assert result.status == "anchor-missing"
    assert "switched off" in result.detail
    assert path.read_bytes() == before


def test_seccomp_gets_arm_arches_and_arm_only_syscalls(upstream: Path) -> None:
    patch_tree(upstream, "armv7", only="guardian-seccomp-arm")
    text = (upstream / "guardian/guardiancmd/seccomp.go").read_text()
    assert "specs.ArchARM, specs.ArchAARCH64" in text
    for name in ("set_tls", "cacheflush", "arm_fadvise64_64", "arm_sync_file_range", "breakpoint"):
        assert f'"{name}",' in text
    assert "nil" not in text


def test_align64_moves_fields_and_keeps_comments_and_tags(tmp_path: Path) -> None:
    pkg = tmp_path / "go-diodes"
    pkg.mkdir()
    (pkg / "many_to_one.go").write_text(
        'package diodes\n\nimport "sync/atomic"\n\ntype ManyToOne struct {\n'
        '\t// the ring\n\tbuffer []byte `json:"buffer"`\n'
        '\t// written by everyone\n\twriteIndex uint64 `json:"w"` // hot\n'
        "\tdone, failed uint64\n}\n\n"
        "func (d *ManyToOne) Set() { atomic.AddUint64(&d.writeIndex, 1); atomic.AddUint64(&d.failed, 1) }\n"
    )
    [result] = patch_tree(pkg, "armv7", only="diodes-manytoone-align")
    assert result.status == "applied"
    body = (pkg / "many_to_one.go").read_text().split("struct {\n")[1].split("}\n")[0].splitlines()
    assert body == [
        "\t// picf(diodes-manytoone-align): 64-bit atomic fields first, 8-byte aligned on 32-bit ARM",
        "\t// written by everyone",
        '\twriteIndex uint64 `json:"w"` // hot',
        "\tdone, failed uint64",
        "\t// the ring",
        '\tbuffer []byte `json:"buffer"`',
    ]


# sync.WaitGroup is 12 bytes on 32-bit ARM up to Go 1.19 and 16 from Go 1.20 (its counter became an 8-byte aligned
# atomic.Uint64): the field after it is misaligned, or not, depending on the Go that compiles the tree.
WAITGROUP_FIRST = (
    'package diodes\n\nimport (\n\t"sync"\n\t"sync/atomic"\n)\n\ntype ManyToOne struct {\n'
    "\twg         sync.WaitGroup\n\twriteIndex uint64\n}\n\n"
    "func (d *ManyToOne) Set() { atomic.AddUint64(&d.writeIndex, 1) }\n"
)


@pytest.mark.parametrize(("go_mod", "go"), [("1.19", None), ("1.21", None), (None, "1.21")])
def test_align64_sizes_with_the_go_the_tree_declares(tmp_path: Path, go_mod: str | None, go: str | None) -> None:
    pkg = tmp_path / "go-diodes"
    pkg.mkdir()
    (pkg / "many_to_one.go").write_text(WAITGROUP_FIRST)
    if go_mod:
        (pkg / "go.mod").write_text(f"module code.cloudfoundry.org/go-diodes\n\ngo {go_mod}\n")
    toolchain, _ = toolchains.provide(go_mod or go or "", fetch=False)  # the Go here for that version, offline
    moved = int(toolchain.version.split(".")[1]) < 20
    [result] = patch_tree(pkg, "armv7", only="diodes-manytoone-align", go=go)
    assert result.status == ("applied" if moved else "fixed-upstream")
    assert ((pkg / "many_to_one.go").read_text() == WAITGROUP_FIRST) is not moved


def test_releases_with_submodules_and_vendored_copies_are_recognised(tmp_path: Path) -> None:
    release = tmp_path / "garden-runc-release"
    for component in ("grootfs", "guardian", "idmapper"):
        shutil.copytree(UPSTREAM / component, release / "src/code.cloudfoundry.org" / component)
    loggregator = tmp_path / "loggregator-release"
    shutil.copytree(UPSTREAM / "loggregator", loggregator / "src/code.cloudfoundry.org/loggregator")
    shutil.copytree(
        UPSTREAM / "go-diodes",
        loggregator / "src/code.cloudfoundry.org/loggregator/vendor/github.com/cloudfoundry/go-diodes",
    )
    garden = statuses(patch_tree(release, "armv7", check=True))
    assert garden == dict.fromkeys(
        ["grootfs-statfs-type", "grootfs-utime-omit", "guardian-seccomp-arm", "idmapper-uid-map-overflow",
         "nstar-execveat-arm"], "applied")  # fmt: skip
    logs = patch_tree(loggregator, "armv7", check=True)
    assert {(r.patch, r.root.split("/")[-1]) for r in logs} == {
        ("diodes-manytoone-align", "go-diodes"),
        ("metricemitter-align", "loggregator"),
    }


def test_a_short_path_needs_the_repository_to_be_recognised(tmp_path: Path) -> None:
    stranger = tmp_path / "my-project"
    stranger.mkdir()
    (stranger / "many_to_one.go").write_text("package x\n")
    diodes: Patch = next(p for p in load_catalog() if p.id == "diodes-manytoone-align")
    assert component_roots(stranger, diodes) == []
    (stranger / "go.mod").write_text("module github.com/cloudfoundry/go-diodes\n")
    assert component_roots(stranger, diodes) == [stranger]


def test_the_idmapper_fix_upstream_chose_uint_is_left_alone(upstream: Path) -> None:
    # Upstream's own fix scans into uint (4294967295 fits on 32-bit ARM) and keeps the fmt.Sscanf call.
    path = upstream / "idmapper/max_valid_uid.go"
    text = path.read_text()
    fixed = text.replace("var container, host, size int\n", "var container, host, size uint\n")
    assert fixed != text and "fmt.Sscanf(" in fixed
    path.write_text(fixed)
    assert statuses(patch_tree(upstream, "armv7", only="idmapper-uid-map-overflow")) == {
        "idmapper-uid-map-overflow": "fixed-upstream"
    }
    assert path.read_text() == fixed


SECCOMP_LATER = """package guardiancmd

import specs "github.com/opencontainers/runtime-spec/specs-go"

func buildSeccomp() *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{
			specs.ArchX86_64,
			specs.ArchX86,
		},
		Syscalls: []specs.LinuxSyscall{
			AllowSyscall("openat"),
			AllowSyscall("read"),
			AllowSyscall("write"),
		},
	}
}
"""


def test_seccomp_in_its_later_file_and_shape_gets_the_same_entries(tmp_path: Path) -> None:
    # Later guardian keeps the profile in seccomp_linux.go with one AllowSyscall call per syscall.
    root = tmp_path / "guardian"
    (root / "guardiancmd").mkdir(parents=True)
    path = root / "guardiancmd" / "seccomp_linux.go"
    path.write_text(SECCOMP_LATER)
    assert statuses(patch_tree(root, "armv7", only="guardian-seccomp-arm")) == {"guardian-seccomp-arm": "applied"}
    text = path.read_text()
    assert "specs.ArchAARCH64, // picf(guardian-seccomp-arm)" in text
    lines = text.splitlines()
    after_read = lines[lines.index('\t\t\tAllowSyscall("read"),') + 1 :]
    assert after_read[0].strip().startswith("// picf(guardian-seccomp-arm)")
    assert [ln.strip() for ln in after_read[1:6]] == [
        f'AllowSyscall("{s}"),'
        for s in ("set_tls", "cacheflush", "arm_fadvise64_64", "arm_sync_file_range", "breakpoint")
    ]
    assert statuses(patch_tree(root, "armv7", only="guardian-seccomp-arm")) == {
        "guardian-seccomp-arm": "already-applied"
    }
