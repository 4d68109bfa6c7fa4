"""The files of one simulated node: what it boots from, what picf reads on it, what faults change.

Layout of a node directory (on the LAN's tmpfs):
  upper/, work/   overlay layers over the host's `/`: everything the node writes stays here
  root/           the node's `/` (the overlay is mounted here inside the node's mount namespace)
  fake/           device tree, /proc/cpuinfo and /proc/meminfo of the board, bind-mounted read-only
  state/          thermal zone and throttle bits, which `picf sim fault` changes while the node runs
  init.sh         boot stage 1: the node's root and the mounts that need the host's privileges
  stage2.sh       boot stage 2: /proc, a private binfmt_misc, then the node's PID 1
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from picf.models.sim import SimNode
from picf.sim import plan

NORMAL_TEMP_MILLI_C = 47_236
SSHD_CONFIG = "/etc/ssh/picf-sim-sshd_config"
AVAHI_CONFIG = "/etc/avahi/picf-sim-avahi-daemon.conf"


def _write(path: Path, text: str | bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode() if isinstance(text, str) else text
    path.write_bytes(data)
    os.chmod(path, mode)


def _sshd_config() -> str:
    return (
        "# picf sim: the node's OpenSSH server (keys only, root by key, SFTP for Ansible)\n"
        "Port 22\n"
        "HostKey /etc/ssh/ssh_host_ed25519_key\n"
        "PermitRootLogin prohibit-password\n"
        "PubkeyAuthentication yes\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "AuthorizedKeysFile .ssh/authorized_keys\n"
        "UsePAM no\n"
        "PrintMotd no\n"
        "PidFile /run/sshd.pid\n"
        "MaxStartups 100:30:200\n"
        "MaxSessions 50\n"
        "AcceptEnv LANG LC_*\n"
        "Subsystem sftp /usr/lib/openssh/sftp-server\n"
    )


def _avahi_config(node: SimNode) -> str:
    # What Raspberry Pi OS runs: avahi publishing <host>.local and _workstation._tcp "<host> [<mac>]".
    return (
        "[server]\n"
        f"host-name={node.name}\n"
        "domain-name=local\n"
        "use-ipv4=yes\n"
        "use-ipv6=no\n"
        "allow-interfaces=eth0\n"
        "enable-dbus=no\n"
        "ratelimit-interval-usec=1000000\n"
        "ratelimit-burst=1000\n"
        "\n[wide-area]\nenable-wide-area=no\n"
        "\n[publish]\npublish-addresses=yes\npublish-hinfo=no\npublish-workstation=yes\npublish-domain=yes\n"
        "\n[reflector]\nenable-reflector=no\n"
    )


_SSH_SERVICE = """<?xml version="1.0" standalone='no'?>
<!DOCTYPE service-group SYSTEM "avahi-service.dtd">
<service-group>
  <name replace-wildcards="yes">%h</name>
  <service><type>_ssh._tcp</type><port>22</port></service>
</service-group>
"""

_VCGENCMD = """#!/bin/sh
# picf sim: stand-in for the Raspberry Pi firmware tool; `picf sim fault` changes what it reports.
case "$1" in
  measure_temp)
    read -r t < /sys/class/thermal/thermal_zone0/temp
    printf "temp=%d.%d'C\\n" $((t / 1000)) $((t % 1000 / 100)) ;;
  get_throttled) read -r bits < /run/pisim/throttled; printf 'throttled=%s\\n' "$bits" ;;
  measure_volts) echo "volt=1.2000V" ;;
  *) echo "vcgencmd (picf sim): unsupported command: $*" >&2; exit 1 ;;
