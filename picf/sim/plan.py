"""Decide what a simulated LAN looks like: names, addresses, MACs, boards. Pure: no I/O.

The board decides memory and userland arch, as on real Pis (FACTS.md section 2): a 3B+ runs a 32-bit
userland with 1 GB, a 4B a 64-bit one with 4 GB (or `4b:armv7` for a 32-bit OS on a 64-bit kernel), a Zero W
is armv6 with 512 MB.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass

from picf.errors import UsageError
from picf.models.node import Arch
from picf.models.pi import parse_revision_code
from picf.models.sim import IMAGES, Image, SimNode
from picf.simnet import SIM_RANGE

DEFAULT_BRIDGE = "picf0"
# 10.231.0.0/24: inside picf sim's own 10.231.0.0/16, far from the 10.0.x / 192.168.x home routers hand out.
DEFAULT_SUBNET = "10.231.0.0/24"
DEFAULT_MODELS = ("3b+", "4b")
FIRST_NODE_HOST = 11  # pi-1 is .11, pi-2 .12 ...


@dataclass(frozen=True)
class Board:
    """A board the simulator can play: its revision code, OUI and what its OS reports."""

    revision_code: str
    oui: str
    arch: Arch
    uname_m: str


BOARDS: dict[str, Board] = {
    "3b": Board("a02082", "b8:27:eb", "armv7", "armv7l"),
    "3b+": Board("a020d3", "b8:27:eb", "armv7", "armv7l"),
    "4b": Board("c03111", "dc:a6:32", "arm64", "aarch64"),
    "4b:armv7": Board("c03111", "dc:a6:32", "armv7", "aarch64"),  # 32-bit OS, 64-bit kernel
    "5": Board("d04170", "2c:cf:67", "arm64", "aarch64"),
    "zerow": Board("9000c1", "b8:27:eb", "armv6", "armv6l"),
    "zero2w": Board("902120", "e4:5f:01", "armv7", "armv7l"),
}

_BOARD_ALIASES = {"3bplus": "3b+", "4": "4b", "5b": "5", "zero-w": "zerow", "zero2": "zero2w", "zero-2-w": "zero2w"}


class PlanError(UsageError, ValueError):
    """Options that cannot make a LAN (bad subnet, too many nodes, unknown board)."""


def board_key(text: str) -> str:
    """Normalise a board name from the command line (`3B+`, `4b:armv7`, `zero-w`)."""
    key = text.strip().lower().replace(" ", "")
    key = _BOARD_ALIASES.get(key, key)
    if key not in BOARDS:
        raise PlanError(f"unknown board {text!r}; known: {', '.join(BOARDS)}")
    return key


def validate_bridge(name: str) -> str:
    """Bridge names become interface names: at most 10 characters here, so veth names fit in 15."""
    if not re.fullmatch(r"[a-z][a-z0-9]{0,9}", name):
        raise PlanError(f"bridge name {name!r}: use 1-10 lower-case letters and digits, starting with a letter")
    return name


def parse_subnet(cidr: str) -> ipaddress.IPv4Network:
    """An IPv4 network with room for the bridge and the nodes."""
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except ValueError as exc:
        raise PlanError(f"subnet {cidr!r}: {exc}") from None
    if not isinstance(net, ipaddress.IPv4Network) or net.prefixlen > 26:
        raise PlanError(f"subnet {cidr!r}: use an IPv4 network of /26 or larger, e.g. {DEFAULT_SUBNET}")
    if not net.subnet_of(SIM_RANGE):
        raise PlanError(
            f"subnet {cidr!r} is outside picf sim's range {SIM_RANGE}; the simulated LAN must not shadow real "
            f"hosts (e.g. {DEFAULT_SUBNET})"
        )
    return net


def bridge_address(net: ipaddress.IPv4Network) -> str:
    """The controller's address on the bridge (the first host)."""
    return str(net.network_address + 1)


def node_mac(oui: str, bridge: str, name: str) -> str:
    """A stable MAC with the board's Raspberry Pi OUI; the low half comes from the bridge and node name."""
    digest = hashlib.sha256(f"{bridge}/{name}".encode()).digest()
    return oui + ":" + ":".join(f"{b:02x}" for b in digest[:3])


def image_key(text: str) -> Image:
    """An image name from the command line (`bookworm`, `trixie-2026`, ...)."""
    key = text.strip().lower()
    for image in IMAGES:
        if key == image:
            return image
    raise PlanError(f"unknown image {text!r}; known: {', '.join(IMAGES)}")


