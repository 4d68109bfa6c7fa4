"""The simulated LAN's plan, its Pi files and its faults: pure logic, no namespaces needed."""

from __future__ import annotations

import pytest

from picf.models import check_cluster, is_pi_mac, parse_model_string, parse_revision_code
from picf.models.pi import memory_cgroup_enabled, memory_cgroup_on
from picf.models.sim import SimLan
from picf.sim import boot, faults, image, plan
from picf.sim.export import inventory_yaml
from picf.yamldoc import load, to_plain


def test_nodes_get_consecutive_addresses_pi_macs_and_board_facts() -> None:
    nodes = plan.plan_lan(3, ["3b+", "4b", "zerow"], "picf0", "10.231.0.0/24")
    assert [n.address for n in nodes] == ["10.231.0.11", "10.231.0.12", "10.231.0.13"]
    assert [(n.arch, n.memory_mb, n.uname_m) for n in nodes] == [
        ("armv7", 1024, "armv7l"),
        ("arm64", 4096, "aarch64"),
        ("armv6", 512, "armv6l"),
    ]
    assert all(is_pi_mac(n.mac) for n in nodes)
    assert len({n.mac for n in nodes}) == 3
    assert [n.veth for n in nodes] == ["vpicf0-1", "vpicf0-2", "vpicf0-3"]
    assert all(len(n.veth) <= 15 for n in plan.plan_lan(100, ["3b+"], "abcdefghij", "10.231.0.0/24"))


def test_a_pi4_with_a_32_bit_os_reports_an_aarch64_kernel_and_armhf_userland() -> None:
    node = plan.plan_node(1, "4b:armv7", "picf0", plan.parse_subnet("10.231.0.0/24"))
    assert (node.uname_m, node.arch, plan.dpkg_arch(node), plan.long_bit(node)) == ("aarch64", "armv7", "armhf", 32)
    assert boot.binfmt_entries(node) == ("qemu-arm", "qemu-aarch64")


def test_a_32_bit_kernel_registers_only_qemu_arm_so_arm64_binaries_fail() -> None:
    node = plan.plan_node(1, "3b+", "picf0", plan.parse_subnet("10.231.0.0/24"))
    assert boot.binfmt_entries(node) == ("qemu-arm",)


def test_macs_are_stable_per_bridge_and_name() -> None:
    assert plan.node_mac("b8:27:eb", "picf0", "pi-1") == plan.node_mac("b8:27:eb", "picf0", "pi-1")
    assert plan.node_mac("b8:27:eb", "picf0", "pi-1") != plan.node_mac("b8:27:eb", "other", "pi-1")


@pytest.mark.parametrize(
    ("subnet", "message"),
    [
        ("10.231.0.0/30", "/26 or larger"),
        ("8.8.8.0/24", "outside picf sim's range"),
        ("192.168.5.0/24", "outside picf sim's range"),
        ("10.231.0.1/24", "has host bits set"),
        ("fd00::/64", "IPv4"),
        ("banana", "does not appear"),
    ],
)
def test_bad_subnets_are_refused(subnet: str, message: str) -> None:
    with pytest.raises(plan.PlanError, match=message):
        plan.plan_lan(1, ["3b+"], "picf0", subnet)


@pytest.mark.parametrize("bridge", ["Picf", "br-0", "averyverylongname", "", "0br"])
def test_bad_bridge_names_are_refused(bridge: str) -> None:
    with pytest.raises(plan.PlanError):
        plan.validate_bridge(bridge)


def test_unknown_boards_and_counts_are_refused() -> None:
    with pytest.raises(plan.PlanError, match="unknown board"):
        plan.plan_lan(1, ["pi9"], "picf0", "10.231.0.0/24")
    with pytest.raises(plan.PlanError, match="1 to 100"):
        plan.plan_lan(0, ["3b+"], "picf0", "10.231.0.0/24")
    with pytest.raises(plan.PlanError, match="no room"):
        plan.plan_lan(60, ["3b+"], "picf0", "10.231.0.0/26")


@pytest.mark.parametrize("board", list(plan.BOARDS))
def test_the_pi_files_decode_back_to_the_board(board: str) -> None:
    node = plan.plan_node(1, board, "picf0", plan.parse_subnet("10.231.0.0/24"))
    cpuinfo = plan.cpuinfo_text(node)
    revision = next(line.split(":")[1].strip() for line in cpuinfo.splitlines() if line.startswith("Revision"))
    assert parse_revision_code(revision).memory_mb == node.memory_mb
    assert parse_model_string(node.model + "\x00").short == parse_revision_code(revision).short
    total_kb = int(plan.meminfo_text(node).split()[1])
    assert node.memory_mb * 1024 * 0.85 < total_kb < node.memory_mb * 1024


def test_overheat_raises_temperature_and_the_throttle_bits_now_and_since_boot() -> None:
    hot = faults.apply_firmware_fault(faults.Firmware(47_000, 0), "overheat")
    assert hot.temp_milli_c > 80_000
    assert hot.throttled == 0xE000E


