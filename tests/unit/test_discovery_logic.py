"""Discovery's pure parts: mDNS names (hostile ones too), the SSH probe parser, and the merge plan."""

from __future__ import annotations

from typing import Any

import pytest

from picf.discovery import mdns
from picf.discovery.facts import parse_probe
from picf.discovery.merge import plan_merge
from picf.models import check_cluster
from picf.models.cluster import Cluster
from picf.models.discovery import Candidate
from picf.sim import plan as simplan

KEY_A = "SHA256:" + "A" * 43
KEY_B = "SHA256:" + "B" * 43


@pytest.mark.parametrize(
    ("label", "host", "mac"),
    [
        ("pi-1 [b8:27:eb:ac:76:24]", "pi-1", "b8:27:eb:ac:76:24"),
        ("raspberrypi-2 [DC:A6:32:00:00:01]", "raspberrypi-2", "dc:a6:32:00:00:01"),
        ("my laptop", "my laptop", None),
        ("x [not a mac]", "x [not a mac]", None),
        ("[b8:27:eb:ac:76:24]", "[b8:27:eb:ac:76:24]", None),
    ],
)
def test_workstation_instance_names(label: str, host: str, mac: str | None) -> None:
    assert mdns.parse_workstation_instance(label) == (host, mac)


@pytest.mark.parametrize(
    ("hostname", "name"),
    [
        ("pi-1", "pi-1"),
        ("RaspberryPi-2", "raspberrypi-2"),
        ("pi_cell 3", "pi-cell-3"),
        ("pi-x\n  roles: [cell]", "pi-x-roles-cell"),
        ('"; rm -rf / #', "rm-rf"),
        ("\ufffd\ufffd", None),
        ("---", None),
        ("a" * 300, "a" * 63),
        ("ünïcødé", "n-c-d"),
    ],
)
def test_node_names_derived_from_hostile_host_names_are_plain_rfc1123(hostname: str, name: str | None) -> None:
    assert mdns.derive_node_name(hostname) == name


def test_shown_text_is_printable_and_bounded() -> None:
    shown = mdns.clean_text("evil\x1b[31m\x00name" + "x" * 200)
    assert shown.isprintable()
    assert len(shown) == 80


def test_instance_label_and_hostname() -> None:
    assert mdns.instance_label("pi-1 [x]._workstation._tcp.local.", mdns.WORKSTATION) == "pi-1 [x]"
    assert mdns.hostname_of("pi-1.local.") == "pi-1"
    assert mdns.hostname_of("printer.lan.") == "printer.lan"


def test_unknown_interface_is_named_with_the_known_ones() -> None:
    with pytest.raises(mdns.MdnsError, match=r"no network interface 'nosuch0'.*lo"):
        mdns.interface_addresses(["nosuch0"])


# --- the probe ------------------------------------------------------------------------------------------


def probe_text(**values: str) -> str:
    return "".join(f"@@picf:{k}\n{v}\n" for k, v in values.items())


def test_probe_of_a_pi_3b_plus_with_32_bit_os() -> None:
    facts = parse_probe(
        probe_text(
            model="Raspberry Pi 3 Model B Plus Rev 1.3",
            revision="a020d3",
            dpkg_arch="armhf",
            long_bit="32",
            uname_m="armv7l",
            mem_total_kb="948304",
            cgroup="v1 1",
            os="Raspbian GNU/Linux 12 (bookworm)",
        )
    )
    assert facts.is_pi
    assert facts.model is not None and facts.model.short == "3B+"
    assert (facts.arch, facts.memory_mb, facts.memory_cgroup) == ("armv7", 1024, True)


def test_probe_of_a_pi4_with_a_32_bit_userland_on_a_64_bit_kernel_says_armv7() -> None:
    facts = parse_probe(probe_text(model="Raspberry Pi 4 Model B Rev 1.5", revision="c03115", dpkg_arch="armhf",
                                   long_bit="32", uname_m="aarch64"))  # fmt: skip
    assert facts.arch == "armv7"
    assert facts.memory_mb == 4096


def test_probe_without_dpkg_uses_the_word_size() -> None:
    assert parse_probe(probe_text(uname_m="aarch64", long_bit="32")).arch == "armv7"
    assert parse_probe(probe_text(uname_m="aarch64", long_bit="64")).arch == "arm64"
    assert parse_probe(probe_text(dpkg_arch="armhf", uname_m="armv6l")).arch == "armv6"


def test_probe_of_a_non_pi_board_with_a_revision_line_is_not_a_pi() -> None:
    facts = parse_probe(probe_text(model="Orange Pi 5", revision="a020d3", dpkg_arch="arm64", mem_total_kb="8000000"))
    assert not facts.is_pi
    assert facts.memory_mb == 7812


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage\x00\xff\nmore",
        "@@picf:model\nRaspberry Pi 3 Mod",  # truncated mid-line
        "@@picf:revision\nzzzz\n@@picf:mem_total_kb\n-5\n@@picf:cgroup\nv1 maybe",
        "@@picf:model\n" + "x" * 100_000,
    ],
)
def test_probe_parser_survives_garbage(text: str) -> None:
    facts = parse_probe(text)
    assert facts.memory_mb is None or facts.memory_mb > 0
    assert facts.memory_cgroup is None


def test_probe_of_the_simulators_files_decodes_the_board() -> None:
    node = simplan.plan_node(1, "zerow", "picf0", simplan.parse_subnet("10.231.0.0/24"))
    revision = next(ln.split(":")[1].strip() for ln in simplan.cpuinfo_text(node).splitlines() if ln.startswith("Rev"))
    facts = parse_probe(probe_text(model=node.model, revision=revision, dpkg_arch=simplan.dpkg_arch(node),
                                   uname_m=node.uname_m))  # fmt: skip
    assert (facts.arch, facts.memory_mb) == ("armv6", 512)


