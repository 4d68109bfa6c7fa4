"""Patched fixtures really build and run: Go cross-compiled for arm, C with Debian's cross compilers, both
run under qemu-user. The unpatched 2018 shapes fail the way they failed on the Pis."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

UPSTREAM = Path(__file__).resolve().parents[1] / "data" / "upstream"


@pytest.fixture(scope="module")
def gocache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gocache")


def go_env(cache: Path, goarch: str) -> dict[str, str]:
    env = {**os.environ, "GOCACHE": str(cache), "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0", "GOARCH": goarch,
           "GOPATH": str(cache / "gopath"), "GOPROXY": "off", "GOTOOLCHAIN": "local"}  # fmt: skip
    if goarch == "arm":
        env["GOARM"] = "7"
    return env


def module(tmp: Path, component: str, module_path: str, main: str | None = None) -> Path:
    """A Go module holding a copy of the fixture component (and a main program that uses it)."""
    root = tmp / component
    shutil.copytree(UPSTREAM / component, root)
    (root / "go.mod").write_text(f"module {module_path}\n\ngo 1.19\n")
    if main is not None:
        (root / "cmd/try").mkdir(parents=True)
        (root / "cmd/try/main.go").write_text(main)
    return root


def go_build(
    root: Path, cache: Path, goarch: str, target: str = "./...", out: Path | None = None
) -> subprocess.CompletedProcess[str]:
    argv = ["go", "build", *(["-o", str(out)] if out else []), target]
    return subprocess.run(argv, cwd=root, env=go_env(cache, goarch), capture_output=True, text=True, timeout=600)


def picf_patch(picf_bin: Path, src: Path, arch: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(picf_bin), "release", "patch", str(src), "--arch", arch, *extra],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_grootfs_does_not_build_for_armv7_until_patched_and_then_builds_everywhere(
    tmp_path: Path, gocache: Path, picf_bin: Path
) -> None:
    root = module(tmp_path, "grootfs", "code.cloudfoundry.org/grootfs")
    broken = go_build(root, gocache, "arm")
    assert broken.returncode != 0
    assert "int64" in broken.stderr and "int32" in broken.stderr
    assert picf_patch(picf_bin, root, "armv7").returncode == 0
    for goarch in ("arm", "arm64", "amd64"):
        built = go_build(root, gocache, goarch)
        assert built.returncode == 0, (goarch, built.stderr)


IDMAPPER_MAIN = """package main

import (
\t"fmt"

\t"code.cloudfoundry.org/idmapper"
)

func main() {
\tmax, err := idmapper.MaxValidUid()
\tfmt.Println(max, err)
}
"""


def test_idmapper_parses_the_initial_uid_map_on_arm_once_patched(tmp_path: Path, gocache: Path, picf_bin: Path) -> None:
    if "4294967295" not in Path("/proc/self/uid_map").read_text():
        pytest.skip("this process is not in the initial user namespace")
    root = module(tmp_path, "idmapper", "code.cloudfoundry.org/idmapper", IDMAPPER_MAIN)
    program = tmp_path / "try"
    assert go_build(root, gocache, "arm", "./cmd/try", program).returncode == 0
    before = subprocess.run(["qemu-arm-static", str(program)], capture_output=True, text=True, timeout=120)
    assert "integer overflow" in before.stdout + before.stderr
    assert picf_patch(picf_bin, root, "armv7").returncode == 0
    assert go_build(root, gocache, "arm", "./cmd/try", program).returncode == 0
    after = subprocess.run(["qemu-arm-static", str(program)], capture_output=True, text=True, timeout=120)
    # uid_map says 0 0 4294967295: the size clamps to 2147483647, so the last uid is 2147483646.
    assert after.stdout.split() == ["2147483646", "<nil>"]


DIODES_MAIN = """package main

import (
\t"fmt"
\t"unsafe"

\tdiodes "code.cloudfoundry.org/go-diodes"
)

func main() {
\td := diodes.NewManyToOne(8, nil)
\tx := 42
\td.Set(diodes.GenericDataType(unsafe.Pointer(&x)))
\tv, ok := d.TryNext()
\tfmt.Println(*(*int)(unsafe.Pointer(v)), ok)
}
"""

METRON_MAIN = """package main

import (
\t"fmt"

\t"code.cloudfoundry.org/loggregator/metricemitter"
)

