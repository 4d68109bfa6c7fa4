"""mDNS browsing with zeroconf, and the pure parsing of what answers say.

Raspberry Pi OS runs avahi, which publishes `<host>.local` and (since late 2024) `_workstation._tcp` named
`<host> [<mac>]`; `_ssh._tcp` only when someone enables it. Anything on the LAN can answer, with any bytes in
its names, so every name is cleaned before picf shows it and only strict host names ever reach a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import ifaddr
from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from picf.errors import UsageError
from picf.transport.names import ipv4_only

WORKSTATION = "_workstation._tcp.local."
SSH = "_ssh._tcp.local."
SERVICE_TYPES = (WORKSTATION, SSH)

_WORKSTATION_NAME = re.compile(r"^(?P<host>.+) \[(?P<mac>[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5})\]$")
_MAX_SHOWN = 80


class MdnsError(UsageError):
    """Discovery cannot listen where it was asked to (no such interface, no IPv4, no multicast)."""


@dataclass
class Sighting:
    """One resolved mDNS service instance."""

    service_type: str
    instance: str
    server: str | None = None
    addresses: list[str] = field(default_factory=list)
    port: int | None = None


def clean_text(text: str, limit: int = _MAX_SHOWN) -> str:
    """Printable, bounded text for tables and notes (mDNS names may hold anything)."""
    shown = "".join(ch if ch.isprintable() else "?" for ch in text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def instance_label(full_name: str, service_type: str) -> str:
    """`pi-1 [b8:27:eb:..]._workstation._tcp.local.` -> `pi-1 [b8:27:eb:..]`."""
    suffix = "." + service_type
    return full_name[: -len(suffix)] if full_name.endswith(suffix) else full_name


def parse_workstation_instance(label: str) -> tuple[str, str | None]:
    """The host and MAC in a `_workstation` instance label; MAC None when the label has none."""
    match = _WORKSTATION_NAME.match(label)
    if not match:
        return label, None
    return match["host"], match["mac"].lower()


def hostname_of(server: str) -> str:
    """`pi-1.local.` -> `pi-1`."""
    name = server.rstrip(".")
    return name[: -len(".local")] if name.lower().endswith(".local") else name


def derive_node_name(hostname: str) -> str | None:
    """An RFC 1123 node name from an advertised host name, or None when nothing usable is left."""
    name = re.sub(r"[^a-z0-9-]+", "-", hostname.lower())
    name = re.sub(r"-{2,}", "-", name).strip("-")[:63].rstrip("-")
    return name or None


def interface_addresses(names: list[str]) -> list[str]:
    """IPv4 addresses of the named interfaces; MdnsError naming what is missing."""
    adapters = {a.nice_name: a for a in ifaddr.get_adapters()}
    out: list[str] = []
    for name in names:
        adapter = adapters.get(name)
        if adapter is None:
            known = ", ".join(sorted(adapters)) or "none"
            raise MdnsError(f"no network interface {name!r} (interfaces: {known})")
        ipv4 = [str(ip.ip) for ip in adapter.ips if isinstance(ip.ip, str)]
        if not ipv4:
            raise MdnsError(f"interface {name!r} has no IPv4 address; mDNS discovery needs one")
        out.extend(ipv4)
    return out


def interface_networks(names: list[str]) -> list[ipaddress.IPv4Network]:
    """The IPv4 networks of the named interfaces (the links discovery listens on)."""
    adapters = {a.nice_name: a for a in ifaddr.get_adapters()}
    return [
        ipaddress.IPv4Network(f"{ip.ip}/{ip.network_prefix}", strict=False)
        for name in names
        if name in adapters
        for ip in adapters[name].ips
        if isinstance(ip.ip, str)
    ]


def on_links(addresses: list[str], networks: list[ipaddress.IPv4Network]) -> list[str]:
    """The addresses that lie on one of `networks` (all of them when no networks are given). Linux hands a
    multicast socket what every interface hears, so an answer from another link must be dropped here."""
    if not networks:
        return addresses
    return [a for a in addresses if any(ipaddress.IPv4Address(a) in net for net in networks)]


async def browse(
    interfaces: list[str] | None,
    settle: float,
    timeout: float,
    on_sighting: Callable[[Sighting], None],
    busy: Callable[[], bool] = lambda: False,
) -> int:
    """Browse until nothing new arrived for `settle` seconds and `busy()` is false, or `timeout` passed.

    `on_sighting` is called on the event loop for every resolved instance; returns how many were seen.
    """
    addresses = interface_addresses(interfaces) if interfaces else None
    networks = interface_networks(interfaces) if interfaces else []
    try:
        zc = AsyncZeroconf(interfaces=addresses if addresses else InterfaceChoice.All, ip_version=IPVersion.V4Only)
    except OSError as exc:
        raise MdnsError(f"cannot listen for mDNS: {exc.strerror or exc} (is multicast enabled?)") from None
    seen: set[tuple[str, str]] = set()
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    def on_change(zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change in (ServiceStateChange.Added, ServiceStateChange.Updated) and (service_type, name) not in seen:
            seen.add((service_type, name))
            queue.put_nowait((service_type, name))

    async def resolve(service_type: str, name: str) -> None:
        info = AsyncServiceInfo(service_type, name)
        try:
            found = await info.async_request(zc.zeroconf, 1500)
        except Exception:  # a garbled answer must not end discovery
            found = False
        sighting = Sighting(service_type=service_type, instance=instance_label(name, service_type))
        if found:
            heard = ipv4_only(info.parsed_addresses())
            sighting.addresses = on_links(heard, networks)
            if heard and not sighting.addresses:
                return  # a host on another link (another LAN of this machine): not on the one asked about
            sighting.server = info.server
            sighting.port = info.port
        on_sighting(sighting)

    browser = AsyncServiceBrowser(zc.zeroconf, list(SERVICE_TYPES), handlers=[on_change])
    tasks: set[asyncio.Task[None]] = set()
    started = last_new = time.monotonic()
    try:
        while True:
            while not queue.empty():
                service_type, name = queue.get_nowait()
                task = asyncio.ensure_future(resolve(service_type, name))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                last_new = time.monotonic()
            now = time.monotonic()
            if now - started >= timeout:
                break
            if not tasks and not busy() and now - last_new >= settle:
                break
            await asyncio.sleep(0.02)
    finally:
        for task in tasks:
            task.cancel()
        # Saying goodbye on the LAN must not hold discovery past its deadline either.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(browser.async_cancel(), 1.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(zc.async_close(), 1.0)
    return len(seen)
