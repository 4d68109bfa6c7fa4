"""The simulated LAN's wiring: a bridge on the host, and a network namespace cabled to it for each node."""

from __future__ import annotations

import os

from picf.models.sim import SimLan, SimNode
from picf.sim import host, plan


def ensure_bridge(lan: SimLan) -> None:
    """The bridge, with the controller's address, up (idempotent)."""
    prefix = plan.parse_subnet(lan.subnet).prefixlen
    if not host.link_exists(lan.bridge):
        host.run(["ip", "link", "add", lan.bridge, "type", "bridge", "mcast_snooping", "0"])
    addresses = host.run(["ip", "-o", "-4", "addr", "show", "dev", lan.bridge])
    if f" {lan.bridge_address}/" not in addresses:
        host.run(["ip", "addr", "add", f"{lan.bridge_address}/{prefix}", "dev", lan.bridge])
    host.run(["ip", "link", "set", lan.bridge, "up"])


def cable(lan: SimLan, node: SimNode) -> None:
    """The node's network namespace and its cable to the bridge, with the board's MAC (idempotent)."""
    if node.netns in host.netns_list() and host.link_exists(node.veth):
        return
    unplug(node)
    prefix = plan.parse_subnet(lan.subnet).prefixlen
    host.run(["ip", "netns", "add", node.netns])
    host.run(["ip", "link", "add", node.veth, "type", "veth", "peer", "name", "eth0", "netns", node.netns])
    host.run(["ip", "link", "set", node.veth, "master", lan.bridge, "up"])
    ns = ["ip", "-n", node.netns]
    host.run([*ns, "link", "set", "eth0", "address", node.mac])
    host.run([*ns, "addr", "add", f"{node.address}/{prefix}", "dev", "eth0"])
    host.run([*ns, "link", "set", "lo", "up"])
    # The node's root is root only in its own user namespace; let it bind port 22 in its network namespace.
    host.run(["ip", "netns", "exec", node.netns, "sysctl", "-q", "-w", "net.ipv4.ip_unprivileged_port_start=0"])


def unplug(node: SimNode) -> None:
    """Remove the node's namespace and cable (tolerates a half-made one)."""
    if node.netns in host.netns_list():
        host.run(["ip", "netns", "delete", node.netns], check=False)
    if host.link_exists(node.veth):
        host.run(["ip", "link", "delete", node.veth], check=False)


def remove_all(bridge: str) -> tuple[list[str], bool]:
    """Every namespace and cable of the LAN on `bridge`, and the bridge itself (also after a crash)."""
    prefix = f"picf-{bridge}-"
    removed = []
    for ns in host.netns_list():
        if ns.startswith(prefix):
            for pid in host.run(["ip", "netns", "pids", ns], check=False).split():
                host.kill(int(pid))
            host.run(["ip", "netns", "delete", ns], check=False)
            removed.append(ns)
    for name in os.listdir("/sys/class/net"):
        if name.startswith(f"v{bridge}-"):
            host.run(["ip", "link", "delete", name], check=False)
    bridge_removed = host.link_exists(bridge)
    if bridge_removed:
        host.run(["ip", "link", "delete", bridge], check=False)
    return removed, bridge_removed