def validate_user(name: str) -> str:
    """The first user's name, as Imager accepts it (a Linux user name; not root)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", name) or name == "root":
        raise PlanError(f"user {name!r}: use a Linux user name (lower case, digits, - and _), not root")
    return name


def validate_prefix(prefix: str) -> str:
    """The nodes' host names start with this (`pi` -> pi-1, pi-2, ...): a DNS label, short enough for a netns name."""
    if not re.fullmatch(r"[a-z][a-z0-9]{0,7}", prefix):
        raise PlanError(
            f"--hostname-prefix {prefix!r}: use 1 to 8 lower-case letters and digits, starting with a letter"
        )
    return prefix


def plan_node(
    index: int, board_name: str, bridge: str, net: ipaddress.IPv4Network, image: str = "bookworm", prefix: str = "pi"
) -> SimNode:
    """The node numbered `index` (1-based) on `bridge`, playing `board_name` with `image` on its card."""
    key = board_key(board_name)
    board = BOARDS[key]
    host = FIRST_NODE_HOST + index - 1
    if host >= net.num_addresses - 1:
        raise PlanError(f"subnet {net} has no room for node {index}; use a larger --subnet")
    pi = parse_revision_code(board.revision_code)
    name = f"{prefix}-{index}"
    return SimNode(
        name=name,
        index=index,
        address=str(net.network_address + host),
        mac=node_mac(board.oui, bridge, name),
        board=key,
        model=pi.label,
        compatible=pi.compatible,
        revision_code=board.revision_code,
        arch=board.arch,
        uname_m=board.uname_m,
        memory_mb=pi.memory_mb or 1024,
        image=image_key(image),
        netns=f"picf-{bridge}-{name}",
        veth=f"v{bridge}-{index}",
    )


def plan_lan(
    count: int, boards: list[str], bridge: str, subnet: str, images: list[str] | None = None, prefix: str = "pi"
) -> list[SimNode]:
    """`count` nodes cycling through `boards` (and `images`) on `bridge` / `subnet`, named PREFIX-1, PREFIX-2, ..."""
    validate_bridge(bridge)
    validate_prefix(prefix)
    net = parse_subnet(subnet)
    if not 1 <= count <= 100:
        raise PlanError(f"--nodes {count}: choose 1 to 100")
    if not boards:
        raise PlanError("--models needs at least one board")
    cards = images or ["bookworm"]
    return [
        plan_node(i, boards[(i - 1) % len(boards)], bridge, net, cards[(i - 1) % len(cards)], prefix)
        for i in range(1, count + 1)
    ]


# --- the files a Pi has that picf reads ----------------------------------------------------------------


def cpuinfo_text(node: SimNode) -> str:
    """A /proc/cpuinfo as the node's board prints it (4 cores, the Revision line picf decodes)."""
    if node.uname_m == "aarch64":
        core = "BogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\n"
        core += "CPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n"
    elif node.uname_m == "armv6l":
        core = "model name\t: ARMv6-compatible processor rev 7 (v6l)\nBogoMIPS\t: 697.95\n"
        core += "Features\t: half thumb fastmult vfp edsp java tls\nCPU architecture: 7\n"
    else:
        core = "model name\t: ARMv7 Processor rev 4 (v7l)\nBogoMIPS\t: 38.40\n"
        core += "Features\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm crc32\n"
        core += "CPU architecture: 7\n"
    cores = 1 if node.uname_m == "armv6l" else 4
    body = "".join(f"processor\t: {i}\n{core}\n" for i in range(cores))
    serial = hashlib.sha256(node.mac.encode()).hexdigest()[:16]
    return (
        f"{body}Hardware\t: BCM2835\nRevision\t: {node.revision_code}\nSerial\t\t: {serial}\nModel\t\t: {node.model}\n"
    )


def meminfo_text(node: SimNode) -> str:
    """A /proc/meminfo whose MemTotal matches the board (the firmware keeps some memory for the GPU)."""
    total_kb = node.memory_mb * 1024 - 76 * 1024
    free_kb = total_kb * 3 // 4
    return (
        f"MemTotal:       {total_kb:8d} kB\nMemFree:        {free_kb:8d} kB\n"
        f"MemAvailable:   {free_kb + total_kb // 10:8d} kB\nBuffers:           20480 kB\n"
        f"Cached:         {total_kb // 10:8d} kB\nSwapCached:            0 kB\n"
        "SwapTotal:        102396 kB\nSwapFree:         102396 kB\n"
    )


def dpkg_arch(node: SimNode) -> str:
    """What `dpkg --print-architecture` prints on the node's OS."""
    return {"armv6": "armhf", "armv7": "armhf", "arm64": "arm64", "amd64": "amd64"}[node.arch]


def long_bit(node: SimNode) -> int:
    """What `getconf LONG_BIT` prints: the userland's word size."""
    return 64 if node.arch in {"arm64", "amd64"} else 32