def test_undervoltage_sets_bits_0_and_16_and_keeps_the_rest() -> None:
    hot = faults.apply_firmware_fault(faults.Firmware(47_000, 0), "overheat")
    both = faults.apply_firmware_fault(hot, "undervoltage")
    assert both.throttled == 0xF000F
    assert faults.apply_firmware_fault(faults.Firmware(47_000, 0), "undervoltage").throttled == 0x10001


def test_clear_returns_to_a_cool_pi() -> None:
    cleared = faults.apply_firmware_fault(faults.Firmware(85_000, 0xF000F), "clear")
    assert cleared == faults.Firmware(image.NORMAL_TEMP_MILLI_C, 0)


def test_active_faults_are_undone_by_their_opposites() -> None:
    active = faults.active_after(faults.active_after([], "link-down"), "overheat")
    assert active == ["link-down", "overheat"]
    assert faults.active_after(active, "link-up") == ["overheat"]
    assert faults.active_after(active, "clear") == ["link-down"]
    assert faults.parse_throttled("throttled=0x50005") == 0x50005


def test_the_exported_inventory_validates_with_host_keys_pinned() -> None:
    nodes = plan.plan_lan(3, ["3b+", "4b", "zerow"], "picf0", "10.231.0.0/24")
    nodes = [n.model_copy(update={"host_key": "SHA256:" + "A" * 43}) if n.index == 1 else n for n in nodes]
    lan = SimLan(
        bridge="picf0", subnet="10.231.0.0/24", bridge_address="10.231.0.1", directory="/run/picf-sim/picf0",
        controller_key="/run/picf-sim/picf0/id_ed25519", known_hosts="/run/picf-sim/picf0/known_hosts", nodes=nodes,
    )  # fmt: skip
    cluster, problems = check_cluster(to_plain(load(inventory_yaml(lan))))
    assert problems == []
    assert cluster is not None
    assert [n.arch for n in cluster.nodes] == ["armv7", "arm64", "armv6"]
    assert cluster.nodes[0].host_key == "SHA256:" + "A" * 43
    assert cluster.ssh.private_key == "/run/picf-sim/picf0/id_ed25519"
    assert cluster.ssh.user == "pi"  # the first user, never root


def test_proc_cgroups_memory_line() -> None:
    header = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
    assert memory_cgroup_enabled(header + "memory\t4\t37\t1\n") is True
    assert memory_cgroup_enabled(header + "memory\t0\t1\t0\n") is False


def test_cgroup_v2_controllers_decide_before_proc_cgroups() -> None:
    header = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
    assert memory_cgroup_on("cpuset cpu io memory pids\n", header + "memory\t0\t1\t0\n") is True
    assert memory_cgroup_on("cpuset cpu io pids\n", header + "memory\t0\t1\t1\n") is False
    assert memory_cgroup_on(None, header + "memory\t0\t1\t1\n") is True  # no cgroup v2: the v1 row
    assert memory_cgroup_on(None, header + "cpu\t0\t1\t1\n") is None  # kernel 6.12, no v1 memory row


@pytest.mark.parametrize(("image", "row"), [("bookworm", True), ("trixie-2026", False)])
def test_each_image_shows_the_memory_cgroup_only_after_cmdline_and_a_boot(image: str, row: bool) -> None:
    node = plan.plan_node(1, "3b+", "picf0", plan.parse_subnet("10.231.0.0/24"), image)
    off, on = boot.kernel_files(node, memory_cgroup=False), boot.kernel_files(node, memory_cgroup=True)
    assert "memory" not in off["cgroup.controllers"].split() and "memory" in on["cgroup.controllers"].split()
    assert memory_cgroup_on(off["cgroup.controllers"], off["cgroups"]) is False
    assert memory_cgroup_on(on["cgroup.controllers"], on["cgroups"]) is True
    assert ("memory\t" in off["cgroups"]) is row  # trixie's kernel 6.12 has no v1 memory row at all
    if row:
        assert memory_cgroup_enabled(off["cgroups"]) is False


def test_the_kernel_reads_the_last_cgroup_word_of_its_command_line() -> None:
    assert not boot.memory_cgroup_requested("console=tty1 root=PARTUUID=x rootwait")
    assert boot.memory_cgroup_requested("console=tty1 rootwait cgroup_enable=memory")
    assert not boot.memory_cgroup_requested("cgroup_enable=memory cgroup_disable=memory")


def test_a_hostname_prefix_names_the_nodes_and_bad_ones_are_refused() -> None:
    nodes = plan.plan_lan(2, ["3b+"], "picf1", "10.231.1.0/24", prefix="lab")
    assert [n.name for n in nodes] == ["lab-1", "lab-2"]
    assert [n.netns for n in nodes] == ["picf-picf1-lab-1", "picf-picf1-lab-2"]
    for bad in ["", "Pi", "1pi", "pi-x", "toolongname"]:
        with pytest.raises(plan.PlanError, match="--hostname-prefix"):
            plan.plan_lan(1, ["3b+"], "picf1", "10.231.1.0/24", prefix=bad)
