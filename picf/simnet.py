"""The addresses picf sim owns, and whether a simulated LAN is up on them.

`picf sim` puts its nodes in 10.231.0.0/16 (default 10.231.0.0/24). An address there is only ever a simulated
Pi: when no LAN of this machine is up on it, a connection would leave through the default route onto whatever
network the machine is on. picf refuses that (`check_reachable`), the one rule `remote.connect` applies before
it opens a socket.
"""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct

import ifaddr

from picf.errors import UsageError

SIM_RANGE = ipaddress.IPv4Network("10.231.0.0/16")

_RTM_NEWADDR, _RTM_GETADDR, _NLMSG_ERROR, _NLMSG_DONE = 20, 22, 2, 3
_NLM_F_REQUEST_DUMP = 0x1 | 0x300
_IFA_ADDRESS, _IFA_LOCAL = 1, 2
_SIOCGIFFLAGS = 0x8913


def _netlink_ipv4() -> list[tuple[int, str, int]]:
    """(interface index, address, prefix length) of every IPv4 address, from one netlink dump (Linux).

    ifaddr's getifaddrs() walks every address of every family in Python: with picf sim's 100 veths (each with an
    IPv6 link-local address) that cost ~28 ms, paid on every connection. The kernel hands out the IPv4 ones
    alone."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as sock:
        sock.settimeout(2.0)
        sock.send(
            struct.pack("=IHHII", 24, _RTM_GETADDR, _NLM_F_REQUEST_DUMP, 1, 0)
            + struct.pack("=BBBBI", socket.AF_INET, 0, 0, 0, 0)
        )
        out: list[tuple[int, str, int]] = []
        while True:
            data = sock.recv(1 << 16)
            at = 0
            while at + 16 <= len(data):
                length, kind = struct.unpack_from("=IH", data, at)
                if length < 16 or kind == _NLMSG_DONE:
                    return out
                if kind == _NLMSG_ERROR:
                    raise OSError("netlink: the address dump failed")
                if kind == _RTM_NEWADDR and length >= 24:
                    _family, prefix, _flags, _scope, index = struct.unpack_from("=BBBBI", data, at + 16)
                    found: dict[int, str] = {}
                    attr = at + 24
                    while attr + 4 <= at + length:
                        size, kind_of = struct.unpack_from("=HH", data, attr)
                        if size < 4:
                            break
                        if kind_of in (_IFA_ADDRESS, _IFA_LOCAL) and size == 8:
                            found[kind_of] = socket.inet_ntoa(data[attr + 4 : attr + 8])
                        attr += (size + 3) & ~3
                    address = found.get(_IFA_LOCAL) or found.get(_IFA_ADDRESS)  # LOCAL is ours on a point-to-point link
                    if address:
                        out.append((index, address, prefix))
                at += (length + 3) & ~3


def _is_up(name: str) -> bool:
    """The interface's IFF_UP, asked of the kernel (sysfs shows the namespace it was mounted in, not ours)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            answer = fcntl.ioctl(sock, _SIOCGIFFLAGS, struct.pack("16sH", name.encode()[:15], 0))
        return bool(struct.unpack_from("16sH", answer)[1] & 0x1)
    except OSError:
        return True  # the interface went away, or no such ioctl here: trust the address list


def _local_networks() -> list[tuple[str, ipaddress.IPv4Network]]:
    """(interface, network) of every IPv4 address on this machine's interfaces that are up."""
    out = []
    try:
        dump = _netlink_ipv4() if hasattr(socket, "AF_NETLINK") else None
    except OSError:
        dump = None  # no netlink here (a container without it): ask the slow way
    if dump is not None:
        for index, address, prefix in dump:
            try:
                name = socket.if_indextoname(index)
            except OSError:
                continue  # the interface went away during the dump
            if _is_up(name):
                out.append((name, ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)))
        return out
    for adapter in ifaddr.get_adapters():
        if not _is_up(adapter.nice_name):
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
