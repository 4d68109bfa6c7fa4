"""Build a package the way BOSH uses throwaway compilation VMs: each build step runs in a sandbox.

The sandbox is bubblewrap (`bwrap`, Debian's `bubblewrap`) inside a private mount namespace (`unshare`):

- no network (its own, empty network namespace), its own pid, ipc and uts namespaces, no capabilities;
- an unprivileged user: uid and gid 65534 in a user namespace of its own;
- a read-only view of the system's programs (`/usr` and its links), nothing of `/etc` but the compilers'
  alternatives links, a private `/tmp`; no home directory, so no `~/.ssh`, no vars store, no picf store;
- writable: only what the caller names (the package's compile dir and install target, its work directory
  holding its dependencies' install dirs);
- Go's build and module caches seen copy-on-write: the build reads what trusted runs compiled or fetched
  before it, and what it writes there is discarded with the sandbox, so one release cannot poison the cache
  another release builds from.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from picf.errors import PicfError

NOBODY = "65534"
# What a compiler needs to see of the system, read-only. Debian's /bin, /lib, /lib64 and /sbin are links into
# /usr (merged /usr); /etc/alternatives holds the links some compilers are reached through.
SYSTEM_LINKS = {"/bin": "usr/bin", "/lib": "usr/lib", "/lib64": "usr/lib64", "/sbin": "usr/sbin"}
SYSTEM_READABLE = ("/usr", "/etc/alternatives")
PATH = "/usr/local/bin:/usr/bin:/bin"


class SandboxUnavailable(PicfError):
    """The tools the sandbox needs are missing."""


@dataclass(frozen=True)
class Sandbox:
    """What one build step may touch."""

    writable: tuple[Path, ...]  # bound read-write at the same path
    readable: tuple[Path, ...] = ()  # bound read-only at the same path
    copy_on_write: Mapping[str, Path] = field(default_factory=dict)  # path inside -> shared dir outside
    scratch: Path | None = None  # where the copy-on-write layers live (on the host, removed by the caller)
    binds: Mapping[str, Path] = field(default_factory=dict)  # path inside -> dir outside, read-write
    ro_binds: Mapping[str, Path] = field(default_factory=dict)  # path inside -> file or dir outside, read-only
    path: str = PATH  # the PATH the step sees
    emulate: tuple[str, ...] = ()  # qemu binfmt entries (qemu-arm, qemu-aarch64): ARM programs run under qemu-user
    addresses: tuple[str, ...] = ()  # IPv4 addresses of the sandbox's own loopback (a node's, for a job binding it)


def check_available() -> None:
    """SandboxUnavailable, saying what to install, when bwrap or unshare is missing."""
    for tool, package in (("bwrap", "bubblewrap"), ("unshare", "util-linux")):
        if shutil.which(tool) is None:
            raise SandboxUnavailable(f"{tool} is not installed: packages build only in a sandbox; "
                                     f"run `make setup` (or apt-get install {package})")  # fmt: skip


def did_not_start(output: str) -> SandboxUnavailable | None:
    """The error to raise when a sandboxed step's output says the sandbox itself failed (not the step)."""
    first = next((line for line in output.splitlines() if line.strip()), "")
    if first.startswith(("bwrap:", "unshare:", "mount:", "sh: 1: cannot create /proc")):
        return SandboxUnavailable(
            f"picf's sandbox did not start ({first.strip()}): it needs unprivileged user namespaces "
            "(sysctl kernel.unprivileged_userns_clone=1; on Ubuntu also kernel.apparmor_restrict_unprivileged_userns=0)"
        )
    return None


