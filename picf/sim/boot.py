"""Booting and halting a simulated Pi: every boot reads the node's disk as a Pi's firmware and systemd would.

A boot builds the node's root (an overlay of the host's `/` with the node's disk on top), mounts what its
kernel shows (/proc with the board's cpuinfo and meminfo, /sys with its device tree, thermal zone and
cgroup controllers), puts it in fresh user, PID, UTS, mount and time namespaces (so its uptime starts at
zero and its boot_id is new), and starts what systemd would: sshd, avahi, the tmpfs mounts of /etc/fstab
and every enabled unit. The memory cgroup is on only when the disk's cmdline.txt says cgroup_enable=memory
at boot time (FACTS.md section 5). Halting ends every process of the node; its disk stays.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
import uuid
from pathlib import Path

from picf.models.sim import SimNode
from picf.sim import host, plan
from picf.sim.host import SimError
from picf.sim.image import AVAHI_CONFIG, CMDLINE, SSHD_CONFIG

READY_TIMEOUT = 15.0
START_SSHD = f"/usr/sbin/sshd -f {SSHD_CONFIG} -E /var/log/sshd.log"
START_AVAHI = (
    f"avahi-daemon --no-drop-root --no-chroot --no-rlimits -f {AVAHI_CONFIG} "
    "</dev/null >/var/log/avahi-daemon.log 2>&1 &"
)
_CONTROLLERS = ("cpuset", "cpu", "io", "memory", "pids")
_V1 = ("cpuset", "cpu", "cpuacct", "blkio", "memory", "devices", "freezer", "net_cls", "perf_event", "net_prio", "pids")


def memory_cgroup_requested(cmdline: str) -> bool:
    """The kernel's reading of its command line: the last of cgroup_enable=/cgroup_disable=memory wins, and
    Raspberry Pi kernels start with it disabled."""
    enabled = False
    for word in cmdline.split():
        if word == "cgroup_enable=memory":
            enabled = True
        elif word == "cgroup_disable=memory":
            enabled = False
    return enabled


def kernel_files(node: SimNode, memory_cgroup: bool) -> dict[str, str]:
    """What the node's kernel shows about itself at this boot: /proc and /sys files picf and Ansible read."""
    v1 = [c for c in _V1 if c != "memory" or node.image != "trixie-2026"]  # kernel 6.12: no v1 memory at all
    rows = "".join(f"{c}\t0\t94\t{0 if c == 'memory' and not memory_cgroup else 1}\n" for c in v1)
    controllers = " ".join(c for c in _CONTROLLERS if c != "memory" or memory_cgroup)
    chip = "brcm,bcm2711" if node.board.startswith("4b") else "brcm,bcm2712" if node.board == "5" else "brcm,bcm2837"
    return {
        "cpuinfo": plan.cpuinfo_text(node),
        "meminfo": plan.meminfo_text(node),
        "cgroups": "#subsys_name\thierarchy\tnum_cgroups\tenabled\n" + rows,
        "cgroup.controllers": controllers + "\n",
        "boot_id": f"{uuid.uuid4()}\n",
        "devicetree/model": node.model + "\x00",
        "devicetree/compatible": f"{node.compatible}\x00{chip}\x00",
    }


def _write_kernel_files(node_dir: Path, node: SimNode) -> bool:
    try:
        cmdline = (node_dir / "upper" / CMDLINE.lstrip("/")).read_text()
    except OSError:
        cmdline = ""  # a card without cmdline.txt boots with the defaults
    memory = memory_cgroup_requested(cmdline)
    for name, text in kernel_files(node, memory).items():
        path = node_dir / "fake" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    # /dev/vcio's stand-in: the firmware answers root and the video group only.
    vcio = node_dir / "state" / "vcio"
    vcio.write_text("")
    os.chmod(vcio, 0o660)
    os.chown(vcio, 0, _video_gid())
    (node_dir / "state" / "power-request").unlink(missing_ok=True)
    return memory


def _video_gid() -> int:
    for line in Path("/etc/group").read_text().splitlines():
        name, _, gid, *_ = line.split(":")
        if name == "video":
            return int(gid)
    return 44  # Debian's