func main() {
\tc := &metricemitter.Counter{}
\tc.Increment(3)
\tg := &metricemitter.Gauge{}
\tg.Set(1.5)
\tfmt.Println(c.GetDelta(), g.Get())
}
"""


@pytest.mark.parametrize(
    ("component", "module_path", "main", "output"),
    [
        ("go-diodes", "code.cloudfoundry.org/go-diodes", DIODES_MAIN, "42 true"),
        ("loggregator", "code.cloudfoundry.org/loggregator", METRON_MAIN, "3 1.5"),
    ],
)
def test_align64_turns_the_armv7_atomic_panic_into_a_clean_run(
    tmp_path: Path, gocache: Path, picf_bin: Path, component: str, module_path: str, main: str, output: str
) -> None:
    root = module(tmp_path, component, module_path, main)
    program = tmp_path / "try"
    assert go_build(root, gocache, "arm", "./cmd/try", program).returncode == 0
    crash = subprocess.run(["qemu-arm-static", str(program)], capture_output=True, text=True, timeout=120)
    assert crash.returncode != 0
    assert "unaligned 64-bit atomic operation" in crash.stderr
    assert picf_patch(picf_bin, root, "armv7").returncode == 0
    assert go_build(root, gocache, "arm", "./cmd/try", program).returncode == 0
    clean = subprocess.run(["qemu-arm-static", str(program)], capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.strip() == output


NSTAR_MAIN = '#include "nstar.c"\n#include <stdio.h>\nint main(void) { printf("%d\\n", EXECVEAT_CODE); return 0; }\n'


def execveat_number(nstar_dir: Path, compiler: str, runner: list[str], out: Path) -> str:
    (nstar_dir / "main.c").write_text(NSTAR_MAIN)
    subprocess.run([compiler, "-static", "-o", str(out), str(nstar_dir / "main.c")], check=True, capture_output=True)
    return subprocess.run([*runner, str(out)], capture_output=True, text=True, check=True, timeout=60).stdout.strip()


def test_nstar_gets_each_arch_its_own_execveat_number(tmp_path: Path, picf_bin: Path) -> None:
    guardian = tmp_path / "guardian"
    shutil.copytree(UPSTREAM / "guardian", guardian)
    nstar = guardian / "rundmc/nstar"
    arm = ("arm-linux-gnueabihf-gcc", ["qemu-arm-static"])
    assert execveat_number(nstar, *arm, tmp_path / "a") == "322"  # the 2018 bug: openat on arm
    assert picf_patch(picf_bin, guardian, "armv7").returncode == 0
    assert execveat_number(nstar, *arm, tmp_path / "b") == "387"
    assert execveat_number(nstar, "aarch64-linux-gnu-gcc", ["qemu-aarch64-static"], tmp_path / "c") == "281"
    assert execveat_number(nstar, "gcc", [], tmp_path / "d") == "322"


def test_patch_cli_reports_json_exit_codes_and_diffs(tmp_path: Path, picf_bin: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(UPSTREAM, src)
    checked = picf_patch(picf_bin, src, "armv7", "--check", "--json")
    assert checked.returncode == 0
    assert {r["status"] for r in json.loads(checked.stdout)} == {"applied"}
    assert not list(src.rglob("*.orig"))
    shown = picf_patch(picf_bin, src, "armv7", "--only", "grootfs-utime-omit", "--diff")
    assert "+const utimeOmit = (1 << 30) - 2" in shown.stdout
    (src / "idmapper/max_valid_uid.go").write_text("package idmapper\n")
    broken = picf_patch(picf_bin, src, "armv7", "--only", "idmapper-uid-map-overflow")
    assert broken.returncode == 1
    assert "anchor-missing" in broken.stdout and "Traceback" not in broken.stderr
    assert (src / "idmapper/max_valid_uid.go").read_text() == "package idmapper\n"
    bad = picf_patch(picf_bin, src, "sparc")
    assert bad.returncode == 2


def test_lint_cli_exit_codes(tmp_path: Path, picf_bin: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(UPSTREAM, src)
    lint = [str(picf_bin), "release", "lint", str(src)]
    dirty = subprocess.run([*lint, "--arch", "armv7", "--json"], capture_output=True, text=True, timeout=120)
    assert dirty.returncode == 1
    assert {h["id"] for h in json.loads(dirty.stdout)["hazards"]} >= {"atomic64-misaligned", "timespec-int64"}
    assert picf_patch(picf_bin, src, "armv7").returncode == 0
    clean = subprocess.run([*lint, "--arch", "armv7"], capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0, clean.stdout
    assert "0 hazard(s)" in clean.stderr