# --- merging ---------------------------------------------------------------------------------------------


def cluster_of(*nodes: dict[str, Any]) -> Cluster:
    cluster, problems = check_cluster({"name": "lab", "nodes": list(nodes)})
    assert cluster is not None and not problems
    return cluster


def candidate(**fields: Any) -> Candidate:
    base: dict[str, Any] = {
        "hostname": "pi-1", "name": "pi-1", "address": "10.231.0.11", "mac": "b8:27:eb:00:00:01",
        "is_pi": True, "host_key": KEY_A, "arch": "armv7", "memory_mb": 1024, "probed": True,
    }  # fmt: skip
    base.update(fields)
    return Candidate.model_validate(base)


def test_new_pis_are_added_without_roles_and_non_pis_only_with_all() -> None:
    laptop = candidate(hostname="laptop", name="laptop", mac="00:11:22:33:44:55", is_pi=False, host_key=KEY_B,
                       address="10.231.0.50")  # fmt: skip
    actions = {a.hostname: a for a in plan_merge(None, [candidate(), laptop], include_non_pi=False)}
    assert actions["pi-1"].outcome == "add"
    assert actions["pi-1"].changes["roles"] == []
    assert actions["pi-1"].changes["host_key"] == KEY_A
    assert actions["laptop"].outcome == "skip" and "--all" in actions["laptop"].reason
    assert {a.outcome for a in plan_merge(None, [laptop], include_non_pi=True)} == {"add"}


def test_a_known_node_is_matched_by_host_key_and_its_new_address_updated() -> None:
    cluster = cluster_of({"name": "cell-a", "address": "10.231.0.99", "host_key": KEY_A, "arch": "armv7"})
    [action] = plan_merge(cluster, [candidate()], include_non_pi=False)
    assert (action.outcome, action.node, action.matched_by) == ("update", "cell-a", "host_key")
    assert action.changes == {"address": "10.231.0.11", "mac": "b8:27:eb:00:00:01", "memory_mb": 1024}


def test_an_unchanged_node_changes_nothing() -> None:
    cluster = cluster_of({"name": "pi-1", "address": "10.231.0.11", "host_key": KEY_A, "mac": "b8:27:eb:00:00:01",
                          "arch": "armv7", "memory_mb": 1024})  # fmt: skip
    assert [a.outcome for a in plan_merge(cluster, [candidate()], include_non_pi=False)] == ["unchanged"]


def test_a_known_mac_with_a_different_host_key_is_a_conflict() -> None:
    cluster = cluster_of({"name": "cell-a", "address": "10.231.0.11", "mac": "b8:27:eb:00:00:01", "host_key": KEY_B})
    [action] = plan_merge(cluster, [candidate()], include_non_pi=False)
    assert action.outcome == "conflict"
    assert "possible impostor" in action.reason and action.node == "cell-a"
    assert action.reason.endswith("`picf inventory pin cell-a`; not written")  # the same words as pin and recreate


def test_a_known_name_with_a_different_mac_is_a_conflict() -> None:
    cluster = cluster_of({"name": "pi-1", "address": "pi-1.local", "mac": "b8:27:eb:00:00:99"})
    [action] = plan_merge(cluster, [candidate(host_key=None, probed=False)], include_non_pi=False)
    assert action.outcome == "conflict"


def test_a_hand_written_node_is_pinned_on_first_discovery() -> None:
    cluster = cluster_of({"name": "pi-1", "address": "pi-1.local", "roles": ["router"], "arch": "armv7",
                          "memory_mb": 1024})  # fmt: skip
    [action] = plan_merge(cluster, [candidate()], include_non_pi=False)
    assert action.outcome == "update"
    assert action.changes["host_key"] == KEY_A and action.changes["address"] == "10.231.0.11"


def test_unprobed_and_unreachable_hosts_are_listed_not_added() -> None:
    refused = candidate(host_key=None, probed=False, probe_error="SSH refused on port 22")
    [action] = plan_merge(None, [refused], include_non_pi=False)
    assert action.outcome == "skip" and "SSH refused" in action.reason


def test_a_new_host_on_an_address_the_inventory_gives_another_node_is_not_added() -> None:
    cluster = cluster_of({"name": "old", "address": "10.231.0.11", "host_key": KEY_B, "mac": "b8:27:eb:00:00:99"})
    [action] = plan_merge(cluster, [candidate(name="pi-new", hostname="pi-new")], include_non_pi=False)
    assert action.outcome == "skip" and "belongs to old" in action.reason


def test_names_that_collide_after_cleaning_get_a_suffix() -> None:
    a = candidate(hostname="Pi_1", name="pi-1")
    b = candidate(hostname="pi-1", name="pi-1", mac="b8:27:eb:00:00:02", host_key=KEY_B, address="10.231.0.12")
    names = sorted(a.node for a in plan_merge(None, [a, b], include_non_pi=False) if a.node)
    assert names == ["pi-1", "pi-1-2"]


def test_what_merge_adds_validates() -> None:
    actions = plan_merge(None, [candidate(model="a020d3")], include_non_pi=False)
    cluster = cluster_of(actions[0].changes)
    assert cluster.nodes[0].model is not None and cluster.nodes[0].model.short == "3B+"


def test_two_names_for_one_machine_are_added_once() -> None:
    alias = candidate(hostname="alias", name="alias", mac=None, self_name="pi-1")
    actions = {a.hostname: a for a in plan_merge(None, [alias, candidate(self_name="pi-1")], include_non_pi=False)}
    assert actions["alias"].outcome == "skip" and "same machine" in actions["alias"].reason
    assert actions["pi-1"].outcome == "add"
