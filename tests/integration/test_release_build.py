"""`picf release build` for real: Go and C cross-compiled for armv7 and arm64, run under qemu-user."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest

from picf.models.release import CompiledRelease
from picf.releases.store import Store

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "releases" / "logfwd"
TARBALL = Path(__file__).resolve().parents[1] / "data" / "releases" / "logfwd-0.1.0.tgz"
QEMU = {"armv7": "qemu-arm-static", "arm64": "qemu-aarch64-static"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("picf-data")


def picf(picf_bin: Path, data_dir: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PICF_DATA_DIR": str(data_dir)}
    return subprocess.run([str(picf_bin), *args], capture_output=True, text=True, timeout=timeout, env=env)


def build(picf_bin: Path, data_dir: Path, release: Path, arch: str, *extra: str) -> dict:  # type: ignore[type-arg]
    done = picf(picf_bin, data_dir, "release", "build", str(release), "--arch", arch, "--json", *extra)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def unpack(data_dir: Path, manifest: dict, package: str, into: Path) -> Path:  # type: ignore[type-arg]
    compiled = CompiledRelease.model_validate(manifest["release"])
    entry = next(p for p in compiled.packages if p.name == package)
    with tarfile.open(Store(data_dir / "store").blob(entry.sha256)) as tar:
        tar.extractall(into, filter="data")
    return into / "bin"


def run_briefly(argv: list[str], seconds: float = 3) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["timeout", str(seconds), *argv], capture_output=True, text=True)


def test_the_example_panics_on_armv7_like_metron_and_runs_once_patched(
    picf_bin: Path, data_dir: Path, tmp_path: Path
) -> None:
    plain = build(picf_bin, data_dir, EXAMPLE, "armv7")
    bin_dir = unpack(data_dir, plain, "logfwd", tmp_path / "plain")
    crash = run_briefly([QEMU["armv7"], str(bin_dir / "logfwd"), "-config", "/nonexistent"])
    assert crash.returncode == 2
    assert "panic: unaligned 64-bit atomic operation" in crash.stderr

    patched = build(picf_bin, data_dir, EXAMPLE, "armv7", "--patch")
    assert patched["release"]["patches"] == ["align64:Counter"]
    bin_dir = unpack(data_dir, patched, "logfwd", tmp_path / "patched")
    config = tmp_path / "logfwd.json"
    config.write_text(json.dumps({"listen": "127.0.0.1:0", "forward_to": os.devnull, "report_every": "1s"}))
    ok = run_briefly([QEMU["armv7"], str(bin_dir / "logfwd"), "-config", str(config)])
    assert ok.returncode == 124, ok.stderr  # still running when timeout stopped it
    assert "logfwd linux/arm listening" in ok.stderr


def test_arm64_runs_unpatched(picf_bin: Path, data_dir: Path, tmp_path: Path) -> None:
    manifest = build(picf_bin, data_dir, EXAMPLE, "arm64")
    config = tmp_path / "logfwd.json"
    config.write_text(json.dumps({"listen": "127.0.0.1:0", "forward_to": os.devnull}))
    bin_dir = unpack(data_dir, manifest, "logfwd", tmp_path / "arm64")
    ok = run_briefly([QEMU["arm64"], str(bin_dir / "logfwd"), "-config", str(config)])
    assert ok.returncode == 124, ok.stderr
    assert "logfwd linux/arm64 listening" in ok.stderr


def _listen() -> tuple[socket.socket, list[bytes]]:
    server = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def accept() -> None:
        conn, _ = server.accept()
        data = b""
        with conn:
            while chunk := conn.recv(1024):
                data += chunk
        received.append(data)

    threading.Thread(target=accept, daemon=True).start()
    return server, received


@pytest.mark.parametrize(("arch", "bits"), [("armv7", "32-bit"), ("arm64", "64-bit")])
def test_the_c_package_cross_compiles_and_runs_under_qemu(
    picf_bin: Path, data_dir: Path, tmp_path: Path, arch: str, bits: str
) -> None:
    manifest = build(picf_bin, data_dir, EXAMPLE, arch)
    bin_dir = unpack(data_dir, manifest, "lineprobe", tmp_path / arch)
    file_type = subprocess.run(["od", "-An", "-tx1", "-N5", str(bin_dir / "lineprobe")], capture_output=True,
                               text=True).stdout.split()  # fmt: skip
    assert file_type == ["7f", "45", "4c", "46", "01" if arch == "armv7" else "02"]  # ELF32 / ELF64
    server, received = _listen()
    with server:
        port = server.getsockname()[1]
        sent = subprocess.run([QEMU[arch], str(bin_dir / "lineprobe"), str(port), "hello pi"], capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        deadline = time.monotonic() + 60  # a hang guard only
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
    assert sent.returncode == 0, sent.stderr
    assert bits in sent.stdout
    assert received == [b"hello pi\n"]


def test_a_second_build_compiles_nothing(picf_bin: Path, data_dir: Path) -> None:
    build(picf_bin, data_dir, EXAMPLE, "armv7")
    store = sorted(p.name for p in (data_dir / "store" / "compiled").iterdir())
    again = build(picf_bin, data_dir, EXAMPLE, "armv7")
    assert again["compiled"] == []
    assert sorted(again["cached"]) == ["golang-1.21-linux", "lineprobe", "logfwd"]
    assert sorted(p.name for p in (data_dir / "store" / "compiled").iterdir()) == store  # nothing new was made


def test_the_release_tarball_is_the_same_release_so_its_build_compiles_nothing_more(
    picf_bin: Path, data_dir: Path
) -> None:
    """bosh-cli's tarball of the example (tests/data/releases) holds the same packages with the same
    fingerprints: picf's compile cache is keyed by them, so the repository's build serves the tarball's."""
    from_repo = build(picf_bin, data_dir, EXAMPLE, "armv7")
    from_tarball = build(picf_bin, data_dir, TARBALL, "armv7")
    assert from_tarball["compiled"] == []
    keys = {p["name"]: p["key"] for p in from_repo["release"]["packages"]}
    assert {p["name"]: p["key"] for p in from_tarball["release"]["packages"]} == keys
    assert from_tarball["release"]["version"] == from_repo["release"]["version"] == "0.1.0"


