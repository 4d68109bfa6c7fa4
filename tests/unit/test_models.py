"""Node, Role and Cluster models: field rules and the cross-node rules."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from picf.models import Cluster, Node, check_cluster


def node(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "pi-1", "address": "10.231.0.11"}
    base.update(fields)
    return base


def test_node_normalises_mac_arch_and_address() -> None:
    n = Node.model_validate(node(mac="B8-27-EB-00-00-01", arch="armhf", address="PI-1.local"))
    assert n.mac == "b8:27:eb:00:00:01"
    assert n.arch == "armv7"
    assert n.address == "pi-1.local"


@pytest.mark.parametrize("name", ["Pi-1", "-pi", "pi-", "pi_1", "a" * 64, ""])
def test_node_names_must_be_rfc1123(name: str) -> None:
    with pytest.raises(ValidationError):
        Node.model_validate(node(name=name))


@pytest.mark.parametrize("address", ["10.231.0.300", "pi-1.lan", "example.com", "", "::zz"])
def test_addresses_are_ips_or_mdns_names(address: str) -> None:
    with pytest.raises(ValidationError):
        Node.model_validate(node(address=address))


def test_ipv6_addresses_are_accepted() -> None:
    assert Node.model_validate(node(address="fe80::1")).address == "fe80::1"


def test_memory_falls_back_to_the_revision_code() -> None:
    assert Node.model_validate(node(model="c03111")).effective_memory_mb == 4096
    assert Node.model_validate(node(model="c03111", memory_mb=2048)).effective_memory_mb == 2048


def test_a_role_listed_twice_is_refused() -> None:
    with pytest.raises(ValidationError, match="listed twice"):
        Node.model_validate(node(roles=["cell", "cell"]))


def problems_of(data: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    _, problems = check_cluster(data)
    return [(p.loc, p.message) for p in problems]


def test_pi_zero_cannot_be_a_cell() -> None:
    found = problems_of(
        {"name": "c", "nodes": [node(model="Raspberry Pi Zero W Rev 1.1", roles=["cell"], memory_mb=512)]}
    )
    assert any("cannot run on a Raspberry Pi Zero W" in msg for _, msg in found)
    assert any("at least 1024 MB" in msg for _, msg in found)


def test_cell_on_armv6_is_refused_and_on_armv7_accepted() -> None:
    assert problems_of({"name": "c", "nodes": [node(arch="armv6", memory_mb=1024, roles=["cell"])]})
    assert not problems_of({"name": "c", "nodes": [node(arch="armv7", memory_mb=1024, roles=["cell"])]})


def test_a_cell_with_the_memory_cgroup_off_is_valid_because_deploy_turns_it_on() -> None:
    on = node(arch="arm64", memory_mb=4096, roles=["cell"], memory_cgroup=True)
    off = node(arch="arm64", memory_mb=4096, roles=["cell"], memory_cgroup=False)
    assert not problems_of({"name": "c", "nodes": [on]})
    assert not problems_of({"name": "c", "nodes": [off]})


def test_uniqueness_names_the_first_owner() -> None:
    data = {
        "name": "c",
        "nodes": [
            node(name="a", address="10.0.0.1", mac="b8:27:eb:00:00:01"),
            node(name="b", address="10.0.0.1", mac="B8:27:EB:00:00:01"),
            node(name="a", address="10.0.0.3"),
        ],
    }
    assert problems_of(data) == [
        (("nodes", 1, "address"), "10.0.0.1 is already used by nodes[0]"),
        (("nodes", 1, "mac"), "b8:27:eb:00:00:01 is already used by nodes[0]"),
        (("nodes", 2, "name"), "a is already used by nodes[0]"),
    ]


def test_rules_still_run_on_the_valid_nodes_when_one_is_malformed() -> None:
    data = {
        "name": "c",
        "nodes": [node(name="a", memory_mb="lots"), node(name="b"), node(name="b", address="10.0.0.9")],
    }
    locs = [loc for loc, _ in problems_of(data)]
    assert ("nodes", 0, "memory_mb") in locs
    assert ("nodes", 2, "name") in locs


def test_custom_roles_extend_and_override_the_builtin_ones() -> None:
    data = {
        "name": "c",
        "roles": {"cell": {"arches": ["armv6", "armv7"], "min_memory_mb": 256}, "blinkt": {"jobs": ["lights"]}},
        "nodes": [node(arch="armv6", memory_mb=512, roles=["cell", "blinkt"])],
    }
    cluster, problems = check_cluster(data)
    assert problems == []
    assert cluster is not None
    assert cluster.all_roles["blinkt"].jobs == ("lights",)


def test_constructing_a_cluster_that_breaks_the_rules_raises() -> None:
    with pytest.raises(ValidationError, match="already used"):
        Cluster.model_validate({"name": "c", "nodes": [node(), node(name="pi-2")]})


def test_unknown_field_suggests_the_close_spelling() -> None:
    found = problems_of({"name": "c", "nodes": [{"name": "a", "adress": "10.0.0.1"}]})
    assert (("nodes", 0, "adress"), "unknown field; did you mean 'address'?") in found