def init_scripts(node_dir: Path, node: SimNode) -> tuple[str, str]:
    """The node's two boot stages.

    Stage 1 runs as the host's root in the node's new mount namespace: it builds the root (an overlay of
    `/`, which a user namespace may not clone) and the mounts that need the host's privileges. Stage 2
    runs in the node's own user (identity-mapped by picf), PID, UTS and time namespaces: it mounts /proc
    and a private binfmt_misc with only the qemu entries the board's kernel would run, then becomes PID 1.
    """
    d = shlex.quote(str(node_dir))
    stage1 = f"""#!/bin/sh
# picf sim: boot node {node.name}, stage 1 (host root, node mount namespace, network namespace {node.netns}).
set -eu
D={d}
R="$D/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$D/upper,workdir=$D/work" "$R"
mount -t sysfs sysfs "$R/sys"
mount --rbind /dev "$R/dev"
mount -t tmpfs -o mode=1777,size=256m tmpfs "$R/dev/shm"
mount -t tmpfs -o mode=755,size=64m tmpfs "$R/run"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
mkdir -p "$R/run/sshd" "$R/run/pisim" "$R/run/avahi-daemon" "$R/run/lock" "$R/run/systemd/system"
mount --bind "$D/state" "$R/run/pisim"
mount --bind "$D/state/thermal" "$R/sys/class/thermal"
mount -t tmpfs -o mode=755,size=1m tmpfs "$R/sys/firmware"
mkdir -p "$R/sys/firmware/devicetree/base"
cp "$D/fake/devicetree/model" "$D/fake/devicetree/compatible" "$R/sys/firmware/devicetree/base/"
mount -t tmpfs -o mode=755,size=1m cgroup "$R/sys/fs/cgroup"
cp "$D/fake/cgroup.controllers" "$R/sys/fs/cgroup/cgroup.controllers"
mount -o remount,ro,bind "$R/sys/fs/cgroup"
# A new time namespace: the node's uptime (and /proc/stat's btime) start at this boot.
up=$(cut -d. -f1 /proc/uptime)
exec unshare --time --boottime "-$up" --user --uts --pid --mount --fork --kill-child --propagation private \\
  /bin/sh "$D/stage2.sh"
"""
    registers = "\n".join(
        f'  grep "^:" /usr/lib/binfmt.d/{entry}.conf > "$R/proc/sys/fs/binfmt_misc/register"'
        for entry in binfmt_entries(node)
    )
    stage2 = f"""#!/bin/sh
# picf sim: boot node {node.name}, stage 2 (node user, PID, UTS and time namespaces). picf writes our uid
# map, then our gid map: go on only once both are there (files made in between would have no group here).
while [ -z "$(cat /proc/self/gid_map)" ]; do sleep 0.005; done
set -eu
D={d}
R="$D/root"
hostname {shlex.quote(node.name)}
mount -t proc proc "$R/proc"
mount --bind "$D/fake/cpuinfo" "$R/proc/cpuinfo"
mount --bind "$D/fake/meminfo" "$R/proc/meminfo"
mount --bind "$D/fake/cgroups" "$R/proc/cgroups"
mount --bind "$D/fake/boot_id" "$R/proc/sys/kernel/random/boot_id"
if mount -t binfmt_misc binfmt_misc "$R/proc/sys/fs/binfmt_misc" 2>/dev/null; then
{registers}
  echo private > "$D/binfmt"
else
  echo shared > "$D/binfmt"  # kernel < 6.7: the host's qemu entries apply, any ARM binary runs
fi
# Ready only once inside the node's root: picf enters the node through this process.
exec chroot "$R" /bin/sh -c 'touch /run/pisim/ready; trap "exit 0" TERM; while :; do sleep 86400 & wait; done'
"""
    return stage1, stage2


def binfmt_entries(node: SimNode) -> tuple[str, ...]:
    """The qemu binfmt entries a node registers: an aarch64 kernel runs arm64 and 32-bit ARM binaries,
    a 32-bit ARM kernel only 32-bit ones, so an arm64 binary fails there with "Exec format error"."""
    return ("qemu-arm", "qemu-aarch64") if node.uname_m == "aarch64" else ("qemu-arm",)


