"""The simulated Pi LAN: what `picf sim up` builds and remembers (pydantic models only, no I/O)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from picf.models.node import Arch, NodeName

# What Raspberry Pi Imager leaves on the card (FACTS.md section 5):
# bookworm       Raspberry Pi OS 12: the first user has passwordless sudo (/etc/sudoers.d/010_pi-nopasswd)
# bookworm-2023  the first Bookworm images: the same, and avahi publishes no _workstation._tcp
# trixie-2026    Raspberry Pi OS 13 built after pi-gen dropped passwordless sudo: sudo asks the user's password;
#                kernel 6.12, so /proc/cgroups has no memory row at all
Image = Literal["bookworm", "bookworm-2023", "trixie-2026"]
IMAGES: tuple[Image, ...] = ("bookworm", "bookworm-2023", "trixie-2026")


class SimNode(BaseModel):
    """One simulated Raspberry Pi: its identity on the LAN and the board it pretends to be."""

    model_config = ConfigDict(extra="forbid")

    name: NodeName
    index: int = Field(ge=1, le=200)
    address: str
    mac: str
    board: str = Field(description="short board name, e.g. 3b+ or 4b")
    model: str = Field(description="device-tree model string")
    compatible: str
    revision_code: str
    arch: Arch = Field(description="userland architecture")
    uname_m: str = Field(description="what `uname -m` prints (the kernel's architecture)")
    memory_mb: int
    image: Image = "bookworm"
    netns: str
    veth: str = Field(description="host side of the node's cable, enslaved to the bridge")
    host_key: str | None = Field(default=None, description="SHA256 fingerprint of the node's ed25519 host key")
    keeper_pid: int | None = Field(default=None, description="host pid of the node's PID 1")
    powered: bool = Field(default=True, description="False after a power-off, until power-on")
    boots: int = Field(default=0, description="how many times the node has booted")
    faults: list[str] = Field(default_factory=list, description="faults injected and not undone")


class SimLan(BaseModel):
    """A running (or half-built) simulated LAN."""

    model_config = ConfigDict(extra="forbid")

    bridge: str
    subnet: str
    bridge_address: str
    directory: str
    controller_key: str
    known_hosts: str
    user: str = Field(default="pi", description="the first user, as Imager creates it")
    password: str = Field(default="", description="that user's password, set at imaging (sudo asks for it)")
    supervisor_pid: int | None = Field(default=None, description="host pid of the LAN's supervisor")
    repo_url: str = Field(default="", description="the Debian package source the nodes' apt uses")
    hostname_prefix: str = Field(default="pi", description="the nodes are called PREFIX-1, PREFIX-2, ...")
    nodes: list[SimNode] = Field(default_factory=list)

    def node(self, name: str) -> SimNode | None:
        """The node called `name`, if it is part of this LAN."""
        return next((n for n in self.nodes if n.name == name), None)
