"""Which address picf connects to: an IPv4 address as it is, `NAME.local` asked on mDNS, nothing else."""

from __future__ import annotations

import ipaddress

from picf.transport.errors import RemoteError


def ipv4_only(addresses: list[str]) -> list[str]:
    """The IPv4 addresses among `addresses` (IPv6 and garbage dropped), in their order."""
    out = []
    for text in addresses:
        try:
            if ipaddress.ip_address(text).version == 4:
                out.append(text)
        except ValueError:
            continue
    return out


def resolve_local_name(name: str, timeout: float) -> str | None:
    """The IPv4 address `NAME.local` answers with on mDNS (multicast on the local links only), or None."""
    from zeroconf import InterfaceChoice, IPVersion, Zeroconf  # imported only when a name needs it
    from zeroconf._services.info import AddressResolverIPv4

    server = name.rstrip(".") + "."
    try:
        zc = Zeroconf(interfaces=InterfaceChoice.All, ip_version=IPVersion.V4Only)
    except OSError:
        return None
    try:
        resolver = AddressResolverIPv4(server)
        if not resolver.request(zc, max(100, int(timeout * 1000))):
            return None
        found = ipv4_only(resolver.parsed_addresses())
        return found[0] if found else None
    finally:
        zc.close()


def resolve(address: str, timeout: float) -> str:
    """The IPv4 address to connect to: an IP as it is; `NAME.local` asked on mDNS only (never a DNS server,
    which could be outside); anything else refused."""
    try:
        return str(ipaddress.IPv4Address(address))
    except ValueError:
        pass
    if not address.lower().rstrip(".").endswith(".local"):
        raise RemoteError(address, "resolve", "not an IPv4 address or NAME.local; fix the address")
    found = resolve_local_name(address, timeout)
    if found is None:
        raise RemoteError(address, "resolve", f"no answer on mDNS within {timeout:g} s (is the Pi on this LAN?)")
    return found