def _map_node_users(node_dir: Path, boot: subprocess.Popen[bytes]) -> None:
    """Identity-map every uid and gid into the node's user namespace once stage 2 has created it.

    Root in the node is then root for its own files, but its capabilities end at its namespaces."""
    own = os.readlink("/proc/self/ns/user")
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if boot.poll() is not None:
            break
        try:
            if os.readlink(f"/proc/{boot.pid}/ns/user") != own:
                Path(f"/proc/{boot.pid}/uid_map").write_text("0 0 4294967295\n")
                Path(f"/proc/{boot.pid}/gid_map").write_text("0 0 4294967295\n")
                return
        except OSError:
            pass
        time.sleep(0.005)
    raise SimError(f"node {node_dir.name} failed to boot: {_last_line(node_dir)} (log: {node_dir}/boot.log)")


def _last_line(node_dir: Path) -> str:
    lines = (node_dir / "boot.log").read_text(errors="replace").strip().splitlines()
    return lines[-1] if lines else "no output"


def _wait_for_keeper(node_dir: Path, boot: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if boot.poll() is not None:
            raise SimError(f"node {node_dir.name} failed to boot: {_last_line(node_dir)} (log: {node_dir}/boot.log)")
        children = host.children_of(boot.pid)
        if (node_dir / "state/ready").exists() and children:
            return children[0]
        time.sleep(0.01)
    raise SimError(f"node {node_dir.name} did not boot in {READY_TIMEOUT:.0f} s (log: {node_dir}/boot.log)")


# What systemd would start on a Pi: the tmpfs mounts of fstab, sshd, avahi, then every enabled unit.
_SERVICES = f"""
awk '$3 == "tmpfs" && $2 ~ /^\\// {{print $2, $4}}' /etc/fstab 2>/dev/null | while read -r point options; do
  mkdir -p "$point" && mount -t tmpfs -o "$options" tmpfs "$point" || true
done
{START_AVAHI}
{START_SSHD}
/usr/bin/systemctl --boot >/var/log/picf-sim-boot.log 2>&1 </dev/null &
"""


def boot(node_dir: Path, node: SimNode, firstrun: str | None) -> SimNode:
    """Boot the node from its disk (it must be off); return it with its new PID 1 and boot count."""
    _write_kernel_files(node_dir, node)
    (node_dir / "state/ready").unlink(missing_ok=True)
    stage1, stage2 = init_scripts(node_dir, node)
    for name, text in (("init.sh", stage1), ("stage2.sh", stage2)):
        (node_dir / name).write_text(text)
        os.chmod(node_dir / name, 0o755)
    host.run(["ip", "-n", node.netns, "link", "set", "eth0", "up"])
    log = open(node_dir / "boot.log", "wb")  # noqa: SIM115  # handed to the node's boot process
    try:
        process = subprocess.Popen(
            ["ip", "netns", "exec", node.netns, "unshare", "--mount", "--propagation", "private", "/bin/sh",
             str(node_dir / "init.sh")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
    finally:
        log.close()
    _map_node_users(node_dir, process)
    keeper = _wait_for_keeper(node_dir, process)
    if firstrun is not None:
        host.in_node(keeper, "/bin/sh -s", input_text=firstrun)
    host.in_node(keeper, _SERVICES)
    return node.model_copy(update={"keeper_pid": keeper, "powered": True, "boots": node.boots + 1})


def halt(node: SimNode, power_off: bool) -> None:
    """End every process of the node, as pulling its power would; its disk stays. With `power_off` its
    network interface goes dark too (a Pi without power answers nothing, not even ARP)."""
    if node.keeper_pid and host.pid_alive(node.keeper_pid):
        host.kill(node.keeper_pid)
    if node.netns in host.netns_list():
        for pid in host.run(["ip", "netns", "pids", node.netns], check=False).split():
            host.kill(int(pid))
        if power_off:
            host.run(["ip", "-n", node.netns, "link", "set", "eth0", "down"], check=False)


def running(node: SimNode) -> bool:
    """True when the node's PID 1 is alive in its network namespace."""
    return host.pid_alive(node.keeper_pid) and node.netns in host.netns_list()
