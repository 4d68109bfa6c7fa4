"""The disk of a simulated Pi as Raspberry Pi Imager leaves it: written once, when the node is first made.

The node's root is an overlay of the host's `/`; its disk is the overlay's upper layer (`upper/`), kept
across reboots and power cuts. Imaging makes that upper layer look like a stock Raspberry Pi OS (FACTS.md
section 5), never kinder:

- the host's own users, root's keys, enabled services, apt sources and package lists are hidden (opaque
  directories), and packages a stock image lacks (monit) are whited out, so apt must install them;
- the first user (`pi` by default) gets the cluster's key and the imaging password at first boot; root's
  password is locked and it has no key, so root SSH fails;
- bookworm images let that user sudo without a password (`/etc/sudoers.d/010_pi-nopasswd`), trixie-2026
  asks for it;
- `/boot/firmware/cmdline.txt` is the single kernel command line, without `cgroup_enable=memory`;
- apt's only source is the simulator's repository on the bridge;
- systemctl, reboot, poweroff and shutdown are the simulator's stand-ins; vcgencmd answers only users in
  `video`, as /dev/vcio would.
"""

from __future__ import annotations

import os
import shlex
import time
from importlib.resources import files
from pathlib import Path

from picf.models.sim import SimLan, SimNode
from picf.sim import repo

SSHD_CONFIG = "/etc/ssh/picf-sim-sshd_config"
AVAHI_CONFIG = "/etc/avahi/picf-sim-avahi-daemon.conf"
IMAGED = ".picf-imaged"
NORMAL_TEMP_MILLI_C = 47_236
CMDLINE = "/boot/firmware/cmdline.txt"  # Bookworm and later (FACTS.md section 2)
STANDINS = files("picf.sim").joinpath("standins")

# Files a container host may have that no Raspberry Pi OS has (Docker's "never start a service" policy).
HOST_ONLY = ("/usr/sbin/policy-rc.d", "/.dockerenv")

# Directories whose host content a fresh image does not have.
OPAQUE = (
    "root", "home", "etc/systemd/system", "etc/apt/sources.list.d", "var/lib/apt/lists", "var/lib/apt/periodic",
    "etc/sudoers.d",
    *(f"etc/rc{level}.d" for level in "0123456S"),
)  # fmt: skip