esac
"""


def _uname_wrapper(node: SimNode) -> str:
    return (
        "#!/bin/sh\n# picf sim: the simulated board's kernel architecture\n"
        f'/usr/bin/uname "$@" | sed "s/x86_64/{node.uname_m}/g"\n'
    )


def _dpkg_wrapper(node: SimNode) -> str:
    return (
        "#!/bin/sh\n# picf sim: the simulated OS's userland architecture; everything else is the real dpkg\n"
        f'if [ "$1" = "--print-architecture" ]; then echo {plan.dpkg_arch(node)}; exit 0; fi\n'
        'exec /usr/bin/dpkg "$@"\n'
    )


def _getconf_wrapper(node: SimNode) -> str:
    return (
        "#!/bin/sh\n# picf sim: the simulated userland's word size; everything else is the real getconf\n"
        f'if [ "$1" = "LONG_BIT" ]; then echo {plan.long_bit(node)}; exit 0; fi\n'
        'exec /usr/bin/getconf "$@"\n'
    )


def prepare(node_dir: Path, node: SimNode, controller_public_key: str, publish_ssh: bool) -> Path:
    """Write the node's files below `node_dir` (host key excluded: see `lan.py`); return its init script."""
    upper = node_dir / "upper"
    for sub in ("work", "root", "fake/devicetree", "state/thermal/thermal_zone0"):
        (node_dir / sub).mkdir(parents=True, exist_ok=True)
    (upper / "root").mkdir(parents=True, exist_ok=True)
    os.chmod(upper / "root", 0o700)
    _write(upper / "etc/hostname", f"{node.name}\n")
    _write(upper / "etc/hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{node.name}\n{node.address}\t{node.name}.local\n")
    _write(upper / SSHD_CONFIG.lstrip("/"), _sshd_config())
    _write(upper / AVAHI_CONFIG.lstrip("/"), _avahi_config(node))
    if publish_ssh:
        _write(upper / "etc/avahi/services/ssh.service", _SSH_SERVICE)
    (upper / "root/.ssh").mkdir(parents=True, exist_ok=True)
    os.chmod(upper / "root/.ssh", 0o700)
    _write(upper / "root/.ssh/authorized_keys", controller_public_key.strip() + "\n", 0o600)
    _write(upper / "usr/local/bin/vcgencmd", _VCGENCMD, 0o755)
    _write(upper / "usr/local/bin/uname", _uname_wrapper(node), 0o755)
    _write(upper / "usr/local/bin/dpkg", _dpkg_wrapper(node), 0o755)
    _write(upper / "usr/local/bin/getconf", _getconf_wrapper(node), 0o755)
    _write(node_dir / "fake/cpuinfo", plan.cpuinfo_text(node))
    _write(node_dir / "fake/meminfo", plan.meminfo_text(node))
    _write(node_dir / "fake/devicetree/model", node.model + "\x00")
    chip = "brcm,bcm2711" if node.board.startswith("4b") else "brcm,bcm2712" if node.board == "5" else "brcm,bcm2837"
    _write(node_dir / "fake/devicetree/compatible", f"{node.compatible}\x00{chip}\x00")
    _write(node_dir / "state/throttled", "0x0\n")
    _write(node_dir / "state/thermal/thermal_zone0/temp", f"{NORMAL_TEMP_MILLI_C}\n")
    _write(node_dir / "state/thermal/thermal_zone0/type", "cpu-thermal\n")
    stage1, stage2 = init_scripts(node_dir, node)
    _write(node_dir / "stage2.sh", stage2, 0o755)
    init = node_dir / "init.sh"
    _write(init, stage1, 0o755)
    return init


def binfmt_entries(node: SimNode) -> tuple[str, ...]:
    """The qemu binfmt entries a node registers: an aarch64 kernel runs arm64 and 32-bit ARM binaries,
    a 32-bit ARM kernel only 32-bit ones, so an arm64 binary fails there with "Exec format error"."""
    return ("qemu-arm", "qemu-aarch64") if node.uname_m == "aarch64" else ("qemu-arm",)


def init_scripts(node_dir: Path, node: SimNode) -> tuple[str, str]:
    """The node's two boot stages.

    Stage 1 runs as the host's root in the node's new mount namespace: it builds the root (an overlay of
    `/`, which a user namespace may not clone) and the mounts that need the host's privileges. Stage 2
    runs in the node's own user (identity-mapped by picf), PID and UTS namespaces: it mounts /proc and a
    private binfmt_misc with only the qemu entries the board's kernel would run, then becomes PID 1.
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
mkdir -p "$R/run/sshd" "$R/run/pisim" "$R/run/avahi-daemon" "$R/run/lock"
mount --bind "$D/state" "$R/run/pisim"
mount --bind "$D/state/thermal" "$R/sys/class/thermal"
mount -t tmpfs -o mode=755,size=1m tmpfs "$R/sys/firmware"
mkdir -p "$R/sys/firmware/devicetree/base"
cp "$D/fake/devicetree/model" "$D/fake/devicetree/compatible" "$R/sys/firmware/devicetree/base/"
exec unshare --user --uts --pid --mount --fork --kill-child --propagation private /bin/sh "$D/stage2.sh"
"""
    registers = "\n".join(
        f'  grep "^:" /usr/lib/binfmt.d/{entry}.conf > "$R/proc/sys/fs/binfmt_misc/register"'
        for entry in binfmt_entries(node)
    )
    stage2 = f"""#!/bin/sh
# picf sim: boot node {node.name}, stage 2 (node user, PID and UTS namespaces). picf writes our uid map.
while [ -z "$(cat /proc/self/uid_map)" ]; do sleep 0.005; done
set -eu
D={d}
R="$D/root"
hostname {shlex.quote(node.name)}
mount -t proc proc "$R/proc"
mount --bind "$D/fake/cpuinfo" "$R/proc/cpuinfo"
mount --bind "$D/fake/meminfo" "$R/proc/meminfo"
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
