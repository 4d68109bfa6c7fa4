"""The simulated LAN, used as picf uses a real one: SSH with pinned keys, mDNS on the bridge, ARM binaries."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from zeroconf import ServiceStateChange, Zeroconf
from zeroconf._services.info import AddressResolverIPv4
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from picf.hostkeys import fingerprint
from picf.models import check_cluster
from picf.models.sim import SimLan
from picf.sim import boot
from picf.sim import lan as simlan
from picf.sim import plan as simplan
from picf.yamldoc import load, to_plain
from tests.integration import stalls
from tests.integration.conftest import TEST_BRIDGE, SshRunner, require_root_linux

pytestmark = pytest.mark.integration

HELLO_GO = """package main

import (
\t"fmt"
\t"runtime"
)

func main() { fmt.Printf("hello from %s/%s\\n", runtime.GOOS, runtime.GOARCH) }
"""


def test_each_node_answers_ssh_with_its_pinned_host_key(sim_lan: SimLan, on_node: SshRunner) -> None:
    for node in sim_lan.nodes:
        pub = Path(sim_lan.directory, "nodes", node.name, "upper/etc/ssh/ssh_host_ed25519_key.pub")
        keygen = subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True, check=True)
        assert keygen.stdout.split()[1] == fingerprint(pub.read_text()) == node.host_key
        assert on_node(node.name, "hostname").stdout.strip() == node.name


def test_a_wrong_host_key_is_refused(sim_lan: SimLan, tmp_path: Path) -> None:
    impostor = tmp_path / "known_hosts"
    other = Path(sim_lan.known_hosts).read_text().splitlines()
    # pi-1's address paired with pi-2's key: exactly what an impostor at pi-1's address would present.
    impostor.write_text(f"{sim_lan.nodes[0].address} {' '.join(other[1].split()[1:])}\n")
    done = subprocess.run(
        ["ssh", "-i", sim_lan.controller_key, "-o", f"UserKnownHostsFile={impostor}", "-o", "StrictHostKeyChecking=yes",
         "-o", "BatchMode=yes", f"{sim_lan.user}@{sim_lan.nodes[0].address}", "true"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode != 0
    assert "HOST IDENTIFICATION HAS CHANGED" in done.stderr or "Host key verification failed" in done.stderr


def test_nodes_report_their_board_as_a_pi_does(sim_lan: SimLan, on_node: SshRunner) -> None:
    expected = {
        "pi-1": ("armv7l", "armhf", "32"),
        "pi-2": ("aarch64", "arm64", "64"),
        "pi-3": ("armv6l", "armhf", "32"),
    }
    for node in sim_lan.nodes:
        out = on_node(
            node.name,
            "uname -m; dpkg --print-architecture; getconf LONG_BIT; tr -d '\\0' < /sys/firmware/devicetree/base/model;"
            " echo; grep ^Revision /proc/cpuinfo; grep ^MemTotal /proc/meminfo; vcgencmd measure_temp;"
            " vcgencmd get_throttled; cat /sys/class/thermal/thermal_zone0/temp",
            root=False,  # the first user is in `video`: vcgencmd answers it
        ).stdout.splitlines()
        assert tuple(out[:3]) == expected[node.name]
        assert out[3] == node.model
        assert out[4].endswith(node.revision_code)
        assert int(out[5].split()[1]) // 1024 in range(node.memory_mb - 128, node.memory_mb)
        assert out[6] == "temp=47.2'C"
        assert out[7] == "throttled=0x0"


def test_each_node_keeps_its_own_files(sim_lan: SimLan, on_node: SshRunner) -> None:
    on_node("pi-1", "mkdir -p /var/vcap/store && echo one > /var/vcap/store/who && useradd -M picf-test-user")
    assert on_node("pi-2", "cat /var/vcap/store/who", check=False).returncode != 0
    assert on_node("pi-2", "id picf-test-user", check=False).returncode != 0
    assert on_node("pi-1", "cat /var/vcap/store/who").stdout == "one\n"
    assert not Path("/var/vcap/store/who").exists()
    assert subprocess.run(["id", "picf-test-user"], capture_output=True).returncode != 0


def test_nodes_see_only_their_own_processes_and_have_no_route_off_the_bridge(
    sim_lan: SimLan, on_node: SshRunner
) -> None:
    processes = on_node("pi-1", "ps -eo comm=").stdout.split()
    assert "avahi-daemon" in processes and "sshd" in processes
    assert processes.count("avahi-daemon") == 1
    routes = on_node("pi-1", "ip route").stdout
    assert "default" not in routes
    assert on_node("pi-1", "ip route get 1.1.1.1", check=False).returncode != 0


def _browse(interface: str, seconds: float) -> dict[str, tuple[str, list[str]]]:
    """Names seen for _workstation._tcp on `interface`, with their host name and addresses."""

    async def run() -> dict[str, tuple[str, list[str]]]:
        zc = AsyncZeroconf(interfaces=[interface])
        names: list[str] = []

        def on_change(zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
            if state_change is ServiceStateChange.Added:
                names.append(name)

        browser = AsyncServiceBrowser(zc.zeroconf, ["_workstation._tcp.local."], handlers=[on_change])
        await asyncio.sleep(seconds)
        found = {}
        for name in names:
            info = AsyncServiceInfo("_workstation._tcp.local.", name)
            if await info.async_request(zc.zeroconf, 1000):
                found[name] = (str(info.server), info.parsed_addresses())
        await browser.async_cancel()
        await zc.async_close()
        return found

    return asyncio.run(run())


def test_mdns_announces_each_pi_on_the_bridge_as_raspberry_pi_os_does(sim_lan: SimLan) -> None:
    found = _browse(sim_lan.bridge_address, 1.5)
    for node in sim_lan.nodes:
        name = f"{node.name} [{node.mac}]._workstation._tcp.local."
        assert name in found, (name, sorted(found))
        server, addresses = found[name]
        assert server == f"{node.name}.local."
        assert node.address in addresses


def test_mdns_answers_stay_on_the_bridge(sim_lan: SimLan) -> None:
    found = _browse("127.0.0.1", 1.0)
    assert not [n for n in found if any(node.mac in n for node in sim_lan.nodes)]


@pytest.fixture(scope="module")
def hello_binaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """hello-world for armv7 and arm64, cross-compiled by Go here."""
    work = tmp_path_factory.mktemp("hello")
    (work / "main.go").write_text(HELLO_GO)
    env = {**os.environ, "CGO_ENABLED": "0", "GOCACHE": str(work / "cache"), "GOPATH": str(work / "gopath"),
           "GO111MODULE": "off"}  # fmt: skip
    out = {}
    for name, goarch, extra in (("armv7", "arm", {"GOARM": "7"}), ("arm64", "arm64", {})):
        target = work / f"hello-{name}"
        subprocess.run(
            ["go", "build", "-o", str(target), "main.go"], cwd=work, env={**env, "GOARCH": goarch, **extra},
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        out[name] = target
    return out


def test_arm_binaries_run_under_qemu_and_a_wrong_arch_binary_fails_as_on_a_pi(
    hello_binaries: dict[str, Path], copy_to_node: Callable[[str, Path, str], None], on_node: SshRunner
) -> None:
    for node in ("pi-1", "pi-2"):
        copy_to_node(node, hello_binaries["armv7"], "/tmp/hello-armv7")
        copy_to_node(node, hello_binaries["arm64"], "/tmp/hello-arm64")
    assert on_node("pi-1", "/tmp/hello-armv7").stdout == "hello from linux/arm\n"
    wrong = on_node("pi-1", "bash -c /tmp/hello-arm64", check=False)
    assert wrong.returncode == 126
    assert "Exec format error" in wrong.stderr
    assert on_node("pi-2", "/tmp/hello-arm64").stdout == "hello from linux/arm64\n"
    assert on_node("pi-2", "/tmp/hello-armv7").stdout == "hello from linux/arm\n"


def test_root_ssh_is_locked_and_only_the_first_user_has_the_cluster_key(sim_lan: SimLan, on_node: SshRunner) -> None:
    for node in sim_lan.nodes:
        as_root = subprocess.run(
            ["ssh", "-i", sim_lan.controller_key, "-o", f"UserKnownHostsFile={sim_lan.known_hosts}",
             "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", f"root@{node.address}", "true"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert as_root.returncode == 255 and "Permission denied" in as_root.stderr
        facts = on_node(node.name, "id -nG; ls -a /root; passwd -S root", root=False, check=False)
        groups = on_node(node.name, "id -nG", root=False).stdout.split()
        assert {"sudo", "video"} <= set(groups)
        shadow = on_node(node.name, "passwd -S root").stdout.split()
        assert shadow[1] == "L", shadow  # root's password is locked
        # No key for root (a deploy earlier in the session may have left Ansible's ~/.ansible there, as on a Pi).
        keys = on_node(node.name, "ls -A /root/.ssh; cat /root/.ssh/authorized_keys", check=False)
        assert "ssh-" not in keys.stdout and "authorized_keys" not in keys.stdout, facts.stdout


def test_sudo_needs_no_password_on_bookworm_and_asks_for_the_imaging_password_on_trixie(
    sim_lan: SimLan, on_node: SshRunner
) -> None:
    assert on_node("pi-1", "sudo -n id -u", root=False).stdout.strip() == "0"
    asks = on_node("pi-2", "sudo -n id -u", root=False, check=False)
    assert asks.returncode == 1 and "password is required" in asks.stderr
    wrong = on_node("pi-2", "echo wrong | sudo -S -p '' id -u", root=False, check=False)
    assert wrong.returncode == 1
    right = on_node("pi-2", f"echo {sim_lan.password} | sudo -S -p '' id -u", root=False)
    assert right.stdout.strip() == "0"


def test_monit_is_not_installed_until_apt_installs_it_from_the_simulators_source(
    sim_lan: SimLan, on_node: SshRunner
) -> None:
    # pi-3 (the Zero W) never gets a deployment in these tests.
    assert on_node("pi-3", "command -v monit", check=False).returncode != 0
    stale = on_node("pi-3", "DEBIAN_FRONTEND=noninteractive apt-get install -y monit", check=False)
    assert stale.returncode != 0 and "Unable to locate package monit" in stale.stderr  # lists as old as the image
    on_node("pi-3", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq monit", timeout=300)
    assert on_node("pi-3", "systemctl is-active monit").stdout.strip() == "active"  # the package's service
    assert on_node("pi-3", "systemctl is-enabled monit").stdout.strip() == "enabled"
    outside = on_node("pi-3", "timeout 5 apt-get download --print-uris bash", check=False)
    assert "deb.debian.org" not in outside.stdout  # its only source is the simulator


def _boot_id(on_node: SshRunner, name: str) -> str | None:
    done = on_node(name, "cat /proc/sys/kernel/random/boot_id", check=False, root=False, timeout=15)
    return done.stdout.strip() if done.returncode == 0 else None


def _wait_for_boot(on_node: SshRunner, name: str, before: str | None) -> str:
    deadline = time.monotonic() + 60
    while True:
        now = _boot_id(on_node, name)
        if now and now != before:
            return now
        assert time.monotonic() < deadline, f"{name} did not come back from its reboot"
        time.sleep(0.3)


def test_sudo_reboot_ends_every_process_keeps_the_disk_and_starts_what_is_enabled(
    sim_lan: SimLan, on_node: SshRunner
) -> None:
    unit = (
        "[Unit]\nDescription=picf test\n[Service]\nExecStart=/bin/sleep 100000\n[Install]\nWantedBy=multi-user.target\n"
    )
    on_node("pi-3", f"printf '{unit}' > /etc/systemd/system/picf-test.service && systemctl enable picf-test")
    on_node("pi-3", "echo kept > /var/tmp/on-disk && echo gone > /tmp/in-memory")
    stray = on_node("pi-3", "sleep 100000 >/dev/null 2>&1 & echo $!").stdout.strip()
    before = _boot_id(on_node, "pi-3")
    on_node("pi-3", "reboot")
    try:
        _wait_for_boot(on_node, "pi-3", before)
        after = on_node("pi-3", "cat /var/tmp/on-disk; ls /tmp; cut -d. -f1 /proc/uptime; "
                                "systemctl is-active picf-test monit; kill -0 " + stray, check=False)  # fmt: skip
        lines = after.stdout.split()
        assert lines[0] == "kept" and "in-memory" not in lines
        assert int(lines[1]) < 60  # the node's own uptime starts at its boot
        assert lines[2:4] == ["active", "active"]  # enabled units, the monit package's service too
        assert after.returncode != 0  # the stray process did not survive
    finally:
        on_node("pi-3", "systemctl disable --now picf-test; rm -f /etc/systemd/system/picf-test.service")


def test_the_memory_cgroup_turns_on_only_after_cmdline_and_a_reboot(sim_lan: SimLan, on_node: SshRunner) -> None:
    check = "cat /sys/fs/cgroup/cgroup.controllers; grep -c ^memory /proc/cgroups || true"
    assert on_node("pi-3", check).stdout.split() == ["cpuset", "cpu", "io", "pids", "1"]
    on_node("pi-3", "sed -i 's/$/ cgroup_enable=memory/' /boot/firmware/cmdline.txt")
    assert "memory" not in on_node("pi-3", check).stdout.split()  # not before a reboot
    before = _boot_id(on_node, "pi-3")
    simlan.fault(TEST_BRIDGE, "pi-3", "power-cycle")
    try:
        _wait_for_boot(on_node, "pi-3", before)
        assert on_node("pi-3", check).stdout.split() == ["cpuset", "cpu", "io", "memory", "pids", "1"]
        assert on_node("pi-3", "awk '$1 == \"memory\" {print $4}' /proc/cgroups").stdout.strip() == "1"
        assert on_node("pi-3", "wc -l < /boot/firmware/cmdline.txt").stdout.strip() == "1"
    finally:
        on_node("pi-3", "sed -i 's/ cgroup_enable=memory//' /boot/firmware/cmdline.txt")
        simlan.fault(TEST_BRIDGE, "pi-3", "power-cycle")
    # Trixie's kernel (6.12) has no v1 memory controller at all: no row in /proc/cgroups, only cgroup v2.
    assert on_node("pi-2", "grep -c ^memory /proc/cgroups", check=False).stdout.strip() == "0"


def test_a_node_powered_off_answers_nothing_and_boots_on_power_on(sim_lan: SimLan, on_node: SshRunner) -> None:
    node = sim_lan.nodes[2]
    key = Path(sim_lan.directory, "nodes", node.name, "upper/etc/ssh/ssh_host_ed25519_key.pub").read_bytes()
    simlan.fault(TEST_BRIDGE, node.name, "power-off")
    try:
        assert not _port_open(node.address)
        assert {s.name: (s.running, s.powered) for s in simlan.status(TEST_BRIDGE)}[node.name] == (False, False)
    finally:
        simlan.fault(TEST_BRIDGE, node.name, "power-on")
    assert on_node(node.name, "hostname", root=False).stdout.strip() == node.name  # same pinned host key
    assert Path(sim_lan.directory, "nodes", node.name, "upper/etc/ssh/ssh_host_ed25519_key.pub").read_bytes() == key


def test_vcgencmd_answers_only_users_in_video(sim_lan: SimLan, on_node: SshRunner) -> None:
    assert on_node("pi-1", "vcgencmd get_throttled", root=False).stdout.strip() == "throttled=0x0"
    other = on_node("pi-1", "setpriv --reuid=65534 --regid=65534 --clear-groups vcgencmd get_throttled", check=False)
    assert other.returncode != 0 and "/dev/vcio" in other.stderr


def test_a_first_bookworm_image_publishes_no_workstation_but_answers_its_local_name() -> None:
    require_root_linux()
    bridge = "picfo"
    try:
        lan = simlan.up(1, ["3b+"], bridge, "10.231.6.0/24", images=["bookworm-2023"]).lan
        node = lan.nodes[0]
        # Another LAN's pi-1 may answer too (zeroconf hears every interface): look for this node's own MAC.
        assert not [name for name in _browse(lan.bridge_address, 1.5) if node.mac in name]
        zc = Zeroconf(interfaces=[lan.bridge_address])
        try:
            resolver = AddressResolverIPv4(f"{node.name}.local.")
            assert resolver.request(zc, 3000)
            assert node.address in resolver.parsed_addresses()
        finally:
            zc.close()
    finally:
        simlan.down(bridge)


def _port_open(address: str, port: int = 22) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def test_firmware_faults_change_what_vcgencmd_reports_and_clear_undoes_them(
    sim_lan: SimLan, on_node: SshRunner
) -> None:
    def firmware() -> list[str]:
        return on_node("pi-2", "vcgencmd measure_temp; vcgencmd get_throttled").stdout.split()

    simlan.fault(TEST_BRIDGE, "pi-2", "overheat")
    assert firmware() == ["temp=84.5'C", "throttled=0xe000e"]
    simlan.fault(TEST_BRIDGE, "pi-2", "undervoltage")
    assert firmware() == ["temp=84.5'C", "throttled=0xf000f"]
    assert {n.name: n.faults for n in simlan.status(TEST_BRIDGE)}["pi-2"] == ["overheat", "undervoltage"]
    simlan.fault(TEST_BRIDGE, "pi-2", "clear")
    assert firmware() == ["temp=47.2'C", "throttled=0x0"]


def test_link_and_ssh_faults_cut_the_node_off_and_come_back(sim_lan: SimLan, on_node: SshRunner) -> None:
    node = sim_lan.nodes[2]
    simlan.fault(TEST_BRIDGE, node.name, "link-down")
    try:
        assert not _port_open(node.address)
        assert {s.name: s.link_up for s in simlan.status(TEST_BRIDGE)}[node.name] is False
    finally:
        simlan.fault(TEST_BRIDGE, node.name, "link-up")
    deadline = time.monotonic() + 60  # a hang guard only: sshd answers again within a second
    while not _port_open(node.address) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _port_open(node.address)
    simlan.fault(TEST_BRIDGE, node.name, "stop-ssh")
    try:
        assert not _port_open(node.address)
        assert {s.name: s.ssh_up for s in simlan.status(TEST_BRIDGE)}[node.name] is False
    finally:
        simlan.fault(TEST_BRIDGE, node.name, "start-ssh")
    assert on_node(node.name, "hostname").stdout.strip() == node.name
    assert simlan.status(TEST_BRIDGE)[2].faults == []


def test_a_second_up_keeps_the_running_nodes(sim_lan: SimLan) -> None:
    before = {n.name: n.keeper_pid for n in simlan.require(TEST_BRIDGE).nodes}
    report = simlan.up(len(before), ["3b+", "4b", "zerow"], TEST_BRIDGE, sim_lan.subnet)
    assert report.started == []
    assert sorted(report.running) == sorted(before)
    assert {n.name: n.keeper_pid for n in report.lan.nodes} == before


def test_sim_inventory_validates_and_pins_the_host_keys(sim_lan: SimLan, picf_bin: Path) -> None:
    done = subprocess.run(
        [str(picf_bin), "sim", "inventory", "--bridge", TEST_BRIDGE], capture_output=True, text=True, check=True
    )
    cluster, problems = check_cluster(to_plain(load(done.stdout)))
    assert problems == []
    assert cluster is not None
    assert {n.name: n.host_key for n in cluster.nodes} == {n.name: n.host_key for n in sim_lan.nodes}


def test_sim_status_json_from_the_cli(sim_lan: SimLan, picf_bin: Path) -> None:
    import json

    done = subprocess.run(
        [str(picf_bin), "sim", "status", "--json", "--bridge", TEST_BRIDGE], capture_output=True, text=True, check=True
    )
    status = json.loads(done.stdout)
    rows = status["nodes"]
    assert [r["name"] for r in rows] == ["pi-1", "pi-2", "pi-3"]
    assert [r["image"] for r in rows] == ["bookworm", "trixie-2026", "bookworm"]
    assert all(r["running"] and r["ssh_up"] for r in rows)
    assert status["user"] == "pi" and status["password"] == sim_lan.password


def _leftovers(bridge: str) -> dict[str, list[str]]:
    directory = simlan.lan_dir(bridge)
    processes = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.readlink(f"/proc/{pid}/root").startswith(str(directory)):
                    processes.append(pid)
            except OSError:
                pass
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if pid.isdigit() else []
        except OSError:
            argv = []
        if b"picf.sim.supervisor" in argv and bridge.encode() in argv:
            processes.append(f"supervisor {pid}")
    mounts = [line for line in Path("/proc/self/mounts").read_text().splitlines() if str(directory) in line]
    return {
        "netns": [ns for ns in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
                  if ns.startswith(f"picf-{bridge}-")],
        "links": [name for name in os.listdir("/sys/class/net") if bridge in name],
        "processes": processes,
        "mounts": mounts,
        "files": [str(directory)] if directory.exists() else [],
    }  # fmt: skip


def test_down_leaves_nothing_behind_even_after_a_crash() -> None:
    require_root_linux()
    bridge = "picfc"
    try:
        simlan.up(2, ["3b+"], bridge, "10.231.16.0/24")
        assert _leftovers(bridge)["processes"]
        # A crash: the state file is gone, a node died, and a half-built node's namespace lingers.
        lan = simlan.require(bridge)
        Path(lan.directory, "state.json").unlink()
        os.kill(lan.nodes[0].keeper_pid or 0, 9)
        subprocess.run(["ip", "netns", "add", f"picf-{bridge}-pi-9"], check=True)
    finally:
        simlan.down(bridge)
    # The supervisor, its state file gone, ends on its own at its next look (every 0.1 s).
    stalls.wait_until(lambda: not _leftovers(bridge)["processes"], 30, "the supervisor ending")
    assert _leftovers(bridge) == {"netns": [], "links": [], "processes": [], "mounts": [], "files": []}


def test_sim_needs_root_and_says_how(picf_bin: Path) -> None:
    require_root_linux()
    # nobody, allowed only to read and search every directory (CAP_DAC_READ_SEARCH): the checkout may be where only
    # root may enter (/root/picf, a mktemp -d), and what is checked is picf's answer to a user who is not root.
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=+dac_read_search",
              "--ambient-caps=+dac_read_search"]  # fmt: skip
    done = subprocess.run(
        [*nobody, str(picf_bin), "sim", "up"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "needs root" in done.stderr and "sudo" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_booting_node_registers_its_arm_emulation_even_when_its_gid_map_comes_late(tmp_path: Path) -> None:
    # picf writes a node's uid map, then its gid map. A binfmt_misc mounted between the two has its register
    # owned by an unmapped group, and root in the node may not write it: the node fails to boot. On a busy
    # machine that window is real; here it is held open. Stage 2's own wait decides when the mount happens.
    require_root_linux()
    node = simplan.plan_node(1, "3b+", "picfz", simplan.parse_subnet("10.231.99.0/24"))
    wait = next(line for line in boot.init_scripts(tmp_path, node)[1].splitlines() if line.startswith("while "))
    mnt = tmp_path / "binfmt_misc"
    mnt.mkdir()
    script = tmp_path / "stage.sh"
    script.write_text(
        f"{wait}\nmount -t binfmt_misc binfmt_misc {mnt} || exit 3\n"
        f'grep "^:" /usr/lib/binfmt.d/qemu-arm.conf > {mnt}/register; echo "register: $?"\n'
    )
    node_boot = subprocess.Popen(
        ["unshare", "--user", "--mount", "--propagation", "private", "sh", str(script)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        own = os.readlink("/proc/self/ns/user")
        stalls.wait_until(lambda: os.readlink(f"/proc/{node_boot.pid}/ns/user") != own, 30, "the node's namespace")
        Path(f"/proc/{node_boot.pid}/uid_map").write_text("0 0 4294967295\n")
        time.sleep(0.5)  # the window between the two maps, held open (a slow machine's, not a figure)
        Path(f"/proc/{node_boot.pid}/gid_map").write_text("0 0 4294967295\n")
        out, _ = node_boot.communicate(timeout=30)
    finally:
        node_boot.kill()
    assert node_boot.returncode == 0 and out.strip() == "register: 0", out
