"""The addresses picf sim owns, and whether a simulated LAN is up on them.

`picf sim` puts its nodes in 10.231.0.0/16 (default 10.231.0.0/24). An address there is only ever a simulated
Pi: when no LAN of this machine is up on it, a connection would leave through the default route onto whatever
network the machine is on. picf refuses that (`check_reachable`), the one rule `remote.connect` applies before
it opens a socket.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import ifaddr

from picf.errors import UsageError

SIM_RANGE = ipaddress.IPv4Network("10.231.0.0/16")


def _local_networks() -> list[tuple[str, ipaddress.IPv4Network]]:
    """(interface, network) of every IPv4 address on this machine's interfaces that are up."""
    out = []
    for adapter in ifaddr.get_adapters():
        try:
            flags = int(Path("/sys/class/net", adapter.nice_name, "flags").read_text(), 16)
        except (OSError, ValueError):
            flags = 1  # not Linux, or no sysfs: trust the adapter list
        if not flags & 0x1:
            continue
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                out.append((adapter.nice_name, ipaddress.IPv4Network(f"{ip.ip}/{ip.network_prefix}", strict=False)))
    return out


def simulated_lan_for(address: str) -> str | None:
    """The interface of the simulated LAN `address` lives on, when it is in picf sim's range and one is up."""
    ip = ipaddress.IPv4Address(address)
    return next((name for name, net in _local_networks() if ip in net), None)


def in_sim_range(address: str) -> bool:
    """True for an IP address in picf sim's range (names, `.local` or otherwise, never are)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.version == 4 and ip in SIM_RANGE


def check_reachable(address: str) -> None:
    """Refuse an address in picf sim's range when no simulated LAN on this machine is up on it."""
    if in_sim_range(address) and simulated_lan_for(address) is None:
        raise UsageError(
            f"{address} is in picf sim's subnet ({SIM_RANGE}) but no simulated LAN is up on it; run "
            "`picf sim up`, or fix the address"
        )