def command(argv: list[str], cwd: Path, env: Mapping[str, str], sandbox: Sandbox) -> list[str]:
    """The command line that runs `argv` in `cwd` with exactly `env` (plus HOME=/tmp and a system PATH),
    inside the sandbox."""
    check_available()
    mounts: list[str] = []
    if sandbox.copy_on_write:
        if sandbox.scratch is None:
            raise ValueError("copy_on_write needs a scratch directory")
        # The layers live on a tmpfs: an overlay's upper directory cannot be on every filesystem.
        mounts.append(f"mount -t tmpfs -o size=4g,mode=0700 picf-sandbox {shlex.quote(str(sandbox.scratch))}")
        for i, (_, shared) in enumerate(sorted(sandbox.copy_on_write.items())):
            layer = sandbox.scratch / str(i)
            upper, work, merged = layer / "upper", layer / "work", layer / "merged"
            for path in (shared, upper):
                if any(c in str(path) for c in ",:\\"):
                    raise SandboxUnavailable(f"{path}: a ',', ':' or '\\' in it cannot be in an overlay mount; "
                                             "set XDG_CACHE_HOME and PICF_DATA_DIR to paths without them")  # fmt: skip
            options = f"lowerdir={shared},upperdir={upper},workdir={work}"
            mounts.append(f"mkdir -p {shlex.join([str(upper), str(work), str(merged)])}")
            mounts.append(f"mount -t overlay picf-sandbox -o {shlex.quote(options)} {shlex.quote(str(merged))}")
    # Still no network: with addresses, the empty network namespace is the outer one (its loopback up and
    # holding them: only root in a namespace may add them), shared by bwrap instead of a new one of its own.
    unshare = ["--unshare-all"] if not sandbox.addresses else [
        "--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"
    ]  # fmt: skip
    if sandbox.addresses:
        adds = " && ".join(f"ip addr add {shlex.quote(a)}/32 dev lo" for a in sandbox.addresses)
        mounts.insert(0, f"ip link set lo up && {adds}")
    bwrap = [
        "bwrap", *unshare, "--unshare-user", "--uid", NOBODY, "--gid", NOBODY, "--cap-drop", "ALL",
        "--die-with-parent", "--new-session", "--clearenv",
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
    ]  # fmt: skip
    for system in SYSTEM_READABLE:
        if Path(system).exists():
            bwrap += ["--ro-bind", system, system]
    for link, target in SYSTEM_LINKS.items():
        bwrap += ["--symlink", target, link]
    for readable in sandbox.readable:
        bwrap += ["--ro-bind", str(readable), str(readable)]
    for writable in sandbox.writable:
        bwrap += ["--bind", str(writable), str(writable)]
    placed: list[tuple[str, list[str]]] = []
    for i, (inside, _) in enumerate(sorted(sandbox.copy_on_write.items())):
        assert sandbox.scratch is not None
        placed.append((inside, ["--bind", str(sandbox.scratch / str(i) / "merged"), inside]))
    placed += [(inside, ["--bind", str(outside), inside]) for inside, outside in sandbox.binds.items()]
    placed += [(inside, ["--ro-bind", str(outside), inside]) for inside, outside in sandbox.ro_binds.items()]
    for _, arguments in sorted(placed, key=lambda p: (p[0].count("/"), p[0])):  # a directory before what is in it
        bwrap += arguments
    for key, value in {**env, "HOME": "/tmp", "PATH": sandbox.path}.items():
        bwrap += ["--setenv", key, value]
    bwrap += ["--chdir", str(cwd), "--", *argv]
    if sandbox.emulate:
        # binfmt_misc of this user namespace (Linux 6.7 and later): ARM programs a build runs (configure's
        # tests, generators) run under qemu-user; on older kernels the host's own registrations apply.
        registers = " ; ".join(
            f'grep "^:" /usr/lib/binfmt.d/{entry}.conf > /proc/sys/fs/binfmt_misc/register' for entry in sandbox.emulate
        )
        mounts.append(
            "mount -t proc proc /proc && { mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null "
            f"&& {{ {registers} ; }} || true ; }}"
        )
    # A private mount namespace (in a user namespace of the invoking user) for the copy-on-write layers;
    # bwrap then builds the sandbox inside it.
    script = " && ".join([*mounts, "exec " + shlex.join(bwrap)])
    pid = ["--pid", "--fork", "--kill-child"] if sandbox.emulate else []
    net = ["--net"] if sandbox.addresses else []
    return ["unshare", "--user", "--map-root-user", "--mount", *net, *pid, "--propagation", "private", "--", "sh",
            "-c", script]  # fmt: skip