def _write(path: Path, text: str | bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    os.chmod(path, mode)


def _opaque(upper: Path, relative: str) -> None:
    """An upper directory that hides the host's directory of the same path entirely."""
    path = upper / relative
    path.mkdir(parents=True, exist_ok=True)
    os.setxattr(path, "trusted.overlay.opaque", b"y")


def _whiteout(upper: Path, path: str) -> None:
    """Hide the host's file or directory `path` from the node (an overlayfs whiteout)."""
    target = upper / path.lstrip("/")
    if target.exists() or target.is_symlink():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    os.mknod(target, 0o600 | 0o020000, os.makedev(0, 0))


def _hide_package(upper: Path, package: str) -> None:
    """A package installed on the host is not on a stock image: white out its files, drop it from dpkg."""
    listing = Path(f"/var/lib/dpkg/info/{package}.list")
    if listing.exists():
        paths = [p for p in listing.read_text().splitlines() if p and p != "/."]
        own_dirs = [p for p in paths if Path(p).is_dir() and package in Path(p).name]
        for path in paths:
            if any(path == d or path.startswith(d + "/") for d in own_dirs if path != d):
                continue  # inside a directory that is hidden as a whole
            if Path(path).is_dir() and path not in own_dirs:
                continue  # a shared directory (/etc, /usr/bin)
            _whiteout(upper, path)
        for info in Path("/var/lib/dpkg/info").glob(f"{package}.*"):
            _whiteout(upper, str(info))
    for leftover in (f"/var/lib/{package}", f"/var/log/{package}.log"):
        if Path(leftover).exists():
            _whiteout(upper, leftover)
    status = Path("/var/lib/dpkg/status")
    stanzas = status.read_text().split("\n\n")
    kept = [s for s in stanzas if not s.startswith(f"Package: {package}\n")]
    if len(kept) != len(stanzas):
        _write(upper / "var/lib/dpkg/status", "\n\n".join(kept))


def _sshd_config() -> str:
    return (
        "# picf sim: the node's OpenSSH server, as Raspberry Pi OS configures it (keys for the first user)\n"
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
    # What Raspberry Pi OS runs: avahi publishing <host>.local and (since late 2024) _workstation._tcp
    # "<host> [<mac>]"; the first Bookworm images set publish-workstation=no.
    workstation = "no" if node.image == "bookworm-2023" else "yes"
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
        f"\n[publish]\npublish-addresses=yes\npublish-hinfo=no\npublish-workstation={workstation}\n"
        "publish-domain=yes\n"
        "\n[reflector]\nenable-reflector=no\n"
    )


_SSH_SERVICE = """<?xml version="1.0" standalone='no'?>
<!DOCTYPE service-group SYSTEM "avahi-service.dtd">
<service-group>
  <name replace-wildcards="yes">%h</name>
  <service><type>_ssh._tcp</type><port>22</port></service>
</service-group>
"""

_OS_RELEASE = {
    "trixie-2026": (
        'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nNAME="Debian GNU/Linux"\nVERSION_ID="13"\n'
        'VERSION="13 (trixie)"\nVERSION_CODENAME=trixie\nID=debian\nHOME_URL="https://www.debian.org/"\n'
    ),
}


def _cmdline(node: SimNode) -> str:
    """Raspberry Pi OS's one-line kernel command line, without cgroup_enable=memory."""
    partuuid = node.mac.replace(":", "")[-8:]
    return (
        f"console=serial0,115200 console=tty1 root=PARTUUID={partuuid}-02 rootfstype=ext4 fsck.repair=yes "
        "rootwait quiet cfg80211.ieee80211_regdom=GB\n"
    )


def _wrapper(name: str, body: str) -> str:
    return f"#!/bin/sh\n# picf sim: {name}\n{body}"


def _wrappers(node: SimNode) -> dict[str, str]:
    from picf.sim import plan

    return {
        "usr/local/bin/uname": _wrapper(
            "the simulated board's kernel architecture", f'/usr/bin/uname "$@" | sed "s/x86_64/{node.uname_m}/g"\n'
        ),
        "usr/local/bin/dpkg": _wrapper(
            "the simulated OS's userland architecture; everything else is the real dpkg",
            f'if [ "$1" = "--print-architecture" ]; then echo {plan.dpkg_arch(node)}; exit 0; fi\n'
            'exec /usr/bin/dpkg "$@"\n',
        ),
        "usr/local/bin/getconf": _wrapper(
            "the simulated userland's word size; everything else is the real getconf",
            f'if [ "$1" = "LONG_BIT" ]; then echo {plan.long_bit(node)}; exit 0; fi\nexec /usr/bin/getconf "$@"\n',
        ),
    }


def image(node_dir: Path, lan: SimLan, node: SimNode, controller_public_key: str, publish_ssh: bool) -> None:
    """Write the node's disk as Imager leaves it (once: a second call changes nothing)."""
    upper = node_dir / "upper"
    if (node_dir / IMAGED).exists():
        return
    for sub in ("work", "root", "fake/devicetree", "state/thermal/thermal_zone0"):
        (node_dir / sub).mkdir(parents=True, exist_ok=True)
    upper.mkdir(exist_ok=True)
    for relative in OPAQUE:
        _opaque(upper, relative)
    os.chmod(upper / "root", 0o700)
    for package in repo.PACKAGES:
        _hide_package(upper, package)
    for path in HOST_ONLY:
        if Path(path).exists():
            _whiteout(upper, path)
    _write(upper / "etc/hostname", f"{node.name}\n")
    _write(upper / "etc/hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{node.name}\n")
    _write(upper / SSHD_CONFIG.lstrip("/"), _sshd_config())
    _write(upper / AVAHI_CONFIG.lstrip("/"), _avahi_config(node))
    if publish_ssh:
        _write(upper / "etc/avahi/services/ssh.service", _SSH_SERVICE)
    if node.image in _OS_RELEASE:
        _write(upper / "etc/os-release", _OS_RELEASE[node.image])
    if node.image in ("bookworm", "bookworm-2023"):
        _write(upper / "etc/sudoers.d/010_pi-nopasswd", f"{lan.user} ALL=(ALL) NOPASSWD: ALL\n", 0o440)
    _write(upper / CMDLINE.lstrip("/"), _cmdline(node))
    _write(upper / "boot/firmware/config.txt", "# picf sim\narm_64bit=1\n" if node.arch == "arm64" else "# picf sim\n")
    _write(upper / "etc/apt/sources.list", repo.sources_list(lan.repo_url))
    (upper / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
    # The card's package lists are as old as the image (here: a month): apt must update before installing.
    image_day = time.time() - 30 * 86400
    for lists in ("var/lib/apt/lists", "var/lib/apt/lists/partial", "var/lib/apt/periodic"):
        os.utime(upper / lists, (image_day, image_day))
    for name in ("systemctl",):
        _write(upper / "usr/bin" / name, STANDINS.joinpath(name).read_bytes(), 0o755)
    for name in ("reboot", "poweroff", "halt", "shutdown"):
        _write(upper / "usr/sbin" / name, STANDINS.joinpath("power").read_bytes(), 0o755)
    _write(upper / "usr/bin/vcgencmd", STANDINS.joinpath("vcgencmd").read_bytes(), 0o755)
    for path, text in _wrappers(node).items():
        _write(upper / path, text, 0o755)
    _write(node_dir / "firstrun.sh", firstrun_script(lan, controller_public_key), 0o700)
    _write(node_dir / "state/throttled", "0x0\n")
    _write(node_dir / "state/thermal/thermal_zone0/temp", f"{NORMAL_TEMP_MILLI_C}\n")
    _write(node_dir / "state/thermal/thermal_zone0/type", "cpu-thermal\n")
    _write(node_dir / IMAGED, node.image + "\n")


def firstrun_script(lan: SimLan, controller_public_key: str) -> str:
    """What Imager's first-boot script does, run once inside the node as root: the first user with the
    cluster's key and the imaging password, in sudo and video; root locked."""
    user = shlex.quote(lan.user)
    key = shlex.quote(controller_public_key.strip())
    credentials = shlex.quote(f"{lan.user}:{lan.password}")
    return f"""#!/bin/sh
# picf sim: first boot, as Raspberry Pi Imager's firstrun.sh would do it.
set -eu
id -u {user} >/dev/null 2>&1 || useradd -m -s /bin/bash -G sudo,video,adm,plugdev,users {user}
printf '%s\\n' {credentials} | chpasswd
install -d -m 0700 -o {user} -g {user} /home/{user}/.ssh
printf '%s\\n' {key} > /home/{user}/.ssh/authorized_keys
chown {user}:{user} /home/{user}/.ssh/authorized_keys
chmod 0600 /home/{user}/.ssh/authorized_keys
passwd -l root >/dev/null
"""