def test_a_build_for_one_job_compiles_only_what_that_job_needs(picf_bin: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    only = build(picf_bin, data, EXAMPLE, "arm64", "--job", "logsink")
    assert only["compiled"] == ["logfwd"]  # logsink's binary is in the logfwd package; lineprobe is not needed
    assert [j["name"] for j in only["release"]["jobs"]] == ["logsink"]
    unknown = picf(picf_bin, data, "release", "build", str(EXAMPLE), "--arch", "arm64", "--job", "nope")
    assert unknown.returncode == 2 and "no job 'nope' in logfwd (its jobs: logfwd, logsink)" in unknown.stderr


def _two_package_release(root: Path) -> Path:
    """A tiny BOSH release where package `app` depends on `lib`; app's packaging shows what it ran with."""
    files = {
        "config/final.yml": "---\nfinal_name: two\nblobstore: {provider: local, options: {blobstore_path: .bs}}\n",
        "src/lib/lib.txt": "lib v1\n",
        "src/app/app.txt": "app v1\n",
        "packages/lib/spec": "---\nname: lib\nfiles:\n- lib/*.txt\n",
        "packages/lib/packaging": (
            'mkdir -p "$BOSH_INSTALL_TARGET/share"; cp lib/lib.txt "$BOSH_INSTALL_TARGET/share"\n'
        ),
        "packages/app/spec": "---\nname: app\ndependencies: [lib]\nfiles:\n- app/app.txt\n",
        "packages/app/packaging": (
            'mkdir -p "$BOSH_INSTALL_TARGET/share"\n'
            'cat app/app.txt /var/vcap/packages/lib/share/lib.txt > "$BOSH_INSTALL_TARGET/share/app.txt"\n'
            'echo "$BOSH_PACKAGE_NAME $(gcc -dumpmachine) $PWD" >> "$BOSH_INSTALL_TARGET/share/app.txt"\n'
        ),
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_changing_one_package_rebuilds_it_and_its_dependents_only(
    picf_bin: Path, data_dir: Path, tmp_path: Path
) -> None:
    release = _two_package_release(tmp_path / "two")

    def compiled(manifest_args: tuple[str, ...] = ()) -> list[str]:
        done = picf(picf_bin, data_dir, "release", "build", str(release), "--arch", "armv7")
        assert done.returncode == 0, done.stderr
        return [line.split()[1] for line in done.stderr.splitlines() if line.startswith("compiled ")]

    assert compiled() == ["lib", "app"]
    assert compiled() == []
    (release / "src/app/app.txt").write_text("app v2\n")
    assert compiled() == ["app"]
    (release / "src/lib/lib.txt").write_text("lib v2\n")
    assert compiled() == ["lib", "app"]
    manifest = CompiledRelease.model_validate(
        json.loads(picf(picf_bin, data_dir, "release", "inspect", "two", "--json").stdout)[0]
    )
    app = next(p for p in manifest.packages if p.name == "app")
    with tarfile.open(Store(data_dir / "store").blob(app.sha256)) as tar:
        member = tar.extractfile("./share/app.txt")
        assert member is not None
        # As the BOSH agent runs it: its dependency at /var/vcap/packages/lib, in /var/vcap/data/compile/app,
        # and `gcc` is the target's compiler.
        assert member.read().decode() == "app v2\nlib v2\napp arm-linux-gnueabihf /var/vcap/data/compile/app\n"


def test_a_failing_package_shows_the_compilers_message(picf_bin: Path, data_dir: Path, tmp_path: Path) -> None:
    release = tmp_path / "logfwd"
    shutil.copytree(EXAMPLE, release)
    source = release / "src/lineprobe/lineprobe.c"
    source.write_text(source.read_text().replace("int fd = socket", "int fd = sockte"))
    failed = picf(picf_bin, data_dir, "release", "build", str(release), "--arch", "arm64")
    assert failed.returncode == 1
    assert "lineprobe.c" in failed.stderr and "sockte" in failed.stderr
    assert "package lineprobe failed to build for arm64" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_a_killed_build_leaves_nothing_a_later_build_trusts(picf_bin: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    release = _two_package_release(tmp_path / "slow")
    (release / "packages/lib/packaging").write_text(
        'mkdir -p "$BOSH_INSTALL_TARGET/share"; head -c 1000000 /dev/zero > "$BOSH_INSTALL_TARGET/share/big"; '
        "sleep 30\n"
    )
    env = {**os.environ, "PICF_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen([str(picf_bin), "release", "build", str(release), "--arch", "armv7"], env=env,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 30
    while not list((data_dir / "store/tmp").glob("build-lib-*/install/share/big")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    store = data_dir / "store"
    assert list((store / "compiled").iterdir()) == []
    assert list((store / "releases").iterdir()) == []
    (release / "packages/lib/packaging").write_text(
        'mkdir -p "$BOSH_INSTALL_TARGET/share"; echo ok > "$BOSH_INSTALL_TARGET/share/lib.txt"\n'
    )
    again = subprocess.run([str(picf_bin), "release", "build", str(release), "--arch", "armv7"], env=env,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "compiled lib" in again.stderr
    assert list((store / "tmp").iterdir()) == []


def test_lint_flags_the_example_and_validate_accepts_it(picf_bin: Path, data_dir: Path) -> None:
    lint = picf(picf_bin, data_dir, "release", "lint", str(EXAMPLE), "--arch", "armv7")
    assert lint.returncode == 1
    assert "src/logfwd/metrics/counter.go:20: atomic64-misaligned" in lint.stdout
    assert "picf release build --patch" in lint.stdout
    assert picf(picf_bin, data_dir, "release", "lint", str(EXAMPLE), "--arch", "arm64").returncode == 0
    assert picf(picf_bin, data_dir, "release", "validate", str(EXAMPLE)).returncode == 0


def _tarball_claiming(root: Path, name: str, package: str, content: str, fingerprint: str) -> Path:
    """A release tarball in bosh's layout whose one package claims `fingerprint` whatever its files are."""
    stage = root / f"{name}-stage"
    (stage / "pkg").mkdir(parents=True)
    (stage / "pkg/packaging").write_text(f'echo {content} > "$BOSH_INSTALL_TARGET/what"\n')
    (stage / "packages").mkdir()
    with tarfile.open(stage / "packages" / f"{package}.tgz", "w:gz") as tar:
        tar.add(stage / "pkg/packaging", arcname="./packaging")
    digest = hashlib.sha256((stage / "packages" / f"{package}.tgz").read_bytes()).hexdigest()
    (stage / "release.MF").write_text(
        f"name: {name}\nversion: '1'\npackages:\n- name: {package}\n  version: {fingerprint}\n"
        f"  fingerprint: {fingerprint}\n  sha1: sha256:{digest}\n  dependencies: []\n"
    )
    out = root / f"{name}.tgz"
    with tarfile.open(out, "w:gz") as tar:
        tar.add(stage / "release.MF", arcname="release.MF")
        tar.add(stage / "packages", arcname="packages")
    return out


def test_a_release_cannot_pass_its_package_off_as_another_releases_cached_one(picf_bin: Path, tmp_path: Path) -> None:
    """A tarball's fingerprints are claims: picf fingerprints the files, so an evil release claiming a good
    one's fingerprint is compiled on its own and the good release gets its own package."""
    data, claim = tmp_path / "data", "f" * 64
    evil = build(picf_bin, data, _tarball_claiming(tmp_path, "evil", "whatever", "EVIL", claim), "arm64")
    good = build(picf_bin, data, _tarball_claiming(tmp_path, "good", "guardian", "good", claim), "arm64")
    assert evil["compiled"] == ["whatever"] and good["compiled"] == ["guardian"]
    entry = good["release"]["packages"][0]
    with tarfile.open(Store(data / "store").blob(entry["sha256"])) as tar:
        member = tar.extractfile("./what")
        assert member is not None and member.read() == b"good\n"
    assert entry["fingerprint"] != claim  # what its files give


def test_pre_packaging_runs_in_the_sandbox_with_build_dir_and_release_dir(picf_bin: Path, tmp_path: Path) -> None:
    release = _two_package_release(tmp_path / "pre")
    (release / "packages/lib/pre_packaging").write_text(
        'echo "made by pre_packaging from $(cat "$RELEASE_DIR/config/final.yml" | head -2 | tail -1)" '
        '> "$BUILD_DIR/lib/generated.txt"\n'
    )
    (release / "packages/lib/packaging").write_text(
        'mkdir -p "$BOSH_INSTALL_TARGET/share"; cp lib/generated.txt "$BOSH_INSTALL_TARGET/share/"\n'
        '[ ! -e pre_packaging ] || { echo "pre_packaging reached the compile" >&2; exit 1; }\n'
    )
    done = build(picf_bin, tmp_path / "data", release, "armv7", "--package", "lib")
    entry = next(p for p in done["release"]["packages"] if p["name"] == "lib")
    with tarfile.open(Store(tmp_path / "data" / "store").blob(entry["sha256"])) as tar:
        member = tar.extractfile("./share/generated.txt")
        assert member is not None and member.read() == b"made by pre_packaging from final_name: two\n"


def test_a_dependency_with_an_absolute_symlink_and_a_store_path_with_a_space_still_build(
    picf_bin: Path, tmp_path: Path
) -> None:
    release = _two_package_release(tmp_path / "links")
    (release / "packages/lib/packaging").write_text(
        'mkdir -p "$BOSH_INSTALL_TARGET/share" "$BOSH_INSTALL_TARGET/bin"\n'
        'cp lib/lib.txt "$BOSH_INSTALL_TARGET/share"\n'
        'ln -s /var/vcap/packages/lib/share/lib.txt "$BOSH_INSTALL_TARGET/bin/lib.txt"\n'
    )
    done = build(picf_bin, tmp_path / "data with space", release, "armv7")
    assert done["compiled"] == ["lib", "app"]


def test_go_install_puts_binaries_where_the_script_expects_natively_and_cross_compiling(tmp_path: Path) -> None:
    """The Go wrapper: a cross-compiling `go install` (GOBIN refused by Go) and a native one (GOBIN kept)."""
    wrapper = Path(__file__).resolve().parents[2] / "picf/releases/build/go-wrapper.sh"
    goroot = tmp_path / "go"
    (goroot / "bin").mkdir(parents=True)
    shutil.copy(wrapper, goroot / "bin/go")
    (goroot / "bin/go.real").write_text(
        "#!/bin/sh\n"
        f'[ "$1" = env ] && {{ echo {tmp_path}/gopath; exit 0; }}\n'
        'if [ -n "$GOBIN" ]; then d=$GOBIN; elif [ "$GOARCH" = amd64 ]; then d=$GOPATH/bin; '
        "else d=$GOPATH/bin/${GOOS}_$GOARCH; fi\n"
        'mkdir -p "$d" && echo "$GOARCH" > "$d/tool"\n'
    )
    for tool in ("go", "go.real"):
        (goroot / "bin" / tool).chmod(0o755)
    for arch, out in (("arm", "cross"), ("amd64", "native")):
        env = {
            "PATH": "/usr/bin:/bin",
            "PICF_GOARCH": arch,
            "GOBIN": str(tmp_path / out),
            "GOPATH": f"{tmp_path}/gopath",
        }
        subprocess.run([str(goroot / "bin/go"), "install", "./cmd/tool"], env=env, check=True, timeout=30)
        assert (tmp_path / out / "tool").read_text() == f"{arch}\n"
    assert not (tmp_path / "gopath/bin/linux_arm").exists()
